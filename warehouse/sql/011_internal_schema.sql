-- 011: the internal tables move out of the user's way, into their own schema papertrends_internal.
--
-- The term index, the term-index work list, the search index state, the arXiv harvest and backfill
-- resume state and this migrations ledger are bookkeeping, not data a user queries: in their own
-- schema a `duckdb` user's `show tables` lists only papers, listings, the run ledger and the other
-- data tables (transforms/tables.py declares which tables are internal). papertrends' connections
-- put the schema on their search path (warehouse/tables.py use_internal_schema), so its Python
-- code names the tables unqualified; SQL stored in the database names them with the schema.
--
-- DuckDB 1.5.5 cannot move a table to another schema (no ALTER TABLE ... SET SCHEMA): each table
-- is created anew with its keys, filled from the old one and the old one dropped, in this
-- migration's one transaction. On DuckLake the keys are dropped by backends.ducklake_ddl as for
-- every migration.

create schema if not exists papertrends_internal;

create table papertrends_internal.oai_harvests (
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
insert into papertrends_internal.oai_harvests by name select * from main.oai_harvests;
drop table main.oai_harvests;

create table papertrends_internal.backfill_dates (
    source       varchar not null,
    list_date    date not null,
    status       varchar not null,
    closed       boolean not null,
    pages        integer,
    items        integer,
    reason       varchar,
    run_id       bigint,
    updated_at   timestamptz not null,
    primary key (source, list_date)
);
insert into papertrends_internal.backfill_dates by name select * from main.backfill_dates;
drop table main.backfill_dates;

create table papertrends_internal.term_words (
    word_id  integer primary key,
    word     varchar not null unique
);
insert into papertrends_internal.term_words by name select * from main.term_words;
drop table main.term_words;

create table papertrends_internal.term_papers (
    paper_key         integer not null,
    paper_id          varchar not null,
    first_list_date   date not null,
    first_hf_date     date,
    first_arxiv_date  date,
    max_hf_upvotes    integer
);
insert into papertrends_internal.term_papers by name select * from main.term_papers;
drop table main.term_papers;

create table papertrends_internal.term_postings (
    word_id    integer not null,
    paper_key  integer not null,
    positions  integer[] not null
);
insert into papertrends_internal.term_postings by name select * from main.term_postings;
drop table main.term_postings;

create table papertrends_internal.term_counts (
    word_id          integer not null,
    first_list_date  date not null,
    papers           integer not null
);
insert into papertrends_internal.term_counts by name select * from main.term_counts;
drop table main.term_counts;

create table papertrends_internal.term_index_pending (
    paper_id  varchar primary key
);
insert into papertrends_internal.term_index_pending by name select * from main.term_index_pending;
drop table main.term_index_pending;

create table papertrends_internal.search_index_state (
    singleton      boolean primary key default true check (singleton),
    stale          boolean not null,
    rebuilt_at     timestamptz,
    papers_behind  bigint default 0,
    behind_since   timestamptz
);
insert into papertrends_internal.search_index_state by name select * from main.search_index_state;
drop table main.search_index_state;

-- The ledger this migration is recorded in: the migration runner (warehouse/migrations.py) finds
-- it in either schema.
create table papertrends_internal.schema_migrations (
    version     integer primary key,
    name        varchar,
    applied_at  timestamptz
);
insert into papertrends_internal.schema_migrations by name select * from main.schema_migrations;
drop table main.schema_migrations;

-- The trend macros of 005, the same but for the schema of the index tables: a macro resolves its
-- table names in the caller's search path, and a plain `duckdb` session's path is main alone.

-- Papers matching each query alternative, from the index alone: postings of every word
-- intersected; for a phrase, word k must stand at position start + k - 1 for one start.
-- This is exactly "the search text contains the needle" (see transforms/terms.py).
create or replace macro term_matches(query) as table
with query_alts as (
    select unnest(query, recursive := true)
),

query_words as (
    select
        term_order,
        alt,
        unnest(words) as word,
        unnest(range(1, len(words) + 1)) as pos,
        prefix,
        len(words) as n_words
    from query_alts
),

word_ids as (
    select q.term_order, q.alt, q.pos, q.n_words, w.word_id
    from query_words as q
    join papertrends_internal.term_words as w on w.word = q.word
    where not (q.prefix and q.pos = q.n_words)
    union all
    select q.term_order, q.alt, q.pos, q.n_words, w.word_id
    from query_words as q
    join papertrends_internal.term_words as w on starts_with(w.word, q.word)
    where q.prefix and q.pos = q.n_words
),

hits as (
    select w.term_order, w.alt, w.pos, w.n_words, p.paper_key, p.positions
    from word_ids as w
    join papertrends_internal.term_postings as p using (word_id)
),

candidates as (
    select term_order, alt, paper_key, any_value(n_words) as n_words
    from hits
    group by term_order, alt, paper_key
    having count(distinct pos) = any_value(n_words)
),

phrase_starts as (
    select h.term_order, h.alt, h.paper_key, h.pos, h.n_words, unnest(h.positions) - (h.pos - 1) as start
    from hits as h
    semi join candidates as c using (term_order, alt, paper_key)
    where h.n_words > 1
),

verified as (
    select term_order, paper_key
    from candidates
    where n_words = 1
    union
    select term_order, paper_key
    from phrase_starts
    group by term_order, alt, paper_key, start
    having count(distinct pos) = any_value(n_words)
),

final as (
    select distinct term_order, paper_key from verified
)

select * from final;

-- The population of a trend: papers with the date they count on, after the filters.
-- source: null (all), 'hf' or 'arxiv' (first listing within that family); category: arXiv
-- category the paper must carry; min_upvotes: max upvotes over its hf listings.
create or replace macro trend_population(since, until, source, category, min_upvotes) as table
with dated as (
    select
        tp.paper_key,
        tp.paper_id,
        case source
            when 'hf' then tp.first_hf_date
            when 'arxiv' then tp.first_arxiv_date
            else tp.first_list_date
        end as list_date,
        tp.max_hf_upvotes
    from papertrends_internal.term_papers as tp
),

final as (
    select paper_key, paper_id, list_date
    from dated
    where list_date is not null
      and list_date >= coalesce(since::date, date '0001-01-01')
      and list_date <= coalesce(until::date, date '9999-12-31')
      and (min_upvotes is null or coalesce(max_hf_upvotes, -1) >= min_upvotes)
      and (category is null or paper_id in (
          select paper_id from papers where list_contains(categories, category::varchar)
      ))
)

select * from final;

-- One row per (period, term): matches, total (the population of the period), share. Every
-- period between the first and last date (or since/until) is present, zero when nothing matched.
-- Without filters a term that is one plain word is read from papertrends_internal.term_counts, not postings.
create or replace macro trend_query(query, grain, since, until, source, category, min_upvotes) as table
with query_alts as (
    select unnest(query, recursive := true)
),

query_terms as (
    select
        term_order,
        any_value(term) as term,
        count(*) = 1 and bool_and(len(words) = 1 and not prefix) as single_word,
        any_value(words[1]) as word
    from query_alts
    group by term_order
),

fast_terms as (
    select q.term_order, w.word_id
    from query_terms as q
    join papertrends_internal.term_words as w using (word)
    where q.single_word and (source is null and category is null and min_upvotes is null)
),

fast_counts as (
    select f.term_order, c.first_list_date as list_date, sum(c.papers)::bigint as matches
    from fast_terms as f
    join papertrends_internal.term_counts as c using (word_id)
    where c.first_list_date >= coalesce(since::date, date '0001-01-01')
      and c.first_list_date <= coalesce(until::date, date '9999-12-31')
    group by all
),

slow_query as (
    select a.*
    from query_alts as a
    join query_terms as q using (term_order)
    where not (q.single_word and (source is null and category is null and min_upvotes is null))
),

population as (
    select * from trend_population(since, until, source, category, min_upvotes)
),

slow_counts as (
    select m.term_order, p.list_date, count(*) as matches
    from term_matches((select coalesce(list(s), []) from slow_query as s)) as m
    join population as p using (paper_key)
    group by all
),

day_totals as (
    select first_list_date as list_date, sum(papers)::bigint as total
    from papertrends_internal.term_counts
    where word_id = 0 and (source is null and category is null and min_upvotes is null)
      and first_list_date >= coalesce(since::date, date '0001-01-01')
      and first_list_date <= coalesce(until::date, date '9999-12-31')
    group by all
    having sum(papers) <> 0
    union all
    select list_date, count(*) as total
    from population
    where not (source is null and category is null and min_upvotes is null)
    group by all
),

period_totals as (
    select period_start(list_date, grain) as period_start, sum(total)::bigint as total
    from day_totals
    group by all
),

calendar as (
    select unnest(generate_series(
        period_start(coalesce(since::date, (select min(list_date) from day_totals)), grain)::timestamp,
        period_start(coalesce(until::date, (select max(list_date) from day_totals)), grain)::timestamp,
        period_step(grain)
    ))::date as period_start
),

period_matches as (
    select term_order, period_start(list_date, grain) as period_start, sum(matches)::bigint as matches
    from (select * from fast_counts union all select * from slow_counts)
    group by all
),

final as (
    select
        period_label(c.period_start, grain) as period,
        q.term,
        coalesce(m.matches, 0) as matches,
        coalesce(t.total, 0) as total,
        coalesce(m.matches, 0) / nullif(coalesce(t.total, 0), 0) as share,
        c.period_start,
        q.term_order
    from calendar as c
    cross join query_terms as q
    left join period_totals as t using (period_start)
    left join period_matches as m on m.term_order = q.term_order and m.period_start = c.period_start
)

select * from final
order by period_start, term_order;

-- The papers behind a point: those matching the query in the filtered population.
create or replace macro trend_papers(query, since, until, source, category, min_upvotes) as table
with matched as (
    select * from term_matches(query)
),

population as (
    select * from trend_population(since, until, source, category, min_upvotes)
),

final as (
    select
        m.term_order,
        p.title,
        pop.paper_id,
        pop.list_date,
        tp.max_hf_upvotes as upvotes,
        paper_link(pop.paper_id) as link
    from matched as m
    join population as pop using (paper_key)
    join papertrends_internal.term_papers as tp using (paper_key)
    join papers as p on p.paper_id = pop.paper_id
)

select * from final
order by upvotes desc nulls last, list_date, paper_id;
