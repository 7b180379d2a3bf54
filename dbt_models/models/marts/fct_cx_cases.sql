-- Closed-loop cases: one row per situation that needs a person (a detractor answer, an urgent negative text, a
-- repeated unresolved contact, a high churn risk with a recommended next best action), routed to its owner team
-- with a due time from seed case_routing, and closed by the latest update the CRM exports (source case_updates).
-- Situations of one type and customer that follow each other within var('case_merge_days') are one case: a
-- customer who writes three angry messages in two days needs one call, not three.
with

routing as (
    select * from {{ ref('case_routing') }}
),

detractor_answers as (
    select
        'detractor' as case_type,
        response_id as situation_id,
        customer_key,
        responded_at as situation_at,
        'NPS ' || cast(score as {{ dbt.type_string() }}) || ' of 10 (detractor)'
            || coalesce(' after ' || replace(trigger_type, '_', ' '), '') as reason,
        cast(null as {{ dbt.type_string() }}) as recommended_action,
        cast(null as {{ dbt.type_string() }}) as recommended_channel
    from {{ ref('fct_survey_responses') }}
    where survey_type = 'nps' and score <= 6
),

sentiment as (
    {{ kpi_source_or_empty('ml', 'ml_sentiment', {
        'touchpoint_id': dbt.type_string(),
        'customer_key': dbt.type_string(),
        'occurred_at': dbt.type_timestamp(),
        'channel': dbt.type_string(),
        'label': dbt.type_string(),
    }) }}
),

insights as (
    {{ kpi_source_or_empty('ml', 'ml_text_insights', {
        'touchpoint_id': dbt.type_string(),
        'topic': dbt.type_string(),
        'urgency': dbt.type_string(),
        'urgency_reason': dbt.type_string(),
    }) }}
),

-- High urgency (safety or legal words, a threat to cancel, a third negative contact in 7 days) unless the text
-- reads positive: a safety complaint the sentiment model calls neutral still needs a person.
urgent_texts as (
    select
        'urgent_text' as case_type,
        sentiment.touchpoint_id as situation_id,
        sentiment.customer_key,
        sentiment.occurred_at as situation_at,
        'urgent ' || sentiment.channel || ' text on ' || replace(coalesce(insights.topic, 'an unknown topic'), '_', ' ')
            || ': ' || insights.urgency_reason as reason,
        cast(null as {{ dbt.type_string() }}) as recommended_action,
        cast(null as {{ dbt.type_string() }}) as recommended_channel
    from insights
    inner join sentiment
        on sentiment.touchpoint_id = insights.touchpoint_id
    where insights.urgency = 'high' and sentiment.label <> 'positive'
),

issue_contacts as (
    select
        issue_id,
        customer_key,
        occurred_at,
        inbound_channel,
        coalesce(resolved, false) as resolved,
        row_number() over (partition by issue_id order by occurred_at, contact_id) as contact_number
    from {{ ref('fct_service_contacts') }}
),

-- An issue's second contact within var('repeat_contact_days') when neither it nor the first one resolved the
-- issue (an unknown resolution counts as unresolved: nobody confirmed it).
repeated_contacts as (
    select
        'repeated_contact' as case_type,
        second_contact.issue_id as situation_id,
        second_contact.customer_key,
        second_contact.occurred_at as situation_at,
        '2 contacts within {{ var("repeat_contact_days") }} days (' || first_contact.inbound_channel || ', then '
            || second_contact.inbound_channel || '), not resolved' as reason,
        cast(null as {{ dbt.type_string() }}) as recommended_action,
        cast(null as {{ dbt.type_string() }}) as recommended_channel
    from issue_contacts as second_contact
    inner join issue_contacts as first_contact
        on first_contact.issue_id = second_contact.issue_id
        and first_contact.contact_number = 1
    where second_contact.contact_number = 2
        and not first_contact.resolved
        and not second_contact.resolved
),

-- A next best action only the high churn risk rule allows, kept from every run (int_cx_case_churn_recommendations).
churn_risks as (
    select
        'churn_risk' as case_type,
        customer_key || ':' || cast(as_of_date as {{ dbt.type_string() }}) as situation_id,
        customer_key,
        -- recommended as of the end of that day
        {{ dbt.dateadd('day', 1, 'cast(as_of_date as ' ~ dbt.type_timestamp() ~ ')') }} as situation_at,
        'high churn risk: ' || action_label || ' by ' || channel || coalesce(' (' || reason || ')', '') as reason,
        action as recommended_action,
        channel as recommended_channel
    from {{ ref('int_cx_case_churn_recommendations') }}
),

