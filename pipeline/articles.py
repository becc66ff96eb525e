"""Article stage: feed entries -> article records (canonical URL, full text or feed text, hash, language)."""

from __future__ import annotations

import hashlib
import html
import logging
import re
import threading
import unicodedata
from collections.abc import Container
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

from pipeline import http
from pipeline.feeds import UNHOLDABLE_REFS, FeedEntry, FetchResult, count_unholdable_refs
from pipeline.settings import FetchSettings

log = logging.getLogger(__name__)

PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
MIN_FULLTEXT_CHARS = 400      # shorter page text is a teaser, a paywall or a consent wall
PAYWALL_MAX_CHARS = 1500      # page says it is not free and shows less than this: use the feed text
MIN_LANGUAGE_CHARS = 40       # below this py3langid guesses; trust the feed's configured language
MIN_LANGUAGE_PROB = 0.5
TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
    "ref", "ref_src", "ref_url", "referrer", "cmpid", "ocid", "ito", "ns_mchannel", "ns_source",
    "ns_campaign", "ns_linkname", "ns_fee", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "spm",
    "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4", "s_cid",
    "smid", "sr_share", "guccounter",
}
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "oly_", "vero_")
DEFAULT_PORTS = {"http": 80, "https": 443}
_PAYWALL_RE = re.compile(r'"isAccessibleForFree"\s*:\s*"?(false|False|FALSE)', re.IGNORECASE)


@dataclass
class ArticleRecord:
    """One article as the warehouse stores it."""

    url: str
    canonical_url: str
    outlet: str
    title: str
    text: str
    text_source: str
    content_hash: str
    published_at: datetime | None
    language: str | None
    guid: str | None
    fulltext_error: str | None = None
    skip_reason: str | None = None


def canonical_url(url: str) -> str:
    """Normalise a URL for dedup: lowercase scheme/host, no default port/fragment/tracking params, sorted query."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    if port and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)]
    query.sort()
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def synthetic_url(feed_url: str, entry: FeedEntry) -> str:
    """Stable id for an entry without a link: hash of the feed URL and its guid (or title and summary)."""
    key = entry.guid or f"{entry.title}\n{entry.summary or entry.content}"
    digest = hashlib.sha256(f"{feed_url}\n{key}".encode()).hexdigest()[:32]
    return f"urn:talkwatch:{digest}"


def normalise_text(text: str) -> str:
    """NFKC, casefolded, whitespace collapsed: the form the content hash is taken over."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{normalise_text(title)}\n{normalise_text(text)}".encode()).hexdigest()


_BLOCK_TAGS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section",
               "article", "ul", "ol", "table", "pre", "figure", "figcaption", "header", "footer"}


def html_to_text(fragment: str) -> str:
    """Feed HTML (summary/content) to plain text with paragraph breaks; plain text passes through.

    Character references are read as HTML5 reads them: one to a lone surrogate or past U+10FFFF
    becomes U+FFFD (`_build_one` records how many there were).
    """
    if not fragment:
        return ""
    if "<" not in fragment:
        return _tidy(html.unescape(fragment))
    try:
        import lxml.html
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except Exception:  # malformed HTML: strip tags crudely rather than lose the text
        return _tidy(html.unescape(re.sub(r"<[^>]*>", " ", fragment)))
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
    return _tidy(root.text_content())


def _tidy(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


_identifier = None
_identifier_lock = threading.Lock()


def detect_language(text: str) -> tuple[str | None, float]:
    """(ISO 639-1 code, probability) from py3langid; (None, 0.0) for empty text."""
    global _identifier
    if not text.strip():
        return None, 0.0
    with _identifier_lock:
        if _identifier is None:
            from py3langid import langid
            _identifier = langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)
        lang, prob = _identifier.classify(text[:5000])
    return lang, float(prob)


