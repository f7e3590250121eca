-- 006: the term index's work list.

-- Papers whose term-index entries are due. A load records the papers it touched here in its own
-- transaction; the index then catches up in bounded batches, each its own transaction
-- (warehouse/term_index.py catch_up), so a big load never tokenizes inside one huge transaction
-- and a crash between the two leaves the work recorded, not lost.
create table if not exists term_index_pending (
    paper_id  varchar primary key
);
