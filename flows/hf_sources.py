"""Hugging Face sources beyond one day's API list: week, month and trending lists, HTML pages,
paper details and title resolution — all over the one HTTP client, with the raw archive as cache.

Cache rules (one place):
- A request's landings sit in one raw folder under one stem (p0000-l50, page, detail, search);
  the newest 200 landing without a classified problem is "the archived answer".
- A settled list (its period ended more than settings.settled_days ago) with an archived answer
  costs no network. `refresh=True`, or an unsettled list (today, this week, trending), asks again
  with If-None-Match / If-Modified-Since from the archived sidecar; a 304 reuses the archived body
  and lands nothing new.
- Paper details and title searches are answered from the archive unless `refresh`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows import http
from flows.lake import KIND_HF_DAILY_API, KIND_HF_HTML
from flows.raw_archive import SIDECAR_SUFFIX, RawRecord, land
from flows.settings import Settings, load_settings
from transforms.hf_responses import is_past_weekday, list_body_problem, page_item_count

MAX_PAGES = 200  # a list longer than 200 pages is a server bug, not a busy period
KIND_HF_PAPER_API = "hf_paper_api"    # a response of /api/papers/{id}
KIND_HF_SEARCH_API = "hf_search_api"  # a response of /api/papers/search?q=
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class ListRequest:
    """One list to fetch: what to ask, where its landings go, how its rows are labelled."""

    kind: str                    # date | week | month | trending
    label: str                   # 2025-03-03 | 2025-W10 | 2025-03 | trending@<day>
    source: str                  # listings.source
    list_date: str               # first day of the period (YYYY-MM-DD), or the label if unparseable
    params: dict
    html_path: str               # the papers page showing the same list
    last_day: dt.date | None     # the period's last day (None: never settled)
    list_period: str | None = None
    ranked: bool = False
    single_page: bool = False

    @property
    def folder(self) -> str:
        return f"{self.source}/{self.label}"

    def settled(self, today: dt.date, settled_days: int) -> bool:
        """The list can no longer change much: its period ended `settled_days` ago."""
        return self.last_day is not None and (today - self.last_day).days >= settled_days


def list_request(kind: str, label: str, today: dt.date | None = None) -> ListRequest:
    """The request for a date (YYYY-MM-DD), week (YYYY-Www), month (YYYY-MM) or trending list.

    Raises ValueError for a label of the wrong shape (a date is passed through unchecked so the
    API's own 400 answer is archived and quarantined, as the daily flow always did).
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    if kind == "date":
        try:
            day = dt.date.fromisoformat(label)
        except ValueError:
            day = None
        return ListRequest("date", label, "hf_daily", label, {"date": label}, f"/papers/date/{label}", day)
    if kind == "week":
        match = _WEEK.fullmatch(label)
        try:
            monday = dt.date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1) if match else None
        except ValueError:
            monday = None
        if monday is None:
            raise ValueError(f"week {label!r} is not an ISO week like 2025-W10")
        return ListRequest(
            "week", label, "hf_weekly", monday.isoformat(), {"week": label}, f"/papers/week/{label}",
            monday + dt.timedelta(days=6), list_period=label,
        )
    if kind == "month":
        match = _MONTH.fullmatch(label)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ValueError(f"month {label!r} is not a month like 2025-03")
        first = dt.date(int(match.group(1)), int(match.group(2)), 1)
        last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        return ListRequest(
            "month", label, "hf_monthly", first.isoformat(), {"month": label}, f"/papers/month/{label}",
            last, list_period=label,
        )
    if kind == "trending":
        day = today.isoformat()
        return ListRequest(
            "trending", day, "hf_trending", day, {"sort": "trending"}, "/papers/trending", None,
            list_period=f"trending@{day}", ranked=True, single_page=True,
        )
    raise ValueError(f"unknown list kind {kind!r}")


