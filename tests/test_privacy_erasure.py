"""Erasure of one person (issue 18): after `erase_person`, nothing under the data folder names them.

The fixture exports (tests/fixtures/landing) tell the story of Anna (CRM C0000001), who appears in every
source under several identifiers: CRM id, two e-mail addresses, a local phone number, a loyalty card, a
social handle and a cookie. The data folder is built for real: ingest of every source, then dbt seed + run.
Closed-loop cases (issue 16): Anna and Ben each answer NPS as detractors, the CRM sends updates of both cases
(Anna's notes name her; one of them is quarantined for its status, one for its field count), and the
`cases_export` asset writes two days' CRM exports to a folder outside the data folder (CX_EXPORTS_DIR).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from cx_core.cases import case_id, read_case_export
from cx_core.privacy.erasure import erase_person, erasure_log_path
from cx_core.privacy.identifiers import candidate_identifiers, normalize_phone_e164
from cx_core.privacy.pseudonym import identifier_pseudonym, pseudonym_key
from cx_core.privacy.requests import process_pending_requests, write_request
from cx_core.privacy.retention import apply_retention
from cx_core.privacy.rewrite import remove_landing_records
from cx_core.settings import get_settings
from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.ingest import ingest_source
from dagster_project.defs.assets.cases import cases_export
from dagster_project.defs.assets.dbt import DBT_PROJECT_DIR, dbt_executable
from dagster_project.defs.assets.privacy import erasure_requests
from dagster_project.defs.resources import pipeline_resources
from ml.text_cache import CACHE_KINDS, TextCache, text_hash
from tests.helpers.settings_env import point_settings_at

pytestmark = pytest.mark.slow  # builds a real data folder: ingest, dbt seed and run

FIXTURE_LANDING = Path(__file__).parent / "fixtures" / "landing"

# Everything that names Anna, as typed in the exports and as normalised by staging; and texts she wrote.
# Her closed-loop case (a detractor answer below) names her through its id.
ANNA_CASE, BEN_CASE = case_id("detractor", "R20"), case_id("detractor", "R21")
ANNA = [ANNA_CASE, "C0000001", "C-C0000001", "Anna.Mueller@Example.de", "anna@example.de", "0171 1234567",
        "+491711234567", "L12345678", "@anna_m", "Müller", "Lieferung super schnell!", "Wo ist mein Paket?", "Schnelle Lieferung!"]
BEN = ["ben@example.com", "+41791234567", "How do I return shoes?"]
# Written by the test, not in the shared fixture folder: every other test keeps its fixture as it is.
DETRACTOR_ANSWERS = """response_id,responded_at,customer_id,email,survey_type,score,comment,trigger_type,trigger_id
R20,2026-03-04T13:00:00Z,C0000001,,nps,2,,purchase,O1001
R21,2026-03-04T13:05:00Z,,ben@example.com,nps,3,,support_ticket,T1
"""
# Anna's case is closed, then reopened (so the exports list it); a bad status and a line with a field too many
# go to quarantine, the second one as raw text. Ben's case gets no update: it stays open and exported.
CASE_UPDATES = f"""case_id,status,updated_at,note
{ANNA_CASE},closed,2026-03-05T10:00:00Z,Rückruf bei Frau Müller: Gutschein geschickt
{ANNA_CASE},open,2026-03-05T11:30:00Z,Frau Müller ist weiter unzufrieden
{ANNA_CASE},done,2026-03-05T12:00:00Z,Frau Müller erneut angerufen
{ANNA_CASE},open,2026-03-05T13:00:00Z,Müller,ruft zurück
"""
EXPORT_DAYS = ("2026-03-05", "2026-03-06")
TEXT_SUFFIXES = {".csv", ".json", ".jsonl", ".ndjson", ".html", ".md", ".txt", ".key"}


def build_data_folder(data_dir: Path, env: pytest.MonkeyPatch) -> None:
    """Landing exports -> raw + quarantine (ingest) -> warehouse (dbt seed, dbt run) -> the text caches and the
    CRM exports of the open cases."""
    settings = get_settings()
    shutil.copytree(FIXTURE_LANDING, settings.landing_dir)
    (settings.landing_dir / "surveys" / "surveys_detractors.csv").write_text(DETRACTOR_ANSWERS, encoding="utf-8")
    (settings.landing_dir / "case_updates").mkdir()
    (settings.landing_dir / "case_updates" / "case_updates_2026-03-06.csv").write_text(CASE_UPDATES, encoding="utf-8")
    for contract in CONTRACTS.values():
        ingest_source(contract, settings)
    for command in ("seed", "run"):
        done = subprocess.run([dbt_executable(), command, "--target-path", str(data_dir.parent / "dbt_target")],
                              cwd=DBT_PROJECT_DIR, env=dict(os.environ), capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        texts = [t for (t,) in con.execute("SELECT DISTINCT text FROM fct_touchpoints WHERE text IS NOT NULL").fetchall()]
    for kind in CACHE_KINDS:  # every kind of text cache holds every text (the values do not matter here)
        entries = pl.DataFrame({"text_hash": [text_hash(t) for t in texts]}).with_columns(
            pl.lit(None, dtype).alias(name) for name, dtype in kind.values.items())
        TextCache(settings.ml_cache_dir, kind).add(entries, "test-model")
    # two days' files by the real asset (CX_AS_OF names the file): an older day's file may still be there
    for day in EXPORT_DAYS:
        env.setenv("CX_AS_OF", day)
        assert dg.materialize([cases_export], resources=pipeline_resources()).success
    env.delenv("CX_AS_OF")


def values_in(path: Path) -> str:
    """Everything a file holds, as searchable text: every value of every table of Parquet and DuckDB files
    (their bytes may be compressed), the bytes of all other files."""
    if path.suffix == ".parquet":
        with duckdb.connect() as con:
            return str(con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall())
    if path.suffix == ".duckdb":
        with duckdb.connect(str(path), read_only=True) as con:
            tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() UNION ALL "
                                 "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal").fetchall()
            contents = [str(con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()) for s, t in tables]
        return "\n".join(contents) + path.read_bytes().decode("latin-1")
    return path.read_bytes().decode("utf-8" if path.suffix in TEXT_SUFFIXES else "latin-1", errors="replace")


def findings(data_dir: Path, needles: list[str]) -> list[str]:
    """Every needle found in a file of the data folder or of the exports folder (CX_EXPORTS_DIR, here outside it)."""
    exports_dir = get_settings().exports_dir
    folders = [(data_dir, data_dir)]  # (folder, the root its paths are shown from)
    if not exports_dir.is_relative_to(data_dir):
        folders.append((exports_dir, exports_dir.parent))
    found = []
    for folder, root in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            content = values_in(path).lower()
            found += [f"{needle!r} in {path.relative_to(root)}" for needle in needles if needle.lower() in content]
    return found


@pytest.fixture(scope="module")
def erased(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("cx_erasure") / "data"
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, data_dir, CX_EXPORTS_DIR=str(data_dir.parent / "crm_exports"))
        build_data_folder(data_dir, env)
        before = findings(data_dir, ANNA)
        request_id = write_request(get_settings(), ["ANNA.MUELLER@example.de"])
        # through the Dagster asset, as the sensor and `cx forget` run it
        result = dg.materialize([erasure_requests], resources=pipeline_resources())
        assert result.success
        [materialisation] = result.get_asset_materialization_events()
        yield data_dir, before, (request_id, materialisation.materialization.metadata)


def test_before_erasure_the_person_is_everywhere(erased):
    _, before, _ = erased
    places = {line.split(" in ")[1].split("/")[0] for line in before}
    assert {"landing", "raw", "quarantine", "warehouse.duckdb", "crm_exports"} <= places
    assert any("Wo ist mein Paket?" in line for line in before)
    # her case: its updates (with notes naming her) in landing, raw and quarantine, its rows in both exports
    assert {line.split(" in ")[1] for line in before if ANNA_CASE in line} >= {
        "landing/case_updates/case_updates_2026-03-06.csv", "crm_exports/cases_2026-03-05.csv",
        "crm_exports/cases_2026-03-06.csv"}


def test_after_erasure_no_file_names_the_person(erased):
    data_dir, _, _ = erased
    assert findings(data_dir, ANNA) == []


def test_other_customers_stay(erased):
    data_dir, _, _ = erased
    found = findings(data_dir, BEN)
    for needle in BEN:
        assert any(repr(needle) in line and "raw" in line for line in found), needle
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as con:
        email_hash = con.execute("SELECT email_hash FROM dim_customers WHERE crm_customer_id = 'C0000002'").fetchall()
    # dbt's keyed pseudonym (the cx_pseudonym plugin function) is the suppression list's pseudonym
    key = pseudonym_key(get_settings().pseudonym_key_file)
    assert email_hash == [(identifier_pseudonym(key, "email", "ben@example.com"),)]


def test_every_text_cache_loses_the_persons_texts_and_keeps_the_others(erased):
    # a hash names no one in a file search, so the caches are checked by the hashes of the texts: what stays is
    # exactly the texts of the other customers
    settings = get_settings()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        texts = con.execute("SELECT text FROM fct_touchpoints WHERE text IS NOT NULL").fetchall()
    others = {text_hash(t) for (t,) in texts}
    assert others, "other customers' texts stay in the warehouse"
    for kind in CACHE_KINDS:
        hashes = set(TextCache(settings.ml_cache_dir, kind).read()["text_hash"])
        assert not hashes & {text_hash(t) for t in ("Lieferung super schnell!", "Wo ist mein Paket?")}, kind.name
        assert hashes == others, kind.name


def test_the_crm_exports_keep_the_other_customers_cases(erased):
    exports_dir = get_settings().exports_dir
    for day in EXPORT_DAYS:
        assert read_case_export(exports_dir / f"cases_{day}.csv")["case_id"].to_list() == [BEN_CASE]
    assert not list(exports_dir.glob(".*")), "no temporary file left behind"


def test_erasure_log_counts_every_place_without_personal_data(erased):
    data_dir, _, (request_id, metadata) = erased
    assert metadata["requests_processed"].value == 1 and metadata["request_ids"].value == request_id
    assert not [needle for needle in ANNA if needle.lower() in str(metadata).lower()]  # Dagster stores it
    logged = [json.loads(line) for line in erasure_log_path(data_dir / "privacy").read_text().splitlines()]
    assert [e["request_id"] for e in logged] == [request_id]
    removed = logged[0]["removed"]
    # Anna's CRM row, her social post... in raw; her bad order and survey lines in quarantine; her texts in
    # the ML cache; her rows in the warehouse tables
    assert removed["raw"]["crm_customers"] == 1 and removed["raw"]["social_mentions"] == 1
    assert removed["quarantine"]["orders"] >= 1 and removed["quarantine"]["surveys"] >= 1
    assert removed["landing"]["crm_customers"] == 1
    assert set(removed["ml_cache"]) == {kind.name for kind in CACHE_KINDS}
    assert all(count >= 3 for count in removed["ml_cache"].values()), removed["ml_cache"]
    # Anna, and the profile of her phone, which a second CRM id shares (so the graph blocks it)
    assert removed["warehouse"]["dim_customers"] == 2 and logged[0]["customer_keys"] == 2
    # her case: two updates in raw, two in quarantine (a bad status, a line that did not split), the four lines
    # of the landing file, its row in each day's CRM export, its updates in the warehouse
    assert (removed["raw"]["case_updates"], removed["quarantine"]["case_updates"]) == (2, 2)
    assert removed["landing"]["case_updates"] == 4
    assert removed["exports"] == {"cases_2026-03-05.csv": 1, "cases_2026-03-06.csv": 1}
    assert removed["warehouse"]["fct_cx_case_updates"] == 2 and removed["warehouse"]["fct_cx_cases"] == 1
    assert not list((data_dir / "landing" / "erasure_requests").glob("*.csv")), "the request names the person"


def test_rewritten_landing_files_are_not_changed_content(erased):
    settings = get_settings()
    for contract in CONTRACTS.values():
        result = ingest_source(contract, settings)  # raises ContractError on "changed content"
        assert result.files == (), contract.name


def test_a_redelivered_export_cannot_bring_the_person_back(erased):
    data_dir, _, _ = erased
    settings = get_settings()
    shutil.copy(FIXTURE_LANDING / "crm_customers" / "crm_customers_good.csv",
                settings.landing_dir / "crm_customers" / "crm_customers_redelivered.csv")
    result = ingest_source(CONTRACTS["crm_customers"], settings)
    assert (result.rows_read, result.rows_loaded, result.rows_suppressed) == (2, 1, 1)
    (settings.landing_dir / "crm_customers" / "crm_customers_redelivered.csv").unlink()
    assert findings(data_dir, ["Anna.Mueller@Example.de", "C0000001"]) == []


def test_the_key_file_is_private_and_outside_the_data_folder(erased):
    data_dir, _, _ = erased
    key_file = get_settings().pseudonym_key_file
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert not key_file.is_relative_to(data_dir)
    assert len(pseudonym_key(key_file)) == 32


def test_phone_normalisation_matches_the_dbt_macro_rules():
    assert normalize_phone_e164("0171 1234567", "49") == "+491711234567"
    assert normalize_phone_e164("+49 (0)171 1234567", "49") == "+491711234567"
    assert normalize_phone_e164("0043 1 234567", "49") == "+431234567"
    assert normalize_phone_e164("1711234567", "49") is None  # bare digits are ambiguous
    assert normalize_phone_e164("0171 CALLME", "49") is None
    assert candidate_identifiers("@Anna_M") == {("social_handle", "@anna_m"), ("crm_id", "@Anna_M"),
                                                ("loyalty_id", "@ANNA_M"), ("anonymous_id", "@Anna_M")}


def test_landing_records_are_removed_as_the_reader_numbers_them(tmp_path):
    # removed records leave empty lines, so line numbers of the others stay valid for the next erasure
    csv_file = tmp_path / "x.csv"
    csv_file.write_bytes(b'id,text\r\n1,"two\r\nlines"\r\n\r\n3,c\r\n4,d')
    assert remove_landing_records(csv_file, "csv", "latin-1", {1, 3}) == 2
    assert csv_file.read_bytes() == b"id,text\r\n\r\n\r\n\r\n4,d"
    assert remove_landing_records(csv_file, "csv", "latin-1", {4}) == 1
    ndjson_file = tmp_path / "x.ndjson"
    ndjson_file.write_text('{"a": 1}\n{"a": 2}\n')
    assert remove_landing_records(ndjson_file, "ndjson", "utf-8", {1}) == 1
    assert ndjson_file.read_text() == '\n{"a": 2}\n'
    json_file = tmp_path / "x.json"
    json_file.write_text('[{"a": 1}, {"a": 2}]')
    assert remove_landing_records(json_file, "json", "utf-8", {1}) == 1
    assert json.loads(json_file.read_text()) == [{}, {"a": 2}]


def test_a_second_erasure_finds_its_rows_in_files_an_earlier_one_rewrote(erased):
    data_dir, _, _ = erased
    write_request(get_settings(), ["ben@example.com"])
    [entry] = process_pending_requests(get_settings())
    assert entry.removed["landing"]["crm_customers"] == 1  # the file Anna's erasure rewrote
    assert findings(data_dir, BEN) == []


def test_an_erasure_right_after_a_retention_run_erases_the_shared_identifiers_of_the_persons_records(tmp_path):
    """Anna's phone is also a household member's (C0000123's messages), so the identity graph blocks it and no
    component holds it; the erasure finds it on her own records in int_identity_observations. A retention run
    between the last refresh and the erasure (here the web events before 08:02 on 1 March) must leave those
    records there: afterwards nothing names her, the shared phone's calls and messages included."""
    data_dir = tmp_path / "data"
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, data_dir, CX_EXPORTS_DIR=str(tmp_path / "crm_exports"), CX_RETENTION_DAYS="web_events:1")
        build_data_folder(data_dir, env)
        [retained] = apply_retention(get_settings(), now=datetime(2026, 3, 2, 8, 2, tzinfo=timezone.utc))
        assert retained.raw > 0
        erase_person(["ANNA.MUELLER@example.de"], "after-retention", get_settings())
        assert findings(data_dir, ANNA) == []
