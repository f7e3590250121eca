"""The explorer: a local web app over the Python API (`papertrends explore`).

Starlette (installed with Prefect; no Prefect import here) serves one page and a small JSON API.
The page (static/index.html, app.js, app.css: vanilla JS drawing SVG) is served from this
package, so nothing is fetched from the internet. Every answer comes from the same functions as
the CLI (papertrends.PaperTrends), on one read-only connection held while the user clicks and
closed after two idle seconds, so an ingest is never blocked for long. Each JSON answer carries its server time (`ms`, and a
Server-Timing header) for the benchmark.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import threading
import time
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from .. import PaperTrends
from ..transforms.intervals import SMALL_SAMPLE
from ..transforms.trend_stats import verdict as trend_verdict

STATIC = Path(str(resources.files(__package__).joinpath("static")))
PAGES = {"app.js": "text/javascript", "chart.js": "text/javascript", "app.css": "text/css"}
MAX_TERMS = 8
IDLE_CLOSE_SECONDS = 2.0


class BadRequest(ValueError):
    """A parameter the user can fix; answered 400 with its one-line message."""


def _json(value) -> str:
    def default(item):
        if isinstance(item, (dt.date, dt.datetime)):
            return item.isoformat()
        return str(item)

    return json.dumps(value, default=default, ensure_ascii=False, allow_nan=False)


def _finite(value):
    """JSON has no NaN or infinity (a share of an empty period, a growth from zero): they go as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _answer(payload: dict, started: float, status: int = 200) -> Response:
    payload = _finite(payload)
    elapsed = (time.perf_counter() - started) * 1000
    payload = {**payload, "ms": round(elapsed, 2)}
    return Response(_json(payload), status_code=status, media_type="application/json",
                    headers={"Server-Timing": f"app;dur={elapsed:.2f}", "Cache-Control": "no-store"})


def _text(params, name: str) -> str | None:
    value = (params.get(name) or "").strip()
    return value or None


