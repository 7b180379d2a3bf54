"""Jupyter kernels for the report notebooks, each started before its report needs it (issue 19; no Dagster here).

A kernel takes about 0.5 s to start and 0.35 s more to import what every report imports (the `cxreport`
package: polars, plotly, DuckDB), and a report's first query and chart load pyarrow and plotly's layout classes
(0.3-0.5 s more, `cxreport.preload`): most of a report's fixed cost. `ReportKernels` starts the kernel of a run's next
report, those imports included, while the current report runs, so only the run's first report waits for one.
Every report still gets a kernel of its own that no other notebook ran in, started in the notebooks' folder
(where they import `cxreport`), and stopped at once when its notebook is done. The warm-up binds no name:
the notebook sees the same namespace and execution counts as in a new kernel. `report_kernels()` stops a spare
no report took when the block ends, also after a failure; a kernel exits by itself when the process that started
it dies (ipykernel watches its parent), so a killed run leaves none behind either.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from traitlets import Instance, List, Type

from cx_core.reporting import KERNEL_NAME

KERNEL_ARGUMENTS = [
    # The kernel's own log (a warning about its local TCP sockets at every start) is no reader's business and not
    # the console's: a failing cell still raises, with its traceback.
    "--IPKernelApp.log_level=CRITICAL",
    # Runs before the kernel reports ready; the trailing `;` keeps the result out of the output history.
    "--IPKernelApp.exec_lines=__import__('cxreport').preload();",
]


class ReportKernelClient(AsyncKernelClient):
    async def wait_for_ready(self, timeout: float | None = None) -> None:
        """jupyter_client's test that a kernel is ready (it answers kernel_info, and IOPub delivers), without then
        waiting until IOPub has been silent for 0.2 s (0.2 s of every report): nbclient reads only the IOPub
        messages of its own requests."""
        deadline = time.monotonic() + (math.inf if timeout is None else timeout)
        while time.monotonic() < deadline:
            try:
                await self.kernel_info(reply=True, timeout=1)
                await self.get_iopub_msg(timeout=0.2)
                return
            except (TimeoutError, Empty):
                if not await self.is_alive():
                    raise RuntimeError("The kernel died before it answered kernel_info") from None
        raise RuntimeError(f"The kernel did not answer kernel_info in {timeout} s")


class ReportKernel(AsyncKernelManager):
    """A kernel manager whose first client subscribed to the kernel's IOPub messages as the kernel started: a new
    subscription misses the messages sent before it takes effect, and the ready test then waits 0.2 s for IOPub a
    second time. It remembers its clients: nbclient leaves the client of a kernel it did not start connected, and
    `stop_kernel` closes them."""

    client_factory = Type(ReportKernelClient, klass=AsyncKernelClient)
    clients = List()
    subscribed = Instance(ReportKernelClient, allow_none=True)

    def subscribe(self) -> None:
        self.subscribed = self.client()
        self.subscribed.iopub_channel  # noqa: B018 (the channel's socket connects and subscribes when first asked for)

    def client(self, **kwargs):
        if self.subscribed is not None:
            handed_out, self.subscribed = self.subscribed, None
            return handed_out
        created = super().client(**kwargs)
        self.clients.append(created)
        return created


def start_kernel(cwd: Path) -> ReportKernel:
    """Launch a kernel process and return without waiting for it: it imports while the caller works."""
    kernel = ReportKernel(kernel_name=KERNEL_NAME)
    run_sync(kernel.start_kernel)(extra_arguments=KERNEL_ARGUMENTS, cwd=str(cwd))
    kernel.subscribe()
    return kernel


def stop_kernel(kernel: ReportKernel) -> None:
    """Stop the kernel at once (a finished notebook leaves it nothing to save) and close its clients."""
    for client in kernel.clients:
        client.stop_channels()
    if run_sync(kernel.is_alive)():
        # Kill it and wait for its exit here: jupyter_client looks whether a killed kernel has exited every 0.1 s,
        # 0.1 s of every report. The shutdown below then only releases the kernel's files and ports.
        run_sync(kernel.provisioner.kill)()
        kernel.provisioner.process.wait()
    run_sync(kernel.shutdown_kernel)(now=True)


class ReportKernels:
    """Hands each report a started kernel and starts the next report's kernel meanwhile (see the module)."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.spare: ReportKernel | None = None
        self.served: set[str] = set()

    @contextmanager
    def kernel(self, report: str, reports_of_run: Collection[str]) -> Iterator[ReportKernel]:
        """A kernel for `report`, stopped when the block ends; while it runs, the kernel of the next of the run's
        reports starts (if one is left)."""
        self.served.add(report)
        kernel, self.spare = self.spare or start_kernel(self.cwd), None
        try:
            if set(reports_of_run) - self.served:
                self.spare = start_kernel(self.cwd)
            yield kernel
        finally:
            stop_kernel(kernel)

    def start_next(self) -> None:
        """Start the kernel the next report will take, if none is started (the run's first report)."""
        self.spare = self.spare or start_kernel(self.cwd)

    def close(self) -> None:
        if self.spare is not None:
            stop_kernel(self.spare)
            self.spare = None


@contextmanager
def report_kernels(cwd: Path) -> Iterator[ReportKernels]:
    """Kernels started in `cwd` for the reports of one run; the spare no report took is stopped at the end."""
    kernels = ReportKernels(cwd)
    try:
        yield kernels
    finally:
        kernels.close()