@dataclass
class _Page:
    text: str | None
    canonical: str | None
    final_url: str | None
    error: str | None
    unholdable_refs: int = 0  # references to lone surrogates / past U+10FFFF in the page (read as U+FFFD)


def fetch_page_text(url: str, settings: FetchSettings, *, session: requests.Session | None = None,
                    throttle: http.HostThrottle | None = None) -> _Page:
    """Fetch an article page and extract its main text and rel=canonical; errors come back as text.

    The HTML parser reads a character reference to a lone surrogate or past U+10FFFF as U+FFFD (as a
    browser does); the page's count of them comes back with the text, for the caller to record.
    """
    try:
        resp = http.fetch(url, settings, session=session, max_bytes=settings.max_page_bytes,
                          accept=PAGE_ACCEPT, throttle=throttle)
    except http.FetchError as exc:
        return _Page(None, None, exc.final_url, f"page fetch failed: {exc.message}")
    if resp.content_type and resp.content_type not in ("text/html", "application/xhtml+xml", "text/plain"):
        return _Page(None, None, resp.final_url, f"page is not HTML ({resp.content_type})")
    if not resp.content.strip():
        return _Page(None, None, resp.final_url, "page is empty")
    try:
        import trafilatura
        from trafilatura.utils import load_html

        # decoded here, not by trafilatura: it ignores <meta charset> and takes charset_normalizer's first
        # guess for undeclared bytes (a stray byte in English text could make the page cp775 or big5)
        source, charset = http.decode_html(resp.content, resp.charset)
        log.debug("page %s: charset %s", url, charset)
        tree = load_html(source)
        if tree is None:
            return _Page(None, None, resp.final_url, "page is not parseable HTML")
        canonical = None
        for href in tree.xpath('//link[contains(concat(" ", normalize-space(translate(@rel, '
                               '"CANONICAL", "canonical")), " "), " canonical ")]/@href'):
            candidate = urljoin(resp.final_url, href.strip())
            parts = urlsplit(candidate)
            if parts.scheme in ("http", "https") and parts.hostname and parts.path not in ("", "/"):
                canonical = candidate
                break
        paywalled = bool(_PAYWALL_RE.search(resp.content[:500_000].decode("utf-8", "replace")))
        text = trafilatura.extract(tree, url=resp.final_url, include_comments=False, include_tables=False,
                                   favor_precision=True, deduplicate=False)
    except Exception as exc:  # extraction must never cost the entry
        log.warning("page %s: extraction failed: %r", url, exc)
        return _Page(None, None, resp.final_url, f"text extraction failed: {type(exc).__name__}: {exc}")
    text = _tidy(text or "")
    if not text:
        return _Page(None, canonical, resp.final_url, "no main text found on the page")
    if paywalled and len(text) < PAYWALL_MAX_CHARS:
        return _Page(None, canonical, resp.final_url, f"page is paywalled ({len(text)} chars visible)")
    if len(text) < MIN_FULLTEXT_CHARS:
        return _Page(None, canonical, resp.final_url,
                     f"page text too short ({len(text)} chars; teaser or paywall?)")
    return _Page(text, canonical, resp.final_url, None, count_unholdable_refs(resp.content))


