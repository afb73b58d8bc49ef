"""The typed picture of the platform every analysis reads: environments -> regions (primary first) ->
load balancers (AZs, target groups, detection time), clusters (node groups per AZ and capacity type,
what the ingress gateway runs on, how many replicas and whether its zone spread is enforced, the GitOps
engines and the Git hosts they pull from), the DNS failover trees, health checks and Cloudflare pools.

Built once per environment from :class:`policies.model.output.Output` with :func:`build`; the drill,
the SPOF report, the diagram and the PR review ask it instead of walking the raw JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Optional

from modules.stacks import names
from modules.tags import CAPACITY_TYPE_LABEL, SINGLE_REGION
from policies.model.output import Output, as_list
from policies.model.topology import (data_stacks, engines_reconciling, handover_config, installed_releases, installers, node_groups_of,
                                     region_of_alias, target_group_bindings, target_groups_of)


SINGLE_REGION_TAG = SINGLE_REGION


ENGINE_CHARTS = {"argocd": "argo-cd", "flux": "flux2"}


GIT_HOSTS = {"github.com": "github", "gitlab.com": "gitlab"}


# ArgoCD's documented defaults when the chart values set none (argocd-cm: timeout.reconciliation
# 180s; timeout.reconciliation.jitter 60s). https://argo-cd.readthedocs.io/en/stable/operator-manual/argocd-cm-yaml/
ARGOCD_DEFAULT_POLL = 180 + 60


INF = float("inf")


def seconds(value, default: float) -> float:
    """``"30s"``, ``"1m"``, ``"1m30s"`` or a number, in seconds."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    parts = re.findall(r"(\d+)(h|m|s)", str(value))
    return float(sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)) if parts else default


@dataclass
class LoadBalancer:
    region: str
    key: str
    address: str
    zones: frozenset
    target_groups: tuple
    detect: float  # target-group health check: interval x unhealthy threshold (worst of its groups)

    @property
    def label(self) -> str:
        return f"{self.region} {self.key}"


ZONE_KEY = "topology.kubernetes.io/zone"


@dataclass(frozen=True)
class Placement:
    """How one in-cluster piece is scheduled: what decides whether it outlives an AZ.

    ``zone_spread`` is a zone topology spread constraint that blocks scheduling (``DoNotSchedule``,
    maxSkew 1): only then does the scheduler keep the replicas in different AZs; with
    ``ScheduleAnyway`` (or none) every replica may land in one AZ.
    https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
    """

    release: str
    component: str  # "" for the release's main workload, else the values key (e.g. "webhook")
    replicas: int
    zone_spread: bool
    capacity: Optional[str]  # the capacity type its nodeSelector asks for; None: any

    @property
    def label(self) -> str:
        return f"{self.release}/{self.component}" if self.component else self.release

    def survives_an_az(self) -> bool:
        """At least one replica is guaranteed outside any single AZ."""
        return self.replicas >= 2 and self.zone_spread


WORKLOAD_KINDS = ("Deployment", "StatefulSet")


def _spread_by_zone(constraints) -> bool:
    return any(c.get("topologyKey") == ZONE_KEY and c.get("whenUnsatisfiable") == "DoNotSchedule"
               and int(c.get("maxSkew", 1)) <= 1 for c in constraints or [])


def placements(release: str, values: dict) -> list[Placement]:
    """The workloads a release's values size: a mapping with ``replicaCount`` or ``replicas`` (Traefik:
    ``deployment.replicas``), with the spread constraints and node selector beside it; and whole
    Deployments or StatefulSets a release carries as objects (e.g. ``extraObjects``)."""
    found = []

    def visit_object(component: str, node: dict) -> None:
        spec = node.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or {}
        name = (node.get("metadata") or {}).get("name", "")
        found.append(Placement(release, f"{component}.{node['kind']}/{name}", int(spec.get("replicas", 1)),
                               _spread_by_zone(pod.get("topologySpreadConstraints")),
                               (pod.get("nodeSelector") or {}).get(CAPACITY_TYPE_LABEL)))

    def visit(component: str, node: dict, inherited: Optional[str]) -> None:
        capacity = (node.get("nodeSelector") or {}).get(CAPACITY_TYPE_LABEL, inherited)
        replicas = node.get("replicaCount", node.get("replicas", (node.get("deployment") or {}).get("replicas")))
        if isinstance(replicas, int) and not isinstance(replicas, bool):
            spread = _spread_by_zone(node.get("topologySpreadConstraints"))
            found.append(Placement(release, component, replicas, spread, capacity))
        for key, child in sorted(node.items()):
            where = f"{component}.{key}" if component else key
            if isinstance(child, dict) and key not in ("deployment", "nodeSelector", "podDisruptionBudget"):
                visit(where, child, capacity)
            elif isinstance(child, list):
                for item in child:
                    if isinstance(item, dict) and item.get("kind") in WORKLOAD_KINDS:
                        visit_object(where, item)
    visit("", values, ((values.get("global") or {}).get("nodeSelector") or {}).get(CAPACITY_TYPE_LABEL))
    return found


