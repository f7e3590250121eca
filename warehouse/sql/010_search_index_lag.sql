-- 009: how far the BM25 search index is behind the papers table (search_index_state is 008's).

-- How far the BM25 search index is behind the papers table. Loads no longer rebuild it (a whole-
-- corpus rebuild per ingest cost ~11 s at 100k papers); they count what changed, and `status` and
-- `search` report it until a rebuild (`papertrends search --refresh-index`, or a schedule) catches up.
alter table search_index_state add column if not exists papers_behind bigint default 0;  -- papers changed since the last build
alter table search_index_state add column if not exists behind_since timestamptz;        -- first change after the last build
