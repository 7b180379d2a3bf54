"""The demo export generator on a small population (300 people x 60 days): determinism, the contracts, the
cross-references between sources, the ground truth and the deliberate bad input (checked by the real ingest)."""

import csv
import dataclasses
import hashlib
import io
import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cx_demo.generate import generate_demo
from cx_demo.marketing import CAMPAIGN_TYPE
from cx_demo.people import make_people
from cx_demo.simulate import simulate
from cx_demo.texts import SENTIMENTS, TOPICS, TextComposer
from cx_demo.timing import Clock
from cx_core.settings import get_settings
from cx_core.sources.contracts import CONTRACTS
from cx_core.sources.ingest import ingest_source
from ml.holdout import hash_unit

SMALL = {"customers": 300, "days": 60, "end_date": date(2026, 10, 31)}


def _generate(base: Path, seed: int) -> tuple[Path, Path]:
    out, truth = base / f"landing-{seed}", base / f"truth-{seed}"
    generate_demo(out_dir=out, truth_dir=truth, seed=seed, progress=False, **SMALL)
    return out, truth


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    return _generate(tmp_path_factory.mktemp("demo"), seed=7)


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def read_records(path: Path) -> list[dict]:
    """Records of one export as written (CSV: any encoding/delimiter the demo uses; rows short of fields keep None)."""
    raw = path.read_bytes()
    if path.suffix == ".csv":
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        delimiter = ";" if text.split("\n", 1)[0].count(";") > 1 else ","
        return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
    if path.suffix == ".ndjson":
        return [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    return json.loads(raw)


def records_of(landing: Path, source: str) -> list[tuple[Path, int, dict]]:
    """(file, 1-based data line, record) for every record of a source."""
    return [(p, i + 1, r) for p in sorted((landing / source).iterdir()) for i, r in enumerate(read_records(p))]


def bad_lines(truth: Path) -> set[tuple[str, int]]:
    rows = pl.read_parquet(truth / "bad_rows.parquet").filter(pl.col("expected_reason").is_not_null())
    return {(r["file"], r["line"]) for r in rows.iter_rows(named=True)}


def parse_time(text: str) -> datetime:
    if "." in text[:3]:
        return datetime.strptime(text, "%d.%m.%Y %H:%M:%S")
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path, demo):
    landing, truth = demo
    again_landing, again_truth = _generate(tmp_path, seed=7)
    assert _digests(again_landing) == _digests(landing)
    assert _digests(again_truth) == _digests(truth)
    other_landing, _ = _generate(tmp_path, seed=8)
    assert _digests(other_landing).keys() == _digests(landing).keys()
    assert all(_digests(other_landing)[k] != v for k, v in _digests(landing).items())


def test_every_source_is_written_with_exactly_the_contract_columns(demo):
    landing, _ = demo
    for source, contract in CONTRACTS.items():
        files = sorted((landing / source).iterdir())
        assert files, source
        for path in files:
            first = read_records(path)[0]
            assert list(first) == contract.column_names, path.name


def test_values_respect_the_contracts_except_the_deliberate_bad_rows(demo):
    landing, truth = demo
    expected_bad = bad_lines(truth)
    for source, contract in CONTRACTS.items():
        for path, line, record in records_of(landing, source):
            if (path.name, line) in expected_bad:
                continue
            for column in contract.columns:
                value = record[column.name]
                if value in (None, ""):
                    assert not column.required, (path.name, line, column.name)
                    continue
                if column.allowed:
                    assert value in column.allowed, (path.name, line, column.name, value)
                if column.type == "timestamp":
                    parse_time(value)
                if column.type in ("integer", "double") and (column.minimum is not None or column.maximum is not None):
                    number = float(str(value).replace(",", "."))
                    assert column.minimum is None or number >= column.minimum, (path.name, line, column.name)
                    assert column.maximum is None or number <= column.maximum, (path.name, line, column.name)
            if source == "surveys":
                scale = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[record["survey_type"]]
                assert scale[0] <= int(record["score"]) <= scale[1]
            if source == "chat_conversations":
                assert {m["sender"] for m in record["messages"]} <= {"customer", "bot", "agent"}


def test_every_purchase_event_has_its_order_and_every_return_its_original(demo):
    landing, _ = demo
    orders = [r for _, _, r in records_of(landing, "orders")]
    order_ids = {r["order_id"] for r in orders}
    purchases = [r for _, _, r in records_of(landing, "web_events") if r["event_type"] == "purchase"]
    assert purchases
    assert all(r["order_id"] in order_ids for r in purchases)
    channel = {r["order_id"]: r["channel"] for r in orders}
    assert all(channel[r["order_id"]] == r["platform"] for r in purchases)
    returns = [r for r in orders if r["order_type"] == "return"]
    assert returns
    assert all(r["original_order_id"] in order_ids for r in returns)


