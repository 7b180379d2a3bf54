"""Sentiment data: German news sentences as neutral training text, the public dev-set readers of `make bench`
and binary scoring, each on tiny hand-written files."""

from ml.import_ud_news import SOURCE, news_sentences
from ml.train_sentiment import binary_label, labelled_texts
from tests.benchmarks.sentiment_dev_sets import (
    crowdflower_apple_tweets,
    germeval_2017,
    load_dev_sets,
    uci_labelled_sentences,
)

CONLLU = """# sent_id = test-s301
# text = Das Essen war super lecker und der Service toll.
1\tDas\tder\tDET\t_\t_\t2\tdet\t_\t_

# sent_id = test-s302
# text = Die Bahn erhöht die Zahl ihrer Bauprojekte in diesem Jahr deutlich.
1\tDie\tder\tDET\t_\t_\t2\tdet\t_\t_

# sent_id = test-s303
# text = Islamische Opposition fordert Dialog
1\tIslamische\tislamisch\tADJ\t_\t_\t2\tamod\t_\t_

# sent_id = test-s304
# text = ``Wir rechnen mit acht Prozent mehr Umsatz'', sagte ein Sprecher.
1\t``\t``\tPUNCT\t_\t_\t2\tpunct\t_\t_
"""


def test_news_sentences_skip_reviews_and_headlines_and_plain_the_quotes():
    # test-s301 is the last review sentence of the test file; s303 has five words (a headline)
    assert news_sentences(CONLLU, "test") == [
        "Die Bahn erhöht die Zahl ihrer Bauprojekte in diesem Jahr deutlich.",
        '"Wir rechnen mit acht Prozent mehr Umsatz", sagte ein Sprecher.',
    ]
    # in the dev file reviews run to s500, so none of these is news
    assert news_sentences(CONLLU, "dev") == []


def test_news_sentences_become_distinct_neutral_german_rows():
    texts = ["Ein Satz mit genug Wörtern hier.", "Ein Satz mit genug Wörtern hier.", "Noch ein Satz."]
    frame = labelled_texts(texts, "neutral", "de", SOURCE)
    assert frame.to_dicts() == [
        {"text": "Ein Satz mit genug Wörtern hier.", "label": "neutral", "language": "de", "source": SOURCE},
        {"text": "Noch ein Satz.", "label": "neutral", "language": "de", "source": SOURCE},
    ]


GERMEVAL = """<Documents>
    <Document id="http://twitter.com/a/statuses/1">
        <relevance>true</relevance>
        <sentiment>negative</sentiment>
        <text>@DB_Bahn schon wieder 20 Minuten Versp&#228;tung</text>
    </Document>
    <Document id="http://example.org/news">
        <relevance>false</relevance>
        <sentiment>neutral</sentiment>
        <text>Sonne sorgt in London f&#252;r Versp&#228;tungen</text>
    </Document>
    <Document id="http://twitter.com/b/statuses/2">
        <relevance>true</relevance>
        <sentiment>neutral</sentiment>
        <text>@DB_Bahn Wie lang wird das dauern?</text>
    </Document>
</Documents>
"""
APPLE = (
    "Apple-Twitter-Sentiment-DFE;;;\n"
    "_unit_id;sentiment;text\n"
    "1;1;@Apple my phone died again\n"
    "2;not_relevant;#AAPL up 2%\n"
    '3;5;"love the new @Apple watch; so good"\n'
    "4;3;@Apple when does the store open?\n"
)
UCI = "Great for the jawbone.\t1\nBattery died after a day.  \t0\n"


def test_dev_set_readers_keep_relevant_rated_rows_with_our_labels(tmp_path):
    (tmp_path / "germeval2017_dev-2017-09-15.xml").write_text(GERMEVAL, encoding="utf-8")
    (tmp_path / "Apple-Twitter-Sentiment-DFE.csv").write_text(APPLE, encoding="utf-8")
    (tmp_path / "amazon_cells_labelled.txt").write_text(UCI, encoding="utf-8")

    assert germeval_2017(tmp_path / "germeval2017_dev-2017-09-15.xml").rows() == [
        ("@DB_Bahn schon wieder 20 Minuten Verspätung", "negative", "de"),
        ("@DB_Bahn Wie lang wird das dauern?", "neutral", "de"),
    ]
    assert crowdflower_apple_tweets(tmp_path / "Apple-Twitter-Sentiment-DFE.csv").rows() == [
        ("@Apple my phone died again", "negative", "en"),
        ("love the new @Apple watch; so good", "positive", "en"),
        ("@Apple when does the store open?", "neutral", "en"),
    ]
    assert uci_labelled_sentences(tmp_path / "amazon_cells_labelled.txt").rows() == [
        ("Great for the jawbone.", "positive", "en"),
        ("Battery died after a day.", "negative", "en"),
    ]
    assert sorted(load_dev_sets(tmp_path)) == ["amazon_sentences_binary_en", "apple_tweets_en", "germeval2017_dev_de"]


def test_only_the_dev_sets_whose_file_is_there_load(tmp_path):
    (tmp_path / "amazon_cells_labelled.txt").write_text(UCI, encoding="utf-8")
    assert list(load_dev_sets(tmp_path)) == ["amazon_sentences_binary_en"]


def test_binary_sets_are_scored_by_the_sign_of_the_score():
    # score = P(positive) - P(negative); a tie is not positive
    assert [binary_label(score) for score in (0.4, -0.2, 0.0)] == ["positive", "negative", "negative"]

