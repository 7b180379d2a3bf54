"""cx_core/files.py: a replaced file's deletion left to a thread (replace_in_background)."""

import os
import threading

from cx_core.files import RETIRED_MARK, replace_in_background


def wait_for_deletions() -> None:
    for thread in threading.enumerate():
        if thread.name == "delete-retired-files":
            thread.join()


def retired(target) -> list[str]:
    return sorted(path.name for path in target.parent.glob(f"{target.name}{RETIRED_MARK}*"))


def test_the_new_file_is_in_place_at_once_and_the_old_one_goes(tmp_path):
    target, new = tmp_path / "warehouse.duckdb", tmp_path / "build.duckdb"
    target.write_bytes(b"old")
    new.write_bytes(b"new")
    old_inode = target.stat().st_ino
    replace_in_background(new, target)
    assert target.read_bytes() == b"new" and not new.exists()
    wait_for_deletions()
    assert retired(target) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]
    assert target.stat().st_ino != old_inode


def test_a_first_file_needs_no_deletion(tmp_path):
    target, new = tmp_path / "warehouse.duckdb", tmp_path / "build.duckdb"
    new.write_bytes(b"new")
    replace_in_background(new, target)
    wait_for_deletions()
    assert target.read_bytes() == b"new" and retired(target) == []


def test_a_name_left_by_a_killed_process_is_deleted_by_the_next_replacement(tmp_path):
    target, new = tmp_path / "warehouse.duckdb", tmp_path / "build.duckdb"
    target.write_bytes(b"old")
    (tmp_path / f"warehouse.duckdb{RETIRED_MARK}left-by-a-killed-run").write_bytes(b"older")
    new.write_bytes(b"new")
    replace_in_background(new, target)
    wait_for_deletions()
    assert target.read_bytes() == b"new" and retired(target) == []


def test_a_file_system_without_hard_links_replaces_the_file_all_the_same(tmp_path, monkeypatch):
    target, new = tmp_path / "warehouse.duckdb", tmp_path / "build.duckdb"
    target.write_bytes(b"old")
    new.write_bytes(b"new")

    def no_hard_links(source, destination):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_hard_links)
    replace_in_background(new, target)
    wait_for_deletions()
    assert target.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]
