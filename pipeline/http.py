"""HTTP client shared by feed and page fetching: conditional GET, caps, redirects, retries, politeness."""

from __future__ import annotations

import codecs
import email.utils
import http.client
import logging
import os
import re
import socket
import ssl
import threading
import time
import unicodedata
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from pipeline.settings import FetchSettings

log = logging.getLogger(__name__)

REDIRECT_CODES = {301, 302, 303, 307, 308}
PERMANENT_CODES = {301, 308}
RETRY_CODES = {500, 502, 503, 504}
CHUNK = 64 * 1024


class FetchError(Exception):
    """A fetch that failed; str(error) is a readable one-line reason."""

    def __init__(self, message: str, *, url: str, http_status: int | None = None,
                 final_url: str | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.http_status = http_status
        self.final_url = final_url
        self.attempts = attempts


@dataclass
class Response:
    """A completed fetch: status 200 (with content) or 304 (no content)."""

    requested_url: str
    final_url: str
    status: int
    headers: CaseInsensitiveDict
    content: bytes = b""
    redirects: list[tuple[int, str]] = field(default_factory=list)
    attempts: int = 1
    duration_ms: int = 0

    @property
    def permanent_redirect(self) -> bool:
        """True when every hop was 301/308: final_url is the resource's new home."""
        return bool(self.redirects) and all(code in PERMANENT_CODES for code, _ in self.redirects)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in (self.headers.get("content-type") or "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip(" \"'"):
                return value.strip(" \"'")
        return None


class HostThrottle:
    """Per-host politeness: one request at a time per host, `delay` seconds between them."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}

    def _lock(self, host: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(host, threading.Lock())

    def ready_at(self, host: str) -> float:
        """The monotonic time from which a request to HOST keeps the delay (the past for a host not
        yet asked: the first request to a host waits for nothing)."""
        return self._last.get(host, float("-inf")) + self.delay

    def acquire(self, host: str) -> None:
        self._lock(host).acquire()
        wait = self._last.get(host, float("-inf")) + self.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def release(self, host: str) -> None:
        self._last[host] = time.monotonic()
        self._lock(host).release()


def host_of(url: str) -> str:
    """Host:port key used for politeness ("" for local files and unparseable URLs)."""
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return ""
        return (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return ""


def is_local(url: str) -> bool:
    """A file:// URL or a plain filesystem path (no scheme, or a Windows drive letter)."""
    scheme = urlsplit(url).scheme
    return scheme == "file" or scheme == "" or (len(scheme) == 1 and scheme.isalpha())


def new_session(settings: FetchSettings) -> requests.Session:
    """A session with the project's User-Agent (fetch() follows redirects itself)."""
    session = requests.Session()
    session.headers["User-Agent"] = settings.user_agent
    return session


def fetch(
    url: str,
    settings: FetchSettings,
    *,
    session: requests.Session | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int | None = None,
    accept: str | None = None,
    throttle: HostThrottle | None = None,
) -> Response:
    """GET `url` (or read a local file) within the settings' limits; raise FetchError on failure."""
    cap = max_bytes if max_bytes is not None else settings.max_feed_bytes
    started = time.monotonic()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as exc:
        raise FetchError(f"invalid URL {url!r}: {exc}", url=url) from exc
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise FetchError(f"invalid URL {url!r}: no host", url=url)
    if is_local(url):
        if not settings.allow_local_files:
            raise FetchError(f"local files are not allowed: {url}", url=url)
        resp = _read_local(url, cap, last_modified)
    else:
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise FetchError(f"unsupported URL scheme {scheme!r}: only http and https are fetched", url=url)
        own = session is None
        sess = session or new_session(settings)
        try:
            resp = _fetch_http(url, settings, sess, etag, last_modified, cap, accept, throttle, started)
        finally:
            if own:
                sess.close()
    resp.duration_ms = int((time.monotonic() - started) * 1000)
    return resp


def _read_local(url: str, cap: int, last_modified: str | None) -> Response:
    path = Path(unquote(urlsplit(url).path)) if url.startswith("file:") else Path(url)
    try:
        stat = path.stat()
        if not path.is_file():
            raise FetchError(f"not a regular file: {path}", url=url)
        mtime = email.utils.formatdate(stat.st_mtime, usegmt=True)
        headers = CaseInsensitiveDict({"Last-Modified": mtime, "Content-Length": str(stat.st_size)})
        if last_modified and last_modified == mtime:
            return Response(url, url, 304, headers)
        if stat.st_size > cap:
            raise FetchError(f"file is {stat.st_size} bytes, over the cap of {cap} bytes", url=url)
        with path.open("rb") as fh:
            data = fh.read(cap + 1)
    except OSError as exc:
        raise FetchError(f"cannot read local file {path}: {exc.strerror or exc}", url=url) from exc
    if len(data) > cap:
        raise FetchError(f"file exceeds the cap of {cap} bytes", url=url)
    return Response(url, url, 200, headers, data)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _fetch_http(url: str, settings: FetchSettings, session: requests.Session, etag: str | None,
                last_modified: str | None, cap: int, accept: str | None,
                throttle: HostThrottle | None, started: float) -> Response:
    deadline = started + settings.total_timeout
    headers = {"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"}
    if accept:
        headers["Accept"] = accept
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    seen = {url}
    redirects: list[tuple[int, str]] = []
    attempts = 0
    while True:
        status, resp_headers, body, tries = _get_with_retries(
            current, settings, session, headers, cap, throttle, deadline, url)
        attempts += tries
        if status in REDIRECT_CODES:
            location = resp_headers.get("location")
            if not location:
                raise FetchError(f"HTTP {status} redirect without a Location header", url=url,
                                 http_status=status, final_url=current, attempts=attempts)
            try:
                target = urljoin(current, location.strip())
                scheme, host = urlsplit(target).scheme, urlsplit(target).hostname
            except ValueError:
                raise FetchError(f"HTTP {status} redirect to an invalid URL {location!r}", url=url,
                                 http_status=status, final_url=current, attempts=attempts) from None
            if scheme not in ("http", "https") or not host:
                raise FetchError(f"redirect to a non-http URL refused: {target}", url=url,
                                 http_status=status, final_url=current, attempts=attempts)
            redirects.append((status, target))
            if target in seen:
                chain = " -> ".join([url, *(t for _, t in redirects)])
                raise FetchError(f"redirect loop: {chain}", url=url, http_status=status,
                                 final_url=target, attempts=attempts)
            if len(redirects) > settings.max_redirects:
                raise FetchError(f"too many redirects (more than {settings.max_redirects})", url=url,
                                 http_status=status, final_url=target, attempts=attempts)
            seen.add(target)
            # Validators stay on every hop: they came from last night's *final* response, so they
            # belong to the server at the end of the chain (a feed that always 302s to a CDN).
            current = target
            continue
        if status == 304:
            return Response(url, current, 304, resp_headers, b"", redirects, attempts)
        if 200 <= status < 300:
            return Response(url, current, status, resp_headers, body, redirects, attempts)
        reason = http.client.responses.get(status, "")
        raise FetchError(f"HTTP {status}{' ' + reason if reason else ''}", url=url, http_status=status,
                         final_url=current, attempts=attempts)


def _get_with_retries(url: str, settings: FetchSettings, session: requests.Session, headers: dict,
                      cap: int, throttle: HostThrottle | None, deadline: float,
                      original: str) -> tuple[int, CaseInsensitiveDict, bytes, int]:
    """One hop: retry 5xx, 429 and connection failures with backoff; return (status, headers, body, tries)."""
    host = host_of(url)
    tries = 0
    while True:
        tries += 1
        wait: float | None = None
        if throttle:
            throttle.acquire(host)
        try:
            status, resp_headers, body = _get_once(url, settings, session, headers, cap, deadline)
        except _Retryable as exc:
            if tries > settings.retries:
                raise FetchError(f"{exc} (after {tries} attempts)", url=original, final_url=url,
                                 attempts=tries) from None
            wait = settings.backoff * 2 ** (tries - 1)
            log.info("fetch %s failed (%s); retry %s in %.2fs", url, exc, tries, wait)
        finally:
            if throttle:
                throttle.release(host)
        if wait is None:
            if status == 429 or status in RETRY_CODES:
                if tries > settings.retries:
                    return status, resp_headers, body, tries
                after = _retry_after(resp_headers.get("retry-after"))
                if after is not None and after > settings.max_retry_after:
                    raise FetchError(
                        f"HTTP {status}: server asks to retry after {after:.0f} s, over the cap of "
                        f"{settings.max_retry_after:.0f} s", url=original, http_status=status,
                        final_url=url, attempts=tries)
                wait = after if after is not None else settings.backoff * 2 ** (tries - 1)
                log.info("fetch %s got HTTP %s; retry %s in %.2fs", url, status, tries, wait)
            else:
                return status, resp_headers, body, tries
        if time.monotonic() + wait > deadline:
            raise FetchError(f"gave up: retry would pass the total time budget of "
                             f"{settings.total_timeout:.0f} s", url=original, final_url=url, attempts=tries)
        time.sleep(wait)


class _Retryable(Exception):
    """Connection-level failure worth another attempt."""


def _get_once(url: str, settings: FetchSettings, session: requests.Session, headers: dict, cap: int,
              deadline: float) -> tuple[int, CaseInsensitiveDict, bytes]:
    timeout = (settings.connect_timeout, settings.read_timeout)
    try:
        resp = session.get(url, headers=headers, timeout=timeout, stream=True, allow_redirects=False)
    except requests.exceptions.ConnectTimeout as exc:
        raise _Retryable(f"connect timed out after {settings.connect_timeout:g} s") from exc
    except requests.exceptions.ReadTimeout as exc:
        raise FetchError(f"timed out: no response within {settings.read_timeout:g} s", url=url) from exc
    except requests.exceptions.ConnectionError as exc:
        raise _Retryable(f"connection failed: {connection_problem(exc, url)}") from exc
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"request failed: {_short(exc)}", url=url) from exc
    try:
        status = resp.status_code
        if status in REDIRECT_CODES or status == 304 or not 200 <= status < 300:
            return status, resp.headers, b""
        length = resp.headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            raise FetchError(f"response is {int(length)} bytes (Content-Length), over the cap of {cap} bytes",
                             url=url, http_status=status)
        body = _read_capped(resp, cap, deadline, settings, url)
        return status, resp.headers, body
    finally:
        resp.close()


