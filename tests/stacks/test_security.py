"""<env>-security: multi-region keys paired with replicas, replicated secrets, no secret values."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from modules.tags import KEY_PURPOSE
from tests.conftest import PROJECT, resources
from tests.topology import (ENVIRONMENTS, MULTI_REGION, REGIONAL, SINGLE_REGION, account_stack, dns_zone_stack, each,
                            security_stack)

# the primary region holds each multi-region key, the standby region its replica
KEY_TYPE = {"primary": "aws_kms_key", "standby": "aws_kms_replica_key"}


def _keys_by_purpose(stack: dict, resource_type: str) -> dict[str, tuple[str, dict]]:
    return {r["tags"][KEY_PURPOSE]: (name, r) for name, r in resources(stack, resource_type).items()}


def _remote_output(stacks: dict, reference: str, source_stack: str) -> str:
    """Follow ``${data.terraform_remote_state.X.outputs.NAME}`` to the output's value in ``source_stack``."""
    match = re.fullmatch(r"\$\{data\.terraform_remote_state\.[^.]+\.outputs\.([^}]+)\}", reference)
    assert match, f"not a cross-stack reference: {reference}"
    return stacks[source_stack]["output"][match.group(1)]["value"]


@pytest.mark.parametrize("env_name", each(MULTI_REGION, none="no environment has a standby region"))
def test_every_key_has_a_primary_in_the_primary_region_and_a_replica_in_the_standby(stacks, env_name):
    stack = stacks[security_stack(env_name)]
    env = ENVIRONMENTS[env_name]
    providers = {p.get("alias"): p["region"] for p in stack["provider"]["aws"]}
    assert providers == {"primary": env.regions.primary.name, "standby": env.regions.standby.name}
    primaries = _keys_by_purpose(stack, "aws_kms_key")
    replicas = _keys_by_purpose(stack, "aws_kms_replica_key")
    assert sorted(primaries) == sorted(replicas) == sorted(env.security.keys)
    for purpose in env.security.keys:
        key_name, key = primaries[purpose]
        _, replica = replicas[purpose]
        assert key["provider"] == "aws.primary" and key["multi_region"] is True
        assert replica["provider"] == "aws.standby"
        assert replica["primary_key_arn"] == f"${{aws_kms_key.{key_name}.arn}}"
        assert key["enable_key_rotation"] is True
        assert key["deletion_window_in_days"] == replica["deletion_window_in_days"] == env.security.key_deletion_window_days
        assert key["lifecycle"] == replica["lifecycle"] == {"prevent_destroy": True}
        # the same policy, rendered for each region
        assert replica["policy"] == key["policy"].replace(env.regions.primary.name, env.regions.standby.name)


