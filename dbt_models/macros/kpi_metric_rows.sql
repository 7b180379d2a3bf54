{#- The rows every KPI model returns, in the shape of kpi_metrics: period_grain, period_start, channel,
    segment_type, segment, metric, value, numerator, denominator, n, ci_low, ci_high (measures as DOUBLE: portable to DuckDB and Spark,
    where FLOAT would be 4 bytes). `relation` holds one row per period and dimension
    (see kpi_group_by_dimensions); arguments are SQL expressions over its columns. Intervals are 95% (z = 1.96),
    rounded to 4 decimals (they are estimates; the value itself is never rounded).
    With metric_suffix_column the metric name becomes '<metric>__<value of that column>' (e.g. one per topic);
    extra_keys are further columns of `relation` passed through after segment (kpi_metric_slices: dimension, slice). -#}

{% macro kpi_metric_row(metric, value, n, numerator='null', denominator='null', ci_low='null', ci_high='null',
                        relation='aggregated', metric_suffix_column=none, extra_keys=[]) -%}
    select
        period_grain,
        period_start,
        channel,
        segment_type,
        segment,
        {%- for key in extra_keys %}
        {{ key }},
        {%- endfor %}
        {% if metric_suffix_column -%}
        '{{ metric }}__' || {{ metric_suffix_column }}
        {%- else -%}
        '{{ metric }}'
        {%- endif %} as metric,
        cast({{ value }} as double) as value,
        cast({{ numerator }} as double) as numerator,
        cast({{ denominator }} as double) as denominator,
        cast({{ n }} as {{ dbt.type_bigint() }}) as n,
        round(cast({{ ci_low }} as double), 4) as ci_low,
        round(cast({{ ci_high }} as double), 4) as ci_high
    from {{ relation }}
{%- endmacro %}

{#- A share of successes among trials (0..1) with the Wilson score interval; null when there are no trials. -#}
{% macro kpi_rate_row(metric, successes, trials, relation='aggregated', extra_keys=[]) -%}
    {%- set share = kpi_share(successes, trials) -%}
    {%- set z_squared_over_n = '(1.96 * 1.96 / ' ~ kpi_as_float(trials) ~ ')' -%}
    {%- set centre = '((' ~ share ~ ' + ' ~ z_squared_over_n ~ ' / 2) / (1 + ' ~ z_squared_over_n ~ '))' -%}
    {%- set half_width = '(1.96 * sqrt(' ~ share ~ ' * (1 - ' ~ share ~ ') / ' ~ kpi_as_float(trials)
        ~ ' + ' ~ z_squared_over_n ~ ' / (4 * ' ~ kpi_as_float(trials) ~ ')) / (1 + ' ~ z_squared_over_n ~ '))' -%}
    {{ kpi_metric_row(metric, share, trials, successes, trials, centre ~ ' - ' ~ half_width,
                      centre ~ ' + ' ~ half_width, relation, extra_keys=extra_keys) }}
{%- endmacro %}

{#- NPS in points (-100..100) = 100 × (promoter share − detractor share). Its 95% interval uses the variance of
    the difference of the two multinomial shares, (p_P + p_D − (p_P − p_D)²) / n, clipped to [-100, 100]. -#}
{% macro kpi_nps_row(metric, promoters, detractors, responses, relation='aggregated', extra_keys=[]) -%}
    {%- set net_share = '(' ~ kpi_share(promoters ~ ' - ' ~ detractors, responses) ~ ')' -%}
    {%- set half_width = '(1.96 * sqrt((' ~ kpi_share(promoters ~ ' + ' ~ detractors, responses) ~ ' - '
        ~ net_share ~ ' * ' ~ net_share ~ ') / ' ~ kpi_as_float(responses) ~ '))' -%}
    {{ kpi_metric_row(metric, '100 * ' ~ net_share, responses, promoters ~ ' - ' ~ detractors, responses,
                      kpi_clip('100 * (' ~ net_share ~ ' - ' ~ half_width ~ ')', -100, 100),
                      kpi_clip('100 * (' ~ net_share ~ ' + ' ~ half_width ~ ')', -100, 100), relation,
                      extra_keys=extra_keys) }}
{%- endmacro %}

{#- A mean with a normal 95% interval from the sample standard deviation; the interval needs two values. -#}
{% macro kpi_mean_row(metric, value_sum, value_sum_of_squares, values, relation='aggregated') -%}
    {%- set mean = kpi_share(value_sum, values) -%}
    {%- set sum_of_squared_deviations = kpi_clip(value_sum_of_squares ~ ' - ' ~ value_sum ~ ' * ' ~ mean, 0) -%}
    {%- set sample_variance = '(' ~ sum_of_squared_deviations ~ ' / nullif(' ~ values ~ ' - 1, 0))' -%}
    {%- set half_width = '(1.96 * sqrt(' ~ sample_variance ~ ' / ' ~ kpi_as_float(values) ~ '))' -%}
    {{ kpi_metric_row(metric, mean, values, value_sum, values, mean ~ ' - ' ~ half_width,
                      mean ~ ' + ' ~ half_width, relation) }}
{%- endmacro %}

{#- A plain count (the value is the count; no interval). -#}
{% macro kpi_count_row(metric, count, relation='aggregated', metric_suffix_column=none) -%}
    {{ kpi_metric_row(metric, count, count, relation=relation, metric_suffix_column=metric_suffix_column) }}
{%- endmacro %}

{#- numerator / denominator as a float, null when the denominator is 0. -#}
{% macro kpi_share(numerator, denominator) -%}
    (cast({{ numerator }} as double) / nullif({{ denominator }}, 0))
{%- endmacro %}

{#- Limits a value to [lowest, highest] and keeps null as null (greatest/least skip nulls on some engines).
    Also clears the tiny negative rounding residue of a variance computed from sums. -#}
{% macro kpi_clip(expression, lowest, highest=none) -%}
    case
        when {{ expression }} < {{ lowest }} then {{ lowest }}
        {%- if highest is not none %}
        when {{ expression }} > {{ highest }} then {{ highest }}
        {%- endif %}
        else {{ expression }}
    end
{%- endmacro %}

{% macro kpi_as_float(expression) -%}
    cast(nullif({{ expression }}, 0) as double)
{%- endmacro %}
