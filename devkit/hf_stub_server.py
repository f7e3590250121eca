"""A local HTTP server that speaks the Hugging Face Daily Papers API, for the demo and tests.

    python -m papertrends.devkit.hf_stub_server --since 2025-01-01 --until 2025-03-31 --seed 7 --port 8765

serves ``GET /api/daily_papers?date=YYYY-MM-DD&p=N&limit=M`` from generated listings until
Ctrl-C. In tests, use ``DailyPapersServer`` directly; ``script()`` injects failures (429, 5xx,
slow answers) ahead of the normal answer for one (date, page).

Also served, like the real site:
- ``/api/daily_papers?week=YYYY-Www`` / ``month=YYYY-MM`` (the period's papers, most upvoted
  first) and ``sort=trending`` (every paper, most upvoted first); scripts key them by the
  week, month or ``"trending"``;
- ``/api/papers/{id}`` (the bare paper object, 404 when unknown) and
  ``/api/papers/search?q=`` (papers whose title has every word of q);
- HTML pages ``/papers/date/D``, ``/papers/week/W``, ``/papers/month/M``, ``/papers/trending``
  with the items HTML-escaped in ``data-props`` of the ``data-target="DailyPapers"`` element;
- ``ETag`` / ``Last-Modified`` on every 200 and ``304 Not Modified`` for a matching
  ``If-None-Match`` or ``If-Modified-Since``;
- faults: ``ScriptedResponse(close_after=N)`` closes the connection after N body bytes,
  ``truncated_json()`` and ``html_instead_of_json()`` build the classic bad answers;
  ``script_path(path, ...)`` scripts any other path.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import email.utils
import hashlib
import html
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .sample_listings import generate_daily_lists

__all__ = ["DailyPapersServer", "ScriptedResponse", "html_instead_of_json", "papers_page_html", "truncated_json", "main"]

API_PATH = "/api/daily_papers"
MAX_LIMIT = 100
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WEEK_RE = re.compile(r"(\d{4})-W(\d{2})")
_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")
PAPER_PATH = re.compile(r"/api/papers/(?!search$)(.+)")
PAGE_PATH = re.compile(r"/papers/(?:(date|week|month)/([^/]+)|(trending))/?")
# Every answer claims this modification time, so If-Modified-Since revalidation is exercised.
LAST_MODIFIED = "Mon, 03 Mar 2025 12:00:00 GMT"


@dataclass
class ScriptedResponse:
    """One canned answer; ``delay`` seconds pass before it is sent."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    close_after: int | None = None  # send only this many body bytes, then close the connection
    trickle: float | None = None    # send the body one byte every `trickle` seconds (a server that never stalls long enough to time out)


