"""Decide which landing files are complete and not yet requested for ingestion (the sensor's pure logic).

A file counts as complete when it has the same size and modification time on two consecutive scans, or when
it has not been modified for `settle_seconds` (files that were already there before the daemon started).
Partial uploads are ignored: hidden names and temporary suffixes never count, a file still growing waits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cx_core.sources.contracts import SourceContract

PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".filepart", ".uploading")


@dataclass(frozen=True)
class FileSeen:
    size: int
    mtime_ns: int
    requested: bool = False


def is_candidate(path: Path, contract: SourceContract) -> bool:
    name = path.name.lower()
    if name.startswith((".", "~")) or name.endswith(PARTIAL_SUFFIXES):
        return False
    return path.is_file() and name.endswith(contract.file_extensions)


def scan_landing(
    landing_dir: Path,
    contracts: dict[str, SourceContract],
    previous: dict[str, FileSeen],
    now_ns: int,
    settle_seconds: float = 30.0,
) -> tuple[dict[str, list[str]], dict[str, FileSeen]]:
    """Return (complete new files per source, the state to remember); paths are relative to landing_dir."""
    ready: dict[str, list[str]] = {}
    state: dict[str, FileSeen] = {}
    for source, contract in contracts.items():
        folder = landing_dir / source
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if not is_candidate(path, contract):
                continue
            rel = f"{source}/{path.name}"
            stat = path.stat()
            seen = previous.get(rel)
            unchanged = seen is not None and (seen.size, seen.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
            if unchanged and seen.requested:
                state[rel] = seen
                continue
            settled = (now_ns - stat.st_mtime_ns) / 1e9 >= settle_seconds
            complete = unchanged or settled
            if complete:
                ready.setdefault(source, []).append(rel)
            state[rel] = FileSeen(stat.st_size, stat.st_mtime_ns, requested=complete)
    return ready, state


def dump_state(state: dict[str, FileSeen]) -> str:
    return json.dumps({k: [v.size, v.mtime_ns, v.requested] for k, v in sorted(state.items())})


def load_state(cursor: str | None) -> dict[str, FileSeen]:
    if not cursor:
        return {}
    return {k: FileSeen(size, mtime, requested) for k, (size, mtime, requested) in json.loads(cursor).items()}
