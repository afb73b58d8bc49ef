"""The data tier's deploy rules (25-27): each fails on today's output with one thing taken away,
and passes on today's output of every environment (tests/policies/test_deploy_rules.py).

GIVEN the synthesized output of every environment
WHEN one protection of the data tier is removed from a copy of it
THEN the rule that guards it fails, naming the stack and what is missing.
"""

from __future__ import annotations

import copy
import json

import pytest

from modules.stacks import names
from policies.model.output import Output
from policies.rules import run_rules
from tests.topology import environments_where, multi_region


@pytest.fixture(scope="module")
def stacks(synth_dir):
    output = Output.load(synth_dir)
    return output.stacks, output.manifest


def _env():
    found = environments_where(multi_region)
    if not found:
        pytest.skip("no environment with a standby region")
    return found[0]


def _failures(stacks, manifest, rule_id):
    return [r for r in run_rules(Output(stacks, manifest), {rule_id}) if not r.passed]


def _data(stacks, env, role):
    from tests.topology import ENVIRONMENTS
    config = ENVIRONMENTS[env]
    region = config.regions.primary if role == "primary" else config.regions.standby
    return stacks[names.data(env, region.name)]["resource"]


def _mutated(stacks, change):
    copied = copy.deepcopy(stacks)
    change(copied)
    return copied


def test_today_passes_every_data_rule(stacks):
    for rule_id in ("SPOF_DEPLOY_25", "SPOF_DEPLOY_26", "SPOF_DEPLOY_27", "SPOF_DEPLOY_28"):
        assert not _failures(*stacks, rule_id)


@pytest.mark.parametrize("what, change, expected", [
    ("global database", lambda s, e: _data(s, e, "primary").pop("aws_rds_global_cluster"), "no global database"),
    ("global datastore", lambda s, e: _data(s, e, "primary").pop("aws_elasticache_global_replication_group"),
     "no global datastore"),
    ("secondary instances", lambda s, e: _data(s, e, "standby").pop("aws_rds_cluster_instance"), "has no instance"),
    ("bucket replication", lambda s, e: _data(s, e, "standby").pop("aws_s3_bucket_replication_configuration"),
     "no replication rule"),
    ("backup copy", lambda s, e: [r.pop("copy_action", None) for p in _data(s, e, "primary")["aws_backup_plan"].values()
                                  for r in p["rule"]], "copies nothing"),
])
def test_a_store_without_its_replica_fails(stacks, what, change, expected):
    env = _env()
    failures = _failures(_mutated(stacks[0], lambda s: change(s, env)), stacks[1], "SPOF_DEPLOY_25")
    assert any(expected in r.message for r in failures), f"{what}: {[str(r) for r in failures]}"


def test_replication_without_kms_opt_in_fails(stacks):
    env = _env()

    def change(s):
        for conf in _data(s, env, "primary")["aws_s3_bucket_replication_configuration"].values():
            for rule in conf["rule"]:
                rule["source_selection_criteria"] = {}
    failures = _failures(_mutated(stacks[0], change), stacks[1], "SPOF_DEPLOY_25")
    assert any("SSE-KMS objects are not replicated" in r.message for r in failures)


def test_a_cache_member_with_inherited_fields_fails(stacks):
    env = _env()

    def change(s):
        for group in _data(s, env, "standby")["aws_elasticache_replication_group"].values():
            group["engine"], group["at_rest_encryption_enabled"] = "valkey", "true"
    failures = _failures(_mutated(stacks[0], change), stacks[1], "SPOF_DEPLOY_26")
    assert any("engine" in r.message and "at_rest_encryption_enabled" in r.message for r in failures)


def test_a_detach_hidden_by_ignore_changes_fails(stacks):
    env = _env()

    def change(s):
        for cluster in _data(s, env, "standby")["aws_rds_cluster"].values():
            cluster["lifecycle"]["ignore_changes"].append("global_cluster_identifier")
    failures = _failures(_mutated(stacks[0], change), stacks[1], "SPOF_DEPLOY_26")
    assert any("detached cluster" in r.message for r in failures)


def test_a_literal_master_password_fails(stacks):
    env = _env()

    def change(s):
        for cluster in _data(s, env, "primary")["aws_rds_cluster"].values():
            cluster.pop("master_password_wo")
            cluster["master_password"] = "example-only"
    failures = _failures(_mutated(stacks[0], change), stacks[1], "SPOF_DEPLOY_26")
    assert any("master_password" in r.message and "out of the state" in r.message for r in failures)


