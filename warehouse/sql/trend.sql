-- Share of papers first listed in each period whose search text contains each term.
-- Parameters: $terms (list of {term_order, term, needles}: a paper matches a term when its search
-- text contains any of the term's needles), $by (transforms.query.PERIODS), $since, $until.
with population as (
    select
        p.paper_id,
        f.first_list_date,
        p.search_text
    from first_listings as f
    join papers as p using (paper_id)
    where f.first_list_date >= coalesce($since::date, date '0001-01-01')
      and f.first_list_date <= coalesce($until::date, date '9999-12-31')
),

periods as (
    select
        search_text,
        case $by
            when 'day' then strftime(first_list_date, '%Y-%m-%d')
            when 'week' then strftime(first_list_date, '%G-W%V')
            when 'month' then strftime(first_list_date, '%Y-%m')
            when 'quarter' then strftime(first_list_date, '%Y') || '-Q' || quarter(first_list_date)::varchar
            when 'year' then strftime(first_list_date, '%Y')
        end as period
    from population
),

terms as (
    select unnest($terms, recursive := true)
),

counted as (
    select
        periods.period,
        terms.term_order,
        terms.term,
        count(*) filter (
            where len(list_filter(terms.needles, lambda n: contains(periods.search_text, n))) > 0
        ) as matches,
        count(*) as total
    from periods
    cross join terms
    group by all
),

final as (
    select
        period,
        term,
        matches,
        total,
        matches / total as share
    from counted
    order by period, term_order
)

select * from final
