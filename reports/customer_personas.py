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
# Customer personas: who our customers are by behaviour across channels, one card per persona (size, value,
# NPS, churn risk, preferred channels, what sets it apart), and how the personas changed since the previous
# refresh. Reads ml_persona_profiles, ml_persona_drift and ml_customer_value_model_card.
warehouse_path = "../data/warehouse.duckdb"
as_of = None  # ISO date, or None for the day of the newest data
number_locale = "en"  # "de" for German number formats
business_timezone = "Europe/Berlin"
hold_connection = False  # True when the pipeline renders it: one warehouse connection for the notebook
currency = "EUR"  # CX_CURRENCY: the currency of every amount in the warehouse (columns named *_eur keep their names)

# %%
import plotly.graph_objects as go
import polars as pl

import cxreport as cx

report = cx.Report("Customer personas", warehouse_path, as_of, number_locale, business_timezone,
                   hold_connection=hold_connection)
fmt = report.fmt
profiles_missing = report.missing({"ml_persona_profiles": [
    "persona_id", "persona_name", "description", "customers", "customer_share", "nps", "expected_value_12m_eur_mean",
    "churn_probability_mean", "preferred_purchase_channel", "preferred_service_channel", "distinguishing_features",
]})

# %%
if profiles_missing:
    report.header("Personas are not available yet.")
    report.unavailable("Personas", profiles_missing)
else:
    profiles = report.query("select * from ml_persona_profiles order by customers desc")
    largest = profiles.row(0, named=True)
    report.header(
        f"Customers with at least three touchpoints fall into **{profiles.height} personas**, found in their "
        f"behaviour across channels (how often and where they buy, what they spend and return, how they browse, "
        f"read e-mails and contact service, how they rate us). The largest is **{largest['persona_name']}** with "
        f"{fmt.percent(largest['customer_share'])} of them."
    )
    report.headline("Personas", fmt.number(profiles.height))
    report.headline("Largest persona", largest["persona_name"])

# %%
money = lambda amount: "–" if amount is None else f"{fmt.number(amount)} {currency}"  # noqa: E731
card_missing = report.missing({"ml_customer_value_model_card": ["section", "metric", "value", "detail"]})
card = None if card_missing else report.query(
    "select section, metric, value::double as value, detail from ml_customer_value_model_card")
quality = {} if card is None else dict(card.filter(section="quality").select("metric", "value").iter_rows())

# %%
report.section("What to do next", "Personas ranked by the value they have at risk (customers × expected value × "
               "mean churn risk), each with how sure it is and where to act.")
if profiles_missing:
    report.unavailable("Personas", profiles_missing)
else:
    value_quality = (
        f"the value model's predicted value per tenth of customers follows what they spent with a correlation "
        f"of {fmt.number(quality['decile_value_correlation'], 2)}; the churn risk is the churn model's mean."
        if "decile_value_correlation" in quality else "the value model's backtest is not available."
    )
    findings = [
        cx.Finding(
            f"**{row['persona_name']}** holds about **{money(row['value_at_risk'])}** of value at risk: "
            f"{fmt.number(row['customers'])} customers, {money(row['expected_value_12m_eur_mean'])} expected each "
            f"in 12 months, {fmt.percent(row['churn_probability_mean'])} mean churn risk"
            + ("." if row["nps"] is None else f", NPS {fmt.number(row['nps'], signed=True)}."),
            value_quality,
            f"work its customers in {cx.link_token(0)}, highest value at risk first.",
            row["value_at_risk"],
        )
        for row in profiles.with_columns(
            (pl.col("customers") * pl.col("expected_value_12m_eur_mean") * pl.col("churn_probability_mean"))
            .alias("value_at_risk")
        ).iter_rows(named=True)
        if row["value_at_risk"] is not None
    ]
    report.say(cx.next_steps_markdown(findings) or "No persona has a value estimate yet.",
               links=[("the action plan of the churn report", "churn_and_actions")])

