"""One HTTP client for every source: timeouts, retries with backoff, Retry-After, honest UA."""

from __future__ import annotations

import email.utils
import os
import random
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx

from ..core import interrupts
from ..core.settings import Settings, parse_rate_limits
from .raw_archive import utc_now

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Response headers worth keeping in a raw sidecar (never request headers: they may hold a token).
KEPT_HEADERS = (
    "content-type", "content-length", "date", "etag", "last-modified", "retry-after",
    "ratelimit", "ratelimit-policy", "x-request-id", "cache-control",
)


class FetchError(RuntimeError):
    """A request that did not succeed after every allowed try."""


class DeadlineExceeded(FetchError):
    """A request (all its tries) that took longer than settings.request_deadline."""


@dataclass(frozen=True)
class Fetched:
    """One final response: what was asked, what came back, and when.

    An answer larger than settings.max_response_bytes is never held in memory: `body` is empty and
    `spool` names a file (under raw/) holding every byte, for raw_archive.land to move into place.
    """

    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    attempts: int
    spool: Path | None = None  # the whole body, in a file under raw/, when over max_response_bytes
    size: int | None = None    # its size in bytes then

    @property
    def oversize_problem(self) -> str | None:
        """Why an answer over the cap is kept in raw/ but not parsed, or None."""
        if self.spool is None:
            return None
        return f"answer of {self.size} bytes is larger than max_response_bytes: kept in raw/, not parsed"


def user_agent() -> str:
    """An honest User-Agent naming papertrends and its version."""
    try:
        version = metadata.version("papertrends")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"papertrends/{version} (research trend tracker; python-httpx)"


def token_allowed(url: httpx.URL, token_host: str) -> bool:
    """May the HF token go to `url`? Only to `token_host` (settings.hf_token_host) over https.

    `token_host` is a host name (https only) or, when the user says so, http://host (plain http
    allowed for that host, e.g. a local mirror); empty sends the token nowhere.
    """
    if not token_host:
        return False
    scheme, _, host = token_host.rpartition("://")
    allowed_schemes = {"https", "http"} if scheme == "http" else {"https"}
    return url.scheme in allowed_schemes and url.host == host.strip("/").lower()


class _HfTokenAuth(httpx.Auth):
    """Adds the bearer token to requests for the allowed host only (httpx drops it on a cross-origin redirect)."""

    def __init__(self, token: str, token_host: str):
        self._token, self._host = token, token_host

    def auth_flow(self, request: httpx.Request):
        if token_allowed(request.url, self._host):
            request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def make_client(settings: Settings, *, accept: str = "application/json", send_hf_token: bool = True) -> httpx.Client:
    """An httpx client with the configured timeouts, UA and (if set and wanted) the HF bearer token.

    The token is sent only to settings.hf_token_host over https, whatever --base-url says.
    """
    headers = {"User-Agent": user_agent(), "Accept": accept}
    token = settings.hf_token if send_hf_token else None
    auth = _HfTokenAuth(token, settings.hf_token_host) if token else None
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    return httpx.Client(headers=headers, timeout=timeout, follow_redirects=True, auth=auth)


