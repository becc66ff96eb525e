"""Feed stage: read the feeds file, fetch feeds (conditional, polite, parallel) and parse them into entries."""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser
import requests
import yaml

from pipeline import http
from pipeline.settings import FetchSettings

log = logging.getLogger(__name__)

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
               "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5")
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_SPEC_KEYS = {"url", "outlet", "language", "fetch_fulltext"}
_TOP_KEYS = {"feeds", "fetch_fulltext"}


@dataclass
class FeedSpec:
    """One configured feed; `url` exactly as written, `location` what is fetched (local paths resolved)."""

    url: str
    outlet: str
    language: str | None = None
    fetch_fulltext: bool | None = None
    location: str | None = field(default=None, compare=False)

    @property
    def fetch_url(self) -> str:
        return self.location or self.url


@dataclass
class FeedsConfig:
    """The feeds file: feeds plus the file-wide full-text default."""

    feeds: list[FeedSpec]
    fetch_fulltext: bool | None = None
    path: Path | None = None


@dataclass
class FeedState:
    """What the warehouse remembers per feed between nights."""

    etag: str | None = None
    last_modified: str | None = None
    current_url: str | None = None


@dataclass
class FeedEntry:
    """One parsed feed item; summary/content are sanitised HTML, published is UTC."""

    guid: str | None
    link: str | None
    title: str
    summary: str
    content: str
    published: datetime | None


@dataclass
class FetchResult:
    """Outcome of one feed fetch: 'ok' with entries, 'not_modified', or 'error' with a readable reason."""

    spec: FeedSpec
    status: str
    http_status: int | None
    requested_url: str
    final_url: str | None
    permanent_redirect: bool
    etag: str | None
    last_modified: str | None
    bytes: int
    duration_ms: int
    entries: list[FeedEntry] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Feeds file


def load_feeds_file(path: str | Path) -> FeedsConfig:
    """Read and validate a YAML feeds file; raise ValueError naming the file and entry on bad input."""
    path = Path(path)
    where = f"feeds file {path}"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{where}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not UTF-8 text: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict) or "feeds" not in raw:
        raise ValueError(f"{where}: expected a mapping with a 'feeds' list")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown top-level key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    default_fulltext = raw.get("fetch_fulltext")
    if default_fulltext is not None and not isinstance(default_fulltext, bool):
        raise ValueError(f"{where}: 'fetch_fulltext' must be true or false, got {default_fulltext!r}")
    items = raw["feeds"]
    if not isinstance(items, list) or not items:
        raise ValueError(f"{where}: 'feeds' must be a non-empty list")
    base = path.resolve().parent
    specs: list[FeedSpec] = []
    seen: dict[str, int] = {}
    for number, item in enumerate(items, start=1):
        spec = _load_spec(item, f"{where}, entry {number}", base)
        if spec.url in seen:
            raise ValueError(f"{where}, entry {number}: url {spec.url!r} already listed as entry {seen[spec.url]}")
        seen[spec.url] = number
        specs.append(spec)
    return FeedsConfig(feeds=specs, fetch_fulltext=default_fulltext, path=path)


def _load_spec(item: object, where: str, base: Path) -> FeedSpec:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a mapping with url and outlet, got {item!r}")
    if isinstance(item.get("url"), str):
        where = f"{where} ({item['url']})"
    unknown = sorted(set(item) - _SPEC_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(_SPEC_KEYS)}")
    url, outlet = item.get("url"), item.get("outlet")
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{where}: 'url' is missing or empty")
    if not isinstance(outlet, str) or not outlet.strip():
        raise ValueError(f"{where}: 'outlet' is missing or empty")
    language = item.get("language")
    if language is not None and (not isinstance(language, str) or not _LANGUAGE_RE.match(language)):
        raise ValueError(f"{where}: 'language' must be an ISO 639 code like 'en', got {language!r}")
    fulltext = item.get("fetch_fulltext")
    if fulltext is not None and not isinstance(fulltext, bool):
        raise ValueError(f"{where}: 'fetch_fulltext' must be true or false, got {fulltext!r}")
    location = None
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"{where}: URL has no host")
    elif parts.scheme == "file":
        location = url
    elif http.is_local(url):
        local = Path(url).expanduser()
        location = str(local if local.is_absolute() else (base / local).resolve())
    else:
        raise ValueError(f"{where}: unsupported URL scheme {parts.scheme!r} (use http, https or a local path)")
    return FeedSpec(url=url, outlet=outlet.strip(), language=language, fetch_fulltext=fulltext,
                    location=location)


