"""Resolve the time expressions of a claim sentence against the publication date."""

from __future__ import annotations

import calendar
import logging
import re
from datetime import date, timedelta

logger = logging.getLogger(__name__)

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTHS["sept"] = 9
_MONTH_RE = r"(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?"
_WORDNUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
            "nine": 9, "ten": 10, "a": 1, "an": 1}
# A resolved date this close to publication counts as "now" (SPEC 5.3 uses a 7-day window).
NOW_WINDOW_DAYS = 7

_PATTERNS = [
    ("season_year", re.compile(r"\b(?:spring|summer|autumn|fall|winter)\s+(?:of\s+)?(\d{4})\b", re.I)),
    ("month_day_year", re.compile(rf"\b{_MONTH_RE}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)),
    ("day_month_year", re.compile(rf"\b(\d{{1,2}})\s+{_MONTH_RE}\s+(\d{{4}})\b", re.I)),
    ("month_year", re.compile(rf"\b{_MONTH_RE}\s+(?:of\s+)?(\d{{4}})\b", re.I)),
    ("month_day", re.compile(rf"\b{_MONTH_RE}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*(?:,\s*)?\d{{4}})", re.I)),
    ("day_month", re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_RE}\b", re.I)),
    ("ago", re.compile(r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|a|an)\s+(day|week|month|year)s?\s+ago\b", re.I)),
    ("rel_month", re.compile(r"\b(next|last)\s+month\b", re.I)),
    ("rel_year", re.compile(r"\b(next|last)\s+year\b", re.I)),
    ("in_month", re.compile(rf"\b(?:in|since|from|until|by|early|late|mid-?|end of)\s+{_MONTH_RE}\b", re.I)),
    ("in_year", re.compile(r"\b(in|since|by|during|until|from|of)\s+((?:19|20)\d{2})\b", re.I)),
    # a year naming the deal or the talks: "the 1994 ceasefire", "the 2016 peace agreement"
    ("attr_year", re.compile(r"\b((?:19|20)\d{2})(?:'s)?\s+(?:[a-z-]+\s+){0,2}(?:ceasefire|cease-fire|truce|"
                             r"agreement|accord|deal|talks|negotiations|treaty|armistice|pact|peace)\b", re.I)),
]


_DAYS_RE = re.compile(r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow|"
                      r"this (?:week|month|year)|last (?:week|night)|next week)\b", re.I)


# all of the above in one pattern: whether a text mentions a time is asked of every sentence
_ANY_TIME_RE = re.compile("|".join(f"(?:{rx.pattern})" for _kind, rx in _PATTERNS) + f"|(?:{_DAYS_RE.pattern})", re.I)


def mentions_time(text: str) -> bool:
    """Does the text carry any time expression (even one that resolves to "around publication")?"""
    return bool(text) and _ANY_TIME_RE.search(text) is not None


def _month(s: str) -> int:
    return _MONTHS[s.lower().rstrip(".")]


def _past_month(month: int, pub: date) -> int:
    """Year of a bare month name: the latest such month not after publication."""
    return pub.year if month <= pub.month else pub.year - 1


def _month_year(month: int, pub: date, future: bool) -> int:
    """Year of a bare month name: the next such month for a claim about the future ("talks will resume
    in January", said in October), else the latest one not after publication."""
    if future:
        return pub.year if month >= pub.month else pub.year + 1
    return _past_month(month, pub)


def resolve_event_time(text: str, published: date | None, *, future: bool = False) -> str | None:
    """Return 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD' for the first time expression in `text`, else None.

    Dates within NOW_WINDOW_DAYS of publication resolve to None ("around publication").
    "since <year>" and open ranges are not periods a claim is about and resolve to None.
    """
    if not text:
        return None
    for kind, rx in _PATTERNS:
        m = rx.search(text)
        if not m:
            continue
        before = bool(re.search(r"\bbefore\s+(?:[\w\s]{0,60}?\bon\s+)?$", text[: m.start()], re.I))
        try:
            if kind == "season_year":
                return m.group(1)
            if kind == "month_day_year":
                d = date(int(m.group(3)), _month(m.group(1)), int(m.group(2)))
                return _near(d, published, before)
            if kind == "day_month_year":
                d = date(int(m.group(3)), _month(m.group(2)), int(m.group(1)))
                return _near(d, published, before)
            if kind == "month_year":
                return f"{int(m.group(2)):04d}-{_month(m.group(1)):02d}"
            if published is None:
                continue
            if kind in ("month_day", "day_month"):
                mon, day = (m.group(1), m.group(2)) if kind == "month_day" else (m.group(2), m.group(1))
                month = _month(mon)
                d = date(_month_year(month, published, future) if month != published.month else published.year,
                         month, int(day))
                return _near(d, published, before)
            if kind == "ago":
                n = _WORDNUM.get(m.group(1).lower()) or int(m.group(1))
                unit = m.group(2).lower()
                if unit == "day":
                    return _near(published - timedelta(days=n), published, before)
                if unit == "week":
                    return _near(published - timedelta(days=7 * n), published, before)
                if unit == "month":
                    y, mo = divmod(published.year * 12 + published.month - 1 - n, 12)
                    return f"{y:04d}-{mo + 1:02d}"
                return f"{published.year - n:04d}"
            if kind == "rel_month":
                step = 1 if m.group(1).lower() == "next" else -1
                y, mo = divmod(published.year * 12 + published.month - 1 + step, 12)
                return f"{y:04d}-{mo + 1:02d}"
            if kind == "rel_year":
                return f"{published.year + (1 if m.group(1).lower() == 'next' else -1):04d}"
            if kind == "in_month":
                if m.group(0).lower().startswith(("since", "from", "until", "by")):
                    continue
                month = _month(m.group(1))
                if month == published.month:
                    return None
                return f"{_month_year(month, published, future):04d}-{month:02d}"
            if kind == "in_year":
                if m.group(1).lower() in ("since", "until", "from", "by"):
                    return None
                return m.group(2)
            if kind == "attr_year" and int(m.group(1)) < published.year:
                return m.group(1)  # an earlier year's deal; this year's ("the 2025 talks") is left to the rest
        except (ValueError, KeyError):
            continue
    return None


def _near(d: date, published: date | None, month_only: bool = False) -> str | None:
    if month_only:
        return f"{d.year:04d}-{d.month:02d}"
    if published is not None and abs((published - d).days) <= NOW_WINDOW_DAYS:
        return None
    return d.isoformat()
