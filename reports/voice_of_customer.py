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
# Voice of the customer: sentiment over time and by channel, topics with their volume and sentiment, the most
# negative themes with a few pseudonymised verbatims, emerging themes of the latest week, and what drives NPS.
# Reads ml_sentiment, ml_text_insights, ml_emerging_topics, fct_touchpoints, fct_survey_responses (texts
# redacted of personal data in dbt).
warehouse_path = "../data/warehouse.duckdb"
as_of = None  # ISO date, or None for the day of the newest data
number_locale = "en"  # "de" for German number formats
business_timezone = "Europe/Berlin"
hold_connection = False  # True when the pipeline renders it: one warehouse connection for the notebook

# %%
from functools import cache

import plotly.graph_objects as go
import polars as pl

import cxreport as cx
from ml.emerging_topics_rules import BASELINE_PERIODS, FDR, MIN_THEME_TEXTS
from ml.key_drivers import ANSWER_VALUE, key_drivers

WINDOW_MONTHS = 3
NEGATIVE_THEMES = 3
VERBATIMS_PER_THEME = 2
MIN_RESPONSES = 20  # with fewer answers or texts, a share or an NPS is too noisy to show
CATCH_ALL_TOPIC = "other"  # ml_text_insights' topic for texts that fit no topic
DRIVER_DAYS = 90  # an experience counts for an NPS answer when it happened this many days before

report = cx.Report("Voice of the customer", warehouse_path, as_of, number_locale, business_timezone,
                   hold_connection=hold_connection)
fmt, month = report.fmt, report.month
window = [report.window_start(WINDOW_MONTHS), report.period_end]
window_text = f"{fmt.month(window[0])} to {fmt.month(month)}"
sentiment_missing = report.missing({
    "ml_sentiment": ["touchpoint_id", "label"],
    "fct_touchpoints": ["touchpoint_id", "occurred_at", "channel", "text", "direction"],
})
topics_missing = sentiment_missing + report.missing({"ml_text_insights": ["touchpoint_id", "topic", "topic_label"]})
SCORED_TEXTS = """
    select touchpoints.touchpoint_id, touchpoints.occurred_at, touchpoints.channel, touchpoints.text,
           touchpoints.direction, sentiment.label as sentiment_label
    from fct_touchpoints as touchpoints
    join ml_sentiment as sentiment on sentiment.touchpoint_id = touchpoints.touchpoint_id
"""
SENTIMENT_SHARES = """
    count(*) as texts,
    avg(case when sentiment_label = 'negative' then 1.0 else 0.0 end) as negative,
    avg(case when sentiment_label = 'positive' then 1.0 else 0.0 end) as positive
"""
SENTIMENT_COLUMNS = {
    "texts": cx.Column("Texts", fmt.number, numeric=True),
    "negative": cx.Column("Negative", fmt.percent, numeric=True),
    "positive": cx.Column("Positive", fmt.percent, numeric=True),
}

# %%
if sentiment_missing:
    report.header(f"This report covers {window_text}.")
    report.unavailable("Sentiment scores", sentiment_missing)
else:
    monthly = report.query(
        f"""
        select date_trunc('month', occurred_at)::date as month, sentiment_label, count(*) as texts
        from ({SCORED_TEXTS}) where occurred_at >= ? and occurred_at < ?
        group by all order by month
        """,
        [report.window_start(13), report.period_end],
    ).with_columns(share=pl.col("texts") / pl.col("texts").sum().over("month"))

    def negative_share(first_of_month):
        rows = monthly.filter(month=first_of_month, sentiment_label="negative")
        return rows["share"][0] if rows.height else None

    negative_now, negative_before = negative_share(month), negative_share(report.months(2)[0])
    texts_now = monthly.filter(month=month)["texts"].sum()
    summary = (f"In {fmt.month(month)}, customers wrote **{fmt.number(texts_now)} texts** (tickets, chats, posts, "
               f"survey comments); **{fmt.percent(negative_now)} were negative**")
    if negative_now is not None and negative_before is not None:
        summary += f" ({fmt.percentage_points(negative_now - negative_before)} vs {fmt.month(report.months(2)[0])})"
    report.header(summary + ".")
    report.headline("Negative texts", fmt.percent(negative_now))

# %%
# Loaded once: "What to do next" ranks what the sections below show in detail.
if not topics_missing:
    topics = report.query(
        f"""
        select insights.topic, insights.topic_label, {SENTIMENT_SHARES}
        from ({SCORED_TEXTS}) as scored
        join ml_text_insights as insights on insights.touchpoint_id = scored.touchpoint_id
        where scored.occurred_at >= ? and scored.occurred_at < ? and scored.direction = 'inbound'
        group by all order by texts desc
        """,
        window,
    )
