"""The rules of `ml.emerging_topics` that the voice-of-customer report states to its readers, kept apart from the
method so that the report's kernel reads them without importing scikit-learn and SciPy (see that module's doc)."""

BASELINE_PERIODS = 8  # two months of weeks: long enough for a stable rate, short enough to follow the season
MIN_THEME_TEXTS = 5
FDR = 0.05  # false discovery rate of the growth tests
