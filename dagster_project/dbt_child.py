"""`cx-dbt`: the dbt command, bound to the life of the process that starts it.

dagster-dbt starts dbt as a plain child process. When `cx run` is killed (SIGKILL, OOM killer), such a child would
keep writing the warehouse for the rest of its build. This launcher asks Linux to kill it when its parent dies
(`prctl(PR_SET_PDEATHSIG)`, which survives `exec`) and then becomes dbt. Elsewhere it is dbt unchanged.

On the `spark` target, a command that runs model SQL runs dbt in this process instead, after
`cx_core.spark_dbt` has given the Spark session the project's Python functions (`cx_redact`) and ML tables:
dbt-spark's `session` method builds the models in this process's session.

`cx-dbt --version` answers from the installed dbt-core's metadata without starting dbt: dagster-dbt asks before
every dbt step (to tell dbt Core from the Fusion engine), and dbt answers only after importing itself and asking
PyPI for its latest release (2 s of CPU per step, and a network timeout offline; issue 19).

Under dagster-dbt, a command that runs nodes writes `run_results.json` and none of dbt's other JSON artifacts
(`run_results_only`): dagster-dbt reads dbt's events from its stdout and the pipeline reads its manifest from
`dbt parse`, so the `manifest.json` dbt wrote twice per step, `semantic_manifest.json` and `graph.gpickle` were
read by nobody (0.4-0.5 s of CPU a step, before dbt's first node; issue 19), while `run_results.json` is what the
bench and a person debugging a step read. dbt can drop only all of them (`--no-write-json`), so this process runs
dbt itself and writes `run_results.json` from dbt's result, as dbt would have. Under a `cx run`, such a command runs
in a process forked from the run's dbt fork server instead, which has imported dbt already
(dagster_project/dbt_forkserver.py).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from importlib.metadata import version
from pathlib import Path

from dagster_project.dbt_forkserver import run_in_forkserver

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# dbt commands that execute model SQL (and so may call cx_redact); the others need no Spark session up front
MODEL_SQL_COMMANDS = {"build", "run", "retry", "show"}
# dbt commands that run nodes and write run_results.json
NODE_COMMANDS = {"build", "run", "seed", "test"}
DAGSTER_DBT_ENV = "DAGSTER_DBT_CLI"  # dagster-dbt sets it to "true" for every dbt process it starts
RUN_RESULTS_FILE = "run_results.json"


def die_with_parent() -> None:
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the request took effect: nobody waits for this build
        os._exit(1)


def dbt_target(arguments: list[str]) -> str:
    """The target a `--target` flag names, else the profile's default (CX_DBT_TARGET, profiles.yml)."""
    named = [value for flag, value in zip(arguments, arguments[1:]) if flag in ("--target", "-t")]
    return named[-1] if named else os.environ.get("CX_DBT_TARGET", "duckdb")


def runs_models_on_spark(arguments: list[str]) -> bool:
    # a flag's value (`--log-format json`) can come before the command, so any argument may name it
    return bool(MODEL_SQL_COMMANDS.intersection(arguments)) and dbt_target(arguments) == "spark"


def writes_only_run_results(arguments: list[str]) -> bool:
    return os.environ.get(DAGSTER_DBT_ENV) == "true" and bool(NODE_COMMANDS.intersection(arguments))


def run_results_only(arguments: list[str]) -> int:
    """Run dbt here without its JSON artifacts, then write `run_results.json` into the target folder dbt used
    (dagster-dbt always names one); returns dbt's exit code (1: a node failed, 2: dbt itself failed)."""
    from dbt.cli.main import dbtRunner  # imported here: `--version` answers without dbt

    outcome = dbtRunner().invoke([*arguments, "--no-write-json"])
    if outcome.result is not None and hasattr(outcome.result, "write"):  # a run that reached its nodes
        arguments_used = outcome.result.args
        target = Path(arguments_used["project_dir"] or ".") / arguments_used["target_path"]
        outcome.result.write(str(target / RUN_RESULTS_FILE))
    return 0 if outcome.success else 2 if outcome.exception else 1


def installed_version() -> str:
    """The start of `dbt --version`'s answer, for the dbt that `main` runs (this environment's)."""
    return f"Core:\n  - installed: {version('dbt-core')}"


def run_dbt(arguments: list[str]) -> int:
    """Run dbt with `arguments` as `cx-dbt` does (Spark's session, only `run_results.json`, or dbt itself): returns
    its exit status, exits with it or becomes dbt."""
    if runs_models_on_spark(arguments):
        from dbt.cli.main import cli  # imported here: Spark and dbt load only on this path

        from cx_core.settings import Settings
        from cx_core.spark_dbt import prepare_dbt_session

        prepare_dbt_session(Settings.from_env())
        sys.exit(cli.main(arguments, prog_name="dbt"))
    if writes_only_run_results(arguments):
        return run_results_only(arguments)
    dbt = Path(sys.executable).with_name("dbt")
    os.execv(dbt, [str(dbt), *arguments])


def main() -> None:
    arguments = sys.argv[1:]
    if arguments == ["--version"]:
        print(installed_version())
        return
    if sys.platform.startswith("linux"):
        die_with_parent()
    # a dbt step of a `cx run` forks its dbt from a process that has imported it (dagster_project/dbt_forkserver.py)
    forks = writes_only_run_results(arguments) and not runs_models_on_spark(arguments)
    served = run_in_forkserver(arguments) if forks else None
    sys.exit(run_dbt(arguments) if served is None else served)


if __name__ == "__main__":
    main()
