"""The SPOF report: tiers against AZs, regions and providers, from the synthesized output.

    python -m tooling.analysis.spof_report [--outdir cdktf.out] [--env prod]

Everything is counted from ``cdktf.out`` (what will be deployed), not from the
environment files. Availability combines the per-component figures of
``policies/availability.yaml``: redundant copies in parallel (1 - prod(1 - a)),
dependent tiers in series (prod a). The request path is
DNS x (any region of: load balancing x control plane x data plane); GitOps,
keys and secrets are reported as their own tiers.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import yaml

from modules.stacks import names
from modules.tags import SINGLE_REGION

PROJECT = Path(__file__).resolve().parents[2]
FIGURES = PROJECT / "policies" / "availability.yaml"
SINGLE_REGION_TAG = SINGLE_REGION



def parallel(values: Iterable[float]) -> float:
    """Availability of redundant copies: up unless every copy is down."""
    values = list(values)
    return 1 - math.prod(1 - v for v in values) if values else 0.0


def series(values: Iterable[float]) -> float:
    """Availability of parts that are all needed."""
    return math.prod(values)


@dataclass(frozen=True)
class Tier:
    name: str
    azs: str
    regions: int
    providers: int
    redundancy: str
    availability: float
    spof: str  # "" when none

    def row(self) -> str:
        regions = "global" if self.name == "DNS" else str(self.regions)
        return (f"  {self.name:<15} {self.azs:<8} {regions:<8} {self.providers:<10} {self.redundancy:<40} "
                f"{self.availability * 100:.9f}%  {downtime(self.availability):>12}  {self.spof or 'none'}")


def downtime(availability: float) -> str:
    """Expected downtime per year at ``availability``."""
    seconds = (1 - availability) * 365.25 * 86400
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h/yr"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min/yr"
    return f"{seconds:.2f} s/yr"


def _resources(stack: dict, rtype: str) -> list[dict]:
    return list(stack.get("resource", {}).get(rtype, {}).values())


def _account_id(stack: dict) -> Optional[str]:
    """The account a stack's AWS providers are limited to (``allowed_account_ids``)."""
    providers = stack.get("provider", {}).get("aws", [])
    for provider in providers if isinstance(providers, list) else [providers]:
        for account in provider.get("allowed_account_ids") or []:
            return account
    return None


def load_environments(outdir: Path) -> dict[str, dict[str, dict]]:
    """``{env: {stack kind or region: stack JSON}}`` from a synthesized output directory; the baseline
    stacks of the environment's account come along as ``account-<region>``."""
    envs: dict[str, dict[str, dict]] = {}
    baselines: dict[Optional[str], dict[str, dict]] = {}
    for path in sorted((outdir / "stacks").glob("*/cdk.tf.json")):
        parsed = names.parse(path.parent.name)
        if parsed is None:
            continue
        stack = json.loads(path.read_text())
        if parsed.kind == "account":
            baselines.setdefault(_account_id(stack), {})[f"account-{parsed.region}"] = stack
            continue
        key = parsed.region + (f"-{parsed.kind}" if parsed.kind in ("gitops", "data") else "") if parsed.region \
            else parsed.kind
        envs.setdefault(parsed.env, {})[key] = stack
    for stacks in envs.values():
        stacks.update(baselines.get(_account_id(stacks.get("security", {})), {}))
    return envs


def _account_tiers(stacks: dict[str, dict], regions: list[str], declared: Optional[str],
                   figures: dict[str, float]) -> list[Tier]:
    """The account baseline as this environment sees it: the audit trail (does it survive a region's loss?)
    and threat detection (does it run in every region the environment uses?)."""
    baseline = {key.removeprefix("account-"): stack for key, stack in stacks.items() if key.startswith("account-")}
    trails = [t for stack in baseline.values() for t in _resources(stack, "aws_cloudtrail")
              if t.get("is_multi_region_trail") and t.get("enable_log_file_validation")]
    copies = len({b.get("bucket") for stack in baseline.values() for b in _resources(stack, "aws_s3_bucket")
                  if b.get("object_lock_enabled")}) if trails else 0
    replicated = any(_resources(stack, "aws_s3_bucket_replication_configuration") for stack in baseline.values())
    audit_spof = "" if copies >= 2 and replicated else (
        "SPOF: no multi-region trail" if not trails else
        f"declared: one region ({declared})" if declared else "SPOF: the audit bucket in one region")
    tiers = [Tier("audit trail", "3 (S3)", copies, 1,
                  f"multi-region trail, locked bucket{' replicated' if replicated else ''}" if trails else "none",
                  parallel([figures["s3"]] * copies), audit_spof)]
    detecting = sorted(r for r in regions if r in baseline and (
        _resources(baseline[r], "aws_guardduty_detector")
        or baseline[r].get("data", {}).get("aws_guardduty_detector"))
        and _resources(baseline[r], "aws_securityhub_standards_subscription"))
    missing = sorted(set(regions) - set(detecting))
    tiers.append(Tier("detection", "-", len(detecting), 1, "GuardDuty + Security Hub + Config per region",
                      parallel([figures["s3"]] * len(detecting)) if detecting else 0.0,
                      f"SPOF: no detection in {', '.join(missing)}" if missing else ""))
    return tiers


