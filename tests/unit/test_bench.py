"""The benchmark's measuring and its generated environments (figures come from `make bench`, not tests)."""

from __future__ import annotations

import sys

from environments.loader import load_file
from tooling import bench


def test_peak_memory_counts_the_children(tmp_path):
    # a parent that holds ~10 MiB and a child that holds ~60 MiB: the peak is their sum, not the parent's
    child = "b = bytearray(60 * 1024 * 1024); import time; time.sleep(0.6)"
    parent = (f"import subprocess, sys; a = bytearray(10 * 1024 * 1024); "
              f"subprocess.run([sys.executable, '-c', {child!r}], check=True)")
    seconds, peak_mib = bench.measure([sys.executable, "-c", parent], bench._env(), tmp_path)  # noqa: SLF001
    assert seconds >= 0.6 and peak_mib >= 70


def test_prod_copies_are_valid_distinct_environments(tmp_path):
    bench.prod_copies(3, tmp_path)
    configs = [load_file(tmp_path / f"prod{i}.yaml") for i in (1, 2, 3)]
    assert [c.name for c in configs] == ["prod1", "prod2", "prod3"]
    assert len({c.domain for c in configs}) == 3
    assert all(c.regions.standby is not None for c in configs)


def test_stats_are_min_and_median():
    stats = bench._stats([(3.0, 300.0), (1.0, 100.0), (2.0, 250.0)])  # noqa: SLF001
    assert stats == {"seconds_min": 1.0, "seconds_median": 2.0, "peak_mib_min": 100.0, "peak_mib_median": 250.0,
                     "runs": 3}
