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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import yaml

from modules.tags import SINGLE_REGION
from policies.model.access import Access, access
from policies.model.output import Output
from policies.model.platform import baseline_of, build, data_members, security_of

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


def _account_tiers(baseline: dict, regions: list[str], declared: Optional[str], figures: dict[str, float]) -> list[Tier]:
    """The account baseline as this environment sees it: the audit trail (does it survive a region's loss?)
    and threat detection (does it run in every region the environment uses?)."""
    trails = [t for b in baseline.values() for t in b.trails if all(t)]
    copies = len({name for b in baseline.values() for name, _ in b.locked_buckets}) if trails else 0
    replicated = any(b.replicates for b in baseline.values())
    audit_spof = "" if copies >= 2 and replicated else (
        "SPOF: no multi-region trail" if not trails else
        f"declared: one region ({declared})" if declared else "SPOF: the audit bucket in one region")
    tiers = [Tier("audit trail", "3 (S3)", copies, 1,
                  f"multi-region trail, locked bucket{' replicated' if replicated else ''}" if trails else "none",
                  parallel([figures["s3"]] * copies), audit_spof)]
    detecting = sorted(r for r in regions if r in baseline and baseline[r].guardduty and baseline[r].standards)
    missing = sorted(set(regions) - set(detecting))
    tiers.append(Tier("detection", "-", len(detecting), 1, "GuardDuty + Security Hub + Config per region",
                      parallel([figures["s3"]] * len(detecting)) if detecting else 0.0,
                      f"SPOF: no detection in {', '.join(missing)}" if missing else ""))
    return tiers


def analyse(output: Output, env: str, figures: dict[str, float]) -> tuple[list[Tier], float, Optional[str]]:
    """Tiers, request-path availability and the declared single-region reason of one environment, from the
    read model (:mod:`policies.model.platform`)."""
    platform = build(output, env)
    regions = sorted(platform.regions)
    declared = platform.declared

    def single(count: int, what: str) -> str:
        if count >= 2:
            return ""
        return f"declared: {what}" if declared and what == "region" else f"SPOF: one {what}"
    tiers = []

    providers = (["route53"] if platform.route53 else []) + (["cloudflare"] if platform.cloudflare else [])
    dns = parallel([figures["dns"]] * len(providers))
    tiers.append(Tier("DNS", "-", 0, len(providers), " + ".join(providers) or "none", dns, single(len(providers), "provider")))

    lb_regions, cp_regions, dp_regions, lb_notes, dp_notes, min_lb_azs, min_dp_azs = [], [], [], [], [], 99, 99
    for name in regions:
        region = platform.regions[name]
        lbs = list(region.lbs.values())
        min_lb_azs = min([min_lb_azs] + [len(lb.zones) for lb in lbs])
        lb_regions.append(parallel([figures["load_balancer"]] * len(lbs)))
        lb_notes.append(f"{len(lbs)} LBs")
        cp_regions.append(parallel([figures["eks_control_plane"]] * region.clusters))
        groups = region.cluster.node_groups if region.cluster else ()
        min_dp_azs = min([min_dp_azs] + [len(zones) for _, zones in groups])
        dp_regions.append(parallel([figures["data_plane"]] * len(groups)))
        dp_notes.append("+".join(sorted(capacity for capacity, _ in groups)))
    n = len(regions)
    region_spof = single(n, "region")
    tiers.append(Tier("load balancing", f">={min_lb_azs if n else 0}", n, 1, f"{'/'.join(sorted(set(lb_notes)))} per region",
                      parallel(lb_regions), region_spof or ("" if min_lb_azs >= 2 else "SPOF: one AZ")))
    tiers.append(Tier("control plane", "3 (EKS)", n, 1, f"{n} cluster(s)", parallel(cp_regions), region_spof))
    tiers.append(Tier("compute", f">={min_dp_azs if n else 0}", n, 1, f"{'/'.join(sorted(set(dp_notes)))} groups per region",
                      parallel(dp_regions), region_spof or ("" if min_dp_azs >= 2 else "SPOF: one AZ")))

    engines = [(name, engine) for name in regions if platform.regions[name].cluster
               for engine in sorted(platform.regions[name].cluster.installed)]
    tiers.append(Tier("GitOps", "-", len({r for r, _ in engines}), len({e for _, e in engines}),
                      f"{len(engines)} installs (ArgoCD + Flux each region)",
                      parallel([figures["gitops"]] * len(engines)), single(len({r for r, _ in engines}), "region")))
    security = security_of(output, env)
    key_regions = 2 if security.replica_keys else (1 if security.keys else 0)
    tiers.append(Tier("keys", "-", key_regions, 1, f"{security.keys} keys, {security.replica_keys} replicas",
                      parallel([figures["kms"]] * key_regions), single(key_regions, "region")))
    secret_regions = 1 + (1 if security.secrets and security.replicated_secrets == security.secrets else 0)
    tiers.append(Tier("secrets", "-", secret_regions, 1, f"{security.secrets} secrets, "
                      f"{security.replicated_secrets} replicated",
                      parallel([figures["secrets"]] * secret_regions), single(secret_regions, "region")))

    tiers += _data_tiers(data_members(output, env), platform, regions, figures, single)
    tiers += _account_tiers(baseline_of(output, env), regions, declared, figures)

    request_path = series([dns, parallel(series(parts) for parts in zip(lb_regions, cp_regions, dp_regions))])
    return tiers, request_path, declared


