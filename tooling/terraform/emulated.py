"""A stack as the emulator runs it: the copy the rehearsal and ``spofless deploy --emulator`` apply, the
environment Terraform runs in against the emulator, and how a plan after apply is judged there.

The copy points every AWS endpoint at the emulator, keeps state per stack in a local folder, leaves out
what the emulator cannot create (:data:`SKIPPED_TYPES`, each with its reason) and lifts protections a
rehearsal must be able to destroy (:data:`UNPROTECTED`), and ignores what the emulator would make it replace
(:data:`IGNORED_IN_COPY`). A plan after apply must be clean apart from the
attributes the emulator reads back differently from AWS (:data:`PLAN_QUIRKS`, each with its reason).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

from tooling.terraform.emulator import FAKE_CREDENTIAL, SERVICES, RehearsalError
from tooling.terraform.runner import terraform_env


# Resource types the emulator cannot create. The stack keeps them; only the rehearsal
# copy drops them, and the report prints this list. Keep it short.
SKIPPED_TYPES: dict[str, str] = {
    "aws_secretsmanager_secret_rotation":
        "moto's RotateSecret invokes the rotation Lambda, which lives outside spofless",
    "aws_eks_addon":
        "moto has no EKS add-on API (CreateAddon/DescribeAddon)",
    "aws_eks_access_entry":
        "moto has no EKS access entry API (CreateAccessEntry/DescribeAccessEntry)",
    "aws_eks_access_policy_association":
        "moto has no EKS access policy API (AssociateAccessPolicy/ListAssociatedAccessPolicies)",
    "aws_eks_pod_identity_association":
        "moto has no EKS Pod Identity API (CreatePodIdentityAssociation)",
    "aws_route53_query_log":
        "moto only finds the log group when its ARN ends in ':*', which the provider's arn attribute trims",
    "aws_elasticache_global_replication_group":
        "moto has no Global Datastore API (CreateGlobalReplicationGroup raises NotImplemented)",
    "aws_elasticache_replication_group":
        "moto creates a replication group without member cache clusters (DescribeCacheClusters on "
        "<group>-001 answers CacheClusterNotFound), so the provider cannot read it back",
    "aws_elasticache_subnet_group":
        "moto has no DeleteCacheSubnetGroup (NotImplemented: the destroy retries until it times out); with the "
        "replication groups skipped nothing uses it",
    "aws_elasticache_user_group":
        "moto has no ElastiCache user group API (CreateUserGroup); the replication groups are created without "
        "user_group_ids",
    "aws_elasticache_user":
        "moto has no ElastiCache user groups, so the users would belong to nothing",
    "aws_backup_selection":
        "moto has no CreateBackupSelection; the plan, its rules and copy action, and the vault lock are rehearsed",
    "aws_cloudformation_stack":
        "moto's CloudFormation has no AWS::ARCRegionSwitch::Plan (nothing to create or verify); the plan is checked "
        "against AWS's published resource schema instead, and its functions, roles and alarms are rehearsed",
    "aws_fis_experiment_template":
        "moto has no AWS FIS API (CreateExperimentTemplate); the templates' role, policies and log group are rehearsed",
    "aws_cloudwatch_composite_alarm":
        "moto has no PutCompositeAlarm; the metric alarms they combine, the topic and its policy are rehearsed",
    "aws_synthetics_canary":
        "moto has no StartCanary, StopCanary or DeleteCanary; the canary's alarm, role, bucket and the Route53 "
        "check on the alarm are rehearsed",
    "aws_prometheus_alert_manager_definition":
        "moto has no AMP alert manager API (CreateAlertManagerDefinition); the workspace, its rules and logging "
        "and the topic's policy for it are rehearsed",
    "aws_prometheus_scraper":
        "moto has no AMP scraper API (CreateScraper); the collector subnets and the workspace it writes to are rehearsed",
    "aws_prometheus_workspace_configuration":
        "moto has no UpdateWorkspaceConfiguration (the workspace's retention)",
    "aws_accessanalyzer_analyzer":
        "moto has no IAM Access Analyzer backend (access-analyzer requests answer 500)",
    "aws_securityhub_account":
        "moto has no UpdateSecurityHubConfiguration, which the provider calls after EnableSecurityHub",
    "aws_securityhub_standards_subscription":
        "moto has no Security Hub standards API (BatchEnableStandards, GetEnabledStandards)",
    "aws_securityhub_finding_aggregator":
        "moto has no Security Hub finding aggregator API (CreateFindingAggregator)",
    "aws_servicequotas_service_quota":
        "moto has no GetAWSDefaultServiceQuota or RequestServiceQuotaIncrease; the quota rule (make check) and "
        "the loader hold the quotas",
}


# Settings the rehearsal copy turns off so that its destroy can run, like prevent_destroy (None: the
# argument is left out).
UNPROTECTED: dict[tuple[str, str], Any] = {
    ("aws_rds_cluster", "deletion_protection"): False,
    ("aws_rds_global_cluster", "deletion_protection"): False,
    ("aws_rds_cluster", "skip_final_snapshot"): True,
    ("aws_rds_cluster", "final_snapshot_identifier"): None,
    # buckets that received objects (S3 server access logs, which the emulator writes too)
    ("aws_s3_bucket", "force_destroy"): True,
    ("aws_ecr_repository", "force_delete"): True,
}


# Plan after apply must show no change. These attributes differ only because the emulator
# answers differently from AWS (each with its reason, like SKIPPED_TYPES); a diff on any other
# attribute, or any create, replace or delete, fails the rehearsal: it would be a perpetual diff
# the configuration causes. (resource type, top-level attribute) -> why.
_RULE_DESCRIPTION = ("moto drops the description of a rule that references a security group "
                     "(UserIdGroupPairs), so the rule reads back without the description it was created with")


PLAN_QUIRKS: dict[tuple[str, str], str] = {
    ("aws_vpc_security_group_ingress_rule", "description"): _RULE_DESCRIPTION,
    ("aws_vpc_security_group_egress_rule", "description"): _RULE_DESCRIPTION,
    ("aws_rds_global_cluster", "tags_all"):
        "moto's ListTagsForResource refuses a global cluster's ARN (arn:aws:rds::<account>:global-cluster:..., "
        "no region: 'Invalid resource name'), so the provider reads no tags",
    ("aws_rds_cluster", "scaling_configuration"):
        "moto describes a provisioned cluster with an empty ScalingConfigurationInfo, which AWS returns only for "
        "Serverless v1, so the provider fills in its defaults",
    **{("aws_rds_cluster_instance", a): "moto's CreateDBInstance drops the Performance Insights settings of a "
                                         "cluster instance and describes it with Performance Insights off"
       for a in ("performance_insights_enabled", "performance_insights_kms_key_id",
                 "performance_insights_retention_period")},
    ("aws_s3_bucket_replication_configuration", "rule"):
        "moto's GetBucketReplication returns DeleteMarkerReplication as Disabled and the Filter as Prefix '' "
        "whatever was sent, and drops SourceSelectionCriteria (hard-coded in moto/s3/responses.py)",
    **{("aws_route53_health_check", a): "moto's CreateHealthCheck drops AlarmIdentifier and "
                                         "InsufficientDataHealthStatus, so a CLOUDWATCH_METRIC check reads back "
                                         "without its alarm"
       for a in ("cloudwatch_alarm_name", "cloudwatch_alarm_region", "insufficient_data_health_status")},
    ("aws_s3_bucket_notification", "eventbridge"):
        "moto accepts EventBridgeConfiguration in PutBucketNotificationConfiguration but returns none, so "
        "the bucket reads back with EventBridge off",
}


# Attributes a resource of the rehearsal copy ignores because the emulator invents them for that kind of
# resource (AWS leaves them out), with the condition on the resource and the reason. Unlike PLAN_QUIRKS (a
# type's attribute, updates only) this is scoped to the resources the condition names, and it also covers
# a ForceNew attribute, whose diff would be a replace.
# (resource type, attribute) -> (block key, value it must have, why)
IGNORED_IN_COPY: dict[tuple[str, str], tuple[str, str, str]] = {
    ("aws_route53_health_check", "request_interval"): (
        "type", "CLOUDWATCH_METRIC",
        "moto answers RequestInterval 30 for a check on a CloudWatch alarm, which AWS leaves out (such a check "
        "has no interval); the provider reads it into the ForceNew request_interval and would replace the check"),
    ("aws_route53_health_check", "port"): (
        "type", "CLOUDWATCH_METRIC",
        "moto answers Port 80 for a check on a CloudWatch alarm, which AWS leaves out (such a check calls no "
        "endpoint); the provider would update the check on every plan"),
}


REMOTE_STATE_PREFIX = "cross-stack-reference-input-"


def state_file(state_dir: Path, stack: str) -> str:
    return str(state_dir / f"{stack}.tfstate")


def _refers(value: Any, addresses: set[str], cross_stack: Sequence[str] = ()) -> bool:
    """True when ``value`` (a block, with its depends_on) names one of ``addresses``, or reads an
    upstream output of a type in ``cross_stack``."""
    text = json.dumps(value)
    if any(marker in text for marker in cross_stack):
        return True
    return any(re.search(rf"(?<![\w.-]){re.escape(address)}(?![\w-])", text) for address in addresses)


def rehearsal_document(document: Mapping[str, Any], stack: str, endpoint: str, state_dir: Path,
                       skipped: Mapping[str, str] = SKIPPED_TYPES) -> tuple[dict[str, Any], Counter]:
    """A copy of one synthesized stack that deploys to the emulator, and what it left out.

    Raises :class:`RehearsalError` when something the rehearsal keeps refers to a
    skipped resource type: dropping it would then change what is tested.
    """
    doc = json.loads(json.dumps(document))
    terraform = doc.setdefault("terraform", {})
    terraform["backend"] = {"local": {"path": state_file(state_dir, stack)}}

    for provider in doc.get("provider", {}).get("aws", []):
        provider.update({
            "access_key": FAKE_CREDENTIAL,
            "secret_key": FAKE_CREDENTIAL,
            "skip_credentials_validation": True,
            "skip_metadata_api_check": True,
            "skip_region_validation": True,
            "s3_use_path_style": True,
            "endpoints": [{service: endpoint for service in SERVICES}],
        })

    for name, source in doc.get("data", {}).get("terraform_remote_state", {}).items():
        if not name.startswith(REMOTE_STATE_PREFIX):
            raise RehearsalError(f"{stack}: remote state {name!r} is not a cdktf cross-stack reference")
        source["backend"] = "local"
        source["config"] = {"path": state_file(state_dir, name[len(REMOTE_STATE_PREFIX):])}

    left_out: Counter = Counter()
    resources = doc.get("resource", {})
    for (resource_type, attribute), value in UNPROTECTED.items():
        for block in resources.get(resource_type, {}).values():
            if value is None:
                block.pop(attribute, None)
            elif attribute in block:
                block[attribute] = value
    for (resource_type, attribute), (key, value, _) in IGNORED_IN_COPY.items():
        for block in resources.get(resource_type, {}).values():
            if block.get(key) == value:
                ignored = block.setdefault("lifecycle", {}).setdefault("ignore_changes", [])
                if isinstance(ignored, list) and attribute not in ignored:
                    ignored.append(attribute)
    dropped: set[str] = set()
    for resource_type in sorted(set(resources) & set(skipped)):
        dropped |= {f"{resource_type}.{n}" for n in resources[resource_type]}
        left_out[resource_type] = len(resources.pop(resource_type))
    # What refers to a dropped resource goes too (in this stack, or through an upstream stack's
    # output, whose name carries the type), until nothing left refers to anything dropped.
    cross_stack = [f"cross-stack-output-{t}" for t in skipped]
    while True:
        cascade = [(t, n) for t, blocks in resources.items() for n, block in blocks.items()
                   if _refers(block, dropped, cross_stack)]
        if not cascade:
            break
        for resource_type, name in cascade:
            del resources[resource_type][name]
            dropped.add(f"{resource_type}.{name}")
            left_out[resource_type] += 1
        for resource_type in [t for t, blocks in resources.items() if not blocks]:
            del resources[resource_type]
    for name in [n for n, o in doc.get("output", {}).items() if _refers(o, dropped, cross_stack)]:
        del doc["output"][name]
    for blocks in resources.values():
        for block in blocks.values():
            lifecycle = block.get("lifecycle")
            if lifecycle:
                lifecycle.pop("prevent_destroy", None)
                if not lifecycle:
                    del block["lifecycle"]
    for section in ("data", "locals"):
        if _refers(doc.get(section, {}), dropped, cross_stack):
            raise RehearsalError(f"{stack}: {section} refers to a resource the rehearsal leaves out "
                                 f"({', '.join(sorted(dropped))}); it cannot be left out")
    return doc, left_out


def rehearsal_env(endpoint: str) -> dict[str, str]:
    """Terraform's environment: our CLI config, fake credentials, no profiles or metadata service."""
    env = {k: v for k, v in terraform_env().items()
           if not k.startswith("AWS_") and k not in ("TF_LOG", "TF_WORKSPACE")}
    env.update({"AWS_ACCESS_KEY_ID": FAKE_CREDENTIAL, "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIAL,
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": endpoint,
                # S3 Control puts the account id in front of the host (<account>.127.0.0.1), which no resolver
                # knows; through the emulator as a proxy the request reaches it. Loopback hosts (every other
                # call) are never proxied, and nothing here leaves the machine.
                "HTTP_PROXY": endpoint, "NO_PROXY": ""})
    return env


