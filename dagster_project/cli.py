"""The `cx` command: demo data, a full local run, erasure of a person, the Dagster UI and the resolved settings."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from cx_core.settings import REPO_ROOT, get_settings


def _demo_data(args: argparse.Namespace) -> int:
    from cx_demo.generate import generate_demo
    from cx_demo.surveys import PlantedChange

    settings = get_settings()
    out = Path(args.out).resolve() if args.out else settings.landing_dir
    truth = Path(args.truth).resolve() if args.truth else settings.demo_truth_dir
    summary = generate_demo(
        out_dir=out,
        truth_dir=truth,
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        end_date=date.fromisoformat(args.end_date) if args.end_date else None,
        progress=not args.quiet,
        planted=PlantedChange.parse(args.plant_change) if args.plant_change else None,
        holdout_share=settings.nba_holdout_share if args.holdout_share is None else args.holdout_share,
        case_updates=not args.no_case_updates,
    )
    print(summary.describe())
    return 0


def _run(args: argparse.Namespace) -> int:
    from dagster_project.runner import run_everything

    settings = get_settings()
    settings.export_env()
    if not any(settings.landing_dir.glob("*/*")):
        print(f"No exports in {settings.landing_dir}: generating the demo data first.")
        _demo_data(args)
    exit_code = run_everything(settings, verbose=args.verbose)
    # The DuckDB bindings print pages of nanobind "leaked instance" notes when the interpreter tears down after a
    # Dagster run; the run is complete and its storage closed here, so leave without the teardown noise.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)


def _forget(args: argparse.Namespace) -> int:
    from cx_core.privacy.erasure import erasure_log_path
    from cx_core.privacy.requests import write_request
    from dagster_project.runner import run_erasure

    settings = get_settings()
    settings.export_env()
    request_id = write_request(settings, args.identifiers)
    print(f"Erasure request {request_id} for {len(args.identifiers)} identifier(s).")
    exit_code = run_erasure(settings)
    print(f"Erasure log (counts only): {erasure_log_path(settings.privacy_dir)}")
    sys.stdout.flush()
    sys.stderr.flush()
    # same teardown noise as `cx run`
    os._exit(exit_code)


def _ui(args: argparse.Namespace) -> int:
    settings = get_settings()
    settings.export_env()
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    from dagster_project.runner import prepare_dagster_home, prepare_dbt_manifest

    prepare_dagster_home(settings)
    prepare_dbt_manifest()
    env = {**os.environ, "DAGSTER_HOME": str(settings.dagster_home)}
    cmd = [sys.executable, "-m", "dagster", "dev", "-h", args.host, "-p", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={settings.dagster_home})")
    return subprocess.call(cmd, cwd=REPO_ROOT, env=env)


def _settings(_: argparse.Namespace) -> int:
    print(get_settings().describe())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cx", description="cx-pipeline: customer-experience analytics")
    sub = parser.add_subparsers(dest="command", required=True)

    def demo_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--customers", type=int, default=10_000, help="number of customers (default 10000)")
        p.add_argument("--days", type=int, default=365, help="days of history (default 365)")
        p.add_argument("--seed", type=int, default=42, help="random seed; same seed, same files")
        p.add_argument("--end-date", default=None, help="last day of the data, YYYY-MM-DD (default: fixed demo date)")
        p.add_argument("--out", default=None, help="landing folder (default: settings landing dir)")
        p.add_argument("--truth", default=None, help="ground-truth folder (default: settings demo truth dir)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.add_argument("--plant-change", default=None, metavar="TRIGGER[@TOPIC]:FROM_DAY:QUALITY",
                       help="plant a known cause, e.g. store_visit:60:0.1 = from day 60 on, surveys after store "
                            "visits answer with experience quality 0.1 (a good visit is 0.85); "
                            "any@delivery:60:0.1 = every survey about delivery (hit answers always comment)")
        p.add_argument("--no-case-updates", action="store_true",
                       help="no case_updates export (by default the CRM closes part of the detractor cases)")
        p.add_argument("--holdout-share", type=float, default=None, metavar="SHARE",
                       help="share of each triggered campaign's people held out as its control group "
                            "(default: CX_NBA_HOLDOUT_SHARE, 0.10)")

    demo = sub.add_parser("demo-data", help="generate realistic demo exports into the landing folder")
    demo_options(demo)
    demo.set_defaults(func=_demo_data)

    run = sub.add_parser("run", help="generate the demo if the landing folder is empty, then materialise everything")
    demo_options(run)
    run.add_argument("--verbose", action="store_true",
                     help="Dagster's full event log and dbt's output instead of one line per step")
    run.set_defaults(func=_run)

    forget = sub.add_parser("forget", help="erase a person everywhere (GDPR Art. 17) and re-render the reports")
    forget.add_argument("identifiers", nargs="+", help="any identifiers of the person: e-mail, phone, CRM id, "
                        "social handle, cookie id, loyalty id; the identity graph finds the others")
    forget.set_defaults(func=_forget)

    ui = sub.add_parser("ui", help="start the Dagster UI with the project loaded")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=_ui)

    show = sub.add_parser("settings", help="print the resolved settings")
    show.set_defaults(func=_settings)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
