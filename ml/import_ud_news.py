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

import re

from ml.sentiment_lexicon import NEUTRAL
from ml.train_sentiment import importer_arguments, labelled_texts, write_corpus_file

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


def main(argv: list[str] | None = None) -> None:
    args = importer_arguments(
        __doc__.splitlines()[0],
        {"dev": "de_gsd-ud-dev.conllu of UD_German-GSD", "test": "de_gsd-ud-test.conllu of UD_German-GSD"},
        argv,
    )
    sentences = [
        sentence
        for path, split in ((args.dev, "dev"), (args.test, "test"))
        for sentence in news_sentences(path.read_text(encoding="utf-8"), split)
    ]
    write_corpus_file(labelled_texts(sentences, NEUTRAL, "de", SOURCE), SOURCE, args.output_dir)


if __name__ == "__main__":
    main()