def build_articles(result: FetchResult, settings: FetchSettings, *, fetch_fulltext: bool | None = None,
                   session: requests.Session | None = None, throttle: http.HostThrottle | None = None,
                   known_urls: Container[str] | None = None) -> list[ArticleRecord]:
    """One record per entry of an 'ok' fetch, deduplicated by canonical URL within the feed.

    Page fetching needs settings.fetch_fulltext (TALKWATCH_FETCH_FULLTEXT=0 turns it off everywhere);
    then the `fetch_fulltext` argument decides when given (the caller's combination of the feeds
    file's default and the feed's own value), else the feed's own `fetch_fulltext` unless false.
    Entries whose canonical URL is in `known_urls` keep feed text and cost no page request. The
    feed's pages are fetched concurrently (fetch_pages), one request at a time per host.

    Text PostgreSQL cannot store costs the character, not the entry, and each change is recorded in
    `result.warnings`: NUL characters are removed, lone surrogates become U+FFFD, and character
    references to lone surrogates or past U+10FFFF in feed HTML or a page are read as U+FFFD.
    """
    if result.status != "ok":
        return []
    spec = result.spec
    wanted = fetch_fulltext if fetch_fulltext is not None else spec.fetch_fulltext
    fulltext = settings.fetch_fulltext and wanted is not False
    throttle = throttle or http.HostThrottle(settings.host_delay)
    pages: dict[str, _Page] = {}
    if fulltext:
        links: list[str] = []
        wanted_urls: set[str] = set()
        for entry in result.entries:
            link = _storable(entry)[0].link
            if not link or canonical_url(link) in wanted_urls:
                continue
            wanted_urls.add(canonical_url(link))
            if known_urls is None or canonical_url(link) not in known_urls:
                links.append(link)
        pages = {canonical_url(link): page
                 for link, page in fetch_pages(links, settings, session=session, throttle=throttle).items()}
    records: list[ArticleRecord] = []
    seen: set[str] = set()
    for entry in result.entries:
        try:
            record = _build_one(entry, result, settings, fulltext, pages, known_urls, seen)
        except Exception as exc:  # one odd entry must not lose the feed
            log.exception("feed %s: entry %s failed", spec.url, entry.link or entry.guid)
            result.warnings.append(f"entry {entry.link or entry.guid or entry.title!r} skipped: {exc}")
            continue
        if record is not None:
            records.append(record)
    return records


def fetch_pages(links: list[str], settings: FetchSettings, *, session: requests.Session | None = None,
                throttle: http.HostThrottle | None = None) -> dict[str, _Page]:
    """Fetch article pages concurrently: link -> page. One request at a time per host, with the host's
    delay between them (the throttle), so pages of one host come one after another and pages of
    several hosts (an aggregator's feed, a redirecting CDN) at once; at most settings.max_workers
    threads, one requests session each. A session passed in is not shared between threads: the
    pages are then fetched one after another with it."""
    throttle = throttle or http.HostThrottle(settings.host_delay)
    hosts = {http.host_of(link) for link in links}
    workers = 1 if session is not None else max(1, min(settings.max_workers, len(hosts), len(links)))
    local = threading.local()
    sessions: list[requests.Session] = []
    sessions_lock = threading.Lock()

    def one(link: str) -> tuple[str, _Page]:
        own = session
        if own is None:
            own = getattr(local, "session", None)
            if own is None:
                own = local.session = http.new_session(settings)
                with sessions_lock:
                    sessions.append(own)
        try:
            return link, fetch_page_text(link, settings, session=own, throttle=throttle)
        except Exception as exc:  # noqa: BLE001 - a page must never cost its entry
            log.exception("page %s: fetch failed", link)
            return link, _Page(None, None, None, f"page fetch failed: {type(exc).__name__}: {exc}")

    try:
        if workers == 1:
            return dict(one(link) for link in links)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pages") as pool:
            return dict(pool.map(one, links))
    finally:
        for own in sessions:
            own.close()


_SURROGATE = re.compile("[\ud800-\udfff]")


def _holdable(text: str) -> tuple[str, int, int]:
    """TEXT as PostgreSQL text can hold it: NUL characters removed, lone surrogates (UTF-8 cannot
    encode them) replaced with U+FFFD; and how many of each there were."""
    nul = text.count("\x00")
    if nul:
        text = text.replace("\x00", "")
    text, surrogates = _SURROGATE.subn("\ufffd", text)
    return text, nul, surrogates


