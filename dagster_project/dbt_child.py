"""`cx-dbt`: the dbt command, bound to the life of the process that starts it.

dagster-dbt starts dbt as a plain child process. When `cx run` is killed (SIGKILL, OOM killer), such a child would
keep writing the warehouse for the rest of its build. This launcher asks Linux to kill it when its parent dies
(`prctl(PR_SET_PDEATHSIG)`, which survives `exec`) and then becomes dbt. Elsewhere it is dbt unchanged.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent() -> None:
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the request took effect: nobody waits for this build
        os._exit(1)


def main() -> None:
    if sys.platform.startswith("linux"):
        die_with_parent()
    dbt = Path(sys.executable).with_name("dbt")
    os.execv(dbt, [str(dbt), *sys.argv[1:]])


if __name__ == "__main__":
    main()