def latest_good_landing(raw_dir: Path, folder: str, stem: str) -> RawRecord | None:
    """The newest archived 200 answer of a request without a classified problem, if any."""
    best = None
    for sidecar in (raw_dir / folder).glob(f"{stem}-*{SIDECAR_SUFFIX}"):
        meta = json.loads(sidecar.read_text("utf-8"))
        if meta.get("status") != 200 or meta.get("problem"):
            continue
        record = RawRecord(sidecar.with_name(sidecar.name.removesuffix(SIDECAR_SUFFIX)), meta)
        if best is None or record.fetched_at > best.fetched_at:
            best = record
    return best


@dataclass
class FetchOutcome:
    """What fetching one request did: landings to normalize, and what people should hear."""

    landed: list[str] = field(default_factory=list)
    requests: int = 0
    not_modified: int = 0
    from_archive: int = 0
    problems: list[str] = field(default_factory=list)


def fetch_cached(
    settings: Settings,
    client,
    *,
    url: str,
    params: dict | None,
    folder: str,
    stem: str,
    suffix: str,
    meta: dict,
    use_archive: bool,
    classify=None,
    log=None,
) -> tuple[RawRecord, str]:
    """One request through the archive: ('archive'|'not-modified'|'fetched', record).

    `classify(fetched) -> problem | None` names what is wrong with a 200 answer; the problem is
    stored in the sidecar, so the body is kept but never parsed as data.
    """
    previous = latest_good_landing(settings.raw_dir, folder, stem)
    if previous is not None and use_archive:
        return previous, "archive"
    fetched = http.get(client, url, params, settings, log=log, headers=http.conditional_headers(previous and previous.meta))
    if fetched.status == 304 and previous is not None:
        return previous, "not-modified"
    problem = classify(fetched) if classify and fetched.status == 200 else None
    full_meta = {
        **meta,
        "url": fetched.url,
        "status": fetched.status,
        "headers": fetched.headers,
        "fetched_at": fetched.fetched_at,
        "attempts": fetched.attempts,
    }
    if problem:
        full_meta["problem"] = problem
    return land(settings.raw_dir, folder, stem, suffix, fetched.body, full_meta), "fetched"


