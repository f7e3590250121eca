-- 009: the query language and the periods in SQL, the twins of transforms/query.py and
-- transforms/terms.py. tests/test_terms.py proves term_query() equal to parse_query() (rows and
-- error messages) on random queries, and that the period macros accept exactly query.PERIODS.
-- Replaces the macros of 005, which accepted any grain (trend('x', 'decade') gave no rows) and
-- dropped unsupported syntax silently ('*scaling', 'scal*ing', empty alternatives).

-- The grain itself when it is one of query.PERIODS; anything else is an error, not empty rows.
create or replace macro query_grain(grain) as
    case
        when grain in ('day', 'week', 'month', 'quarter', 'year') then grain
        else error('grain must be one of day, week, month, quarter, year, not '''
                   || coalesce(grain::varchar, 'null') || '''')
    end;

-- Label of the period a date falls in ('2025-03', '2025-W09', '2025-Q1', ...).
create or replace macro period_label(d, grain) as
    case query_grain(grain)
        when 'day' then strftime(d, '%Y-%m-%d')
        when 'week' then strftime(d, '%G-W%V')
        when 'month' then strftime(d, '%Y-%m')
        when 'quarter' then strftime(d, '%Y') || '-Q' || quarter(d)::varchar
        when 'year' then strftime(d, '%Y')
    end;

-- First day of the period a date falls in (weeks start on Monday, as ISO weeks do).
create or replace macro period_start(d, grain) as date_trunc(query_grain(coalesce(grain, 'null')), d)::date;

create or replace macro period_step(grain) as
    case query_grain(grain)
        when 'day' then interval 1 day
        when 'week' then interval 7 day
        when 'month' then interval 1 month
        when 'quarter' then interval 3 month
        when 'year' then interval 1 year
    end;

-- Python's str.strip() set for the characters a user types (space, tab, newlines, form feeds):
-- transforms.terms.WHITESPACE.
create or replace macro query_trim(text) as
    trim(coalesce(text, ''), ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13));

-- User's query strings as the query rows trend_query() takes: alternatives split on '|', each
-- alternative's words, whether its last word is a prefix ('*'), and its needle. A query that
-- parse_query() refuses raises the same message here (the first problem, in term order).
create or replace macro term_query(terms) as (
    with queries as (
        select t.term_order - 1 as term_order, query_trim(t.term) as term
        from (select unnest(terms) as term, generate_subscripts(terms, 1) as term_order) as t
    ),

    alternatives as (
        select
            q.term_order,
            q.term,
            a.alt,
            query_trim(a.alternative) as alternative
        from queries as q,
             (select unnest(string_split(q.term, '|')) as alternative,
                     generate_subscripts(string_split(q.term, '|'), 1) as alt) as a
    ),

    split as (
        select
            *,
            ends_with(alternative, '*') as prefix,
            case when ends_with(alternative, '*') then left(alternative, -1) else alternative end as stem,
            bool_or(alternative = '') over (partition by term_order) as empty_alternative
        from alternatives
    ),

    parsed as (
        select
            *,
            term_words_of(replace(stem, '*', ' ')) as words,
            case
                when term = '' then
                    'empty term: give a word, a phrase, a prefix like scal* or alternatives like a|b'
                when empty_alternative then
                    'term ''' || term || ''' has an empty alternative around ''|'''
                when contains(alternative, '(') or contains(alternative, ')') then
                    'term ''' || alternative || ''': parentheses are not supported; write alternatives as a|b'
                when len(term_words_of(replace(stem, '*', ' '))) = 0 then
                    'term ''' || alternative || ''' has no letters or digits to match'
                when contains(stem, '*') then
                    'term ''' || alternative || ''': ''*'' may only end a term, once (as in scal*)'
                when prefix and len(term_words_of(right(stem, 1))) = 0 then
                    'term ''' || alternative || ''': ''*'' must directly follow the word it extends'
            end as problem
        from split
    )

    select
        case
            when count(problem) > 0 then error(arg_min(problem, term_order * 1000000 + alt) filter (where problem is not null))
            else coalesce(list({
                'term_order': term_order, 'term': term, 'alt': alt, 'words': words, 'prefix': prefix,
                'needle': ' ' || array_to_string(words, ' ') || case when prefix then '' else ' ' end
            } order by term_order, alt), [])
        end
    from parsed
);
