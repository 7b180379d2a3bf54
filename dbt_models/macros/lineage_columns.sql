{#- The lineage columns every staging model keeps (docs/CONVENTIONS.md), with `_ingested_at` in plain UTC
    like every other staging timestamp. -#}

{% macro lineage_columns() -%}
    _source_file,
    _source_line,
    {{ as_utc_timestamp('_ingested_at') }} as _ingested_at
{%- endmacro %}
