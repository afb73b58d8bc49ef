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
}


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
    for change in plan.get("resource_changes", []):
        kind = action_kind(change.get("change", {}).get("actions", []))
        if kind is None:
            continue
        summary.counts[kind] += 1
        if (immutable := immutable_change(change)) is not None:
            summary.dangerous.append(immutable)
        elif kind in ("replace", "destroy") and change.get("type") in STATEFUL_TYPES:
            summary.dangerous.append(f"{kind.upper()} {STATEFUL_TYPES[change['type']]} `{change['address']}`")
        elif (detach := membership_change(change)) is not None:
            summary.dangerous.append(detach)
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
