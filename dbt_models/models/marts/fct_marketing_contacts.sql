-- One row per outbound marketing contact that went out: fct_campaign_assignments without its control groups.
-- A view on DuckDB: a filter of the incremental assignments, which a table copied whole (1.7 M rows, 2 s at 100k
-- customers) as the last node of every daily refresh (issue 19). Other engines build a table.
{{ config(materialized='view' if target.type == 'duckdb' else 'table') }}

with

assignments as (
    select * from {{ ref('fct_campaign_assignments') }}
)

select
    contact_id,
    customer_key,
    sent_at,
    channel,
    campaign_id,
    campaign_type,
    opened,
    clicked,
    converted_within_14d,
    order_value_eur
from assignments
where not is_holdout
