"""German factual sentences as neutral training text: `python -m ml.import_ud_news DEV_CONLLU TEST_CONLLU`.

Source: UniversalDependencies/UD_German-GSD, `de_gsd-ud-dev.conllu` and `de_gsd-ud-test.conllu` (CC BY-SA 4.0,
see ml/data/README.md). The treebank's README maps sentence ids to genres: dev s1-s500 and test s1-s301 are
Google reviews (opinions, left out), the rest is news from the TIGER treebank: reports of facts, which is what a
German customer's neutral text resembles far more than an opinion does.

Why: the only other German training text (XED subtitles) is all opinion, so the head learnt that German means
opinion and called factual German questions and statements negative. News sentences that quote an opinion
stay in (a few per hundred); the label is noisy, like XED's.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import polars as pl

from ml.sentiment_lexicon import NEUTRAL

CORPUS_DIR = Path(__file__).resolve().parent / "data" / "sentiment"
SOURCE = "ud_german_gsd_news_de"
# The last review sentence of each file; every later sentence is news.
LAST_REVIEW = {"dev": 500, "test": 301}
SENTENCE_ID = re.compile(r"^# sent_id = \w+-s(\d+)$")
TEXT = re.compile(r"^# text = (.+)$")
# TIGER writes quotes LaTeX-style; customers do not.
LATEX_QUOTES = re.compile(r"``|''")
# Headlines and datelines ("Islamische Opposition fordert Dialog") have no verb phrase a customer would write.
MIN_WORDS = 6


def news_sentences(conllu: str, split: str) -> list[str]:
    """The text of every news sentence of one CoNLL-U file of `split` (dev or test)."""
    sentences, number = [], None
    for line in conllu.splitlines():
        if match := SENTENCE_ID.match(line):
            number = int(match[1])
        elif (match := TEXT.match(line)) and number is not None and number > LAST_REVIEW[split]:
            if len(match[1].split()) >= MIN_WORDS:
                sentences.append(LATEX_QUOTES.sub('"', match[1]).strip())
    return sentences


def neutral_frame(sentences: list[str]) -> pl.DataFrame:
    """(text, label, language, source), first occurrence of a text only."""
    return pl.DataFrame({"text": sentences}).unique(keep="first", maintain_order=True).with_columns(
        label=pl.lit(NEUTRAL), language=pl.lit("de"), source=pl.lit(SOURCE)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", type=Path, help="de_gsd-ud-dev.conllu of UD_German-GSD")
    parser.add_argument("test", type=Path, help="de_gsd-ud-test.conllu of UD_German-GSD")
    parser.add_argument("--output-dir", type=Path, default=CORPUS_DIR)
    args = parser.parse_args(argv)
    sentences = [
        sentence
        for path, split in ((args.dev, "dev"), (args.test, "test"))
        for sentence in news_sentences(path.read_text(encoding="utf-8"), split)
    ]
    frame = neutral_frame(sentences)
    path = args.output_dir / f"{SOURCE}.csv"
    frame.write_csv(path)
    print(f"wrote {frame.height} neutral German sentences to {path}")


if __name__ == "__main__":
    main()