def test_an_rds_managed_password_on_a_global_member_fails(stacks):
    env = _env()

    def change(s):
        for cluster in _data(s, env, "primary")["aws_rds_cluster"].values():
            cluster.pop("master_password_wo")
            cluster["manage_master_user_password"] = True
    failures = _failures(_mutated(stacks[0], change), stacks[1], "SPOF_DEPLOY_26")
    assert any("RDS refuses" in r.message for r in failures)


def test_a_key_the_service_may_not_use_fails(stacks):
    env = _env()

    def change(s):
        for key in s[names.security(env)]["resource"]["aws_kms_replica_key"].values():
            policy = json.loads(key["policy"])
            for statement in policy["Statement"]:
                via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
                if isinstance(via, list):
                    statement["Condition"]["StringEquals"]["kms:ViaService"] = [v for v in via if not v.startswith("rds.")]
            key["policy"] = json.dumps(policy)
    failures = _failures(_mutated(stacks[0], change), stacks[1], "SPOF_DEPLOY_27")
    assert failures and all("rds" in r.message for r in failures)
    assert {r.stack for r in failures} == {names.data(env, _standby(env))}


def _standby(env):
    from tests.topology import ENVIRONMENTS
    return ENVIRONMENTS[env].regions.standby.name


def _regional(stacks, env, role):
    from tests.topology import ENVIRONMENTS
    config = ENVIRONMENTS[env]
    region = config.regions.primary if role == "primary" else config.regions.standby
    return stacks[names.regional(env, region.name)]["resource"]


@pytest.mark.parametrize("role", ["primary", "standby"])
def test_server_access_logging_that_does_not_wait_for_the_target_policy_fails(stacks, role):
    """Found by the prod rehearsal: the standby's PutBucketLogging ran before the log bucket's policy."""
    env = _env()

    def change(s):
        for logging in _regional(s, env, role)["aws_s3_bucket_logging"].values():
            logging.pop("depends_on")
    failures = _failures(_mutated(stacks[0], change), stacks[1], "SPOF_DEPLOY_28")
    assert failures and all("does not depend_on" in r.message for r in failures)


def test_server_access_logging_into_a_bucket_that_does_not_admit_it_fails(stacks):
    env = _env()

    def change(s):
        for policy in _regional(s, env, "primary")["aws_s3_bucket_policy"].values():
            document = json.loads(policy["policy"])
            document["Statement"] = [st for st in document["Statement"] if not st["Sid"].startswith("S3ServerAccess")]
            policy["policy"] = json.dumps(document)
    failures = _failures(_mutated(stacks[0], change), stacks[1], "SPOF_DEPLOY_28")
    assert failures and all("InvalidTargetBucketForLogging" in r.message for r in failures)


@pytest.mark.parametrize("role", ["primary", "standby"])
def test_a_member_that_would_be_promoted_after_a_switchover_fails(stacks, role):
    """Found in review: after a switchover the former primary is the secondary; clearing its
    replication_source_identifier makes the provider promote it out of the global database."""
    env = _env()

    def change(s):
        for cluster in _data(s, env, role)["aws_rds_cluster"].values():
            cluster["lifecycle"]["ignore_changes"].remove("replication_source_identifier")
    failures = _failures(_mutated(stacks[0], change), stacks[1], "SPOF_DEPLOY_26")
    assert any("promote it out of the global database" in r.message for r in failures)


def test_a_global_datastore_replaced_after_a_failover_fails(stacks):
    env = _env()

    def change(s):
        for group in _data(s, env, "primary")["aws_elasticache_global_replication_group"].values():
            group["lifecycle"].pop("ignore_changes")
    failures = _failures(_mutated(stacks[0], change), stacks[1], "SPOF_DEPLOY_26")
    assert any("replaces the global datastore" in r.message for r in failures)


def test_a_cluster_retention_that_aws_backup_would_override_fails(stacks):
    """Found in review: with continuous backup AWS Backup manages the cluster's retention."""
    env = _env()

    def change(s):
        for cluster in _data(s, env, "primary")["aws_rds_cluster"].values():
            cluster["backup_retention_period"] = 35 if cluster["backup_retention_period"] != 35 else 34
    failures = _failures(_mutated(stacks[0], change), stacks[1], "SPOF_DEPLOY_26")
    assert any("AWS Backup manages the retention" in r.message for r in failures)
