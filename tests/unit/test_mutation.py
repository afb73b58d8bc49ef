"""The mutation runner's list stays applicable: every mutant changes exactly one place of today's source."""

from __future__ import annotations

import pytest

from tooling.dev import mutation


@pytest.mark.parametrize("mutant", mutation.MUTANTS, ids=lambda m: m.id)
def test_every_mutant_applies_to_todays_source(mutant, tmp_path):
    source = mutation.PROJECT / mutant.path
    copy = tmp_path / mutant.path
    copy.parent.mkdir(parents=True)
    copy.write_text(source.read_text())
    original = mutation.apply(tmp_path, mutant)
    assert original == source.read_text() and copy.read_text() != original
    assert mutant.path.startswith(("modules/", "environments/", "policies/")) and len(mutant.breaks) > 20


def test_mutant_ids_are_unique():
    ids = [m.id for m in mutation.MUTANTS]
    assert len(ids) == len(set(ids))


def test_a_line_that_moved_is_refused(tmp_path):
    (tmp_path / "f.py").write_text("x = 1\nx = 1\n")
    with pytest.raises(ValueError, match="holds its line 2 times"):
        mutation.apply(tmp_path, mutation.Mutant("m", "f.py", "x = 1", "x = 2", "breaks nothing at all here"))
