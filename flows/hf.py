"""Prefect flows over the Hugging Face sources: week, month and trending lists, HTML pages, paper
details and title resolution (the pagers and the cache rules are in sources/hf.py).
"""

from __future__ import annotations

import time

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from ..core.settings import Settings, load_settings
from ..pipeline.details import details_normalized
from ..sources import http
from ..sources.hf import (
    FetchOutcome,
    ListRequest,
    fetch_cached,
    fetch_list,
    list_request,
    paper_detail_url,
    search_url,
)
from ..sources.kinds import KIND_HF_PAPER_API, KIND_HF_SEARCH_API
from .ingest import normalized_and_loaded
from .runs import recorded_run, run_logger


@task(name="fetch-hf-list", cache_policy=NO_CACHE)
def fetch_hf_list(settings: Settings, request: ListRequest, refresh: bool = False, html: bool = False) -> FetchOutcome:
    """Fetch (or take from the archive) every page of one list; returns its landings."""
    log = run_logger()
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
            report.notes.append(  # a cache hit is information, not a warning (issue 15.8)
                f"{requests_made} request(s); {from_archive} page(s) from the archive, {not_modified} not modified{hint}"
            )
        # The list-date range check applies when only date lists were asked for.
        checked_dates = list(dates) if dates and not (weeks or months or trending) else None
        normalized_and_loaded(settings, report, landed, checked_dates)
    return report


@task(name="fetch-paper-details", cache_policy=NO_CACHE)
def fetch_paper_details(settings: Settings, paper_ids: list[str], refresh: bool = False) -> dict:
    """Fetch (or take from the archive) /api/papers/{id} for each id; returns landings and failures.

    A 404 is an answer: it is archived and recorded, and not asked again by `enrich --missing`.
    """
    log = run_logger()
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


@task(name="resolve-titles", cache_policy=NO_CACHE)
def resolve_titles(settings: Settings, titles: list[tuple[str, str]], refresh: bool = False) -> dict:
    """Search each synthetic-id paper's title; fold resolved ones into their arXiv ids in the warehouse."""
    from ..transforms.hf_details import search_hits, title_resolved
    from ..warehouse import connection, enrichment

    log = run_logger()
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
            con = connection.open_writer(settings.warehouse_path)
            try:
                enrichment.resolve_title(con, synthetic_id, title, resolved_id, status, record.sha256)
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
    from ..transforms.ids import paper_id as arxiv_id
    from ..warehouse import connection, enrichment, ledger

    started = time.monotonic()
    settings = load_settings(home, hf_base_url=base_url)
    con = connection.open_writer(settings.warehouse_path)
    try:
        run_id = ledger.start_run(con, "enrich-hf", {"ids": paper_ids, "missing": missing, "resolve": resolve,
                                                    "refresh": refresh, "base_url": settings.hf_base_url})
        wanted = []
        for raw in paper_ids or []:
            pid = arxiv_id(raw)
            if pid is None:
                raise ValueError(f"{raw!r} is not an arXiv id")
            wanted.append(pid)
        if missing:
            wanted += [p for p in enrichment.papers_missing_details(con, limit) if p not in wanted]
        titles = enrichment.unresolved_titles(con) if resolve else []
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
            con = connection.open_writer(settings.warehouse_path)
            try:
                counts = enrichment.load_paper_details(con, papers, sightings, answers)
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
        con = connection.open_writer(settings.warehouse_path)
        try:
            ledger.finish_run(con, run_id, status, "; ".join(result["failures"] + result["problems"])[:4000],
                             inputs=result["asked"] + result["titles"], items_in=result["asked"],
                             items_loaded=result["loaded"], items_quarantined=result["not_loaded"],
                             papers_new=result["papers_new"], papers_changed=result["papers_changed"])
        finally:
            con.close()
        result["status"], result["seconds"] = status, time.monotonic() - started
        run_logger().info(f"enrich: {result}")
    return result