def fetch_list(settings: Settings, request: ListRequest, *, refresh: bool = False, html: bool = False,
               today: dt.date | None = None, log=None) -> FetchOutcome:
    """Every page of one list, through the archive; a page that is not a full list ends paging.

    A page of exactly `limit` items always asks for the next page (a 50-item day is never assumed
    complete). With `html`, the papers page is fetched instead of the API (one page).
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    use_archive = not refresh and request.settled(today, settings.settled_days)
    suspicious_empty = request.kind == "date" and request.last_day is not None and is_past_weekday(request.last_day, today)
    outcome = FetchOutcome()
    limit = settings.page_limit
    base = settings.hf_base_url.rstrip("/")
    with http.make_client(settings) as client:
        for page in range(1 if html else MAX_PAGES):
            meta = {
                "kind": KIND_HF_HTML if html else KIND_HF_DAILY_API,
                "source": request.source,
                "list_date": request.list_date,
                "list_period": request.list_period,
                "ranked": request.ranked,
                "page": page,
                "limit": 0 if html else limit,
            }

            def classify(fetched, first=page == 0):
                return list_body_problem(fetched.body, first_page=first, empty_is_suspicious=suspicious_empty)

            record, how = fetch_cached(
                settings, client,
                url=base + (request.html_path if html else "/api/daily_papers"),
                params=None if html else {**request.params, "p": page, "limit": limit},
                folder=request.folder + ("/html" if html else ""),
                stem="page" if html else f"p{page:04d}-l{limit}",
                suffix=".html" if html else ".json",
                meta=meta, use_archive=use_archive, classify=None if html else classify, log=log,
            )
            outcome.landed.append(str(record.path))
            outcome.requests += how != "archive"
            outcome.not_modified += how == "not-modified"
            outcome.from_archive += how == "archive"
            if record.meta.get("problem"):
                outcome.problems.append(f"{request.label} page {page}: {record.meta['problem']} ({record.meta.get('url')})")
            items = page_item_count(record.read()) if record.meta.get("status") == 200 and not record.meta.get("problem") else None
            if html or request.single_page or items is None or items < limit:
                break
    return outcome


@task(name="fetch-hf-list", cache_policy=NO_CACHE)
def fetch_hf_list(settings: Settings, request: ListRequest, refresh: bool = False, html: bool = False) -> FetchOutcome:
    """Fetch (or take from the archive) every page of one list; returns its landings."""
    from flows.ingest import _logger

    log = _logger()
    outcome = fetch_list(settings, request, refresh=refresh, html=html, log=log.warning)
    log.info(
        f"{request.source} {request.label}: {len(outcome.landed)} page(s), {outcome.requests} request(s), "
        f"{outcome.not_modified} not modified, {outcome.from_archive} from the archive"
    )
    for problem in outcome.problems:
        log.warning(problem)
    return outcome


@flow(name="ingest-hf-lists", log_prints=False)
def ingest_hf_lists(
    dates: list[str] | None = None,
    weeks: list[str] | None = None,
    months: list[str] | None = None,
    trending: bool = False,
    refresh: bool = False,
    html: bool = False,
    base_url: str | None = None,
    home: str | None = None,
):
    """Fetch Hugging Face lists — dates, ISO weeks, months, today's trending — land, normalize, load.

    Lists are fetched concurrently (the per-host rate limit spaces the requests). Settled lists
    already archived cost no request unless `refresh`; others are revalidated with conditional
    requests. With `html`, the papers pages are read instead of the API. A list whose fetch fails
    after retries is reported and skipped; answers classified as problems (HTML for JSON,
    truncated JSON, an error object, an empty past weekday) are quarantined, never loaded.
    Returns the run report (flows.ingest.RunReport).
    """
    from flows.ingest import _normalize_and_load, recorded_run

    settings = load_settings(home, hf_base_url=base_url)
    requests = (
        [list_request("date", d) for d in dates or []]
        + [list_request("week", w) for w in weeks or []]
        + [list_request("month", m) for m in months or []]
        + ([list_request("trending", "")] if trending else [])
    )
    arguments = {"lists": [r.label if r.kind != "trending" else "trending" for r in requests],
                 "refresh": refresh, "html": html, "base_url": settings.hf_base_url}
    with recorded_run(settings, "ingest-hf-lists", arguments) as report:
        landed: list[str] = []
        futures = [(r, fetch_hf_list.submit(settings, r, refresh, html)) for r in requests]
        requests_made = from_archive = not_modified = 0
        for request, future in futures:
            try:
                outcome = future.result()
            except http.FetchError as error:
                report.failures.append(f"{request.source} {request.label}: {error}")
                continue
            landed += [p for p in outcome.landed if p not in landed]
            report.warnings += outcome.problems
            requests_made += outcome.requests
            from_archive += outcome.from_archive
            not_modified += outcome.not_modified
        if from_archive or not_modified:
            hint = " (use --refresh to ask again)" if from_archive else ""
            report.warnings.append(
                f"{requests_made} request(s); {from_archive} page(s) from the archive, {not_modified} not modified{hint}"
            )
        # The list-date range check applies when only date lists were asked for.
        checked_dates = list(dates) if dates and not (weeks or months or trending) else None
        _normalize_and_load(settings, report, landed, checked_dates)
    return report


# --- paper details -----------------------------------------------------------------------------


def paper_detail_url(base_url: str, paper_id: str) -> str:
    return f"{base_url.rstrip('/')}/api/papers/{urllib.parse.quote(paper_id, safe='')}"


@task(name="fetch-paper-details", cache_policy=NO_CACHE)
def fetch_paper_details(settings: Settings, paper_ids: list[str], refresh: bool = False) -> dict:
    """Fetch (or take from the archive) /api/papers/{id} for each id; returns landings and failures.

    A 404 is an answer: it is archived and recorded, and not asked again by `enrich --missing`.
    """
    from flows.ingest import _logger

    log = _logger()
    landed, failures, requests = [], [], 0
    with http.make_client(settings) as client:
        for pid in paper_ids:
            folder = f"hf_papers/{pid.replace('/', '_')}"
            try:
                record, how = fetch_cached(
                    settings, client, url=paper_detail_url(settings.hf_base_url, pid), params=None,
                    folder=folder, stem="detail", suffix=".json",
                    meta={"kind": KIND_HF_PAPER_API, "paper_id": pid}, use_archive=not refresh,
                    log=log.warning,
                )
            except http.FetchError as error:
                failures.append(f"{pid}: {error}")
                continue
            requests += how != "archive"
            landed.append(str(record.path))
    log.info(f"details: {len(landed)} answer(s) for {len(paper_ids)} paper(s), {requests} request(s)")
    return {"landed": landed, "failures": failures, "requests": requests}


def details_normalized(landed: list[str]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, list[str]]:
    """Papers rows, upvote sightings, the per-paper answer ledger and problems of detail landings."""
    from transforms.hf_details import UPVOTE_HISTORY_SCHEMA, paper_detail_normalized
    from transforms.papers import PAPER_COLUMNS

    papers, sightings, answers, problems = [], [], [], []
    for body_path in landed:
        body = Path(body_path)
        record = RawRecord(body, json.loads(body.with_name(body.name + SIDECAR_SUFFIX).read_text("utf-8")))
        pid, status = record.meta["paper_id"], record.meta["status"]
        reason = None
        if status == 200:
            paper, seen, reason = paper_detail_normalized(
                record.read(), requested_id=pid, fetched_at=record.fetched_at,
                origin=record.meta["url"], raw_sha256=record.sha256,
            )
            if reason is None:
                papers.append(paper)
                sightings.append(seen)
        else:
            reason = f"HTTP {status}: " + record.read()[:200].decode("utf-8", errors="replace")
        if reason:
            problems.append(f"{pid}: {reason}")
        answers.append({"paper_id": pid, "status": status, "fetched_at": record.fetched_at,
                        "raw_sha256": record.sha256, "reason": reason})
    answer_schema = {"paper_id": pl.String(), "status": pl.Int32(), "fetched_at": pl.Datetime("us", "UTC"),
                     "raw_sha256": pl.String(), "reason": pl.String()}
    papers_frame = pl.concat(papers) if papers else pl.DataFrame()
    sightings_frame = pl.concat(sightings) if sightings else pl.DataFrame(schema=UPVOTE_HISTORY_SCHEMA)
    if papers_frame.height:
        papers_frame = papers_frame.select(PAPER_COLUMNS)
    return papers_frame, sightings_frame, pl.DataFrame(answers, schema=answer_schema), problems


# --- title resolution ---------------------------------------------------------------------------


def search_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/api/papers/search"


@task(name="resolve-titles", cache_policy=NO_CACHE)
def resolve_titles(settings: Settings, titles: list[tuple[str, str]], refresh: bool = False) -> dict:
    """Search each synthetic-id paper's title; fold resolved ones into their arXiv ids in the warehouse."""
    from flows.ingest import _logger
    from transforms.hf_details import search_hits, title_resolved
    from warehouse import store

    log = _logger()
    outcomes = {"resolved": 0, "not_found": 0, "ambiguous": 0, "failed": 0}
    failures = []
    with http.make_client(settings) as client:
        for synthetic_id, title in titles:
            try:
                record, _ = fetch_cached(
                    settings, client, url=search_url(settings.hf_base_url), params={"q": title},
                    folder=f"hf_search/{synthetic_id.replace(':', '_')}", stem="search", suffix=".json",
                    meta={"kind": KIND_HF_SEARCH_API, "synthetic_id": synthetic_id, "title": title},
                    use_archive=not refresh, log=log.warning,
                    classify=lambda fetched: None if search_hits(fetched.body) is not None else "not a JSON list of papers",
                )
            except http.FetchError as error:
                failures.append(f"{synthetic_id}: {error}")
                outcomes["failed"] += 1
                continue
            hits = search_hits(record.read()) if record.meta.get("status") == 200 else None
            if hits is None:
                failures.append(f"{synthetic_id}: search answered HTTP {record.meta.get('status')} {record.meta.get('problem') or ''}".rstrip())
                outcomes["failed"] += 1
                continue
            resolved_id, status = title_resolved(title, hits)
            con = store.open_writer(settings.warehouse_path)
            try:
                store.resolve_title(con, synthetic_id, title, resolved_id, status, record.sha256)
            finally:
                con.close()
            outcomes[status] += 1
    return {**outcomes, "failures": failures}


