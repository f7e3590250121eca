-- Data checks, declared as data beside the schema. warehouse/checks.py runs every block after each
-- load, inside the load's transaction: a check passes when its query returns no rows; any row it
-- returns is an offending row, and one failing check rolls the whole load back.
--
-- A block starts with `-- check: <name>`; the comment lines after it say what it guards. Queries
-- may read the warehouse tables and the batch being loaded (`batch_listings`, `batch_quarantine`),
-- and these run parameters (null when the run gave none):
--   $since, $until   the list dates the run asked for
--   $items_in        items the run read from its inputs

-- check: title_not_empty
-- Every paper has a title with something besides whitespace in it.
select paper_id, title
from papers
where title is null or trim(title) = '';

-- check: list_date_in_requested_range
-- Every listing this load brings lies inside the list dates the run asked for.
select source, list_date, paper_id
from batch_listings
where list_date < coalesce($since::date, list_date)
   or list_date > coalesce($until::date, list_date);

-- check: upvotes_not_negative
-- Upvotes and comment counts are counts: never below zero.
select source, list_date, paper_id, upvotes, num_comments
from listings
where upvotes < 0 or num_comments < 0;

-- check: listing_paper_exists
-- Every listing points at a paper in `papers`.
select l.source, l.list_date, l.paper_id
from listings as l
anti join papers as p on p.paper_id = l.paper_id;

-- check: items_accounted_for
-- Items in = items loaded + items quarantined: nothing the run read went missing.
with counted as (
    select
        $items_in::bigint as items_in,
        (select count(*) from batch_listings) as items_loaded,
        (select count(*) from batch_quarantine) as items_quarantined
)
select items_in, items_loaded, items_quarantined
from counted
where items_in is not null and items_in <> items_loaded + items_quarantined;
