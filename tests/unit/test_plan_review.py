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


# -- dangerous by default ------------------------------------------------------------------------

def test_every_type_in_the_output_is_classified_stateful_or_stateless(synth_dir):
    """A type the stacks gain is dangerous until someone puts it on one list, with a reason."""
    from tooling.review.plan_review import STATELESS_TYPES

    types = {t for p in (synth_dir / "stacks").glob("*/cdk.tf.json")
             for t in json.loads(p.read_text()).get("resource", {})}
    assert not types - set(STATEFUL_TYPES) - set(STATELESS_TYPES), "classify these types in plan_review.py"
    assert not set(STATEFUL_TYPES) & set(STATELESS_TYPES)
    assert all(STATELESS_TYPES.values())


def _change(rtype, name, actions, before=None, after=None):
    return {"address": f"{rtype}.{name}", "type": rtype, "name": name,
            "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}}}


# one plan change of each shape the review must flag (and the words it must use)
FLAGGED = [
    (_change("aws_secretsmanager_secret_version", "v", ["delete", "create"]), "REPLACE secret value"),
    (_change("aws_backup_selection", "s", ["delete"]), "DESTROY backup selection"),
    (_change("aws_backup_vault_lock_configuration", "l", ["delete"], {"changeable_for_days": None}),
     "DESTROY backup vault lock"),
    (_change("helm_release", "external-secrets", ["delete"]), "DESTROY Helm release"),
    (_change("kubernetes_namespace_v1", "ns", ["delete"]), "DESTROY namespace"),
    (_change("aws_wafv2_web_acl_association", "a", ["delete"]), "DESTROY WAF association"),
    (_change("aws_s3_bucket_public_access_block", "b", ["delete"]), "DESTROY bucket public access block"),
    (_change("aws_s3_bucket_policy", "p", ["delete"]), "DESTROY bucket policy"),
    (_change("aws_eks_access_entry", "e", ["delete"]), "DESTROY EKS access entry"),
    (_change("aws_eks_node_group", "g", ["create", "delete"]), "REPLACE node group"),
    (_change("aws_rds_cluster_instance", "i", ["delete"]), "DESTROY database instance"),
    (_change("aws_some_future_type", "x", ["delete"]), "not on the stateless list"),
    (_change("aws_rds_cluster", "c", ["update"], {"deletion_protection": True}, {"deletion_protection": False}),
     "UNPROTECT Aurora cluster `aws_rds_cluster.c`: deletion_protection True -> False"),
    (_change("aws_rds_cluster", "c", ["update"], {"skip_final_snapshot": False}, {"skip_final_snapshot": True}),
     "skip_final_snapshot False -> True"),
    (_change("aws_kms_key", "k", ["update"], {"is_enabled": True}, {"is_enabled": False}), "is_enabled True -> False"),
    (_change("aws_s3_bucket_versioning", "v", ["update"], {"versioning_configuration": [{"status": "Enabled"}]},
             {"versioning_configuration": [{"status": "Suspended"}]}), "versioning is suspended"),
]


@pytest.mark.parametrize("change, words", FLAGGED, ids=[c["address"] + ":" + "-".join(c["change"]["actions"])
                                                        for c, _ in FLAGGED])
def test_each_dangerous_shape_is_flagged(change, words):
    summary = summarize_plan("prod-x", {"resource_changes": [change]})
    assert len(summary.dangerous) == 1 and words in summary.dangerous[0], summary.dangerous
    _, status = review({"prod-x": {"resource_changes": [change]}}, allow_destructive=False)
    assert status == 1


def test_routine_replacements_pass():
    changes = [_change("aws_iam_role_policy", "p", ["delete", "create"]),
               _change("aws_vpc_security_group_ingress_rule", "r", ["delete", "create"]),
               _change("aws_rds_cluster", "c", ["update"], {"deletion_protection": False}, {"deletion_protection": True})]
    assert summarize_plan("prod-x", {"resource_changes": changes}).dangerous == []


def test_a_replacement_others_keep_depending_on_names_them():
    """Renumbering a VPC replaces its target groups while their listeners are only updated: AWS refuses to
    delete a target group a listener uses, half way through the apply."""
    plan = {"resource_changes": [_change("aws_lb_target_group", "tg", ["create", "delete"]),
                                 _change("aws_lb_listener", "https", ["update"])],
            "configuration": {"root_module": {"resources": [
                {"address": "aws_lb_target_group.tg", "expressions": {"vpc_id": {"references": ["aws_vpc.v.id", "aws_vpc.v"]}}},
                {"address": "aws_lb_listener.https", "expressions": {"default_action": [
                    {"target_group_arn": {"references": ["aws_lb_target_group.tg.arn", "aws_lb_target_group.tg"]}}]}},
            ]}}}
    (danger,) = summarize_plan("dev-us-east-1", plan).dangerous
    assert danger.startswith("REPLACE target group `aws_lb_target_group.tg`")
    assert "1 kept in place depend on it: aws_lb_listener.https" in danger


def test_a_failed_plan_never_gets_a_reassuring_headline():
    from tooling.review.pr_review import render
    from tooling.terraform.deploy import Outcome

    body = render("dev", [Outcome("dev-us-east-1", "plan", "failed", detail="failed: no valid credential sources"),
                          Outcome("dev-security", "plan", "no changes")], {}, {})
    assert "No stateful resource" not in body
    assert "**The plan failed for dev-us-east-1: what it would change is unknown" in body
