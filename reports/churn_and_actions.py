# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
# Churn and next best actions: how churn risk is distributed, which segments are at risk and why, how good
# the model is (in plain words), and the action plan: how many customers get which action on which channel,
# with its expected value, prioritised by value at risk (churn probability × expected 12-month value). Reads
# ml_churn_scores, ml_churn_model_card, ml_next_best_actions, dim_customers, ml_customer_value.
warehouse_path = "../data/warehouse.duckdb"
as_of = None  # ISO date, or None for the day of the newest data
number_locale = "en"  # "de" for German number formats
business_timezone = "Europe/Berlin"
hold_connection = False  # True when the pipeline renders it: one warehouse connection for the notebook
currency = "EUR"  # CX_CURRENCY: the currency of every amount in the warehouse (columns named *_eur keep their names)
churn_auc_floor = 0.70  # CX_CHURN_AUC_FLOOR: the ROC AUC the model must reach (its headline is on target from there)

# %%
import plotly.graph_objects as go
import polars as pl

import cxreport as cx
from ml.value_at_risk import value_at_risk

RISK_BANDS = ["high", "medium", "low"]  # as the churn model bands its probabilities
TOP_FEATURES = 5
TOP_REASONS = 8
TOP_PRIORITY_CUSTOMERS = 15

report = cx.Report("Churn and next best actions", warehouse_path, as_of, number_locale, business_timezone,
                   hold_connection=hold_connection)
fmt = report.fmt


def money(amount: float | None) -> str:
    return f"{fmt.number(amount)} {currency}"

scores_missing = report.missing({"ml_churn_scores": ["customer_key", "churn_probability", "risk_band"],
                                 "dim_customers": ["customer_key", "segment"]})
# The churn model may have been skipped (too short a history): its card then holds the reason.
skip_reasons = [] if report.missing({"ml_churn_model_card": ["section", "metric", "detail"]}) else report.query(
    "select detail from ml_churn_model_card where section = 'status' and metric = 'skipped'")["detail"].to_list()
skip_reason = skip_reasons[0] if skip_reasons else None


def say_churn_skipped() -> None:
    report.say(f"**Churn scores: not available.** The churn model was not trained: {skip_reason}")


# %%
if scores_missing:
    report.header("Churn scores are not available yet.")
    report.unavailable("Churn scores", scores_missing)
elif skip_reason:
    report.header("Churn scores are not available for this data (the reason is below).")
    say_churn_skipped()
else:
    scores = report.query(
        """
        select scores.customer_key, scores.churn_probability::double as churn_probability,
               coalesce(customers.segment, 'unknown') as segment, scores.risk_band
        from ml_churn_scores as scores
        left join dim_customers as customers on customers.customer_key = scores.customer_key
        """
    )
    at_risk = scores.filter(risk_band="high")
    lowest_high = at_risk["churn_probability"].min()
    summary = (
        f"The churn model scored **{fmt.number(scores.height)} customers**. **{fmt.number(at_risk.height)}** "
        f"({fmt.percent(at_risk.height / scores.height if scores.height else None)}) are at high risk"
        + (f" (a churn probability of {fmt.percent(lowest_high)} or more)" if lowest_high is not None else "")
        + ": they are the focus of the action plan below."
    )
    report.header(summary)
    report.headline("Customers at high risk", fmt.number(at_risk.height))

# %%
# Loaded once: "What to do next" ranks what the sections below show in detail.
value_missing = scores_missing + report.missing({"ml_customer_value": ["customer_key", "expected_value_eur"]})
risk = None if value_missing or skip_reason else value_at_risk(
    scores, report.query("select customer_key, expected_value_eur from ml_customer_value")
).join(scores.select("customer_key", "segment", "risk_band"), on="customer_key")
actions_missing = report.missing({"ml_next_best_actions": ["customer_key", "action", "channel", "expected_value_eur"]})
# The plan has one row per active customer; "no_action" rows are customers left alone on purpose.
action_name = "label" if not report.missing({"ml_next_best_actions": ["label"]}) else "replace(action, '_', ' ')"
plan = None if actions_missing else report.query(
    f"""
    select {action_name} as action, channel, count(distinct customer_key) as customers,
           sum(expected_value_eur)::double as expected_value_eur
    from ml_next_best_actions where action <> 'no_action' group by all order by expected_value_eur desc
    """
)
card_missing = report.missing({"ml_churn_model_card": ["section", "metric", "value"]})
card = None if card_missing else report.query("select section, metric, value::double as value from ml_churn_model_card")
quality = {} if card is None else dict(card.filter(section="quality").select("metric", "value").iter_rows())
# When the model that scored today was trained (a refresh rescores with a stored model; ml/churn_rescoring.py).
trained_at = None if report.missing({"ml_churn_model_card": ["section", "metric", "detail"]}) else report.query(
    "select detail from ml_churn_model_card where section = 'setup' and metric = 'trained_at'")["detail"].to_list()

