"""A copy of the warehouse file made ahead of the dbt build that needs it (issue 19).

The refresh's main dbt step builds in a copy of the warehouse file (cx_core/warehouse_build.py): 2.1 GB at 100k
customers, 3.4-8.5 s on the reference machine, on the refresh's critical path (dbt's start-up hid ~1.4 s of it).
`cx run` starts that copy in a thread when the run starts, while Python loads Dagster, the definitions and dbt's
manifest (~5 s of CPU in one core; the copy is the kernel's work), and the build takes it instead of copying again.

A copy counts only for the warehouse it was made of: its file name carries the warehouse's inode, size and
modification time, read before the copy and again after it (a writer at work in between makes them differ, and the
copy is dropped), and the build takes it only when the warehouse still has them. Every write to the warehouse
changes them, and publishing a build replaces the file (a new inode). A copy being written has another name, so a
run killed mid-copy leaves nothing that looks complete.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from pathlib import Path

# A copy being written that has not grown for this long was left by a killed run.
ABANDONED_AFTER_SECONDS = 600

_copying: dict[Path, threading.Thread] = {}


def _stamp(warehouse: Path) -> str:
    status = warehouse.stat()
    return f"{status.st_ino}-{status.st_size}-{status.st_mtime_ns}"


def write_ahead_log(database: Path) -> Path:
    """The `.wal` file DuckDB keeps next to a database while a writer's changes are not checkpointed."""
    return database.with_name(database.name + ".wal")


def copy_path(warehouse: Path, stamp: str) -> Path:
    """Where the complete copy of the warehouse as `stamp` describes it lies."""
    return warehouse.with_name(f"{warehouse.name}.ahead-{stamp}")


def _complete_copies(warehouse: Path) -> list[Path]:
    return [copy for copy in warehouse.parent.glob(f"{warehouse.name}.ahead-*") if not copy.name.endswith(".partial")]


def start_copy_ahead(warehouse: Path) -> None:
    """Copy the warehouse file in a thread of this process (module docstring); nothing when there is no warehouse
    or it has a write-ahead log (a writer may be at work)."""
    if not warehouse.exists() or write_ahead_log(warehouse).exists():
        return
    thread = threading.Thread(target=_copy, args=(warehouse,), name="warehouse-copy-ahead", daemon=True)
    _copying[warehouse] = thread
    thread.start()


def _copy(warehouse: Path) -> None:
    now = time.time()
    for left in warehouse.parent.glob(f"{warehouse.name}.ahead-*.partial"):
        if now - left.stat().st_mtime > ABANDONED_AFTER_SECONDS:
            left.unlink(missing_ok=True)
    before = _stamp(warehouse)
    partial = warehouse.with_name(f"{warehouse.name}.ahead-{uuid.uuid4().hex}.partial")
    try:
        shutil.copyfile(warehouse, partial)
        if _stamp(warehouse) == before and not write_ahead_log(warehouse).exists():
            os.replace(partial, copy_path(warehouse, before))
    except OSError:
        pass  # no copy ahead: the build copies the file itself
    finally:
        partial.unlink(missing_ok=True)


def finish_copy_ahead(warehouse: Path) -> Path | None:
    """Wait for this process's copy of `warehouse`, if one is under way; the complete copy of the warehouse as it is
    now, if there is one. Copies of earlier states are deleted."""
    thread = _copying.pop(warehouse, None)
    if thread:
        thread.join()
    current = copy_path(warehouse, _stamp(warehouse)) if warehouse.exists() else None
    for copy in _complete_copies(warehouse):
        if copy != current:
            copy.unlink(missing_ok=True)
    return current if current and current.exists() else None


def copy_warehouse(warehouse: Path, target: Path) -> None:
    """Put a copy of the warehouse file at `target`: the one made ahead when it is of the warehouse as it is now,
    else a new one."""
    ahead = finish_copy_ahead(warehouse)
    try:
        if ahead:
            os.replace(ahead, target)
            return
    except FileNotFoundError:
        pass  # another build took it first
    shutil.copyfile(warehouse, target)


def discard_copies_ahead(warehouse: Path) -> None:
    """Delete the complete copies made ahead (after the warehouse changed, none can be used)."""
    for copy in _complete_copies(warehouse):
        copy.unlink(missing_ok=True)
