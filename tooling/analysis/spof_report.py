"""The SPOF report: tiers against AZs, regions and providers, from the synthesized output.

    python -m tooling.analysis.spof_report [--outdir cdktf.out] [--env prod]

Everything is counted from ``cdktf.out`` (what will be deployed), not from the
environment files. Availability is not a product of SLAs (which reaches 100 %
for anything redundant): it is the downtime the failure drill plays through for
each single failure (detection and failover included; the failure's whole
length when nothing takes over) times how often that failure happens
(``policies/failure_rates.yaml``, each rate with what it rests on), summed
over a year.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import yaml

from modules.tags import SINGLE_REGION
from policies.model.access import Access, access
from policies.model.output import Output
from policies.model.platform import baseline_of, build, data_members, security_of

PROJECT = Path(__file__).resolve().parents[2]
RATES = PROJECT / "policies" / "failure_rates.yaml"
YEAR_SECONDS = 365.25 * 86400
SINGLE_REGION_TAG = SINGLE_REGION



@dataclass(frozen=True)
class Tier:
    name: str
    azs: str
    regions: int
    providers: int
    redundancy: str
    spof: str  # "" when none

    def row(self) -> str:
        regions = "global" if self.name == "DNS" else str(self.regions)
        return (f"  {self.name:<15} {self.azs:<8} {regions:<8} {self.providers:<10} {self.redundancy:<46} "
                f"{self.spof or 'none'}")


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


@dataclass(frozen=True)
class Expected:
    """One single failure the drill played: how often it happens, and the downtime each time."""

    failure: str
    per_year: float
    seconds: float
    taken_over: bool  # False: nothing takes over, the downtime is the failure's whole length

    @property
    def per_year_seconds(self) -> float:
        return self.per_year * self.seconds


def load_rates(path: Path = RATES) -> dict:
    return yaml.safe_load(path.read_text())["kinds"]


def expected_downtime(played, rates: dict) -> list[Expected]:
    """Each single failure of the drill with its rate and downtime (the drill's failover time, or the
    failure's length from the rates when it was not survived)."""
    found = []
    for scenario in played:
        if len(scenario.failed) != 1:
            continue  # pairs are second order: the product of two rates
        kind = scenario.failed[0].split(":", 1)[0]
        if kind not in rates:
            raise KeyError(f"{RATES.name}: no rate for the drill's {kind!r} failures; add one with its source")
        rate = rates[kind]
        taken_over = math.isfinite(scenario.downtime) and scenario.verdict in ("survived", "MISSED TARGET")
        seconds = scenario.downtime if taken_over else float(rate["lasts_s"])
        found.append(Expected(scenario.failed[0], float(rate["per_year"]), seconds, taken_over))
    return found


def availability(expected: Sequence[Expected]) -> float:
    return 1 - sum(e.per_year_seconds for e in expected) / YEAR_SECONDS


def _account_tiers(baseline: dict, regions: list[str], declared: Optional[str]) -> list[Tier]:
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
                  audit_spof)]
    detecting = sorted(r for r in regions if r in baseline and baseline[r].guardduty and baseline[r].standards)
    missing = sorted(set(regions) - set(detecting))
    tiers.append(Tier("detection", "-", len(detecting), 1, "GuardDuty + Security Hub + Config per region",
                      f"SPOF: no detection in {', '.join(missing)}" if missing else ""))
    return tiers


