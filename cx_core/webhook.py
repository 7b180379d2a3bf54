"""POST a JSON document to a webhook (Slack, Teams, a ticketing system): the standard library only."""

from __future__ import annotations

import json
import urllib.request

TIMEOUT_SECONDS = 10


def post_json(url: str, payload: dict) -> int:
    """Send `payload` as JSON; returns the HTTP status and raises `urllib.error.URLError` when it fails."""
    request = urllib.request.Request(
        url, data=json.dumps(payload, default=str).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        return response.status
