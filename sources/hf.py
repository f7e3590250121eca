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
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from ..core.settings import Settings, is_settled
from ..transforms.hf_responses import is_past_weekday, list_body_problem, page_item_count
from . import http
from .kinds import KIND_HF_DAILY_API, KIND_HF_HTML
from .raw_archive import SIDECAR_SUFFIX, RawRecord, land

MAX_PAGES = 200  # a list longer than 200 pages is a server bug, not a busy period


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

    @property
    def folder(self) -> str:
        return f"{self.source}/{self.label}"

    def settled(self, today: dt.date, settled_days: int) -> bool:
        """The list can no longer change much: its period ended `settled_days` ago."""
        return self.last_day is not None and is_settled(self.last_day, today, settled_days)


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
            list_period=f"trending@{day}", ranked=True,
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
    problem = fetched.oversize_problem or (classify(fetched) if classify and fetched.status == 200 else None)
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
    return land(settings.raw_dir, folder, stem, suffix, fetched.body, full_meta, spool=fetched.spool), "fetched"


def fetch_list(settings: Settings, request: ListRequest, *, refresh: bool = False, html: bool = False,
               today: dt.date | None = None, log=None) -> FetchOutcome:
    """Every page of one list, through the archive; a page that is not a full list ends paging.

    A page of exactly `limit` items always asks for the next page (a 50-item day is never assumed
    complete). With `html`, the papers page is fetched instead of the API (one page).
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    use_archive = not refresh and request.settled(today, settings.settled_days)
    suspicious_empty = request.kind == "date" and request.last_day is not None and is_past_weekday(request.last_day, today, settings.settled_days)
    outcome = FetchOutcome()
    limit = settings.page_limit
    base = settings.hf_base_url.rstrip("/")
    previous_sha = None
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
            if record.sha256 == previous_sha:
                # The same full page again: a server that ignores `p` would otherwise be asked 200 times.
                outcome.problems.append(f"{request.label} page {page} repeats page {page - 1}: the server ignores "
                                        "paging; stopped there")
                break
            previous_sha = record.sha256
            outcome.landed.append(str(record.path))
            outcome.requests += how != "archive"
            outcome.not_modified += how == "not-modified"
            outcome.from_archive += how == "archive"
            if record.meta.get("problem"):
                outcome.problems.append(f"{request.label} page {page}: {record.meta['problem']} ({record.meta.get('url')})")
            items = page_item_count(record.read()) if record.meta.get("status") == 200 and not record.meta.get("problem") else None
            if html or items is None or items < limit:
                break
    return outcome


def paper_detail_url(base_url: str, paper_id: str) -> str:
    return f"{base_url.rstrip('/')}/api/papers/{urllib.parse.quote(paper_id, safe='')}"


def search_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/api/papers/search"
