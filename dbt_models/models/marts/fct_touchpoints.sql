-- The canonical touchpoint (docs/CONVENTIONS.md): int_touchpoints_resolved (customer, journey stage,
-- direction) with the customer's language from the CRM.
-- depends_on: {{ ref('channel_taxonomy') }} (its channel columns are tested against the taxonomy, so the
-- seed must be built with this model, not after it)
--
-- Incremental (DuckDB): a run writes again the whole records (`source_record_id`, delete+insert) that
-- int_touchpoints_resolved rewrote after this table's latest `_resolved_at` (new, corrected and re-attributed
-- touchpoints, and those retention stamped), and every record of the CRM customers whose CRM row was ingested
-- since then (a changed language). Rewriting 16,000 touchpoints instead of 9.4 million is the point (issue 19).
-- Retention deletes its old rows here too (cx_core/privacy/retention.py); erasure deletes the person's rows from
-- every table. Spark rebuilds it as a table.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='source_record_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}

with

crm_languages as (
    select 'C-' || customer_id as customer_key, language, _ingested_at
    from {{ ref('stg_crm_customers__customers') }}
),

{% if is_incremental() %}
{%- set latest_stamp = latest_in_this('_resolved_at') %}
-- The CRM customers whose language may have changed since the table's latest run: their touchpoints keep it.
relabelled_customers as (
    select customer_key
    from crm_languages
    where _ingested_at > {{ latest_stamp }}
),

{%- set stored_columns = ['touchpoint_id', 'customer_key', 'occurred_at', 'channel', 'source', 'touchpoint_type',
                          'direction', 'journey_stage', 'text', 'value_eur', 'conversation_ref', 'source_record_id'] %}
-- Whole records: the touchpoints of one record share its stamp (int_touchpoints_resolved rewrites whole records)
-- and its customer (they carry the same identifiers), so filtering touchpoints selects whole records without
-- matching 9 million record ids. The stamp filter reads only the table's latest row groups.
restamped as (
    select {{ stored_columns | join(', ') }}, _resolved_at
    from {{ ref('int_touchpoints_resolved') }}
    where _resolved_at > {{ latest_stamp }}
),

-- The relabelled customers' other records are as this table wrote them (int_touchpoints_resolved would have
-- stamped them again otherwise), so they come from this table (own_rows_of_customers): reading
-- int_touchpoints_resolved with `customer_key in (...)` read every column of all 9 million rows.
touchpoints as (
    select * from restamped
    union all
    select
        {{ stored_columns | join(', ') }},
        {{ '_resolved_at' if this_has_column('_resolved_at') else 'cast(null as timestamp)' }} as _resolved_at
    from {{ this }}
    where {{ own_rows_of_customers('relabelled_customers', 'source_record_id', 'restamped') }}
)
{% else %}
touchpoints as (
    select * from {{ ref('int_touchpoints_resolved') }}
)
{% endif %}

select
    touchpoints.touchpoint_id,
    touchpoints.customer_key,
    touchpoints.occurred_at,
    touchpoints.channel,
    touchpoints.source,
    touchpoints.touchpoint_type,
    touchpoints.direction,
    touchpoints.journey_stage,
    touchpoints.text,
    crm_languages.language,
    touchpoints.value_eur,
    touchpoints.conversation_ref,
    touchpoints.source_record_id,
    touchpoints._resolved_at
from touchpoints
left join crm_languages on crm_languages.customer_key = touchpoints.customer_key
