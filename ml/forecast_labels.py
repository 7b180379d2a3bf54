"""What each forecast model of `ml.forecast` is called in words: the service report names the chosen models, and
its kernel reads them here without importing the models' libraries (scikit-learn, statsmodels, SciPy)."""

MODEL_LABELS = {
    "seasonal_naive": "seasonal naive (last week again)", "weekday_mean": "same-weekday mean of 4 weeks",
    "holt_winters": "Holt-Winters", "gbm_calendar": "calendar gradient boosting",
    "combined": "Holt-Winters and calendar model combined",
}