def _data_tiers(members: dict, platform, regions: list[str], figures: dict[str, float], single) -> list[Tier]:
    """The data tier: Aurora, the cache and the application buckets, by AZs and regions holding a copy."""
    data = {r: members[r] for r in regions if r in members}
    tiers = []
    linked = {r for r, m in data.items() if m.aurora_cluster and (m.aurora_global or len(regions) == 1)}
    zones = [len({i.zone for i in data[r].aurora}) for r in linked]
    instances = "/".join(str(len(data[r].aurora)) for r in sorted(linked))
    min_zones = min(zones, default=0)
    tiers.append(Tier("database", f">={min_zones}", len(linked), 1,
                      f"Aurora, {instances or 0} instances" + (", global database" if len(linked) > 1 else ""),
                      parallel([figures["database"]] * len(linked)),
                      single(len(linked), "region") or ("" if min_zones >= 2 else "SPOF: one AZ")))
    joined = {r for r, m in data.items() if m.cache_nodes}
    nodes = [m.cache_nodes for m in data.values() if m.cache_nodes]
    cache_zones = min((m.cache_zones for m in data.values() if m.cache_nodes), default=0)
    tiers.append(Tier("cache", f">={cache_zones}", len(joined), 1,
                      f"{'/'.join(map(str, nodes)) or 0} nodes" + (", global datastore" if len(joined) > 1 else ""),
                      parallel([figures["cache"]] * len(joined)),
                      single(len(joined), "region") or ("" if cache_zones >= 2 else "SPOF: one AZ")))
    replicated = {r for r, m in data.items() if m.bucket_rules}
    copies = len(replicated) if len(replicated) > 1 else (1 if any(platform.regions[r].buckets for r in regions) else 0)
    tiers.append(Tier("objects", "3 (S3)", copies, 1,
                      "buckets replicated both ways" if copies > 1 else "one bucket",
                      parallel([figures["s3"]] * copies), single(copies, "region")))
    return tiers


def _analysed(output: Output, only: Optional[str], figures_path: Path):
    """``(env, tiers, request-path availability, declared exception, drilled scenarios)`` per environment."""
    from tooling.analysis.drill import drill

    figures = yaml.safe_load(figures_path.read_text())
    drilled = drill(output, [only] if only else None)
    for env in output.environments:
        if only and env != only:
            continue
        yield (env, *analyse(output, env, figures), drilled.get(env, []))


def report(outdir: Path, only: Optional[str] = None, figures_path: Path = FIGURES) -> tuple[str, int]:
    """The printed report and the number of undeclared single points of failure."""
    lines, undeclared = [], 0
    output = Output.load(outdir)
    for env, tiers, overall, declared, played in _analysed(output, only, figures_path):
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
        lines += _security_lines(access(output, env))
        lines.append("")
    return "\n".join(lines), undeclared


SECURITY_HEADINGS = {"git_tokens": "read the Git tokens", "load_balancers": "change a load balancer",
                     "clusters": "write to a cluster"}


def _security_lines(found: Access) -> list[str]:
    """Who can read the Git tokens, change a load balancer, write to a cluster (policies/model/access.py)."""
    lines = ["  security: who can (from the output; account principals with IAM rights of their own are not "
             "counted)"]
    for key, heading in SECURITY_HEADINGS.items():
        lines.append(f"    {heading}:")
        lines += [f"      {grant}" for grant in getattr(found, key)] or ["      no one the output declares"]
    return lines


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

    output = Output.load(outdir)
    return {env: {
        "security": access(output, env).as_dict(),
        "tiers": [{"tier": t.name, "azs": t.azs, "regions": t.regions, "providers": t.providers,
                   "redundancy": t.redundancy, "availability": t.availability, "downtime": downtime(t.availability),
                   "spof": t.spof or None} for t in tiers],
        "request_path_availability": overall, "request_path_downtime": downtime(overall),
        "declared_exception": declared,
        "drill": {"scenarios": len(played),
                  "not_survived_or_late": [" + ".join(s.failed) for s in failures({env: played})]},
    } for env, tiers, overall, declared, played in _analysed(output, only, figures_path)}


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
        for key, heading in SECURITY_HEADINGS.items():
            grants = item.get("security", {}).get(key, [])
            lines += [f"Who can {heading}:", ""]
            lines += [f"- {g['who']} ({g['how']}): {g['reach']}" for g in grants] or ["- no one the output declares"]
            lines.append("")
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
