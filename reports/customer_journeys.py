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
# Customer journeys: the most common journey paths, channel-to-channel flow, the web funnel with drop-off,
# time to convert, where customers switch channel, and what happens after a bot hands over to a human.
# Reads fct_journeys, fct_channel_transitions, fct_web_sessions, fct_service_contacts, dim_customers (persona).
warehouse_path = "../data/warehouse.duckdb"
as_of = None  # ISO date, or None for the day of the newest data
number_locale = "en"  # "de" for German number formats
business_timezone = "Europe/Berlin"
hold_connection = False  # True when the pipeline renders it: one warehouse connection for the notebook

# %%
import plotly.graph_objects as go
import polars as pl

import cxreport as cx

def readable_path(path: str) -> str:
    return " › ".join(report.channel_label(channel) for channel in path.split(" > "))


WINDOW_MONTHS = 3  # journeys are long and varied: a quarter gives stable shares
TOP_PATHS = 10
SANKEY_FLOWS = 15  # more thin ribbons only hide the big moves
# Time to convert in the buckets a CX lead thinks in (upper bounds in hours).
CONVERT_BUCKETS = [(1, "within an hour"), (24, "same day"), (72, "1–3 days"), (168, "3–7 days"),
                   (float("inf"), "more than a week")]

report = cx.Report("Customer journeys", warehouse_path, as_of, number_locale, business_timezone,
                   hold_connection=hold_connection)
fmt = report.fmt
window = [report.window_start(WINDOW_MONTHS), report.period_end]
window_text = f"{fmt.month(window[0])} to {fmt.month(report.month)}"
journeys_missing = report.missing({"fct_journeys": ["journey_id", "started_at", "channel_path", "is_converted",
                                                     "outcome"]})

# %%
if journeys_missing:
    report.header(f"This report covers {window_text}.")
    report.unavailable("Journey data", journeys_missing)
else:
    paths = report.query(
        """
        select channel_path, count(*) as journeys, avg(case when is_converted then 1.0 else 0.0 end) as conversion
        from fct_journeys where started_at >= ? and started_at < ?
        group by channel_path order by journeys desc, channel_path
        """,
        window,
    )
    total_journeys = paths["journeys"].sum()
    if total_journeys:
        converted = (paths["journeys"] * paths["conversion"]).sum() / total_journeys
        multichannel = paths.filter(pl.col("channel_path").str.contains(">"))["journeys"].sum() / total_journeys
        top = paths.row(0, named=True)
        report.header(
            f"From {window_text}, customers made **{fmt.number(total_journeys)} journeys**; {fmt.percent(converted)} "
            f"ended in a purchase and {fmt.percent(multichannel)} used more than one channel. The most common path is "
            f"*{readable_path(top['channel_path'])}* ({fmt.percent(top['journeys'] / total_journeys)} of journeys)."
        )
        report.headline("Journeys", fmt.number(total_journeys))
        report.headline("Journeys ending in a purchase", fmt.percent(converted))
    else:
        report.header(f"This report covers {window_text}.")

# %%
# Loaded once: "What to do next" ranks what the sections below show in detail.
flows_missing = report.missing({"fct_channel_transitions": ["period_grain", "period_start", "from_channel",
                                                             "to_channel", "transitions", "median_seconds_between"]})
flows = None if flows_missing else report.query(
    """
    select from_channel, to_channel, sum(transitions)::bigint as transitions,
           median(median_seconds_between)::double as median_seconds_between
    from fct_channel_transitions
    where period_grain = 'month' and period_start >= ? and period_start < ?
    group by all order by transitions desc
    """,
    window,
)
funnel_missing = report.missing({"fct_web_sessions": ["started_at", "has_view_item", "has_add_to_cart",
                                                       "has_begin_checkout", "has_purchase"]})
