-- Survey answers with their customer (resolved once, in fct_touchpoints).
select
    responses.response_id,
    touchpoints.customer_key,
    responses.responded_at,
    responses.survey_type,
    responses.score,
    {{ redact_text('responses.comment') }} as comment,  -- personal data out, as in int_touchpoints_unioned
    responses.trigger_type,
    responses.trigger_id
from {{ ref('stg_surveys__responses') }} as responses
inner join {{ ref('fct_touchpoints') }} as touchpoints
    on touchpoints.touchpoint_id = 'surveys:' || responses.response_id
