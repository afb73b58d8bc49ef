"""One checkov run over every stack: zero failed checks, and a gate that cannot pass silently."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml

from tooling.checkov import CONFIG, run_checkov

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def real_run(synth_dir):
    return run_checkov(synth_dir / "stacks")


def test_all_stacks_pass_with_zero_failed_checks(real_run, stacks):
    assert real_run.problems == []
    assert real_run.failed == 0 and real_run.parsing_errors == 0
    assert real_run.stacks_checked == set(stacks)
    assert real_run.passed > 200


def test_every_skipped_check_has_a_one_line_justification():
    config = yaml.safe_load(CONFIG.read_text())
    skipped = config.get("skip-check") or []
    lines = CONFIG.read_text().splitlines()
    for check_id in skipped:
        (line,) = [l for l in lines if re.match(rf"\s*-\s*{re.escape(check_id)}\b", l)]
        justification = line.split("#", 1)[1].strip() if "#" in line else ""
        assert len(justification) >= 10, f"{check_id}: skipped without a justification in {CONFIG.name}"


def test_gate_fails_on_a_failed_check_and_on_a_stack_checkov_cannot_parse(synth_dir, tmp_path):
    # GIVEN two copies of a real stack: one with an unencrypted log group, one that checkov
    # cannot parse (it would report success for it and scan nothing, as in #7454)
    stacks = tmp_path / "stacks"
    for name in ("unencrypted", "unparsed"):
        shutil.copytree(synth_dir / "stacks" / "dev-us-east-1", stacks / name)
    path = stacks / "unencrypted" / "cdk.tf.json"
    document = json.loads(path.read_text())
    for group in document["resource"]["aws_cloudwatch_log_group"].values():
        del group["kms_key_id"]
    path.write_text(json.dumps(document))
    path = stacks / "unparsed" / "cdk.tf.json"
    path.write_text(path.read_text()[:-200])  # cut off: not JSON any more
    # WHEN the gate runs
    run = run_checkov(stacks)
    # THEN it names the failed check and the stack that was not scanned
    assert any(p.startswith("failed: CKV_AWS_158 ") and "on unencrypted" in p for p in run.problems)
    assert "no check ran on stack(s) unparsed: checkov did not scan them" in run.problems
    assert run.parsing_errors == 1


def test_the_scanned_copy_drops_only_what_checkov_cannot_parse(synth_dir, tmp_path):
    """Every stack sets terraform.required_version (SPOF_DEPLOY_23), and the regional stacks carry a
    moved block; checkov 3.3 scans nothing in a file with either (#7454), so it scans a copy without
    those two, and everything else unchanged."""
    from tooling.checkov import scan_copy

    copy = scan_copy(synth_dir / "stacks", tmp_path / "stacks")
    for original in sorted((synth_dir / "stacks").glob("*/cdk.tf.json")):
        before = json.loads(original.read_text())
        after = json.loads((copy / original.parent.name / "cdk.tf.json").read_text())
        assert before["terraform"].pop("required_version")
        before.pop("moved", None)
        assert after == before
    assert any("moved" in json.loads(p.read_text()) for p in (synth_dir / "stacks").glob("*/cdk.tf.json"))