situations as (
    select * from detractor_answers
    union all
    select * from urgent_texts
    union all
    select * from repeated_contacts
    union all
    select * from churn_risks
),

sequenced as (
    select
        *,
        lag(situation_at) over (
            partition by customer_key, case_type order by situation_at, situation_id
        ) as previous_situation_at
    from situations
    -- a case is about a known customer: someone must be able to reach them
    where customer_key is not null
),

-- A situation opens a case unless the same customer had one of the same type within var('case_merge_days').
case_starts as (
    select
        *,
        case
            when previous_situation_at is null then 1
            when situation_at > {{ dbt.dateadd('day', var('case_merge_days'), 'previous_situation_at') }} then 1
            else 0
        end as opens_case
    from sequenced
),

numbered as (
    select
        *,
        sum(opens_case) over (
            partition by customer_key, case_type order by situation_at, situation_id
            rows between unbounded preceding and current row
        ) as case_number
    from case_starts
),

situations_per_case as (
    select customer_key, case_type, case_number, count(*) as situations
    from numbered
    group by customer_key, case_type, case_number
),

-- The first situation names and describes the case, so its id stays the same when later situations join it.
opened_cases as (
    select
        {{ case_id('numbered.case_type', 'numbered.situation_id') }} as case_id,
        numbered.customer_key,
        numbered.case_type,
        numbered.situation_id,
        numbered.situation_at as opened_at,
        numbered.reason,
        situations_per_case.situations,
        numbered.recommended_action,
        numbered.recommended_channel
    from numbered
    inner join situations_per_case
        on situations_per_case.customer_key = numbered.customer_key
        and situations_per_case.case_type = numbered.case_type
        and situations_per_case.case_number = numbered.case_number
    where numbered.opens_case = 1
),

latest_updates as (
    select case_id, status, updated_at
    from {{ ref('stg_case_updates__updates') }}
    where update_recency = 1
),

-- Overdue is judged at the latest moment the data knows of (the exports' last event or case update), so an
-- old demo or a late delivery does not turn every open case overdue.
status_as_of as (
    select max(known_at) as status_as_of
    from (
        select max(occurred_at) as known_at from {{ ref('fct_touchpoints') }}
        union all
        select max(updated_at) as known_at from {{ ref('stg_case_updates__updates') }}
        union all
        select max(opened_at) as known_at from opened_cases
    ) as moments
),

routed as (
    select
        opened_cases.*,
        routing.case_label,
        routing.owner_team,
        {{ dbt.dateadd('hour', 'routing.due_within_hours', 'opened_cases.opened_at') }} as due_at,
        coalesce(opened_cases.recommended_action, routing.action) as action,
        coalesce(opened_cases.recommended_channel, routing.channel) as channel
    from opened_cases
    inner join routing
        on routing.case_type = opened_cases.case_type
),

with_status as (
    select
        routed.*,
        coalesce(latest_updates.status, 'open') as status,
        case when latest_updates.status = 'closed' then latest_updates.updated_at end as closed_at,
        latest_updates.updated_at as last_update_at,
        status_as_of.status_as_of
    from routed
    left join latest_updates
        on latest_updates.case_id = routed.case_id
    cross join status_as_of
)

select
    with_status.case_id,
    with_status.customer_key,
    customers.crm_customer_id,
    coalesce(customers.segment, 'unknown') as segment,
    {{ kpi_persona('customers') }} as persona,
    with_status.case_type,
    with_status.case_label,
    with_status.situation_id,
    with_status.opened_at,
    with_status.reason,
    with_status.situations,
    with_status.owner_team,
    with_status.due_at,
    with_status.action as recommended_action,
    with_status.channel as recommended_channel,
    with_status.status,
    with_status.closed_at,
    with_status.last_update_at,
    case
        when with_status.closed_at is not null then with_status.closed_at <= with_status.due_at
        -- still open after its due time: it can no longer be closed in time
        when with_status.due_at < with_status.status_as_of then false
    end as closed_in_time,
    with_status.status = 'open' and with_status.due_at < with_status.status_as_of as is_overdue,
    -- a double before dividing: Spark would divide decimals at a fixed scale
    cast({{ dbt.datediff('with_status.opened_at', 'with_status.closed_at', 'second') }} as double) / 3600 as hours_to_close,
    with_status.status_as_of
from with_status
left join {{ ref('dim_customers') }} as customers
    on customers.customer_key = with_status.customer_key
