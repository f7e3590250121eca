"""One HTTP client for every source: timeouts, retries with backoff, Retry-After, honest UA."""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata

import httpx

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


@dataclass(frozen=True)
class Fetched:
    """One final response: what was asked, what came back, and when."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    attempts: int


def user_agent() -> str:
    """An honest User-Agent naming papertrends and its version."""
    try:
        version = metadata.version("papertrends")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"papertrends/{version} (research trend tracker; python-httpx)"


def make_client(settings: Settings, *, accept: str = "application/json", send_hf_token: bool = True) -> httpx.Client:
    """An httpx client with the configured timeouts, UA and (if set and wanted) the HF bearer token."""
    headers = {"User-Agent": user_agent(), "Accept": accept}
    if send_hf_token and settings.hf_token:
        headers["Authorization"] = f"Bearer {settings.hf_token}"
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    return httpx.Client(headers=headers, timeout=timeout, follow_redirects=True)


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
    for attempt in range(1, settings.max_attempts + 1):
        wait = None
        try:
            RATE_LIMITER.wait_turn(httpx.URL(url).host, interval, sleep=sleep)
            response = client.get(url, params=params, headers=headers)
        except (httpx.TimeoutException, httpx.TransportError) as error:
            last_problem = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            request_url = str(httpx.URL(url, params=params))
        else:
            request_url = str(response.url)
            if response.status_code not in RETRY_STATUSES:
                return Fetched(
                    url=request_url,
                    status=response.status_code,
                    headers={k: v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS},
                    body=response.content,
                    fetched_at=utc_now().isoformat(),
                    attempts=attempt,
                )
            last_problem = f"HTTP {response.status_code}"
            wait = retry_after_seconds(response.headers.get("retry-after"))
        if attempt == settings.max_attempts:
            break
        wait = min(settings.max_retry_wait, wait if wait is not None else backoff_seconds(attempt, settings.backoff_base, settings.max_retry_wait))
        if log:
            log(f"GET {request_url}: {last_problem}; retry {attempt + 1}/{settings.max_attempts} in {wait:.1f}s")
        sleep(wait)
    raise FetchError(f"GET {request_url} failed after {settings.max_attempts} tries: {last_problem}")


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
