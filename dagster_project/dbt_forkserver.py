"""A process that has imported dbt and forks each dbt process of a `cx run` from itself.

Every dbt step starts `cx-dbt` (dagster_project/dbt_child.py), and a new Python process spent 1.3 s importing dbt
before dbt's own start-up, on the critical path of both dbt steps of the daily refresh (issue 19). While a `cx run`
executes a job that starts with dbt, `serving_dbt` keeps this server beside it: it imports dbt while the run loads
Dagster, and takes requests on a Unix socket named by `FORKSERVER_ENV`. A dbt step's `cx-dbt` (a command that runs
nodes under dagster-dbt) passes its command, environment, working directory and standard streams to the server
(`run_in_forkserver`); the server forks a child that takes them over and runs dbt in its own process as `cx-dbt`
would, and sends the child's exit status back. `cx-dbt` forwards SIGINT and SIGTERM to
the child and exits with its status, so dagster-dbt sees the same process behaviour as before.

Nothing outlives the run: the server dies with `cx run` and each child with the server
(`prctl(PR_SET_PDEATHSIG)`), and a child whose `cx-dbt` died (its connection closed) kills itself. Without the
server (`cx dev`, the UI's runs, tests that call dagster-dbt directly), `cx-dbt` starts dbt itself as before.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FORKSERVER_ENV = "CX_DBT_FORKSERVER"  # the server's socket, set in `cx run`'s environment while it serves
STANDARD_STREAMS = [0, 1, 2]
LENGTH_BYTES = 8  # a request's JSON length, then its JSON; the reply: the child's pid, then its exit status
STATUS_BYTES = 4
PRELOADED = ("dbt.cli.main", "dbt.adapters.duckdb")  # what every dbt step of a DuckDB run imports


def receive_exactly(connection: socket.socket, size: int) -> bytes:
    """`size` bytes from the connection; fewer when it closes first."""
    received = b""
    while len(received) < size and (part := connection.recv(size - len(received))):
        received += part
    return received


def run_in_forkserver(arguments: list[str]) -> int | None:
    """dbt's exit status after the server's child ran `arguments` with this process's environment, directory and
    streams; None when no server serves this process (it then runs dbt itself)."""
    address = os.environ.get(FORKSERVER_ENV)
    if not address:
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(address)
    except OSError:  # the run that started the server has ended
        connection.close()
        return None
    request = json.dumps({"arguments": arguments, "environment": dict(os.environ), "directory": os.getcwd()}).encode()
    socket.send_fds(connection, [len(request).to_bytes(LENGTH_BYTES, "big")], STANDARD_STREAMS)
    connection.sendall(request)
    child = int.from_bytes(receive_exactly(connection, LENGTH_BYTES), "big")
    for forwarded in (signal.SIGINT, signal.SIGTERM):  # dagster-dbt stops a dbt step with them
        signal.signal(forwarded, lambda number, _frame: os.kill(child, number))
    status = receive_exactly(connection, STATUS_BYTES)
    if len(status) < STATUS_BYTES:
        print("cx-dbt: the dbt fork server ended before dbt did", file=sys.stderr)
        return 2
    code = int.from_bytes(status, "big", signed=True)
    if code < 0:  # dbt died of a signal: so does this process, as dbt's own process would have
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


def become_requested_dbt(connection: socket.socket, streams: list[int], request: dict) -> int:
    """In the forked child: take over the requesting `cx-dbt`'s streams, environment and directory, and run dbt as
    it would have (dbt_child.run_dbt)."""
    from dagster_project.dbt_child import die_with_parent, run_dbt

    die_with_parent()  # the server
    signal.signal(signal.SIGINT, signal.default_int_handler)  # dbt stops on Ctrl-C as in a process of its own
    for stream, received in zip(STANDARD_STREAMS, streams):
        os.dup2(received, stream)
        os.close(received)
    os.chdir(request["directory"])
    os.environ.clear()
    os.environ.update(request["environment"])
    threading.Thread(target=die_with_requester, args=(connection,), daemon=True).start()
    return run_dbt(request["arguments"])


def die_with_requester(connection: socket.socket) -> None:
    """Block until the requesting `cx-dbt` closes its end of the connection (it ended, or was killed), then kill
    this child: a dbt step stopped by force must not go on writing its build."""
    receive_exactly(connection, 1)
    os.kill(os.getpid(), signal.SIGKILL)


def report_exit(connection: socket.socket, child: int) -> None:
    """In the server: send the child's exit status to its `cx-dbt` once the child has ended."""
    _, wait_status = os.waitpid(child, 0)
    try:
        connection.sendall(os.waitstatus_to_exitcode(wait_status).to_bytes(STATUS_BYTES, "big", signed=True))
    except OSError:
        pass  # the requester is gone
    connection.close()


def serve(listener: socket.socket) -> int:
    """Import dbt, then fork a dbt child per request on `listener`. Returns only in a child (its dbt's exit status),
    so the child leaves through the interpreter's normal exit: dbt closes its DuckDB connection (and checkpoints
    the build file) at exit, as in a process of its own."""
    from dagster_project.dbt_child import die_with_parent

    die_with_parent()  # `cx run`
    # Ctrl-C reaches the whole process group: `cx run` and its dbt stop, the server ends with the run
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for module in PRELOADED:  # a request that arrives meanwhile waits for them, which it would have imported itself
        importlib.import_module(module)

    while True:
        connection, _ = listener.accept()
        header, streams, _, _ = socket.recv_fds(connection, LENGTH_BYTES, len(STANDARD_STREAMS))
        request = json.loads(receive_exactly(connection, int.from_bytes(header, "big")))
        child = os.fork()
        if child == 0:
            listener.close()
            return become_requested_dbt(connection, streams, request)
        for stream in streams:
            os.close(stream)
        connection.sendall(child.to_bytes(LENGTH_BYTES, "big"))
        threading.Thread(target=report_exit, args=(connection, child), daemon=True).start()


@contextmanager
def serving_dbt() -> Iterator[None]:
    """A fork server for the dbt steps of this process's run, named in its environment while the block runs."""
    folder = Path(tempfile.mkdtemp(prefix="cx-dbt-"))
    address = str(folder / "forkserver.socket")
    # listening from here on: a dbt step that starts before the server has imported dbt waits in the backlog
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        try:
            listener.bind(address)
        except OSError:  # a socket path too long for Unix (a deep TMPDIR): the dbt steps start dbt themselves
            folder.rmdir()
            yield
            return
        listener.listen()
        server = subprocess.Popen([sys.executable, "-m", "dagster_project.dbt_forkserver", str(listener.fileno())],
                                  pass_fds=[listener.fileno()])
    os.environ[FORKSERVER_ENV] = address
    try:
        yield
    finally:
        os.environ.pop(FORKSERVER_ENV, None)
        server.kill()
        server.wait()
        Path(address).unlink(missing_ok=True)
        folder.rmdir()


if __name__ == "__main__":
    sys.exit(serve(socket.socket(fileno=int(sys.argv[1]))))
