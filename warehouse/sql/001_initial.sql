-- 001: papers, listings, quarantine and the run ledger.

create table papers (
    paper_id      varchar primary key,       -- arXiv id without version, or title:<hex> until resolved
    title         varchar not null,
    abstract      varchar,
    authors       varchar[],
    published_at  timestamptz,
    github_repo   varchar,
    project_page  varchar,
    ai_keywords   varchar[],
    search_text   varchar not null,          -- words of title | abstract, see transforms/terms.py
    observed_at   timestamptz not null       -- fetched_at of the observation these fields come from
);

create table listings (
    source        varchar not null,          -- hf_daily (API or saved JSON) | hf_page (saved text page)
    list_date     date not null,
    paper_id      varchar not null,
    position      integer,                   -- place on the list, pages counted in
    upvotes       integer,                   -- as seen on that list, at fetched_at
    num_comments  integer,
    fetched_at    timestamptz not null,
    origin        varchar not null,          -- URL or file the row came from
    raw_sha256    varchar not null,          -- body in the raw archive
    primary key (source, list_date, paper_id)
);

create table quarantine (
    item_key      varchar primary key,       -- origin | raw_sha256 | position: one row per bad item
    origin        varchar not null,
    raw_sha256    varchar not null,
    position      integer,                   -- null when the whole input was unreadable
    reason        varchar not null,
    raw_text      varchar,
    first_run_id  bigint
);

create sequence run_id_sequence;

create table runs (
    run_id             bigint primary key default nextval('run_id_sequence'),
    flow               varchar not null,
    arguments          varchar,              -- JSON
    started_at         timestamptz not null,
    finished_at        timestamptz,
    status             varchar not null,     -- running | completed | failed
    inputs             bigint,               -- raw responses or files read
    items_in           bigint,
    items_loaded       bigint,
    items_quarantined  bigint,
    listings_new       bigint,
    listings_changed   bigint,
    papers_new         bigint,
    papers_changed     bigint,
    message            varchar
);

-- Where each paper first appeared: the population of every trend period.
create view first_listings as
select paper_id, min(list_date) as first_list_date
from listings
group by paper_id;
