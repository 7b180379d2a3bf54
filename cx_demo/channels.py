"""Service contacts as export records: help desk tickets, phone calls, chats (with nested messages) and public
social posts with brand replies. Times stay local seconds; ids are assigned by `generate.py`.

Every record keeps the hidden columns `_person` (row in the chunk's people frame) and, for texts,
`_text_meta` rows are returned separately as (record row, field, language, sentiment, topic).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cx_demo.frames import frame

from cx_demo.identity_noise import emails_as_written, phones_as_written
from cx_demo.people import BRAND_HANDLE
from cx_demo.sampling import pick
from cx_demo.sessions import pick_devices
from cx_demo.texts import Facts, TextComposer
from cx_demo.timing import DAY, HOUR

HELPDESK_CATEGORY = {
    "delivery": "Versand & Lieferung", "returns_refunds": "Retoure & Erstattung", "payment_billing": "Zahlung & Rechnung",
    "product_quality": "Reklamation", "account_login": "Kundenkonto", "store_experience": "Filiale", "other": "Allgemein",
}
IVR_MENU = {
    "delivery": "main>orders>status", "returns_refunds": "main>returns>refund", "payment_billing": "main>payment>invoice",
    "product_quality": "main>orders>complaint", "account_login": "main>account>login", "store_experience": "main>other>agent",
}
CHAT_INTENT = {
    "delivery": "order_status", "returns_refunds": "return_refund", "payment_billing": "payment", "product_quality": "product_issue",
    "account_login": "login_help", "store_experience": "store_question",
}
AGENTS = tuple(f"A{i:03d}" for i in range(1, 41))
SOCIAL_PLATFORMS = ("x", "instagram", "facebook")


def text_languages(rng: np.random.Generator, people: pl.DataFrame, person: np.ndarray) -> np.ndarray:
    """Mostly the person's language; a tenth of texts are written in the other one."""
    own = people["language"].to_numpy()[person]
    return np.where(rng.random(len(person)) < 0.1, np.where(own == "de", "en", "de"), own)


def contact_sentiment(rng: np.random.Generator, number: np.ndarray) -> np.ndarray:
    """First contacts are sometimes plain questions; repeat contacts are almost always unhappy."""
    return np.where(rng.random(len(number)) < np.where(number == 1, 0.72, 0.95), "negative", "neutral")


def tickets(rng: np.random.Generator, composer: TextComposer, people: pl.DataFrame, contacts: pl.DataFrame,
            issues: pl.DataFrame, end_seconds: int) -> tuple[pl.DataFrame, list[tuple]]:
    """Tickets from e-mail/web-form contacts and from a share of social complaints taken to the help desk."""
    social = contacts.filter(pl.col("channel") == "social")
    from_social = social.filter(pl.Series(rng.random(social.height) < 0.4)).with_columns(t=pl.col("t") + HOUR)
    rows = pl.concat([contacts.filter(pl.col("channel") == "ticket").with_columns(via=pl.lit("mail")),
                      from_social.with_columns(via=pl.lit("social"))]).sort("t", "issue", maintain_order=True)
    n = rows.height
    person = rows["person"].to_numpy()
    issue = rows["issue"].to_numpy()
    topic = issues["topic"].to_numpy()[issue]
    is_social = rows["via"].to_numpy() == "social"
    channel = np.where(is_social, "social", np.where(rng.random(n) < 0.6, "email", "web_form"))
    email = emails_as_written(rng, people["email"].to_numpy()[person], "support_tickets")
    email = np.where(is_social & (rng.random(n) < 0.5), None, email)
    first, last = people["first_name"].to_numpy()[person], people["last_name"].to_numpy()[person]
    name_style = rng.random(n)
    customer_name = np.where(name_style < 0.7, first + " " + last, np.where(name_style < 0.85, first, None))
    language = text_languages(rng, people, person)
    sentiment = contact_sentiment(rng, rows["number"].to_numpy())
    order_key = issues["order_key"].to_numpy()[issue]
    subjects, bodies, meta = [], [], []
    for i in range(n):
        facts = Facts(repeat_count=int(rows["number"][i]))
        subjects.append(composer.subject(topic[i], language[i], facts))
        bodies.append(composer.message(topic[i], sentiment[i], language[i], facts))
        meta += [(i, "subject", language[i], sentiment[i], topic[i]), (i, "body", language[i], sentiment[i], topic[i])]
    t = rows["t"].to_numpy()
    is_last = rows["is_last"].to_numpy()
    resolved = issues["resolved"].to_numpy()[issue]
    response = t + (rng.lognormal(np.log(5 * HOUR), 1.0, n)).astype(np.int64)
    solved = response + (rng.lognormal(np.log(20 * HOUR), 1.0, n)).astype(np.int64)
    still_open = (is_last & ~resolved) | (solved >= end_seconds)
    status = np.where(still_open, np.where(rng.random(n) < 0.5, "open", "pending"), np.where(rng.random(n) < 0.7, "closed", "solved"))
    answered = ~(still_open & (response >= end_seconds))
    response_channel = np.where(is_social, "social", np.where(rng.random(n) < 0.8, "email", np.where(rng.random(n) < 0.75, "phone", "chat")))
    priority = np.where(rng.random(n) < 0.03, "urgent", np.where(sentiment == "negative", np.where(rng.random(n) < 0.4, "high", "normal"), "low"))
    records = frame(
        {
            "t": t, "channel": channel, "email": email, "social_handle": np.where(is_social, people["social_handle"].to_numpy()[person], None),
            "customer_name": customer_name, "subject": subjects, "body": bodies,
            "category": np.array([HELPDESK_CATEGORY[x] for x in topic], dtype=object), "priority": priority, "status": status,
            "first_response_t": np.where(answered, response, -1), "response_channel": np.where(answered, response_channel, None),
            "solved_t": np.where(np.isin(status, ["closed", "solved"]), solved, -1), "reply_count": rng.integers(1, 7, n) * answered,
            "order_key": np.where(rng.random(n) < 0.75, order_key, None), "_person": person, "_issue": issue, "_contact": rows["contact"].to_numpy(),
        }, {"order_key": pl.Int64}).with_columns(pl.col("first_response_t", "solved_t").replace(-1, None))
    return records, meta