@dataclass
class Cluster:
    zones_by_capacity: dict  # capacity type -> AZs of its node group
    gateway_capacity: Optional[str]  # what the gateway pods select; None: any
    bound: set  # target group names the gateway is bound to (TargetGroupBinding)
    reconciling: dict  # engine -> bool
    active_host: dict  # engine -> the Git host its active sync pulls from
    hosts: dict  # engine -> Git hosts it knows
    installed: set  # engines installed
    poll: dict  # engine -> seconds between Git polls
    gitops_state_region: Optional[str]
    gateway: Optional[Placement] = None  # the ingress gateway the target groups are bound to
    pieces: tuple = ()  # Placement of every workload the platform installs
    node_groups: tuple = ()  # (capacity type, AZs) of every node group, in the stack's order
    handover: Optional[float] = None  # seconds until the other engine takes over by itself (None: by hand)

    def gateway_survives_az(self) -> bool:
        return self.gateway is not None and self.gateway.survives_an_az()


@dataclass(frozen=True)
class Alarm:
    """A CloudWatch alarm as synthesized: how long a condition must last before it is in ALARM."""

    name: str
    region: Optional[str]
    stack: str
    conf: dict
    composite: bool = False
    notifies: bool = False  # it has actions, or a composite that names it has (read_alarms decides)

    @property
    def delay(self) -> float:
        """Seconds from a breach to the alarm state: ``datapoints_to_alarm`` periods (a composite: 0, it
        follows its members at once)."""
        if self.composite:
            return 0.0
        return float(self.conf.get("period", 60)) * int(self.conf.get("datapoints_to_alarm")
                                                         or self.conf.get("evaluation_periods", 1))

    @property
    def members(self) -> list[str]:
        """The alarms a composite's rule names."""
        return re.findall(r'ALARM\("([^"]+)"\)', str(self.conf.get("alarm_rule", ""))) if self.composite else []


@dataclass(frozen=True)
class Canary:
    """A synthetic canary: the names it requests (each through a region's failover name) and how often."""

    name: str
    region: Optional[str]
    targets: tuple  # ({"connect": ..., "host": ..., "path": ...}, ...)
    every: float  # seconds between runs


def rate_seconds(expression: str) -> float:
    """Seconds between runs of a ``rate(N minute[s]|hour[s])`` schedule (INF for anything else)."""
    found = re.match(r"rate\((\d+) (minute|minutes|hour|hours)\)", str(expression or ""))
    if not found:
        return INF
    return float(int(found.group(1)) * (3600 if found.group(2).startswith("hour") else 60))


def read_alarms(output: Output, stacks) -> tuple[dict, dict]:
    """Every alarm and canary of ``stacks``, by name."""
    alarms, canaries = {}, {}
    for stack in stacks:
        for kind, composite in (("aws_cloudwatch_metric_alarm", False), ("aws_cloudwatch_composite_alarm", True)):
            for conf in output.resources(stack, kind).values():
                alarms[conf.get("alarm_name")] = Alarm(conf.get("alarm_name"), region_of(output, stack, conf), stack,
                                                       conf, composite)
        for conf in output.resources(stack, "aws_synthetics_canary").values():
            variables = ((as_list(conf.get("run_config")) or [{}])[0].get("environment_variables") or {})
            try:
                targets = tuple(json.loads(variables.get("SPOFLESS_TARGETS", "[]")))
            except ValueError:
                targets = ()
            canaries[conf.get("name")] = Canary(conf.get("name"), region_of(output, stack, conf), targets,
                                                rate_seconds((as_list(conf.get("schedule")) or [{}])[0]
                                                             .get("expression")))
    acting = {a.name for a in alarms.values() if as_list(a.conf.get("alarm_actions"))}
    acting |= {m for a in alarms.values() if a.name in acting for m in a.members}
    alarms = {name: replace(a, notifies=name in acting) for name, a in alarms.items()}
    return alarms, canaries


