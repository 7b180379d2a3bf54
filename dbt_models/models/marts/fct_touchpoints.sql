-- The canonical touchpoint (docs/CONVENTIONS.md): int_touchpoints_resolved (customer, journey stage,
-- direction) with the customer's language from the CRM.
-- depends_on: {{ ref('channel_taxonomy') }} (its channel columns are tested against the taxonomy, so the
-- seed must be built with this model, not after it)

with

touchpoints as (
    select * from {{ ref('int_touchpoints_resolved') }}
),

crm_languages as (
    select 'C-' || customer_id as customer_key, language
    from {{ ref('stg_crm_customers__customers') }}
)

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
    touchpoints.source_record_id
from touchpoints
left join crm_languages on crm_languages.customer_key = touchpoints.customer_key