# %%
report.section("What to do next", "The findings below with the most expected value at stake, each with how sure "
               "it is and where to act; the sections after it show the detail.")
model_quality = (
    f"the model ranks a customer who churns above one who stays {fmt.percent(quality['roc_auc'])} of the time "
    f"(backtest ROC AUC {fmt.number(quality['roc_auc'], 2)}; 50% would be guessing)."
    if "roc_auc" in quality else "the model's backtest quality is not available."
)
findings = []
# a win-back only the high churn risk rule allows opens a case: the high-risk finding names their case list
churn_cases = cx.open_case_lists(report).get("churn_risk")
case_export = cx.case_export_file(as_of, business_timezone)
if risk is not None and risk.height:
    high_risk = risk.filter(risk_band="high")
    high_value = high_risk["value_at_risk_eur"].sum()
    findings.append(cx.Finding(
        f"**{money(high_value)}** of the next 12 months' expected value is at risk with the "
        f"**{fmt.number(high_risk.height)} high-risk customers**.",
        model_quality,
        "give each of them the action of the plan, highest value at risk first (see Who to contact first)"
        + (f"; those with a win-back are cases already: "
           f"{cx.case_lists_action(fmt, [churn_cases], case_export, cx.link_token(0))}." if churn_cases else "."),
        high_value,
    ))
    segments = risk.group_by("segment").agg(pl.len().alias("customers"), pl.col("value_at_risk_eur").sum())
    top_segment = segments.sort("value_at_risk_eur", descending=True).row(0, named=True)
    total_risk = risk["value_at_risk_eur"].sum()
    findings.append(cx.Finding(
        f"Segment **{cx.words(top_segment['segment'])}** holds **{money(top_segment['value_at_risk_eur'])}** "
        f"({fmt.percent(top_segment['value_at_risk_eur'] / total_risk if total_risk else None)}) of the value at "
        f"risk, over {fmt.number(top_segment['customers'])} customers.",
        model_quality,
        "read why its customers are at risk (see Why customers are at risk) and work its customers in the plan.",
        top_segment["value_at_risk_eur"],
    ))
if plan is not None and plan.height:
    largest = plan.row(0, named=True)
    findings.append(cx.Finding(
        f"The largest item of the plan is *{largest['action']}* for **{fmt.number(largest['customers'])} "
        f"customers**, expected value **{money(largest['expected_value_eur'])}**.",
        "expected, from the response rates of past contacts net of the purchases customers make anyway (the "
        "conversion of the campaigns' held-out customers where enough were measured).",
        "hand the action list (one row per customer with action, channel and reason) to the CRM; the held-out "
        "customers it marks get nothing.",
        largest["expected_value_eur"],
    ))
if findings:
    report.say(cx.next_steps_markdown(findings), links=[cx.CASE_LISTS_LINK])
else:
    report.say("Nothing to rank yet: the churn scores, value estimates and action plan are not available (the "
               "sections below say why).")

# %%
if not scores_missing and not skip_reason and scores.height:
    band_counts = dict(scores.group_by("risk_band").len().iter_rows())
    report.section("Risk distribution", "Customers by predicted churn probability, coloured by the model's risk "
                   "band: " + ", ".join(f"{band} {fmt.number(band_counts.get(band, 0))}" for band in RISK_BANDS) + ".")
    band_colours = {"high": cx.style.BAD_COLOUR, "medium": "#e0a458", "low": "#9aa5b1"}
    figure = go.Figure([
        go.Histogram(x=(rows["churn_probability"] * 100).to_list(), xbins=dict(start=0, end=100, size=5),
                     name=f"{band} risk", marker_color=band_colours[band])
        for band in RISK_BANDS if (rows := scores.filter(risk_band=band)).height
    ])
    figure.update_layout(barmode="stack", xaxis=dict(title="churn probability", ticksuffix=fmt.percent_sign,
                                                     range=[0, 100]), yaxis_title="customers", bargap=0.05)
    report.chart(figure, height=320)

    report.section("At-risk segments", "Share of each customer segment at high risk.")
    segments = (scores.group_by("segment").agg(customers=pl.len(), at_risk=(pl.col("risk_band") == "high").sum())
                .with_columns(share=pl.col("at_risk") / pl.col("customers")).sort("share", descending=True))
    riskiest = segments.row(0, named=True)
    report.say(f"The **{cx.words(riskiest['segment'])}** segment is most at risk: {fmt.percent(riskiest['share'])} of its "
               f"{fmt.number(riskiest['customers'])} customers are high risk.")
    report.table(segments, {
        "segment": cx.Column("Segment", cx.words),
        "customers": cx.Column("Customers", fmt.number, numeric=True),
        "at_risk": cx.Column("High risk", fmt.number, numeric=True),
        "share": cx.Column("Share at high risk", fmt.percent, numeric=True),
    })

