"""Every custom check in policies/ fails on a bad fixture and passes on a good one."""

from __future__ import annotations

import json

import pytest

from tooling.review.gate import run_checkov

pytestmark = pytest.mark.integration

# check id -> (resource type, bad config, good config)
CASES = {
    "CKV_SPOF_1": ("aws_lb", {"name": "x", "subnets": ["subnet-a"]}, {"name": "x", "subnets": ["subnet-a", "subnet-b"]}),
    "CKV_SPOF_2": ("aws_eks_node_group", {"cluster_name": "c", "node_group_name": "n", "node_role_arn": "r",
                                          "subnet_ids": ["subnet-a"], "scaling_config": {"min_size": 1, "max_size": 2, "desired_size": 1}},
                   {"cluster_name": "c", "node_group_name": "n", "node_role_arn": "r",
                    "subnet_ids": ["subnet-a", "subnet-b"], "scaling_config": {"min_size": 1, "max_size": 2, "desired_size": 1}}),
    "CKV_SPOF_3": ("aws_route53_record", {"zone_id": "Z1", "name": "a", "type": "A", "set_identifier": "p",
                                          "failover_routing_policy": {"type": "PRIMARY"},
                                          "alias": {"name": "x", "zone_id": "Z2", "evaluate_target_health": True}},
                   {"zone_id": "Z1", "name": "a", "type": "A", "set_identifier": "p", "health_check_id": "hc-1",
                    "failover_routing_policy": {"type": "PRIMARY"},
                    "alias": {"name": "x", "zone_id": "Z2", "evaluate_target_health": True}}),
    "CKV_SPOF_4": ("helm_release", {"name": "argocd", "chart": "argo-cd", "version": "7.x"},
                   {"name": "argocd", "chart": "argo-cd", "version": "7.7.11"}),
    "CKV_SPOF_5": ("cloudflare_load_balancer", {"zone_id": "z", "name": "a", "default_pools": ["p1"], "fallback_pool": "p1"},
                   {"zone_id": "z", "name": "a", "default_pools": ["p1", "p2"], "fallback_pool": "p2"}),
    "CKV_SPOF_6": ("cloudflare_load_balancer_pool", {"account_id": "a", "name": "p", "origins": [{"name": "o", "address": "x"}]},
                   {"account_id": "a", "name": "p", "monitor": "m1", "origins": [{"name": "o", "address": "x"}]}),
    "CKV_SPOF_7": ("cloudflare_dns_record", {"zone_id": "z", "name": "a", "type": "A", "ttl": 60, "content": "192.0.2.1", "proxied": True},
                   {"zone_id": "z", "name": "a", "type": "A", "ttl": 60, "content": "192.0.2.1", "proxied": False}),
    "CKV_SPOF_8": ("aws_kms_key", {"description": "k", "multi_region": False},
                   {"description": "k", "multi_region": False, "tags": {"spofless:single-region": "dev: declared"}}),
    "CKV_SPOF_10": ("aws_secretsmanager_secret", {"name": "s"},
                    {"name": "s", "replica": [{"region": "us-west-2", "kms_key_id": "k"}]}),
    "CKV_SPOF_11": ("aws_route53_zone", {"name": "example.com"},
                    {"name": "example.com", "lifecycle": {"prevent_destroy": True}}),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """GIVEN one stack per check holding a bad and a good resource, WHEN checkov runs once over all."""
    root = tmp_path_factory.mktemp("policies") / "stacks"
    for check_id, (resource_type, bad, good) in CASES.items():
        stack = root / check_id
        stack.mkdir(parents=True)
        (stack / "cdk.tf.json").write_text(json.dumps({"resource": {resource_type: {"bad": bad, "good": good}}}))
    run = run_checkov(root)
    outcome: dict[tuple[str, str, str], str] = {}
    for kind, label in (("passed_checks", "passed"), ("failed_checks", "failed")):
        for result in run.raw["results"].get(kind, []):
            stack = result["file_path"].strip("/").split("/")[0]
            outcome[(result["check_id"], stack, result["resource"].rsplit(".", 1)[1])] = label
    return outcome


@pytest.mark.parametrize("check_id", sorted(CASES))
def test_check_fails_the_bad_fixture_and_passes_the_good_one(results, check_id):
    # each check's own fixture stack (a check may also apply to other stacks' resources)
    assert results.get((check_id, check_id, "bad")) == "failed"
    assert results.get((check_id, check_id, "good")) == "passed"




@pytest.fixture(scope="module")
def graph_results(tmp_path_factory):
    """CKV_SPOF_9 is a graph check: it needs the key and its replica in one stack."""
    root = tmp_path_factory.mktemp("graph") / "stacks"
    (root / "bad").mkdir(parents=True)
    (root / "bad" / "cdk.tf.json").write_text(json.dumps({"resource": {"aws_kms_key": {
        "bad": {"description": "k", "multi_region": True}}}}))
    (root / "good").mkdir(parents=True)
    (root / "good" / "cdk.tf.json").write_text(json.dumps({"resource": {
        "aws_kms_key": {"good": {"description": "k", "multi_region": True}},
        "aws_kms_replica_key": {"replica": {"primary_key_arn": "${aws_kms_key.good.arn}"}}}}))
    run = run_checkov(root)
    return {(r["check_id"], r["resource"]): kind for kind in ("passed_checks", "failed_checks")
            for r in run.raw["results"].get(kind, [])}


def test_multi_region_key_without_replica_fails_and_with_one_passes(graph_results):
    assert graph_results[("CKV_SPOF_9", "aws_kms_key.bad")] == "failed_checks"
    assert graph_results[("CKV_SPOF_9", "aws_kms_key.good")] == "passed_checks"