@flow(name="enrich-hf", log_prints=False)
def enrich_hf(
    paper_ids: list[str] | None = None,
    missing: bool = False,
    resolve: bool = False,
    refresh: bool = False,
    limit: int | None = None,
    base_url: str | None = None,
    home: str | None = None,
) -> dict:
    """Fill what lists lack from Hugging Face: paper details and arXiv ids of title-only papers.

    `paper_ids` (and with `missing`, every paper never asked about, at most `limit`) are fetched
    from /api/papers/{id}: authors, GitHub repo and stars, AI keywords and summary, organization,
    withdrawal. Answers are archived and reused unless `refresh`; a 404 is recorded and not asked
    again. With `resolve`, papers known only by title (title:<hex>) are searched by title; an exact
    title match moves the paper and its listings to the arXiv id. Returns counts and failures.
    """
    from flows.ingest import _logger
    from transforms.ids import paper_id as arxiv_id
    from warehouse import store

    started = time.monotonic()
    settings = load_settings(home, hf_base_url=base_url)
    con = store.open_writer(settings.warehouse_path)
    try:
        run_id = store.start_run(con, "enrich-hf", {"ids": paper_ids, "missing": missing, "resolve": resolve,
                                                    "refresh": refresh, "base_url": settings.hf_base_url})
        wanted = []
        for raw in paper_ids or []:
            pid = arxiv_id(raw)
            if pid is None:
                raise ValueError(f"{raw!r} is not an arXiv id")
            wanted.append(pid)
        if missing:
            wanted += [p for p in store.papers_missing_details(con, limit) if p not in wanted]
        titles = store.unresolved_titles(con) if resolve else []
    finally:
        con.close()
    result = {"run_id": run_id, "asked": len(wanted), "loaded": 0, "not_loaded": 0, "requests": 0,
              "papers_new": 0, "papers_changed": 0, "upvote_sightings_new": 0, "titles": len(titles),
              "failures": [], "problems": []}
    status = "completed"
    try:
        if wanted:
            fetched = fetch_paper_details(settings, wanted, refresh)
            result["failures"] += fetched["failures"]
            result["requests"] = fetched["requests"]
            papers, sightings, answers, problems = details_normalized(fetched["landed"])
            result["problems"] += problems
            result["loaded"], result["not_loaded"] = papers.height, len(problems)
            con = store.open_writer(settings.warehouse_path)
            try:
                counts = store.load_paper_details(con, papers, sightings, answers)
            finally:
                con.close()
            result.update(papers_new=counts.papers_new, papers_changed=counts.papers_changed,
                          upvote_sightings_new=counts.upvote_sightings_new)
        if titles:
            resolved = resolve_titles(settings, titles, refresh)
            result["failures"] += resolved.pop("failures")
            result.update({f"titles_{k}": v for k, v in resolved.items()})
        if result["failures"]:
            status = "partial" if result["loaded"] or result.get("titles_resolved") else "failed"
    except Exception as error:
        status = "failed"
        result["failures"].append(f"run stopped: {error}")
        raise
    finally:
        con = store.open_writer(settings.warehouse_path)
        try:
            store.finish_run(con, run_id, status, "; ".join(result["failures"] + result["problems"])[:4000],
                             inputs=result["asked"] + result["titles"], items_in=result["asked"],
                             items_loaded=result["loaded"], items_quarantined=result["not_loaded"],
                             papers_new=result["papers_new"], papers_changed=result["papers_changed"])
        finally:
            con.close()
        result["status"], result["seconds"] = status, time.monotonic() - started
        _logger().info(f"enrich: {result}")
    return result
