import csv

from bertstudio.data.csvsafe import neutralise, write_safe_csv


def test_formula_cells_are_neutralised_but_numbers_are_not():
    assert neutralise("=SUM(A1:A9)") == "'=SUM(A1:A9)"
    assert neutralise("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0"
    assert neutralise("@SUM(1)") == "'@SUM(1)"
    assert neutralise("-2+3") == "'-2+3"
    assert neutralise("-3.5") == "-3.5"
    assert neutralise("plain text") == "plain text"
    assert neutralise(0.5) == 0.5


def test_written_csv_has_no_cell_starting_with_a_formula_character(tmp_path):
    path = write_safe_csv(tmp_path / "out.csv", ["=head", "b"], [["=1+1", "ok"], ["@x", "-y"]])
    rows = list(csv.reader(open(path, encoding="utf-8")))
    assert rows == [["'=head", "b"], ["'=1+1", "ok"], ["'@x", "'-y"]]
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_ui_writes_csv_files_only_through_write_safe_csv():
    """Every CSV a visitor downloads is made by write_safe_csv: no other CSV writer in the UI."""
    import re
    from pathlib import Path

    ui = Path(__file__).resolve().parents[1] / "bertstudio" / "ui"
    writers = re.compile(r"csv\.writer|csv\.DictWriter|\.to_csv\(|writerows?\(")
    offenders = [f"{path.name}:{n}" for path in sorted(ui.glob("*.py"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if writers.search(line)]
    assert offenders == []
    # Predict writes the upload's own format through predict.write_predictions -> write_rows, which
    # sends CSV to write_safe_csv.
    assert "write_predictions" in (ui / "predict_tab.py").read_text(encoding="utf-8")
