-- Survey answers with their customer and comment (both from fct_touchpoints: the customer resolved once, the comment
-- redacted once, in int_touchpoints_unioned; redacting every comment again here took 0.65 s of Python per refresh
-- at 100k customers, issue 19).
select
    responses.response_id,
    touchpoints.customer_key,
    responses.responded_at,
    responses.survey_type,
    responses.score,
    touchpoints.text as comment,
    responses.trigger_type,
    responses.trigger_id
from {{ ref('stg_surveys__responses') }} as responses
inner join {{ ref('fct_touchpoints') }} as touchpoints
    on touchpoints.touchpoint_id = 'surveys:' || responses.response_id