@dataclass
class Region:
    name: str
    stack: str
    lbs: dict
    cluster: Optional[Cluster]
    clusters: int = 0  # EKS clusters in the region's stack
    buckets: int = 0  # S3 buckets in the region's stack (its load balancers' access logs)


@dataclass
class Environment:
    name: str
    regions: dict  # region name -> Region, primary first
    names: list  # the platform names (failover trees)
    route53: dict  # every failover record name -> [(resource name, config)]
    health_checks: dict  # resource name -> config
    cloudflare: dict  # platform name -> {"pools": [(lb address, detect)], "fallback": lb address, "ttl": s}
    both_authoritative: bool
    declared: Optional[str]
    kms_regions: set
    lb_by_address: dict = field(default_factory=dict)
    output: Optional[Output] = None
    alarms: dict = field(default_factory=dict)  # alarm name -> Alarm (metric and composite, every stack)
    canaries: dict = field(default_factory=dict)  # canary name -> Canary

    def lb(self, stack: str, expression) -> Optional[LoadBalancer]:
        """The load balancer an expression of ``stack`` reads (through remote state)."""
        for ref in self.output.refs(stack, expression) if self.output else []:
            if ref.type == "aws_lb":
                return self.lb_by_address.get(f"{ref.address}@{ref.stack}")
        return None


def primary_region(output: Output, env: str) -> Optional[str]:
    """The environment's primary region (its ``regions.primary``): where its security stack's ``primary``
    provider is. Every tool that needs to know asks here."""
    return region_of_alias(output, env, "primary")


def zones_of(output: Output, stack: str, value) -> frozenset:
    return frozenset((output.get(r) or {}).get("availability_zone") for r in output.refs(stack, value)
                     if r.type == "aws_subnet")


def region_of(output: Output, stack: str, conf: Optional[dict] = None) -> Optional[str]:
    return (output.provider_of(stack, conf or {}) or {}).get("region")


def state_region(output: Output, stack: str) -> Optional[str]:
    s3 = ((output.stacks.get(stack, {}).get("terraform") or {}).get("backend") or {}).get("s3")
    return s3.get("region") if s3 else None


def read_cluster(output: Output, stack: str, name: str, gitops: Optional[str], bindings) -> Cluster:
    node_groups = tuple((g.get("capacity_type", "ON_DEMAND"), zones_of(output, stack, g.get("subnet_ids")))
                        for g in node_groups_of(output, stack, name))
    groups = dict(node_groups)
    releases = installed_releases(output, gitops) if gitops else {}
    gateway_capacity, gateway, bound = None, None, set()
    for key, found in bindings.items():
        for bound_stack, binding in found:
            if bound_stack != gitops:
                continue
            bound.add(key.split("@")[0].split(".", 1)[1])
            service = releases.get(binding.get("serviceName"))
            if service:
                gateway_capacity = (service["values"].get("nodeSelector") or {}).get(CAPACITY_TYPE_LABEL)
                gateway = next(iter(placements(binding.get("serviceName"), service["values"])), None)
    state = engines_reconciling(output, gitops) if gitops else {"argocd": False, "flux": False}
    handover = None
    active_host, hosts, poll = {}, {"argocd": set(), "flux": set()}, {}
    for release_name, release in releases.items():
        chart, values = release["conf"].get("chart"), release["values"]
        if chart == "argocd-apps":
            for app in (values.get("applications") or {}).values():
                host = next((h for d, h in GIT_HOSTS.items() if d in str((app.get("source") or {}).get("repoURL"))),
                            None)
                active_host["argocd"] = host
        elif chart == "flux2-sync":
            host = next((h for d, h in GIT_HOSTS.items()
                         if d in str(((values.get("gitRepository") or {}).get("spec") or {}).get("url"))), None)
            hosts["flux"].add(host)
            spec = (values.get("kustomization") or {}).get("spec") or {}
            if not spec.get("suspend"):
                active_host["flux"] = host
            spec = (values.get("gitRepository") or {}).get("spec") or {}
            # a host that hangs is noticed after the fetch timeout (Flux's default: 60 s)
            poll["flux"] = seconds(spec.get("interval"), 60) + seconds(spec.get("timeout"), 60)
        elif chart == "argo-cd":
            cm = ((values.get("configs") or {}).get("cm") or {})
            if "timeout.reconciliation" in cm:
                poll["argocd"] = seconds(cm["timeout.reconciliation"], 180) + seconds(
                    cm.get("timeout.reconciliation.jitter"), 60)
            else:
                poll["argocd"] = ARGOCD_DEFAULT_POLL
        elif not release["conf"].get("repository"):  # spofless's own chart: the Git credentials, the handover
            for repo in values.get("repositories") or []:
                if repo.get("argocd"):
                    hosts["argocd"].add(str(repo.get("secretName", "")).rsplit("-", 1)[-1])
            handover = handover_of(values.get("objects") or [])
            settings = handover_config({release_name: release}) if handover is not None else None
            if settings:
                # the loop unfences the holder's objects on the Git host the environment chose
                names_ = (settings.get("engines", {}).get("flux") or {}).get("objects") or []
                flux_host = next((h for h in GIT_HOSTS.values() for n in names_ if n.endswith(f"-{h}")), None)
                if flux_host:
                    active_host.setdefault("flux", flux_host)
    installed = {engine for engine, chart in ENGINE_CHARTS.items()
                 if any(r["conf"].get("chart") == chart for r in releases.values())}
    pieces = tuple(p for name, release in sorted(releases.items()) for p in placements(name, release["values"]))
    return Cluster(groups, gateway_capacity, bound, state, active_host, hosts, installed, poll,
                   state_region(output, gitops) if gitops else None, gateway, pieces, node_groups,
                   handover if handover is not None and installed >= {"argocd", "flux"} else None)


