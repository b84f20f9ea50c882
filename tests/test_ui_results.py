"""A run folder read back for display: the misclassified rows as the Train tab shows them."""

import csv

from bertstudio.ui.results import misclassified_rows


def _predictions(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_misclassified_rows_put_gold_predicted_and_confidence_before_the_texts(tmp_path):
    path = _predictions(tmp_path / "p.csv", ["text", "text_pair", "gold", "predicted", "confidence"],
                        [["long review " * 40, "second", "pos", "neg", "0.61"],
                         ["right", "x", "pos", "pos", "0.99"],
                         ["short", "y", "neg", "pos", "0.93"]])
    headers, rows, total = misclassified_rows(path)
    assert headers == ["gold", "predicted", "confidence", "text", "text_pair"]
    assert total == 2 and rows[0][:4] == ["neg", "pos", "0.93", "short"]  # most confident mistake first
    assert rows[1][:3] == ["pos", "neg", "0.61"] and rows[1][3].endswith("…")