# %%
report.section("Value at risk", "What churn would cost: each customer's churn probability × the value they are "
               "expected to bring in the next 12 months (BG/NBD × Gamma-Gamma, ml_customer_value).")
if value_missing:
    report.unavailable("Value at risk", value_missing)
elif skip_reason:
    say_churn_skipped()
else:
    total_at_risk, total_value = risk["value_at_risk_eur"].sum(), risk["expected_value_eur"].sum()
    high_share = risk.filter(risk_band="high")["value_at_risk_eur"].sum() / total_at_risk if total_at_risk else None
    report.say(
        f"Of **{money(total_value)}** expected from these customers in the next 12 months, "
        f"**{money(total_at_risk)}** is at risk; the high-risk band holds {fmt.percent(high_share)} of it."
    )
    report.headline("Value at risk, 12 months", money(total_at_risk))
    report.table(
        risk.group_by("segment").agg(customers=pl.len(), value_at_risk_eur=pl.col("value_at_risk_eur").sum())
        .sort("value_at_risk_eur", descending=True),
        {"segment": cx.Column("Segment", cx.words), "customers": cx.Column("Customers", fmt.number, numeric=True),
         "value_at_risk_eur": cx.Column("Value at risk", money, numeric=True)},
    )

# %%
report.section("Why customers are at risk", "The main reason the model gives for each high-risk customer. Reasons "
               "name the customer's own numbers, so reasons that differ only in their numbers count as one kind; "
               "the chart shows a typical sentence of each kind.")
reasons_missing = scores_missing + report.missing({"ml_churn_scores": ["top_reason"]})
if reasons_missing:
    report.unavailable("Churn reasons", reasons_missing)
elif skip_reason:
    say_churn_skipped()