def handover_of(objects: list) -> Optional[float]:
    """Seconds from the reconciling engine's last ready controller to the other engine reconciling, when
    spofless's chart carries the handover loop with both lease policies (modules/gitops/handover_objects.py):
    detected at the first turn after the bound, plus the turn that moves it."""
    config = handover_config({"spofless-cluster": {"conf": {}, "values": {"objects": objects}}})
    if config is None:
        return None
    return float(config["detect_seconds"]) + 2 * float(config.get("every_seconds", 5))


def build(output: Output, env: str) -> Environment:
    """The request and deployment paths of one environment, from its stacks."""
    stacks = output.stacks_of(env)
    bindings = target_group_bindings(output)
    installed = installers(output)
    regions: dict[str, Region] = {}
    lb_by_address: dict[str, LoadBalancer] = {}
    for stack in stacks:
        clusters = output.resources(stack, "aws_eks_cluster")
        lbs = output.resources(stack, "aws_lb")
        if not clusters and not lbs:
            continue
        region = region_of(output, stack)
        found = {}
        groups = output.resources(stack, "aws_lb_target_group")
        for name, conf in lbs.items():
            key = (conf.get("tags") or {}).get("Role", name)
            tgs = tuple(target_groups_of(output, stack, name))
            detect = max((int((as_list(groups[t].get("health_check")) or [{}])[0].get("interval", 30))
                          * int((as_list(groups[t].get("health_check")) or [{}])[0].get("unhealthy_threshold", 3))
                          for t in tgs), default=INF)
            found[key] = LoadBalancer(region, key, f"aws_lb.{name}@{stack}", zones_of(output, stack, conf.get("subnets")),
                                      tgs, detect)
            lb_by_address[found[key].address] = found[key]
        cluster = None
        for name in clusters:
            cluster = read_cluster(output, stack, name, installed.get(f"aws_eks_cluster.{name}@{stack}"), bindings)
        regions[region] = Region(region, stack, found, cluster, len(clusters),
                                 len(output.resources(stack, "aws_s3_bucket")))
    route53, health_checks = {}, {}
    r53 = names.dns_route53(env)
    for name, conf in output.resources(r53, "aws_route53_record").items():
        if conf.get("failover_routing_policy") or as_list(conf.get("alias")):  # the failover trees
            route53.setdefault(str(conf.get("name")).rstrip("."), []).append((name, conf))
    health_checks = output.resources(r53, "aws_route53_health_check")
    # primary region first: the configuration's primary (the security stack's "primary" provider), then the
    # region of each PRIMARY record of a platform name
    order = [r for r in [primary_region(output, env)] if r in regions]
    for fqdn, records in route53.items():
        if ".failover." in f".{fqdn}":
            continue
        for _, conf in sorted(records, key=lambda rc: (as_list(rc[1].get("failover_routing_policy"))
                                                        or [{}])[0].get("type") != "PRIMARY"):
            region = conf.get("set_identifier")
            if region in regions and region not in order:
                order.append(region)
    order += [r for r in regions if r not in order]
    regions = {r: regions[r] for r in order}
    cloudflare = cloudflare_pools(output, names.dns_cloudflare(env))
    security = names.security(env)
    declared = declared_single_region(output, env)
    kms_regions = {region_of(output, security, c) for t in ("aws_kms_key", "aws_kms_replica_key")
                   for c in output.resources(security, t).values()}
    alarms, canaries = read_alarms(output, stacks)
    return Environment(env, regions, sorted(k for k in route53 if ".failover." not in f".{k}"), route53,
                       health_checks, cloudflare, both_authoritative(output, env), declared, kms_regions,
                       lb_by_address, output, alarms, canaries)


