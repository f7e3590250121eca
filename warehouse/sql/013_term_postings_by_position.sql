-- 013: term postings hold one row per word occurrence: (word_id, paper_key, position).
-- The index is built set-based in DuckDB (warehouse/term_index.py). A list of positions per
-- (word, paper) needs DuckDB's list() aggregate, which cannot spill: a big batch ran out of memory
-- under the load's memory limit. One row per occurrence is built without an aggregate, and a
-- phrase is found by grouping occurrences on their start position.
-- The index tables live in the schema papertrends_internal (migration 011): named with it here.
create table papertrends_internal.term_postings_by_position (
    word_id    integer not null,
    paper_key  integer not null,
    position   integer not null
);

insert into papertrends_internal.term_postings_by_position
select word_id, paper_key, position
from (select word_id, paper_key, unnest(positions) as position from papertrends_internal.term_postings)
order by word_id, paper_key, position;

drop table papertrends_internal.term_postings;

alter table papertrends_internal.term_postings_by_position rename to term_postings;

-- Papers matching each query alternative, from the index alone: for one word, the papers holding
-- it; for a phrase, word k must stand at position start + k - 1 for one start. This is exactly
-- "the search text contains the needle" (see transforms/terms.py).
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
    select w.term_order, w.alt, w.pos, w.n_words, p.paper_key, p.position
    from word_ids as w
    join papertrends_internal.term_postings as p using (word_id)
),

phrases as (
    select term_order, paper_key
    from hits
    where n_words > 1
    group by term_order, alt, paper_key, position - pos
    having count(distinct pos) = any_value(n_words)
),

final as (
    select term_order, paper_key from hits where n_words = 1
    union
    select term_order, paper_key from phrases
)

select * from final;
