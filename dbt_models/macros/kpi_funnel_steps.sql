{#- The web funnel's steps after the session itself, in order (kpi_web_funnel, kpi_conversion_funnel). -#}
{% macro kpi_funnel_steps() -%}
    {{ return(['product_view', 'add_to_cart', 'checkout', 'purchase']) }}
{%- endmacro %}
