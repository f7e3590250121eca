-- 012: the rising table for the default windows, computed by the writer after each load's term
-- (In papertrends_internal with the other index tables: migration 011.)
-- index catch-up (warehouse/rising_store.py), so `rising` and the explorer's rising panel read a
-- few hundred rows instead of pairing the words of every paper in two windows at query time.
create table if not exists papertrends_internal.term_rising (
    grain           varchar not null,   -- period of the windows (month, week, ...)
    periods         integer not null,   -- periods in each window (rising --window)
    min_support     integer not null,   -- least papers in the recent window
    index_state     varchar not null,   -- the term index state the rows were computed on
    before_first    date not null,      -- first day of the earlier window
    recent_first    date not null,      -- first day of the recent window
    last_date       date not null,      -- last list date of the recent window
    papers_recent_total  bigint not null,   -- papers in the recent window
    papers_before_total  bigint not null,   -- papers in the earlier window
    rank            integer not null,   -- 1, 2, ... by z; 0: the row that says the answer exists (no term)
    term            varchar,
    kind            varchar,
    papers_before   bigint,
    share_before    double,
    papers_recent   bigint,
    share_recent    double,
    growth          double,
    z               double
);
