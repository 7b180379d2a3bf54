"""A tiny warehouse with the documented mart and ML columns, for the report tests (and to develop reports
against before the demo pipeline produces the real marts). Deterministic: values come from hash buckets.

The data covers 1 Sep 2025 to 31 Oct 2026 (so October 2026 is the latest complete month). A few numbers are
set by hand so tests can check the reports' sentences: NPS is 35 (interval 32–38) in September 2026 and 41
(38–44) in October 2026 — a significant rise of 6 points.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from cx_core.settings import REPO_ROOT

AS_OF = date(2026, 10, 31)
CUSTOMER_NAMES = [("Jonas", "Becker"), ("Leonie", "Hartmann"), ("Emre", "Yilmaz"), ("Sophie", "Brandstätter")]
VERBATIM_WITH_PII = (
    "Ich bin Jonas Becker, Paket kam nie an, ruft mich an unter 0171 2345678 oder jonas.becker@example.org"
)
EMERGING_EMAIL = "lena.vogt@example.net"
NPS_BY_MONTH = {date(2026, 9, 1): (35.0, 32.0, 38.0, 400), date(2026, 10, 1): (41.0, 38.0, 44.0, 420)}
# Closed-loop case KPIs (kpi_cases) of the months by hand: metric -> (value, n, ci_low, ci_high) per month.
CASES_BY_MONTH = {
    date(2026, 9, 1): {"cases_opened": (90, 90, None, None), "cases_overdue": (3, 3, None, None)},
    date(2026, 10, 1): {
        "cases_opened": (120, 120, None, None), "cases_closed": (100, 100, None, None),
        "cases_closed_in_time_share": (0.85, 100, 0.77, 0.91), "case_hours_to_close_median": (20.5, 100, None, None),
        "cases_overdue": (6, 6, None, None), "nps_before_case": (-40.0, 50, -60.0, -20.0),
        "nps_after_case": (10.0, 50, -12.0, 32.0),
    },
}

# Random-looking but reproducible: a bucket 0..99 from the row number and a salt.
def _bucket(salt: str, modulo: int = 100, row: str = "i") -> str:
    return f"(hash({row}, '{salt}') % {modulo})::bigint"


TABLES = {
    "channel_taxonomy": f"select * from read_csv('{REPO_ROOT / 'seeds' / 'channel_taxonomy.csv'}')",
    "sla_targets": f"select * from read_csv('{REPO_ROOT / 'seeds' / 'sla_targets.csv'}')",
    "stg_crm_customers__customers": """
        select 'C' || lpad(i::varchar, 3, '0') as customer_id, first_name, last_name
        from (values {names}) as names(i, first_name, last_name)
    """,
    # dim_customers without the ML columns; dim_customers joins them below, after the ML tables exist
    "customer_records": f"""
        select 'K' || lpad(i::varchar, 3, '0') as customer_key, 'C' || lpad(i::varchar, 3, '0') as crm_customer_id,
               ['regular', 'regular', 'vip_omnichannel', 'digital_native'][1 + {_bucket('segment', 4)}] as segment,
               ['DE', 'AT', 'CH'][1 + {_bucket('country', 3)}] as country,
               {_bucket('consent', 10)} < 7 as consent_email, {_bucket('sms', 10)} < 4 as consent_sms,
               {_bucket('phone', 10)} < 5 as consent_phone, {_bucket('push', 10)} < 3 as consent_push,
               50 + {_bucket('ltv', 900)} as lifetime_value_eur, 1 + {_bucket('orders', 8)} as orders_count
        from range(1, 201) as r(i)
    """,
    "fct_touchpoints": f"""
        with rows as (
            select i, 'K' || lpad((1 + i % 200)::varchar, 3, '0') as customer_key,
                   timestamp '2025-09-01 06:00:00' + to_days({_bucket('day', 426)}::integer)
                       + to_hours({_bucket('hour', 14)}::integer) + to_minutes({_bucket('minute', 60)}::integer)
                       as occurred_at,
                   {_bucket('kind', 20)} as kind
            from range(6000) as r(i)
        )
        select 'T' || i as touchpoint_id, customer_key,
               case when i = 11 then timestamp '2026-10-15 09:30:00' else occurred_at end as occurred_at,
               ['web', 'web', 'web', 'web', 'app', 'app', 'web', 'web', 'app', 'web',
                'store', 'email', 'chat_bot', 'chat_agent', 'phone', 'social', 'survey', 'email', 'web', 'app'][1 + kind]
                   as channel,
               'fixture' as source,
               ['page_view', 'page_view', 'view_item', 'view_item', 'page_view', 'view_item', 'add_to_cart',
                'begin_checkout', 'add_to_cart', 'purchase', 'purchase', 'ticket', 'chat', 'chat', 'call', 'post',
                'survey_response', 'email_open', 'login', 'purchase'][1 + kind] as touchpoint_type,
               case when kind = 17 then 'outbound' else 'inbound' end as direction,
               case when kind < 9 or kind = 17 then 'research' when kind in (9, 10, 19) then 'purchase'
                    when kind = 16 then 'loyalty' else 'use_support' end as journey_stage,
               case when i = 11 then '{VERBATIM_WITH_PII}'
                    when kind in (11, 12, 13, 15, 16) then
                        ['Lieferung kam zu spät, sehr ärgerlich', 'Great service, thank you!',
                         'Retoure dauert ewig, keine Rückmeldung', 'Die App stürzt beim Bezahlen ab',
                         'Friendly agent, quick answer', 'Rechnung falsch, zweimal angerufen'][1 + i % 6]
               end as text,
               case when i % 3 = 0 then 'en' else 'de' end as language,
               case when kind in (9, 10, 19) then 20 + {_bucket('value', 180)} end as value_eur,
               'S' || (i // 4) as conversation_ref
        from rows
    """,
    "fct_service_contacts": f"""
        with rows as (
            select i, {_bucket('channel', 20)} as c,
                   timestamp '2025-09-01 07:00:00' + to_days({_bucket('day', 426)}::integer)
                       + to_hours({_bucket('hour', 12)}::integer) + to_minutes({_bucket('minute', 60)}::integer) as contact_at
            from range(3000) as r(i)
        ), typed as (
            select *, ['phone', 'phone', 'phone', 'phone', 'phone', 'phone', 'phone', 'email', 'email', 'email',
                       'email', 'chat_bot', 'chat_bot', 'chat_bot', 'chat_bot', 'chat_agent', 'chat_agent',
                       'social', 'web_form', 'web_form'][1 + c] as channel
            from rows
        )
        select 'SC' || i as contact_id, 'I' || (i // 2) as issue_id,
               'K' || lpad((1 + i % 200)::varchar, 3, '0') as customer_key, contact_at as occurred_at,
               channel as inbound_channel, channel as response_channel,
               case channel when 'email' then 3600 + {_bucket('frt', 40000)} when 'social' then 600 + {_bucket('frt', 3000)}
                            when 'web_form' then 7200 + {_bucket('frt', 40000)} else 10 + {_bucket('frt', 50)} end
                   as first_response_seconds,
               -- about 8% of the calls are abandoned in the queue (no handle time)
               case when channel = 'phone' and {_bucket('abandon')} < 8 then null
                    when channel = 'phone' then 240 + {_bucket('aht', 300)}
                    when channel = 'chat_agent' then 400 + {_bucket('aht', 400)}
                    when channel = 'email' then 300 + {_bucket('aht', 200)} end as handle_seconds,
               case when channel in ('phone', 'chat_agent') then 5 + {_bucket('wait', 60)} end as wait_seconds,
               channel = 'chat_bot' as is_bot,
               channel = 'chat_bot' and {_bucket('handover')} < 40 as bot_handover,
               {_bucket('resolved')} < 80 as resolved,
               i % 2 = 0 as is_first_contact_of_issue,
               {_bucket('repeat')} < 15 as is_repeat_contact_7d,
               contact_at + to_hours(2) as closed_at
        from typed
    """,
    "fct_orders": f"""
        select 'O' || i as order_id, 'K' || lpad((1 + i % 200)::varchar, 3, '0') as customer_key,
               timestamp '2025-09-01 11:00:00' + to_days({_bucket('day', 426)}::integer) as ordered_at,
               ['web', 'app', 'store'][1 + {_bucket('channel', 3)}] as channel,
               case when {_bucket('return')} < 10 then 'return' else 'sale' end as order_type,
               10 + {_bucket('value', 200)} as value_eur
        from range(1500) as r(i)
    """,
    "fct_survey_responses": f"""
        select 'R' || i as response_id, 'K' || lpad((1 + i % 200)::varchar, 3, '0') as customer_key,
               timestamp '2025-09-01 12:00:00' + to_days({_bucket('day', 426)}::integer) as responded_at,
               ['nps', 'nps', 'csat', 'ces'][1 + i % 4] as survey_type,
               case i % 4 when 2 then 1 + {_bucket('s', 5)} when 3 then 1 + {_bucket('s', 7)} else {_bucket('s', 11)} end
                   as score,
               ['Schnelle Lieferung', 'Agent was rude', null, 'Alles gut'][1 + i % 4] as comment,
               ['order', 'ticket', 'call', 'chat'][1 + {_bucket('trigger', 4)}] as trigger_type,
               'X' || i as trigger_id
        from range(1200) as r(i)
    """,
    "fct_journeys": f"""
        with rows as (
            select i, {_bucket('conv')} < 30 as is_converted,
                   ['web > chat_bot > chat_agent', 'web > app', 'app > web', 'web > phone', 'store',
                    'web > chat_bot > chat_agent > web', 'email > web', 'web'][1 + {_bucket('path', 8)}] as channel_path,
                   timestamp '2025-09-01 10:00:00' + to_days({_bucket('day', 420)}::integer) as started_at
            from range(900) as r(i)
        )
        select 'J' || i as journey_id, 'K' || lpad((1 + i % 200)::varchar, 3, '0') as customer_key, started_at,
               started_at + to_hours(2 + {_bucket('ttc', 100)}::integer) as ended_at, channel_path,
               length(channel_path) - length(replace(channel_path, '>', '')) as channel_switches,
               is_converted,
               case when is_converted then 'purchase' when i % 3 = 0 then 'resolved_service_issue'
                    else 'abandoned' end as outcome,
               case when is_converted then started_at + to_hours(2 + {_bucket('ttc', 100)}::integer) end
                   as first_purchase_at
        from rows
    """,
    "fct_channel_transitions": f"""
        with pairs(from_channel, to_channel, weight) as (
            values ('web', 'app', 30), ('app', 'web', 25), ('web', 'chat_bot', 20), ('chat_bot', 'chat_agent', 12),
                   ('web', 'phone', 8), ('email', 'web', 15), ('chat_agent', 'web', 5)
        )
        select 'month' as period_grain, cast(range as date) as period_start, from_channel, to_channel,
               weight + {_bucket('noise', 5, 'from_channel || to_channel || range')} as transitions,
               weight as customers, 3600.0 * weight as median_seconds_between
        from pairs cross join range(date '2025-09-01', date '2026-11-01', interval 1 month)
    """,
    "fct_web_sessions": f"""
        select 'A' || i || '#1' as session_id, 'K' || lpad((1 + i % 200)::varchar, 3, '0') as customer_key,
               timestamp '2025-09-01 08:00:00' + to_days({_bucket('day', 426)}::integer) as started_at,
               ['web', 'app'][1 + i % 2] as platform,
               {_bucket('funnel')} < 60 as has_view_item, {_bucket('funnel')} < 25 as has_add_to_cart,
               {_bucket('funnel')} < 15 as has_begin_checkout, {_bucket('funnel')} < 8 as has_purchase
        from range(4000) as r(i)
    """,
    "ml_sentiment": f"""
        select touchpoint_id,
               case when text = '{VERBATIM_WITH_PII}' then 'negative'
                    else ['negative', 'neutral', 'positive'][1 + {_bucket('label', 3, 'touchpoint_id')}] end
                   as label,
               ({_bucket('score', 200, 'touchpoint_id')} - 100) / 100.0 as score, 'fixture-1' as model_version
        from fct_touchpoints where text is not null
    """,
    "ml_text_insights": f"""
        with topics as (
            select touchpoint_id, {_bucket('topic', 5, 'touchpoint_id')} as k from fct_touchpoints where text is not null
        )
        select touchpoint_id, ['delivery', 'returns_refunds', 'other', 'payment_billing', 'store_experience'][1 + k]
                   as topic,
               ['Delivery', 'Returns & refunds', 'Other', 'Payment & billing', 'Store experience'][1 + k] as topic_label
        from topics
    """,
    # one new theme of the last week (its second verbatim still carries an e-mail: the report masks again) and
    # one steady theme
    "ml_emerging_topics": f"""
        select * from (values
            (1, 'new', 14, 0, 1.56, null::double, 1e-9, 3e-9, true, 'app, voucher, crashes',
             'app, gutschein, stürzt', ['Die App stürzt beim Scannen des Gutscheins ab.',
             'The app crashes when I scan my voucher, write to {EMERGING_EMAIL}', 'Gutschein scannen: App stürzt ab'],
             date '2026-10-25', date '2026-10-31'),
            (2, 'steady', 20, 160, 20.45, 0.98, 0.61, 0.61, false, 'parcel, late', 'paket, lieferung',
             ['Paket kommt nicht', 'Where is my parcel?', 'Lieferung verspätet'], date '2026-10-25', date '2026-10-31')
        ) as themes(theme, status, texts_latest, texts_earlier, expected_latest, growth, p_value, p_adjusted,
                    significant, top_words_en, top_words_de, verbatims, period_start, period_end)
    """,
    "ml_churn_scores": f"""
        with scored as (
            select customer_key, {_bucket('p', 1000, 'customer_key')} / 1000.0 as churn_probability,
                   ['no purchase for 60+ days', 'repeat service contacts', 'negative sentiment',
                    'fewer orders than usual'][1 + {_bucket('reason', 4, 'customer_key')}] as top_reason
            from customer_records
        )
        select customer_key, date '2026-10-31' as as_of_date, churn_probability,
               case when churn_probability >= 0.6 then 'high' when churn_probability >= 0.3 then 'medium'
                    else 'low' end as risk_band,
               top_reason
        from scored
    """,
    # Every customer worth 100 € in the next 12 months: value at risk = its churn probability × 100.
    "ml_customer_value": """
        select customer_key, date '2026-10-31' as as_of_date, 365 as horizon_days, 0.8 as probability_alive,
               2.0 as expected_purchases, 1.0 as purchases_low, 4.0 as purchases_high,
               50.0 as expected_spend_per_purchase_eur, 100.0 as expected_value_eur,
               20.0 as value_low_eur, 220.0 as value_high_eur
        from customer_records
    """,
    "ml_customer_value_model_card": """
        select * from (values
            ('quality', 'predicted_value_total_eur', 12000.0, null), ('quality', 'actual_value_total_eur', 11000.0, null),
            ('quality', 'decile_value_correlation', 0.98, null), ('setup', 'holdout_days', 182.0, null),
            ('decile_predicted_value_eur', '1', 300.0, '20 customers'), ('decile_actual_value_eur', '1', 280.0, '20 customers'),
            ('decile_predicted_value_eur', '2', 100.0, '20 customers'), ('decile_actual_value_eur', '2', 110.0, '20 customers')
        ) as card(section, metric, value, detail)
    """,
    "ml_personas": f"""
        select customer_key, 'P0' || (1 + {_bucket('persona', 2, 'customer_key')}) as persona_id,
               ['Frequent store shoppers', 'Newsletter-reading web shoppers'][1 + {_bucket('persona', 2, 'customer_key')}]
                   as persona_name, date '2026-10-31' as as_of_date
        from customer_records
    """,
    "ml_persona_profiles": """
        select * from (values
            ('P01', 'Frequent store shoppers', 'Buys every 6 weeks, mostly in the store.', 120, 0.6, 30.0, 150.0, 0.3,
             'store', 'phone', 'purchase_share_store +2.0 sd'),
            ('P02', 'Newsletter-reading web shoppers', 'Buys every 12 weeks, mostly on the web.', 80, 0.4, -5.0, 90.0, 0.5,
             'web', 'email', 'email_open_rate +1.1 sd')
        ) as profiles(persona_id, persona_name, description, customers, customer_share, nps,
                      expected_value_12m_eur_mean, churn_probability_mean, preferred_purchase_channel,
                      preferred_service_channel, distinguishing_features)
    """,
    "ml_persona_drift": """
        select * from (values
            ('P01', 120, date '2026-10-31', 100, true, 'size changed'),
            ('P02', 80, date '2026-10-31', 82, false, null)
        ) as drift(persona_id, customers, as_of_date, customers_previous, review, review_reason)
    """,
    "dim_customers": """
        select customers.*, personas.persona_id, personas.persona_name,
               value.expected_purchases as expected_purchases_12m, value.expected_value_eur as expected_value_12m_eur,
               value.value_low_eur as expected_value_12m_low_eur, value.value_high_eur as expected_value_12m_high_eur
        from customer_records as customers
        left join ml_personas as personas using (customer_key)
        left join ml_customer_value as value using (customer_key)
    """,
    "ml_churn_model_card": """
        select * from (values
            ('quality', 'roc_auc', 0.78, null), ('quality', 'lift_top_decile', 3.4, null),
            ('quality', 'base_rate', 0.12, null), ('quality', 'bgnbd_baseline_roc_auc', 0.66, null),
            ('quality', 'evaluation_customers', 200, null), ('setup', 'horizon_days', 90, null),
            ('feature_importance', 'days_since_last_order', 0.12, null),
            ('feature_importance', 'service_contacts_90d', 0.05, null),
            ('feature_importance', 'negative_text_share', 0.02, null)
        ) as card(section, metric, value, detail)
    """,
    "ml_next_best_actions": f"""
        with chosen as (
            select customer_key, churn_probability,
                   ['service_recovery_call', 'winback_voucher', 'loyalty_invite'][1 + {_bucket('action', 3, 'customer_key')}]
                       as offer
            from ml_churn_scores
        )
        select customer_key, case when churn_probability > 0.5 then offer else 'no_action' end as action,
               case when churn_probability > 0.5 then replace(offer, '_', ' ') else 'no action' end as label,
               case when churn_probability > 0.5 then ['phone', 'email', 'push'][1 + {_bucket('action', 3, 'customer_key')}]
               end as channel,
               case when churn_probability > 0.5 then 5 + {_bucket('ev', 40, 'customer_key')} else 0 end
                   as expected_value_eur,
               case when churn_probability > 0.5 then 'high churn risk and an open complaint'
                    else 'nothing to offer right now' end as reason
        from chosen
    """,
    # Workforce: two forecast channels for the two weeks after the as-of date with their backtest, the cleaned
    # days, a staffing plan and four weeks of plan against actual.
    "holidays": f"select * from read_csv('{REPO_ROOT / 'seeds' / 'holidays.csv'}')",
    "fct_marketing_contacts": """
        select timestamp '2026-10-01 09:00:00' + to_days((i % 31)::integer) as sent_at from range(200) as r(i)
    """,
    "ml_contact_forecast": """
        with days as (
            select channel, (date '2026-11-01' + to_days(d::integer))::date as day,
                   case channel when 'phone' then 120 else 40 end * case when isodow(date '2026-11-01' + to_days(d::integer)) > 5
                       then 0.4 else 1 end as forecast
            from range(14) as r(d), (values ('phone'), ('email')) as c(channel)
        ),
        slots as (select 480 + 30 * s as slot from range(20) as r(s))
        select channel, 'all' as queue, 'day' as granularity, day::timestamp as interval_start, day, forecast,
               forecast * 0.85 as lower_80, forecast * 1.15 as upper_80, forecast * 0.75 as lower_95,
               forecast * 1.25 as upper_95, 'holt_winters' as model, date '2026-10-31' as as_of_date
        from days
        union all
        select channel, 'all', '30min', day::timestamp + to_minutes(slot::integer), day, forecast / 20,
               forecast / 20 * 0.85, forecast / 20 * 1.15, forecast / 20 * 0.75, forecast / 20 * 1.25,
               'holt_winters', date '2026-10-31'
        from days, slots
    """,
    "ml_forecast_backtest": """
        select channel, 'all' as queue, model, wape, wape * 1.3 as mape, 0.02 as bias, 0.8 as coverage_80,
               0.95 as coverage_95, 504 as days, 336 as coverage_days, 12 as origins, model = 'holt_winters' as chosen,
               date '2026-10-31' as as_of_date
        from (values ('seasonal_naive', 0.15), ('weekday_mean', 0.14), ('holt_winters', 0.13), ('gbm_calendar', 0.135),
                     ('combined', 0.131)) as m(model, wape),
             (values ('phone'), ('email')) as c(channel)
    """,
    "ml_forecast_cleaned_days": """
        select * from (values
            ('phone', 'all', date '2026-10-03', 12.0, 80.0, 'holiday: German Unity Day', date '2026-10-31'),
            ('phone', 'all', date '2026-09-15', 604.0, 110.0, 'outlier: 604 contacts where about 110 were usual',
             date '2026-10-31')
        ) as t(channel, queue, day, contacts, expected, reason, as_of_date)
    """,
    "ml_staffing_plan": """
        select channel, 'all' as queue, interval_start, forecast as contacts,
               case channel when 'phone' then 'erlang_a' else 'backlog' end as staffing_model,
               ceil(forecast / 2)::bigint as agents_required, ceil(forecast / 2 / 0.7)::bigint as agents_scheduled,
               case channel when 'phone' then 0.82 end as expected_service_level,
               case channel when 'phone' then 12.0 end as asa_seconds,
               case channel when 'phone' then 0.03 end as abandonment,
               case channel when 'phone' then ceil(forecast / 2)::bigint + 1 end as erlang_c_agents
        from ml_contact_forecast where granularity = '30min'
    """,
    "ml_staffing_adherence": """
        select 'phone' as channel, timestamp '2026-10-04 08:00:00' + to_days((i // 20)::integer)
                   + to_minutes((30 * (i % 20))::integer) as interval_start,
               6.0 as forecast_contacts, 3 as planned_agents, 0.85 as expected_service_level,
               0.03 as expected_abandonment, 6 as offered_contacts, 4 as answered_within_target,
               1 as abandoned_contacts, 3 as agents_seen, 4 / 6 as service_level_reached,
               1 / 6 as abandonment_reached
        from range(560) as r(i)
    """,
}


def _kpi_metrics_sql() -> str:
    """kpi_metrics for months Sep 2025..Oct 2026 in the documented long shape; NPS of the last two months by hand."""
    series = [
        # metric, channel, base value, amplitude, interval half-width, target
        ("nps", "all", 30.0, 6.0, 3.0, 40.0),
        ("csat", "all", 0.82, 0.04, 0.02, 0.85),
        ("ces", "all", 5.2, 0.3, 0.1, 5.5),
        ("journey_conversion_rate", "all", 0.11, 0.02, 0.01, 0.12),
        ("churn_rate", "all", 0.06, 0.01, 0.004, 0.05),
        ("fcr_rate", "all", 0.72, 0.05, 0.02, 0.75),
        ("first_response_median_seconds", "all", 5400.0, 1200.0, None, None),
        ("aht_seconds", "all", 430.0, 40.0, 12.0, 420.0),
        ("bot_containment_rate", "all", 0.58, 0.05, 0.03, 0.6),
        ("csat", "phone", 0.84, 0.03, 0.03, 0.85),
        ("csat", "email", 0.78, 0.04, 0.04, 0.85),
        ("csat", "chat_agent", 0.86, 0.03, 0.04, 0.85),
        ("fcr_rate", "phone", 0.76, 0.04, 0.03, 0.75),
        ("fcr_rate", "email", 0.64, 0.05, 0.04, 0.75),
        ("fcr_rate", "chat_agent", 0.73, 0.05, 0.05, 0.75),
        ("aht_seconds", "phone", 390.0, 30.0, 10.0, 420.0),
        ("aht_seconds", "chat_agent", 610.0, 50.0, 20.0, 600.0),
        ("first_response_median_seconds", "email", 13000.0, 2000.0, None, 14400.0),
        ("first_response_median_seconds", "social", 1500.0, 400.0, None, 1800.0),
        ("sla_attainment", "phone", 0.79, 0.05, 0.02, 0.8),
        ("sla_attainment", "email", 0.83, 0.04, 0.03, 0.8),
        ("sla_attainment", "chat_agent", 0.81, 0.05, 0.04, 0.8),
        ("sla_attainment", "social", 0.76, 0.06, 0.06, 0.8),
    ]
    values = ", ".join(
        f"('{m}', '{c}', {base}, {amp}, {'null' if hw is None else hw}, {'null' if t is None else t})"
        for m, c, base, amp, hw, t in series
    )
    case_rows = ", ".join(
        f"(date '{month}', '{metric}', {value}, {n}, {'null' if low is None else low}, {'null' if high is None else high})"
        for month, metrics in CASES_BY_MONTH.items() for metric, (value, n, low, high) in metrics.items()
    )
    hand_set = ", ".join(f"(date '{d}', {v}, {lo}, {hi}, {n})" for d, (v, lo, hi, n) in NPS_BY_MONTH.items())
    return f"""
        with series(metric, channel, base, amplitude, half_width, target) as (values {values}),
        months as (select cast(range as date) as period_start
                   from range(date '2025-09-01', date '2026-11-01', interval 1 month)),
        generated as (
            select 'month' as period_grain, period_start, channel, 'all' as segment, metric,
                   base + amplitude * sin(month(period_start) / 2.0) as value, half_width, target,
                   300 + (hash(metric, channel, period_start) % 200)::bigint as n
            from series cross join months
        ),
        valued as (
            select generated.* replace (coalesce(hand.value, generated.value) as value,
                                        coalesce(hand.n, generated.n) as n),
                   coalesce(hand.ci_low, generated.value - half_width) as ci_low,
                   coalesce(hand.ci_high, generated.value + half_width) as ci_high
            from generated
            left join (values {hand_set}) as hand(period_start, value, ci_low, ci_high, n)
                on generated.metric = 'nps' and generated.channel = 'all' and hand.period_start = generated.period_start
        )
        select period_grain, period_start, channel, 'all' as segment_type, segment, metric, value::double as value,
               null::double as numerator, null::double as denominator, n, ci_low::double as ci_low,
               ci_high::double as ci_high, (lag(value) over w)::double as previous_value,
               (value - lag(value) over w)::double as change_vs_previous,
               target::double as target, (value - target)::double as change_vs_target,
               null::varchar as value_missing_reason
        from valued
        window w as (partition by metric, channel, segment order by period_start)
        union all
        select 'month', period_start, 'all', 'all', 'all', metric, value, null, null, n, ci_low, ci_high, null, null,
               null, null, null
        from (values {case_rows}) as cases(period_start, metric, value, n, ci_low, ci_high)
    """


# What kpi_alerts and kpi_change_drivers leave for the scorecard: a critical change with its cause, an info one.
ALERT_TABLES = {
    "kpi_alerts": """
        select * from (values
            ('critical', 'nps', 'week', date '2026-10-26', 'all', 'all', 'change_vs_previous', -8.0,
             'Weekly NPS (all channels, all segments, 2026-10-26) fell to 28.0 from 36.0.'),
            ('critical', 'nps', 'week', date '2026-10-26', 'phone', 'all', 'change_vs_previous', -7.0,
             'Weekly NPS (phone, all segments, 2026-10-26) fell to 29.0 from 36.0.'),
            ('info', 'nps', 'month', date '2026-10-01', 'all', 'all', 'change_vs_previous', 6.0,
             'Monthly NPS (all channels, all segments, 2026-10-01) rose to 41.0 from 35.0.')
        ) as alerts(severity, metric, period_grain, period_start, channel, segment, kind, difference, sentence)
    """,
    "kpi_change_driver_sentences": """
        select 'nps' as metric, 'week' as period_grain, date '2026-10-26' as period_start,
               'NPS fell 8.0; -5.0 of it comes from segment vip.' as sentence
    """,
}
# The case lists (kpi_open_case_lists): 9 overdue in all, as the months' cases_overdue add up (3 + 6).
CASE_TABLES = {
    "kpi_open_case_lists": """
        select * from (values
            ('detractor', 'Detractor answer', 'cx_recovery', 12::bigint, 5::bigint),
            ('urgent_text', 'Urgent negative text', 'escalations', 7, 4),
            ('repeated_contact', 'Repeated unresolved contact', 'service_desk', 3, 0),
            ('churn_risk', 'High churn risk', 'retention_team', 2, 0)
        ) as lists(case_type, case_label, owner_team, open_cases, overdue_cases)
        cross join (select timestamp '2026-10-31 18:00:00' as status_as_of)
    """,
}


def build_report_warehouse(path: Path) -> Path:
    """Create the fixture warehouse at `path` (overwriting it) and return the path."""
    path.unlink(missing_ok=True)
    names = ", ".join(f"({i}, '{first}', '{last}')" for i, (first, last) in enumerate(CUSTOMER_NAMES, start=1))
    with duckdb.connect(str(path)) as con:
        con.execute("SET TimeZone = 'UTC'")
        for table, sql in TABLES.items():
            con.execute(f"create table {table} as {sql.format(names=names)}")
        con.execute(f"create table kpi_metrics as {_kpi_metrics_sql()}")
        for table, sql in {**ALERT_TABLES, **CASE_TABLES}.items():
            con.execute(f"create table {table} as {sql}")
    return path