def _int(params, name: str, default: int | None = None, low: int = 0, high: int = 1_000_000) -> int | None:
    text = _text(params, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {text!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def _filters(params) -> dict:
    """The filters every view shares: source, category, min_upvotes."""
    source = _text(params, "source")
    if source not in (None, "hf", "arxiv"):
        raise BadRequest(f"source must be hf or arxiv, not {source!r}")
    return {"source": source, "category": _text(params, "category"), "min_upvotes": _int(params, "min_upvotes")}


def _range(params) -> dict:
    out = {}
    for name in ("since", "until"):
        text = _text(params, name)
        if text is not None:
            try:
                out[name] = dt.date.fromisoformat(text)
            except ValueError:
                raise BadRequest(f"{name} must be a date (YYYY-MM-DD), not {text!r}") from None
        else:
            out[name] = None
    return out


def split_terms(text: str | None) -> list[str]:
    """'scaling, tractab*' -> ['scaling', 'tractab*'] (the URL's terms=, comma-separated)."""
    terms = [t.strip() for t in (text or "").split(",") if t.strip()]
    if len(terms) > MAX_TERMS:
        raise BadRequest(f"at most {MAX_TERMS} terms at once")
    return terms


def trend_payload(frame, by: str, verdicts: bool = True) -> dict:
    """What the chart draws, from a trend frame with share_low/share_high: per term its points and
    verdict (unless verdicts=False), and the papers per period (the same for every term)."""
    series, found_verdicts = [], []
    for term in frame["term"].unique(maintain_order=True):
        rows = frame.filter(frame["term"] == term)
        series.append({"term": term, "points": rows.select(
            "period", "period_start", "matches", "total", "share", "share_low", "share_high").to_dicts()})
        if not verdicts:
            continue
        found = trend_verdict(frame, term)
        found_verdicts.append({"term": term, "verdict": found.verdict, "sentence": found.sentence(), "since": found.since,
                         "change": found.change, "odds_ratio_per_year": found.odds_ratio_per_year})
    first = frame["term"][0] if frame.height else None
    totals = frame.filter(frame["term"] == first).select("period", "period_start", "total").to_dicts() if first else []
    return {"by": by, "series": series, "totals": totals, "verdicts": found_verdicts, "small_sample": SMALL_SAMPLE}


def chart_html(frame, by: str, title: str, subtitle: str = "") -> str:
    """A self-contained HTML page drawing one trend (about 20 KB: the explorer's own chart code
    and the data inline, nothing fetched), for `trend --chart FILE.html`."""
    import html

    from ..transforms.intervals import with_share_interval

    if "share_low" not in frame.columns:
        frame = with_share_interval(frame)
    data = _json(trend_payload(frame, by)).replace("</", "<\\/")
    css = (STATIC / "app.css").read_text("utf-8")
    script = (STATIC / "chart.js").read_text("utf-8")
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>\n{css}</style>\n</head>\n"
        f"<body>\n<main style=\"display:block\"><section id=\"trend-panel\">\n<h2>{html.escape(title)}</h2>\n"
        f"<p class=\"note\">{html.escape(subtitle)}</p>\n<div id=\"legend\"></div>\n<div id=\"chart\"></div>\n"
        "<p class=\"note\" id=\"chart-note\"></p>\n</section></main>\n"
        f"<script>\n{script}\nconst DATA = {data};\ndrawTrend(DATA, {_json(subtitle)});\n</script>\n</body>\n</html>\n"
    )


def create_app(home: str | os.PathLike | None = None) -> Starlette:
    """The explorer app over one data root (read-only)."""
    # One read-only connection held between clicks, closed after 2 idle seconds so an ingest never
    # waits long for the file (DuckDB lets a process write only while no other has the file open).
    pt = PaperTrends(home, read_only=True, idle_close=IDLE_CLOSE_SECONDS)
    rising_cache: dict[tuple, dict] = {}
    verdict_cache: dict[tuple, dict] = {}
    trend_frames: dict[tuple, object] = {}  # the last trend frames drawn, per question and warehouse state

    def _state() -> tuple:
        # The warehouse's state: the file's and its write-ahead log's change times (a small load
        # stays in the log without touching the file, loads.SMALL_LOAD_ROWS).
        path = pt.settings.warehouse_path
        wal = path.with_name(path.name + ".wal")
        return (path.stat().st_mtime_ns, wal.stat().st_mtime_ns if wal.exists() else None)

    def _trend_key(terms, by, window, filters) -> tuple:
        return (tuple(terms), by, tuple(sorted(window.items())), tuple(sorted(filters.items())), _state())
    cache_lock = threading.Lock()

    def handler(compute):
        def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            try:
                return _answer(compute(request.query_params), started)
            except (BadRequest, ValueError) as error:
                return _answer({"error": str(error).splitlines()[0]}, started, status=400)
            except Exception as error:  # a warehouse that is busy or missing: still one line
                return _answer({"error": f"{type(error).__name__}: {str(error).splitlines()[0]}"}, started, status=500)

        return endpoint

    def trend(params) -> dict:
        terms = split_terms(params.get("terms"))
        by = _text(params, "by") or "month"
        if not terms:
            return {"terms": [], "by": by, "series": [], "totals": [], "verdicts": []}
        # The verdict (a regression and a change-point search per term) has its own request, so
        # the chart is drawn first and annotated when the verdict arrives.
        window, filters = _range(params), _filters(params)
        frame = pt.trend(terms, by=by, **window, **filters, interval=True)
        # The page asks for the verdict of these terms next: it fits this frame instead of
        # running the trend query again (same warehouse state, same rows).
        with cache_lock:
            if len(trend_frames) > 16:
                trend_frames.clear()
            trend_frames[_trend_key(terms, by, window, filters)] = frame
        return {"terms": terms, **trend_payload(frame, by, verdicts=False)}

    def verdict(params) -> dict:
        terms = split_terms(params.get("terms"))
        by = _text(params, "by") or "month"
        window, filters = _range(params), _filters(params)
        key = ("verdict", tuple(terms), by, tuple(sorted(window.items())), tuple(sorted(filters.items())), _state())
        with cache_lock:
            if key in verdict_cache:
                return {**verdict_cache[key], "cached": True}
        if not terms:
            return {"verdicts": []}
        with cache_lock:
            frame = trend_frames.get(_trend_key(terms, by, window, filters))
        if frame is None:
            frame = pt.trend(terms, by=by, **window, **filters)
        answer = {"verdicts": trend_payload(frame.with_columns(share_low=None, share_high=None), by)["verdicts"]}
        with cache_lock:
            if len(verdict_cache) > 64:
                verdict_cache.clear()
            verdict_cache[key] = answer
        return answer

    def papers(params) -> dict:
        term = _text(params, "term")
        if not term:
            raise BadRequest("say which term: term=...")
        period = _text(params, "period")
        window = {} if period else _range(params)
        frame = pt.papers(term, period=period, limit=_int(params, "limit", 100, 1, 10_000), **window, **_filters(params))
        return {"term": term, "period": period, "papers": frame.to_dicts()}

    def rising(params) -> dict:
        by = _text(params, "by") or "month"
        window = _int(params, "window", 3, 1, 60)
        filters = _filters(params)
        # Cached per warehouse state (the default windows are read from the writer's stored table;
        # other questions count the terms of two windows).
        key = (by, window, tuple(sorted(filters.items())), _state())
        with cache_lock:
            if key in rising_cache:
                return {**rising_cache[key], "cached": True}
        frame = pt.rising(by=by, window=window, limit=_int(params, "limit", 15, 1, 200), **filters)
        answer = {"by": by, "window": window, "rising": frame.to_dicts()}
        with cache_lock:
            rising_cache.clear()
            rising_cache[key] = answer
        return answer

    def search(params) -> dict:
        text = _text(params, "q")
        if not text:
            return {"q": "", "hits": []}
        frame = pt.search(text, limit=_int(params, "limit", 20, 1, 500), **_range(params), **_filters(params))
        return {"q": text, "hits": frame.to_dicts()}

    def momentum(params) -> dict:
        frame = pt.momentum(window=_text(params, "window") or "7d", term=_text(params, "term"),
                            limit=_int(params, "limit", 15, 1, 500))
        return {"momentum": frame.to_dicts()}

    def curve(params) -> dict:
        paper_id = _text(params, "paper_id")
        if not paper_id:
            raise BadRequest("say which paper: paper_id=...")
        return {"paper_id": paper_id, "curve": pt.upvote_curve(paper_id).to_dicts()}

    def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-store"})

    def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in PAGES:
            return Response("not found", status_code=404)
        return FileResponse(STATIC / name, media_type=PAGES[name])

    routes = [
        Route("/", page),
        Route("/static/{name}", asset),
        Route("/api/trend", handler(trend)),
        Route("/api/verdict", handler(verdict)),
        Route("/api/papers", handler(papers)),
        Route("/api/rising", handler(rising)),
        Route("/api/search", handler(search)),
        Route("/api/momentum", handler(momentum)),
        Route("/api/curve", handler(curve)),
    ]
    app = Starlette(routes=routes)
    app.state.papertrends = pt
    return app


def serve(home: str | os.PathLike | None = None, host: str = "127.0.0.1", port: int = 8765, log: bool = False) -> None:
    """Run the explorer until interrupted (uvicorn, one process)."""
    import uvicorn

    pt = PaperTrends(home)
    if not pt.settings.warehouse_path.exists():
        raise ValueError(f"no warehouse at {pt.settings.warehouse_path}: run `papertrends ingest ...` first")
    print(f"papertrends explorer on http://{host}:{port}/ (read-only on {pt.settings.warehouse_path}); Ctrl-C stops it")
    uvicorn.run(create_app(home), host=host, port=port, log_level="info" if log else "warning")