def _storable(entry: FeedEntry) -> tuple[FeedEntry, int, int]:
    """The entry with its text fields as PostgreSQL can store them (see `_holdable`: a loose feed
    parse or a `&#0;` reference lets NUL through), and how many NULs and surrogates there were."""
    fields = {name: getattr(entry, name) for name in ("guid", "link", "title", "summary", "content")}
    clean, nul, surrogates = {}, 0, 0
    for name, value in fields.items():
        if value:
            value, n, m = _holdable(value)
            nul, surrogates = nul + n, surrogates + m
        clean[name] = value
    if not nul and not surrogates:
        return entry, 0, 0
    return replace(entry, **clean), nul, surrogates


def _entry_label(entry: FeedEntry) -> str:
    label = entry.guid or entry.link or entry.title or "(untitled)"
    return repr(label if len(label) <= 200 else label[:199] + "…")


def _build_one(entry: FeedEntry, result: FetchResult, settings: FetchSettings, fulltext: bool,
               pages: dict[str, _Page], known_urls: Container[str] | None,
               seen: set[str]) -> ArticleRecord | None:
    spec = result.spec
    entry, nul_removed, surrogates = _storable(entry)
    url = entry.link or synthetic_url(spec.url, entry)
    canonical = canonical_url(url)
    if canonical in seen:
        return None
    feed_text = html_to_text(entry.content)
    feed_html = entry.content if feed_text else entry.summary
    feed_text = feed_text or html_to_text(entry.summary)
    title = html_to_text(entry.title).replace("\n", " ")
    if not title and not feed_text and not entry.link:
        result.warnings.append(f"entry {entry.guid or '(no guid)'} skipped: no link, title or text")
        return None
    text, source, error = feed_text, "feed", None
    page_refs = 0
    if entry.link and fulltext:
        page = pages.get(canonical_url(entry.link))  # fetched with the feed's other pages
        if page is None and known_urls is not None and canonical in known_urls:
            error = "not fetched: article already known"
        else:
            page = page or fetch_page_text(entry.link, settings)
            if page.canonical:
                canonical = canonical_url(page.canonical)
            elif page.final_url and page.error is None:
                canonical = canonical_url(page.final_url)
            if page.text and len(page.text) >= len(feed_text):
                text, source, page_refs = page.text, "fulltext", page.unholdable_refs
            elif page.text:
                error = f"page text ({len(page.text)} chars) shorter than the feed text ({len(feed_text)})"
            else:
                error = page.error
            if canonical in seen:
                return None
    elif entry.link and not fulltext:
        error = "full-text fetching is off"
    for_title, for_text = _holdable(title), _holdable(text)  # what page text (or a parser) brought in
    title, text = for_title[0], for_text[0]
    nul_removed += for_title[1] + for_text[1]
    surrogates += for_title[2] + for_text[2]
    html_refs = count_unholdable_refs(entry.title) + (count_unholdable_refs(feed_html) if source == "feed" else 0)
    for count, what in (
        (nul_removed, "NUL character(s) removed (PostgreSQL text cannot store them)"),
        (surrogates, "lone surrogate(s) replaced with U+FFFD (PostgreSQL text cannot store them)"),
        (html_refs, f"{UNHOLDABLE_REFS} in its HTML read as U+FFFD"),
        (page_refs, f"{UNHOLDABLE_REFS} in its page read as U+FFFD"),
    ):
        if count:
            result.warnings.append(f"entry {_entry_label(entry)}: {count} {what}")
    seen.add(canonical)
    seen.add(canonical_url(url))
    sample = f"{title}\n{text}".strip()
    language, prob = detect_language(sample)
    if len(sample) < MIN_LANGUAGE_CHARS or prob < MIN_LANGUAGE_PROB:
        language = spec.language or language
    skip = f"language:{language}" if language and language.split("-")[0] != "en" else None
    return ArticleRecord(
        url=url,
        canonical_url=canonical,
        outlet=spec.outlet,
        title=title,
        text=text,
        text_source=source,
        content_hash=content_hash(title, text),
        published_at=entry.published,
        language=language,
        guid=entry.guid,
        fulltext_error=error,
        skip_reason=skip,
    )