class DailyPapersServer:
    """Serve ``lists`` (``{"YYYY-MM-DD": [item, ...]}``) over HTTP on 127.0.0.1.

    Attributes:
        requests: Every request seen, in arrival order, as ``{"path", "query", "headers", "at"}``;
            header names are lower-cased and ``at`` is ``time.monotonic()`` on arrival.
    """

    def __init__(self, lists: dict[str, list[dict]], *, default_limit: int = 50, port: int = 0):
        """Prepare a server; nothing listens until ``start()`` (port 0 = any free port)."""
        self.lists = lists
        self.default_limit = default_limit
        self.port = port
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._scripts: dict[tuple[str, int], collections.deque[ScriptedResponse]] = {}
        self._path_scripts: dict[str, collections.deque[ScriptedResponse]] = {}
        self.missing_papers: set[str] = set()  # ids /api/papers/{id} answers 404 for
        self.conditional = True  # ETag / Last-Modified and 304 answers
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the running server."""
        if self._httpd is None:
            raise RuntimeError("server is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def script(self, date: str, page: int, responses: list[ScriptedResponse]) -> None:
        """Queue ``responses`` for (date, page): each is used by one request, in order.

        Args:
            date: The ``date`` query value the scripted responses apply to.
            page: The ``p`` query value (0 when the request omits it).
            responses: Served one per matching request before the normal answer resumes.
        """
        with self._lock:
            self._scripts.setdefault((date, page), collections.deque()).extend(responses)

    def script_path(self, path: str, responses: list[ScriptedResponse]) -> None:
        """Queue ``responses`` for any other path (``/api/papers/2501.00001``, ``/papers/trending``)."""
        with self._lock:
            self._path_scripts.setdefault(path, collections.deque()).extend(responses)

    def start(self) -> DailyPapersServer:
        """Bind to 127.0.0.1 and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            raise RuntimeError("server is already started")
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", self.port), _Handler, app=self)
        # A short poll interval keeps stop() fast; the default 0.5 s would dominate test time.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,),
                                        name="hf-stub-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open keep-alive connections and release the port."""
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a scripted delay
        self._httpd.shutdown()
        self._httpd.close_open_connections()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> DailyPapersServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- request handling (runs on handler threads) ---

    def _record(self, path: str, query: dict[str, str], headers: dict[str, str]) -> None:
        """Append to the request log."""
        entry = {"path": path, "query": query, "headers": headers, "at": time.monotonic()}
        with self._lock:
            self.requests.append(entry)

    def _answer(self, path: str, query: dict[str, str]) -> ScriptedResponse:
        """Decide the response for one GET: validation, then scripts, then the listing page."""
        with self._lock:
            queue = self._path_scripts.get(path)
            scripted = queue.popleft() if queue else None
        if scripted is not None:
            return scripted
        if path != API_PATH:
            return self._other_answer(path, query)
        try:
            key, items = self._list_for(query)
            page = _parse_int(query, "p", default=0, minimum=0)
            limit = min(MAX_LIMIT, _parse_int(query, "limit", default=self.default_limit, minimum=1))
        except ValueError as exc:
            return _json_response(400, {"error": str(exc)})
        scripted = self._next_scripted(key, page)
        if scripted is not None:
            return scripted
        return _json_response(200, items[page * limit:(page + 1) * limit])

    def _list_for(self, query: dict[str, str]) -> tuple[str, list[dict]]:
        """The script key and items a list query asks for (date, week, month or trending)."""
        if "week" in query:
            match = _WEEK_RE.fullmatch(query["week"])
            try:
                monday = dt.date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1) if match else None
            except ValueError:
                monday = None
            if monday is None:
                raise ValueError(f"invalid week {query['week']!r}, expected YYYY-Www")
            days = {(monday + dt.timedelta(days=n)).isoformat() for n in range(7)}
            return query["week"], self._ranked(d for d in days)
        if "month" in query:
            match = _MONTH_RE.fullmatch(query["month"])
            if not match or not 1 <= int(match.group(2)) <= 12:
                raise ValueError(f"invalid month {query['month']!r}, expected YYYY-MM")
            return query["month"], self._ranked(d for d in self.lists if d.startswith(query["month"] + "-"))
        if query.get("sort") == "trending" and "date" not in query:
            return "trending", self._ranked(self.lists)
        return _parse_date(query.get("date")), self.lists.get(query.get("date"), [])

    def _ranked(self, dates) -> list[dict]:
        """Items of the given dates, each paper once, most upvoted first (ties by id)."""
        unique = {}
        for date in sorted(dates):
            for item in self.lists.get(date, []):
                unique.setdefault(item["paper"]["id"], item)
        return sorted(unique.values(), key=lambda i: (-(i["paper"].get("upvotes") or 0), i["paper"]["id"]))

    def papers(self) -> dict[str, dict]:
        """Every paper served by the lists, by id (the last listing's paper object wins)."""
        return {item["paper"]["id"]: item["paper"] for date in sorted(self.lists) for item in self.lists[date]}

    def _other_answer(self, path: str, query: dict[str, str]) -> ScriptedResponse:
        """Paper details, papers search and HTML pages."""
        if path == "/api/papers/search":
            words = set(re.findall(r"\w+", query.get("q", "").casefold()))
            if not words:
                return _json_response(400, {"error": "missing required query parameter 'q'"})
            hits = [{"paper": p, "title": p["title"]} for p in self.papers().values()
                    if words <= set(re.findall(r"\w+", p["title"].casefold()))]
            return _json_response(200, hits[:20])
        match = PAPER_PATH.fullmatch(path)
        if match:
            paper = None if match.group(1) in self.missing_papers else self.papers().get(match.group(1))
            if paper is None:
                return _json_response(404, {"error": "Paper not found"})
            return _json_response(200, paper)
        match = PAGE_PATH.fullmatch(path)
        if match:
            kind, label = (match.group(1), match.group(2)) if match.group(1) else ("trending", None)
            query = {"sort": "trending"} if kind == "trending" else {kind: label}
            try:
                key, items = self._list_for(query)
            except ValueError as exc:
                return _json_response(400, {"error": str(exc)})
            page = papers_page_html(items, key)
            return ScriptedResponse(200, page, {"Content-Type": "text/html; charset=utf-8"})
        return _json_response(404, {"error": f"no route for {path}"})

    def _next_scripted(self, date: str, page: int) -> ScriptedResponse | None:
        """Pop the next scripted response for (date, page), if any."""
        with self._lock:
            queue = self._scripts.get((date, page))
            return queue.popleft() if queue else None

    def _wait(self, seconds: float) -> None:
        """Sleep for a scripted delay, returning early if the server is stopping."""
        if seconds > 0:
            self._stopping.wait(seconds)


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its app and can cut idle keep-alive connections."""

    daemon_threads = True

    def __init__(self, address, handler, *, app: DailyPapersServer):
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        """Track the connection so stop() can close it."""
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        """Forget a finished connection."""
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Shut down connections still held by handler threads (e.g. idle keep-alive)."""
        # Without this a pooled client connection would keep being served after stop().
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        """Stay quiet: clients dropping connections (timeouts, stop()) are expected in tests."""


