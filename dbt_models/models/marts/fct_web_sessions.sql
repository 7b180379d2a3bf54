-- Web and app sessions (int_web_sessions) published for reports and analysts: how far each session went
-- in the shop funnel and whose it was (the login itself and the incremental bookkeeping stay behind).

select
    session_id,
    anonymous_id,
    customer_key,
    is_logged_in,
    platform,
    device,
    utm_source,
    started_at,
    ended_at,
    duration_seconds,
    events,
    page_views,
    has_view_item,
    has_add_to_cart,
    has_begin_checkout,
    has_purchase,
    purchase_value_eur
from {{ ref('int_web_sessions') }}
