{#- A seed's table carries the fingerprint of what it was loaded from (the seed file's checksum and the configuration
    that shapes the table) as its comment, so the daily refresh leaves out a seed that would load the same table
    again, with its tests (cx_core/seed_fingerprints.py computes the same fingerprint from the manifest; issue 19).
    DuckDB only: the other targets load every seed. -#}
{% macro record_seed_fingerprint() -%}
    {%- if target.type == 'duckdb' -%}
        comment on table {{ this }} is '{{ seed_fingerprint(model) }}'
    {%- endif -%}
{%- endmacro %}

{% macro seed_fingerprint(seed) -%}
    {%- set shaping = {
        'checksum': seed.checksum.checksum,
        'column_types': seed.config.column_types,
        'delimiter': seed.config.delimiter,
        'quote_columns': seed.config.quote_columns,
    } -%}
    cx seed {{ local_md5(tojson(shaping, sort_keys=True)) }}
{%- endmacro %}
