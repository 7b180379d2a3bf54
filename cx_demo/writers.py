"""Turning local simulation times into written timestamps, and frames into the contract file formats.

Time notations differ by source like real exports: most write ISO 8601 with the local offset and mix in some
`Z` and `+00:00`, the telephony system writes naive local time, the social listening tool writes UTC `Z`,
the store POS writes German `31.12.2026 14:05:00`.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl

from cx_core.sources.contracts import SourceContract

LOCAL_TZ = "Europe/Berlin"
TIME_STYLE = {"calls": "naive", "social_mentions": "utc_z"}  # everything else: "mixed"
ISO_LOCAL = "%Y-%m-%dT%H:%M:%S%:z"


def utc_instants(local_seconds: pl.Series | np.ndarray, start: date) -> pl.Series:
    """Local wall-clock seconds since `start` 00:00 in Europe/Berlin as UTC datetimes (null stays null).

    A wall-clock time inside the spring DST gap does not exist; it is read one hour later.
    """
    seconds = pl.Series("s", local_seconds, dtype=pl.Int64)
    naive = pl.lit(datetime(start.year, start.month, start.day)) + pl.duration(seconds=pl.col("s"))
    frame = pl.DataFrame({"s": seconds}).select(
        local=naive.dt.replace_time_zone(LOCAL_TZ, ambiguous="earliest", non_existent="null"),
        shifted=(naive + pl.duration(hours=1)).dt.replace_time_zone(LOCAL_TZ, ambiguous="earliest", non_existent="null"),
    )
    return frame.select(pl.coalesce("local", "shifted").dt.convert_time_zone("UTC").alias("t")).to_series()


def format_times(rng: np.random.Generator, instants: pl.Series, style: str) -> pl.Series:
    """Timestamps as text in a source's notation; "mixed" is mostly local offset with some Z and +00:00."""
    local = instants.dt.convert_time_zone(LOCAL_TZ)
    if style == "naive":
        return local.dt.to_string("%Y-%m-%d %H:%M:%S")
    if style == "german":
        return local.dt.to_string("%d.%m.%Y %H:%M:%S")
    utc_z = instants.dt.to_string("%Y-%m-%dT%H:%M:%SZ")
    if style == "utc_z":
        return utc_z
    choice = pl.Series(rng.random(len(instants)))
    return (
        pl.DataFrame({"c": choice, "local": local.dt.to_string(ISO_LOCAL), "z": utc_z, "utc": instants.dt.to_string(ISO_LOCAL)})
        .select(pl.when(pl.col("c") < 0.8).then("local").when(pl.col("c") < 0.92).then("z").otherwise("utc"))
        .to_series()
    )


def written_times(rng: np.random.Generator, local_seconds, start: date, source: str) -> pl.Series:
    return format_times(rng, utc_instants(local_seconds, start), TIME_STYLE.get(source, "mixed"))


def contract_frame(frame: pl.DataFrame, contract: SourceContract) -> pl.DataFrame:
    """Exactly the contract's columns in contract order (fails loudly if one is missing)."""
    return frame.select(contract.column_names)


def write_export(frame: pl.DataFrame, contract: SourceContract, path: Path, *, bom: bool = False) -> int:
    """Write one export file in the contract's format; returns the number of records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = contract_frame(frame, contract)
    if contract.format == "csv":
        frame.write_csv(path, include_bom=bom)
    elif contract.format == "ndjson":
        frame.write_ndjson(path)
    else:
        frame.write_json(path)
    return frame.height


def write_pos_export(frame: pl.DataFrame, contract: SourceContract, path: Path) -> int:
    """A store POS export as old tills write it: Latin-1, `;` separated, decimal commas."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    contract_frame(frame, contract).write_csv(buffer, separator=";", decimal_comma=True)
    path.write_bytes(buffer.getvalue().encode("latin-1", errors="replace"))
    return frame.height
