"""Plan review: one markdown summary of every AWS stack's terraform plan.

    python -m tooling.review.plan_review summarize PLAN.json... [--out FILE]

``summarize`` works from plan JSON files (``terraform show -json``) alone; planning
them is ``spofless plan`` (tooling/terraform/deploy.py), whose review is tooling/review/pr_review.py.
It exits 1 when a stateful or protected resource would be replaced or destroyed,
unless ``--allow-destructive`` (or SPOFLESS_ALLOW_DESTRUCTIVE=1) says the change is
intended.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence


# Losing one of these loses data, keys, names or the service itself.
STATEFUL_TYPES = {
    "aws_kms_key": "KMS key", "aws_kms_replica_key": "KMS replica key",
    "aws_route53_zone": "hosted zone", "cloudflare_zone": "Cloudflare zone",
    "aws_secretsmanager_secret": "secret", "aws_eks_cluster": "EKS cluster",
    "aws_lb": "load balancer", "aws_s3_bucket": "S3 bucket",
    "aws_cloudwatch_log_group": "log group",
    "aws_prometheus_workspace": "Prometheus workspace (its metrics, and its rules and alert routing with it)",
    # a new topic or subscription waits for every address to confirm again: alerts go nowhere until then
    "aws_sns_topic": "alert topic (its email subscriptions must be confirmed again)",
    "aws_sns_topic_subscription": "alert subscription (the address must confirm it again)",
    # the data tier: losing one loses data, or the copy that survives a region
    "aws_rds_global_cluster": "Aurora global database", "aws_rds_cluster": "Aurora cluster",
    "aws_elasticache_replication_group": "cache replication group",
    "aws_elasticache_global_replication_group": "cache global datastore",
    "aws_backup_vault": "backup vault", "aws_backup_vault_lock_configuration": "backup vault lock",
    "aws_s3_bucket_replication_configuration": "bucket replication", "aws_ecr_repository": "ECR repository",
    "aws_ecr_replication_configuration": "ECR registry replication",
    # the account baseline: what every environment of the account relies on, and the audit record
    "aws_iam_service_linked_role": "service-linked role (every environment of the account uses it)",
    "aws_cloudtrail": "audit trail", "aws_guardduty_detector": "GuardDuty detector (its findings go with it)",
    "aws_securityhub_account": "Security Hub (disabling it deletes its findings)",
    "aws_config_configuration_recorder": "AWS Config recorder",
    "aws_s3_account_public_access_block": "account-wide S3 public access block",
    # stateful by what depends on them, or by the protection or record they carry
    "aws_secretsmanager_secret_version": "secret value (a new one is not what the database or Git host has)",
    "aws_secretsmanager_secret_rotation": "secret rotation (without it the secret stops rotating)",
    "aws_backup_plan": "backup plan (without it nothing is backed up)",
    "aws_backup_selection": "backup selection (deleting it silently stops backups)",
    "helm_release": "Helm release (deleting it takes its CRDs and every object of their kinds)",
    "kubernetes_namespace_v1": "namespace (deleting it deletes everything in it)",
    "kubernetes_network_policy_v1": "NetworkPolicy (without it the namespace is open)",
    "aws_wafv2_web_acl": "web ACL", "aws_wafv2_web_acl_association": "WAF association (the ALB unfiltered)",
    "aws_s3_bucket_public_access_block": "bucket public access block",
    "aws_s3_bucket_policy": "bucket policy (TLS-only and delivery rules)",
    "aws_s3_bucket_versioning": "bucket versioning",
    "aws_s3_bucket_server_side_encryption_configuration": "bucket default encryption",
    "aws_s3_bucket_object_lock_configuration": "bucket object lock", "aws_s3_bucket_logging": "bucket access logging",
    "aws_eks_access_entry": "EKS access entry (who can reach the cluster)", "aws_eks_node_group": "node group",
    "aws_eks_addon": "EKS add-on (the CNI, DNS or storage of every pod)",
    "aws_iam_openid_connect_provider": "the cluster's OIDC provider",
    "aws_rds_cluster_instance": "database instance", "aws_rds_cluster_parameter_group": "cluster parameter group",
    "aws_db_subnet_group": "database subnet group", "aws_elasticache_subnet_group": "cache subnet group",
    "aws_elasticache_user": "cache user", "aws_elasticache_user_group": "cache user group",
    "aws_vpc": "VPC", "aws_subnet": "subnet", "aws_internet_gateway": "internet gateway",
    "aws_nat_gateway": "NAT gateway", "aws_eip": "Elastic IP (its address changes)", "aws_route_table": "route table",
    "aws_vpc_endpoint": "VPC endpoint", "aws_security_group": "security group",
    "aws_default_security_group": "default security group", "aws_flow_log": "flow log",
    "aws_lb_listener": "listener", "aws_lb_target_group": "target group",
    "aws_acm_certificate": "certificate", "aws_route53_record": "DNS record", "aws_route53_query_log": "DNS query log",
    "cloudflare_dns_record": "Cloudflare DNS record", "cloudflare_load_balancer": "Cloudflare load balancer",
    "cloudflare_load_balancer_pool": "Cloudflare pool",
    "aws_iam_role": "IAM role (key policies and trusts that name it break)", "aws_lambda_function": "Lambda function",
    "aws_cloudformation_stack": "CloudFormation stack (the Region switch plan: its runs and recorded recovery times)",
    "aws_accessanalyzer_analyzer": "IAM Access Analyzer (its findings go with it)",
    "aws_config_configuration_recorder_status": "AWS Config recording", "aws_config_delivery_channel": "AWS Config delivery",
    "aws_ebs_encryption_by_default": "EBS encryption by default",
    "aws_guardduty_detector_feature": "GuardDuty protection feature",
    "aws_securityhub_finding_aggregator": "Security Hub finding aggregator",
    "aws_securityhub_standards_subscription": "Security Hub standard (its findings go with it)",
}


# Types whose replacement or destruction loses nothing and is recreated by the same apply: everything not
# listed here is treated as stateful (a new type is protected until someone decides otherwise, here).
STATELESS_TYPES = {
    "aws_iam_role_policy": "an inline policy, rewritten by the same apply",
    "aws_cloudwatch_metric_alarm": "an alarm, recreated by the same apply (it starts again from INSUFFICIENT_DATA)",
    "aws_cloudwatch_composite_alarm": "an alarm, recreated by the same apply (it starts again from INSUFFICIENT_DATA)",
    "aws_sns_topic_policy": "the topic's policy, rewritten by the same apply",
    "aws_iam_role_policy_attachment": "an attachment, re-attached by the same apply",
    "aws_route": "a route, recreated by the same apply",
    "aws_route_table_association": "an association, recreated by the same apply",
    "aws_vpc_security_group_ingress_rule": "one rule, recreated by the same apply (seconds without it)",
    "aws_vpc_security_group_egress_rule": "one rule, recreated by the same apply (seconds without it)",
    "aws_launch_template": "a template, its next version used by the node group's rolling update",
    "aws_lambda_permission": "an invoke permission, recreated by the same apply",
    "aws_fis_experiment_template": "an experiment template, recreated by the same apply (past experiments stay in FIS)",
    "aws_acm_certificate_validation": "Terraform's wait for validation; nothing in AWS",
    "aws_ecr_lifecycle_policy": "a lifecycle rule set, rewritten by the same apply",
    "aws_s3_bucket_lifecycle_configuration": "lifecycle rules, rewritten by the same apply",
    "aws_s3_bucket_ownership_controls": "object ownership setting, rewritten by the same apply",
    "aws_s3_bucket_notification": "notification settings, rewritten by the same apply",
    "aws_servicequotas_service_quota": "a quota request; deleting it from state lowers nothing",
    "aws_route53_health_check": "a health check the records follow, recreated by the same apply",
    "aws_cloudwatch_dashboard": "a dashboard, rewritten by the same apply (nothing reads it to decide)",
    "aws_prometheus_rule_group_namespace": "alert rules, recreated by the same apply (no cluster alert meanwhile)",
    "aws_prometheus_alert_manager_definition": "alert routing, recreated by the same apply (alerts wait meanwhile)",
    "aws_prometheus_scraper": "a managed collector, recreated by the same apply (a gap in the cluster's metrics)",
    "aws_prometheus_workspace_configuration": "the workspace's retention, rewritten by the same apply",
    "aws_cloudwatch_event_rule": "an event rule, recreated by the same apply (events meanwhile are not alerted)",
    "aws_cloudwatch_event_target": "a rule's target, recreated by the same apply",
    "aws_synthetics_canary": "a canary, recreated by the same apply (its alarm misses runs meanwhile; old results "
                             "stay in the bucket)",
    "cloudflare_load_balancer_monitor": "a monitor the pools follow, recreated by the same apply",
    "cloudflare_zone_dns_settings": "zone settings, rewritten by the same apply",
    "aws_eks_pod_identity_association": "an association, recreated by the same apply",
    "aws_eks_access_policy_association": "an access policy association, recreated by the same apply",
    "aws_wafv2_web_acl_logging_configuration": "logging settings, rewritten by the same apply",
    "aws_cloudwatch_log_resource_policy": "a resource policy, rewritten by the same apply",
    "aws_kms_alias": "a key's name for people; recreated by the same apply (the stacks refer to keys by ARN)",
}

# In-place changes that take a protection away: (type, attribute path, value that is safe, what it guards).
PROTECTIONS = (
    ("aws_rds_cluster", ("deletion_protection",), True, "the cluster can be deleted"),
    ("aws_rds_cluster", ("skip_final_snapshot",), False, "deleting it keeps no final snapshot"),
    ("aws_rds_global_cluster", ("deletion_protection",), True, "the global database can be deleted"),
    ("aws_lb", ("enable_deletion_protection",), True, "the load balancer can be deleted"),
    ("aws_kms_key", ("is_enabled",), True, "the key stops encrypting and decrypting"),
    ("aws_kms_key", ("enable_key_rotation",), True, "the key material stops rotating"),
    ("aws_s3_bucket", ("force_destroy",), False, "destroying the bucket deletes every object in it"),
    ("aws_backup_vault", ("force_destroy",), False, "destroying the vault deletes its recovery points"),
    ("aws_s3_bucket_versioning", ("versioning_configuration", 0, "status"), "Enabled",
     "versioning is suspended: overwritten and deleted objects are gone"),
    *(("aws_s3_bucket_public_access_block", (name,), True, f"{name} is off")
      for name in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")),
)


def _at(value, path):
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and isinstance(key, int) and len(value) > key:
            value = value[key]
        else:
            return None
    return value


def protection_change(change: dict) -> Optional[str]:
    """``UNPROTECT ...`` when an in-place update turns a protective field off."""
    body = change.get("change", {})
    if action_kind(body.get("actions", [])) != "update":
        return None
    for rtype, path, safe, guards in PROTECTIONS:
        if change.get("type") != rtype:
            continue
        before, after = _at(body.get("before") or {}, path), _at(body.get("after") or {}, path)
        if before == safe and after != safe:
            field_name = ".".join(str(p) for p in path)
            return f"UNPROTECT {label(rtype)} `{change['address']}`: {field_name} {before} -> {after} ({guards})"
    return None


def label(rtype: str) -> str:
    """What a type is called in the review; a type on neither list is named as such."""
    return STATEFUL_TYPES.get(rtype) or f"{rtype} (not on the stateless list)"


def dependents_in_place(plan: dict) -> dict[str, list[str]]:
    """``{address: [addresses that reference it and are kept (updated or unchanged)]}``, from the plan's
    configuration: replacing something others keep depending on can fail (a target group under a live
    listener) or break them for the length of the apply."""
    resources = (plan.get("configuration") or {}).get("root_module", {}).get("resources", [])
    actions = {c.get("address"): action_kind(c.get("change", {}).get("actions", []))
               for c in plan.get("resource_changes", [])}
    found: dict[str, set[str]] = {}

    def references(value) -> Iterable[str]:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "references":
                    yield from (r for r in inner if isinstance(r, str))
                else:
                    yield from references(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from references(inner)

    for resource in resources:
        address = resource.get("address")
        if actions.get(address) in ("replace", "destroy"):
            continue
        for ref in references(resource.get("expressions") or {}):
            parts = ref.split(".")
            target = ".".join(parts[:3] if parts[0] == "data" else parts[:2])
            if target != address:
                found.setdefault(target, set()).add(address)
    return {k: sorted(v) for k, v in found.items()}


def dangerous_change(change: dict, dependents: Optional[dict[str, list[str]]] = None) -> Optional[str]:
    """Why one resource change is dangerous, or None: a replace or destroy of anything not on the
    stateless list (with what keeps depending on it), an immutable vault lock, a global membership
    change, or a protection turned off."""
    if (immutable := immutable_change(change)) is not None:
        return immutable
    kind = action_kind(change.get("change", {}).get("actions", []))
    if kind in ("replace", "destroy") and change.get("type") not in STATELESS_TYPES:
        kept = (dependents or {}).get(change.get("address", ""), [])
        return (f"{kind.upper()} {label(change.get('type', ''))} `{change['address']}`"
                + (f" ({len(kept)} kept in place depend on it: {', '.join(kept[:4])}"
                   f"{', ...' if len(kept) > 4 else ''})" if kept else ""))
    return membership_change(change) or protection_change(change)


def immutable_change(change: dict) -> Optional[str]:
    """A replacement or destroy AWS refuses once it is past a point of no return: a compliance-mode vault
    lock (``changeable_for_days`` set) is immutable after its grace days, and every field is ForceNew, so
    the delete half of a replace fails and leaves the plan half applied.
    https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html"""
    body = change.get("change", {})
    if change.get("type") != "aws_backup_vault_lock_configuration" or \
            action_kind(body.get("actions", [])) not in ("replace", "destroy"):
        return None
    if not (body.get("before") or {}).get("changeable_for_days"):
        return None
    return (f"IMMUTABLE compliance vault lock `{change['address']}` would be "
            f"{'replaced' if action_kind(body['actions']) == 'replace' else 'destroyed'}: AWS refuses once its "
            "grace days have passed (the vault keeps its lock); apply only inside the grace days")

# Membership of a global database or datastore: an update that changes it is not harmless. Clearing
# global_cluster_identifier runs RemoveFromGlobalCluster (the cluster becomes a standalone copy that
# no longer replicates); the provider does the same for a replication group's global id.
MEMBERSHIP = {"aws_rds_cluster": "global_cluster_identifier",
              "aws_elasticache_replication_group": "global_replication_group_id"}


def membership_change(change: dict) -> Optional[str]:
    """``DETACH ...`` when an in-place update takes a resource out of (or moves it between) global groups."""
    attribute = MEMBERSHIP.get(change.get("type", ""))
    body = change.get("change", {})
    if attribute is None or action_kind(body.get("actions", [])) != "update":
        return None
    before = (body.get("before") or {}).get(attribute) or ""
    after = (body.get("after") or {}).get(attribute) or ""
    unknown = bool((body.get("after_unknown") or {}).get(attribute))
    if before and (unknown or after != before):
        return (f"DETACH {STATEFUL_TYPES[change['type']]} `{change['address']}` from `{before}`"
                f" ({attribute} -> {'(known after apply)' if unknown else after or 'none'})")
    return None
KINDS = ("create", "update", "replace", "destroy")


def action_kind(actions: Sequence[str]) -> Optional[str]:
    """Terraform's action list as one of KINDS, or None for no-op and reads."""
    actions = list(actions)
    if sorted(actions) == ["create", "delete"]:
        return "replace"
    return {("create",): "create", ("update",): "update", ("delete",): "destroy"}.get(tuple(actions))


