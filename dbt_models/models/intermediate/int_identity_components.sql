-- Connected components of the identity graph by label propagation: every identifier starts with its own
-- label and takes the smallest label among itself and its neighbours, once per pass. After as many passes as
-- the longest shortest path in a component, all its identifiers share the component's smallest label. The
-- passes are unrolled (var identity_max_passes) so the SQL stays plain joins and aggregates that any engine
-- runs (Spark too); `label_changed_in_last_pass` must be false everywhere (tested), otherwise raise the var.
--
-- Labels sort CRM ids first ('0crm_id:C...' < '1email:...'), so the smallest label of a component is its
-- smallest CRM id when it has one. customer_key derives from that label alone, which makes it stable: new data
-- changes a key only when it changes the component's smallest CRM id (a merge) or, for components without a
-- CRM id, its smallest identifier.
--
-- Incremental (DuckDB): the passes run over the part of the graph that may have changed, from scratch (seeding
-- them from the previous labels would only hold while components never split, which a changed record or a newly
-- blocked identifier does): the whole components, as this table knows them, of the identifiers of the records
-- int_identity_observations rewrote since this table's latest change and of the identifiers whose blocked status
-- changed. An edge of an identifier in that part leads to another one in it (an old edge stays within its old
-- component, a new edge joins two identifiers of one rewritten record), so its labels are those a run over the
-- whole graph gives, and the rest keeps its labels. Retention clears `changed_at` of the identifiers of the records
-- that may have lost rows (cx_core/privacy/retention.py): their components are in scope too (a record left without
-- rows takes its edges along, perhaps its identifiers' last observation), and they are written again whether they
-- changed or not. A run writes only the identifiers whose row changed (or had no `changed_at`), stamped
-- `changed_at`, so int_touchpoints_resolved and int_web_sessions re-derive only the records of those identifiers.
-- An identifier no longer observed is written as a tombstone (no customer_key) that the post-hook deletes.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='identifier',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook="{{ delete_tombstones('customer_key') }}",
) }}
{%- set passes = var('identity_max_passes') | int %}

with

{% if is_incremental() %}
{%- set watermark = latest_in_this('changed_at') %}
{#- Every observation rewritten (an earlier release's retention emptied the table): a component may have left
    entirely, so any identifier of this table may be gone, not only those in scope. #}
{%- set observations_rebuilt = execute and run_query(
    'select coalesce(min(_changed_at) > ' ~ watermark ~ ', false) from ' ~ ref('int_identity_observations')
).columns[0].values()[0] %}
seeds as (
    select identifier
    from {{ ref('int_identity_observations') }}
    where _changed_at > {{ watermark }}
    union
    select identifier
    from {{ ref('int_identity_blocked_identifiers') }}
    where identifier not in (select identifier from {{ this }} where is_blocked)
    union
    select identifier
    from {{ this }}
    where is_blocked and identifier not in (select identifier from {{ ref('int_identity_blocked_identifiers') }})
    union
    select identifier from {{ this }} where changed_at is null
),

in_scope as (
    select identifier from seeds
    union
    select identifier
    from {{ this }}
    where component_label in (
        select component_label from {{ this }} where identifier in (select identifier from seeds)
    )
),

-- The edges of that part only (int_identity_edges' rule: blocked identifiers link nothing); DuckDB does not push
-- a filter on the view's output through its self-join and DISTINCT, which cost 3 s over the whole graph.
usable_in_scope as (
    select record_ref, identifier
    from {{ ref('int_identity_observations') }}
    where identifier in (select identifier from in_scope)
        and identifier not in (select identifier from {{ ref('int_identity_blocked_identifiers') }})
),

edges as (
    {{ identity_edges('usable_in_scope') }}
),
{% else %}
edges as (
    select * from {{ ref('int_identity_edges') }}
),
{% endif %}

identifiers as (
    select identifier, min(identifier_type) as identifier_type, min(identifier_value) as identifier_value
    from {{ ref('int_identity_observations') }}
    {% if is_incremental() %}
    where identifier in (select identifier from in_scope)
    {% endif %}
    group by identifier
),

-- Every identifier reaches itself, so isolated and blocked identifiers keep their own label.
reachable as (
    select identifier_from, identifier_to from edges
    union all
    select identifier as identifier_from, identifier as identifier_to from identifiers
),

pass_0 as (
    select
        identifier,
        case when identifier_type = 'crm_id' then '0' else '1' end || identifier as label
    from identifiers
),

{% for pass_number in range(1, passes + 1) %}
pass_{{ pass_number }} as (
    select reachable.identifier_to as identifier, min(previous.label) as label
    from reachable
    inner join pass_{{ pass_number - 1 }} as previous on previous.identifier = reachable.identifier_from
    group by reachable.identifier_to
),
{% endfor %}

labelled as (
    select
        identifiers.identifier,
        identifiers.identifier_type,
        identifiers.identifier_value,
        final_pass.label as component_label,
        final_pass.label <> before_final_pass.label as label_changed_in_last_pass
    from identifiers
    inner join pass_{{ passes }} as final_pass on final_pass.identifier = identifiers.identifier
    inner join pass_{{ passes - 1 }} as before_final_pass on before_final_pass.identifier = identifiers.identifier
),

resolved as (
    select
        identifier,
        identifier_type,
        identifier_value,
        case
            when component_label like '0crm_id:%' then 'C-' || substr(component_label, 9)
            else 'P-' || substr({{ dbt.hash('component_label') }}, 1, 16)
        end as customer_key,
        component_label,
        identifier in (select identifier from {{ ref('int_identity_blocked_identifiers') }}) as is_blocked,
        label_changed_in_last_pass
    from labelled
),

{% if is_incremental() %}
changed as (
    select * from resolved
    except
    select
        identifier, identifier_type, identifier_value, customer_key, component_label, is_blocked,
        label_changed_in_last_pass
    from {{ this }}
    where identifier in (select identifier from in_scope) and changed_at is not null
),

vanished as (
    select
        identifier,
        identifier_type,
        identifier_value,
        cast(null as {{ dbt.type_string() }}) as customer_key,
        cast(null as {{ dbt.type_string() }}) as component_label,
        cast(null as boolean) as is_blocked,
        cast(null as boolean) as label_changed_in_last_pass
    from {{ this }}
    where {% if not observations_rebuilt %}identifier in (select identifier from in_scope) and {% endif %}
        identifier not in (select identifier from identifiers)
),

written as (
    select * from changed
    union all
    select * from vanished
)
{% else %}
written as (
    select * from resolved
)
{% endif %}

select
    *,
    {{ this_run_started_at() }} as changed_at
from written