def test_truth_covers_every_identifier_as_written(demo):
    landing, truth = demo
    identities = pl.read_parquet(truth / "identities.parquet")
    known = {(r["source"], r["identifier_value"]) for r in identities.iter_rows(named=True)}
    columns = {"crm_customers": ["customer_id", "email", "phone", "loyalty_id", "social_handle"], "web_events": ["anonymous_id", "user_id"],
               "orders": ["customer_id", "email", "loyalty_id"], "email_events": ["email"], "mobile_messages": ["customer_id", "phone"], "support_tickets": ["email", "social_handle"],
               "chat_conversations": ["user_id", "email", "anonymous_id"], "calls": ["phone"], "social_mentions": ["author_handle"],
               "surveys": ["customer_id", "email"]}
    for source, names in columns.items():
        for path, line, record in records_of(landing, source):
            for name in names:
                if record.get(name):
                    assert (source, record[name]) in known, (path.name, line, name, record[name])
    persons = set(pl.read_parquet(truth / "persons.parquet")["person_id"])
    assert set(identities["person_id"]) - persons == {"BRAND", "SHOP_TEST"}


def test_shared_and_noisy_identifiers_are_present(demo):
    _, truth = demo
    identities = pl.read_parquet(truth / "identities.parquet")
    people_per_value = identities.group_by("identifier_type", "identifier_value").agg(pl.col("person_id").n_unique().alias("n"))
    shared = people_per_value.filter(pl.col("n") > 1)
    assert shared.filter(pl.col("identifier_value").str.starts_with("info@")).height >= 1
    assert shared.filter(pl.col("identifier_type") == "phone").height >= 1
    assert identities.filter(pl.col("identifier_value") == "test@lindenhaus.de")["person_id"].to_list() == ["SHOP_TEST"]
    phones = identities.filter(pl.col("identifier_type") == "phone")["identifier_value"]
    assert phones.str.starts_with("+49").any() and phones.str.starts_with("0").any()


def test_texts_are_german_and_english_and_match_the_truth(demo):
    landing, truth = demo
    texts = pl.read_parquet(truth / "texts.parquet")
    shares = texts["language"].value_counts(normalize=True)
    german = shares.filter(pl.col("language") == "de")["proportion"][0]
    assert 0.55 < german < 0.85
    assert set(texts["intended_sentiment"]) == set(SENTIMENTS)
    assert set(texts["topic"]) <= set(TOPICS)
    surveys = {r["response_id"]: r for _, _, r in records_of(landing, "surveys")}
    comments = texts.filter(pl.col("source") == "surveys")
    assert comments.height > 0
    for row in comments.iter_rows(named=True):
        answer = surveys[row["record_id"]]
        assert answer["comment"]
        low = {"nps": 6, "csat": 2}.get(answer["survey_type"])
        if row["intended_sentiment"] == "negative" and low is not None:
            assert int(answer["score"]) <= low


def test_churned_people_order_nothing_after_their_churn_date(demo):
    landing, truth = demo
    persons = pl.read_parquet(truth / "persons.parquet")
    churn = dict(persons.filter("churned").select("person_id", "churn_date").iter_rows())
    assert churn
    ids = pl.read_parquet(truth / "identities.parquet").filter(
        (pl.col("source") == "orders") & pl.col("identifier_type").is_in(["customer_id", "loyalty_id"]))
    owner = dict(ids.select("identifier_value", "person_id").iter_rows())
    checked = 0
    for _, _, order in records_of(landing, "orders"):
        person = owner.get(order["customer_id"] or order["loyalty_id"] or "")
        if person in churn:
            checked += 1
            assert parse_time(order["ordered_at"]).date() < churn[person], order["order_id"]
    assert checked > 0


def test_campaign_responses_follow_the_true_model_and_show_in_the_exports(demo):
    landing, truth = demo
    model = pl.read_parquet(truth / "response_model.parquet")
    assert model.height == 5 * 6 * 4
    responses = pl.read_parquet(truth / "campaign_responses.parquet")
    assert responses.join(model, on=["persona", "action", "channel"]).height == responses.height
    answered = responses.filter("responded")
    assert answered.height > 0
    assert (answered["responded_at"] > answered["sent_at"]).all()
    assert ((answered["responded_at"] - answered["sent_at"]).dt.total_days() < 14).all()
    assert (answered["value_eur"] > 0).all()
    mailed_types = {r["campaign_type"] for _, _, r in records_of(landing, "email_events")}
    assert {"newsletter", "promotion"} <= mailed_types