def _subnet_zones(stack: dict, refs: Sequence[str]) -> set[str]:
    subnets = stack.get("resource", {}).get("aws_subnet", {})
    return {subnets[m.group(1)]["availability_zone"] for ref in refs
            for m in [re.search(r"aws_subnet\.([^.]+)\.id", ref)] if m and m.group(1) in subnets}


def analyse(stacks: dict[str, dict], figures: dict[str, float]) -> tuple[list[Tier], float, Optional[str]]:
    """Tiers, request-path availability and the declared single-region reason of one environment."""
    regions = sorted(k for k in stacks if re.fullmatch(r"[a-z]{2}-[a-z]+-\d", k))
    security = stacks.get("security", {})
    declared = next((k["tags"][SINGLE_REGION_TAG] for k in _resources(security, "aws_kms_key")
                     if SINGLE_REGION_TAG in k.get("tags", {})), None)
    def single(count: int, what: str) -> str:
        if count >= 2:
            return ""
        return f"declared: {what}" if declared and what == "region" else f"SPOF: one {what}"
    tiers = []

    providers = []
    if any("failover_routing_policy" in r or "alias" in r for r in _resources(stacks.get("dns-route53", {}), "aws_route53_record")):
        providers.append("route53")
    if _resources(stacks.get("dns-cloudflare", {}), "cloudflare_load_balancer"):
        providers.append("cloudflare")
    dns = parallel([figures["dns"]] * len(providers))
    tiers.append(Tier("DNS", "-", 0, len(providers), " + ".join(providers) or "none", dns, single(len(providers), "provider")))

    lb_regions, cp_regions, dp_regions, lb_notes, dp_notes, min_lb_azs, min_dp_azs = [], [], [], [], [], 99, 99
    for region in regions:
        stack = stacks[region]
        lbs = _resources(stack, "aws_lb")
        zones = [_subnet_zones(stack, lb.get("subnets", [])) for lb in lbs]
        min_lb_azs = min([min_lb_azs] + [len(z) for z in zones])
        lb_regions.append(parallel([figures["load_balancer"]] * len(lbs)))
        lb_notes.append(f"{len(lbs)} LBs")
        cp_regions.append(parallel([figures["eks_control_plane"]] * len(_resources(stack, "aws_eks_cluster"))))
        groups = _resources(stack, "aws_eks_node_group")
        min_dp_azs = min([min_dp_azs] + [len(_subnet_zones(stack, g.get("subnet_ids", []))) for g in groups])
        dp_regions.append(parallel([figures["data_plane"]] * len(groups)))
        dp_notes.append("+".join(sorted(g["capacity_type"] for g in groups)))
    n = len(regions)
    region_spof = single(n, "region")
    tiers.append(Tier("load balancing", f">={min_lb_azs if n else 0}", n, 1, f"{'/'.join(sorted(set(lb_notes)))} per region",
                      parallel(lb_regions), region_spof or ("" if min_lb_azs >= 2 else "SPOF: one AZ")))
    tiers.append(Tier("control plane", "3 (EKS)", n, 1, f"{n} cluster(s)", parallel(cp_regions), region_spof))
    tiers.append(Tier("compute", f">={min_dp_azs if n else 0}", n, 1, f"{'/'.join(sorted(set(dp_notes)))} groups per region",
                      parallel(dp_regions), region_spof or ("" if min_dp_azs >= 2 else "SPOF: one AZ")))

    engines = [(key.removesuffix("-gitops"), rel["name"]) for key, stack in stacks.items() if key.endswith("-gitops")
               for rel in _resources(stack, "helm_release") if rel["name"] in ("argocd", "flux")]
    tiers.append(Tier("GitOps", "-", len({r for r, _ in engines}), len({e for _, e in engines}),
                      f"{len(engines)} installs (ArgoCD + Flux each region)",
                      parallel([figures["gitops"]] * len(engines)), single(len({r for r, _ in engines}), "region")))
    keys, replicas = _resources(security, "aws_kms_key"), _resources(security, "aws_kms_replica_key")
    key_regions = 2 if replicas else (1 if keys else 0)
    tiers.append(Tier("keys", "-", key_regions, 1, f"{len(keys)} keys, {len(replicas)} replicas",
                      parallel([figures["kms"]] * key_regions), single(key_regions, "region")))
    secrets = _resources(security, "aws_secretsmanager_secret")
    secret_regions = 1 + (1 if secrets and all(s.get("replica") for s in secrets) else 0)
    tiers.append(Tier("secrets", "-", secret_regions, 1, f"{len(secrets)} secrets, "
                      f"{sum(1 for s in secrets if s.get('replica'))} replicated",
                      parallel([figures["secrets"]] * secret_regions), single(secret_regions, "region")))

    tiers += _data_tiers(stacks, regions, figures, single)
    tiers += _account_tiers(stacks, regions, declared, figures)

    request_path = series([dns, parallel(series(parts) for parts in zip(lb_regions, cp_regions, dp_regions))])
    return tiers, request_path, declared


