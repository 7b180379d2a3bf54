"""The sensor's file logic: complete files once, partial uploads never, growing files only when they settle."""

import os

from cx_core.landing_scan import dump_state, load_state, scan_landing
from cx_core.sources.contracts import CONTRACTS

SECOND = 1_000_000_000


def _write(path, text, mtime_ns):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_partial_uploads_and_foreign_files_are_ignored(tmp_path):
    now = 1_000 * SECOND
    _write(tmp_path / "orders" / "orders_1.csv.tmp", "x", now - 100 * SECOND)
    _write(tmp_path / "orders" / ".orders_2.csv", "x", now - 100 * SECOND)
    _write(tmp_path / "orders" / "orders_3.part", "x", now - 100 * SECOND)
    _write(tmp_path / "orders" / "notes.txt", "x", now - 100 * SECOND)
    _write(tmp_path / "web_events" / "events.csv", "x", now - 100 * SECOND)  # web_events is NDJSON
    ready, state = scan_landing(tmp_path, CONTRACTS, {}, now)
    assert ready == {}
    assert state == {}


def test_settled_file_is_ready_once_and_remembered_across_restarts(tmp_path):
    now = 1_000 * SECOND
    _write(tmp_path / "orders" / "orders_1.csv", "order_id\n1\n", now - 60 * SECOND)
    ready, state = scan_landing(tmp_path, CONTRACTS, {}, now)
    assert ready == {"orders": ["orders/orders_1.csv"]}
    restored = load_state(dump_state(state))  # the cursor survives a daemon restart as a string
    ready_again, _ = scan_landing(tmp_path, CONTRACTS, restored, now + 30 * SECOND)
    assert ready_again == {}


def test_growing_file_waits_until_two_scans_agree(tmp_path):
    now = 1_000 * SECOND
    path = tmp_path / "calls" / "calls_1.csv"
    _write(path, "call_id\n", now - 1 * SECOND)
    ready, state = scan_landing(tmp_path, CONTRACTS, {}, now)
    assert ready == {}  # fresh and seen once: may still be uploading
    _write(path, "call_id\n1\n", now + 5 * SECOND)  # it grew
    ready, state = scan_landing(tmp_path, CONTRACTS, state, now + 10 * SECOND)
    assert ready == {}
    ready, state = scan_landing(tmp_path, CONTRACTS, state, now + 12 * SECOND)  # unchanged since last scan
    assert ready == {"calls": ["calls/calls_1.csv"]}
    assert state["calls/calls_1.csv"].requested