class _Handler(BaseHTTPRequestHandler):
    """Routes GETs to the owning DailyPapersServer."""

    # HTTP/1.1 keep-alive like the real API, so client connection pooling is exercised.
    protocol_version = "HTTP/1.1"
    server_version = "hf-daily-papers-stub/1.0"
    timeout = 30  # idle keep-alive connections end eventually

    def do_GET(self) -> None:
        """Answer one request (recorded before any scripted delay)."""
        app: DailyPapersServer = self.server.app
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in
                 parse_qs(url.query, keep_blank_values=True).items()}
        request_headers = {k.lower(): v for k, v in self.headers.items()}
        app._record(url.path, query, request_headers)
        response = app._answer(url.path, query)
        if app.conditional and response.status == 200 and response.close_after is None:
            response = _conditional(response, request_headers)
        app._wait(response.delay)
        self._send(response)

    def _send(self, response: ScriptedResponse) -> None:
        """Write status, headers and body; Content-Length unless the script sets one."""
        self.send_response(response.status)
        headers = {k.lower(): (k, v) for k, v in response.headers.items()}
        if "content-length" not in headers:
            self.send_header("Content-Length", str(len(response.body)))
        if "content-type" not in headers and response.body:
            self.send_header("Content-Type", JSON_CONTENT_TYPE)
        for name, value in headers.values():
            self.send_header(name, value)
        self.end_headers()
        if response.close_after is not None:
            # Promise the whole body, send part of it, hang up: "connection closed mid-body".
            self.wfile.write(response.body[:response.close_after])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if response.trickle is not None:
            for index in range(len(response.body)):
                self.wfile.write(response.body[index:index + 1])
                self.wfile.flush()
                if self.server.app._stopping.wait(response.trickle):
                    return
            return
        self.wfile.write(response.body)

    def log_message(self, format, *args) -> None:
        """Silence the per-request stderr log."""