@pytest.mark.parametrize("env_name", each(MULTI_REGION, none="no environment has a standby region"))
def test_aliases_name_each_key_the_same_in_both_regions(stacks, env_name):
    aliases = resources(stacks[security_stack(env_name)], "aws_kms_alias").values()
    by_provider: dict[str, set[str]] = {}
    for alias in aliases:
        by_provider.setdefault(alias["provider"], set()).add(alias["name"])
    assert sorted(by_provider) == ["aws.primary", "aws.standby"]
    assert by_provider["aws.primary"] == by_provider["aws.standby"] == {
        f"alias/{env_name}/{p}" for p in ENVIRONMENTS[env_name].security.keys}


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_key_policies_allow_administration_and_only_the_purpose_services(stacks, env_name):
    region = ENVIRONMENTS[env_name].regions.primary.name  # the primary keys' policies name their own region
    keys = _keys_by_purpose(stacks[security_stack(env_name)], "aws_kms_key")
    for purpose, (_, key) in keys.items():
        statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
        admin = statements["AccountAdministration"]
        assert "kms:Decrypt" not in admin["Action"] and "kms:*" not in admin["Action"]
        (use,) = [s for sid, s in statements.items()
                  if sid not in ("AccountAdministration", "CloudWatchAlarmsPublish", "EventBridgeRulesPublish",
                                 "PrometheusAlertsPublish")
                  and not sid.startswith("AutoScalingServiceRole")]
        assert "Condition" in use
        if purpose == "logs":
            assert use["Principal"] == {"Service": f"logs.{region}.amazonaws.com"}
            # the region's alert topic: CloudWatch publishes this account's alarms of this region only
            alarms = statements["CloudWatchAlarmsPublish"]
            assert f":cloudwatch:{region}:" in alarms["Condition"]["ArnLike"]["aws:SourceArn"]
            # and EventBridge rules of this account and region (failed backup jobs) publish to it too
            rules = statements["EventBridgeRulesPublish"]
            assert rules["Principal"] == {"Service": "events.amazonaws.com"}
            assert f":events:{region}:" in rules["Condition"]["ArnLike"]["aws:SourceArn"]
            # and the Prometheus workspaces' alert managers, as AWS documents it (the topic policy names the workspace)
            amp = statements["PrometheusAlertsPublish"]
            assert amp["Principal"] == {"Service": "aps.amazonaws.com"}
            assert sorted(amp["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        else:
            assert not {"CloudWatchAlarmsPublish", "EventBridgeRulesPublish", "PrometheusAlertsPublish"} & set(statements)
            services = use["Condition"]["StringEquals"]["kms:ViaService"]
            assert services and all(s.endswith(f".{region}.amazonaws.com") for s in services)
    # the storage key encrypts node volumes: the Auto Scaling service-linked role may use it
    storage = {s["Sid"]: s for s in json.loads(keys["storage"][1]["policy"])["Statement"]}
    assert storage["AutoScalingServiceRoleGrants"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": True}}
    assert storage["AutoScalingServiceRoleUse"]["Principal"] == storage["AutoScalingServiceRoleGrants"]["Principal"]
    assert all(not sid.startswith("AutoScaling") for p, (_, k) in keys.items() if p != "storage"
               for sid in (s["Sid"] for s in json.loads(k["policy"])["Statement"]))
    eks_services = json.loads(keys["eks"][1]["policy"])["Statement"][1]["Condition"]["StringEquals"]["kms:ViaService"]
    assert eks_services == [f"eks.{region}.amazonaws.com"]


@pytest.mark.parametrize("env_name", each(SINGLE_REGION, none="every environment has a standby region"))
def test_single_region_environments_have_single_region_keys_and_no_replicas(stacks, env_name):
    stack = stacks[security_stack(env_name)]
    assert [p.get("alias") for p in stack["provider"]["aws"]] == ["primary"]
    assert not resources(stack, "aws_kms_replica_key")
    assert all(k["multi_region"] is False for k in resources(stack, "aws_kms_key").values())
    assert all("replica" not in s for s in resources(stack, "aws_secretsmanager_secret").values())


@pytest.mark.parametrize("env_name", each(MULTI_REGION, none="no environment has a standby region"))
def test_every_secret_is_replicated_to_the_standby_under_the_replica_key(stacks, env_name):
    stack = stacks[security_stack(env_name)]
    env = ENVIRONMENTS[env_name]
    primaries = {p: f"${{aws_kms_key.{n}.arn}}" for p, (n, _) in _keys_by_purpose(stack, "aws_kms_key").items()}
    replicas = {p: f"${{aws_kms_replica_key.{n}.arn}}" for p, (n, _) in _keys_by_purpose(stack, "aws_kms_replica_key").items()}
    secrets = {s["name"]: s for s in resources(stack, "aws_secretsmanager_secret").values()}
    assert sorted(secrets) == sorted(f"{env_name}/{s.name}" for s in env.security.secrets)
    for config in env.security.secrets:
        secret = secrets[f"{env_name}/{config.name}"]
        assert secret["provider"] == "aws.primary"
        assert secret["kms_key_id"] == primaries[config.key]
        assert secret["replica"] == [{"region": env.regions.standby.name, "kms_key_id": replicas[config.key]}]


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_generated_secrets_rotate_with_the_deployed_function_and_external_ones_do_not(stacks, env_name):
    env = ENVIRONMENTS[env_name]
    stack = stacks[security_stack(env_name)]
    secrets = {name: s for name, s in resources(stack, "aws_secretsmanager_secret").items()}
    assert sorted(s["name"] for s in secrets.values()) == sorted(f"{env_name}/{s.name}" for s in env.security.secrets)
    rotations = {r["secret_id"]: r for r in resources(stack, "aws_secretsmanager_secret_rotation").values()}
    # spofless deploys its rotation function when a generated secret names no function of its own
    own = [s for s in env.security.secrets if s.rotation_period and env.security.rotation_function(s) is None]
    functions = list(resources(stack, "aws_lambda_function"))
    assert len(functions) == (1 if own else 0)
    for name, secret in secrets.items():
        config = next(s for s in env.security.secrets if f"{env_name}/{s.name}" == secret["name"])
        rotation = rotations.get(f"${{aws_secretsmanager_secret.{name}.id}}")
        if config.value == "external":
            assert rotation is None  # a Git token is rotated at the Git host
            continue
        assert rotation["rotation_rules"] == {"automatically_after_days": config.rotation_period}
        assert rotation["rotate_immediately"] is True
        configured = env.security.rotation_function(config)
        assert rotation["rotation_lambda_arn"] == (configured or f"${{aws_lambda_function.{functions[0]}.arn}}")


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_log_groups_use_the_regional_logs_key_from_the_security_stack(stacks, stack_name):
    env_name, key_type = REGIONAL[stack_name].env.name, KEY_TYPE[REGIONAL[stack_name].role]
    groups = resources(stacks[stack_name], "aws_cloudwatch_log_group").values()
    # the Prometheus workspace's log group is named after the stack
    observed = REGIONAL[stack_name].env.observability
    metrics = [stack_name] if observed.cluster_metrics else []
    # and the container logs' four (modules/observability/logs.py), named after their kind
    containers = ["application", "dataplane", "host", "performance"] if observed.container_logs else []
    assert sorted(g["name"].split("/")[-1] if "/" in g["name"] else "waf" for g in groups) == sorted(
        ["cluster", "vpc-flow-logs", "waf", *metrics, *containers])
    (logs_key,) = [n for n, k in resources(stacks[security_stack(env_name)], key_type).items()
                   if k["tags"][KEY_PURPOSE] == "logs"]
    for group in groups:
        value = _remote_output(stacks, group["kms_key_id"], security_stack(env_name))
        assert value == f"${{{key_type}.{logs_key}.arn}}"


def test_regional_stacks_depend_on_the_security_stack(synth_dir):
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    for name, placement in REGIONAL.items():
        # (gitops stacks depend on their region's stack: tests/stacks/test_gitops.py)
        env_name = placement.env.name
        # and on its region's account baseline (the Elastic IP quota it draws on is requested there)
        assert sorted(manifest["stacks"][name]["dependencies"]) == sorted([
            dns_zone_stack(env_name), security_stack(env_name),
            account_stack(placement.env.account.name, placement.region.name)]), name


def test_the_security_stack_depends_on_the_account_baseline_and_creates_no_service_linked_role(synth_dir, stacks):
    """The storage key policy names AWSServiceRoleForAutoScaling, which the account's home baseline owns."""
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    for env in ENVIRONMENTS.values():
        name = security_stack(env.name)
        assert account_stack(env.account.name, env.account.home_region) in manifest["stacks"][name]["dependencies"]
        assert "aws_iam_service_linked_role" not in stacks[name].get("resource", {}), name
        roles = stacks[name]["data"]["aws_iam_role"]
        assert [r["name"] for r in roles.values()] == ["AWSServiceRoleForAutoScaling"]


# -- no secret values, anywhere ---------------------------------------------------------------

_SECRET_PATTERNS = {
    "inline secret string": re.compile(r'"secret_(string|binary)"\s*:'),
    "password-like literal": re.compile(r'"(password|passwd|token|secret|api_key|apikey)"\s*:\s*"(?!\$\{)[^"]{4,}"',
                                        re.IGNORECASE),
    "GitHub token": re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),
    "GitLab token": re.compile(r"glpat-[A-Za-z0-9_-]{16,}"),
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}


def _leaks(text: str) -> list[str]:
    found = [label for label, pattern in _SECRET_PATTERNS.items() if pattern.search(text)]
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return found
    # A secret version *resource* carries a value, unless it is write-only (secret_string_wo: sent to
    # AWS at apply time from an ephemeral value, never in the plan or the state); the data source of
    # the same type is a reference.
    versions = document.get("resource", {}).get("aws_secretsmanager_secret_version", {}) \
        if isinstance(document, dict) else {}
    if any(set(v) & {"secret_string", "secret_binary"} or "ephemeral." not in str(v.get("secret_string_wo"))
           for v in versions.values()):
        found.append("secret version resource")
    return found


def test_no_secret_value_appears_in_the_synthesized_output(synth_dir):
    found = {str(p.relative_to(synth_dir)): _leaks(p.read_text())
             for p in synth_dir.rglob("*") if p.is_file() and p.suffix != ".zip"}  # zip: the rotation code
    assert not {k: v for k, v in found.items() if v}


def test_no_secret_value_is_committed_to_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT, capture_output=True, text=True).stdout.split()
    found = {}
    for name in tracked:
        if name.startswith("tests/") or not (PROJECT / name).is_file():
            continue  # the tests hold the patterns themselves
        try:
            text = (PROJECT / name).read_text()
        except UnicodeDecodeError:
            continue
        leaks = [label for label in _leaks(text) if label not in ("secret version resource", "inline secret string")]
        if leaks:
            found[name] = leaks
    assert not found


@pytest.mark.parametrize("text", ['{"resource": {"aws_secretsmanager_secret_version": {"v": {"secret_id": "x"}}}}',
                                  '{"resource": {"aws_secretsmanager_secret_version": {"v": {"secret_string_wo": "x"}}}}',
                                  '{"password": "hunter2hunter2"}', "token ghp_abcdefghijklmnopqrstuvwxyz0123",
                                  '{"secret_string": "${var.x}"}'])
def test_the_secret_scan_catches_a_leak(text):
    assert _leaks(text)


def test_the_shipped_rotation_package_is_the_one_its_hash_names(synth_dir, stacks):
    """The zip Terraform uploads (the output's asset copy) has the digest the function's source_code_hash
    records, and it is the package built from the handler in this repository."""
    import base64
    import hashlib

    from modules.failover.function import package as failover_package
    from modules.security.rotation_function import package

    found = 0
    for stack_name, stack in stacks.items():
        for function in resources(stack, "aws_lambda_function").values():
            shipped = (synth_dir / "stacks" / stack_name / function["filename"]).read_bytes()
            assert base64.b64encode(hashlib.sha256(shipped).digest()).decode() == function["source_code_hash"]
            if function["function_name"].endswith("-failover"):  # the failover plan's steps (test_failover.py)
                assert shipped == failover_package()
                continue
            assert shipped == package()
            found += 1
    assert found == sum(1 for e in ENVIRONMENTS.values()
                        if any(s.rotation_period and e.security.rotation_function(s) is None
                               for s in e.security.secrets))
