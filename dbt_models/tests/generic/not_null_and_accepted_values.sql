{#- Several columns' not_null and accepted_values rules in one pass over the model. On a staging view every test
    runs the view's deduplication over all raw rows again (1.5 s a test for the 6M web events of 100k
    customers), so the column rules of such a model are checked together. A failing row is reported under the
    first rule it breaks. Nulls pass accepted_values, as in dbt's own test.
    With `stamp`, only the rows the latest run wrote (the latest stamp) are checked: for an incremental table
    whose rows are never changed in place, every earlier row was checked by the run that wrote it, and a full
    refresh stamps every row. -#}

{% test not_null_and_accepted_values(model, not_null=[], accepted_values={}, stamp=none) %}
    select broken_rule, count(*) as rows_breaking_it
    from (
        select
            case
                {%- for column in not_null %}
                when {{ column }} is null then '{{ column }} is null'
                {%- endfor %}
                {%- for column, values in accepted_values.items() %}
                when {{ column }} not in ('{{ values | join("', '") }}') then '{{ column }} not accepted'
                {%- endfor %}
            end as broken_rule
        from {{ model }}
        {%- if stamp %}
        where {{ stamp }} = (select max({{ stamp }}) from {{ model }})
        {%- endif %}
    ) as checked
    where broken_rule is not null
    group by broken_rule
{% endtest %}
