"""Small hand-written exports in the shapes real companies send, not made by the demo generator: one source or a
few, four months of history (5 Jan to 28 Apr 2026), each in its own time zone.

- a retailer's orders only, with dates and no times, and customers buying twice on one day (Europe/Berlin);
- a bank's call log only: no agent names, no disposition, callers hanging up (America/New_York, offsets -05:00);
- a service desk's tickets, chats, social posts and surveys, but no orders and no CRM (Asia/Tokyo, +09:00);
- an app's marketing stack: CRM, web/app analytics, e-mail and SMS/push, but no orders, service or surveys
  (Australia/Sydney, +11:00 / +10:00).

Rows follow a fixed pattern (customer i buys on day 9·i mod 113 ...), so every file is the same on every run.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

FIRST_DAY = date(2026, 1, 5)
HISTORY_DAYS = 114  # to 28 April 2026: four months


def _day(offset: int) -> date:
    return FIRST_DAY + timedelta(days=offset % HISTORY_DAYS)


def retailer_orders() -> dict[str, str]:
    """30 customers, 2-4 orders each on dates only; every fifth customer buys twice on the same day."""
    lines = ["order_id,ordered_at,customer_id,channel,order_type,items,value_eur"]
    number = 0
    for customer in range(1, 31):
        days = [_day(9 * customer + 31 * visit) for visit in range(2 + customer % 3)]
        if customer % 5 == 0:
            days.append(days[0])  # a second purchase on the same day
        for day in days:
            number += 1
            value = 20 + (7 * number) % 80
            lines.append(f"O{number:04d},{day.isoformat()},C{customer:03d},{'store' if number % 3 else 'web'},sale,"
                         f"{1 + number % 3},{value}.50")
    return {"orders/orders_2026.csv": "\n".join(lines) + "\n"}


def bank_calls() -> dict[str, str]:
    """240 inbound calls from 40 numbers at New York local time with offsets; every fourth hung up in the queue
    (some within 3 s), no agent names and no disposition in the export."""
    new_york = timezone(timedelta(hours=-5))
    lines = ["call_id,started_at,phone,direction,queue,wait_seconds,talk_seconds,abandoned"]
    for number in range(1, 241):
        started = datetime.combine(_day(number // 2), datetime.min.time(), new_york) + timedelta(hours=9 + number % 8)
        abandoned = number % 4 == 0
        wait = 2 if number % 16 == 0 else 10 + (13 * number) % 90
        talk = 0 if abandoned else 60 + (17 * number) % 400
        lines.append(f"CALL{number:04d},{started.isoformat()},+1212555{number % 40:04d},inbound,"
                     f"{'loans' if number % 2 else 'cards'},{wait},{talk},{str(abandoned).lower()}")
    return {"calls/call_log.csv": "\n".join(lines) + "\n"}


def service_desk() -> dict[str, str]:
    """Tickets (JSON), chats (NDJSON), social posts (NDJSON) and surveys (CSV) at Tokyo time (+09:00)."""
    tokyo = timezone(timedelta(hours=9))

    def at(offset: int, hour: int, minutes: int = 0) -> str:
        return (datetime.combine(_day(offset), datetime.min.time(), tokyo) + timedelta(hours=hour, minutes=minutes)
                ).isoformat()

    tickets = [{"ticket_id": f"T{n}", "created_at": at(3 * n, 10), "channel": "email",
                "email": f"person{n % 12}@example.jp", "subject": "Delivery", "body": f"My parcel {n} is late.",
                "status": "solved" if n % 3 else "open", "first_response_at": at(3 * n, 12),
                "response_channel": "email", "solved_at": at(3 * n, 15) if n % 3 else None} for n in range(1, 37)]
    chats = [json.dumps({"conversation_id": f"CH{n}", "started_at": at(4 * n, 11), "ended_at": at(4 * n, 11, 9),
                         "email": f"person{n % 12}@example.jp", "handover": n % 2 == 0, "resolved": n % 3 != 0,
                         "topic": "returns",
                         "messages": [{"sent_at": at(4 * n, 11), "sender": "customer", "text": "How do I return this?"},
                                      {"sent_at": at(4 * n, 11, 1), "sender": "bot", "text": "Here is the form."}]})
             for n in range(1, 25)]
    posts = []
    for n in range(1, 13):
        posts.append(json.dumps({"post_id": f"P{n}", "posted_at": at(9 * n, 18), "platform": "x",
                                 "author_handle": f"@fan{n}", "is_brand": False, "text": "Great service, thanks!"}))
        posts.append(json.dumps({"post_id": f"R{n}", "posted_at": at(9 * n, 19), "platform": "x",
                                 "author_handle": "@shop", "is_brand": True, "in_reply_to_post_id": f"P{n}",
                                 "text": "Thank you!"}))
    surveys = ["response_id,responded_at,email,survey_type,score,comment"]
    for n in range(1, 49):
        kind, score = [("nps", n % 11), ("csat", 1 + n % 5), ("ces", 1 + n % 7)][n % 3]
        surveys.append(f"S{n},{at(2 * n, 16)},person{n % 12}@example.jp,{kind},{score},Fast and friendly")
    return {
        "support_tickets/tickets.json": json.dumps(tickets),
        "chat_conversations/chats.ndjson": "\n".join(chats) + "\n",
        "social_mentions/posts.ndjson": "\n".join(posts) + "\n",
        "surveys/survey_responses.csv": "\n".join(surveys) + "\n",
    }


def app_marketing() -> dict[str, str]:
    """20 CRM contacts, app/web events of 25 devices (logins link 20 of them), e-mail and SMS/push campaigns."""
    sydney = timezone(timedelta(hours=11))

    def at(offset: int, hour: int) -> str:
        return (datetime.combine(_day(offset), datetime.min.time(), sydney) + timedelta(hours=hour)).isoformat()

    crm = ["customer_id,email,phone,created_at,consent_email,consent_sms,consent_push"]
    crm += [f"A{n:03d},user{n}@example.com.au,+6140000{n:04d},{at(n, 9)},true,{str(n % 2 == 0).lower()},true"
            for n in range(1, 21)]
    events = []
    for n in range(1, 101):
        device = 1 + n % 25
        kind = ["page_view", "view_item", "add_to_cart", "login"][n % 4]
        events.append(json.dumps({"event_id": f"E{n}", "event_time": at(n, 8 + n % 12), "anonymous_id": f"dev{device}",
                                  "user_id": f"A{device:03d}" if kind == "login" and device <= 20 else None,
                                  "event_type": kind, "platform": "app" if n % 3 else "web"}))
    emails = ["event_id,event_time,email,campaign_id,campaign_type,event_type"]
    emails += [f"M{n},{at(7 * (n // 3), 10 + n % 3)},user{1 + n % 20}@example.com.au,K{n // 20},newsletter,"
               f"{['send', 'open', 'click'][n % 3]}" for n in range(60)]
    messages = ["message_id,sent_at,channel,customer_id,campaign_id,campaign_type,status,clicked_at"]
    messages += [f"SMS{n},{at(5 * n, 12)},{'sms' if n % 2 else 'push'},A{1 + n % 20:03d},K{n // 10},reminder,"
                 f"{'failed' if n % 9 == 0 else 'delivered'},{at(5 * n, 13) if n % 4 == 0 else ''}" for n in range(1, 31)]
    return {
        "crm_customers/contacts.csv": "\n".join(crm) + "\n",
        "web_events/app_events.ndjson": "\n".join(events) + "\n",
        "email_events/newsletter.csv": "\n".join(emails) + "\n",
        "mobile_messages/sms_push.csv": "\n".join(messages) + "\n",
    }


SCENARIOS = {
    "retailer_orders_only": (retailer_orders, "Europe/Berlin"),
    "bank_calls_only": (bank_calls, "America/New_York"),
    "service_desk_without_orders": (service_desk, "Asia/Tokyo"),
    "app_marketing_only": (app_marketing, "Australia/Sydney"),
}


def write_exports(landing: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = landing / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
