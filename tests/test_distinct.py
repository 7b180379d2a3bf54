from ml.distinct import per_distinct


def test_each_distinct_input_is_computed_once_and_every_row_gets_its_result():
    calls = []

    def shout(words: list[str]) -> list[str]:
        calls.append(words)
        return [word.upper() for word in words]

    assert per_distinct(shout, ["a", "b", "a", "c", "b"]) == ["A", "B", "A", "C", "B"]
    assert calls == [["a", "b", "c"]]


def test_tuples_of_text_and_label_are_keys():
    pairs = [("late", "negative"), ("late", "neutral"), ("late", "negative")]
    assert per_distinct(lambda keys: [f"{t}/{s}" for t, s in keys], pairs) == ["late/negative", "late/neutral", "late/negative"]