def changed_attributes(change: Mapping[str, Any]) -> list[str]:
    """Top-level attributes a planned update changes (differ, or become unknown)."""
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) or _any_true(unknown.get(k)))


def _any_true(value: Any) -> bool:
    """``after_unknown`` mirrors the value's shape with True where it becomes unknown."""
    if isinstance(value, dict):
        return any(_any_true(v) for v in value.values())
    if isinstance(value, list):
        return any(_any_true(v) for v in value)
    return value is True


def judge_plan(plan: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(problems, tolerated quirks) of a plan made right after apply (``terraform show -json``)."""
    problems, tolerated = [], []
    for resource in plan.get("resource_changes", []):
        change = resource.get("change", {})
        actions = change.get("actions", [])
        if actions in (["no-op"], ["read"]):
            continue
        address = resource["address"]
        if actions != ["update"]:
            problems.append(f"{address}: {'/'.join(actions)}")
            continue
        attributes = changed_attributes(change)
        unexplained = [a for a in attributes if (resource["type"], a) not in PLAN_QUIRKS]
        if unexplained or not attributes:
            problems.append(f"{address}: update {', '.join(unexplained or ['(nothing visible)'])}")
        else:
            tolerated += [f"{address}.{a}" for a in attributes]
    return problems, tolerated
