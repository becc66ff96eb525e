"""HTML report: self-contained, every value escaped, and the seed story's chart rendered by a real chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_alerts import HOSTILE, Rows, seed_nigeria, seed_story

from pipeline import report

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of script elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def parse(page: str) -> Tags:
    p = Tags()
    p.feed(page)
    return p


def test_page_is_self_contained(warehouse):
    seed_story(warehouse)
    page = report.render_report(warehouse)
    tags = parse(page)
    names = [t for t, _ in tags.tags]
    assert "link" not in names and "iframe" not in names and "img" not in names and "object" not in names
    for tag, attrs in tags.tags:
        if tag == "a":
            continue  # article links are navigation, never fetched by the page
        for attr in ("src", "href", "xlink:href", "srcset", "data", "action"):
            assert attr not in attrs, (tag, attrs)
    assert [t for t in names if t == "script"] == ["script"]  # one inline script, no src
    assert not re.search(r"url\(|@import", page, re.IGNORECASE)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_chart_shows_each_source_statuses_and_the_contradiction(warehouse):
    cid = seed_story(warehouse)
    seed_nigeria(warehouse)
    page = report.render_report(warehouse)
    assert page.count('<section class="track"') == 2
    labels = re.findall(r'class="src-label"><title>[^<]*</title>([^<]*)</text>', page)
    assert "Washington Post" in labels and "Maria Zakharova" in labels
    assert 'data-status="denied"' in page and 'data-status="stalled"' in page
    assert f'id="link-{cid}"' in page  # the contradiction drawn between its two claims' marks
    assert '<text x="' in page and ">denied</text>" in page  # legend
    assert "no such negotiations have happened or are happening" in page  # hover title / table
    # the Russia-Ukraine track, one row per source: three claims, two sources
    rus = page[page.index('data-label="RUS–UKR · ceasefire"'):page.index('data-label="BOKO_HARAM–NGA')]
    assert rus.count('class="mark"') == 3 and rus.count('class="row"') == 2
    assert rus.count('<tr class="contradiction"') == 1
    assert "supporting claims: 2" in rus


def _row_of(page: str, cid: int) -> str:
    start = page.index(f'<tr class="contradiction" data-cid="{cid}"')
    return page[start:page.index("</tr>", start)]


def test_each_contradiction_shows_its_confidence_and_what_became_of_its_alert(warehouse, smtp_server):
    from test_alerts import settings_for

    from pipeline import alerts, triage

    ctl, _inbox = smtp_server
    mailed = seed_story(warehouse)            # 0.375
    held = seed_nigeria(warehouse)            # 0.25
    alerts.send_pending_alerts(warehouse, settings_for(ctl.port), min_confidence=0.3)
    page = report.render_report(warehouse)
    assert "<td>0.38</td>" in _row_of(page, mailed) and "mailed " in _row_of(page, mailed)
    assert "<td>0.25</td>" in _row_of(page, held)
    assert 'data-alert="low_confidence"' in _row_of(page, held) and "low confidence: not mailed" in _row_of(page, held)
    assert "(1 mailed, 1 low-confidence)" in page

    triage.decide(warehouse, held, "dismissed", "<b>not</b> the same truce")
    row = _row_of(report.render_report(warehouse), held)
    assert 'data-alert="dismissed"' in row and "dismissed by" in row
    assert "&lt;b&gt;not&lt;/b&gt; the same truce" in row  # the analyst's note, escaped like everything else


def test_every_value_is_escaped(warehouse):
    rows = Rows(warehouse)
    a = rows.claim(parties=["RUS", "UKR"], status="denied", topic="ceasefire", source=HOSTILE,
                   source_key="evil-source", source_org=HOSTILE, evidence=f"Quote {HOSTILE} \"end\"",
                   outlet=HOSTILE, title=HOSTILE, url="javascript:alert(1)")
    b = rows.claim(parties=["RUS", "UKR"], status="held", topic="ceasefire", source="Plain",
                   source_key="plain", evidence="Talks were held.", outlet="Wire",
                   url='https://ok.example.org/"><script>alert(2)</script>')
    rows.contradiction([a], [b], parties=["RUS", "UKR"], source_keys=("evil-source", "plain"))
    page = report.render_report(warehouse)
    tags = parse(page)
    assert [t for t, _ in tags.tags].count("script") == 1
    assert "img" not in [t for t, _ in tags.tags]
    assert "alert(" not in "".join(tags.scripts)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert 'href="https://ok.example.org/&quot;&gt;&lt;script&gt;' in page
    for _tag, attrs in tags.tags:
        assert not any(k.startswith("on") for k in attrs), attrs


def test_bidi_controls_are_shown_not_obeyed(warehouse):
    rows = Rows(warehouse)
    a = rows.claim(parties=["RUS", "UKR"], status="denied", topic="ceasefire", source="\u202eecruos",
                   source_key="bidi-source", evidence="No talks \u2067at all\u2069.", outlet="Wire")
    b = rows.claim(parties=["RUS", "UKR"], status="held", topic="ceasefire", source="Plain",
                   source_key="plain", evidence="Talks were held.", outlet="Wire")
    rows.contradiction([a], [b], parties=["RUS", "UKR"], source_keys=("bidi-source", "plain"))
    page = report.render_report(warehouse)
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", page)
    assert "[U+202E]ecruos" in page and "No talks [U+2067]at all[U+2069]." in page


def test_empty_warehouse_renders_a_page(warehouse):
    page = report.render_report(warehouse)
    assert "No claims in the warehouse yet." in page and page.rstrip().endswith("</html>")


def test_write_report_writes_the_file(warehouse, tmp_path):
    seed_story(warehouse)
    out = report.write_report(warehouse, tmp_path / "sub" / "report.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "Maria Zakharova" in out.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- a real browser


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
    env = dict(os.environ, HOME=str(tmp_path))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.mark.browser
def test_chromium_renders_the_seed_story_chart(warehouse, tmp_path):
    if not CHROMIUM:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    seed_story(warehouse)
    seed_nigeria(warehouse)
    path = report.write_report(warehouse, tmp_path / "report.html")

    dumped = _chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", path.as_uri())
    dom = dumped.stdout
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    # the inline script ran in the browser, measured the chart's labels and built the index from them
    assert 'data-ready="1"' in dom, dom[:2000]
    summary = re.search(r'<span id="tw-js-summary">([^<]*)</span>', dom).group(1)
    assert summary == "2 tracks · 4 sources · 2 contradictions drawn"
    entries = re.findall(r'<li class="tw-index-entry">(.*?)</li>', dom)
    rus = next(e for e in entries if "RUS–UKR" in e)
    assert "Washington Post, Maria Zakharova" in rus and "(3 claims, 1 contradiction)" in rus
    widths = dict(
        (m.group(2), int(m.group(1)))
        for m in re.finditer(r'class="src-label" data-w="(\d+)"><title>[^<]*</title>([^<]*)</text>', dom)
    )
    assert widths.get("Washington Post", 0) > 40 and widths.get("Maria Zakharova", 0) > 40, widths

    shot = tmp_path / "report.png"
    taken = _chromium(tmp_path, "--hide-scrollbars", "--window-size=1100,1300", f"--screenshot={shot}",
                      path.as_uri())
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    assert shot.stat().st_size > 20_000  # a rendered chart, not a blank page
    keep = os.environ.get("TALKWATCH_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


# --------------------------------------------------------------------------- the report agrees with the warehouse


def _claims_in_warehouse(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("select count(*) from talkwatch.claims")
        n = cur.fetchone()[0]
    conn.commit()
    return n


def test_header_counts_each_claim_once_as_the_warehouse_does(warehouse):
    rows = Rows(warehouse)
    # a denial of any peace talks (peace_deal) against reported ceasefire talks: a contradiction on the
    # ceasefire track, so the denial is drawn on its own track and on the ceasefire one
    denial = rows.claim(parties=["RUS", "UKR"], status="denied", topic="peace_deal", source="Maria Zakharova",
                        source_key="maria-zakharova", evidence="There are no negotiations.", outlet="Wire")
    talks = rows.claim(parties=["RUS", "UKR"], status="planned", topic="ceasefire", source="Washington Post",
                       source_key="washington-post", evidence="Ceasefire talks are planned.", outlet="Post")
    rows.contradiction([denial], [talks], parties=["RUS", "UKR"],
                       source_keys=("maria-zakharova", "washington-post"))
    page = report.render_report(warehouse)
    assert page.count('<section class="track"') == 2
    assert _claims_in_warehouse(warehouse) == 2
    header = re.search(r'<p class="muted">Generated [^<]*</p>', page).group(0)
    assert ": 2 tracks, 2 claims (1 drawn on more than one track" in header, header


def _mark_xs(page: str, claim_ids: list[int]) -> list[float]:
    xs = []
    for cid in claim_ids:
        mark = re.search(rf'<g class="mark" id="m-t0-{cid}"[^>]*>(?:<circle[^>]*/>)*', page).group(0)
        xs.append(float(re.findall(r'cx="([0-9.]+)"', mark)[-1]))
    return xs


def test_claims_of_one_day_are_drawn_on_that_day(warehouse):
    rows = Rows(warehouse)
    # a track over 200 days: one day's column is a few units wide, narrower than the marks
    for day in ("2024-01-01", "2024-07-19"):
        rows.claim(parties=["RUS", "UKR"], status="held", topic="ceasefire", source="TASS", source_key="tass",
                   evidence="Talks were held.", outlet="TASS", published=day)
    same_day = [rows.claim(parties=["RUS", "UKR"], status="denied", topic="ceasefire", source="Kremlin",
                           source_key="kremlin", evidence=f"No talks ({i}).", outlet="Wire",
                           published=f"2024-04-10T{9 + i:02d}:00:00") for i in range(6)]
    page = report.render_report(warehouse)
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    span = (datetime(2024, 7, 20, tzinfo=timezone.utc) - t0).total_seconds()
    plot_w = report.WIDTH - report.LABEL_W - report.RIGHT_PAD

    def x_of(t: datetime) -> float:
        return report.LABEL_W + (t - t0).total_seconds() / span * plot_w

    day = datetime(2024, 4, 10, tzinfo=timezone.utc)
    column = (x_of(day) - 0.05, x_of(day + timedelta(days=1)) + 0.05)  # (SVG values have one decimal)
    for x in _mark_xs(page, same_day):
        assert column[0] <= x <= column[1], (x, column)


def test_a_long_source_name_is_shown_whole(warehouse):
    long_name = "Spokesperson of the Ministry of Foreign Affairs of the Russian Federation Maria Zakharova"
    rows = Rows(warehouse)
    rows.claim(parties=["RUS", "UKR"], status="denied", topic="ceasefire", source=long_name,
               source_key="maria-zakharova", evidence="No talks.", outlet="Wire")
    page = report.render_report(warehouse)
    label = re.search(r'<text [^>]*class="src-label"><title>[^<]*</title>(.*?)</text>', page).group(1)
    lines = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", label)
    assert len(lines) > 1 and " ".join(lines) == long_name
    assert "…" not in label
