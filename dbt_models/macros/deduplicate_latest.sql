{#- One row per key from an append-only raw table: the latest ingestion wins, within one ingestion the last
    line of the export (the later correction), and the file name only makes ties deterministic.
    `where` filters the raw rows before ranking (ingested_after_this_table: only the new rows).
    The ranking column `_duplicate_rank` stays in the output; staging models select their columns explicitly. -#}

{% macro deduplicate_latest(relation, key_columns, where=none) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by _ingested_at desc, _source_line desc, _source_file desc
            ) as _duplicate_rank
        from {{ relation }}
        {%- if where %}
        where {{ where }}
        {%- endif %}
    ) as ranked
    where _duplicate_rank = 1
{%- endmacro %}

{#- In an incremental run of a staging table (delete+insert on its key), the condition on the raw rows ingested
    after the table's latest row, else none. A later ingestion always wins the deduplication, so these rows,
    deduplicated among themselves, replace their keys' rows in the table. The raw column is compared bare (the
    table's UTC timestamp converted instead): DuckDB then skips the older Parquet row groups by their statistics
    (0.03 s instead of 0.8 s over the 6M web events at 100k customers). -#}
{% macro ingested_after_this_table() -%}
    {%- if is_incremental() -%}
    _ingested_at > (
        select timezone('UTC', coalesce(max(_ingested_at), cast('1900-01-01' as timestamp))) from {{ this }}
    )
    {%- endif -%}
{%- endmacro %}
