"""The Dagster UI as a data engineer uses it: `dagster dev` on loopback, headless Chromium, a click, a sensor.

Starts the real webserver and daemon against a temporary data folder, checks the asset groups in the lineage
page, materialises one asset from its page, then drops a new export into the landing folder and waits until
the sensor has ingested it exactly once.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from cx_core.settings import REPO_ROOT

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
CRM_CSV = (
    "customer_id,first_name,last_name,email,phone,loyalty_id,social_handle,country,language,segment,birth_year,"
    "created_at,updated_at,consent_email,consent_sms,consent_phone,consent_push\n"
    "C1,Anna,Muster,anna@example.org,0171 2345678,L1,@anna,DE,de,regular,1985,2025-01-02T10:00:00+01:00,,true,false,true,false\n"
)
ORDERS_CSV = (
    "order_id,ordered_at,customer_id,email,loyalty_id,channel,store_id,order_type,original_order_id,items,value_eur,"
    "payment_method,product_category\n"
    "O1,2025-02-01T12:00:00+01:00,C1,,,web,,sale,,2,\"59,90\",card,shoes\n"
    "O2,2025-02-03T09:30:00Z,,anna@example.org,,store,S1,sale,,1,19.99,cash,socks\n"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _server_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _runs(dagster_home: Path):
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        return instance.get_runs()


def _raw_rows(raw_dir: Path, source: str) -> int:
    files = [str(p) for p in (raw_dir / source).glob("load_date=*/*.parquet")]
    if not files:
        return 0
    return duckdb.sql(f"select count(*) from read_parquet({files!r})").fetchall()[0][0]


def _dismiss_welcome_dialog(page) -> None:
    """A new browser profile gets Dagster's community sign-up dialog a moment after the page loads; it covers
    the page until skipped."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    skip = page.get_by_role("button", name="Skip", exact=True)
    try:
        skip.wait_for(timeout=10_000)
    except PlaywrightTimeout:
        return
    skip.click()
    skip.wait_for(state="hidden")


@pytest.fixture
def dagster_dev(tmp_path):
    data = tmp_path / "data"
    (data / "landing" / "crm_customers").mkdir(parents=True)
    (data / "landing" / "crm_customers" / "crm_customers_1.csv").write_text(CRM_CSV)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "CX_DATA_DIR": str(data), "DAGSTER_HOME": str(home), "CX_SENSOR_INTERVAL_SECONDS": "5",
           "CX_REPORTS_DIR": str(tmp_path / "reports")}
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    proc = subprocess.Popen(
        [str(bin_dir / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT, env=env, start_new_session=True,
        stdout=open(tmp_path / "dagster_dev.log", "w"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _server_up(url) or proc.poll() is not None, 180, "dagster dev to serve")
        assert proc.poll() is None, (tmp_path / "dagster_dev.log").read_text()[-3000:]
        yield url, data, home
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_ui_shows_groups_materialises_an_asset_and_the_sensor_ingests_once(dagster_dev):
    from playwright.sync_api import sync_playwright

    url, data, home = dagster_dev
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{url}/asset-groups", wait_until="networkidle")
        _dismiss_welcome_dialog(page)
        for group in ("ingest", "staging", "marts", "kpi", "ml", "reports"):
            page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)

        page.goto(f"{url}/assets/raw/crm_customers", wait_until="networkidle")
        _dismiss_welcome_dialog(page)
        # the button's accessible name starts with its icon's label ("materialization Materialize")
        page.get_by_role("button", name=re.compile(r"\bMaterialize$")).first.click()
        ui_run = _wait_for(
            lambda: [r for r in _runs(home) if not r.tags.get("dagster/sensor_name")
                     and r.asset_selection and any(k.path == ["raw", "crm_customers"] for k in r.asset_selection)],
            120, "the run launched from the UI",
        )[0]
        _wait_for(lambda: [r for r in _runs(home) if r.run_id == ui_run.run_id and r.is_finished], 180,
                  "the UI run to finish")
        browser.close()
    assert [r for r in _runs(home) if r.run_id == ui_run.run_id][0].is_success
    assert _raw_rows(data / "raw", "crm_customers") == 1
    assert not errors, errors

    landing = data / "landing" / "orders"
    landing.mkdir(parents=True)
    (landing / "orders_new.csv.tmp").write_text(ORDERS_CSV)  # an upload still in progress is ignored ...
    (landing / "orders_new.csv.tmp").rename(landing / "orders_new.csv")  # ... until it gets its final name

    def sensor_runs():
        return [r for r in _runs(home) if r.tags.get("dagster/sensor_name") == "landing_files_sensor"
                and any(k.path == ["raw", "orders"] for k in (r.asset_selection or []))]

    _wait_for(lambda: [r for r in sensor_runs() if r.is_finished], 240, "the sensor's ingestion run")
    assert _raw_rows(data / "raw", "orders") == 2
    time.sleep(20)  # several more sensor ticks: the same file must not be ingested again
    runs = sensor_runs()
    assert len(runs) == 1 and runs[0].is_success
    assert _raw_rows(data / "raw", "orders") == 2
