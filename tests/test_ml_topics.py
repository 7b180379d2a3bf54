"""Topics from the seed, urgency rules with reasons, routing, and repeat-contact counting."""

from datetime import datetime

import dagster as dg
import duckdb
import polars as pl
import pytest

import ml.text_insights as text_insights_module
from dagster_project.defs.assets.ml_text import ml_text
from dagster_project.defs.resources import pipeline_resources
from ml.sentiment import shared_multilingual_encoder
from ml.text_cache import with_text_hash
from ml.text_insights import text_evidence, text_insights
from ml.topics import TopicClassifier, keyword_pattern, load_topics, with_sentiment
from ml.urgency import ESCALATIONS_TEAM, assess_urgency, contacts_in_window
from tests.helpers.materializations import materialization_of
from tests.helpers.settings_env import point_settings_at

DEMO_TOPICS = {"delivery", "returns_refunds", "payment_billing", "product_quality", "account_login",
               "store_experience", "praise", "other"}


@pytest.fixture(scope="module")
def classifier():
    return TopicClassifier(load_topics(), shared_multilingual_encoder())


def test_seed_has_the_topic_set_with_teams_and_bilingual_descriptions():
    topics = load_topics()
    assert {t.topic for t in topics} == DEMO_TOPICS
    assert all(t.routing_team and t.description_en and t.description_de for t in topics)
    assert next(t for t in topics if t.topic == "other").keywords == ()


def test_keywords_match_at_word_starts_only():
    pattern = keyword_pattern(["paket", "billing"])
    assert pattern.findall("Paketbote hat nicht geklingelt, PAKET weg") == ["Paket", "PAKET"]
    assert pattern.findall("Billig-Ware, Rezeptpaket") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wo bleibt mein Paket? Die Sendungsverfolgung zeigt nichts.", "delivery"),
        ("Ich warte seit Wochen auf meine Rückerstattung", "returns_refunds"),
        ("Mir wurde zweimal abgebucht!", "payment_billing"),
        ("Der Reißverschluss ist kaputt, miese Qualität", "product_quality"),
        ("Passwort vergessen, ich komme nicht in mein Konto", "account_login"),
        ("In der Filiale war die Kasse ewig voll", "store_experience"),
        ("My refund still hasn't arrived", "returns_refunds"),
        ("I was charged twice for one order", "payment_billing"),
        ("I can't log in to my account", "account_login"),
    ],
)
def test_known_topics_in_german_and_english(classifier, text, expected):
    [decision] = classifier.classify([text])
    assert (decision.topic, decision.method) == (expected, "keywords")
    assert 0 < decision.topic_score <= 1


def test_keyword_share_is_the_topic_score(classifier):
    # "paket" and "lieferung" for delivery, "rechnung" for payment_billing: delivery wins with 2 of 3 hits
    [decision] = classifier.classify(["Paket und Lieferung fehlen, die Rechnung kam aber"])
    assert (decision.topic, decision.topic_score) == ("delivery", pytest.approx(2 / 3, abs=1e-4))


def test_texts_without_evidence_fall_back_by_sentiment(classifier):
    unrelated = "Mein Hund hat heute Geburtstag."
    decisions = classifier.classify([unrelated, unrelated, ""], ["positive", "neutral", "neutral"])
    assert [(d.topic, d.method) for d in decisions] == [("praise", "sentiment"), ("other", "fallback"), ("other", "fallback")]


def test_texts_without_keywords_go_to_the_nearest_topic_in_either_language(classifier):
    decisions = classifier.classify([
        "Der Fahrer hat den Karton einfach vor die Tür geworfen.",  # no delivery keyword, German
        "Der Newsletter kommt jeden Tag, bitte abbestellen.",  # nearest to the description of `other`
        "Das Wetter in Hamburg ist heute schön.",  # unrelated to every topic: below the similarity floor
    ], ["negative", "negative", "neutral"])
    assert [(d.topic, d.method) for d in decisions] == [
        ("delivery", "nearest_topic"), ("other", "nearest_topic"), ("other", "fallback")]
    assert 0.15 <= decisions[0].topic_score < 1


def test_routing_team_and_label_come_from_the_seed(classifier):
    assert classifier.routing_team("returns_refunds") == "returns_team"
    assert classifier.label("returns_refunds") == "Returns & refunds"


@pytest.mark.parametrize(
    ("text", "sentiment", "topic", "contacts", "expected"),
    [
        ("Der Wasserkocher hat angefangen zu rauchen!", "negative", "product_quality", 1,
         ("high", "safety words ('rauch')", True)),
        ("I will take legal action if this is not fixed", "negative", "returns_refunds", 1,
         ("high", "legal words ('legal action')", True)),
        ("Ich kündige mein Kundenkonto.", "negative", "account_login", 1,
         ("high", "threat to cancel ('kündig')", False)),
        ("Immer noch kein Geld zurück", "negative", "returns_refunds", 3,
         ("high", "negative, contact 3 within 7 days", False)),
        ("Immer noch kein Geld zurück", "negative", "returns_refunds", 1,
         ("normal", "negative text on returns_refunds", False)),
        ("Any news on my order?", "neutral", "other", 2, ("normal", "repeat contact (2 within 7 days)", False)),
        ("Wann kommt mein Paket?", "neutral", "delivery", 1, ("normal", "open question on delivery", False)),
        ("Ihr seid super!", "positive", "praise", 1, ("low", "positive text on praise, no urgency signal", False)),
    ],
)
def test_urgency_rules_with_reasons(text, sentiment, topic, contacts, expected):
    urgency = assess_urgency(text, sentiment, topic, contacts)
    assert (urgency.urgency, urgency.reason, urgency.escalate) == expected


