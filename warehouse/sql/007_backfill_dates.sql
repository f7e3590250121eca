-- 007: the backfill ledger: the last outcome per (source, list date), so a backfill resumes
-- where it stopped and failed dates can be retried alone.

create table backfill_dates (
    source       varchar not null,           -- hf_daily
    list_date    date not null,
    status       varchar not null,           -- done | failed
    closed       boolean not null,           -- fetched 2+ days after list_date: the list no longer changes
    pages        integer,                    -- raw pages landed for the date (done)
    items        integer,                    -- items on those pages (done)
    reason       varchar,                    -- why it failed (failed)
    run_id       bigint,                     -- the backfill run that wrote this outcome
    updated_at   timestamptz not null,
    primary key (source, list_date)
);
