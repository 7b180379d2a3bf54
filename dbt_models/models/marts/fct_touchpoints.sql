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

-- Whole records: the touchpoints of one record share its stamp (int_touchpoints_resolved rewrites whole records)
-- and its customer (they carry the same identifiers), so filtering touchpoints selects whole records without
-- matching 9 million record ids.
touchpoints as (
    select * from {{ ref('int_touchpoints_resolved') }}
    where _resolved_at > {{ latest_stamp }}
        or customer_key in (select customer_key from relabelled_customers)
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
