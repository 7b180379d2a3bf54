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