@dataclass
class StackSummary:
    stack: str
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})
    dangerous: list[str] = field(default_factory=list)


def summarize_plan(stack: str, plan: dict) -> StackSummary:
    """Counts per kind of change and the dangerous ones, for one plan JSON document."""
    summary = StackSummary(stack)
    dependents = dependents_in_place(plan)
    for change in plan.get("resource_changes", []):
        kind = action_kind(change.get("change", {}).get("actions", []))
        if kind is None:
            continue
        summary.counts[kind] += 1
        if (danger := dangerous_change(change, dependents)) is not None:
            summary.dangerous.append(danger)
    return summary


def render(summaries: Iterable[StackSummary]) -> str:
    """The markdown summary: dangerous changes in bold first, then a table per stack."""
    summaries = list(summaries)
    lines = ["# Terraform plan review", ""]
    dangerous = [(s.stack, d) for s in summaries for d in s.dangerous]
    if dangerous:
        lines.append("**Stateful or protected resources would be replaced or destroyed:**")
        lines.append("")
        lines += [f"- **{stack}: {item}**" for stack, item in dangerous]
    else:
        lines.append("No stateful or protected resource is replaced or destroyed.")
    lines += ["", "| stack | create | update | replace | destroy |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {s.stack} | " + " | ".join(str(s.counts[k]) for k in KINDS) + " |" for s in summaries]
    return "\n".join(lines) + "\n"


def review(plans: dict[str, dict], allow_destructive: bool) -> tuple[str, int]:
    """Markdown and exit status for ``{stack: plan JSON}``."""
    summaries = [summarize_plan(stack, plan) for stack, plan in plans.items()]
    blocked = any(s.dangerous for s in summaries) and not allow_destructive
    return render(summaries), 1 if blocked else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.review.plan_review")
    sub = parser.add_subparsers(dest="command", required=True)
    summarize = sub.add_parser("summarize", help="summarize plan JSON files")
    summarize.add_argument("plans", nargs="+")
    summarize.add_argument("--out")
    for p in (summarize,):
        p.add_argument("--allow-destructive", action="store_true",
                       default=os.environ.get("SPOFLESS_ALLOW_DESTRUCTIVE") == "1")
    args = parser.parse_args(argv)
    plans = {Path(p).stem: json.loads(Path(p).read_text()) for p in args.plans}
    out = Path(args.out) if args.out else None
    markdown, status = review(plans, args.allow_destructive)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(markdown)
    print(markdown, end="")
    if status:
        print("plan review: destructive change to a stateful resource; rerun with --allow-destructive "
              "(or SPOFLESS_ALLOW_DESTRUCTIVE=1) if it is intended", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
