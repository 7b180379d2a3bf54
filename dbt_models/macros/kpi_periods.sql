{#- Reporting periods. Every KPI is read by day, ISO week (starting Monday) and calendar month; the grains
    come from var('kpi_period_grains') so a deployment (or a unit test) can keep fewer. -#}

{% macro kpi_grains() -%}
    {{ return(var('kpi_period_grains')) }}
{%- endmacro %}

{% macro kpi_period_start(grain_column, date_column) -%}
    case {{ grain_column }}
        {%- for grain in kpi_grains() %}
        when '{{ grain }}' then cast({{ dbt.date_trunc(grain, date_column) }} as date)
        {%- endfor %}
    end
{%- endmacro %}

{% macro kpi_period_grains() -%}
    {%- for grain in kpi_grains() %}
    select '{{ grain }}' as period_grain{% if not loop.last %} union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- Every row of `relation` (which has a DATE column business_date) once per grain, with its period_start. -#}
{% macro kpi_with_periods(relation) -%}
    select
        dated.*,
        grains.period_grain,
        {{ kpi_period_start('grains.period_grain', 'dated.business_date') }} as period_start
    from {{ relation }} as dated
    cross join ({{ kpi_period_grains() }}) as grains
{%- endmacro %}