def _read_capped(resp: requests.Response, cap: int, deadline: float, settings: FetchSettings,
                 url: str) -> bytes:
    """Stream the body, decompressing gzip/deflate ourselves so the cap bounds the decoded size."""
    encoding = (resp.headers.get("content-encoding") or "").strip().lower()
    decoder = None
    if encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = _DeflateDecoder()
    elif encoding not in ("", "identity"):
        raise FetchError(f"unsupported Content-Encoding {encoding!r}", url=url, http_status=resp.status_code)
    out = bytearray()
    raw_total = 0
    try:
        for chunk in resp.raw.stream(CHUNK, decode_content=False):
            raw_total += len(chunk)
            if raw_total > cap:
                raise FetchError(f"response exceeds the cap of {cap} bytes", url=url,
                                 http_status=resp.status_code)
            if time.monotonic() > deadline:
                raise FetchError(f"download took longer than {settings.total_timeout:g} s", url=url,
                                 http_status=resp.status_code)
            if decoder is None:
                out += chunk
            else:
                data = chunk
                while data:
                    room = cap - len(out) + 1
                    out += decoder.decompress(data, room)
                    if len(out) > cap:
                        raise FetchError(f"decompressed response exceeds the cap of {cap} bytes "
                                         f"(compression bomb?)", url=url, http_status=resp.status_code)
                    data = decoder.unconsumed_tail
            if len(out) > cap:
                raise FetchError(f"response exceeds the cap of {cap} bytes", url=url,
                                 http_status=resp.status_code)
        if decoder is not None:
            out += decoder.flush()
    except zlib.error as exc:
        raise FetchError(f"corrupt {encoding} body: {exc}", url=url, http_status=resp.status_code) from exc
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"download failed: {_short(exc)}", url=url, http_status=resp.status_code) from exc
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        # urllib3 raises ReadTimeoutError / ProtocolError while streaming.
        name = type(exc).__name__
        if "Timeout" in name:
            raise FetchError(f"timed out: body stalled for more than {settings.read_timeout:g} s", url=url,
                             http_status=resp.status_code) from exc
        raise FetchError(f"download failed: {name}: {_short(exc)}", url=url,
                         http_status=resp.status_code) from exc
    if len(out) > cap:
        raise FetchError(f"response exceeds the cap of {cap} bytes", url=url, http_status=resp.status_code)
    return bytes(out)


