{#- dbt-spark's own seed loader (dbt/include/spark/macros/materializations/seed.sql), changed in one place: an
    empty cell is inserted as null. Through the `session` method dbt-spark binds every value that is no number
    or date as quoted text, so an empty cell became the text 'None' (case_routing.action of churn-risk cases
    then failed its relationship test to nba_actions). This macro of the root project takes precedence over
    the adapter's. -#}

{% macro spark__load_csv_rows(model, agate_table) %}

  {% set batch_size = get_batch_size() %}
  {% set column_override = model['config'].get('column_types', {}) %}

  {% set statements = [] %}

  {% for chunk in agate_table.rows | batch(batch_size) %}
      {% set bindings = [] %}

      {% for row in chunk %}
          {#- no binding for an empty cell: its placeholder below is a literal null -#}
          {% do bindings.extend(row | reject('none')) %}
      {% endfor %}

      {% set sql %}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for col_name in agate_table.column_names -%}
                  {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                  {%- set type = column_override.get(col_name, inferred_type) -%}
                    cast({{ 'null' if row[loop.index0] is none else get_binding_char() }} as {{type}})
                  {%- if not loop.last%},{%- endif %}
              {%- endfor -%})
              {%- if not loop.last%},{%- endif %}
          {%- endfor %}
      {% endset %}

      {% do adapter.add_query(sql, bindings=bindings, abridge_sql_log=True) %}

      {% if loop.index0 == 0 %}
          {% do statements.append(sql) %}
      {% endif %}
  {% endfor %}

  {# Return SQL so we can render it out into the compiled files #}
  {{ return(statements[0]) }}
{% endmacro %}
