"""Event-time resolution against the publication date (SPEC 1: `event_time`, 5.3: periods)."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.extract.timex import mentions_time, resolve_event_time

PUB = date(2024, 8, 18)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kyiv backed out of negotiations in the spring of 2022", "2022"),
        ("talks held on March 29, 2022 in Istanbul", "2022-03-29"),
        ("a ceasefire agreed in March 2022", "2022-03"),
        ("In June, Putin put forward proposals", "2024-06"),
        ("talks collapsed two months ago", "2024-06"),
        ("a deal signed last year", "2023"),
        ("negotiations next month", "2024-09"),
        ("the talks on Friday", None),  # around publication
        ("the agreement of August 15, 2024", None),  # within the 7-day window: "now"
        ("fighting since 2012", None),  # an open range is no period a claim is about
        ("talks held in 2013", "2013"),
        ("no time at all", None),
        ("The 1994 ceasefire between them held", "1994"),  # a year naming the deal
        ("the 2016 peace agreement with the rebels", "2016"),
        ("the 2024 talks in Doha", None),  # the publication year's talks: no period of their own
        ("the 2023 budget deal", "2023"),  # (whether it is about talks at all is decided elsewhere)
    ],
)
def test_resolution(text, expected):
    assert resolve_event_time(text, PUB) == expected


def test_a_bare_month_of_a_future_claim_is_the_next_one():
    october = date(2022, 10, 10)
    assert resolve_event_time("talks will resume in January", october) == "2022-01"
    assert resolve_event_time("talks will resume in January", october, future=True) == "2023-01"
    assert resolve_event_time("talks will resume in December", october, future=True) == "2022-12"


def test_mentions_time_sees_expressions_that_resolve_to_now():
    assert mentions_time("the talks on Friday") and mentions_time("in 2013")
    assert not mentions_time("the talks collapsed")
