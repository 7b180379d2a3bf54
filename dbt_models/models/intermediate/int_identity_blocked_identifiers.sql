-- Identifiers that must not glue records together, with the rule that caught them (see the YAML for the
-- rules). They keep their own records but add no edges to the identity graph.
--
-- Incremental (DuckDB): the counts change only for the identifiers of the records int_identity_observations
-- rewrote since this table's run (`_changed_at`), and a record that lost an identifier or left can only unblock
-- the identifiers this table holds. A run judges those candidates again from all their records and writes them
-- (delete+insert on `identifier`); a candidate no longer blocked, or no longer observed at all (its records lost
-- their rows to retention), is written as a tombstone (no rule) that the post-hook deletes. A change of the rules'
-- vars or of the identity_blocklist seed needs a `--full-refresh`.
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    unique_key='identifier',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_tombstones('rule') }}",
) }}

with

{% if is_incremental() %}
changed_records as (
    select record_ref
    from {{ ref('int_identity_observations') }}
    where _changed_at > {{ latest_in_this('_observations_changed_at') }}
),

candidates as (
    select identifier
    from {{ ref('int_identity_observations') }}
    where record_ref in (select record_ref from changed_records)
    union
    select identifier from {{ this }}
),

-- The candidates' observations, and every observation of their records (the partners they were seen with).
observations as (
    select * from {{ ref('int_identity_observations') }}
    where identifier in (select identifier from candidates)
),

record_observations as (
    select * from {{ ref('int_identity_observations') }}
    where record_ref in (select record_ref from observations)
),

-- A blocked identifier no record names any more: the rules below judge none, so it leaves as a tombstone.
unobserved as (
    select
        identifier,
        identifier_type,
        identifier_value,
        0 as records,
        0 as linked_crm_ids,
        0 as max_partners_of_one_type,
        cast(null as {{ dbt.type_string() }}) as rule,
        cast(null as {{ dbt.type_string() }}) as reason,
        (select max(_changed_at) from {{ ref('int_identity_observations') }}) as _observations_changed_at
    from {{ this }}
    where identifier not in (select identifier from observations)
),
{% else %}
observations as (
    select * from {{ ref('int_identity_observations') }}
),

record_observations as (
    select * from observations
),
{% endif %}

identifiers as (
    select identifier, identifier_type, identifier_value, count(distinct record_ref) as records
    from observations
    group by identifier, identifier_type, identifier_value
),

-- The candidates and their partners: a block-listed partner must not make a candidate look shared.
record_identifiers as (
    select distinct identifier, identifier_type, identifier_value
    from record_observations
),

block_listed as (
    select record_identifiers.identifier, min(blocklist.reason) as reason
    from record_identifiers
    inner join {{ ref('identity_blocklist') }} as blocklist
        on blocklist.identifier_type = record_identifiers.identifier_type
        and lower(record_identifiers.identifier_value) like blocklist.value_pattern
    group by record_identifiers.identifier
),

-- Links between identifiers of one record, block-listed identifiers left out so they cannot make an
-- innocent identifier look shared.
co_observed as (
    select
        identifier_obs.identifier,
        partner_obs.identifier_type as partner_type,
        partner_obs.identifier as partner
    from observations as identifier_obs
    inner join record_observations as partner_obs
        on partner_obs.record_ref = identifier_obs.record_ref
        and partner_obs.identifier <> identifier_obs.identifier
    where identifier_obs.identifier_type <> 'crm_id'
        and identifier_obs.identifier not in (select identifier from block_listed)
        and partner_obs.identifier not in (select identifier from block_listed)
),

partners_per_type as (
    select identifier, partner_type, count(distinct partner) as partners
    from co_observed
    group by identifier, partner_type
),

-- One person uses many devices, so a cookie count never makes an identifier suspicious; the other way
-- round it does (a shared device seen with several e-mails or logins).
shared as (
    select
        identifier,
        max(case when partner_type = 'crm_id' then partners else 0 end) as linked_crm_ids,
        max(case when partner_type not in ('crm_id', 'anonymous_id') then partners else 0 end)
            as max_partners_of_one_type
    from partners_per_type
    group by identifier
),

-- A device is shared more often than a phone or a card (the family tablet), so it gets the stricter limit.
partner_limits as (
    select
        identifier,
        case
            when identifier_type = 'anonymous_id' then {{ var('identity_max_partners_per_type_for_devices') }}
            else {{ var('identity_max_partners_per_type') }}
        end as max_partners
    from identifiers
),

blocked as (
    select
        identifiers.identifier,
        identifiers.identifier_type,
        identifiers.identifier_value,
        identifiers.records,
        coalesce(shared.linked_crm_ids, 0) as linked_crm_ids,
        coalesce(shared.max_partners_of_one_type, 0) as max_partners_of_one_type,
        case
            when block_listed.identifier is not null then 'blocklist'
            when shared.linked_crm_ids > {{ var('identity_max_crm_ids_per_identifier') }} then 'max_crm_ids'
            when shared.max_partners_of_one_type > partner_limits.max_partners then 'max_partners'
        end as rule,
        case
            when block_listed.identifier is not null then block_listed.reason
            when shared.linked_crm_ids > {{ var('identity_max_crm_ids_per_identifier') }}
                then 'linked to ' || cast(shared.linked_crm_ids as {{ dbt.type_string() }}) || ' CRM ids'
            when shared.max_partners_of_one_type > partner_limits.max_partners
                then 'linked to ' || cast(shared.max_partners_of_one_type as {{ dbt.type_string() }})
                    || ' identifiers of one type'
        end as reason,
        (select max(_changed_at) from {{ ref('int_identity_observations') }}) as _observations_changed_at
    from identifiers
    left join block_listed on block_listed.identifier = identifiers.identifier
    left join shared on shared.identifier = identifiers.identifier
    left join partner_limits on partner_limits.identifier = identifiers.identifier
)

{% if is_incremental() %}
select * from blocked
union all
select * from unobserved
{% else %}
select * from blocked
where rule is not null
{% endif %}