def calls(rng: np.random.Generator, people: pl.DataFrame, person: np.ndarray, t: np.ndarray, direction: str,
          topic: np.ndarray, resolved: np.ndarray, disposition: np.ndarray | None = None) -> pl.DataFrame:
    """Call records; inbound calls pass the IVR and a queue and may be abandoned while waiting."""
    n = len(person)
    inbound = direction == "inbound"
    busy = 1 + 0.8 * (((t // DAY) % 7) == 0)  # Mondays are busy
    wait = (rng.lognormal(np.log(70), 0.9, n) * busy).astype(np.int64) if inbound else np.zeros(n, dtype=np.int64)
    abandoned = inbound & (wait > rng.exponential(300, n))
    talk = np.where(abandoned, 0, rng.lognormal(np.log(260), 0.6, n)).astype(np.int64)
    hold = np.where(abandoned | (rng.random(n) < 0.6), 0, rng.lognormal(np.log(60), 0.7, n)).astype(np.int64)
    wrap = np.where(abandoned, 0, rng.integers(20, 150, n))
    language = people["language"].to_numpy()[person]
    queue = np.where(language == "en", "en_general", np.array([f"de_{IVR_MENU.get(x, 'main>other>agent').split('>')[1]}" for x in topic], dtype=object))
    if disposition is None:
        disposition = np.where(resolved, "resolved", np.where(rng.random(n) < 0.5, "follow_up", np.where(rng.random(n) < 0.5, "escalated", "callback_scheduled")))
    disposition = np.where(abandoned, "abandoned", disposition)
    return frame(
        {
            "t": t, "phone": phones_as_written(rng, people, person, "calls") if inbound else people["phone_e164"].to_numpy()[person],
            "direction": direction,
            "ivr_path": np.array([IVR_MENU.get(x, "main>other>agent") for x in topic], dtype=object) if inbound else np.full(n, None, dtype=object),
            "queue": queue if inbound else np.full(n, "outbound", dtype=object), "wait_seconds": wait, "talk_seconds": talk,
            "hold_seconds": hold, "wrap_seconds": wrap, "transfer_count": np.where(abandoned, 0, rng.poisson(0.25, n)),
            "abandoned": abandoned, "agent_id": np.where(abandoned, None, pick(rng, AGENTS, n)), "disposition": disposition,
            "_person": person,
        })


def chats(rng: np.random.Generator, composer: TextComposer, people: pl.DataFrame, devices: pl.DataFrame,
          contacts: pl.DataFrame, issues: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, list[tuple]]:
    """Chats opened for service contacts: the bot greets, the customer writes, some go to a human agent.

    Returns the conversations, their messages (conversation row, message index, local time, sender, text)
    and the text truth of the customer's messages.
    """
    rows = contacts.filter(pl.col("channel") == "chat")
    n = rows.height
    person = rows["person"].to_numpy()
    issue = rows["issue"].to_numpy()
    topic = issues["topic"].to_numpy()[issue]
    number = rows["number"].to_numpy()
    device_row = pick_devices(rng, devices, person)
    device = {c: devices[c].to_numpy()[device_row] for c in ("platform", "anonymous_id")}
    logged_in = people["is_crm"].to_numpy()[person] & (rng.random(n) < 0.6)
    gives_email = ~logged_in & (rng.random(n) < 0.75)
    handover = (rng.random(n) < np.where(number > 1, 0.7, 0.4)) | np.isin(topic, ["payment_billing", "returns_refunds"]) & (rng.random(n) < 0.5)
    resolved = np.where(rows["is_last"].to_numpy(), issues["resolved"].to_numpy()[issue], rng.random(n) < 0.3)
    language = text_languages(rng, people, person)
    sentiment = contact_sentiment(rng, number)
    t = rows["t"].to_numpy()
    messages, meta, handover_t, end_t = [], [], np.full(n, -1), np.zeros(n, dtype=np.int64)
    for i in range(n):
        lang, clock_t, k = language[i], int(t[i]), 0

        def say(sender: str, text: str, pause: int) -> None:
            nonlocal clock_t, k
            clock_t += pause
            k += 1
            messages.append((i, k, clock_t, sender, text))

        say("bot", composer.bot(lang), 0)
        say("customer", composer.message(topic[i], sentiment[i], lang, Facts(repeat_count=int(number[i])), short=True), int(rng.integers(15, 90)))
        meta.append((i, f"messages[{k}]", lang, sentiment[i], topic[i]))
        say("bot", composer.bot_answer(lang), 3)
        if handover[i]:
            say("bot", composer.handover(lang), 20)
            handover_t[i] = clock_t
            say("agent", composer.agent(lang), int(rng.integers(30, 900)))
            if resolved[i]:
                say("customer", composer.comment("praise", "positive", lang), int(rng.integers(20, 200)))
                meta.append((i, f"messages[{k}]", lang, "positive", "praise"))
            else:
                say("customer", composer.comment(topic[i], "negative", lang), int(rng.integers(20, 200)))
                meta.append((i, f"messages[{k}]", lang, "negative", topic[i]))
        end_t[i] = clock_t + 30
    records = frame(
        {
            "t": t, "end_t": end_t, "platform": device["platform"], "user_id": np.where(logged_in, people["customer_id"].to_numpy()[person], None),
            "email": np.where(gives_email, emails_as_written(rng, people["email"].to_numpy()[person], "chat_conversations"), None),
            "anonymous_id": device["anonymous_id"], "handover": handover, "handover_t": handover_t,
            "agent_id": np.where(handover, pick(rng, AGENTS, n), None), "resolved": resolved,
            "topic": np.array([CHAT_INTENT[x] for x in topic], dtype=object), "_person": person, "_contact": rows["contact"].to_numpy(),
        }).with_columns(pl.col("handover_t").replace(-1, None))
    message_frame = pl.DataFrame(messages, schema=["chat", "index", "t", "sender", "text"], orient="row")
    return records, message_frame, meta


def social_posts(rng: np.random.Generator, composer: TextComposer, people: pl.DataFrame, contacts: pl.DataFrame,
                 issues: pl.DataFrame, organic_person: np.ndarray, organic_t: np.ndarray) -> tuple[pl.DataFrame, list[tuple]]:
    """Complaints from service contacts plus everyday posts (praise, questions, some gripes); the brand replies
    to most complaints and some other posts. `in_reply_row` points at the replied post's row."""
    complaints = contacts.filter(pl.col("channel") == "social")
    person = np.concatenate([complaints["person"].to_numpy(), organic_person])
    t = np.concatenate([complaints["t"].to_numpy(), organic_t])
    n_complaints = complaints.height
    n = len(person)
    topic = np.concatenate([issues["topic"].to_numpy()[complaints["issue"].to_numpy()],
                            np.asarray(["praise", "other", "product_quality", "delivery", "store_experience"], dtype=object)[
                                rng.choice(5, len(organic_person), p=[0.45, 0.3, 0.1, 0.1, 0.05])]])
    organic_sentiment = np.where(topic[n_complaints:] == "praise", "positive", np.asarray(["neutral", "negative", "positive"])[rng.choice(3, len(organic_person), p=[0.5, 0.3, 0.2])])
    sentiment = np.concatenate([np.where(rng.random(n_complaints) < 0.9, "negative", "neutral"), organic_sentiment])
    language = text_languages(rng, people, person)
    platform = np.asarray(SOCIAL_PLATFORMS, dtype=object)[people["person_index"].to_numpy()[person] % 3]
    texts, meta = [], []
    for i in range(n):
        texts.append(f"{'@lindenhaus ' if rng.random() < 0.6 else ''}{composer.comment(topic[i], sentiment[i], language[i])}")
        meta.append((i, "text", language[i], sentiment[i], topic[i]))
    posts = frame(
        {"t": t, "platform": platform, "author_handle": people["social_handle"].to_numpy()[person], "is_brand": False,
         "in_reply_row": np.full(n, None, dtype=object), "text": texts, "like_count": rng.poisson(np.where(sentiment == "negative", 6, 3)),
         "_person": person}, {"in_reply_row": pl.Int64})
    replied = np.flatnonzero(rng.random(n) < np.where(sentiment == "negative", 0.85, 0.3))
    replies = frame(
        {"t": t[replied] + rng.integers(10 * 60, 8 * HOUR, len(replied)), "platform": platform[replied], "author_handle": BRAND_HANDLE,
         "is_brand": True, "in_reply_row": replied.astype(np.int64),
         "text": [composer.brand_reply(language[i], sentiment[i]) for i in replied], "like_count": rng.poisson(1, len(replied)),
         "_person": np.full(len(replied), -1)})
    return pl.concat([posts, replies], how="vertical_relaxed"), meta
