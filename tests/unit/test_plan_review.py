"""Plan review from plan JSON fixtures: counts, bold destructive changes, exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tooling.review.plan_review import MEMBERSHIP, STATEFUL_TYPES, action_kind, review, summarize_plan
from tests.conftest import PROJECT

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "plans"


def _plan(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_actions_map_to_kinds():
    assert action_kind(["create"]) == "create" and action_kind(["update"]) == "update"
    assert action_kind(["delete", "create"]) == action_kind(["create", "delete"]) == "replace"
    assert action_kind(["delete"]) == "destroy"
    assert action_kind(["no-op"]) is None and action_kind(["read"]) is None


def test_counts_and_dangerous_changes_of_one_plan():
    summary = summarize_plan("prod-us-east-1", _plan("prod-us-east-1"))
    assert summary.counts == {"create": 2, "update": 1, "replace": 2, "destroy": 1}
    # the replaced route is not stateful; the load balancer and the bucket are
    assert summary.dangerous == ["REPLACE load balancer `aws_lb.lb_alb-primary`",
                                 "DESTROY S3 bucket `aws_s3_bucket.lb_access-logs_bucket`"]


def test_summary_puts_destructive_changes_first_in_bold_and_fails():
    markdown, status = review({"prod-security": _plan("prod-security"), "prod-us-east-1": _plan("prod-us-east-1")},
                              allow_destructive=False)
    lines = markdown.splitlines()
    assert lines[2] == "**Stateful or protected resources would be replaced or destroyed:**"
    assert lines[4] == "- **prod-us-east-1: REPLACE load balancer `aws_lb.lb_alb-primary`**"
    assert "| prod-security | 1 | 1 | 1 | 0 |" in lines
    assert "| prod-us-east-1 | 2 | 1 | 2 | 1 |" in lines
    assert status == 1


def test_an_explicit_allow_lets_a_destructive_plan_pass():
    _, status = review({"prod-us-east-1": _plan("prod-us-east-1")}, allow_destructive=True)
    assert status == 0


def test_a_plan_without_destructive_stateful_changes_passes():
    markdown, status = review({"prod-security": _plan("prod-security")}, allow_destructive=False)
    assert status == 0 and "No stateful or protected resource is replaced or destroyed." in markdown


def test_command_writes_the_summary_and_exits_non_zero(tmp_path):
    out = tmp_path / "plan-summary.md"
    result = subprocess.run([sys.executable, "-m", "tooling.review.plan_review", "summarize",
                             str(FIXTURES / "prod-us-east-1.json"), "--out", str(out)],
                            cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "--allow-destructive" in result.stderr
    assert out.read_text() == result.stdout


def _update(rtype: str, attribute: str, before, after, unknown: bool = False) -> dict:
    return {"address": f"{rtype}.x", "type": rtype, "change": {
        "actions": ["update"], "before": {attribute: before}, "after": {attribute: after},
        "after_unknown": {attribute: True} if unknown else {}}}


@pytest.mark.parametrize("rtype, attribute", sorted(MEMBERSHIP.items()))
def test_detaching_from_a_global_group_is_a_stateful_change(rtype, attribute):
    """GIVEN an in-place update that clears (or changes) global membership THEN the review blocks it."""
    for after, unknown in ((None, False), ("", False), ("other", False), (None, True)):
        summary = summarize_plan("s", {"resource_changes": [_update(rtype, attribute, "prod-aurora", after, unknown)]})
        assert summary.dangerous and summary.dangerous[0].startswith("DETACH"), (after, unknown)
    # joining, and an update that leaves membership alone, are not
    assert not summarize_plan("s", {"resource_changes": [_update(rtype, attribute, None, "prod-aurora")]}).dangerous
    assert not summarize_plan("s", {"resource_changes": [_update(rtype, attribute, "g", "g")]}).dangerous


def test_the_data_tier_is_stateful():
    for rtype in ("aws_rds_global_cluster", "aws_rds_cluster", "aws_elasticache_replication_group",
                  "aws_elasticache_global_replication_group", "aws_backup_vault", "aws_s3_bucket_replication_configuration"):
        change = {"address": f"{rtype}.x", "type": rtype, "change": {"actions": ["delete", "create"]}}
        assert summarize_plan("s", {"resource_changes": [change]}).dangerous == [
            f"REPLACE {STATEFUL_TYPES[rtype]} `{rtype}.x`"]


def _lock_change(actions, changeable_for_days):
    return {"address": "aws_backup_vault_lock_configuration.backup_lock", "type": "aws_backup_vault_lock_configuration",
            "change": {"actions": actions, "before": {"changeable_for_days": changeable_for_days,
                                                      "min_retention_days": 30}, "after": None}}


@pytest.mark.parametrize("actions", [["delete", "create"], ["delete"]])
def test_a_compliance_vault_lock_planned_away_is_flagged_immutable(actions):
    """A compliance lock is immutable after its grace days: AWS refuses the delete half of the plan."""
    summary = summarize_plan("prod-us-east-1-data", {"resource_changes": [_lock_change(actions, 3)]})
    assert len(summary.dangerous) == 1 and summary.dangerous[0].startswith("IMMUTABLE compliance vault lock")
    assert "grace days" in summary.dangerous[0]
    governance = summarize_plan("dev-us-east-1-data", {"resource_changes": [_lock_change(actions, None)]})
    assert governance.dangerous[0].startswith(("REPLACE backup vault lock", "DESTROY backup vault lock"))


def test_the_account_baselines_singletons_are_stateful():
    for rtype in ("aws_iam_service_linked_role", "aws_cloudtrail", "aws_guardduty_detector", "aws_securityhub_account",
                  "aws_config_configuration_recorder", "aws_s3_account_public_access_block"):
        assert rtype in STATEFUL_TYPES
