-- 003: Hugging Face sources: ranked lists (week, month, trending), paper details, upvote
-- history, title resolutions. Written against 001 only: every change is additive.

-- Week and month lists use the first day of their period as list_date; list_period keeps the
-- label the API was asked for (2025-W10, 2025-03, trending@2025-03-03). rank is the 1-based
-- place on a trending list (null elsewhere).
alter table listings add column if not exists list_period varchar;
alter table listings add column if not exists rank integer;

-- Fields that only paper details (GET /api/papers/{id}) or newer list items carry.
alter table papers add column if not exists github_stars integer;
alter table papers add column if not exists organization varchar;     -- organization name (slug)
alter table papers add column if not exists ai_summary varchar;
alter table papers add column if not exists withdrawn_at timestamptz;

-- Every sighting of a paper's upvotes: one row per (paper, moment, source) from API list pages
-- and detail answers, so momentum ("gained most upvotes this week") can be queried.
create table if not exists upvote_history (
    paper_id      varchar not null,
    seen_at       timestamptz not null,      -- fetched_at of the response
    source        varchar not null,          -- hf_daily | hf_weekly | hf_monthly | hf_trending | hf_paper
    upvotes       integer,
    num_comments  integer,
    raw_sha256    varchar not null,          -- body in the raw archive
    primary key (paper_id, seen_at, source)
);

-- The last detail fetch per paper: a 404 is recorded here so `enrich --missing` does not ask again.
create table if not exists paper_details (
    paper_id      varchar primary key,
    status        integer not null,          -- HTTP status of the last answer (200, 404, ...)
    fetched_at    timestamptz not null,
    raw_sha256    varchar,
    reason        varchar                    -- why an answer was not loaded, if it was not
);

-- Papers known only by title (saved text pages) and what the papers search API said about them.
create table if not exists title_resolutions (
    synthetic_id  varchar primary key,       -- title:<hex>, see transforms/ids.py
    title         varchar not null,
    paper_id      varchar,                   -- the arXiv id found; null while unresolved
    status        varchar not null,          -- resolved | not_found | ambiguous
    resolved_at   timestamptz not null,
    raw_sha256    varchar
);

-- A paper is counted in the period of its first listing on a list of new papers. Week, month and
-- trending lists re-rank papers already listed (a month list is dated the 1st of the month), so
-- they never make a paper "first listed".
create or replace view first_listings as
select paper_id, min(list_date) as first_list_date
from listings
where source not in ('hf_weekly', 'hf_monthly', 'hf_trending')
group by paper_id;
