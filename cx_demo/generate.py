"""`cx demo-data`: a believable, deterministic set of the ten exports plus ground truth.

People are simulated in chunks (default 20,000); each chunk is written at once to its own part files
(`<source>/<source>_part-0001.<ext>`) and appended to the truth Parquet files, so memory stays bounded for a
million customers. The first chunk also writes the deliberate bad input (see bad_input.py).

Truth (`truth_dir`, nothing is computed from it; quality metadata is measured against it): identities,
persons (persona, churn date, purchase rate), texts, campaign_responses, response_model and bad_rows, see
truth.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from tqdm import tqdm

from cx_demo import bad_input
from cx_demo.exports import Exporter
from cx_demo.marketing import HOLDOUT_SHARE, response_model
from cx_demo.people import make_people
from cx_demo.simulate import simulate
from cx_demo.surveys import PlantedChange
from cx_demo.texts import TextComposer
from cx_demo.timing import Clock
from cx_demo.truth import TruthWriter, campaign_responses, identities, persons
from cx_demo.writers import write_export, write_pos_export
from cx_core.sources.contracts import CONTRACTS

DEFAULT_END_DATE = date(2026, 10, 31)
CHUNK_SIZE = 10_000  # people per chunk: about 1 GB peak for a year of history
SHOP_TEST_ORDERS = 3
GENERATED_PATTERNS = ("*_part-*", "orders_store_pos_latin1.csv", "web_events_daily_*")


@dataclass
class DemoSummary:
    customers: int
    days: int
    seed: int
    start: date
    end: date
    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    truth_files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def touchpoints(self) -> int:
        """Rows of every source except the CRM contact list (which records people, not touchpoints)."""
        return sum(n for source, n in self.rows.items() if source != "crm_customers")

    @property
    def touchpoints_per_second(self) -> float:
        return self.touchpoints / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        lines = [f"Demo exports for {self.customers:,} people, {self.start} .. {self.end} (seed {self.seed})"]
        lines += [f"  {source:<20} {n:>10,} rows" for source, n in self.rows.items()]
        lines += [
            f"  {'total':<20} {sum(self.rows.values()):>10,} rows in {len(self.files)} files",
            f"  truth: {len(self.truth_files)} Parquet files",
            f"  {self.seconds:.1f} s, {self.touchpoints_per_second:,.0f} touchpoints/s",
        ]
        return "\n".join(lines)


def _clear_previous_demo(out_dir: Path) -> None:
    """Remove files an earlier demo run wrote (only ours: other exports in the landing folder stay)."""
    for source in CONTRACTS:
        for pattern in GENERATED_PATTERNS:
            for path in (out_dir / source).glob(pattern):
                path.unlink()


def _part_path(out_dir: Path, source: str, chunk: int) -> Path:
    return out_dir / source / f"{source}_part-{chunk + 1:04d}{CONTRACTS[source].file_extensions[0]}"


def generate_demo(out_dir: Path, truth_dir: Path, customers: int = 10_000, days: int = 365, seed: int = 42,
                  end_date: date | None = None, progress: bool = False, chunk_size: int = CHUNK_SIZE,
                  planted: PlantedChange | None = None, holdout_share: float = HOLDOUT_SHARE,
                  case_updates: bool = True) -> DemoSummary:
    """`case_updates`: also write the CRM's closing updates of part of the detractor cases (closed loop)."""
    started = time.perf_counter()
    end = end_date or DEFAULT_END_DATE
    start = end - timedelta(days=days - 1)
    clock = Clock(start, days)
    out_dir, truth_dir = Path(out_dir), Path(truth_dir)
    _clear_previous_demo(out_dir)
    summary = DemoSummary(customers, days, seed, start, end, rows={source: 0 for source in CONTRACTS})
    truth = TruthWriter(truth_dir)
    truth.add("response_model", response_model())
    chunks = range(0, customers, chunk_size)
    for chunk, first in enumerate(tqdm(chunks, desc="demo chunks", unit="chunk", disable=not progress)):
        rng = np.random.default_rng([seed, chunk])
        people, devices = make_people(rng, first, min(chunk_size, customers - first), days)
        world = simulate(rng, TextComposer(seed * 100_003 + chunk), clock, chunk + 1, people, devices, planted, holdout_share)
        exports = Exporter(rng, world, start, clock.end_seconds()).all(
            test_orders=SHOP_TEST_ORDERS if chunk == 0 else 0, case_updates=case_updates)
        truth.add("identities", identities(exports))
        truth.add("persons", persons(world, start, days))
        truth.add("texts", world.texts)
        truth.add("campaign_responses", campaign_responses(world, start))
        _write_chunk(out_dir, chunk, exports, rng, start, days, summary, truth)
    summary.truth_files = truth.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _write_chunk(out_dir: Path, chunk: int, exports: dict[str, pl.DataFrame], rng: np.random.Generator, start: date,
                 days: int, summary: DemoSummary, truth: TruthWriter) -> None:
    """Write one chunk's part files; the first chunk also splits off the POS and daily files and adds faults."""
    quirks: list[dict] = []
    if chunk == 0:
        exports["orders"], pos = bad_input.split_store_pos(exports["orders"], rng, start)
        exports["web_events"], daily, late_line = bad_input.split_daily_web(exports["web_events"], days - 1)
        pos_file = out_dir / "orders" / "orders_store_pos_latin1.csv"
        daily_file = out_dir / "web_events" / f"web_events_daily_{start + timedelta(days=days - 1):%Y-%m-%d}.ndjson"
        summary.rows["orders"] += write_pos_export(pos, CONTRACTS["orders"], pos_file)
        summary.rows["web_events"] += write_export(daily, CONTRACTS["web_events"], daily_file)
        summary.files += [pos_file, daily_file]
        quirks = bad_input.file_quirks(pos_file, _part_path(out_dir, "crm_customers", chunk), daily_file, late_line)
    paths, records = {}, {}
    for source, rows in exports.items():
        paths[source] = _part_path(out_dir, source, chunk)
        records[source] = write_export(rows, CONTRACTS[source], paths[source], bom=chunk == 0 and source == "crm_customers")
        summary.rows[source] += records[source]
        summary.files.append(paths[source])
    if chunk == 0:
        faults = bad_input.add_row_faults(paths, records)
        for fault in faults:
            summary.rows[fault["source"]] += 1
        truth.add("bad_rows", pl.DataFrame(faults + quirks, schema={"source": pl.String, "file": pl.String, "line": pl.Int64,
                                                                   "kind": pl.String, "expected_reason": pl.String}))
