"""Failure drills: every failure an environment claims to survive, played against ``cdktf.out``.

    python -m tooling.analysis.drill [--outdir cdktf.out] [--env prod] [--reports reports]

The drill builds a model of the request path and the deployment path from the
synthesized stacks only (never the environment files: it judges what would be
deployed), fails one part or a pair of parts at a time, and asks:

- Is the service still answered, by each DNS provider, and by which load balancer?
  Route53's failover tree (health checks, calculated checks, evaluate-target-health)
  and Cloudflare's pools (monitors, pool order, fallback pool) are evaluated
  separately and must reach the same answer.
- Can deployments continue, by which engine from which Git host, and if a knob has
  to change first, can that change be applied without the failed part (the gitops
  stack's state bucket, the region's runner, the cluster's API)?
- How long until the failure is detected and traffic has moved (health-check
  interval x threshold, monitor interval x consecutive failures + retries x timeout,
  TTLs, target-group checks, the engines' poll intervals), against the targets of
  ``policies/drill_targets.yaml``.

A load balancer serves when it, its region and one of its AZs are up, and its
target groups are bound to the in-cluster gateway, which runs in a surviving AZ on
the capacity type its pods select, in a cluster some GitOps engine reconciles
(otherwise the workloads were never deployed there). A spot capacity failure is a
reclaim wave (the spot nodes are gone); an on-demand one is a shortage (running
nodes stay, none can be added). The exit status is 1 when a
scenario the environment claims to survive is not survived or misses a target; a
declared single-region exception is shown as declared.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

import yaml

PROJECT = Path(__file__).resolve().parents[2]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

from modules.stacks import names  # noqa: E402
from policies.model.output import Output, as_list  # noqa: E402
from policies.model.platform import INF, Environment, LoadBalancer, Region, build  # noqa: E402
from tooling.analysis.drill_data import (DataScenario, folded_rows, data_failures, data_markdown, data_scenarios,  # noqa: E402
                                         data_text, fmt_seconds)

TARGETS = PROJECT / "policies" / "drill_targets.yaml"




# -- one scenario ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Part:
    kind: str  # the failure class
    region: str = ""
    what: str = ""  # zone, LB key, capacity type, engine, DNS provider or Git host

    def __str__(self) -> str:
        return ":".join(p for p in (self.kind, self.region, self.what) if p)


def parts(env: Environment) -> list[Part]:
    """Every single part that can fail."""
    found = []
    for region in env.regions.values():
        zones = sorted({z for lb in region.lbs.values() for z in lb.zones}
                       | {z for zs in (region.cluster.zones_by_capacity.values() if region.cluster else []) for z in zs})
        found += [Part("az", region.name, z) for z in zones]
        found += [Part("lb", region.name, k) for k in region.lbs]
        if region.cluster:
            found.append(Part("control-plane", region.name))
            found += [Part("capacity", region.name, c) for c in sorted(region.cluster.zones_by_capacity)]
            found += [Part("engine", region.name, e) for e in sorted(region.cluster.installed)]
        found.append(Part("region", region.name))
    found += [Part("dns", what="route53")] + ([Part("dns", what="cloudflare")] if env.cloudflare else [])
    hosts = sorted({h for r in env.regions.values() if r.cluster for hs in r.cluster.hosts.values() for h in hs if h})
    found += [Part("git", what=h) for h in hosts]
    state = sorted({r.cluster.gitops_state_region for r in env.regions.values()
                    if r.cluster and r.cluster.gitops_state_region})
    found += [Part("state", s) for s in state]
    found += [Part("kms", k) for k in sorted(env.kms_regions) if k]
    return found


class Failure:
    """What is down in one scenario."""

    def __init__(self, failed: Sequence[Part]):
        self.failed = set(failed)

    def has(self, kind: str, region: str = "", what: str = "") -> bool:
        return Part(kind, region, what) in self.failed

    def region_down(self, region: str) -> bool:
        return self.has("region", region)


# Failures of the load balancer itself, which only a health check that calls it notices.
LB_ITSELF = ("it is down", "its region is down", "every AZ it spans is down")


def lb_serves(env: Environment, lb: LoadBalancer, down: Failure) -> Optional[str]:
    """None when the load balancer answers with a workload behind it; else why not."""
    region = env.regions[lb.region]
    if down.region_down(lb.region):
        return "its region is down"
    if down.has("lb", lb.region, lb.key):
        return "it is down"
    if not [z for z in lb.zones if not down.has("az", lb.region, z)]:
        return "every AZ it spans is down"
    cluster = region.cluster
    if cluster is None:
        return "no cluster behind it"
    if not set(lb.target_groups) & cluster.bound:
        return "nothing registers targets in its target groups"
    if not any(cluster.reconciling.values()):
        return "no GitOps engine ever deployed the workloads in this region"
    capacities = [cluster.gateway_capacity] if cluster.gateway_capacity else list(cluster.zones_by_capacity)
    # a spot capacity failure is a reclaim wave: the spot nodes are gone; an on-demand one is a
    # shortage: running nodes stay, none can be added
    alive = [z for c in capacities if not (c == "SPOT" and down.has("capacity", lb.region, c))
             for z in cluster.zones_by_capacity.get(c, ()) if not down.has("az", lb.region, z)]
    if not alive:
        return f"no {'/'.join(capacities)} nodes left for the gateway"
    lost = [z for c in capacities for z in cluster.zones_by_capacity.get(c, ()) if down.has("az", lb.region, z)]
    gateway = cluster.gateway
    if lost and gateway is not None and not gateway.survives_an_az():
        # the scheduler keeps replicas apart only under a blocking zone spread: otherwise every gateway pod
        # may be in the lost AZ, and the targets stay empty until pods are rescheduled and registered
        return (f"the gateway ({gateway.replicas} replica{'s' if gateway.replicas != 1 else ''}"
                f"{', zone spread not enforced' if not gateway.zone_spread else ''}) may have every pod in the lost AZ")
    return None


@dataclass
class Answer:
    provider: str
    lb: Optional[str]  # label of the load balancer named, None when the provider does not answer
    serving: bool
    detect: float = 0.0  # seconds until the provider's answer changed (0: it did not)
    ttl: float = 0.0
    why: str = ""


def route53_answer(env: Environment, name: str, down: Failure, targets: dict) -> Answer:
    def check_ok(expression) -> tuple[bool, float]:
        ref = re.search(r"aws_route53_health_check\.([^.]+)\.id", str(expression or ""))
        if not ref:
            return True, 0.0
        conf = env.health_checks.get(ref.group(1), {})
        if conf.get("type") == "CALCULATED":
            children = [check_ok(c) for c in as_list(conf.get("child_healthchecks"))]
            healthy = sum(ok for ok, _ in children) >= int(conf.get("child_health_threshold", 1))
            return healthy, max((t for ok, t in children if not ok), default=0.0)
        if conf.get("type") == "CLOUDWATCH_METRIC":
            return alarm_ok(conf)
        lb = env.lb(names.dns_route53(env.name), conf.get("fqdn"))
        ok = lb is not None and lb_serves(env, lb, down) is None
        return ok, float(conf.get("request_interval", 30)) * int(conf.get("failure_threshold", 3))

    def alarm_ok(conf: dict) -> tuple[bool, float]:
        """A check on a canary's alarm: healthy while every name the canary requests is served through
        the failover name it connects to. It turns unhealthy after the alarm's datapoints plus one run
        (the first run after the failure may start up to a period later)."""
        alarm = env.alarms.get(conf.get("cloudwatch_alarm_name"))
        if alarm is None:  # Route53 reads an alarm that is not synthesized: never healthy once it looks
            return False, 0.0
        canary = env.canaries.get((alarm.conf.get("dimensions") or {}).get("CanaryName"))
        if canary is None:
            return True, 0.0
        delay = alarm.delay + canary.every
        if canary.region and down.region_down(canary.region):
            return False, delay  # no run reports: the alarm's missing data breaches
        for target in canary.targets:
            lb, _, _ = resolve(str(target.get("connect", "")))
            if lb is None or lb_serves(env, lb, down) is not None:
                return False, delay
        return True, 0.0

    def resolve(fqdn: str, depth: int = 0) -> tuple[Optional[LoadBalancer], float, bool]:
        """The load balancer Route53 answers for ``fqdn``, when it changed, and whether any record was healthy."""
        records = env.route53.get(fqdn)
        if not records or depth > 8:
            return None, 0.0, False
        ordered = sorted(records, key=lambda rc: (as_list(rc[1].get("failover_routing_policy")) or [{}])[0]
                         .get("type") != "PRIMARY")
        waited = 0.0
        for _, conf in ordered:
            healthy, detect = check_ok(conf.get("health_check_id"))
            alias = (as_list(conf.get("alias")) or [{}])[0]
            lb, inner, inner_ok = _alias_target(env, alias, depth, resolve)
            if env.lb(names.dns_route53(env.name), alias.get("name")) is None:
                # an alias to a name of the zone with evaluate-target-health: unhealthy when no record of
                # that name is; with a health check too, it must pass both, so it fails at the first
                # https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-values-failover-alias.html
                causes = ([] if healthy else [detect]) + (
                    [inner] if alias.get("evaluate_target_health") and not inner_ok else [])
                healthy, detect = not causes, min(causes, default=0.0)
            else:
                # evaluate-target-health sees an ELB's own view (healthy targets behind it), not a load
                # balancer that stops answering: only an HTTPS health check sees that
                # https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-complex-configs.html
                why = lb_serves(env, lb, down) if lb is not None else "no target"
                if healthy and alias.get("evaluate_target_health") and why and why not in LB_ITSELF:
                    healthy, detect = False, max(detect, inner, lb.detect if lb else 0.0)
            if healthy:
                return lb, max(waited, inner), True
            waited = max(waited, detect)
        # every record unhealthy: Route53 answers with the primary
        # https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-types.html
        alias = (as_list(ordered[0][1].get("alias")) or [{}])[0]
        lb, _, _ = _alias_target(env, alias, depth, resolve)
        return lb, waited, False

    if down.has("dns", what="route53"):
        return Answer("route53", None, False, why="Route53 is down")
    lb, detect, _ = resolve(name)
    why = lb_serves(env, lb, down) if lb else "no record answers"
    return Answer("route53", lb.label if lb else None, why is None, detect,
                  targets["elb_alias_ttl_seconds"], why or "")


def _alias_target(env: Environment, alias: dict, depth: int, resolve):
    lb = env.lb(names.dns_route53(env.name), alias.get("name"))
    if lb is not None:
        return lb, 0.0, True
    return resolve(str(alias.get("name", "")).rstrip("."), depth + 1)


def cloudflare_answer(env: Environment, name: str, down: Failure) -> Answer:
    if not env.cloudflare:
        return Answer("cloudflare", None, False, why="no Cloudflare stack")
    if down.has("dns", what="cloudflare"):
        return Answer("cloudflare", None, False, why="Cloudflare is down")
    config = env.cloudflare.get(name)
    if config is None:
        return Answer("cloudflare", None, False, why=f"no Cloudflare load balancer for {name}")
    waited = 0.0
    for entry in config["pools"]:
        if entry is None:
            continue
        address, detect = entry
        lb = env.lb_by_address.get(address)
        if lb is not None and lb_serves(env, lb, down) is None:
            return Answer("cloudflare", lb.label, True, waited, config["ttl"])
        waited = max(waited, detect)
    fallback = env.lb_by_address.get((config["fallback"] or (None, 0))[0])
    why = lb_serves(env, fallback, down) if fallback else "no fallback pool"
    return Answer("cloudflare", fallback.label if fallback else None, why is None, waited, config["ttl"],
                  why or "")


@dataclass
class Deploy:
    region: str
    how: str  # "argocd from github", or the knob change needed first
    ok: bool
    knob: str = ""


def deployments(env: Environment, region: Region, down: Failure) -> Deploy:
    cluster = region.cluster
    if cluster is None:
        return Deploy(region.name, "no cluster", False)
    if down.region_down(region.name):
        return Deploy(region.name, "region down", False)
    if down.has("control-plane", region.name):
        return Deploy(region.name, "the cluster's API is down: nothing can be applied or reconciled", False)
    for engine, on in sorted(cluster.reconciling.items()):
        host = cluster.active_host.get(engine)
        if on and not down.has("engine", region.name, engine) and host and not down.has("git", what=host):
            return Deploy(region.name, f"{engine} from {host}", True)
    if cluster.handover is not None:
        # the handover loop gives the cluster to the other engine by itself, on the Git host already in use
        for engine in sorted(cluster.installed):
            host = next((h for h in cluster.active_host.values() if h), None)
            if not down.has("engine", region.name, engine) and host and not down.has("git", what=host):
                return Deploy(region.name, f"{engine} from {host} (handover after "
                                           f"{fmt_seconds(cluster.handover)})", True)
    state = cluster.gitops_state_region
    if state and (down.has("state", state) or down.region_down(state)):
        return Deploy(region.name, f"blocked: the gitops stack's state is in {state}", False)
    for engine in sorted(cluster.installed):
        if down.has("engine", region.name, engine):
            continue
        for host in sorted(h for h in cluster.hosts.get(engine, ()) if h):
            if not down.has("git", what=host):
                knob = []
                if not cluster.reconciling.get(engine):
                    knob.append(f"gitops.active_by_region {{{region.name}: {engine}}}")
                if cluster.active_host.get(engine) != host:
                    knob.append(f"gitops.git_host: {host}")
                return Deploy(region.name, f"{engine} from {host} after {' and '.join(knob)} "
                                           f"(apply {region.stack}-gitops from {region.name}'s runner)", True,
                              " and ".join(knob))
    return Deploy(region.name, "blocked: no installed engine with a reachable Git host", False)


# -- scenarios ------------------------------------------------------------------------------------

@dataclass
class Scenario:
    env: str
    failed: list[str]
    classes: list[str]
    answers: dict  # platform name -> [Answer]
    deploy: list
    detect: float
    downtime: float
    bounds: dict
    verdict: str  # survived | NOT SURVIVED | MISSED TARGET | declared
    problems: list[str]
    rto: Optional[float] = None  # a DNS provider's failure: the resolvers' retry on the other provider
    alert: Optional[float] = None  # seconds until an alarm that notifies says so (None: no alarm does)
    shift: str = ""  # an AZ's failure: which of its load balancers and clusters AWS may shift away from it

    def row(self) -> dict:
        first = next(iter(self.answers.values()), [])
        return {"scenario": " + ".join(self.failed),
                "route53": _answer_text(first, "route53"), "cloudflare": _answer_text(first, "cloudflare"),
                "deployments": "; ".join(f"{d.region}: {d.how}" for d in self.deploy),
                "detect": fmt_seconds(self.detect),
                "alert": "-" if self.alert is None else fmt_seconds(self.alert),
                "downtime": fmt_seconds(self.downtime) + (f" (DNS retry {fmt_seconds(self.rto)})" if self.rto is not None else ""),
                "target": ", ".join(f"{k} {v if isinstance(v, str) else fmt_seconds(v)}" for k, v in self.bounds.items()),
                "shift": self.shift or "-",
                "verdict": self.verdict}


def _deploy_short(deploy: "Deploy") -> str:
    if not deploy.ok:
        return "-"
    engine, host = deploy.how.split(" from ")[0], deploy.how.split(" from ")[1].split(" ")[0]
    return f"{engine}/{host}{'*' if deploy.knob else ''}"


def _answer_text(answers: list, provider: str) -> str:
    answer = next((a for a in answers if a.provider == provider), None)
    if answer is None or answer.lb is None:
        return "-" if answer is None else f"no answer ({answer.why})"
    return answer.lb + ("" if answer.serving else f" (not serving: {answer.why})")


def _bounds(classes: list[str], targets: dict) -> dict:
    bounds: dict = {}
    for cls in classes:
        for key, value in (targets["classes"].get(cls) or {}).items():
            if isinstance(value, str):  # e.g. deployments: delayed, held only if every class allows it
                bounds[key] = value if all((targets["classes"].get(c) or {}).get(key) == value
                                           for c in classes) else None
            else:
                bounds[key] = max(bounds.get(key, value), value)
    bounds = {k: v for k, v in bounds.items() if v is not None}
    return bounds


def play(env: Environment, failed: Sequence[Part], targets: dict, baseline: dict) -> Scenario:
    down = Failure(failed)
    classes = sorted({p.kind for p in failed})
    bounds = _bounds(classes, targets)
    problems: list[str] = []
    answers = {name: [route53_answer(env, name, down, targets), cloudflare_answer(env, name, down)]
               for name in env.names}
    detect = downtime = 0.0
    slowest = ""  # what the worst detection time is of (a DNS provider's health checks), when known
    rto = None
    for name, pair in answers.items():
        up = [a for a in pair if a.why not in ("Route53 is down", "Cloudflare is down", "no Cloudflare stack")]
        # resolvers ask either provider: each one that answers must name a serving endpoint
        dead = [a for a in up if not a.serving]
        if dead or not up:
            problems.append(f"{name} is not served " + ("(no provider answers)" if not up else "by " + "; ".join(
                f"{a.provider}: {a.lb or '-'} ({a.why})" for a in dead)))
            downtime = INF
            continue
        if len(up) == 2 and up[0].lb != up[1].lb:
            problems.append(f"{name}: Route53 answers {up[0].lb}, Cloudflare {up[1].lb}")
        for answer in up:
            if answer.lb != baseline[name].get(answer.provider):
                if answer.detect > detect:
                    detect, slowest = answer.detect, answer.provider
                downtime = max(downtime, answer.detect + answer.ttl)
    answered = detect  # the DNS answers' worst detection (the parts below may raise ``detect``)
    kinds = {p.kind for p in failed}
    for part in failed:
        if part.kind == "az":
            detect = max(detect, max((lb.detect for lb in env.regions[part.region].lbs.values()
                                      if part.what in lb.zones), default=0.0))
        elif part.kind in ("lb", "region"):
            lbs = [lb for r in env.regions.values() for lb in r.lbs.values()
                   if (part.kind != "lb" or (lb.region, lb.key) == (part.region, part.what)) and lb.region == part.region]
            if not down.has("dns", what="route53"):
                detect = max([detect] + [_route53_detect(env, lb) for lb in lbs])
        elif part.kind == "dns":
            # resolvers ask the other provider's servers once this one does not answer
            rto = targets["resolver_retry_seconds"] if env.both_authoritative else INF
            if not env.both_authoritative:
                problems.append(f"{part.what} down: the delegation does not name the other provider's servers")
            if "rto" in bounds and rto > bounds["rto"]:
                problems.append(f"DNS RTO {fmt_seconds(rto)} exceeds the target {fmt_seconds(bounds['rto'])}")
        elif part.kind in ("git", "engine"):
            polls = [r.cluster.poll.get(e, INF) for r in env.regions.values() if r.cluster
                     for e, on in r.cluster.reconciling.items() if on
                     and (part.kind == "git" and r.cluster.active_host.get(e) == part.what
                          or part.kind == "engine" and (r.name, e) == (part.region, part.what))]
            # an engine that stops is noticed by the handover loop (its controllers' readiness), not by a poll
            handed = [r.cluster.handover for r in env.regions.values() if r.cluster and part.kind == "engine"
                      and r.name == part.region and r.cluster.handover is not None
                      and r.cluster.reconciling.get(part.what)]
            detect = max([detect] + (handed or polls))
    shift = ""
    for part in failed:
        if part.kind == "az" and part.region in env.regions:
            # a hard AZ failure is seen by the target-group checks (above); zonal autoshift is what moves traffic
            # off an AZ that is impaired but still passes them (AWS's own detection), and it is practised weekly
            shifted, missing = autoshift_coverage(env, env.regions[part.region], part.what)
            shift = f"autoshift {len(shifted)}/{len(shifted) + len(missing)}"
            if missing:
                problems.append(f"{', '.join(missing)}: no zonal autoshift, so an impaired {part.what} that still "
                                "passes health checks keeps its share of traffic")
    # deployments continue while some region can be deployed to (the others are reported as delayed)
    deploy = [deployments(env, r, down) for r in env.regions.values()]
    if not any(d.ok for d in deploy) and bounds.get("deployments") != "delayed":
        problems.append("deployments cannot continue: " + "; ".join(f"{d.region}: {d.how}" for d in deploy))
    for key in ("detect", "downtime"):
        value = detect if key == "detect" else downtime
        if isinstance(bounds.get(key), (int, float)) and value > bounds[key]:
            by = f" ({slowest}'s health checks)" if key == "detect" and slowest and value == answered else ""
            problems.append(f"{key} {fmt_seconds(value)}{by} exceeds the target {fmt_seconds(bounds[key])}")
    declared = env.declared and kinds & {"region"} and len(env.regions) == 1
    verdict = "declared" if declared and problems else ("survived" if not problems else (
        "NOT SURVIVED" if any("not served" in p or "cannot continue" in p for p in problems) else "MISSED TARGET"))
    return Scenario(env.name, [str(p) for p in failed], classes, answers, deploy, detect, downtime, bounds, verdict,
                    problems, rto, alert_after(env, failed), shift)


def autoshift_coverage(env: Environment, region: Region, zone: str) -> tuple[list[str], list[str]]:
    """The load balancers spanning ``zone`` and the region's cluster: those with zonal shift and an autoshift
    configuration, and those without."""
    from policies.model.failover import autoshift_configurations, zonal_shift_enabled

    output = env.output
    if output is None:
        return [], []
    configured = autoshift_configurations(output, region.stack)
    shifted, missing = [], []
    subjects = [(f"{lb.key}", lb.address.split("@")[0]) for lb in region.lbs.values() if zone in lb.zones]
    subjects += [("cluster", f"aws_eks_cluster.{name}") for name in output.resources(region.stack, "aws_eks_cluster")]
    for label, address in subjects:
        rtype, name = address.split(".", 1)
        conf = output.resources(region.stack, rtype).get(name, {})
        ok = zonal_shift_enabled(conf, rtype) and (configured.get(address) or {}).get("ZonalAutoshiftStatus") == "ENABLED"
        (shifted if ok else missing).append(label)
    return shifted, missing


def alert_after(env: Environment, failed: Sequence[Part]) -> Optional[float]:
    """Seconds from the failure until the first alarm that notifies is in ALARM, from the synthesized
    alarms: their periods and datapoints, plus the target-group checks that make hosts unhealthy.
    None when no alarm sees it (or every alarm that would lives in a region that is down)."""
    times = []
    for part in failed:
        region = env.regions.get(part.region)
        if part.kind == "region" and region is not None:
            # its own alarms are lost with it: a canary elsewhere that requests its failover names says so
            times += [alarm.delay + canary.every for canary in env.canaries.values()
                      if canary.region != part.region and not down_region(failed, canary.region)
                      and any(str(t.get("connect", "")).startswith(f"{part.region}.failover.") for t in canary.targets)
                      for alarm in env.alarms.values()
                      if (alarm.conf.get("dimensions") or {}).get("CanaryName") == canary.name
                      and alarm.notifies]
            continue
        if region is None or down_region(failed, part.region):
            continue  # a lost region's own alarms are lost with it
        prefix = f"{region.stack}-"
        if part.kind == "az":
            composite = env.alarms.get(f"{prefix}az-{part.what}")
            spanning = [lb.detect for lb in region.lbs.values() if part.what in lb.zones]
            members = [env.alarms[m].delay for m in (composite.members if composite else []) if m in env.alarms]
            if members and spanning:
                times.append(min(spanning) + min(members))
        elif part.kind == "lb":
            # a load balancer that stops answering publishes no datapoints: its no-healthy alarms breach
            members = [a.delay for name, a in env.alarms.items()
                       if name.startswith(f"{prefix}{part.what}-no-healthy-") and a.notifies]
            if members:
                times.append(min(members))
    return min(times) if times else None


def down_region(failed: Sequence[Part], region: Optional[str]) -> bool:
    return any(p.kind == "region" and p.region == region for p in failed)


def _route53_detect(env: Environment, lb: LoadBalancer) -> float:
    for conf in env.health_checks.values():
        if conf.get("type") != "CALCULATED" and env.lb(names.dns_route53(env.name), conf.get("fqdn")) is lb:
            return float(conf.get("request_interval", 30)) * int(conf.get("failure_threshold", 3))
    return 0.0


def scenarios(env: Environment, targets: dict) -> list[Scenario]:
    """Every single failure, and every pair of the classes the environment claims to survive."""
    baseline = {name: {a.provider: a.lb for a in (route53_answer(env, name, Failure([]), targets),
                                                   cloudflare_answer(env, name, Failure([])))}
                for name in env.names}
    singles = parts(env)
    played = [play(env, [p], targets, baseline) for p in singles]
    claimed = {tuple(sorted(pair)) for pair in targets.get("claimed_pairs", [])}
    for a, b in itertools.combinations(singles, 2):
        if tuple(sorted((a.kind, b.kind))) not in claimed:
            continue
        if a.kind == "region" and b.region == a.region or b.kind == "region" and a.region == b.region:
            continue  # a region and one of its own parts: the region alone
        if env.declared and len(env.regions) == 1 and "region" in (a.kind, b.kind):
            continue
        played.append(play(env, [a, b], targets, baseline))
    return played


# -- output ----------------------------------------------------------------------------------------

COLUMNS = ("scenario", "route53", "cloudflare", "deployments", "detect", "alert", "downtime", "target", "shift",
           "verdict")


def markdown(results: dict[str, list[Scenario]]) -> str:
    lines = ["# Failure drill", ""]
    for env, played in results.items():
        failed = [s for s in played if s.verdict in ("NOT SURVIVED", "MISSED TARGET")]
        lines += [f"## {env}: {len(played)} scenarios, {len(failed)} not survived or late", "",
                  "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for scenario in played:
            row = scenario.row()
            lines.append("| " + " | ".join(str(row[c]).replace("|", "/") for c in COLUMNS) + " |")
        for scenario in failed:
            lines.append(f"- **{' + '.join(scenario.failed)}**: " + "; ".join(scenario.problems))
        lines.append("")
    return "\n".join(lines)


# the widest a text column grows before its cells fold onto more lines (at spaces, never mid-word)
TEXT_COLUMNS = (("scenario", 44, "<"), ("answered by (route53 / cloudflare)", 50, "<"), ("deploys", 34, "<"),
                ("detect", 8, ">"), ("alert", 8, ">"), ("down", 18, ">"), ("verdict", 14, "<"))


def text(results: dict[str, list[Scenario]], *, singles_only: bool = False) -> str:
    lines = []
    for env, played in results.items():
        shown = [s for s in played if len(s.failed) == 1 or not singles_only]
        bad = [s for s in played if s.verdict in ("NOT SURVIVED", "MISSED TARGET")]
        declared = [s for s in played if s.verdict == "declared"]
        lines.append(f"{env}: {len(played)} scenarios ({sum(len(s.failed) == 1 for s in played)} single, "
                     f"{sum(len(s.failed) == 2 for s in played)} pairs), {len(bad)} not survived or late"
                     + (f", {len(declared)} declared" if declared else ""))
        regions = " | ".join(d.region for d in (played[0].deploy if played else []))
        rows = [["scenario", "answered by (route53 / cloudflare)", f"deploys ({regions})", "detect", "alert", "down",
                 "verdict"]]
        for scenario in shown:
            row = scenario.row()
            rows.append([str(row["scenario"]), f"{row['route53']} / {row['cloudflare']}",
                         " | ".join(_deploy_short(d) for d in scenario.deploy), str(row["detect"]),
                         str(row["alert"]), str(row["downtime"]), str(row["verdict"])])
        lines += folded_rows(rows, TEXT_COLUMNS)
        lines.append("  (deploys: engine/Git host per region; * after a knob change, - blocked)")
        for scenario in bad + declared:
            lines.append(f"  {' + '.join(scenario.failed)}: " + "; ".join(scenario.problems))
    return "\n".join(lines)


def load_targets(path: Path = TARGETS) -> dict:
    return yaml.safe_load(path.read_text())


def drill(output: Output, envs: Optional[Sequence[str]] = None, targets: Optional[dict] = None
          ) -> dict[str, list[Scenario]]:
    """``{environment: [played scenario]}`` for the environments of ``output`` (all, or ``envs``)."""
    targets = targets if targets is not None else load_targets()
    return {env: scenarios(build(output, env), targets)
            for env in output.environments if not envs or env in envs}


def run(outdir: Path, envs: Optional[Sequence[str]] = None, targets_path: Path = TARGETS) -> dict[str, list[Scenario]]:
    return drill(Output.load(outdir), envs, load_targets(targets_path))


def run_all(outdir: Path, envs: Optional[Sequence[str]] = None, targets_path: Path = TARGETS
            ) -> tuple[dict[str, list[Scenario]], dict[str, list[DataScenario]]]:
    """The request-path scenarios and the data tier's, from one reading of the output and the targets."""
    output, targets = Output.load(outdir), load_targets(targets_path)
    results = drill(output, envs, targets)
    return results, {env: data_scenarios(output, env, targets) for env in results}


