-- Every touchpoint with its customer, journey stage and direction: the canonical touchpoint (docs/CONVENTIONS.md)
-- before the mart adds what describes the customer (language). A table, because the mart and the
-- journeys both read it and the identity joins are the expensive part.
--
-- Customer: the component of the touchpoint's most specific usable identifier (CRM id, e-mail, loyalty card,
-- phone, social handle, cookie, in that order). The identifiers of one record are linked in the identity
-- graph, so every usable one gives the same customer; a blocked identifier is only used when the record has
-- nothing else (it then stands for itself). A brand reply belongs to the author of the post it answers.
-- Touchpoints without any identifier (a call from a withheld number) have no customer_key.
{{ config(materialized='table') }}
{%- set identifier_priority = ['crm_id', 'email', 'loyalty_id', 'phone', 'social_handle', 'anonymous_id'] %}
{%- set component_aliases = [] %}
{%- for identifier_type in identifier_priority %}{% do component_aliases.append(identifier_type ~ '_component') %}{% endfor %}

with

touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
),

components as (
    select identifier, customer_key, is_blocked from {{ ref('int_identity_components') }}
),

with_own_customer as (
    select
        touchpoints.*,
        {{ customer_key_by_priority(component_aliases) }} as own_customer_key
    from touchpoints
    {%- for identifier_type in identifier_priority %}
    left join components as {{ identifier_type }}_component
        on {{ identifier_type }}_component.identifier = '{{ identifier_type }}:' || touchpoints.{{ identifier_type }}
    {%- endfor %}
),

with_customer as (
    select
        touchpoint.*,
        coalesce(touchpoint.own_customer_key, answered_post.own_customer_key) as customer_key
    from with_own_customer as touchpoint
    left join with_own_customer as answered_post
        on touchpoint.touchpoint_type = 'brand_reply'
        and answered_post.touchpoint_id = 'social_mentions:' || touchpoint.conversation_ref
)

select
    with_customer.touchpoint_id,
    with_customer.customer_key,
    with_customer.occurred_at,
    with_customer.channel,
    with_customer.source,
    with_customer.touchpoint_type,
    stage_map.direction,
    stage_map.journey_stage,
    with_customer.text,
    with_customer.value_eur,
    with_customer.conversation_ref,
    with_customer.source_record_id
from with_customer
left join {{ ref('touchpoint_stage_map') }} as stage_map
    on stage_map.source = with_customer.source
    and stage_map.touchpoint_type = with_customer.touchpoint_type
