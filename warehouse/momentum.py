"""Upvote momentum: which papers gained most upvotes in a window, and one paper's upvote curve.

Reads `upvote_history` (one row per sighting of a paper's upvotes on a list or detail answer).
A paper's gain over a window is its upvotes at its last sighting in the window minus its upvotes
at the last sighting before the window (or, for a paper first seen inside the window, at its
first sighting there). A paper seen once has gained nothing we can know: it is not listed.
"""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import polars as pl

from .analytics import Query, query_rows

_WINDOW = re.compile(r"\s*(\d+)\s*([hdw])\s*", re.IGNORECASE)
_UNIT_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400}


def parse_window(text: str) -> dt.timedelta:
    """'7d', '2w', '36h' as a timedelta; anything else is a one-line ValueError."""
    match = _WINDOW.fullmatch(text or "")
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"window {text!r} is not a positive number of hours, days or weeks (e.g. 36h, 7d, 2w)")
    return dt.timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])


_MOMENTUM_SQL = """
with bounds as (
    select coalesce($until::timestamptz, max(seen_at)) as end_at,
           coalesce($until::timestamptz, max(seen_at)) - to_seconds($seconds::bigint) as start_at
    from upvote_history
),

-- Several lists can see a paper at the same moment (a daily and a weekly list); upvotes are
-- one number per paper on Hugging Face, so the largest reading at a moment stands for it.
-- The window's readings: a range on seen_at, so row groups outside it are skipped by their zone
-- maps (sightings are appended as they are fetched, in time order), not the whole history read.
window_sightings as (
    select h.paper_id, h.seen_at, max(h.upvotes) as upvotes
    from upvote_history as h, bounds as b
    where h.upvotes is not null and h.seen_at > b.start_at and h.seen_at <= b.end_at
    {term_filter}
    group by h.paper_id, h.seen_at
),

-- Only papers seen inside the window are ranked.
in_window as (
    select
        paper_id,
        arg_min(upvotes, seen_at) as upvotes_first,
        arg_max(upvotes, seen_at) as upvotes_end,
        count(*) as sightings,
        max(seen_at) as last_seen_at
    from window_sightings
    group by paper_id
),

-- Their last reading before the window (a moment lies wholly before or inside it, so grouping
-- the two parts apart gives the same readings as grouping them together).
before_window as (
    select paper_id, arg_max(upvotes, seen_at) as upvotes_before, count(*) as sightings_before
    from (
        select h.paper_id, h.seen_at, max(h.upvotes) as upvotes
        from upvote_history as h
        join bounds as b on h.seen_at <= b.start_at
        semi join in_window as w on w.paper_id = h.paper_id
        where h.upvotes is not null
        group by h.paper_id, h.seen_at
    )
    group by paper_id
),

per_paper as (
    select
        w.paper_id,
        p.upvotes_before,
        w.upvotes_first,
        w.upvotes_end,
        w.sightings,
        w.sightings + coalesce(p.sightings_before, 0) as sightings_ever,
        w.last_seen_at
    from in_window as w
    left join before_window as p using (paper_id)
),

ranked as (
    select
        m.paper_id,
        coalesce(m.upvotes_before, m.upvotes_first) as upvotes_start,
        m.upvotes_end,
        m.upvotes_end - coalesce(m.upvotes_before, m.upvotes_first) as gained,
        m.sightings,
        m.last_seen_at
    from per_paper as m
    where m.upvotes_end is not null and m.sightings_ever >= 2
    order by gained desc, upvotes_end desc, paper_id
    limit $limit
),

-- Titles for the ranked rows only.
final as (
    select r.paper_id, p.title, r.upvotes_start, r.upvotes_end, r.gained, r.sightings, r.last_seen_at,
           paper_link(r.paper_id) as link
    from ranked as r
    left join papers as p using (paper_id)
)

select * from final
order by gained desc, upvotes_end desc, paper_id
"""

_TERM_FILTER = """
    and h.paper_id in (
        select paper_id from trend_papers($query, null::date, null::date, null::varchar, null::varchar, null::integer)
    )
"""


def momentum(
    con: duckdb.DuckDBPyConnection,
    window: dt.timedelta = dt.timedelta(days=7),
    query: Query | None = None,
    until: dt.datetime | None = None,
    limit: int = 20,
) -> pl.DataFrame:
    """Papers ranked by upvotes gained in the `window` ending at `until` (default: the last sighting).

    Columns: paper_id, title, upvotes_start, upvotes_end, gained, sightings (in the window),
    last_seen_at, link. With `query`, only papers whose title or abstract matches it.
    """
    parameters = {"seconds": int(window.total_seconds()), "until": until, "limit": limit}
    term_filter = ""
    if query is not None:
        parameters["query"] = query_rows([query])
        term_filter = _TERM_FILTER
    return con.execute(_MOMENTUM_SQL.format(term_filter=term_filter), parameters).pl()


def upvote_curve(con: duckdb.DuckDBPyConnection, paper_id: str) -> pl.DataFrame:
    """Every sighting of one paper's upvotes, oldest first: seen_at, source, upvotes, num_comments."""
    return con.execute(
        "select seen_at, source, upvotes, num_comments from upvote_history where paper_id = $id "
        "order by seen_at, source",
        {"id": paper_id},
    ).pl()