funnel = None if funnel_missing else report.query(
    """
    select count(*) as sessions, count(*) filter (has_view_item) as viewed_item,
           count(*) filter (has_add_to_cart) as added_to_cart,
           count(*) filter (has_begin_checkout) as began_checkout, count(*) filter (has_purchase) as purchased
    from fct_web_sessions where started_at >= ? and started_at < ?
    """,
    window,
).row(0, named=True)
if funnel and funnel["sessions"]:
    steps = {"Session": funnel["sessions"], "Viewed a product": funnel["viewed_item"],
             "Added to cart": funnel["added_to_cart"], "Began checkout": funnel["began_checkout"],
             "Purchased": funnel["purchased"]}
    names, counts = list(steps), list(steps.values())
    # (from step, to step, share lost, sessions that reached the from step)
    drops = [(names[i], names[i + 1], 1 - counts[i + 1] / counts[i], counts[i])
             for i in range(len(counts) - 1) if counts[i]]
    worst = max(drops, key=lambda drop: drop[2])
bot_missing = report.missing({"fct_service_contacts": ["occurred_at", "is_bot", "bot_handover", "resolved",
                                                        "is_repeat_contact_7d"]})
bot = None if bot_missing else report.query(
    """
    select case when bot_handover then 'handed over to an agent' else 'closed by the bot' end as outcome,
           count(*) as chats, avg(case when resolved then 1.0 else 0.0 end) as resolved,
           avg(case when is_repeat_contact_7d then 1.0 else 0.0 end) as repeat_contact
    from fct_service_contacts
    where is_bot and occurred_at >= ? and occurred_at < ?
    group by all order by outcome desc
    """,
    window,
)
if bot is not None and bot.height:
    handed = bot.filter(outcome="handed over to an agent")
    handover_share = handed["chats"].sum() / bot["chats"].sum()
service_channels = set() if report.missing({"channel_taxonomy": ["channel", "is_service_channel"]}) else set(
    report.query("select channel from channel_taxonomy where is_service_channel")["channel"])

# %%
report.section("What to do next", f"The findings of {window_text} that touch the most sessions, switches or chats, "
               "each with how sure it is and where to act; the sections after it show the detail.")
findings = []
if funnel and funnel["sessions"]:
    step_from, step_to, lost_share, reached = worst
    lost = round(lost_share * reached)
    findings.append(cx.Finding(
        f"The largest drop-off of the web and app funnel: **{fmt.percent(lost_share)} of {fmt.number(reached)} "
        f"sessions** that got as far as *{step_from.lower()}* did not go on to *{step_to.lower()}* "
        f"({fmt.number(lost)} sessions).",
        cx.share_confidence(fmt, lost, reached),
        f"find out what stops customers after *{step_from.lower()}* (see Web and app funnel).",
        lost,
    ))
# Switches from a self-service or sales channel into a service channel: the moves that end in a contact.
into_service = None if flows is None else flows.filter(pl.col("to_channel").is_in(service_channels),
                                                       ~pl.col("from_channel").is_in(service_channels))
if into_service is not None and into_service.height:
    switch, switches_into_service = into_service.row(0, named=True), into_service["transitions"].sum()
    findings.append(cx.Finding(
        f"The switch that most often precedes a service contact: **{report.channel_label(switch['from_channel'])} "
        f"to {report.channel_label(switch['to_channel'])}**, {fmt.number(switch['transitions'])} times "
        f"({fmt.percent(switch['transitions'] / switches_into_service)} of the switches into service).",
        cx.share_confidence(fmt, switch["transitions"], switches_into_service),
        f"read what these customers write about ({cx.link_token(0)}) and answer it on "
        f"{report.channel_label(switch['from_channel'])} itself (see Where customers switch channel).",
        switch["transitions"],
    ))
if bot is not None and bot.height and handed.height:
    findings.append(cx.Finding(
        f"The bot handed **{fmt.percent(handover_share)} of {fmt.number(bot['chats'].sum())} chats** over to an "
        f"agent; after a handover {fmt.percent(handed['resolved'][0])} were resolved.",
        cx.share_confidence(fmt, handed["chats"][0], bot["chats"].sum()),
        f"teach the bot the questions it hands over and staff the agents behind it ({cx.link_token(1)}; see "
        "Bot-to-human handovers).",
        handed["chats"][0],
    ))
report.say(cx.next_steps_markdown(findings) or "Nothing to rank yet: the funnel, the channel switches and the bot "
           "chats are not available for this period (the sections below say why).",
           links=[("the most negative themes", "voice_of_customer"), ("the staffing plan", "service_operations")])

