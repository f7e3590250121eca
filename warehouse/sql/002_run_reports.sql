-- 002: what each run checked and did, stage by stage (the run report behind `papertrends status`).

-- One row per declared data check (warehouse/sql/checks.sql) per run: passed or not, and how many
-- rows offended. A failed check rolls its load back, but its row here is kept.
create table run_checks (
    run_id        bigint not null,
    check_name    varchar not null,
    passed        boolean not null,
    offending     bigint not null,           -- rows the check found wrong (0 when passed)
    example       varchar,                   -- the first offending row, as JSON, for the message
    checked_at    timestamptz not null,
    primary key (run_id, check_name)
);

-- One row per stage of a run (land, normalize, load, checks): items handled and seconds taken.
create table run_stages (
    run_id        bigint not null,
    stage_order   integer not null,
    stage         varchar not null,
    items         bigint,
    seconds       double,
    detail        varchar,
    primary key (run_id, stage_order)
);

-- Warnings a run raised (failures stay in runs.message), one row each, in order.
create table run_warnings (
    run_id        bigint not null,
    position      integer not null,
    warning       varchar not null,
    primary key (run_id, position)
);