def _read_capped(response: httpx.Response, cap: int, deadline: float, what: str, spool_dir: Path) -> tuple[bytes, Path | None, int]:
    """The body, read in chunks and never past `deadline` (monotonic), so a server trickling one
    byte every few seconds cannot hold a fetch forever. Up to `cap` bytes are held in memory; past
    it every byte goes to a spool file in `spool_dir` instead. Returns (body, spool, size)."""
    kept = bytearray()
    spool, handle, total = None, None, 0
    try:
        for chunk in response.iter_bytes():
            total += len(chunk)
            if handle is None and total > cap:
                spool_dir.mkdir(parents=True, exist_ok=True)
                # Named like write_atomically's temporaries, so a killed run's spool is swept.
                spool = spool_dir / f".oversize-{secrets.token_hex(6)}.{os.getpid()}.tmp"
                handle = spool.open("wb")
                handle.write(kept)
                kept = bytearray()
            if handle is not None:
                handle.write(chunk)
            else:
                kept += chunk
            if time.monotonic() > deadline:
                raise DeadlineExceeded(f"{what}: no complete answer within the request deadline")
            interrupts.check()
    except BaseException:
        if handle is not None:
            handle.close()
            spool.unlink(missing_ok=True)
        raise
    if handle is not None:
        handle.close()
    return bytes(kept), spool, total


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter for the given (1-based) failed attempt."""
    return min(cap, base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def get(
    client: httpx.Client,
    url: str,
    params: dict | None,
    settings: Settings,
    *,
    sleep=time.sleep,
    log=None,
    headers: dict[str, str] | None = None,
) -> Fetched:
    """GET with retries on 429, 5xx, timeouts and connection errors; other statuses are returned.

    Waits follow Retry-After when the server sends it (capped at settings.max_retry_wait), else
    exponential backoff with jitter. After the last try raises FetchError naming the URL.
    Every try first waits for its host's turn (settings.rate_limits, shared by all threads).
    `headers` are extra request headers (conditional requests); they are never stored.
    """
    last_problem = ""
    interval = host_interval(settings.rate_limits, httpx.URL(url).host)
    request_url = str(httpx.URL(url, params=params))
    # One deadline for the whole request, every try and wait included (settings.request_deadline).
    deadline = time.monotonic() + settings.request_deadline
    sleep = _interruptible(sleep)
    for attempt in range(1, settings.max_attempts + 1):
        wait = None
        interrupts.check()
        try:
            RATE_LIMITER.wait_turn(httpx.URL(url).host, interval, sleep=sleep)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            timeout = httpx.Timeout(min(settings.read_timeout, remaining), connect=min(settings.connect_timeout, remaining))
            with client.stream("GET", url, params=params, headers=headers, timeout=timeout) as response:
                request_url = str(response.url)
                if response.status_code not in RETRY_STATUSES:
                    body, spool, size = _read_capped(response, settings.max_response_bytes, deadline,
                                                     f"GET {request_url}", settings.raw_dir)
                    return Fetched(
                        url=request_url,
                        status=response.status_code,
                        headers={k: v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS},
                        body=body,
                        fetched_at=utc_now().isoformat(),
                        attempts=attempt,
                        spool=spool,
                        size=size,
                    )
                last_problem = f"HTTP {response.status_code}"
                wait = retry_after_seconds(response.headers.get("retry-after"))
        except DeadlineExceeded as error:
            raise DeadlineExceeded(f"{error} ({settings.request_deadline:g}s, try {attempt}): timed out") from None
        except (httpx.TimeoutException, httpx.TransportError) as error:
            last_problem = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if attempt == settings.max_attempts:
            break
        wait = min(settings.max_retry_wait, wait if wait is not None else backoff_seconds(attempt, settings.backoff_base, settings.max_retry_wait))
        if time.monotonic() + wait >= deadline:
            break
        if log:
            log(f"GET {request_url}: {last_problem}; retry {attempt + 1}/{settings.max_attempts} in {wait:.1f}s")
        sleep(wait)
    if time.monotonic() + 0.001 >= deadline or attempt < settings.max_attempts:
        raise DeadlineExceeded(
            f"GET {request_url} timed out: no answer within the request deadline ({settings.request_deadline:g}s, "
            f"{attempt} tries; last: {last_problem or 'no response'})"
        )
    raise FetchError(f"GET {request_url} failed after {settings.max_attempts} tries: {last_problem}")


def _interruptible(sleep):
    """time.sleep replaced by a wait that a stop request ends at once; test sleeps kept as given."""
    return interrupts.pause if sleep is time.sleep else sleep


def host_interval(rate_limits: Mapping[str, float] | str, host: str) -> float:
    """Seconds between requests to `host` from the rate_limits setting (subdomains included)."""
    best, best_length = 0.0, -1
    for name, value in parse_rate_limits(rate_limits).items():
        # The most specific matching entry wins (export.arxiv.org over arxiv.org).
        if (host == name or host.endswith("." + name)) and len(name) > best_length:
            best, best_length = value, len(name)
    return best


class HostRateLimiter:
    """Per-host request spacing shared by every thread (Prefect runs concurrent tasks in threads)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_turn(self, host: str, interval: float, *, sleep=time.sleep) -> float:
        """Reserve the host's next slot and sleep until it; returns the seconds waited."""
        if interval <= 0:
            return 0.0
        with self._lock:
            # Reserving under the lock and sleeping outside it lets N threads queue up fairly.
            now = self._clock()
            slot = max(now, self._next.get(host, now))
            self._next[host] = slot + interval
        wait = slot - now
        if wait > 0:
            sleep(wait)
        return wait


RATE_LIMITER = HostRateLimiter()


def conditional_headers(meta: dict | None) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from a landed response's sidecar (empty without one)."""
    if not meta or meta.get("status") != 200:
        return {}
    kept = {k.lower(): v for k, v in (meta.get("headers") or {}).items()}
    headers = {}
    if kept.get("etag"):
        headers["If-None-Match"] = kept["etag"]
    if kept.get("last-modified"):
        headers["If-Modified-Since"] = kept["last-modified"]
    return headers
