{#- The business day of a UTC timestamp: KPIs count days as the business sees them, in
    var('business_timezone') (default Europe/Berlin, set through CX_TIMEZONE), not in UTC. A chat at
    23:30 UTC on 31 March is a 1 April contact in Berlin. -#}

{% macro kpi_business_date(utc_timestamp) -%}
    {{ return(adapter.dispatch('kpi_business_date', 'cx_pipeline')(utc_timestamp)) }}
{%- endmacro %}

{% macro default__kpi_business_date(utc_timestamp) -%}
    cast(({{ utc_timestamp }} at time zone 'UTC') at time zone '{{ var("business_timezone") }}' as date)
{%- endmacro %}

{% macro spark__kpi_business_date(utc_timestamp) -%}
    to_date(from_utc_timestamp({{ utc_timestamp }}, '{{ var("business_timezone") }}'))
{%- endmacro %}

{#- The first and last business day of `utc_column` in `relation` (columns first_day, last_day). Converting every
    timestamp costs a time-zone lookup each (1.3 CPU s over the 9.4M touchpoints of 100k customers), so only
    those within a day of the earliest and the latest instant are converted: a later instant can fall on an
    earlier business day only when the clock is set back, and a clock is never set back by a whole day. -#}
{% macro kpi_business_day_bounds(relation, utc_column) -%}
    select
        min({{ kpi_business_date('near_extremes.' ~ utc_column) }}) as first_day,
        max({{ kpi_business_date('near_extremes.' ~ utc_column) }}) as last_day
    from {{ relation }} as near_extremes
    cross join (
        select min({{ utc_column }}) as earliest, max({{ utc_column }}) as latest from {{ relation }}
    ) as extremes
    where near_extremes.{{ utc_column }} < {{ dbt.dateadd('day', 1, 'extremes.earliest') }}
        or near_extremes.{{ utc_column }} > {{ dbt.dateadd('day', -1, 'extremes.latest') }}
{%- endmacro %}
