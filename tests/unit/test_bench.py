"""The benchmark's measuring and its generated environments (figures come from `make bench`, not tests)."""

from __future__ import annotations

import sys

from tooling.dev import bench


def test_peak_memory_counts_the_children(tmp_path):
    # a parent that holds ~10 MiB and a child that holds ~60 MiB: the peak is their sum, not the parent's
    child = "b = bytearray(60 * 1024 * 1024); import time; time.sleep(0.6)"
    parent = (f"import subprocess, sys; a = bytearray(10 * 1024 * 1024); "
              f"subprocess.run([sys.executable, '-c', {child!r}], check=True)")
    seconds, peak_mib = bench.measure([sys.executable, "-c", parent], bench._env(), tmp_path)  # noqa: SLF001
    assert seconds >= 0.6 and peak_mib >= 70


def test_prod_copies_are_valid_distinct_environments(tmp_path):
    from environments.loader import load_environments

    bench.prod_copies(3, tmp_path)
    # loaded together, as the growth run does: the loader's cross-environment rules apply too
    configs = load_environments(["prod1", "prod2", "prod3"], tmp_path)
    assert [c.name for c in configs] == ["prod1", "prod2", "prod3"]
    assert len({c.domain for c in configs}) == 3
    assert all(c.regions.standby is not None for c in configs)


def test_stats_are_min_and_median():
    stats = bench._stats([(3.0, 300.0), (1.0, 100.0), (2.0, 250.0)])  # noqa: SLF001
    assert stats == {"seconds_min": 1.0, "seconds_median": 2.0, "peak_mib_min": 100.0, "peak_mib_median": 250.0,
                     "runs": 3}


def test_every_figure_is_judged_against_its_target_and_an_unmeasured_one_says_so():
    results = {"synth": {"seconds_median": 3.0, "peak_mib_median": 500.0},
               "per_environment": {"seconds": 0.5}, "setup": {"seconds": 20.0, "venv_mib": 390.0},
               "recorded": {"test": {"seconds": 400.0, "args": ["tests"], "failed": 0},
                            "rehearsal dev": {"seconds": 100.0}}}
    rows = {row["figure"]: row for row in bench.against_targets(results)}
    assert set(rows) == set(bench.TARGETS)
    assert rows["synth, every environment (median)"]["met"] is True
    assert rows["synth peak memory (median)"]["met"] is False and rows["synth peak memory (median)"]["ratio"] == 1.25
    assert rows["make test (last run)"]["met"] is False
    assert rows["rehearsal prod (last run)"]["met"] is None  # nothing recorded: not measured, not passed
    # a partial or failed test session is no figure for the whole suite
    results["recorded"]["test"] = {"seconds": 10.0, "args": ["tests/unit"], "failed": 0}
    assert {r["figure"]: r for r in bench.against_targets(results)}["make test (last run)"]["value"] is None


def test_the_rehearsal_floor_is_apply_along_the_graph_the_longest_plan_and_destroy_against_it():
    """GIVEN a stacks b and c that both read a, WHEN the floor is computed, THEN apply waits a then the
    longer of b and c, the plans run at once, and destroy takes b and c before a."""
    report = {"seconds": 120.0, "stacks": [
        {"stack": "a", "apply_seconds": 10, "plan_seconds": 5, "destroy_seconds": 4},
        {"stack": "b", "apply_seconds": 30, "plan_seconds": 7, "destroy_seconds": 6},
        {"stack": "c", "apply_seconds": 20, "plan_seconds": 1, "destroy_seconds": 9}]}
    floor = bench.rehearsal_floor(report, {"b": ["a"], "c": ["a", "outside"]})
    assert (floor["apply"], floor["plan"], floor["destroy"], floor["seconds"]) == (40, 7, 13, 60)
    assert floor["ratio"] == 2.0
    assert bench.rehearsal_floor({"seconds": 0, "stacks": []}, {}) is None


def test_resources_are_counted_across_stacks(tmp_path):
    import json

    for stack, document in {"s1": {"resource": {"aws_vpc": {"a": {}, "b": {}}}, "data": {"aws_region": {"r": {}}}},
                            "s2": {"resource": {"aws_lb": {"x": {}}}}}.items():
        (tmp_path / "stacks" / stack).mkdir(parents=True)
        (tmp_path / "stacks" / stack / "cdk.tf.json").write_text(json.dumps(document))
    assert bench.resource_count(tmp_path) == 4
