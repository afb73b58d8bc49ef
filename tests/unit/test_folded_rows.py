"""The drill's text tables: nothing cut, no word split, long cells folded under their own column."""

from __future__ import annotations

from tooling.analysis.drill_data import folded_rows

COLUMNS = (("scenario", 12, "<"), ("how", 20, "<"), ("time", 5, ">"))


def test_a_long_cell_folds_at_spaces_under_its_column_and_nothing_is_cut():
    rows = [["scenario", "how", "time"],
            ["region:us-east-1", "managed failover to the global database's secondary", "60s"]]
    lines = folded_rows(rows, COLUMNS)
    words = " ".join(line.strip() for line in lines).split()
    for cell in rows[1]:
        for word in cell.split():
            assert word in words, word  # every word shown whole
    assert len(lines) > 2  # the long cell took more lines
    start = lines[0].index("how")
    assert all(line[start - 1] == " " for line in lines[1:] if len(line) > start)  # folds stay in their column


def test_columns_are_as_wide_as_their_content_up_to_the_limit():
    lines = folded_rows([["scenario", "how", "time"], ["az:a", "x", "0s"]], COLUMNS)
    assert lines == ["  scenario how time", "  az:a     x     0s"]
