"""Turn the German XED emotion projections into polarity-labelled training text: `python -m ml.import_xed TSV`.

Source: Helsinki-NLP/XED, `Projections/de-projections.tsv` (movie subtitles with Plutchik emotions projected
from annotated English lines; CC BY 4.0, see ml/data/README.md). Each line is `text<TAB>labels`, the labels a
comma-separated list of 1 anger, 2 anticipation, 3 disgust, 4 fear, 5 joy, 6 sadness, 7 surprise, 8 trust.
A line whose emotions are all negative (anger, disgust, fear, sadness) is `negative`, all positive (joy, trust)
`positive`; anticipation and surprise can go either way, so lines with them, mixed lines and malformed lines
(a stray quote joins several lines into one field) are left out.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import polars as pl

from ml.sentiment_lexicon import NEGATIVE, POSITIVE

NEGATIVE_EMOTIONS = frozenset({1, 3, 4, 6})
POSITIVE_EMOTIONS = frozenset({5, 8})
LABEL_LIST = re.compile(r"\d(?:, ?\d)*")
OUTPUT = Path(__file__).resolve().parent / "data" / "sentiment" / "xed_projections_de.csv"
SOURCE = "xed_projections_de"


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tsv", type=Path, help="Projections/de-projections.tsv of Helsinki-NLP/XED")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    frame = polarity_lines(args.tsv.read_text(encoding="utf-8").splitlines())
    frame.write_csv(args.output)
    print(f"wrote {frame.height} lines to {args.output}: {dict(frame.group_by('label').len().iter_rows())}")


if __name__ == "__main__":
    main()