def analyse(output: Output, env: str) -> tuple[list[Tier], Optional[str]]:
    """Tiers and the declared single-region reason of one environment, from the read model
    (:mod:`policies.model.platform`)."""
    platform = build(output, env)
    regions = sorted(platform.regions)
    declared = platform.declared

    def single(count: int, what: str) -> str:
        if count >= 2:
            return ""
        return f"declared: {what}" if declared and what == "region" else f"SPOF: one {what}"
    tiers = []

    providers = (["route53"] if platform.route53 else []) + (["cloudflare"] if platform.cloudflare else [])
    tiers.append(Tier("DNS", "-", 0, len(providers), " + ".join(providers) or "none", single(len(providers), "provider")))

    lb_notes, dp_notes, min_lb_azs, min_dp_azs = [], [], 99, 99
    for name in regions:
        region = platform.regions[name]
        lbs = list(region.lbs.values())
        min_lb_azs = min([min_lb_azs] + [len(lb.zones) for lb in lbs])
        lb_notes.append(f"{len(lbs)} LBs")
        groups = region.cluster.node_groups if region.cluster else ()
        min_dp_azs = min([min_dp_azs] + [len(zones) for _, zones in groups])
        dp_notes.append("+".join(sorted(capacity for capacity, _ in groups)))
    n = len(regions)
    region_spof = single(n, "region")
    tiers.append(Tier("load balancing", f">={min_lb_azs if n else 0}", n, 1, f"{'/'.join(sorted(set(lb_notes)))} per region",
                      region_spof or ("" if min_lb_azs >= 2 else "SPOF: one AZ")))
    tiers.append(Tier("control plane", "3 (EKS)", n, 1, f"{n} cluster(s)", region_spof))
    tiers.append(Tier("compute", f">={min_dp_azs if n else 0}", n, 1, f"{'/'.join(sorted(set(dp_notes)))} groups per region",
                      region_spof or ("" if min_dp_azs >= 2 else "SPOF: one AZ")))

    engines = [(name, engine) for name in regions if platform.regions[name].cluster
               for engine in sorted(platform.regions[name].cluster.installed)]
    tiers.append(Tier("GitOps", "-", len({r for r, _ in engines}), len({e for _, e in engines}),
                      f"{len(engines)} installs (ArgoCD + Flux each region)",
                      single(len({r for r, _ in engines}), "region")))
    security = security_of(output, env)
    key_regions = 2 if security.replica_keys else (1 if security.keys else 0)
    tiers.append(Tier("keys", "-", key_regions, 1, f"{security.keys} keys, {security.replica_keys} replicas",
                      single(key_regions, "region")))
    secret_regions = 1 + (1 if security.secrets and security.replicated_secrets == security.secrets else 0)
    tiers.append(Tier("secrets", "-", secret_regions, 1, f"{security.secrets} secrets, "
                      f"{security.replicated_secrets} replicated",
                      single(secret_regions, "region")))

    tiers += _data_tiers(data_members(output, env), platform, regions, single)
    tiers += _account_tiers(baseline_of(output, env), regions, declared)
    return tiers, declared


def _data_tiers(members: dict, platform, regions: list[str], single) -> list[Tier]:
    """The data tier: Aurora, the cache and the application buckets, by AZs and regions holding a copy."""
    data = {r: members[r] for r in regions if r in members}
    tiers = []
    linked = {r for r, m in data.items() if m.aurora_cluster and (m.aurora_global or len(regions) == 1)}
    zones = [len({i.zone for i in data[r].aurora}) for r in linked]
    instances = "/".join(str(len(data[r].aurora)) for r in sorted(linked))
    min_zones = min(zones, default=0)
    tiers.append(Tier("database", f">={min_zones}", len(linked), 1,
                      f"Aurora, {instances or 0} instances" + (", global database" if len(linked) > 1 else ""),
                      single(len(linked), "region") or ("" if min_zones >= 2 else "SPOF: one AZ")))
    joined = {r for r, m in data.items() if m.cache_nodes}
    nodes = [m.cache_nodes for m in data.values() if m.cache_nodes]
    cache_zones = min((m.cache_zones for m in data.values() if m.cache_nodes), default=0)
    tiers.append(Tier("cache", f">={cache_zones}", len(joined), 1,
                      f"{'/'.join(map(str, nodes)) or 0} nodes" + (", global datastore" if len(joined) > 1 else ""),
                      single(len(joined), "region") or ("" if cache_zones >= 2 else "SPOF: one AZ")))
    replicated = {r for r, m in data.items() if m.bucket_rules}
    copies = len(replicated) if len(replicated) > 1 else (1 if any(platform.regions[r].buckets for r in regions) else 0)
    tiers.append(Tier("objects", "3 (S3)", copies, 1,
                      "buckets replicated both ways" if copies > 1 else "one bucket", single(copies, "region")))
    return tiers


