"""Erasure requests as files: `landing/erasure_requests/*.csv` with the columns `request_id,identifier`, one
row per identifier (several rows with one request id name one person). `cx forget` writes such a file.

A processed request file is deleted, because it names the person; the erasure log keeps its request id.
"""

from __future__ import annotations

import csv
import uuid
from datetime import datetime, timezone
from pathlib import Path

from cx_core.files import write_atomically
from cx_core.privacy.erasure import ErasureLogEntry, erase_person
from cx_core.settings import Settings

REQUESTS_FOLDER = "erasure_requests"
REQUEST_COLUMNS = ("request_id", "identifier")


def requests_dir(settings: Settings) -> Path:
    return settings.landing_dir / REQUESTS_FOLDER


def pending_request_files(settings: Settings) -> list[Path]:
    folder = requests_dir(settings)
    return sorted(p for p in folder.glob("*.csv") if not p.name.startswith(".")) if folder.is_dir() else []


def write_request(settings: Settings, identifiers: list[str]) -> str:
    """A request file for one person; returns its new request id."""
    request_id = f"erasure-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(REQUEST_COLUMNS)
            writer.writerows((request_id, identifier) for identifier in identifiers)

    write_atomically(requests_dir(settings) / f"{request_id}.csv", write)
    return request_id


def read_requests(path: Path) -> dict[str, list[str]]:
    """Request id -> identifiers; a row without a request id belongs to the file's own request."""
    requests: dict[str, list[str]] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "identifier" not in reader.fieldnames:
            raise ValueError(f"{path.name}: an erasure request needs the columns {', '.join(REQUEST_COLUMNS)}")
        for row in reader:
            identifier = (row.get("identifier") or "").strip()
            if identifier:
                requests.setdefault((row.get("request_id") or "").strip() or path.stem, []).append(identifier)
    return requests


def process_pending_requests(settings: Settings) -> list[ErasureLogEntry]:
    """Erase the person of every pending request, then delete the request file."""
    entries = []
    for path in pending_request_files(settings):
        for request_id, identifiers in read_requests(path).items():
            entries.append(erase_person(identifiers, request_id, settings))
        path.unlink()
    return entries
