{#- A data test's `where` config may name the tested relation as `__this__` (dbt's own macro, which this one
    replaces, offers no name for it): the tests over the large incremental tables check only the keys of the rows
    their latest run wrote, against the whole table (`<key> in (select <key> from __this__ where <stamp> = ...)`),
    which a unique test over 9 million ids does at a fraction of the cost. Every row was checked so by the run
    that wrote it; a full refresh stamps every row and checks them all. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
    {%- do return('(select * from ' ~ relation ~ ' where ' ~ where | replace('__this__', relation | string) ~ ') dbt_subquery') -%}
    {%- else -%}
    {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