def cloudflare_pools(output: Output, stack: str) -> dict:
    found = {}
    pools = output.resources(stack, "cloudflare_load_balancer_pool")
    monitors = output.resources(stack, "cloudflare_load_balancer_monitor")

    def pool(expression) -> Optional[tuple[str, float]]:
        ref = next(iter(output.refs(stack, expression)), None)
        conf = pools.get(ref.name) if ref else None
        if conf is None:
            return None
        origin = next((o for o in as_list(conf.get("origins")) if o.get("enabled", True)), {})
        lb = next((f"{r.address}@{r.stack}" for r in output.refs(stack, origin.get("address")) if r.type == "aws_lb"),
                  None)
        monitor = monitors.get(next((r.name for r in output.refs(stack, conf.get("monitor"))), ""), {})
        detect = (int(monitor.get("consecutive_down", 1)) * int(monitor.get("interval", 60))
                  + int(monitor.get("retries", 2)) * int(monitor.get("timeout", 5))) if monitor else INF
        return lb, detect
    for conf in output.resources(stack, "cloudflare_load_balancer").values():
        found[str(conf.get("name")).rstrip(".")] = {
            "pools": [pool(p) for p in as_list(conf.get("default_pools"))],
            "fallback": pool(conf.get("fallback_pool")), "ttl": int(conf.get("ttl", 30))}
    return found


def both_authoritative(output: Output, env: str) -> bool:
    """The delegation clients follow names both providers' servers (apex NS in Route53, or the parent's)."""
    zone = names.dns_zone(env)
    cloudflare = names.dns_cloudflare(env) in output.stacks
    if not cloudflare:
        return False
    for conf in output.resources(zone, "aws_route53_record").values():
        if conf.get("type") == "NS" and "cloudflare" in json.dumps(conf.get("records")):
            return True
    return False


def declared_single_region(output: Output, env: str) -> Optional[str]:
    """The environment's declared single-region reason (the tag on its keys), or None."""
    return next((c["tags"][SINGLE_REGION_TAG] for c in output.resources(names.security(env), "aws_kms_key").values()
                 if SINGLE_REGION_TAG in (c.get("tags") or {})), None)


# -- the data tier ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Instance:
    """One Aurora instance: where it runs and its failover priority (promotion tier 0..15: Aurora promotes
    the reader with the lowest tier, then the largest, then any)."""

    name: str
    zone: Optional[str]
    tier: int


@dataclass(frozen=True)
class DataMember:
    """One region's copy of the data tier, as the data stack of that region creates it."""

    region: str
    stack: str
    after: tuple  # the stacks this one is applied after (the manifest's dependencies)
    aurora_cluster: bool = False
    aurora: tuple = ()  # Instance, in the order the stack declares them (the first is the writer)
    aurora_global: bool = False  # the cluster is in (or creates) a global database
    aurora_deletion_protection: bool = False
    cache_nodes: int = 0
    cache_multi_az: bool = False
    cache_global: bool = False
    cache_zones: int = 0  # AZs the cache's nodes are placed in (preferred_cache_cluster_azs)
    bucket_rules: tuple = ()  # (destination region, Replication Time Control enabled) per replication rule
    backup_plans: int = 0
    backup_continuous: bool = False
    backup_interval: float = INF  # seconds between scheduled backups

    def failover_order(self) -> list[list[Instance]]:
        """The readers grouped by promotion tier, lowest first: the order Aurora promotes in."""
        tiers: dict[int, list[Instance]] = {}
        for instance in self.aurora[1:]:
            tiers.setdefault(instance.tier, []).append(instance)
        return [tiers[t] for t in sorted(tiers)]


