{#- Aggregates `relation` (columns business_date, channel, segment, persona, the extra keys and the inputs of the
    measures; with add_periods=false it brings period_grain and period_start itself) per period × channel × segment,
    plus 'all' rows (per channel over all segments, per segment over all channels, and the grand total). The 'all'
    rows are grouping sets over the detail rows, never sums of rounded parts, so a median or a distinct count is
    right at every level.

    Customers are segmented two ways, told apart by `segment_type`: 'segment' (the customer's segment, dim_customers)
    and 'persona' (the persona id from behaviour, kpi_persona); totals have segment_type and segment 'all'. A
    persona row needs a persona: the base models always give one (an id, 'no_persona' or 'unknown'), so a relation
    without (a unit-test fixture that leaves the column out) yields no persona rows.

    Every calendar period (ref kpi_calendar) appears for every dimension combination seen in the data: a period
    without events reads 0 in the `counts` measures and null in the `statistics` measures (no responses means
    "no NPS", not an NPS of 0). With by_channel=false the KPI is only sliced by segment and channel is 'all'. -#}

{% macro kpi_group_by_dimensions(relation, counts, statistics={}, by_channel=true, extra_keys=[], add_periods=true) -%}
    {%- set period_keys = ['period_grain', 'period_start'] + extra_keys -%}
    {%- set grouping_sets = [period_keys + ['segment'], period_keys + ['persona'], period_keys] -%}
    {%- if by_channel -%}
        {%- set grouping_sets = [period_keys + ['channel', 'segment'], period_keys + ['channel', 'persona'],
                                 period_keys + ['channel']] + grouping_sets -%}
    {%- endif -%}
    {%- set dimension_keys = ['period_grain', 'channel', 'segment_type', 'segment'] + extra_keys -%}
    with every_grouping as (
        select
            period_grain,
            period_start,
            {% if by_channel -%}
            case when grouping(channel) = 1 then 'all' else channel end as channel,
            {%- else -%}
            'all' as channel,
            {%- endif %}
            case
                when grouping(segment) = 0 then 'segment' when grouping(persona) = 0 then 'persona' else 'all'
            end as segment_type,
            case when grouping(segment) = 0 then segment when grouping(persona) = 0 then persona else 'all' end
                as segment,
            {%- for key in extra_keys %}
            {{ key }},
            {%- endfor %}
            {%- for name, expression in (counts.items() | list) + (statistics.items() | list) %}
            {{ expression }} as {{ name }}{% if not loop.last %},{% endif %}
            {%- endfor %}
        from {% if add_periods %}({{ kpi_with_periods(relation) }}) as with_periods{% else %}{{ relation }}{% endif %}
        group by grouping sets (
            {%- for keys in grouping_sets %}
            ({{ keys | join(', ') }}){% if not loop.last %},{% endif %}
            {%- endfor %}
        )
    ),

    grouped as (
        select * from every_grouping where segment_type <> 'persona' or segment is not null
    ),

    dimension_combinations as (
        select distinct {{ dimension_keys | join(', ') }}
        from grouped
    )

    select
        calendar.period_grain,
        calendar.period_start,
        {%- for key in dimension_keys[1:] %}
        dimension_combinations.{{ key }},
        {%- endfor %}
        {%- for name in counts %}
        coalesce(grouped.{{ name }}, 0) as {{ name }}{% if not loop.last or statistics %},{% endif %}
        {%- endfor %}
        {%- for name in statistics %}
        grouped.{{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ ref('kpi_calendar') }} as calendar
    inner join dimension_combinations
        on dimension_combinations.period_grain = calendar.period_grain
    left join grouped
        on grouped.period_grain = calendar.period_grain
        and grouped.period_start = calendar.period_start
        {%- for key in dimension_keys[1:] %}
        and grouped.{{ key }} = dimension_combinations.{{ key }}
        {%- endfor %}
{%- endmacro %}
