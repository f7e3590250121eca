-- 004: arXiv fields on papers, which source saw which paper when, arXiv deletions, OAI-PMH harvest state.

alter table papers add column if not exists categories varchar[];            -- primary category first
alter table papers add column if not exists versions struct(version varchar, created timestamptz)[];
alter table papers add column if not exists updated_at timestamptz;          -- arXiv: latest version / metadata update
alter table papers add column if not exists doi varchar;
alter table papers add column if not exists journal_ref varchar;
alter table papers add column if not exists comments varchar;                -- arXiv author comments (not HF discussion)
alter table papers add column if not exists license varchar;
alter table papers add column if not exists arxiv_observed_at timestamptz;   -- fetched_at of the arXiv observation behind the arXiv fields
alter table papers add column if not exists hf_observed_at timestamptz;      -- fetched_at of the newest non-arXiv observation

-- One row per (paper, source): when that source first and last showed us the paper.
create table if not exists paper_sources (
    paper_id       varchar not null,
    source         varchar not null,         -- listing source: hf_daily | hf_page | arxiv
    first_seen_at  timestamptz not null,
    last_seen_at   timestamptz not null,
    primary key (paper_id, source)
);

-- OAI-PMH records with header status="deleted": marked, not loaded as papers (they carry no metadata).
create table if not exists arxiv_deleted (
    paper_id       varchar primary key,
    datestamp      date,                     -- OAI datestamp of the deletion
    first_seen_at  timestamptz not null,
    origin         varchar not null,
    raw_sha256     varchar not null
);

-- OAI-PMH harvests: the last resumption token, so a harvest stopped between pages resumes there.
create table if not exists oai_harvests (
    harvest_key        varchar primary key,  -- hash of endpoint, metadataPrefix, set, from, until
    endpoint           varchar not null,
    metadata_prefix    varchar not null,
    set_spec           varchar,
    from_date          date,
    until_date         date,
    resumption_token   varchar,              -- token for the next page; null before the first page and when done
    pages              integer not null default 0,
    records            bigint not null default 0,
    complete_list_size bigint,
    status             varchar not null,     -- running | completed
    started_at         timestamptz not null,
    updated_at         timestamptz not null
);
