-- One row per outbound marketing contact that went out: fct_campaign_assignments without its control groups.
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