def failures(results: dict[str, list[Scenario]]) -> list[Scenario]:
    return [s for played in results.values() for s in played if s.verdict in ("NOT SURVIVED", "MISSED TARGET")]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.analysis.drill", description=__doc__.split("\n")[0])
    parser.add_argument("--outdir", default="cdktf.out")
    parser.add_argument("--env", action="append", help="an environment (repeatable); default: every one")
    parser.add_argument("--reports", default="reports", help="where drill.md and drill.json are written")
    parser.add_argument("--all", action="store_true", help="print the pairs too, not only the single failures")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                        help="what is printed; reports/ gets drill.md and drill.json either way")
    args = parser.parse_args(argv)
    outdir = Path(args.outdir)
    if not (outdir / "stacks").is_dir():
        print(f"error: {outdir / 'stacks'} does not exist; run `make synth` first", file=sys.stderr)
        return 2
    results, data = run_all(outdir, args.env)
    as_json = json.dumps(
        {env: [dict(s.row(), problems=s.problems, classes=s.classes,
                    answers={n: [asdict(a) for a in pair] for n, pair in s.answers.items()},
                    deployments=[asdict(d) for d in s.deploy]) for s in played]
         for env, played in results.items()}, indent=2, sort_keys=True, default=str) + "\n"
    printed = {"text": lambda: text(results, singles_only=not args.all) + "\n" + data_text(data),
               "markdown": lambda: markdown(results) + "\n" + data_markdown(data),
               "json": lambda: as_json.rstrip("\n")}[args.format]()
    print(printed)
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "drill.md").write_text(markdown(results) + "\n" + data_markdown(data) + "\n")
    (reports / "drill.json").write_text(as_json)
    (reports / "drill-data.json").write_text(json.dumps(
        {env: [dict(s.row(), problems=s.problems) for s in played] for env, played in data.items()},
        indent=2, sort_keys=True) + "\n")
    bad = failures(results) + data_failures(data)
    print(f"drill: {sum(map(len, results.values()))} scenarios and {sum(map(len, data.values()))} data scenarios "
          f"in {len(results)} environment(s), {len(bad)} not survived or late; reports: {reports / 'drill.md'}, {reports / 'drill.json'}",
          file=sys.stdout if args.format == "text" else sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