# %%
if not journeys_missing:
    report.section("Top journey paths", f"The {TOP_PATHS} most frequent channel sequences (repeats on the same "
                   "channel collapsed) and how often each ends in a purchase.")
    if total_journeys:
        report.table(paths.head(TOP_PATHS).with_columns(share=pl.col("journeys") / total_journeys), {
            "channel_path": cx.Column("Path", readable_path),
            "journeys": cx.Column("Journeys", fmt.number, numeric=True),
            "share": cx.Column("Share", lambda v: fmt.percent(v, 1), numeric=True),
            "conversion": cx.Column("Ends in a purchase", fmt.percent, numeric=True),
        })
    else:
        report.nothing_in_period("journeys", window_text)

# %%
report.section("Paths by persona", "The most frequent path of each persona and how often that "
               "persona's journeys end in a purchase.")
personas_missing = journeys_missing + report.missing({"dim_customers": ["customer_key", "persona_name"],
                                                      "fct_journeys": ["customer_key"]})
if personas_missing:
    report.unavailable("Paths by persona", personas_missing)
else:
    by_persona = report.query(
        """
        with persona_paths as (
            select customers.persona_name as persona, journeys.channel_path, count(*) as journeys,
                   avg(case when journeys.is_converted then 1.0 else 0.0 end) as conversion
            from fct_journeys as journeys
            inner join dim_customers as customers on customers.customer_key = journeys.customer_key
            where journeys.started_at >= ? and journeys.started_at < ? and customers.persona_name is not null
            group by all
        )
        select persona, sum(journeys) as journeys,
               sum(journeys * conversion) / sum(journeys) as conversion,
               arg_max(channel_path, journeys) as top_path,
               max(journeys) / sum(journeys) as top_path_share
        from persona_paths group by persona order by journeys desc
        """,
        window,
    )
    if by_persona.height:
        report.table(by_persona, {
            "persona": cx.Column("Persona"),
            "journeys": cx.Column("Journeys", fmt.number, numeric=True),
            "top_path": cx.Column("Most frequent path", readable_path),
            "top_path_share": cx.Column("Share of its journeys", fmt.percent, numeric=True),
            "conversion": cx.Column("Ends in a purchase", fmt.percent, numeric=True),
        })
    else:
        report.nothing_in_period("journeys of customers with a persona", window_text)

# %%
report.section("Channel-to-channel flow", f"How customers moved between channels inside journeys, {window_text}.")
if flows_missing:
    report.unavailable("Channel flow", flows_missing)
elif not flows.height:
    report.nothing_in_period("channel switches", window_text)
else:
    shown = flows.head(SANKEY_FLOWS)
    if flows.height > SANKEY_FLOWS:
        report.say(f"The {SANKEY_FLOWS} largest of {flows.height} channel-to-channel moves, "
                   f"{fmt.percent(shown['transitions'].sum() / flows['transitions'].sum())} of all switches.")
    sources = sorted(set(shown["from_channel"]))
    targets = sorted(set(shown["to_channel"]))
    labels = [f"{report.channel_label(c)} →" for c in sources] + [f"→ {report.channel_label(c)}" for c in targets]
    colours = [cx.channel_colour(c) for c in sources + targets]
    figure = go.Figure(go.Sankey(
        arrangement="snap",
        node=dict(label=labels, color=colours, pad=14, thickness=16, line=dict(width=0)),
        link=dict(
            source=[sources.index(c) for c in shown["from_channel"]],
            target=[len(sources) + targets.index(c) for c in shown["to_channel"]],
            value=shown["transitions"].to_list(),
            color=[cx.channel_colour(c) + "66" for c in shown["from_channel"]],
        ),
    ))
    report.chart(figure, height=480)

    report.section("Where customers switch channel", "The most frequent moves, and how long customers took "
                   "between the last touchpoint on one channel and the first on the next (median).")
    biggest = flows.row(0, named=True)
    total_moves = flows["transitions"].sum()
    report.say(
        f"The most frequent switch is from **{report.channel_label(biggest['from_channel'])}** to "
        f"**{report.channel_label(biggest['to_channel'])}** ({fmt.percent(biggest['transitions'] / total_moves)} "
        f"of {fmt.number(total_moves)} channel switches)."
    )
    report.table(flows.head(10).with_columns(share=pl.col("transitions") / total_moves), {
        "from_channel": cx.Column("From", report.channel_label),
        "to_channel": cx.Column("To", report.channel_label),
        "transitions": cx.Column("Switches", fmt.number, numeric=True),
        "share": cx.Column("Share", fmt.percent, numeric=True),
        "median_seconds_between": cx.Column("Median time between", fmt.duration, numeric=True),
    })

