"""Public labelled dev sets that resemble issue 14's held-out sets, read from their original files.

They are not shipped (GermEval 2017 is CC BY-NC 4.0, the CrowdFlower tweets state no licence) and not trained
on; `make bench` scores them when `CX_SENTIMENT_DEV_DIR` points at a folder with any of these files (sources
and licences in `ml/data/README.md`):

* `germeval2017_dev-2017-09-15.xml`: GermEval 2017 dev set, German customer feedback on Deutsche Bahn
  (tweets, news, forum posts), document polarity negative / neutral / positive; only the documents marked
  relevant to the company (the others are mostly news that merely mention it);
* `Apple-Twitter-Sentiment-DFE.csv`: CrowdFlower "Apple Twitter sentiment" (tweets to or about @Apple, 2014),
  rated 1 / 3 / 5 = negative / neutral / positive; the `not_relevant` rows are dropped;
* `amazon_cells_labelled.txt`: UCI "Sentiment Labelled Sentences" (Kotzias et al. 2015), 1,000 Amazon
  product-review sentences, binary 0 / 1.

Every loader returns (text, label, language) with our label names.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import polars as pl

from ml.sentiment_lexicon import NEGATIVE, NEUTRAL, POSITIVE

SCHEMA = {"text": pl.Utf8, "label": pl.Utf8, "language": pl.Utf8}
CROWDFLOWER_LABELS = {"1": NEGATIVE, "3": NEUTRAL, "5": POSITIVE}
BINARY_LABELS = {"0": NEGATIVE, "1": POSITIVE}


def germeval_2017(path: Path) -> pl.DataFrame:
    rows = [
        (document.findtext("text"), document.findtext("sentiment"), "de")
        for document in ElementTree.parse(path).getroot().iter("Document")
        if document.findtext("relevance") == "true"
    ]
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def crowdflower_apple_tweets(path: Path) -> pl.DataFrame:
    with path.open(encoding="utf-8", newline="") as handle:
        lines = handle.readlines()
    # The common copy starts with a title line, then a `;`-separated header.
    body = lines[1:] if lines[0].startswith("Apple-Twitter-Sentiment-DFE") else lines
    records = csv.DictReader(body, delimiter=";" if ";" in body[0] else ",")
    rows = [
        (record["text"], CROWDFLOWER_LABELS[record["sentiment"]], "en")
        for record in records
        if record["sentiment"] in CROWDFLOWER_LABELS
    ]
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def uci_labelled_sentences(path: Path) -> pl.DataFrame:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text, _, score = line.rpartition("\t")
        rows.append((text.strip(), BINARY_LABELS[score.strip()], "en"))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


DEV_SETS: dict[str, tuple[str, Callable[[Path], pl.DataFrame]]] = {
    "germeval2017_dev_de": ("germeval2017_dev-2017-09-15.xml", germeval_2017),
    "apple_tweets_en": ("Apple-Twitter-Sentiment-DFE.csv", crowdflower_apple_tweets),
    "amazon_sentences_binary_en": ("amazon_cells_labelled.txt", uci_labelled_sentences),
}


def load_dev_sets(directory: Path) -> dict[str, pl.DataFrame]:
    """The dev sets whose file is in `directory`, by name."""
    return {
        name: reader(directory / file_name)
        for name, (file_name, reader) in DEV_SETS.items()
        if (directory / file_name).exists()
    }
