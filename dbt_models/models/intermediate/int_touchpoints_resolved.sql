-- Every touchpoint with its customer, journey stage and direction: the canonical touchpoint (docs/CONVENTIONS.md)
-- before the mart adds what describes the customer (language). A table (incremental), because the mart and the
-- journeys both read it and the identity joins are the expensive part.
--
-- Customer: the component of the touchpoint's most specific usable identifier (CRM id, e-mail, loyalty card,
-- phone, social handle, cookie, in that order). The identifiers of one record are linked in the identity
-- graph, so every usable one gives the same customer; a blocked identifier is only used when the record has
-- nothing else (it then stands for itself). A brand reply belongs to the author of the post it answers.
-- Touchpoints without any identifier (a call from a withheld number) have no customer_key.
--
-- Incremental (DuckDB): a run resolves again only whole records (`source_record_id`, delete+insert) that were
-- ingested after the table's latest row of their source (new and corrected exports) or carry an identifier
-- whose component changed since the table's latest `_identity_changed_at` (a new login re-attributes a cookie's
-- old visits), plus the brand replies to such posts and the posts such replies answer. Rows removed from
-- int_touchpoints_unioned by retention are removed here too (cx_core/privacy/retention.py); erasure deletes
-- the person's rows from every table. Spark rebuilds it as a table. Every row a run writes is stamped
-- `_resolved_at` (the run's start): int_journey_touchpoints renumbers the customers of the rows stamped after its
-- own latest run. It keeps whom the row belonged to before (`_previous_customer_key`) and when that version was
-- written (`_previous_resolved_at`): a model that keeps results per customer rewrites both customers.
-- A warehouse built before `_resolved_at` existed gets the column (null on the rows written already) instead
-- of a refresh that fails until someone rebuilds it with --full-refresh.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='source_record_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}
{%- set identifier_priority = ['crm_id', 'email', 'loyalty_id', 'phone', 'social_handle', 'anonymous_id'] %}
{%- set component_aliases = [] %}
{%- for identifier_type in identifier_priority %}{% do component_aliases.append(identifier_type ~ '_component') %}{% endfor %}

with

{% if is_incremental() %}
-- The change detection reads only the few columns it needs of int_touchpoints_unioned, each step straight from
-- the table: one CTE over the whole table, read four times, made DuckDB copy all its columns (texts included)
-- once per run (issue 19, measured at 100k customers).
ingested_until as (
    select source, max(_ingested_at) as latest_ingested_at
    from {{ this }}
    group by source
),

newly_ingested_records as (
    select unioned.source_record_id
    from {{ ref('int_touchpoints_unioned') }} as unioned
    left join ingested_until on ingested_until.source = unioned.source
    where unioned._ingested_at > coalesce(ingested_until.latest_ingested_at, cast('1900-01-01' as timestamp))
),

changed_identifiers as (
    {{ identifiers_changed_since_last_run() }}
),

re_attributed_records as (
    select source_record_id
    from {{ ref('int_touchpoints_unioned') }}
    where
        {%- for identifier_type in identifier_priority %}
        {{ identifier_type }} in (
            select identifier_value from changed_identifiers where identifier_type = '{{ identifier_type }}'
        ){% if not loop.last %} or{% endif %}
        {%- endfor %}
),

touched_records as (
    select source_record_id from newly_ingested_records
    union
    select source_record_id from re_attributed_records
),

-- A brand reply takes the customer of the post it answers: the replies to a touched post and the posts a
-- touched reply answers are resolved with it.
brand_replies as (
    select source_record_id, 'social_mentions:' || conversation_ref as answered_record_id
    from {{ ref('int_touchpoints_unioned') }}
    where touchpoint_type = 'brand_reply'
),

records_to_resolve as (
    select source_record_id from touched_records
    union
    select brand_replies.source_record_id
    from brand_replies
    inner join touched_records on touched_records.source_record_id = brand_replies.answered_record_id
    union
    select brand_replies.answered_record_id
    from brand_replies
    inner join touched_records on touched_records.source_record_id = brand_replies.source_record_id
),

touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
    where source_record_id in (select source_record_id from records_to_resolve)
),

-- The version of each rewritten touchpoint this table held before this run (none for a new one): whom it belonged
-- to, for the models that keep results per customer (macro owners_of_touchpoints_rewritten_since).
previous_versions as (
    select
        touchpoint_id,
        customer_key,
        {{ '_resolved_at' if this_has_column('_resolved_at') else 'cast(null as timestamp)' }} as _resolved_at
    from {{ this }}
    where source_record_id in (select source_record_id from records_to_resolve)
),
{% else %}
touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
),
{% endif %}

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
    with_customer.source_record_id,
    with_customer._ingested_at,
    {{ latest_identity_change() }} as _identity_changed_at,
    {{ this_run_started_at() }} as _resolved_at,
    {%- if is_incremental() %}
    previous_versions.customer_key as _previous_customer_key,
    previous_versions._resolved_at as _previous_resolved_at
    {%- else %}
    cast(null as {{ dbt.type_string() }}) as _previous_customer_key,
    cast(null as timestamp) as _previous_resolved_at
    {%- endif %}
from with_customer
left join {{ ref('touchpoint_stage_map') }} as stage_map
    on stage_map.source = with_customer.source
    and stage_map.touchpoint_type = with_customer.touchpoint_type
{%- if is_incremental() %}
left join previous_versions on previous_versions.touchpoint_id = with_customer.touchpoint_id
{%- endif %}