# %%
report.section("Web and app funnel", f"Sessions reaching each step, {window_text}.")
if funnel_missing:
    report.unavailable("The web funnel", funnel_missing)
else:
    if funnel["sessions"]:
        report.say(
            f"Of {fmt.number(funnel['sessions'])} sessions, {fmt.percent(funnel['purchased'] / funnel['sessions'], 1)} "
            f"ended in a purchase. The largest drop-off is between *{worst[0].lower()}* and *{worst[1].lower()}*: "
            f"{fmt.percent(worst[2])} of the sessions that got as far as *{worst[0].lower()}* went no further."
        )
        report.headline("Session conversion", fmt.percent(funnel["purchased"] / funnel["sessions"], 1))
        figure = go.Figure(go.Funnel(y=names, x=counts, texttemplate="%{value:,}<br>%{percentInitial:.0%}",
                                     marker=dict(color=cx.channel_colour("web"))))
        report.chart(figure, height=340)
    else:
        report.nothing_in_period("web or app sessions", window_text)

# %%
report.section("Time to convert", "For journeys that ended in a purchase: time from the first touchpoint to the "
               "first purchase.")
convert_missing = journeys_missing + report.missing({"fct_journeys": ["first_purchase_at"]})
if convert_missing:
    report.unavailable("Time to convert", convert_missing)
else:
    to_convert = report.query(
        """
        select date_diff('second', started_at, first_purchase_at) / 3600.0 as hours
        from fct_journeys
        where is_converted and started_at >= ? and started_at < ?
        """,
        window,
    )
    if to_convert.height:
        median_hours = to_convert["hours"].median()
        same_day = (to_convert["hours"] < 24).mean()
        report.say(f"Half of the converting journeys bought within **{fmt.duration(median_hours * 3600)}** of "
                   f"their first touchpoint; {fmt.percent(same_day)} bought within a day.")
        report.headline("Median time to convert", fmt.duration(median_hours * 3600))
        labels = [next(label for limit, label in CONVERT_BUCKETS if hours < limit) for hours in to_convert["hours"]]
        counts = [labels.count(label) for _, label in CONVERT_BUCKETS]
        # Bars across the page: the bucket names stay readable side by side even on a phone.
        figure = go.Figure(go.Bar(y=[label for _, label in CONVERT_BUCKETS], x=counts, orientation="h",
                                  marker_color=cx.channel_colour("all"), text=counts, textposition="outside",
                                  cliponaxis=False))
        figure.update_layout(xaxis_title="journeys", yaxis=dict(title="time from first touchpoint to purchase",
                                                                autorange="reversed"))
        report.chart(figure, height=320)
    else:
        report.nothing_in_period("journeys ending in a purchase", window_text)

# %%
report.section("Bot-to-human handovers", "What happened to chats the bot handed over to an agent, compared with "
               "chats the bot closed alone.")
if bot_missing:
    report.unavailable("Bot handovers", bot_missing)
else:
    if bot.height:
        report.say(
            f"The bot handled {fmt.number(bot['chats'].sum())} chats and handed **{fmt.percent(handover_share)}** "
            "over to a human."
            + (f" After a handover, {fmt.percent(handed['resolved'][0])} of issues were resolved and "
               f"{fmt.percent(handed['repeat_contact'][0])} of customers came back within 7 days."
               if handed.height else "")
        )
        report.headline("Bot handover rate", fmt.percent(handover_share))
        report.table(bot, {
            "outcome": cx.Column("Bot chat"),
            "chats": cx.Column("Chats", fmt.number, numeric=True),
            "resolved": cx.Column("Resolved", fmt.percent, numeric=True),
            "repeat_contact": cx.Column("Contacted again within 7 days", fmt.percent, numeric=True),
        })
    else:
        report.nothing_in_period("bot chats", window_text)

# %%
report.publish_headlines()
