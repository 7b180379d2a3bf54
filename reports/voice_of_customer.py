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
# negative themes with a few pseudonymised verbatims, and what drives NPS. Reads ml_sentiment,
# ml_text_insights, fct_touchpoints, fct_survey_responses (and CRM names, only to mask them in verbatims).
warehouse_path = "../data/warehouse.duckdb"
as_of = None  # ISO date, or None for the day of the newest data
number_locale = "en"  # "de" for German number formats
business_timezone = "Europe/Berlin"

# %%
import plotly.graph_objects as go
import polars as pl

import cxreport as cx

WINDOW_MONTHS = 3
NEGATIVE_THEMES = 3
VERBATIMS_PER_THEME = 2
MIN_RESPONSES = 20  # below this, an NPS per driver is too noisy to show

report = cx.Report("Voice of the customer", warehouse_path, as_of, number_locale, business_timezone)
fmt, month = report.fmt, report.month
window = [report.window_start(WINDOW_MONTHS), report.period_end]
window_text = f"{fmt.month(window[0])} to {fmt.month(month)}"
sentiment_missing = report.missing({"ml_sentiment": ["touchpoint_id", "label"],
                                    "fct_touchpoints": ["touchpoint_id", "occurred_at", "channel", "text"]})
topics_missing = sentiment_missing + report.missing({"ml_text_insights": ["touchpoint_id", "topic"]})
SCORED_TEXTS = """
    select touchpoints.touchpoint_id, touchpoints.occurred_at, touchpoints.channel, touchpoints.text,
           sentiment.label as sentiment_label
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
if not sentiment_missing:
    report.section("Sentiment over time", "Share of negative, neutral and positive texts per month.")
    if monthly.height:
        figure = go.Figure([
            go.Scatter(x=rows["month"], y=(rows["share"] * 100), name=label, mode="lines+markers",
                       line=dict(color=cx.style.SENTIMENT_COLOURS.get(label), width=2))
            for label in ["negative", "neutral", "positive"]
            if (rows := monthly.filter(sentiment_label=label).sort("month")).height
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
report.section("Topics", f"What customers write about, how often, and in which tone ({window_text}).")
if topics_missing:
    report.unavailable("Topics", topics_missing)
else:
    topics = report.query(
        f"""
        select insights.topic, {SENTIMENT_SHARES}
        from ({SCORED_TEXTS}) as scored
        join ml_text_insights as insights on insights.touchpoint_id = scored.touchpoint_id
        where scored.occurred_at >= ? and scored.occurred_at < ?
        group by insights.topic order by texts desc
        """,
        window,
    )
    if topics.height:
        figure = go.Figure(go.Bar(
            y=[cx.words(topic) for topic in topics["topic"]], x=topics["texts"], orientation="h",
            marker=dict(color=(topics["negative"] * 100).to_list(), colorscale="Reds", cmin=0, cmax=100,
                        colorbar=dict(title="% negative", ticksuffix=fmt.percent_sign)),
            hovertemplate="%{y}: %{x} texts<extra></extra>",
        ))
        figure.update_layout(xaxis_title="texts", yaxis=dict(autorange="reversed"))
        report.chart(figure, height=max(260, 36 * topics.height + 80))
        report.table(topics, {"topic": cx.Column("Topic", cx.words), **SENTIMENT_COLUMNS})
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
    themes = topics.filter(pl.col("negative") > 0).sort("negative", descending=True).head(NEGATIVE_THEMES)
    known_names = report.customer_names()
    for theme in themes.iter_rows(named=True):
        report.say(f"**{cx.words(theme['topic'])}**: {fmt.percent(theme['negative'])} of {fmt.number(theme['texts'])} "
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
            report.quote(cx.pseudonymise(verbatim["text"], known_names),
                         f"{report.channel_label(verbatim['channel'])}, {fmt.day(verbatim['day'])}")

# %%
report.section("What drives NPS", f"NPS after each kind of experience the survey followed, {window_text}; "
               f"experiences with fewer than {MIN_RESPONSES} answers are left out.")
nps_missing = report.missing({"fct_survey_responses": ["responded_at", "survey_type", "score", "trigger_type"]})
if nps_missing:
    report.unavailable("NPS drivers", nps_missing)
else:
    drivers = report.query(
        """
        select coalesce(trigger_type, 'unknown') as trigger_type, count(*) as responses,
               100 * (avg(case when score >= 9 then 1.0 else 0.0 end)
                      - avg(case when score <= 6 then 1.0 else 0.0 end)) as nps
        from fct_survey_responses
        where survey_type = 'nps' and responded_at >= ? and responded_at < ?
        group by all order by nps
        """,
        window,
    )
    overall = report.query(
        """
        select 100 * (avg(case when score >= 9 then 1.0 else 0.0 end)
                      - avg(case when score <= 6 then 1.0 else 0.0 end)) as nps
        from fct_survey_responses where survey_type = 'nps' and responded_at >= ? and responded_at < ?
        """,
        window,
    )["nps"][0]
    drivers = drivers.filter(pl.col("responses") >= MIN_RESPONSES)
    if drivers.height and overall is not None:
        lowest, highest = drivers.row(0, named=True), drivers.row(-1, named=True)
        report.say(
            f"Across all answers NPS was **{fmt.number(overall)}**. Customers asked after a "
            f"*{cx.words(lowest['trigger_type'])}* give the lowest score ({fmt.number(lowest['nps'])}), after a "
            f"*{cx.words(highest['trigger_type'])}* the highest ({fmt.number(highest['nps'])})."
        )
        figure = go.Figure(go.Bar(
            y=[cx.words(trigger) for trigger in drivers["trigger_type"]], x=(drivers["nps"] - overall), orientation="h",
            base=overall, marker_color=[cx.style.BAD_COLOUR if v < overall else cx.style.GOOD_COLOUR
                                        for v in drivers["nps"]],
            customdata=drivers["responses"], hovertemplate="%{y}: NPS %{x:.0f} (%{customdata} answers)<extra></extra>",
        ))
        figure.add_vline(x=overall, line=dict(color="#616e7c", dash="dash"))
        figure.update_layout(xaxis_title="NPS after this experience (dashed: all answers)")
        report.chart(figure, height=max(240, 44 * drivers.height + 80))
    else:
        report.nothing_in_period(f"experiences with {MIN_RESPONSES} or more NPS answers", window_text)

# %%
report.publish_headlines()