# ---------------------------------------------------------------------------------------------
# Parsing


_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


def entity_declaration_problem(data: bytes) -> str | None:
    """Cheap pre-scan of the prolog: a DOCTYPE that declares entities is refused before any parsing.

    Entity declarations are how billion-laughs and external-entity attacks work; real feeds do not
    need them. The scan walks the prolog (XML declaration, comments, processing instructions,
    DOCTYPE) and stops at the root element, so it costs at most one pass over the prolog.
    """
    text = data[:4]
    if b"\x00" in text or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # UTF-16/32: markup is ASCII, so dropping NUL bytes leaves scannable text.
        data = data.replace(b"\x00", b"")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    pos, size = 0, len(data)
    while pos < size:
        while pos < size and data[pos:pos + 1] in b" \t\r\n\xff\xfe":
            pos += 1
        if data.startswith(b"<?", pos):
            end = data.find(b"?>", pos)
            pos = size if end < 0 else end + 2
        elif data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos + 4)
            pos = size if end < 0 else end + 3
        elif data[pos:pos + 9].upper() == b"<!DOCTYPE":
            end, subset = _doctype_end(data, pos + 9)
            if subset is not None and _ENTITY_DECL.search(subset):
                return ("feed refused: its DOCTYPE declares XML entities (entity expansion / external "
                        "entity risk)")
            pos = end
        else:
            return None
    return None


def _doctype_end(data: bytes, pos: int) -> tuple[int, bytes | None]:
    """End offset of a DOCTYPE starting at pos, and its internal subset (None if there is none)."""
    quote: int | None = None
    size = len(data)
    while pos < size:
        char = data[pos]
        if quote is not None:
            if char == quote:
                quote = None
        elif char in (0x22, 0x27):
            quote = char
        elif char == 0x5B:  # '['
            close = data.find(b"]", pos)
            if close < 0:
                return size, data[pos:]
            end = data.find(b">", close)
            return (size if end < 0 else end + 1), data[pos:close]
        elif char == 0x3E:  # '>'
            return pos + 1, None
        pos += 1
    return size, None


_XML_DECL_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']", re.IGNORECASE)


def _charset_fallback(data: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str], str | None]:
    """Undeclared, non-UTF-8 bytes: detect the charset and hand feedparser UTF-8 instead.

    feedparser (without chardet) falls back to windows-1252, which turns undeclared Cyrillic
    (windows-1251, KOI8-R) into mojibake. Declared charsets (HTTP header, BOM, XML declaration)
    and valid UTF-8 are left to feedparser; UTF-8 with a few invalid bytes is repaired first.
    """
    content_type = headers.get("content-type", "")
    repaired = _repair_utf8(data, content_type)
    if repaired is not None:
        text, bad = repaired
        new_headers = dict(headers)
        mime = content_type.split(";")[0].strip() or "application/xml"
        new_headers["content-type"] = f"{mime}; charset=utf-8"
        return text, new_headers, f"invalid UTF-8: {bad} run(s) of undecodable bytes replaced with U+FFFD"
    if "charset=" in content_type.lower() or data[:4].find(b"\x00") >= 0:
        return data, headers, None
    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or _XML_DECL_ENCODING.match(data[:512]):
        return data, headers, None
    try:
        data.decode("utf-8")
        return data, headers, None
    except UnicodeDecodeError:
        pass
    encoding = http.undeclared_charset(data)  # windows-1252 unless the bytes tell of another script
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        if encoding != "cp1252":
            return data, headers, None
        text = data.decode(encoding, errors="replace")  # the five bytes windows-1252 leaves undefined
    new_headers = dict(headers)
    mime = content_type.split(";")[0].strip() or "application/xml"
    new_headers["content-type"] = f"{mime}; charset=utf-8"
    return text.encode("utf-8"), new_headers, f"no charset declared; decoded as {encoding} (detected)"


