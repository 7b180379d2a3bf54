"""Turn XED subtitles into polarity-labelled training text: `python -m ml.import_xed DE_TSV NEUTRAL_EN_TXT`.

Source: Helsinki-NLP/XED, `Projections/de-projections.tsv` (movie subtitles with Plutchik emotions projected
from annotated English lines; CC BY 4.0, see ml/data/README.md). Each line is `text<TAB>labels`, the labels a
comma-separated list of 1 anger, 2 anticipation, 3 disgust, 4 fear, 5 joy, 6 sadness, 7 surprise, 8 trust.
A line whose emotions are all negative (anger, disgust, fear, sadness) is `negative`, all positive (joy, trust)
`positive`; anticipation and surprise can go either way, so lines with them, mixed lines and malformed lines
(a stray quote joins several lines into one field) are left out.

XED has no neutral German lines, so German training text would teach the head that German means opinion. The
neutral English lines (`AnnotatedData/neu_en.txt`, `index<TAB>text`, same licence) supply factual, opinion-free
text; the multilingual encoder carries that to German. A fixed sample of `NEUTRAL_LINES` (first by text hash)
keeps the classes near balance. The sample is drawn by BLAKE2b, not by the SHA-256 that picks the held-out texts:
the first lines by SHA-256 would all be held out.
"""

from __future__ import annotations

import hashlib
import re

import polars as pl

from ml.sentiment_lexicon import NEGATIVE, NEUTRAL, POSITIVE
from ml.train_sentiment import importer_arguments, labelled_texts, write_corpus_file

NEGATIVE_EMOTIONS = frozenset({1, 3, 4, 6})
POSITIVE_EMOTIONS = frozenset({5, 8})
LABEL_LIST = re.compile(r"\d(?:, ?\d)*")
SOURCE = "xed_projections_de"
NEUTRAL_SOURCE = "xed_neutral_en"
NEUTRAL_LINES = 2000


def polarity(emotions: set[int]) -> str | None:
    if emotions <= NEGATIVE_EMOTIONS:
        return NEGATIVE
    if emotions <= POSITIVE_EMOTIONS:
        return POSITIVE
    return None


def polarity_lines(lines: list[str]) -> pl.DataFrame:
    """(text, label, language, source) for every usable line, first occurrence of a text only."""
    rows = []
    for line in lines:
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 2 or not LABEL_LIST.fullmatch(fields[1].strip()) or not fields[0].strip():
            continue
        label = polarity({int(code) for code in fields[1].split(",")})
        if label:
            rows.append((fields[0].strip(), label))
    frame = pl.DataFrame(rows, schema={"text": pl.Utf8, "label": pl.Utf8}, orient="row")
    return frame.unique(subset="text", keep="first", maintain_order=True).with_columns(
        language=pl.lit("de"), source=pl.lit(SOURCE)
    )


def neutral_lines(lines: list[str], count: int = NEUTRAL_LINES) -> pl.DataFrame:
    """(text, label, language, source) for `count` distinct neutral English lines, the first by BLAKE2b."""
    texts = {fields[-1].strip() for fields in (line.rstrip("\n").split("\t") for line in lines) if fields[-1].strip()}
    chosen = sorted(texts, key=lambda text: hashlib.blake2b(text.encode("utf-8")).hexdigest())[:count]
    return labelled_texts(chosen, NEUTRAL, "en", NEUTRAL_SOURCE)


def main(argv: list[str] | None = None) -> None:
    args = importer_arguments(
        __doc__.splitlines()[0],
        {
            "tsv": "Projections/de-projections.tsv of Helsinki-NLP/XED",
            "neutral": "AnnotatedData/neu_en.txt of Helsinki-NLP/XED",
        },
        argv,
    )
    write_corpus_file(polarity_lines(args.tsv.read_text(encoding="utf-8").splitlines()), SOURCE, args.output_dir)
    write_corpus_file(
        neutral_lines(args.neutral.read_text(encoding="utf-8").splitlines()), NEUTRAL_SOURCE, args.output_dir
    )


if __name__ == "__main__":
    main()
