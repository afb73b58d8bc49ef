"""One checkov run over every stack: zero failed checks, and a gate that cannot pass silently."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from tests.topology import regional_stack, smallest
from tooling.review.gate import CONFIG, load_skips, run_checkov

pytestmark = pytest.mark.integration
# a real regional stack to copy and break: the smallest environment's primary region
REGIONAL_STACK = regional_stack(smallest().name, smallest().regions.primary.name)


@pytest.fixture(scope="module")
def real_run(synth_dir):
    return run_checkov(synth_dir / "stacks")


def test_all_stacks_pass_with_zero_failed_checks(real_run, stacks):
    assert real_run.problems == []
    assert real_run.failed == 0 and real_run.parsing_errors == 0
    assert real_run.stacks_checked == set(stacks)
    assert real_run.passed > 200


def test_no_check_is_skipped_globally_and_every_scoped_skip_says_why():
    config = yaml.safe_load(CONFIG.read_text())
    assert not config.get("skip-check"), "skips are scoped to resources in policies/checkov_skips.yaml"
    skips = load_skips()
    assert skips and len({s.check for s in skips}) == len(skips)
    for skip in skips:
        assert len(skip.why) >= 20 and all("*" not in r.split(".", 1)[0] for r in skip.resources), skip


def test_a_scoped_skip_covers_its_resources_only():
    (logs,) = [s for s in load_skips() if s.check == "CKV_AWS_145"]
    assert logs.matches("CKV_AWS_145", "aws_s3_bucket.lb_access-logs_bucket_FDD0925E")
    assert not logs.matches("CKV_AWS_145", "aws_s3_bucket.storage_bucket_12345678")  # another bucket
    assert not logs.matches("CKV_AWS_18", "aws_s3_bucket.lb_access-logs_bucket_FDD0925E")  # another check
    (http,) = [s for s in load_skips() if s.check == "CKV_AWS_260"]
    assert http.matches("CKV_AWS_260", "resource.lb_alb-in-http_4A0494F5")  # checkov's untyped form
    assert not http.matches("CKV_AWS_260", "resource.lb_nlb-in-tls_3856DB7D")


def test_the_real_run_uses_every_scoped_skip(real_run):
    assert real_run.unused_skips == () and real_run.skipped >= len(load_skips())


def test_a_new_resource_breaking_a_skipped_rule_fails_and_an_idle_skip_fails(synth_dir, tmp_path):
    # GIVEN a regional stack with one more bucket, without access logging (CKV_AWS_18)
    stacks = tmp_path / "stacks"
    shutil.copytree(synth_dir / "stacks" / REGIONAL_STACK, stacks / REGIONAL_STACK)
    path = stacks / REGIONAL_STACK / "cdk.tf.json"
    document = json.loads(path.read_text())
    document["resource"]["aws_s3_bucket"]["data_bucket_12345678"] = {"bucket": f"{REGIONAL_STACK}-data"}
    path.write_text(json.dumps(document))
    # WHEN the gate runs with the project's scoped skips
    run = run_checkov(stacks)
    # THEN the new bucket fails the check the access-log bucket is excused from
    assert any(p.startswith("failed: CKV_AWS_18 ") and "aws_s3_bucket.data_bucket_12345678" in p for p in run.problems)
    assert not any("lb_access-logs_bucket" in p for p in run.problems if p.startswith("failed: CKV_AWS_18 "))
    # AND the skips for resources this stack does not have are named as matching nothing
    idle = [p for p in run.problems if p.startswith("scoped skip matches nothing")]
    assert any("CKV_AWS_272" in p for p in idle) and any("CKV_AWS_18 on aws_s3_bucket.audit_bucket_*" in p
                                                         for p in idle)


def test_gate_fails_on_a_failed_check_and_on_a_stack_checkov_cannot_parse(synth_dir, tmp_path):
    # GIVEN two copies of a real stack: one with an unencrypted log group, one that checkov
    # cannot parse (it would report success for it and scan nothing, as in #7454)
    stacks = tmp_path / "stacks"
    for name in ("unencrypted", "unparsed"):
        shutil.copytree(synth_dir / "stacks" / REGIONAL_STACK, stacks / name)
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
    """Every stack sets terraform.required_version (SPOF_DEPLOY_23), the regional stacks carry a moved
    block and the security stacks a removed block; checkov 3.3 scans nothing in a file with any of them
    (#7454), so it scans a copy without those, and everything else unchanged."""
    from tooling.review.gate import scan_copy

    copy = scan_copy(synth_dir / "stacks", tmp_path / "stacks")
    for original in sorted((synth_dir / "stacks").glob("*/cdk.tf.json")):
        before = json.loads(original.read_text())
        after = json.loads((copy / original.parent.name / "cdk.tf.json").read_text())
        assert before["terraform"].pop("required_version")
        before.pop("moved", None)
        before.pop("removed", None)
        assert after == before
    assert any("moved" in json.loads(p.read_text()) for p in (synth_dir / "stacks").glob("*/cdk.tf.json"))
