{#- The counts behind the answer-level KPIs, for kpi_group_by_dimensions: defined once here because kpi_nps,
    kpi_csat and kpi_service_resolution (slices of kpi_metrics) and kpi_metric_slices (entry channel and topic)
    must count the same answers the same way. -#}

{#- NPS over survey responses of type nps: promoters score 9–10, detractors 0–6. -#}
{% macro kpi_nps_counts() -%}
    {{ return({
        'responses': 'count(*)',
        'promoters': 'sum(case when score >= 9 then 1 else 0 end)',
        'detractors': 'sum(case when score <= 6 then 1 else 0 end)',
    }) }}
{%- endmacro %}

{#- CSAT over survey responses of type csat: satisfied answers score 4–5. -#}
{% macro kpi_csat_counts() -%}
    {{ return({
        'responses': 'count(*)',
        'satisfied': 'sum(case when score >= 4 then 1 else 0 end)',
    }) }}
{%- endmacro %}

{#- First contact resolution over service contacts: an issue counts at its first contact when the channel
    has a resolution status; it is resolved at first contact when closed then and no contact follows in 7 days. -#}
{% macro kpi_fcr_counts() -%}
    {{ return({
        'issues': 'sum(case when is_first_contact_of_issue and is_resolved is not null then 1 else 0 end)',
        'issues_resolved_first_contact': 'sum(case when is_first_contact_of_issue and is_resolved
                and not has_contact_within_next_7d then 1 else 0 end)',
    }) }}
{%- endmacro %}
