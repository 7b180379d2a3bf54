"""File writes that readers never see half done."""

import os
from collections.abc import Callable
from pathlib import Path


def write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Call `write(temporary path)`, then rename over `target`: readers never see a half-written file, and a
    failed write leaves the previous file as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomically(target: Path, text: str) -> None:
    write_atomically(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
