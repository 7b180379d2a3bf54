-- Every customer's golden record from the data: one row per customer_key (one connected component of the identity
-- graph). CRM attributes come from the component's CRM record (the one its key is named after). Customers
-- without a CRM segment (no CRM record, an empty segment, or an orders-only shop) get one from their purchases:
-- lapsed, repeat_buyer or one_time_buyer; without purchases 'prospect' (known by e-mail, phone, card, handle
-- or CRM id) or 'anonymous' (only cookies).
-- dim_customers adds what the ML assets say about each customer; this model is what the ML assets that need a
-- customer's segment and consent read (next best action), since they run before dim_customers.
--
-- Incremental (DuckDB): a run writes again (delete+insert on customer_key) the customers whose touchpoints
-- int_touchpoints_resolved rewrote after this table's latest run, the customer each belongs to now and the one it
-- belonged to before (macro owners_of_touchpoints_rewritten_since), whose identifiers' components or observations
-- changed, whose CRM record was ingested, who share a service issue with a rewritten contact (an issue is open
-- while its latest contact is), and whose last sale lies between the lapsed cutoffs of this run and the latest one
-- (`_latest_sale_at`: the newest sale moves the cutoff). The post-hook deletes the customers no component names any
-- more (merged into another). When a touchpoint was rewritten twice since this table's latest run (a run that
-- skipped this model), every customer is written again. Retention and erasure reach it through those stamps and by
-- deleting the person's rows from every table. Spark rebuilds it as a table.
-- depends_on: {{ ref('int_touchpoints_resolved') }} (read in incremental runs only)
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='customer_key',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_rows_without_parent('customer_key', ref('int_identity_components')) }}",
) }}
{%- set latest_stamp = latest_in_this('_resolved_at') if is_incremental() else none %}
{%- set writes_some = is_incremental() and this_has_column('_latest_sale_at')
    and previous_owners_known_since(latest_stamp) %}
{%- set of_touched_customers = ' and customer_key in (select customer_key from touched_customers)' if writes_some
    else '' %}
with

-- Lapsed is measured against the newest sale in the data (not the clock), so a late export is not all lapsed.
latest_sale as (
    select max(ordered_at) as latest_sale_at
    from {{ ref('fct_orders') }}
    where order_type = 'sale'
),

{% if writes_some %}
last_sales as (
    select customer_key, max(ordered_at) as last_sale_at
    from {{ ref('fct_orders') }}
    where order_type = 'sale' and customer_key is not null
    group by customer_key
),

-- Whose lapsed status the newest sale may have changed: the last sale between the cutoffs of the latest run and this.
lapsed_cutoffs as (
    select
        {{ dbt.dateadd('day', -var('churn_window_days'), 'latest_sale.latest_sale_at') }} as this_run,
        {{ dbt.dateadd('day', -var('churn_window_days'), '(select max(_latest_sale_at) from ' ~ this ~ ')') }}
            as latest_run
    from latest_sale
),

rewritten_issues as (
    select issue_id
    from {{ ref('fct_service_contacts') }}
    where contact_id in ({{ touchpoints_rewritten_since(latest_stamp) }})
),

touched_customers as (
    {{ owners_of_touchpoints_rewritten_since(latest_stamp) }}
    union
    -- the customers of every identifier of the records that observe an identifier whose component changed or that
    -- a run observed again: a shared phone now blocked leaves its owner, whom no rewritten row names any more
    select components.customer_key
    from {{ ref('int_identity_observations') }} as observations
    inner join {{ ref('int_identity_components') }} as components
        on components.identifier = observations.identifier
    where observations.record_ref in (
        select record_ref from {{ ref('int_identity_observations') }}
        where _changed_at > {{ latest_stamp }} or identifier in (
            select identifier from {{ ref('int_identity_components') }} where changed_at > {{ latest_stamp }}
        )
    )
    union
    select 'C-' || customer_id from {{ ref('stg_crm_customers__customers') }}
    where _ingested_at > {{ latest_stamp }}
    union
    select customer_key from {{ ref('fct_service_contacts') }}
    where issue_id in (select issue_id from rewritten_issues) and customer_key is not null
    union
    select last_sales.customer_key
    from last_sales
    cross join lapsed_cutoffs
    where last_sales.last_sale_at >= least(lapsed_cutoffs.this_run, lapsed_cutoffs.latest_run)
        and last_sales.last_sale_at < greatest(lapsed_cutoffs.this_run, lapsed_cutoffs.latest_run)
),
{% endif %}