def _data_tiers(stacks: dict[str, dict], regions: list[str], figures: dict[str, float], single) -> list[Tier]:
    """The data tier: Aurora, the cache and the application buckets, by AZs and regions holding a copy."""
    data = {r: stacks.get(f"{r}-data", {}) for r in regions}
    tiers = []
    clusters = {r: _resources(s, "aws_rds_cluster") for r, s in data.items()}
    linked = {r for r, c in clusters.items() if c and (c[0].get("global_cluster_identifier") or len(regions) == 1)}
    zones = [len({i.get("availability_zone") for i in _resources(data[r], "aws_rds_cluster_instance")}) for r in linked]
    instances = "/".join(str(len(_resources(data[r], "aws_rds_cluster_instance"))) for r in sorted(linked))
    min_zones = min(zones, default=0)
    tiers.append(Tier("database", f">={min_zones}", len(linked), 1,
                      f"Aurora, {instances or 0} instances" + (", global database" if len(linked) > 1 else ""),
                      parallel([figures["database"]] * len(linked)),
                      single(len(linked), "region") or ("" if min_zones >= 2 else "SPOF: one AZ")))
    groups = {r: _resources(s, "aws_elasticache_replication_group") for r, s in data.items()}
    joined = {r for r, g in groups.items() if g}
    nodes = [int(g[0].get("num_cache_clusters") or 1) for r, g in groups.items() if g]
    cache_zones = min((len(set(g[0].get("preferred_cache_cluster_azs") or [])) for g in groups.values() if g), default=0)
    tiers.append(Tier("cache", f">={cache_zones}", len(joined), 1,
                      f"{'/'.join(map(str, nodes)) or 0} nodes" + (", global datastore" if len(joined) > 1 else ""),
                      parallel([figures["cache"]] * len(joined)),
                      single(len(joined), "region") or ("" if cache_zones >= 2 else "SPOF: one AZ")))
    replicated = {r for r in regions if _resources(data[r], "aws_s3_bucket_replication_configuration")}
    copies = len(replicated) if len(replicated) > 1 else (1 if any(_resources(stacks.get(r, {}), "aws_s3_bucket")
                                                                  for r in regions) else 0)
    tiers.append(Tier("objects", "3 (S3)", copies, 1,
                      "buckets replicated both ways" if copies > 1 else "one bucket",
                      parallel([figures["s3"]] * copies), single(copies, "region")))
    return tiers


def _analysed(outdir: Path, only: Optional[str], figures_path: Path):
    """``(env, tiers, request-path availability, declared exception, drilled scenarios)`` per environment."""
    from policies.model.output import Output
    from tooling.analysis.drill import drill

    figures = yaml.safe_load(figures_path.read_text())
    drilled = drill(Output.load(outdir), [only] if only else None)
    for env, stacks in load_environments(outdir).items():
        if only and env != only:
            continue
        yield (env, *analyse(stacks, figures), drilled.get(env, []))


