-- The web funnel as steps, for funnel charts: sessions reaching each step, the step's conversion from the step
-- before, and the drop-off (1 − conversion).
{%- for step in kpi_funnel_steps() %}
select
    period_grain,
    period_start,
    channel,
    segment,
    {{ loop.index }} as step_order,
    '{{ step }}' as step,
    cast(denominator as {{ dbt.type_bigint() }}) as sessions_at_previous_step,
    cast(numerator as {{ dbt.type_bigint() }}) as sessions_reaching_step,
    value as step_conversion_rate,
    1 - value as drop_off_rate
from {{ ref('kpi_web_funnel') }}
where metric = 'funnel_{{ step }}_rate'
{% if not loop.last %}union all{% endif %}
{%- endfor %}