# %%
if not profiles_missing:
    report.section("The personas", "Names and descriptions are generated from what sets each persona apart from "
                   "the average customer; the numbers are the persona's own.")
    report.profile_cards([
        (row["persona_name"], row["description"], {
            "Customers": f"{fmt.number(row['customers'])} ({fmt.percent(row['customer_share'])})",
            "Expected value, 12 months": money(row["expected_value_12m_eur_mean"]),
            "NPS": "–" if row["nps"] is None else fmt.number(row["nps"], signed=True),
            "Churn risk": fmt.percent(row["churn_probability_mean"]),
            "Buys in": report.channel_label(row["preferred_purchase_channel"]),
            "Contacts service by": report.channel_label(row["preferred_service_channel"]),
            "Stands out by": row["distinguishing_features"],
        })
        for row in profiles.iter_rows(named=True)
    ])
    figure = go.Figure(go.Scatter(
        x=profiles["expected_value_12m_eur_mean"].to_list(), y=profiles["churn_probability_mean"].to_list(),
        mode="markers+text", text=profiles["persona_name"].to_list(), textposition="top center",
        marker=dict(size=[max(12, 60 * share) for share in profiles["customer_share"]], color="#3d5a80"),
    ))
    figure.update_layout(xaxis_title=f"expected value per customer, next 12 months ({currency})",
                         yaxis=dict(title="mean churn probability", tickformat=".0%"))
    report.say("Value against churn risk: personas to the right and high up hold the most value at risk.")
    report.chart(figure, height=420)

# %%
report.section("How the personas changed", "Each refresh assigns customers to the existing personas unless the "
               "structure itself changed; a persona is flagged for review when its size or habits shift, or many "
               "customers leave it.")
drift_missing = report.missing({"ml_persona_drift": ["as_of_date", "persona_id", "customers", "review", "review_reason"]})
if drift_missing or profiles_missing:
    report.unavailable("Persona drift", drift_missing or profiles_missing)
else:
    drift = report.query(
        """
        select coalesce(profiles.persona_name, drift.persona_id) as persona, drift.customers,
               drift.customers_previous, drift.review, drift.review_reason
        from ml_persona_drift as drift
        left join ml_persona_profiles as profiles on profiles.persona_id = drift.persona_id
        where drift.as_of_date = (select max(as_of_date) from ml_persona_drift)
        order by drift.customers desc
        """
    )
    flagged = drift.filter(review=True)
    report.say(f"**{fmt.number(flagged.height)} of {fmt.number(drift.height)} personas** should be reviewed."
               if flagged.height else "No persona needs a review: sizes and habits are steady.")
    report.headline("Personas to review", fmt.number(flagged.height))
    report.table(drift, {
        "persona": cx.Column("Persona"),
        "customers": cx.Column("Customers", fmt.number, numeric=True),
        "customers_previous": cx.Column("Previous refresh", fmt.number, numeric=True),
        "review_reason": cx.Column("Why review"),
    })

# %%
report.section("How good are the value estimates?", "The value model is fitted on the past and its prediction "
               "compared with what customers actually spent afterwards (by tenth of predicted value).")
if card_missing:
    report.unavailable("The value model card", card_missing)
else:
    setup = dict(card.filter(section="setup").select("metric", "value").iter_rows())
    report.say(
        f"Over a holdout of {fmt.number(setup.get('holdout_days'))} days the model expected "
        f"**{fmt.number(quality.get('predicted_value_total_eur'))} {currency}** and customers spent "
        f"**{fmt.number(quality.get('actual_value_total_eur'))} {currency}**; the predicted value of each tenth of customers "
        f"follows the actual one with a correlation of {fmt.number(quality.get('decile_value_correlation'), 2)}."
    )
    figure = go.Figure([
        go.Bar(x=rows["metric"].to_list(), y=rows["value"].to_list(), name=name, marker_color=colour)
        for name, section, colour in (("predicted", "decile_predicted_value_eur", "#9aa5b1"),
                                      ("actual", "decile_actual_value_eur", "#3d5a80"))
        if (rows := card.filter(section=section)).height
    ])
    figure.update_layout(barmode="group", xaxis_title="tenth of customers by predicted value (1 = highest)",
                         yaxis_title=f"spend per customer in the holdout ({currency})")
    report.chart(figure, height=320)

# %%
report.publish_headlines()