def report(outdir: Path, only: Optional[str] = None, figures_path: Path = FIGURES) -> tuple[str, int]:
    """The printed report and the number of undeclared single points of failure."""
    lines, undeclared = [], 0
    for env, tiers, overall, declared, played in _analysed(outdir, only, figures_path):
        lines.append(f"{env}")
        lines.append(f"  {'tier':<15} {'AZs':<8} {'regions':<8} {'providers':<10} {'redundancy':<40} "
                     f"{'availability':<14} {'downtime':>12}  single point of failure")
        lines += [tier.row() for tier in tiers]
        lines.append(f"  overall (request path: DNS x any region of LB x control plane x compute): "
                     f"{overall * 100:.9f}%, {downtime(overall)}")
        if declared:
            lines.append(f"  declared exception: {declared}")
        undeclared += sum(1 for t in tiers if t.spof.startswith("SPOF"))
        lines += _drill_summary(played)
        lines.append("")
    return "\n".join(lines), undeclared


def _drill_summary(played) -> list[str]:
    """The failure drill's verdict for one environment (make drill has the table)."""
    if not played:
        return []
    from tooling.analysis.drill import failures

    bad = failures({"env": played})
    declared = [s for s in played if s.verdict == "declared"]
    regions = [s for s in played if len(s.failed) == 1 and s.failed[0].startswith("region:")
               and s.verdict == "survived" and s.downtime > 0]
    lines = [f"  failure drill: {len(played)} scenarios, {len(bad)} not survived or late"
             + (f", {len(declared)} declared" if declared else "")
             + (f"; region failover detected in {max(s.detect for s in regions):.0f} s, traffic moved in "
                f"{max(s.downtime for s in regions):.0f} s" if regions else "")]
    lines += [f"    {' + '.join(s.failed)}: {'; '.join(s.problems)}" for s in bad]
    return lines


def report_data(outdir: Path, only: Optional[str] = None, figures_path: Path = FIGURES) -> dict:
    """The report as data: per environment, its tiers, request-path availability, declared
    exception and drill verdict (``--format json`` prints this; markdown renders it)."""
    from tooling.analysis.drill import failures

    return {env: {
        "tiers": [{"tier": t.name, "azs": t.azs, "regions": t.regions, "providers": t.providers,
                   "redundancy": t.redundancy, "availability": t.availability, "downtime": downtime(t.availability),
                   "spof": t.spof or None} for t in tiers],
        "request_path_availability": overall, "request_path_downtime": downtime(overall),
        "declared_exception": declared,
        "drill": {"scenarios": len(played),
                  "not_survived_or_late": [" + ".join(s.failed) for s in failures({env: played})]},
    } for env, tiers, overall, declared, played in _analysed(outdir, only, figures_path)}


def markdown(data: dict) -> str:
    lines = ["# SPOF report", ""]
    for env, item in data.items():
        lines += [f"## {env}", "", "| tier | AZs | regions | providers | redundancy | availability | downtime | SPOF |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {t['tier']} | {t['azs']} | {'global' if t['tier'] == 'DNS' else t['regions']} | "
                  f"{t['providers']} | {t['redundancy']} | "
                  f"{t['availability'] * 100:.9f}% | {t['downtime']} | {t['spof'] or 'none'} |" for t in item["tiers"]]
        lines += ["", f"Request path: {item['request_path_availability'] * 100:.9f}%, {item['request_path_downtime']}."]
        if item["declared_exception"]:
            lines.append(f"Declared exception: {item['declared_exception']}.")
        drill = item["drill"]
        lines += [f"Failure drill: {drill['scenarios']} scenarios, {len(drill['not_survived_or_late'])} not survived "
                  "or late.", ""]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.analysis.spof_report")
    parser.add_argument("--outdir", default="cdktf.out")
    parser.add_argument("--env")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    args = parser.parse_args(argv)
    if not (Path(args.outdir) / "stacks").is_dir():
        print(f"error: {args.outdir}/stacks does not exist; run `make synth` first", file=sys.stderr)
        return 2
    if args.format == "text":
        text, undeclared = report(Path(args.outdir), args.env)
        print(text)
        print(f"spof report: {undeclared} undeclared single point(s) of failure")
        return 1 if undeclared else 0
    data = report_data(Path(args.outdir), args.env)
    undeclared = sum(1 for item in data.values() for t in item["tiers"] if (t["spof"] or "").startswith("SPOF"))
    print(json.dumps(data, indent=2, sort_keys=True) if args.format == "json" else markdown(data))
    return 1 if undeclared else 0


if __name__ == "__main__":
    sys.exit(main())
