"""The live child processes of a process, read from /proc (Linux), for tests that a run leaves none behind."""

from pathlib import Path


def children_of(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        if parent == pid:
            found.append((int(stat.parent.name), command))
    return found


def descendants_of(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live children of `pid`, their children, and so on."""
    found = []
    for child in children_of(pid):
        found += [child, *descendants_of(child[0])]
    return found


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")