components as (
    select * from {{ ref('int_identity_components') }}
    {%- if writes_some %}
    where customer_key in (select customer_key from touched_customers)
    {%- endif %}
),

-- A row per (record, identifier) (tested unique there), so counting rows counts records; only the e-mail addresses
-- and phone numbers are ranked below.
observations as (
    select identifier, count(*) as records
    from {{ ref('int_identity_observations') }}
    where identifier_type in ('email', 'phone')
    {%- if writes_some %}
        and identifier in (select identifier from components)
    {%- endif %}
    group by identifier
),

-- The contact details to show (pseudonymised): the CRM record's own, else the one seen on most records.
ranked_contact_details as (
    select
        components.customer_key,
        components.identifier_type,
        components.identifier_value,
        row_number() over (
            partition by components.customer_key, components.identifier_type
            order by
                case when crm.customer_id is not null then 0 else 1 end asc,
                observations.records desc,
                components.identifier_value asc
        ) as preference
    from components
    inner join observations on observations.identifier = components.identifier
    left join {{ ref('stg_crm_customers__customers') }} as crm
        on 'C-' || crm.customer_id = components.customer_key
        and components.identifier_value = case components.identifier_type
            when 'email' then crm.email when 'phone' then crm.phone_e164 end
    where components.identifier_type in ('email', 'phone') and not components.is_blocked
),

identities as (
    select
        customer_key,
        min(case when identifier_type = 'crm_id' then identifier_value end) as crm_customer_id,
        count(*) as identifiers,
        max(case when identifier_type <> 'anonymous_id' then 1 else 0 end) = 1 as has_known_identifier
    from components
    group by customer_key
),

-- The inbound touchpoints (7M at 100k customers, most of them page views) with the quarter hour they fall in.
inbound as (
    select
        customer_key,
        channel,
        occurred_at,
        {{ dbt.dateadd('minute', '15 * floor(extract(minute from occurred_at) / 15)',
            dbt.date_trunc('hour', 'occurred_at')) }} as quarter_hour
    from {{ ref('fct_touchpoints') }}
    where direction = 'inbound' and customer_key is not null{{ of_touched_customers }}
),

-- A time-zone lookup per touchpoint was dim_customers' costliest step (the days alone 4.2 -> 2.3 s at 100k
-- customers); every zone's UTC offset has been a whole number of quarter hours since 1972, so a quarter hour's
-- start falls on the business day of all of it and converting the 35,000 distinct quarter hours of a year gives
-- the same days.
quarter_hour_days as (
    select quarter_hour, {{ kpi_business_date('quarter_hour') }} as business_date
    from (select distinct quarter_hour from inbound) as quarter_hours
),

-- Folded once into days per channel: both the activity and the preferred channel read these, and counting rows of
-- distinct days is cheaper than a count(distinct) per group.
inbound_days as (
    select
        inbound.customer_key,
        inbound.channel,
        quarter_hour_days.business_date,
        min(inbound.occurred_at) as first_inbound_at,
        max(inbound.occurred_at) as last_inbound_at
    from inbound
    inner join quarter_hour_days on quarter_hour_days.quarter_hour = inbound.quarter_hour
    group by inbound.customer_key, inbound.channel, quarter_hour_days.business_date
),

activity as (
    select customer_key, min(first_inbound_at) as first_inbound_at, max(last_inbound_at) as last_inbound_at
    from inbound_days
    group by customer_key
),