emerging_missing = report.missing({"ml_emerging_topics": ["status", "texts_latest", "texts_earlier", "expected_latest",
                                                         "growth", "p_adjusted", "significant", "top_words_en",
                                                         "top_words_de", "verbatims", "period_start", "period_end"]})
emerging = None if emerging_missing else report.query("select * from ml_emerging_topics order by theme")


def theme_words(row) -> str:
    return " / ".join(words for words in (row["top_words_en"], row["top_words_de"]) if words) or "(no words)"


def p_text(value: float) -> str:
    return f"p = {value:.3f}" if value >= 0.001 else "p < 0.001"


nps_missing = report.missing({
    "fct_survey_responses": ["customer_key", "responded_at", "survey_type", "score"],
    "fct_service_contacts": ["customer_key", "occurred_at", "resolved", "is_repeat_contact_7d", "bot_handover",
                             "wait_seconds", "inbound_channel"],
    "fct_orders": ["customer_key", "ordered_at", "order_type"],
})
if not nps_missing:
    def had(table: str, time_column: str, condition: str) -> str:
        """SQL: the answering customer had a matching row in the DRIVER_DAYS before the answer."""
        return (f"exists (select 1 from {table} as e where e.customer_key = answers.customer_key and {condition} "
                f"and e.{time_column} between answers.responded_at - interval {DRIVER_DAYS} day "
                "and answers.responded_at)")

    contacts = ("fct_service_contacts", "occurred_at")
    experiences = {
        "called service by phone": had(*contacts, "e.inbound_channel = 'phone'"),
        "waited more than 5 minutes for service": had(*contacts, "e.wait_seconds > 300"),
        "had an unresolved service issue": had(*contacts, "not coalesce(e.resolved, false)"),
        "had to contact service again within 7 days": had(*contacts, "e.is_repeat_contact_7d"),
        "was handed over by the chat bot": had(*contacts, "e.bot_handover"),
        "bought something": had("fct_orders", "ordered_at", "e.order_type = 'sale'"),
        "returned something": had("fct_orders", "ordered_at", "e.order_type = 'return'"),
    }
    if not report.missing({"ml_sentiment": ["customer_key", "occurred_at", "label"]}):
        experiences["wrote a negative text"] = had("ml_sentiment", "occurred_at", "e.label = 'negative'")
    flags = ", ".join(f"{sql} as \"{name}\"" for name, sql in experiences.items())

    @cache  # the NPS drivers rank below too
    def answers_and_drivers(survey_type: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The `survey_type` answers of the window with their experiences, and the key drivers among them."""
        answers = report.query(
            f"""
            select answers.score, {flags}
            from fct_survey_responses as answers
            where answers.survey_type = ? and answers.customer_key is not null
              and answers.responded_at >= ? and answers.responded_at < ?
            """,
            [survey_type, *window],
        )
        return answers, key_drivers(answers, survey_type, list(experiences), MIN_RESPONSES)

    nps_answers, nps_drivers = answers_and_drivers("nps")

# %%
# Ranked by the customer voices behind each finding: negative texts, texts of the new theme, answers with the
# experience.
report.section("What to do next", "The findings with the most customer voices behind them, each with how sure it "
               "is and where to act; the sections after it show the detail.")
findings = []
# the urgent negative texts are cases already: the theme's finding names their case list (link 1)
urgent_texts = cx.open_case_lists(report).get("urgent_text")
case_export = cx.case_export_file(as_of, business_timezone)
named_topics = pl.DataFrame() if topics_missing else topics.filter(pl.col("topic") != CATCH_ALL_TOPIC)
if named_topics.height:
    theme = named_topics.sort("negative", descending=True).row(0, named=True)
    negative_texts = round(theme["negative"] * theme["texts"])
    findings.append(cx.Finding(
        f"The most negative theme: **{theme['topic_label']}**, {fmt.percent(theme['negative'])} of its "
        f"{fmt.number(theme['texts'])} texts negative ({window_text}).",
        cx.share_confidence(fmt, negative_texts, theme["texts"]),
        "read its verbatims (see The most negative themes) and "
        + (f"work its urgent texts: {cx.case_lists_action(fmt, [urgent_texts], case_export, cx.link_token(1))}; "
           "each case's reason names its theme." if urgent_texts else "give the team that owns it the cases."),
        negative_texts,
    ))
flagged = pl.DataFrame() if emerging is None or not emerging.height else emerging.filter(pl.col("significant"))
if flagged.height:
    rising = flagged.sort("p_adjusted").row(0, named=True)
    findings.append(cx.Finding(
        f"An emerging theme: **“{theme_words(rising)}”** ({rising['status']}), "
        f"{fmt.number(rising['texts_latest'])} texts from {fmt.day(rising['period_start'])} to "
        f"{fmt.day(rising['period_end'])} where {fmt.number(rising['expected_latest'], 1)} were expected.",
        f"{p_text(rising['p_adjusted'])} after the correction for testing every theme.",
        "read its verbatims (see Emerging themes) and find its cause before it grows.",
        rising["texts_latest"],
    ))
if not nps_missing and nps_drivers.height:
    driver = nps_drivers.row(0, named=True)
    findings.append(cx.Finding(
        f"The experience that costs NPS most: customers who **{driver['experience']}** "
        f"({fmt.percent(driver['prevalence'])} of {fmt.number(nps_answers.height)} answers) give an NPS "
        f"{fmt.number(abs(driver['effect']))} points {'lower' if driver['effect'] < 0 else 'higher'}, "
        f"**{fmt.number(driver['impact'], 1, signed=True)} points** of the overall NPS.",
        f"95% interval of the effect {fmt.number(driver['ci_low'])} to {fmt.number(driver['ci_high'])}, "
        f"n = {fmt.number(driver['answers_with'])} answers with it"
        + ("" if driver["ci_low"] > 0 or driver["ci_high"] < 0 else ", so no effect at all is still possible")
        + "; an association, not proof of cause.",
        f"fix that experience first (see What drives NPS; the service side is in {cx.link_token(0)}).",
        driver["answers_with"],
    ))
report.say(cx.next_steps_markdown(findings) or "Nothing to rank yet: topics, emerging themes and NPS answers are "
           "not available for this period (the sections below say why).",
           links=[("the service operations report", "service_operations"), cx.CASE_LISTS_LINK])

# %%
if not sentiment_missing:
    report.section("Sentiment over time", "Share of negative, neutral and positive texts per month.")
    # A month with a handful of texts swings wildly; it would only distract.
    charted = monthly.filter(pl.col("texts").sum().over("month") >= MIN_RESPONSES)
    if charted.height:
        figure = go.Figure([
            go.Scatter(x=rows["month"], y=(rows["share"] * 100), name=label, mode="lines+markers",
                       line=dict(color=cx.style.SENTIMENT_COLOURS.get(label), width=2))
            for label in ["negative", "neutral", "positive"]
            if (rows := charted.filter(sentiment_label=label).sort("month")).height
        ])
        figure.update_layout(yaxis=dict(title="share of texts", ticksuffix=fmt.percent_sign, rangemode="tozero"),
                             xaxis=dict(tickformat="%b %y", dtick="M1"))
        report.chart(figure, height=340)
    else:
        report.nothing_in_period("scored texts", "the last 13 months")

    by_channel = report.query(
        f"""
        select channel, {SENTIMENT_SHARES}
        from ({SCORED_TEXTS}) where occurred_at >= ? and occurred_at < ?
        group by channel order by negative desc
        """,
        window,
    )
    report.section("Sentiment by channel", f"Where customers sound most negative, {window_text}.")
    if by_channel.height:
        worst = by_channel.row(0, named=True)
        report.say(f"**{report.channel_label(worst['channel'])}** carries the most negative tone: "
                   f"{fmt.percent(worst['negative'])} of its {fmt.number(worst['texts'])} texts are negative.")
        report.table(by_channel, {"channel": cx.Column("Channel"), **SENTIMENT_COLUMNS})
    else:
        report.nothing_in_period("scored texts", window_text)

# %%
report.section("Topics", f"What customers write about, how often, and in which tone ({window_text}; the company's "
               "own replies left out).")
if topics_missing:
    report.unavailable("Topics", topics_missing)
else:
    if topics.height:
        other_share = topics.filter(topic=CATCH_ALL_TOPIC)["texts"].sum() / topics["texts"].sum()
        report.say(f"{fmt.percent(other_share)} of the {fmt.number(topics['texts'].sum())} texts fit none of the "
                   "topics (**Other**: newsletters, website and app, sales, anything else).")
        figure = go.Figure(go.Bar(
            y=topics["topic_label"], x=topics["texts"], orientation="h",
            marker=dict(color=(topics["negative"] * 100).to_list(), colorscale=cx.NEGATIVE_SHARE_SCALE, cmin=0, cmax=100,
                        colorbar=dict(title="% negative", ticksuffix=fmt.percent_sign)),
            hovertemplate="%{y}: %{x} texts<extra></extra>",
        ))
        figure.update_layout(xaxis_title="texts", yaxis=dict(autorange="reversed"))
        report.chart(figure, height=max(260, 36 * topics.height + 80))
        report.table(topics, {"topic_label": cx.Column("Topic"), **SENTIMENT_COLUMNS})
    else:
        report.nothing_in_period("texts with a topic", window_text)

# %%
report.section("The most negative themes", "The topics with the highest share of negative texts, with a few "
               "verbatims. E-mail addresses, phone numbers, handles and customer names are masked.")
if topics_missing:
    report.unavailable("Negative themes", topics_missing)
elif not topics.height:
    report.nothing_in_period("texts with a topic", window_text)
else:
    # The classifier's catch-all topic is no theme a CX lead can act on.
    themes = (topics.filter(pl.col("negative") > 0, pl.col("topic") != CATCH_ALL_TOPIC)
              .sort("negative", descending=True).head(NEGATIVE_THEMES))
    for theme in themes.iter_rows(named=True):
        report.say(f"**{theme['topic_label']}**: {fmt.percent(theme['negative'])} of {fmt.number(theme['texts'])} "
                   "texts negative.")
        verbatims = report.query(
            f"""
            select touchpoints.text, min(touchpoints.channel) as channel, max(touchpoints.occurred_at)::date as day
            from fct_touchpoints as touchpoints
            join ml_sentiment as sentiment on sentiment.touchpoint_id = touchpoints.touchpoint_id
            join ml_text_insights as insights on insights.touchpoint_id = touchpoints.touchpoint_id
            where insights.topic = ? and sentiment.label = 'negative' and touchpoints.text is not null
              and touchpoints.occurred_at >= ? and touchpoints.occurred_at < ?
            group by touchpoints.text
            order by length(touchpoints.text) desc, touchpoints.text
            limit {VERBATIMS_PER_THEME}
            """,
            [theme["topic"], *window],
        )
        for verbatim in verbatims.iter_rows(named=True):
            # the text is redacted in dbt already (names, addresses, accounts); masking again costs nothing
            report.quote(cx.pseudonymise(verbatim["text"]),
                         f"{report.channel_label(verbatim['channel'])}, {fmt.day(verbatim['day'])}")

# %%
report.section(
    "Emerging themes",
    f"What customers wrote about in the latest period that is new or growing, against the {BASELINE_PERIODS} "
    "periods before: texts grouped by meaning (German and English together), each theme's count in the period "
    "tested against its share of all texts before (one-sided binomial test, Benjamini–Hochberg corrected, "
    f"significant below {fmt.percent(FDR)}). Personal data in the verbatims is masked.",
)
if emerging_missing:
    report.unavailable("Emerging themes", emerging_missing)
else:
    themes = emerging
    if not themes.height:
        report.say("Too few customer texts in the latest period to look for emerging themes.")
    else:
        start, end = themes["period_start"][0], themes["period_end"][0]
        period = f"{fmt.day(start)} to {fmt.day(end)}"
        before = f"the {fmt.number(BASELINE_PERIODS * ((end - start).days + 1))} days before"
        flagged = themes.filter(pl.col("significant"))

        if not flagged.height:
            closest = themes.sort("p_adjusted").row(0, named=True)
            report.say(
                f"**Nothing new or growing significantly** from {period}: none of the "
                f"{fmt.number(themes.height)} themes with {MIN_THEME_TEXTS} or more texts grew beyond chance. The closest, “{theme_words(closest)}”, "
                f"had {fmt.number(closest['texts_latest'])} texts against {fmt.number(closest['expected_latest'], 1)} "
                f"expected ({p_text(closest['p_adjusted'])} after correction)."
            )
        for row in flagged.iter_rows(named=True):
            change = ("**New theme**" if row["status"] == "new" else
                      f"**Growing theme** ({fmt.number(row['growth'], 1)}× its earlier share)")
            report.say(
                f"{change}: “{theme_words(row)}”: {fmt.number(row['texts_latest'])} texts from {period} against "
                f"{fmt.number(row['texts_earlier'])} in {before}, where its earlier share predicts "
                f"{fmt.number(row['expected_latest'], 1)} ({p_text(row['p_adjusted'])} after correction)."
            )
            for verbatim in row["verbatims"]:
                report.quote(cx.pseudonymise(verbatim), period)
        report.table(themes.with_columns(words=pl.struct("top_words_en", "top_words_de").map_elements(
            theme_words, return_dtype=pl.Utf8)), {
            "words": cx.Column("Theme (typical words, English / German)"),
            "status": cx.Column("Status"),
            "texts_latest": cx.Column("Texts in the period", fmt.number, numeric=True),
            "expected_latest": cx.Column("Expected", lambda v: fmt.number(v, 1), numeric=True),
            "texts_earlier": cx.Column(before[:1].upper() + before[1:], fmt.number, numeric=True),
            "p_adjusted": cx.Column("p (corrected)", p_text, numeric=True),
        })

# %%
report.section(
    "What drives NPS",
    f"How much each experience in the {DRIVER_DAYS} days before an answer moves NPS (and CSAT below), adjusted for "
    f"the other experiences ({window_text}), and its impact: effect × the share of customers who had it = the points it "
    f"costs today, so a strong but rare experience and a weak but common one compare fairly. 95% intervals; "
    f"associations, not proof of cause; experiences with fewer than {MIN_RESPONSES} answers on either side are "
    "left out.",
)
if nps_missing:
    report.unavailable("NPS drivers", nps_missing)
else:
    def show_key_drivers(survey_type: str, label: str) -> None:
        """The adjusted effects and impacts of every experience on `survey_type` answers of the window."""
        answers, drivers = answers_and_drivers(survey_type)
        if not drivers.height:
            report.nothing_in_period(f"experiences with {MIN_RESPONSES} or more {label} answers on each side",
                                     window_text)
            return
        overall = answers.select(ANSWER_VALUE[survey_type].mean()).item()
        top = drivers.row(0, named=True)
        report.say(
            f"Across {fmt.number(answers.height)} answers {label} was **{fmt.number(overall)}**. The largest "
            f"impact: customers who {top['experience']} ({fmt.percent(top['prevalence'])} of them, "
            f"n = {fmt.number(top['answers_with'])}) give a {label} {fmt.number(abs(top['effect']))} points "
            f"{'lower' if top['effect'] < 0 else 'higher'} (95% interval {fmt.number(top['ci_low'])} to "
            f"{fmt.number(top['ci_high'])}), which moves the overall {label} by "
            f"{fmt.number(top['impact'], 1, signed=True)} points."
        )
        figure = go.Figure(go.Bar(
            y=drivers["experience"], x=drivers["impact"], orientation="h",
            error_x=dict(type="data", symmetric=False, array=(drivers["impact_ci_high"] - drivers["impact"]).to_list(),
                         arrayminus=(drivers["impact"] - drivers["impact_ci_low"]).to_list(), color="#616e7c"),
            marker_color=[cx.style.BAD_COLOUR if impact < 0 else cx.style.GOOD_COLOUR for impact in drivers["impact"]],
            customdata=drivers.select("effect", "prevalence", "answers_with").rows(),
            hovertemplate="%{y}: effect %{customdata[0]:.0f} points × %{customdata[1]:.0%} of customers "
                          "(%{customdata[2]} answers)<extra></extra>",
        ))
        figure.update_layout(yaxis=dict(autorange="reversed"),
                             xaxis=dict(title=f"{label} points of the overall score (impact, 95% interval)",
                                        zeroline=True, zerolinecolor="#616e7c"))
        report.chart(figure, height=max(240, 44 * drivers.height + 80))
        report.table(drivers.with_columns(
            pl.struct("ci_low", "ci_high").alias("interval"), pl.struct("impact_ci_low", "impact_ci_high")
            .alias("impact_interval")), {
            "experience": cx.Column("Customers who …"),
            "answers_with": cx.Column("Answers with it", fmt.number, numeric=True),
            "prevalence": cx.Column("Share", fmt.percent, numeric=True),
            "effect": cx.Column(f"Effect ({label} points)", lambda v: fmt.number(v, signed=True), numeric=True),
            "interval": cx.Column("95% interval", lambda v: f"{fmt.number(v['ci_low'])} to {fmt.number(v['ci_high'])}"),
            "p_value": cx.Column("p", lambda v: f"{v:.3f}" if v >= 0.001 else "< 0.001", numeric=True),
            "impact": cx.Column("Impact", lambda v: fmt.number(v, 1, signed=True), numeric=True),
            "impact_interval": cx.Column("95% interval", lambda v: f"{fmt.number(v['impact_ci_low'], 1)} to "
                                                                   f"{fmt.number(v['impact_ci_high'], 1)}"),
        })

    show_key_drivers("nps", "NPS")
    report.say("**CSAT** (satisfied = 4 or 5 of 5, in % points), the same experiences:")
    show_key_drivers("csat", "CSAT")

# %%
report.publish_headlines()