_XML_DECL_CHARSET = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)", re.IGNORECASE)
_REPLACEMENT_RUN = re.compile("\ufffd+")
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.IGNORECASE)


def _repair_utf8(data: bytes, content_type: str) -> tuple[bytes, int] | None:
    """A feed declared UTF-8 (HTTP charset, BOM or XML declaration) with a few invalid byte sequences:
    the feed with those replaced by U+FFFD, and how many runs of them there were; else None.

    feedparser would otherwise re-decode the whole feed as windows-1252 and garble every non-ASCII
    character of every entry. A feed with no valid multi-byte sequence at all (or more invalid ones
    than valid) is a single-byte charset mislabelled as UTF-8, and is left to the usual fallbacks.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:4].find(b"\x00") >= 0:
        return None
    match = _HEADER_CHARSET.search(content_type)
    declared = match.group(1) if match else None
    if declared is None:
        if data.startswith(b"\xef\xbb\xbf"):
            declared = "utf-8"
        else:
            xml_match = _XML_DECL_CHARSET.match(data[:512])
            declared = xml_match.group(1).decode("ascii") if xml_match else None
    if declared is None or declared.lower().replace("_", "-") not in ("utf-8", "utf8"):
        return None  # undeclared bytes are left to charset detection (EUC-JP can look like UTF-8)
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", "replace")
    bad = len(_REPLACEMENT_RUN.findall(text)) - len(_REPLACEMENT_RUN.findall(data.decode("utf-8", "ignore")))
    good = sum(1 for ch in text if ch > "\x7f" and ch != "\ufffd")
    if bad <= 0 or good == 0 or bad > good:
        return None
    return text.encode("utf-8"), bad


# A numeric character reference (the form feedparser's loose parser and HTML parsers accept).
_CHARREF = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_CHARREF_BYTES = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
UNHOLDABLE_REFS = "character reference(s) to lone surrogates or code points past U+10FFFF"


def _unholdable(match: re.Match) -> bool:
    """True for a reference to a character no text can hold: a lone surrogate (U+D800-U+DFFF, which
    UTF-8 cannot encode and PostgreSQL refuses) or a number past U+10FFFF (no such character)."""
    hexa, digits = match.group(1), match.group(1) or match.group(2)
    if isinstance(digits, bytes):
        digits = digits.decode("ascii")
    digits = digits.lstrip("0")
    if len(digits) > 8:  # far past U+10FFFF (and int() refuses thousands of decimal digits)
        return True
    code = int(digits or "0", 16 if hexa else 10)
    return 0xD800 <= code <= 0xDFFF or code > 0x10FFFF


def count_unholdable_refs(text: str | bytes) -> int:
    """How many references to lone surrogates or code points past U+10FFFF TEXT holds. HTML parsers
    (lxml, html.unescape) read them as U+FFFD, as browsers do; callers record that they did."""
    pattern = _CHARREF_BYTES if isinstance(text, bytes) else _CHARREF
    if (b"&#" if isinstance(text, bytes) else "&#") not in text:
        return 0
    return sum(1 for m in pattern.finditer(text) if _unholdable(m))


# UTF-16/32 feeds, by their BOM or (without one) how "<?" is spelled: (prefix, codec, BOM length)
_WIDE_CODECS = (
    (b"\xff\xfe\x00\x00", "utf-32-le", 4), (b"\x00\x00\xfe\xff", "utf-32-be", 4),
    (b"\xff\xfe", "utf-16-le", 2), (b"\xfe\xff", "utf-16-be", 2),
    (b"<\x00\x00\x00", "utf-32-le", 0), (b"\x00\x00\x00<", "utf-32-be", 0),
    (b"<\x00?\x00", "utf-16-le", 0), (b"\x00<\x00?", "utf-16-be", 0),
)


def _replace_unholdable_refs(data: bytes) -> tuple[bytes, int]:
    """The feed with every reference to a lone surrogate or past U+10FFFF replaced by `&#xFFFD;`, and
    how many there were.

    XML forbids them, so the strict parser refuses the feed; feedparser's loose parser then crashed on
    them (chr() of a surrogate cannot be encoded, past U+10FFFF is no character) and the whole feed,
    every entry, was lost. Replaced, they cost one character each (U+FFFD, as an HTML parser reads
    them; a surrogate pair written as two references becomes two). Only the references are rewritten,
    in the feed's own encoding (ASCII-compatible ones byte for byte, UTF-16/32 decoded and re-encoded).
    """
    if b"&" not in data:
        return data, 0
    count = 0

    def fix(match: re.Match) -> str | bytes:
        nonlocal count
        if not _unholdable(match):
            return match.group(0)
        count += 1
        return b"&#xFFFD;" if isinstance(match.group(0), bytes) else "&#xFFFD;"

    for prefix, codec, bom in _WIDE_CODECS:
        if data.startswith(prefix):
            try:
                text = data[bom:].decode(codec)
            except UnicodeDecodeError:
                return data, 0  # left to feedparser, which reports the broken encoding
            fixed = _CHARREF.sub(fix, text)
            return (data[:bom] + fixed.encode(codec), count) if count else (data, 0)
    fixed_bytes = _CHARREF_BYTES.sub(fix, data)
    return (fixed_bytes, count) if count else (data, 0)


def _looks_like_html(data: bytes, content_type: str) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return True
    return content_type in ("text/html", "application/xhtml+xml") and b"<rss" not in head \
        and b"<feed" not in head and b"<rdf" not in head


def _utc(struct: time.struct_time | None) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime(*struct[:6], tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None


def _entry(raw: feedparser.FeedParserDict, base_url: str | None) -> FeedEntry:
    link = (raw.get("link") or "").strip() or None
    if link and base_url and not http.is_local(base_url):
        link = urljoin(base_url, link)
    if link and urlsplit(link).scheme not in ("http", "https"):
        link = None
    contents = [c.get("value") or "" for c in raw.get("content") or [] if isinstance(c, dict)]
    content = max(contents, key=len) if contents else ""
    published = None
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        published = _utc(raw.get(key))
        if published:
            break
    guid = raw.get("id") or raw.get("guid") or None
    return FeedEntry(
        guid=str(guid).strip() if guid else None,
        link=link.strip() if link else None,
        title=(raw.get("title") or "").strip(),
        summary=raw.get("summary") or "",
        content=content,
        published=published,
    )


def parse_feed(data: bytes, headers: dict[str, str] | None = None,
               base_url: str | None = None) -> tuple[list[FeedEntry], list[str], str | None]:
    """Feed bytes -> (entries, warnings, error). Never raises; error is None when the feed is usable.

    What no text can hold costs that character, never the feed, and goes into the warnings: invalid
    UTF-8 in a feed declared UTF-8 and character references to lone surrogates or past U+10FFFF
    become U+FFFD (`_repair_utf8`, `_replace_unholdable_refs`); NUL characters are removed later
    (`pipeline.articles`).
    """
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    warnings: list[str] = []
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        return [], warnings, "empty response: no feed content"
    problem = entity_declaration_problem(data)
    if problem:
        return [], warnings, problem
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    head = data[:256].lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"\x00" not in data[:4] and not data.startswith((b"\xff\xfe", b"\xfe\xff")) and not head.startswith(b"<"):
        preview = head[:40].decode("utf-8", "replace")
        return [], warnings, f"not a feed: the body is not XML (Content-Type {content_type or 'unset'}, starts with {preview!r})"
    if _looks_like_html(data, content_type):
        return [], warnings, f"not a feed: got an HTML page (Content-Type {content_type or 'unset'})"
    if "xml" not in content_type:
        # Feeds served as text/plain, text/html or with no type at all are common: parse them as XML
        # (charset from the header parameter, BOM or XML declaration) instead of feedparser's
        # non-XML fallback that ignores the declared encoding.
        params = headers.get("content-type", "").partition(";")[2]
        headers["content-type"] = "application/xml" + (f";{params}" if params.strip() else "")
        if content_type:
            warnings.append(f"served as {content_type}, parsed as XML")
    data, headers, note = _charset_fallback(data, headers)
    if note:
        warnings.append(note)
    data, replaced = _replace_unholdable_refs(data)
    if replaced:
        warnings.append(f"{replaced} {UNHOLDABLE_REFS} replaced with U+FFFD (no text can hold them)")
    # No Content-Location: feedparser would resolve guids against it too, and a guid must stay as
    # published (it keys link-less entries). Entry links are resolved against base_url below.
    headers.pop("content-location", None)
    try:
        parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    except Exception as exc:  # feedparser bugs on hostile input must not end the night
        log.warning("feedparser crashed on %s: %r", base_url, exc)
        return [], warnings, f"feed parser failed: {type(exc).__name__}: {exc}"
    entries = []
    for raw in parsed.get("entries") or []:
        try:
            entries.append(_entry(raw, base_url))
        except Exception as exc:  # one odd entry must not lose the rest
            warnings.append(f"entry skipped: {type(exc).__name__}: {exc}")
    bozo = parsed.get("bozo")
    reason = _bozo_text(parsed.get("bozo_exception")) if bozo else None
    if entries:
        if bozo:
            warnings.append(f"feed is not well-formed, {len(entries)} entries kept: {reason}")
        return entries, warnings, None
    exc = parsed.get("bozo_exception")
    benign = isinstance(exc, (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType))
    if bozo and not benign:
        return [], warnings, f"not a parseable feed (malformed or truncated XML, no entries): {reason}"
    if not parsed.get("version"):
        return [], warnings, "not a feed: no RSS, Atom or RDF root element"
    if bozo:
        warnings.append(f"feed is not well-formed: {reason}")
    warnings.append("feed has no entries")
    return [], warnings, None


def _bozo_text(exc: object) -> str:
    if exc is None:
        return "unknown problem"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Fetching


def fetch_feed(spec: FeedSpec, state: FeedState | None, settings: FetchSettings,
               session: requests.Session | None = None, *,
               throttle: http.HostThrottle | None = None) -> FetchResult:
    """Fetch and parse one feed; network and parse problems come back as status 'error', never raised."""
    state = state or FeedState()
    url = state.current_url or spec.fetch_url
    started = time.monotonic()

    def result(status: str, **kw: object) -> FetchResult:
        kw.setdefault("duration_ms", int((time.monotonic() - started) * 1000))
        base = dict(spec=spec, status=status, http_status=None, requested_url=url, final_url=None,
                    permanent_redirect=False, etag=None, last_modified=None, bytes=0)
        base.update(kw)
        return FetchResult(**base)  # type: ignore[arg-type]

    try:
        resp = http.fetch(url, settings, session=session, etag=state.etag,
                          last_modified=state.last_modified, max_bytes=settings.max_feed_bytes,
                          accept=FEED_ACCEPT, throttle=throttle)
    except http.FetchError as exc:
        log.info("feed %s: %s", url, exc.message)
        return result("error", http_status=exc.http_status, final_url=exc.final_url, error=exc.message)
    except Exception as exc:  # a bug here must cost one feed, not the night
        log.exception("feed %s: unexpected failure", url)
        return result("error", error=f"unexpected {type(exc).__name__}: {exc}")
    common = dict(http_status=resp.status if not http.is_local(url) else None, final_url=resp.final_url,
                  permanent_redirect=resp.permanent_redirect, duration_ms=resp.duration_ms)
    if resp.not_modified:
        return result("not_modified", etag=resp.headers.get("etag") or state.etag,
                      last_modified=resp.headers.get("last-modified") or state.last_modified, **common)
    headers = http.header_dict(resp.headers)
    try:
        entries, warnings, error = parse_feed(resp.content, headers, resp.final_url)
    except Exception as exc:  # parse_feed guards feedparser; this guards parse_feed itself
        log.exception("feed %s: parsing failed", url)
        entries, warnings, error = [], [], f"feed parsing failed: {type(exc).__name__}: {exc}"
    common["duration_ms"] = int((time.monotonic() - started) * 1000)
    if error:
        return result("error", bytes=len(resp.content), error=error, warnings=warnings, **common)
    return result("ok", etag=resp.headers.get("etag"), last_modified=resp.headers.get("last-modified"),
                  bytes=len(resp.content), entries=entries, warnings=warnings, **common)


def fetch_feeds(items: list[tuple[FeedSpec, FeedState | None]], settings: FetchSettings) -> list[FetchResult]:
    """Fetch many feeds in parallel, one request at a time per host; results in input order.

    `settings.max_workers` threads share per-host queues: a free worker takes the next feed of a host
    that no worker is fetching from and whose politeness delay has passed (of those, the host with
    the most feeds left), and waits only when no host is ready. So a worker never sleeps through one
    host's delay while another host could be fetched, and more hosts than workers cost no extra
    rounds. Each host keeps one session (its connection is reused), used by one thread at a time.
    """
    throttle = http.HostThrottle(settings.host_delay)
    queues: dict[str, deque[int]] = {}
    for index, (spec, state) in enumerate(items):
        url = (state.current_url if state and state.current_url else None) or spec.fetch_url
        key = http.host_of(url) or f"local:{index}"
        queues.setdefault(key, deque()).append(index)
    results: list[FetchResult | None] = [None] * len(items)
    busy: set[str] = set()
    sessions: dict[str, requests.Session] = {}
    changed = threading.Condition()

    def take() -> tuple[str, int] | None:
        with changed:
            while True:
                idle = [key for key, queue in queues.items() if queue and key not in busy]
                if not idle:
                    if not any(queues.values()):
                        return None  # every feed is taken
                    changed.wait()  # the hosts with feeds left are all being fetched from
                    continue
                now = time.monotonic()
                ready = [key for key in idle if throttle.ready_at(key) <= now]
                if ready:
                    key = max(ready, key=lambda k: len(queues[k]))
                    busy.add(key)
                    return key, queues[key].popleft()
                changed.wait(min(throttle.ready_at(key) for key in idle) - now)

    def run() -> None:
        while (job := take()) is not None:
            key, index = job
            spec, state = items[index]
            try:
                session = sessions.get(key)
                if session is None:
                    session = sessions[key] = http.new_session(settings)
                results[index] = fetch_feed(spec, state, settings, session, throttle=throttle)
            except Exception as exc:  # pragma: no cover - fetch_feed already catches
                log.exception("feed %s crashed", spec.url)
                results[index] = FetchResult(spec, "error", None, spec.fetch_url, None, False, None,
                                             None, 0, 0, [], f"unexpected {type(exc).__name__}: {exc}")
            finally:
                with changed:
                    busy.discard(key)
                    changed.notify_all()

    workers = max(1, min(settings.max_workers, len(queues) or 1))
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feeds") as pool:
            for future in [pool.submit(run) for _ in range(workers)]:
                future.result()
    finally:
        for session in sessions.values():
            session.close()
    done = [r for r in results if r is not None]
    log.info("fetched %s feeds: %s ok, %s not modified, %s errors", len(done),
             sum(r.status == "ok" for r in done), sum(r.status == "not_modified" for r in done),
             sum(r.status == "error" for r in done))
    return done