-- Preferred inbound channel: the one used on most distinct days (a web visit's many page views count once).
channel_days as (
    select
        customer_key,
        channel,
        row_number() over (
            partition by customer_key order by count(*) desc, max(last_inbound_at) desc, channel
        ) as preference
    from inbound_days
    group by customer_key, channel
),

unsubscribes as (
    select customer_key, max(occurred_at) as last_unsubscribed_at
    from {{ ref('fct_touchpoints') }}
    where source = 'email_events' and touchpoint_type = 'unsubscribe' and customer_key is not null
        {{- of_touched_customers }}
    group by customer_key
),

orders as (
    select
        customer_key,
        sum(case when order_type = 'sale' then value_eur else -value_eur end) as lifetime_value_eur,
        count(case when order_type = 'sale' then order_id end) as orders_count,
        count(case when order_type = 'return' then order_id end) as returns_count,
        max(case when order_type = 'sale' then ordered_at end) as last_sale_at
    from {{ ref('fct_orders') }}
    where customer_key is not null{{ of_touched_customers }}
    group by customer_key
),

-- The segment from behaviour: lapsed (no sale within the churn window before the newest sale), repeat_buyer
-- (two or more sales), one_time_buyer.
behaviour_segments as (
    select
        orders.customer_key,
        case
            when orders.last_sale_at
                < {{ dbt.dateadd('day', -var('churn_window_days'), 'latest_sale.latest_sale_at') }} then 'lapsed'
            when orders.orders_count >= 2 then 'repeat_buyer'
            else 'one_time_buyer'
        end as behaviour_segment
    from orders
    cross join latest_sale
    where orders.orders_count > 0
),

-- An issue is open while its latest contact is not resolved (social threads, with no status, never count).
latest_issue_contacts as (
    select
        customer_key,
        resolved,
        row_number() over (partition by issue_id order by occurred_at desc, contact_id desc) as recency
    from {{ ref('fct_service_contacts') }}
    where customer_key is not null
    {%- if writes_some %}
        -- every contact of an issue a touched customer has a contact in: its latest decides
        and issue_id in (
            select issue_id from {{ ref('fct_service_contacts') }}
            where customer_key in (select customer_key from touched_customers)
        )
    {%- endif %}
),

open_issues as (
    select customer_key, count(*) as open_service_issues
    from latest_issue_contacts
    where recency = 1 and not resolved
    group by customer_key
)

select
    identities.customer_key,
    identities.crm_customer_id,
    crm.customer_id is not null as is_crm_contact,
    case
        when crm.customer_id is not null then 'crm'
        when identities.has_known_identifier then 'known'
        else 'anonymous'
    end as identity_level,
    identities.identifiers,
    {{ pseudonymise("'email:' || emails.identifier_value") }} as email_hash,
    {{ pseudonymise("'phone:' || phones.identifier_value") }} as phone_hash,
    case
        when crm.created_at < activity.first_inbound_at or activity.first_inbound_at is null then crm.created_at
        else activity.first_inbound_at
    end as first_seen_at,
    activity.last_inbound_at as last_seen_at,
    channel_days.channel as preferred_inbound_channel,
    coalesce(crm.consent_email, false)
        and (unsubscribes.last_unsubscribed_at is null
            or unsubscribes.last_unsubscribed_at < coalesce(crm.updated_at, crm.created_at)) as consent_email,
    coalesce(crm.consent_sms, false) as consent_sms,
    coalesce(crm.consent_phone, false) as consent_phone,
    coalesce(crm.consent_push, false) as consent_push,
    case
        when crm.segment is not null then crm.segment
        when behaviour_segments.behaviour_segment is not null then behaviour_segments.behaviour_segment
        when crm.customer_id is not null or identities.has_known_identifier then 'prospect'
        else 'anonymous'
    end as segment,
    case when crm.segment is not null then 'crm' else 'behaviour' end as segment_source,
    crm.country,
    crm.language,
    crm.birth_year,
    coalesce(orders.lifetime_value_eur, 0) as lifetime_value_eur,
    coalesce(orders.orders_count, 0) as orders_count,
    coalesce(orders.returns_count, 0) as returns_count,
    coalesce(open_issues.open_service_issues, 0) as open_service_issues
    {%- if target.type == 'duckdb' %},
    -- incremental bookkeeping (dim_customers leaves it out)
    latest_sale.latest_sale_at as _latest_sale_at,
    {{ this_run_started_at() }} as _resolved_at
    {%- endif %}
from identities
cross join latest_sale
left join {{ ref('stg_crm_customers__customers') }} as crm on crm.customer_id = identities.crm_customer_id
left join ranked_contact_details as emails
    on emails.customer_key = identities.customer_key and emails.identifier_type = 'email' and emails.preference = 1
left join ranked_contact_details as phones
    on phones.customer_key = identities.customer_key and phones.identifier_type = 'phone' and phones.preference = 1
left join activity on activity.customer_key = identities.customer_key
left join channel_days on channel_days.customer_key = identities.customer_key and channel_days.preference = 1
left join unsubscribes on unsubscribes.customer_key = identities.customer_key
left join orders on orders.customer_key = identities.customer_key
left join behaviour_segments on behaviour_segments.customer_key = identities.customer_key
left join open_issues on open_issues.customer_key = identities.customer_key