class _DeflateDecoder:
    """HTTP 'deflate' is zlib-wrapped by the spec but raw deflate in the wild: try both."""

    def __init__(self) -> None:
        self._obj = zlib.decompressobj()
        self._first = True

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._obj.decompress(data, max_length)
            except zlib.error:
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._obj.decompress(data, max_length)

    @property
    def unconsumed_tail(self) -> bytes:
        return self._obj.unconsumed_tail

    def flush(self) -> bytes:
        return self._obj.flush()


def connection_problem(exc: BaseException, url: str) -> str:
    """Why a connection failed, in words ("127.0.0.1:8080 refused the connection"), from the OS error
    under requests' and urllib3's wrappers (whose own text is a pool repr and 'Max retries exceeded')."""
    try:
        parts = urlsplit(url)
        name = parts.hostname or url
        where = (f"[{name}]" if ":" in name else name) + (f":{parts.port}" if parts.port else "")
    except ValueError:
        name = where = url
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        reason = getattr(current, "reason", None)
        current = reason if isinstance(reason, BaseException) else (current.__cause__ or current.__context__)
    for err in reversed(chain):  # the innermost cause first
        if isinstance(err, socket.gaierror) or type(err).__name__ == "NameResolutionError":
            return f"host name {name!r} not found"
        if isinstance(err, ConnectionRefusedError):
            return f"{where} refused the connection"
        if isinstance(err, ConnectionResetError):
            return f"{where} reset the connection"
        if isinstance(err, ssl.SSLError):
            detail = getattr(err, "verify_message", None) or getattr(err, "reason", None) or type(err).__name__
            return f"TLS with {where} failed: {str(detail).lower().replace('_', ' ')}"
        if isinstance(err, TimeoutError):
            return f"connecting to {where} timed out"
        if type(err).__name__ == "RemoteDisconnected":
            return f"{where} closed the connection without answering"
        if isinstance(err, OSError) and err.errno and err.strerror:
            return f"cannot connect to {where}: {err.strerror}"
    return f"cannot connect to {where} ({type(chain[-1]).__name__})"


