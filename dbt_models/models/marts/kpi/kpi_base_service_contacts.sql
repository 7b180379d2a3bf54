-- Service contacts with what the service KPIs need: business day, inbound channel, segment, whether the same
-- customer came back on any channel within 7 days (for first contact resolution), the channel's SLA target and,
-- for calls, whether the caller hung up in the queue (and whether that was a short abandon).
with

contacts as (
    select
        *,
        -- Contacts without a known customer cannot be linked to a later contact.
        case when customer_key is not null then
            lead(occurred_at) over (partition by customer_key order by occurred_at, contact_id)
        end as next_contact_at
    from {{ ref('fct_service_contacts') }}
)

select
    contacts.contact_id,
    contacts.issue_id,
    contacts.customer_key,
    contacts.occurred_at,
    {{ kpi_business_date('contacts.occurred_at') }} as business_date,
    coalesce(contacts.inbound_channel, 'unknown') as channel,
    coalesce(customers.segment, 'unknown') as segment,
    {{ kpi_persona() }} as persona,
    coalesce(contacts.is_first_contact_of_issue, false) as is_first_contact_of_issue,
    -- null where the channel has no resolution status (public social threads): such issues are left out of FCR
    contacts.resolved as is_resolved,
    coalesce(contacts.is_repeat_contact_7d, false) as is_repeat_contact_7d,
    coalesce(
        contacts.next_contact_at <= {{ dbt.dateadd('day', 7, 'contacts.occurred_at') }}, false
    ) as has_contact_within_next_7d,
    contacts.handle_seconds,
    contacts.first_response_seconds,
    contacts.wait_seconds,
    -- queue abandonment exists for calls only: null on the other channels
    contacts.abandoned as is_abandoned,
    -- hung up within var('short_abandon_seconds'): a misdial or an instant change of mind, not a lost caller
    coalesce(
        contacts.abandoned and contacts.wait_seconds <= {{ var('short_abandon_seconds') }}, false
    ) as is_short_abandon,
    sla.first_response_target_seconds,
    coalesce(contacts.is_bot, false) as is_bot,
    coalesce(contacts.bot_handover, false) as is_bot_handover
from contacts
left join {{ ref('dim_customers') }} as customers
    on customers.customer_key = contacts.customer_key
left join {{ ref('sla_targets') }} as sla
    on sla.channel = contacts.inbound_channel