def test_every_sms_push_and_call_action_of_the_truth_is_exported(demo):
    """The response model is learnable only if every channel's sends are visible: SMS and push in
    mobile_messages, calls in calls with the queue outbound_<campaign_type>."""
    landing, truth = demo
    responses = pl.read_parquet(truth / "campaign_responses.parquet").with_columns(
        pl.col("action").replace_strict(CAMPAIGN_TYPE).alias("campaign_type")
    )
    messages = pl.DataFrame([r for _, _, r in records_of(landing, "mobile_messages")])
    expected = responses.filter(pl.col("channel").is_in(["sms", "push"])).group_by("channel", "campaign_type").len()
    exported = messages.group_by("channel", "campaign_type").len()
    assert expected.height > 0
    assert exported.sort("channel", "campaign_type").equals(expected.sort("channel", "campaign_type"))
    assert (messages.filter(pl.col("channel") == "sms")["phone"] != "").all()
    queues = {r["queue"] for _, _, r in records_of(landing, "calls") if r["queue"].startswith("outbound_")}
    called = set(responses.filter(pl.col("channel") == "phone")["campaign_type"])
    assert queues == {f"outbound_{campaign_type}" for campaign_type in called}


def test_ingest_quarantines_exactly_the_deliberate_bad_rows(demo, tmp_path):
    landing, truth = demo
    settings = dataclasses.replace(get_settings(), landing_dir=landing, raw_dir=tmp_path / "raw", quarantine_dir=tmp_path / "quarantine")
    quarantined = set()
    for contract in CONTRACTS.values():
        result = ingest_source(contract, settings)
        for file in result.files:
            if file.quarantine_file:
                rows = pl.read_parquet(file.quarantine_file).select("_source_file", "_source_line", "reason")
                quarantined |= {(contract.name, *row) for row in rows.iter_rows()}
    expected = pl.read_parquet(truth / "bad_rows.parquet").filter(pl.col("expected_reason").is_not_null())
    assert quarantined == {(r["source"], r["file"], r["line"], r["expected_reason"]) for r in expected.iter_rows(named=True)}
    kinds = set(pl.read_parquet(truth / "bad_rows.parquet")["kind"])
    assert kinds == {"malformed_row", "unparseable_timestamp", "score_out_of_range", "duplicate_row",
                     "latin1_semicolon_decimal_comma", "utf8_bom", "late_event"}


def test_the_late_event_is_weeks_older_than_the_rest_of_its_file(demo):
    landing, truth = demo
    late = pl.read_parquet(truth / "bad_rows.parquet").filter(pl.col("kind") == "late_event").row(0, named=True)
    events = read_records(landing / "web_events" / late["file"])
    times = [parse_time(e["event_time"]) for e in events]
    late_time = times[late["line"] - 1]
    others = [t for i, t in enumerate(times) if i != late["line"] - 1]
    assert (min(others) - late_time).days >= 21


@pytest.fixture(scope="module")
def world_with_wide_holdout():
    """One simulated chunk (1,500 people, 120 days) whose campaigns hold out 30%: enough actions to see the share."""
    rng = np.random.default_rng([11, 0])
    people, devices = make_people(rng, 0, 1_500, 120)
    return simulate(rng, TextComposer(11), Clock(date(2026, 7, 1), 120), 1, people, devices, holdout_share=0.3)


def test_held_out_people_get_no_message_and_the_share_is_the_configured_one(world_with_wide_holdout):
    world = world_with_wide_holdout
    actions = world.actions
    expected = [hash_unit(world.people["person_id"][p], a) < 0.3 for p, a in zip(actions["person"], actions["action"])]
    assert actions["is_holdout"].to_list() == expected  # ml.holdout's hash of person and action
    assert 0.26 < actions["is_holdout"].mean() < 0.34  # 30% ± 4 points (binomial sd about 1.3 points here)
    held = actions.filter("is_holdout")
    assert held.height > 100 and not held["responded"].any()
    # E-mail: a control row instead of a send at the planned time; SMS and push: a held_out row, never tapped.
    emails = world.emails.join(held.filter(pl.col("channel") == "email").select("person", "t"), on=["person", "t"])
    assert set(emails["event_type"]) == {"control"} and emails.height == held.filter(pl.col("channel") == "email").height
    messages = world.mobile_messages.join(held.select("person", "t", "channel"), on=["person", "t", "channel"])
    assert set(messages["status"]) == {"held_out"} and messages["click_t"].is_null().all()
    assert messages.height == held.filter(pl.col("channel").is_in(["sms", "push"])).height
    assert world.mobile_messages.filter(pl.col("status") == "held_out").height == messages.height
    # Phone: no call at all (a dialler logs no call it did not make).
    called = world.calls.filter(pl.col("queue").str.starts_with("outbound_")).select(person="_person", t="t")
    assert called.join(held.filter(pl.col("channel") == "phone").select("person", "t"), on=["person", "t"]).height == 0
    assert held.filter(pl.col("channel") == "phone").height > 0


def test_held_out_people_still_buy_organically_and_the_truth_records_it(demo):
    _, truth = demo
    responses = pl.read_parquet(truth / "campaign_responses.parquet")
    held = responses.filter("is_holdout")
    assert held.height > 0 and not held["responded"].any()
    # Organic purchases of the held out happen as for everyone: some of them buy within the window anyway.
    assert held["converted_without_action"].any()
    # A response is not its own organic outcome: contacted responders are not all counted as converted anyway.
    assert not responses.filter("responded")["converted_without_action"].all()
