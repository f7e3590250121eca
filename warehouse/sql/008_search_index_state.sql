-- 008: whether the BM25 search index (DuckDB fts) is behind the papers table.
-- Loads mark it stale; the end of each writer run rebuilds it once (fts cannot update in place,
-- so rebuilding per load would cost a full index build for every day of a backfill).

create table search_index_state (
    singleton   boolean primary key default true check (singleton),
    stale       boolean not null,
    rebuilt_at  timestamptz
);

insert into search_index_state values (true, true, null);
