{#- One row per key from an append-only raw table: the latest ingestion wins, within one ingestion the last
    line of the export (the later correction), and the file name only makes ties deterministic.
    The ranking column `_duplicate_rank` stays in the output; staging models select their columns explicitly. -#}

{% macro deduplicate_latest(relation, key_columns) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by _ingested_at desc, _source_line desc, _source_file desc
            ) as _duplicate_rank
        from {{ relation }}
    ) as ranked
    where _duplicate_rank = 1
{%- endmacro %}