def test_escalations_team_exists_apart_from_topic_teams():
    assert ESCALATIONS_TEAM not in {t.routing_team for t in load_topics()}


def test_contacts_in_window_counts_the_customers_inbound_texts_of_the_last_seven_days():
    frame = pl.DataFrame(
        {
            "customer_key": ["a", "b", "a", "a", None, "a", None, "a"],
            "occurred_at": [datetime(2026, 3, d) for d in (10, 1, 1, 5, 9, 8, 9, 9)],
            "direction": ["inbound"] * 7 + ["outbound"],
        }
    )
    # The window is (t - 7 days, t]. Customer a wrote on 1, 5, 8 and 10 March and got a reply on 9 March, which
    # is no contact: 1 Mar -> 1; 5 Mar -> 2 (1, 5); 8 Mar -> 2 (5, 8; 1 March is exactly 7 days earlier,
    # outside); 10 Mar -> 3 (5, 8, 10); the reply's own row -> 2 (5, 8).
    # b and the two rows without a customer count only themselves.
    assert contacts_in_window(frame).to_list() == [3, 1, 1, 2, 1, 2, 1, 2]


def test_company_messages_are_low_urgency_whatever_they_say():
    urgency = assess_urgency("Wir leiten rechtliche Schritte ein", "negative", "other", 5, inbound=False)
    assert (urgency.urgency, urgency.reason, urgency.escalate) == ("low", "company message (outbound)", False)


def test_insights_are_decided_once_per_combination_and_equal_the_rules_per_touchpoint(classifier, monkeypatch):
    """138,000 text touchpoints at 100k customers fall into ~7,300 combinations of sentiment, direction, contacts
    and evidence: deciding each touchpoint in a Python loop cost ~1 s of every refresh (issue 19)."""
    texts = ["Wo ist mein Paket?", "Tolle Beratung, danke!", "I will call my lawyer", "Wo ist mein Paket?"]
    touchpoints = with_text_hash(pl.DataFrame({
        "touchpoint_id": [f"t{i}" for i in range(8)],
        "customer_key": ["a", "a", "b", "c", "a", "d", "e", "f"],
        "occurred_at": [datetime(2026, 3, day) for day in (1, 2, 3, 3, 20, 21, 21, 21)],
        "sentiment": ["negative", "positive", "negative", "negative", "negative", "positive", "negative", "neutral"],
        "direction": ["inbound"] * 7 + ["outbound"],
        "text": texts + texts,
    }))
    evidence = text_evidence(touchpoints.unique(subset="text_hash"), classifier)
    decided = []
    urgency_of_signal = text_insights_module.urgency_of_signal
    monkeypatch.setattr(text_insights_module, "urgency_of_signal", lambda *args, **kwargs: decided.append(args) or
                        urgency_of_signal(*args, **kwargs))
    insights = text_insights(touchpoints, evidence, classifier)
    # t3 (another customer) and t4 (customer a weeks later) repeat t0's combination, t6 repeats t2's
    assert len(decided) == 5
    contacts = contacts_in_window(touchpoints).to_list()
    per_touchpoint = [
        (decision.topic, urgency.urgency, urgency.reason)
        for text, sentiment, direction, contact in zip(texts + texts, touchpoints["sentiment"],
                                                       touchpoints["direction"], contacts)
        for decision in [with_sentiment(classifier.evidence([text])[0], sentiment)]
        for urgency in [assess_urgency(text, sentiment, decision.topic, contact, inbound=direction == "inbound")]
    ]
    assert insights["touchpoint_id"].to_list() == touchpoints["touchpoint_id"].to_list()
    assert list(insights.select("topic", "urgency", "urgency_reason").iter_rows()) == per_touchpoint


@pytest.mark.slow
def test_insights_asset_writes_topic_labels_and_the_share_of_other_among_customer_texts(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    point_settings_at(monkeypatch, tmp_path, CX_WAREHOUSE=str(warehouse), CX_ML_CACHE_DIR=str(tmp_path / "ml_cache"))
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE TABLE fct_touchpoints (touchpoint_id VARCHAR, customer_key VARCHAR, occurred_at "
                           "TIMESTAMP, channel VARCHAR, direction VARCHAR, text VARCHAR, language VARCHAR)")
        connection.executemany("INSERT INTO fct_touchpoints VALUES (?, 'c1', ?, 'email', ?, ?, 'de')", [
            ("t1", datetime(2026, 3, 1, 9), "inbound", "Mein Paket ist nicht angekommen."),
            ("t2", datetime(2026, 3, 1, 10), "inbound", "Wann kommt meine Rückerstattung?"),
            ("t3", datetime(2026, 3, 1, 11), "inbound", "Der Newsletter kommt jeden Tag, bitte abbestellen."),
            ("t4", datetime(2026, 3, 1, 12), "outbound", "Wir haben Ihre Nachricht erhalten."),  # not customer voice
        ])
    result = dg.materialize([ml_text], selection=["ml_sentiment", "ml_text_insights"], resources=pipeline_resources())
    materialization = materialization_of(result, "ml_text_insights")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        labels = dict(connection.sql("SELECT touchpoint_id, topic_label FROM ml_text_insights").fetchall())
    assert (labels["t1"], labels["t2"], labels["t3"]) == ("Delivery", "Returns & refunds", "Other")
    # one of the three customer texts fits no topic
    assert materialization.metadata["other_share"].value == pytest.approx(0.3333)
