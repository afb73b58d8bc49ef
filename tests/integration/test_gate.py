"""make check's gate: reports, a config file for CI, and a red result when HA is removed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import yaml

from tooling.review.gate import run_checkov
from tests.conftest import PROJECT

pytestmark = pytest.mark.integration


def test_gate_writes_cli_sarif_and_junit_reports(synth_dir, tmp_path):
    run = run_checkov(synth_dir / "stacks", reports_dir=tmp_path)
    assert run.problems == []
    sarif = json.loads((tmp_path / "results_sarif.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"]
    junit = ET.parse(tmp_path / "results_junitxml.xml").getroot()
    assert junit.tag == "testsuites" and len(junit) > 0
    assert "Passed checks:" in (tmp_path / "results_cli.txt").read_text()
    # the files on disk say what the gate decided: the scoped skips are skipped, with their reason
    assert run.skipped > 0
    assert int(junit.get("failures")) == run.failed == 0
    skipped = [c.find("skipped") for c in junit.iter("testcase") if c.find("skipped") is not None]
    assert sum(int(suite.get("skipped", 0)) for suite in junit.iter("testsuite")) == run.skipped
    assert skipped and all(s.get("message", "").startswith("scoped skip: ") for s in skipped)
    cli = (tmp_path / "results_cli.txt").read_text()
    assert f"Failed checks: {run.failed}," in cli and "\tFAILED for resource" not in cli
    assert "\tSKIPPED (scoped skip: " in cli
    open_results = [r for r in sarif["runs"][0]["results"] if not r.get("suppressions")]
    assert len(open_results) == run.failed


def test_gate_fails_naming_the_check_when_an_environment_loses_its_standby_region(tmp_path):
    # GIVEN a copy of a two-region environment with the standby region removed (and no declared reason)
    from modules.app import synthesize
    from tests.topology import multi_region, security_stack, widest

    prod = widest(multi_region)
    if prod is None:
        pytest.skip("no environment has a standby region to take away")
    broken = prod.model_copy(update={"regions": prod.regions.model_copy(update={"standby": None})})
    synthesize([broken], tmp_path / "cdktf.out")
    # WHEN the gate runs THEN it fails and names the zero-SPOF checks that caught it
    run = run_checkov(tmp_path / "cdktf.out" / "stacks")
    failed = {problem.split()[1] for problem in run.problems if problem.startswith("failed:")}
    assert {"CKV_SPOF_8", "CKV_SPOF_10"} <= failed
    assert any("KMS key is multi-region" in p and security_stack(prod.name) in p for p in run.problems)


def test_pre_commit_hook_and_workflow_run_make_check():
    hooks = yaml.safe_load((PROJECT / ".pre-commit-config.yaml").read_text())
    (hook,) = [h for repo in hooks["repos"] for h in repo["hooks"] if h["id"] == "spofless-check"]
    assert hook["entry"] == "make check" and hook["pass_filenames"] is False
    workflow = yaml.safe_load((PROJECT / ".github/workflows/check.yml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    assert any(step.get("run") == "make check" for step in steps)
    # the gate's SARIF, mapped to the repository's files, is what code scanning receives
    assert any("tooling.review.sarif reports/results_sarif.sarif" in step.get("run", "") for step in steps)
    triggers = workflow.get(True, workflow.get("on"))  # YAML 1.1 reads the `on:` key as True
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    # the workflow runs the README's test command, as .ci/run does (tests/unit/test_workflow.py: the rest)
    assert "make test" in (PROJECT / ".ci" / "run").read_text()
    plan = workflow["jobs"]["plan"]
    assert any(step.get("run", "").startswith("make plan") for step in plan["steps"])