else:
    number_words = "|".join(["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                             "eleven", "twelve"])
    reasons = report.query(
        f"""
        with stated as (
            select top_reason as reason,
                   regexp_replace(regexp_replace(top_reason, '\\d+', '#', 'g'), '\\b({number_words})\\b', '#', 'g')
                       as kind
            from ml_churn_scores where risk_band = 'high' and top_reason is not null
        )
        select kind, count(*) as customers, mode(reason) as example
        from stated group by kind order by customers desc, kind
        """
    )
    unstated = report.query(
        "select count(*) as customers from ml_churn_scores where risk_band = 'high' and top_reason is null"
    )["customers"][0]
    if reasons.height:
        top, stated = reasons.row(0, named=True), reasons["customers"].sum()
        report.say(
            f"The most common kind of reason is like *{top['example']}* ({fmt.percent(top['customers'] / stated)} "
            f"of the {fmt.number(stated)} high-risk customers with a reason)."
            + (f" For {fmt.number(unstated)} more, no single warning sign stands out." if unstated else "")
        )
        shown = reasons.head(TOP_REASONS)
        figure = go.Figure(go.Bar(y=shown["example"], x=shown["customers"], orientation="h",
                                  marker_color=cx.style.BAD_COLOUR))
        figure.update_layout(xaxis_title="high-risk customers", yaxis=dict(autorange="reversed"))
        report.chart(figure, height=max(220, 40 * shown.height + 80))
    else:
        report.nothing_in_period("reasons given for high-risk customers", "the latest scoring")

# %%
report.section("How good is the model?", "The backtest trains on the past and checks the predictions against "
               "what customers did afterwards.")
if card_missing:
    report.unavailable("The model card", card_missing)
elif skip_reason:
    say_churn_skipped()
else:
    sentences = []
    if "roc_auc" in quality:
        sentences.append(
            f"Given one customer who churned and one who stayed, the model ranks the churner as riskier "
            f"**{fmt.percent(quality['roc_auc'])} of the time** (ROC AUC {fmt.number(quality['roc_auc'], 2)}; 50% "
            "would be guessing)."
        )
        report.headline("Model ROC AUC", fmt.number(quality["roc_auc"], 2), quality["roc_auc"] >= churn_auc_floor)
    if "bgnbd_baseline_roc_auc" in quality:
        sentences.append(f"A simple purchase-rhythm model (BG/NBD) reaches "
                         f"{fmt.percent(quality['bgnbd_baseline_roc_auc'])} on the same test.")
    if "lift_top_decile" in quality and "base_rate" in quality:
        sentences.append(
            f"Among the 10% of customers it rates riskiest, **{fmt.number(quality['lift_top_decile'], 1)}× as many "
            f"churned** as on average ({fmt.percent(quality['lift_top_decile'] * quality['base_rate'])} against "
            f"{fmt.percent(quality['base_rate'])})."
        )
    if trained_at:
        sentences.append(f"The model scoring today was trained on {trained_at[0][:10]}; these figures are from the "
                         "backtest of that training.")
    report.say(" ".join(sentences) or "The model card has no quality figures yet.")
    features = card.filter(section="feature_importance").sort("value", descending=True).head(TOP_FEATURES)
    if features.height:
        report.say("What the model looks at most: how many points of ROC AUC its ranking loses when the feature's "
                   "values are shuffled among customers.")
        report.table(features, {"metric": cx.Column("Feature", cx.words),
                                "value": cx.Column("ROC AUC points lost", lambda v: fmt.number(v * 100, 1),
                                                   numeric=True)})

# %%
report.section("Action plan", "Next best actions: which customers get which action on which channel, and the "
               "expected value (consent and contact limits already applied).")
if actions_missing:
    report.unavailable("Next best actions", actions_missing)
else:
    left_alone = report.query(
        "select count(distinct customer_key) as customers from ml_next_best_actions where action = 'no_action'"
    )["customers"][0]
    if plan.height:
        total_value, total_customers = plan["expected_value_eur"].sum(), plan["customers"].sum()
        best = plan.row(0, named=True)
        report.say(
            f"The plan contacts **{fmt.number(total_customers)} customers** with an expected value of "
            f"**{money(total_value)}**; {fmt.number(left_alone)} customers are left alone for now "
            f"(contact limit reached, no consent, or nothing worth offering). The largest item is *{best['action']}* "
            f"by {report.channel_label(best['channel'])} for {fmt.number(best['customers'])} customers "
            f"({money(best['expected_value_eur'])})."
        )
        report.headline("Customers in the action plan", fmt.number(total_customers))
        report.headline("Expected value", money(total_value))
        figure = go.Figure([
            go.Bar(y=rows["action"], x=rows["customers"], orientation="h",
                   name=report.channel_label(channel), marker_color=cx.channel_colour(channel))
            for (channel,), rows in plan.group_by("channel", maintain_order=True)
        ])
        figure.update_layout(barmode="stack", xaxis_title="customers", yaxis=dict(autorange="reversed"))
        report.chart(figure, height=max(240, 50 * plan["action"].n_unique() + 100))
        report.table(plan, {
            "action": cx.Column("Action"),
            "channel": cx.Column("Channel"),
            "customers": cx.Column("Customers", fmt.number, numeric=True),
            "expected_value_eur": cx.Column("Expected value", money, numeric=True),
        })
    else:
        report.nothing_in_period("recommended contacts", "the latest plan")

# %%
report.section("Who to contact first", "The customers in the action plan with the most value at risk: work the "
               "plan from the top.")
priority_missing = actions_missing + value_missing
if priority_missing:
    report.unavailable("The prioritised plan", priority_missing)
elif skip_reason:
    say_churn_skipped()
else:
    planned = report.query(
        f"select customer_key, {action_name} as action, channel from ml_next_best_actions where action <> 'no_action'"
    ).join(risk.select("customer_key", "churn_probability", "value_at_risk_eur"), on="customer_key", how="left")
    planned = planned.sort("value_at_risk_eur", descending=True, nulls_last=True)
    if planned.height:
        covered = planned["value_at_risk_eur"].sum()
        report.say(f"The plan reaches customers holding **{money(covered)}** of the value at risk "
                   f"({fmt.percent(covered / total_at_risk if total_at_risk else None)}). The first "
                   f"{TOP_PRIORITY_CUSTOMERS}:")
        report.table(planned.head(TOP_PRIORITY_CUSTOMERS), {
            "customer_key": cx.Column("Customer"),
            "action": cx.Column("Action"),
            "channel": cx.Column("Channel"),
            "churn_probability": cx.Column("Churn risk", fmt.percent, numeric=True),
            "value_at_risk_eur": cx.Column("Value at risk", money, numeric=True),
        })
    else:
        report.nothing_in_period("recommended contacts", "the latest plan")

# %%
report.publish_headlines()