# Labels that WHATWG's Encoding Standard reads as windows-1252 (browsers do: a page that says latin-1
# or ascii and has a curly quote means windows-1252's)
_AS_WINDOWS_1252 = {"ascii", "us-ascii", "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1",
                    "cp819", "ibm819", "windows-1252", "cp1252", "x-cp1252"}
# Below this many non-ASCII bytes, detection has nothing to go on (every Latin code page reads a stray
# byte as some letter): undeclared text is then read as windows-1252, the web's default for it.
MIN_DETECT_BYTES = 4
MIN_MULTIBYTE_DETECT_BYTES = 16  # and a CJK multi-byte charset is believed from this many
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def codec_for(label: str | None) -> str | None:
    """The Python codec for a declared charset label, None when Python knows no such charset."""
    if not label:
        return None
    label = label.strip().lower()
    if label in _AS_WINDOWS_1252:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def undeclared_charset(data: bytes) -> str:
    """The charset to read bytes that declare none and are not UTF-8 with.

    charset_normalizer tells scripts apart well (windows-1251 Russian from windows-1253 Greek) but not
    the Latin code pages, which all fit an English text with a stray accented byte: it may read
    "J\\xfcrgen" as cp775's "J³rgen". So its guess is taken only when the text has enough non-ASCII bytes
    to go on and the guess reads them as letters of a non-Latin script; otherwise the bytes are
    windows-1252, as browsers read undeclared Western pages."""
    sample = data[:200_000]
    non_ascii = len(sample) - len(sample.translate(None, bytes(range(128))))
    if non_ascii < MIN_DETECT_BYTES:
        return "cp1252"
    from charset_normalizer import from_bytes
    from charset_normalizer.utils import is_multi_byte_encoding

    for match in from_bytes(sample):  # best first
        if is_multi_byte_encoding(match.encoding) and non_ascii < MIN_MULTIBYTE_DETECT_BYTES:
            continue  # a few stray bytes pair up with the ASCII after them as CJK characters
        for ch in str(match):
            if ch > "\x7f" and ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN"):
                return match.encoding
        break  # the likeliest reading is Latin text
    return "cp1252"


def decode_html(data: bytes, header_charset: str | None = None) -> tuple[str, str]:
    """An HTML page's text and how its charset was decided: the HTTP header's charset, else a byte order
    mark, else the page's own <meta charset> (or XML declaration), else UTF-8 when the bytes are UTF-8,
    else detected (undeclared_charset). A declared charset is trusted, with undecodable bytes as U+FFFD."""
    codec = codec_for(header_charset)
    if codec:
        return data.decode(codec, errors="replace"), f"declared {header_charset} (HTTP)"
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace"), f"{name} (byte order mark)"
    head = data[:4096]
    declared = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    codec = codec_for(declared.group(1).decode("ascii")) if declared else None
    if codec and codec not in ("utf-16", "utf-32") and not codec.startswith(("utf_16", "utf_32")):
        return data.decode(codec, errors="replace"), f"declared {declared.group(1).decode('ascii')} (in the page)"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    codec = undeclared_charset(data)
    return data.decode(codec, errors="replace"), f"{codec} (detected; no charset declared)"


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


def local_path(url: str) -> str | None:
    """The filesystem path of a local URL, or None for http(s)."""
    if not is_local(url):
        return None
    return unquote(urlsplit(url).path) if url.startswith("file:") else os.fspath(url)


def header_dict(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased plain dict of response headers (what feedparser's response_headers expects)."""
    return {k.lower(): v for k, v in headers.items()}