def _json_response(status: int, payload: object) -> ScriptedResponse:
    """A JSON answer encoded as UTF-8 without ASCII escaping, like the real API."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return ScriptedResponse(status=status, body=body, headers={"Content-Type": JSON_CONTENT_TYPE})


def _conditional(response: ScriptedResponse, request_headers: dict[str, str]) -> ScriptedResponse:
    """Add ETag / Last-Modified to a 200; answer 304 when the client's copy is current."""
    etag = '"' + hashlib.sha256(response.body).hexdigest()[:20] + '"'
    headers = {**response.headers, "ETag": etag, "Last-Modified": LAST_MODIFIED}
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        fresh = etag in [tag.strip() for tag in if_none_match.split(",")] or if_none_match.strip() == "*"
    else:
        since = request_headers.get("if-modified-since")
        try:
            fresh = since is not None and email.utils.parsedate_to_datetime(since) >= email.utils.parsedate_to_datetime(LAST_MODIFIED)
        except (TypeError, ValueError):
            fresh = False
    if fresh:
        return ScriptedResponse(304, b"", {"ETag": etag, "Last-Modified": LAST_MODIFIED}, response.delay)
    return ScriptedResponse(response.status, response.body, headers, response.delay, trickle=response.trickle)


def truncated_json(payload: object, keep: float = 0.6) -> ScriptedResponse:
    """A 200 whose JSON body is cut short (Content-Length matches what is sent)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return ScriptedResponse(200, body[: max(1, int(len(body) * keep))], {"Content-Type": JSON_CONTENT_TYPE})


def html_instead_of_json() -> ScriptedResponse:
    """A 200 HTML page where JSON was expected (what a captive portal or a changed API sends)."""
    page = b"<!doctype html><html><head><title>Hugging Face</title></head><body><h1>Sign in</h1></body></html>"
    return ScriptedResponse(200, page, {"Content-Type": "text/html; charset=utf-8"})


def papers_page_html(items: list[dict], label: str) -> bytes:
    """A papers page like huggingface.co/papers/...: items HTML-escaped in data-props."""
    props = html.escape(json.dumps({"dailyPapers": items, "date": label}, ensure_ascii=False), quote=True)
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Daily Papers - Hugging Face</title></head>"
        "<body><main><section class=\"container\">"
        f"<div class=\"SVELTE_HYDRATER contents\" data-target=\"DailyPapers\" data-props=\"{props}\">"
        f"<h1>Daily Papers</h1><p>{len(items)} papers</p></div></section></main></body></html>"
    ).encode("utf-8")


def _parse_date(value: str | None) -> str:
    """Validate a ``YYYY-MM-DD`` date query value."""
    if value is None:
        raise ValueError("missing required query parameter 'date'")
    try:
        if not _DATE_RE.fullmatch(value):
            raise ValueError
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"invalid date {value!r}, expected YYYY-MM-DD") from None
    return value


def _parse_int(query: dict[str, str], name: str, *, default: int, minimum: int) -> int:
    """Read an integer query parameter with a lower bound."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"invalid {name} {raw!r}, expected an integer") from None
    if value < minimum:
        raise ValueError(f"invalid {name} {value}, must be >= {minimum}")
    return value


def main(argv: list[str] | None = None) -> None:
    """Serve generated listings until interrupted.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``): ``--since``, ``--until``,
            ``--seed``, ``--port``, ``--default-limit``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--since", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--until", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--default-limit", type=int, default=50)
    args = parser.parse_args(argv)
    lists = generate_daily_lists(args.since, args.until, seed=args.seed)
    with DailyPapersServer(lists, default_limit=args.default_limit, port=args.port) as server:
        # The URL alone on stdout so scripts can read it; the human summary goes to stderr.
        print(server.base_url, flush=True)
        papers = sum(len(items) for items in lists.values())
        print(f"serving {papers} listings over {len(lists)} days; Ctrl-C to stop",
              file=sys.stderr, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