def _analysed(output: Output, only: Optional[str], rates_path: Path):
    """``(env, tiers, expected downtime, declared exception, drilled scenarios)`` per environment."""
    from tooling.analysis.drill import drill

    rates = load_rates(rates_path)
    drilled = drill(output, [only] if only else None)
    for env in output.environments:
        if only and env != only:
            continue
        tiers, declared = analyse(output, env)
        played = drilled.get(env, [])
        yield env, tiers, expected_downtime(played, rates), declared, played


def _expected_lines(expected: Sequence[Expected]) -> list[str]:
    total = sum(e.per_year_seconds for e in expected)
    lines = [f"  request path available {availability(expected) * 100:.4f}%: {duration(total)} of downtime expected a "
             f"year (each single failure's downtime in the drill x how often it happens, {RATES.name}; the data "
             "tier's recovery is the drill's data table)"]
    for e in sorted(expected, key=lambda e: -e.per_year_seconds):
        if e.seconds > 0:
            how = "failover" if e.taken_over else "nothing takes over"
            lines.append(f"    {e.failure:<32} {e.per_year:g}/yr x {duration(e.seconds)} ({how}) = "
                         f"{duration(e.per_year_seconds)}/yr")
    quiet = sum(1 for e in expected if e.seconds <= 0)
    if quiet:
        lines.append(f"    {quiet} other single failures: no downtime (the drill's traffic keeps flowing)")
    return lines


def report(outdir: Path, only: Optional[str] = None, rates_path: Path = RATES) -> tuple[str, int]:
    """The printed report and the number of undeclared single points of failure."""
    lines, undeclared = [], 0
    output = Output.load(outdir)
    for env, tiers, expected, declared, played in _analysed(output, only, rates_path):
        lines.append(f"{env}")
        lines.append(f"  {'tier':<15} {'AZs':<8} {'regions':<8} {'providers':<10} {'redundancy':<46} "
                     "single point of failure")
        lines += [tier.row() for tier in tiers]
        lines += _expected_lines(expected)
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


def report_data(outdir: Path, only: Optional[str] = None, rates_path: Path = RATES) -> dict:
    """The report as data: per environment, its tiers, expected downtime and availability, declared
    exception and drill verdict (``--format json`` prints this; markdown renders it)."""
    from tooling.analysis.drill import failures

    output = Output.load(outdir)
    return {env: {
        "security": access(output, env).as_dict(),
        "tiers": [{"tier": t.name, "azs": t.azs, "regions": t.regions, "providers": t.providers,
                   "redundancy": t.redundancy, "spof": t.spof or None} for t in tiers],
        "availability": availability(expected),
        "expected_downtime_seconds_a_year": round(sum(e.per_year_seconds for e in expected), 1),
        "expected_downtime": [{"failure": e.failure, "per_year": e.per_year, "seconds": e.seconds,
                               "taken_over": e.taken_over} for e in expected if e.seconds > 0],
        "declared_exception": declared,
        "drill": {"scenarios": len(played),
                  "not_survived_or_late": [" + ".join(s.failed) for s in failures({env: played})]},
    } for env, tiers, expected, declared, played in _analysed(output, only, rates_path)}


def markdown(data: dict) -> str:
    lines = ["# SPOF report", ""]
    for env, item in data.items():
        lines += [f"## {env}", "", "| tier | AZs | regions | providers | redundancy | SPOF |", "|---|---|---|---|---|---|"]
        lines += [f"| {t['tier']} | {t['azs']} | {'global' if t['tier'] == 'DNS' else t['regions']} | "
                  f"{t['providers']} | {t['redundancy']} | {t['spof'] or 'none'} |" for t in item["tiers"]]
        lines += ["", f"Availability {item['availability'] * 100:.4f}%: "
                      f"{duration(item['expected_downtime_seconds_a_year'])} of downtime expected a year "
                      f"(the drill's downtime of each single failure x its rate in `policies/{RATES.name}`):", ""]
        lines += [f"- {e['failure']}: {e['per_year']:g} a year x {duration(e['seconds'])}"
                  f"{'' if e['taken_over'] else ' (nothing takes over)'}" for e in item["expected_downtime"]]
        if item["declared_exception"]:
            lines += ["", f"Declared exception: {item['declared_exception']}."]
        drill = item["drill"]
        lines += ["", f"Failure drill: {drill['scenarios']} scenarios, {len(drill['not_survived_or_late'])} not survived "
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
