{#- int_identity_observations writes, in an incremental run, only the records in scope: those of the staging rows
    ingested after its watermark, and the records those rows add identifiers to. `expression in (select key from
    scope)` is the condition a source's rows must meet then; `true` when the run builds every record. -#}
{% macro in_scope(expression, scope, incremental) -%}
    {%- if incremental -%}
    {{ expression }} in (select key from {{ scope }})
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}

{#- The staging rows of `source_name` ingested after int_identity_observations' latest row of that source (the
    `watermarks` CTE of that model): per source, because sources are ingested at different times. -#}
{% macro ingested_after_watermark(source_name) -%}
    _ingested_at > (
        select coalesce(max(ingested_at), cast('1900-01-01' as timestamp))
        from watermarks
        where source = '{{ source_name }}'
    )
{%- endmacro %}

{#- The keys (`key`, the record id or the part of it the scope goes by) of the records of `source_name` that retention
    stamped (the `stamped_records` CTE of int_identity_observations): they may have lost rows. -#}
{% macro stamped_keys(source_name, key='record_id') -%}
    select {{ key }} as key from stamped_records where source = '{{ source_name }}'
{%- endmacro %}

{#- After an incremental run of int_identity_observations: the rows still stamped by retention are those of records
    the run found no row of any more (it rewrote every other stamped record). -#}
{% macro delete_records_without_rows() -%}
    {%- if target.type == 'duckdb' -%}
    delete from {{ this }} where _rows_removed_at is not null
    {%- endif -%}
{%- endmacro %}

{#- The identity graph's edges among `observations` (a relation with record_ref and identifier): two identifiers
    seen on one record, both directions (int_identity_edges; int_identity_components over the part in scope). -#}
{% macro identity_edges(observations) -%}
    select distinct
        from_obs.identifier as identifier_from,
        to_obs.identifier as identifier_to
    from {{ observations }} as from_obs
    inner join {{ observations }} as to_obs
        on to_obs.record_ref = from_obs.record_ref
        and to_obs.identifier <> from_obs.identifier
{%- endmacro %}