def hourly_seconds(schedule: str) -> float:
    """Seconds between runs of an AWS Backup cron: hourly when the hour field is '*', else a day."""
    fields = schedule[5:-1].split() if schedule.startswith("cron(") else []
    return 3600.0 if len(fields) == 6 and fields[1] == "*" else 86400.0


def data_members(output: Output, env: str) -> dict[str, DataMember]:
    """``{region: DataMember}`` of ``env``'s data stacks."""
    found = {}
    for region, stack in data_stacks(output, env).items():
        clusters = list(output.resources(stack, "aws_rds_cluster").values())
        instances = tuple(Instance(name, conf.get("availability_zone"), int(conf.get("promotion_tier", 1)))
                          for name, conf in output.resources(stack, "aws_rds_cluster_instance").items())
        groups = list(output.resources(stack, "aws_elasticache_replication_group").values())
        group = groups[0] if groups else {}
        rules = tuple(
            (next((d.get("bucket") for d in as_list(rule.get("destination"))), None),
             any(t.get("status") == "Enabled" for d in as_list(rule.get("destination"))
                 for t in as_list(d.get("replication_time"))))
            for conf in output.resources(stack, "aws_s3_bucket_replication_configuration").values()
            for rule in as_list(conf.get("rule")))
        plan_rules = [r for p in output.resources(stack, "aws_backup_plan").values() for r in as_list(p.get("rule"))]
        found[region] = DataMember(
            region, stack, tuple(output.dependencies(stack)), bool(clusters), instances,
            bool(output.resources(stack, "aws_rds_global_cluster"))
            or any(c.get("global_cluster_identifier") for c in clusters),
            bool(clusters) and all(c.get("deletion_protection") is True for c in clusters),
            int(group.get("num_cache_clusters") or (1 if group else 0)), group.get("multi_az_enabled") is True,
            bool(group.get("global_replication_group_id"))
            or bool(output.resources(stack, "aws_elasticache_global_replication_group")),
            len(set(group.get("preferred_cache_cluster_azs") or [])),
            rules, len(output.resources(stack, "aws_backup_plan")), any(r.get("enable_continuous_backup") for r in plan_rules),
            min((hourly_seconds(str(r.get("schedule", ""))) for r in plan_rules), default=INF))
    return found


# -- keys and secrets ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Security:
    """An environment's keys and secrets: multi-region keys with their replicas, secrets with theirs."""

    keys: int
    replica_keys: int
    secrets: int
    replicated_secrets: int


def security_of(output: Output, env: str) -> Security:
    stack = names.security(env)
    secrets = list(output.resources(stack, "aws_secretsmanager_secret").values())
    return Security(len(output.resources(stack, "aws_kms_key")), len(output.resources(stack, "aws_kms_replica_key")),
                    len(secrets), sum(1 for s in secrets if s.get("replica")))


# -- the account baseline an environment relies on ----------------------------------------------

@dataclass(frozen=True)
class BaselineRegion:
    """One region's baseline stack of the environment's account."""

    region: str
    stack: str
    trails: tuple  # (multi-region, log file validation) of each trail this stack creates
    locked_buckets: tuple  # (bucket name, region) of each bucket with S3 Object Lock
    replicates: bool  # a bucket replication configuration (the audit record's copy)
    guardduty: bool  # a GuardDuty detector, created or read
    standards: bool  # a Security Hub standards subscription


def baseline_of(output: Output, env: str) -> dict[str, BaselineRegion]:
    """``{region: BaselineRegion}`` of the account ``env``'s stacks depend on (empty without one)."""
    account = output.account_of(env)
    found = {}
    for stack in output.account_stacks(account) if account else []:
        region = (output.providers(stack, "aws") or [{}])[0].get("region")
        found[region] = BaselineRegion(
            region, stack,
            tuple((t.get("is_multi_region_trail") is True, t.get("enable_log_file_validation") is True)
                  for t in output.resources(stack, "aws_cloudtrail").values()),
            tuple((b.get("bucket"), (output.provider_of(stack, b) or {}).get("region"))
                  for b in output.resources(stack, "aws_s3_bucket").values() if b.get("object_lock_enabled")),
            bool(output.resources(stack, "aws_s3_bucket_replication_configuration")),
            bool(output.resources(stack, "aws_guardduty_detector")
                 or output.resources(stack, "aws_guardduty_detector", data=True)),
            bool(output.resources(stack, "aws_securityhub_standards_subscription")))
    return found
