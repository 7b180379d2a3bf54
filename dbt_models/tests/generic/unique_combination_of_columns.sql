{#- The primary key of a model that has no single key column: no two rows share the values of these columns.
    dbt_utils has the same test; dbt packages come from hub.getdbt.com, which this project cannot reach
    (offline install from PyPI only), so the project keeps its own. -#}

{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set key = combination_of_columns | join(', ') %}
    select {{ key }}, count(*) as rows_with_this_key
    from {{ model }}
    group by {{ key }}
    having count(*) > 1
{% endtest %}
