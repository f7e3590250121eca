-- 005: term index (words, postings, per-day counts) and the trend macros.
-- Maintained by warehouse/term_index.py after every load (catch_up); see README "Trend analytics".

-- The trend filters read papers.categories, which migration 004 adds (a warehouse that met 005
-- first, before the branches merged, got the column from an earlier copy of this file).
-- Every word seen in a search text (transforms/terms.py decides what a word is).
create table term_words (
    word_id  integer primary key,
    word     varchar not null unique
);

-- One row per indexed paper: a compact integer key and the dates/upvotes the filters need.
create table term_papers (
    paper_key         integer not null,      -- dense, assigned at first index
    paper_id          varchar not null,
    first_list_date   date not null,         -- over all sources (= first_listings)
    first_hf_date     date,                  -- first listing with source 'hf_%'
    first_arxiv_date  date,                  -- first listing with source 'arxiv'
    max_hf_upvotes    integer                -- max upvotes over the paper's hf listings
);

-- Which distinct words each paper's search text holds, and at which word positions (the field
-- break takes one position, so a phrase cannot run from title into abstract).
create table term_postings (
    word_id    integer not null,
    paper_key  integer not null,
    positions  integer[] not null
);

-- Papers per (word, first list date) as signed deltas: sum(papers) is the count. word_id 0
-- counts every paper (the denominator). Written by loads, never updated in place.
create table term_counts (
    word_id          integer not null,
    first_list_date  date not null,
    papers           integer not null
);

-- Label of the period a date falls in ('2025-03', '2025-W09', '2025-Q1', ...).
create macro period_label(d, grain) as
    case grain
        when 'day' then strftime(d, '%Y-%m-%d')
        when 'week' then strftime(d, '%G-W%V')
        when 'month' then strftime(d, '%Y-%m')
        when 'quarter' then strftime(d, '%Y') || '-Q' || quarter(d)::varchar
        when 'year' then strftime(d, '%Y')
    end;

-- First day of the period a date falls in (weeks start on Monday, as ISO weeks do).
create macro period_start(d, grain) as date_trunc(grain, d)::date;

create macro period_step(grain) as
    case grain
        when 'day' then interval 1 day
        when 'week' then interval 7 day
        when 'month' then interval 1 month
        when 'quarter' then interval 3 month
        when 'year' then interval 1 year
    end;

-- Words of a string, the SQL twin of transforms.terms.words (tests prove they agree).
-- lower() maps 'İ' to 'i' where Polars gives 'i' + U+0307 (a combining dot, which separates words).
create macro term_words_of(text) as
    regexp_extract_all(
        replace(replace(replace(replace(
            lower(replace(coalesce(text, ''), 'İ', 'i' || chr(775))), 'ß', 'ss'), 'ẞ', 'ss'), 'ς', 'σ'), 'ſ', 's'),
        '[\p{L}\p{N}]+'
    );

-- A user's term string as the query rows trend_query() takes: alternatives split on '|',
-- each alternative's words, whether its last word is a prefix ('*'), and its needle.
create macro term_query(terms) as (
    with alternatives as (
        select
            t.term_order,
            t.term,
            a.alt,
            trim(a.alternative) as alternative
        from (select unnest(terms) as term, generate_subscripts(terms, 1) as term_order) as t,
             (select unnest(string_split(t.term, '|')) as alternative,
                     generate_subscripts(string_split(t.term, '|'), 1) as alt) as a
    ),
    parsed as (
        select
            term_order - 1 as term_order,
            trim(term) as term,
            alt,
            term_words_of(alternative) as words,
            ends_with(alternative, '*') as prefix
        from alternatives
    )
    select coalesce(list({
        'term_order': term_order, 'term': term, 'alt': alt, 'words': words, 'prefix': prefix,
        'needle': ' ' || array_to_string(words, ' ') || case when prefix then '' else ' ' end
    } order by term_order, alt), [])
    from parsed
    where len(words) > 0
);

-- Papers matching each query alternative, from the index alone: postings of every word
-- intersected; for a phrase, word k must stand at position start + k - 1 for one start.
-- This is exactly "the search text contains the needle" (see transforms/terms.py).
create macro term_matches(query) as table
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
    join term_words as w on w.word = q.word
    where not (q.prefix and q.pos = q.n_words)
    union all
    select q.term_order, q.alt, q.pos, q.n_words, w.word_id
    from query_words as q
    join term_words as w on starts_with(w.word, q.word)
    where q.prefix and q.pos = q.n_words
),

hits as (
    select w.term_order, w.alt, w.pos, w.n_words, p.paper_key, p.positions
    from word_ids as w
    join term_postings as p using (word_id)
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
create macro trend_population(since, until, source, category, min_upvotes) as table
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
    from term_papers as tp
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
-- Without filters a term that is one plain word is read from term_counts, not postings.
create macro trend_query(query, grain, since, until, source, category, min_upvotes) as table
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
    join term_words as w using (word)
    where q.single_word and (source is null and category is null and min_upvotes is null)
),

fast_counts as (
    select f.term_order, c.first_list_date as list_date, sum(c.papers)::bigint as matches
    from fast_terms as f
    join term_counts as c using (word_id)
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
    from term_counts
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

-- For the plain DuckDB CLI: select * from trend('scaling', 'month'); several terms as a list:
-- select * from trend(['scaling|scalable', 'inference-time scaling', 'tractab*'], 'quarter').
create macro trend(terms, grain := 'month', since := null, until := null, source := null, category := null,
                   min_upvotes := null) as table
select period, term, matches, total, share
from trend_query(
    term_query(case when typeof(terms) like '%[]' then terms::varchar[] else [terms::varchar] end),
    grain, since, until, source, category, min_upvotes
);

-- Where to read a paper: its arXiv abstract page (papers known only by title have none).
create macro paper_link(paper_id) as
    case when paper_id like 'title:%' then null else 'https://arxiv.org/abs/' || paper_id end;

-- The papers behind a point: those matching the query in the filtered population.
create macro trend_papers(query, since, until, source, category, min_upvotes) as table
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
    join term_papers as tp using (paper_key)
    join papers as p on p.paper_id = pop.paper_id
)

select * from final
order by upvotes desc nulls last, list_date, paper_id;

-- For the plain DuckDB CLI: select * from matching_papers('inference-time scaling', '2025-03-01', '2025-03-31').
create macro matching_papers(query_text, since := null, until := null, source := null, category := null,
                             min_upvotes := null) as table
select * exclude (term_order)
from trend_papers(term_query([query_text::varchar]), since, until, source, category, min_upvotes);
