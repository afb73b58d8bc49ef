"""What each environment costs a month while idle: the on-demand floor, from the synthesized output.

    python -m tooling.analysis.cost [--outdir cdktf.out] [--env prod] [--format text|json|markdown]

Every figure is counted from ``cdktf.out`` (the clusters, node groups and their desired sizes, the
load balancers and their AZs, the NAT gateways, the interface endpoints per subnet, the Aurora and
ElastiCache nodes, keys, secrets and their replicas, health checks and their options, the Cloudflare
load balancers' origins) and priced with the published on-demand list prices in
``tooling/analysis/prices.yaml`` (each with its source page and the date it was read), offline.

It is the floor before traffic: what runs whatever the load. Data processed (NAT, endpoints, load
balancer capacity units, WAF requests, inter-region replication), storage (S3, Aurora, backups, logs)
and the account's audit services (GuardDuty, Security Hub, Config, CloudTrail), which are billed by
use, are listed as such, unpriced. Spot node groups are priced at the on-demand rate, their ceiling.
Infracost (``spofless plan``'s usage files) prices a plan with traffic where it can run.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import yaml

from policies.model.output import Output, as_list
from policies.model.platform import INF, rate_seconds

PROJECT = Path(__file__).resolve().parents[2]
PRICES = Path(__file__).with_name("prices.yaml")

# Billed by use, so not in the floor: (resource type, what drives its bill).
USAGE_BASED = (
    ("aws_nat_gateway", "data processed per GB"),
    ("aws_vpc_endpoint", "interface endpoints: data processed per GB"),
    ("aws_lb", "load balancer capacity units (LCU / NLCU) per hour"),
    ("aws_wafv2_web_acl", "requests inspected per million"),
    ("aws_rds_cluster", "Aurora storage per GB-month, I/O, global replicated writes, backups beyond the retention"),
    ("aws_s3_bucket", "S3 storage, requests and cross-region replication"),
    ("aws_backup_plan", "backup storage per GB-month, copies to the other region"),
    ("aws_cloudwatch_log_group", "log ingestion and storage per GB"),
    ("aws_flow_log", "flow log delivery per GB"),
    ("aws_route53_zone", "DNS queries per million (alias queries to load balancers are free)"),
    ("aws_guardduty_detector", "GuardDuty: events and logs analysed (account baseline)"),
    ("aws_securityhub_account", "Security Hub: checks and findings ingested (account baseline)"),
    ("aws_config_configuration_recorder", "AWS Config: configuration items recorded (account baseline)"),
    ("aws_cloudtrail", "CloudTrail: the first copy of management events is free; data events per 100,000"),
    ("aws_ecr_repository", "ECR storage per GB-month and replication"),
    ("aws_lambda_function", "Lambda requests and duration (secret rotation)"),
    ("aws_sns_topic", "SNS notifications (email beyond the free tier)"),
    ("aws_synthetics_canary", "the canary's Lambda duration, its results in S3 and its logs"),
    ("aws_eks_addon", "Container Insights (enhanced observability: per observation) and X-Ray traces recorded "
                      "and scanned, with container logs"),
    ("aws_prometheus_workspace", "Prometheus samples collected, ingested and stored, and queries (the alert rules "
                                 "every minute)"),
    ("cloudflare_load_balancer", "Cloudflare: DNS queries beyond 500,000 a month, health checks from more regions"),
)


class PriceError(Exception):
    """A resource the output holds has no price in prices.yaml: the message names it and the file."""


@dataclass(frozen=True)
class Line:
    env: str
    stack: str
    category: str
    item: str
    quantity: float
    unit: str
    unit_price: float
    monthly: float


class Prices:
    def __init__(self, document: Mapping[str, Any]):
        self.date = str(document["date"])
        self.currency = document.get("currency", "USD")
        self.hours = float(document.get("hours_per_month", 730))
        self.items: Mapping[str, Mapping[str, Any]] = document["prices"]

    @classmethod
    def load(cls, path: Path = PRICES) -> "Prices":
        return cls(yaml.safe_load(path.read_text()))

    def get(self, key: str, region: Optional[str] = None) -> float:
        entry = self.items.get(key)
        if entry is None:
            raise PriceError(f"{PRICES.name}: no price for {key}; add it with its source and date")
        value = entry["usd"]
        if isinstance(value, Mapping):
            if region not in value:
                raise PriceError(f"{PRICES.name}: no {region} price for {key}; add it with its source and date")
            value = value[region]
        return float(value)

    def source(self, key: str) -> str:
        return str(self.items.get(key, {}).get("source", ""))


def _region(output: Output, stack: str, conf: Mapping[str, Any]) -> str:
    provider = output.provider_of(stack, dict(conf)) or {}
    return provider.get("region", "us-east-1")


def _count(value: Any) -> int:
    return len(as_list(value))


def environment_lines(output: Output, env: str, prices: Prices) -> list[Line]:
    """The priced floor of one environment, line by line."""
    hours = prices.hours
    lines: list[Line] = []

    def add(stack: str, category: str, item: str, quantity: float, unit: str, key: str,
            region: Optional[str] = None, per_hour: bool = True) -> None:
        if quantity <= 0:
            return
        price = prices.get(key, region)
        monthly = quantity * price * (hours if per_hour else 1)
        lines.append(Line(env, stack, category, item, quantity, unit, price, round(monthly, 2)))

    for stack in output.stacks_of(env):
        for _, conf in output.resources(stack, "aws_eks_cluster").items():
            region = _region(output, stack, conf)
            support = ((conf.get("upgrade_policy") or {}).get("support_type") or "EXTENDED").upper()
            key = "eks_cluster_hour" if support == "STANDARD" else "eks_cluster_extended_hour"
            add(stack, "compute", f"EKS control plane ({support.lower()} support)", 1, "cluster-hour", key, region)
        templates = output.resources(stack, "aws_launch_template")
        for _, conf in output.resources(stack, "aws_eks_node_group").items():
            region = _region(output, stack, conf)
            size = (conf.get("scaling_config") or {}).get("desired_size", 0)
            instance = as_list(conf.get("instance_types"))[0]
            capacity = (conf.get("capacity_type") or "ON_DEMAND").lower().replace("_", "-")
            add(stack, "compute", f"nodes {instance} ({capacity}{', priced on-demand' if capacity == 'spot' else ''})",
                size, "instance-hour", f"ec2_{instance}", region)
            template = (conf.get("launch_template") or {}).get("id", "")
            for name, lt in templates.items():
                if f".{name}." not in template:
                    continue
                for mapping in as_list(lt.get("block_device_mappings")):
                    ebs = mapping.get("ebs") or {}
                    if ebs.get("volume_type", "gp3") == "gp3":
                        add(stack, "compute", f"node volumes gp3 ({ebs.get('volume_size', 0)} GB each)",
                            size * float(ebs.get("volume_size", 0)), "GB-month", "ebs_gp3_gb_month", region,
                            per_hour=False)
        for _, conf in output.resources(stack, "aws_nat_gateway").items():
            add(stack, "network", "NAT gateway", 1, "gateway-hour", "nat_gateway_hour", _region(output, stack, conf))
        for _, conf in output.resources(stack, "aws_eip").items():
            add(stack, "network", "public IPv4 (Elastic IP)", 1, "address-hour", "public_ipv4_hour",
                _region(output, stack, conf))
        for _, conf in output.resources(stack, "aws_vpc_endpoint").items():
            if conf.get("vpc_endpoint_type") == "Interface":
                service = str(conf.get("service_name", "")).rsplit(".", 1)[-1]
                add(stack, "network", f"interface endpoint {service} (one per AZ)", _count(conf.get("subnet_ids")),
                    "endpoint-AZ-hour", "vpc_interface_endpoint_az_hour", _region(output, stack, conf))
        for _, conf in output.resources(stack, "aws_lb").items():
            region = _region(output, stack, conf)
            kind = conf.get("load_balancer_type", "application")
            azs = _count(conf.get("subnets")) or _count(conf.get("subnet_mapping"))
            if kind == "network":
                add(stack, "load balancing", "Network Load Balancer", 1, "LB-hour", "nlb_hour", region)
            else:
                add(stack, "load balancing", "Application Load Balancer", 1, "LB-hour", "alb_hour", region)
            if not conf.get("internal"):
                # an internet-facing load balancer holds a public IPv4 address in each of its AZs at least
                add(stack, "load balancing", f"public IPv4 of the {kind} load balancer (one per AZ, at least)",
                    azs, "address-hour", "public_ipv4_hour", region)
        for _, conf in output.resources(stack, "aws_wafv2_web_acl").items():
            add(stack, "load balancing", "WAF web ACL", 1, "ACL-month", "waf_web_acl_month", per_hour=False)
            add(stack, "load balancing", "WAF rules and managed rule groups", _count(conf.get("rule")), "rule-month",
                "waf_rule_month", per_hour=False)
        for _, conf in output.resources(stack, "aws_rds_cluster_instance").items():
            region = _region(output, stack, conf)
            klass = conf.get("instance_class", "")
            add(stack, "data", f"Aurora PostgreSQL {klass}", 1, "instance-hour", f"aurora_postgresql_{klass}", region)
        for _, conf in output.resources(stack, "aws_elasticache_replication_group").items():
            region = _region(output, stack, conf)
            # a secondary member of a global datastore inherits node type and engine from the primary
            node = conf.get("node_type") or _global_member_attribute(output, env, "node_type") or "unknown"
            engine = conf.get("engine") or _global_member_attribute(output, env, "engine") or "redis"
            nodes = conf.get("num_cache_clusters") or (
                (conf.get("num_node_groups") or 1) * ((conf.get("replicas_per_node_group") or 0) + 1))
            add(stack, "data", f"ElastiCache {engine} {node}", float(nodes), "node-hour",
                f"elasticache_{engine}_{node}", region)
        for rtype, item in (("aws_kms_key", "KMS key"), ("aws_kms_replica_key", "KMS multi-Region replica key")):
            for _, conf in output.resources(stack, rtype).items():
                add(stack, "security", item, 1, "key-month", "kms_key_month", per_hour=False)
        for _, conf in output.resources(stack, "aws_secretsmanager_secret").items():
            add(stack, "security", "Secrets Manager secret and its replicas", 1 + _count(conf.get("replica")),
                "secret-month", "secretsmanager_secret_month", per_hour=False)
        metrics = sum(max(1, sum(1 for q in as_list(c.get("metric_query")) if q.get("metric")))
                      for c in output.resources(stack, "aws_cloudwatch_metric_alarm").values())
        add(stack, "observability", "CloudWatch alarm metrics", metrics, "alarm-metric-month",
            "cloudwatch_alarm_metric_month", per_hour=False)
        add(stack, "observability", "CloudWatch composite alarms",
            len(output.resources(stack, "aws_cloudwatch_composite_alarm")), "alarm-month",
            "cloudwatch_composite_alarm_month", per_hour=False)
        for _, conf in output.resources(stack, "aws_synthetics_canary").items():
            every = rate_seconds((conf.get("schedule") or {}).get("expression"))
            if every != INF:
                add(stack, "observability", f"Synthetics canary runs (every {every / 60:g} min)",
                    round(hours * 3600 / every), "run", "synthetics_canary_run", _region(output, stack, conf),
                    per_hour=False)
        add(stack, "observability", "CloudWatch dashboard", len(output.resources(stack, "aws_cloudwatch_dashboard")),
            "dashboard-month", "cloudwatch_dashboard_month", per_hour=False)
        for _, conf in output.resources(stack, "aws_prometheus_scraper").items():
            add(stack, "observability", "Prometheus managed collector", 1, "collector-hour",
                "prometheus_collector_hour", _region(output, stack, conf))
        for _, conf in output.resources(stack, "aws_route53_zone").items():
            add(stack, "dns", "Route53 hosted zone", 1, "zone-month", "route53_zone_month", per_hour=False)
        for _, conf in output.resources(stack, "aws_route53_health_check").items():
            kind = conf.get("type", "")
            add(stack, "dns", f"Route53 health check ({kind})", 1, "check-month", "route53_health_check_aws_month",
                per_hour=False)
            options = [name for name, on in (("HTTPS", kind in ("HTTPS", "HTTPS_STR_MATCH")),
                                             ("string matching", kind.endswith("STR_MATCH")),
                                             ("fast interval", conf.get("request_interval") == 10),
                                             ("latency measurement", bool(conf.get("measure_latency")))) if on]
            for option in options:
                add(stack, "dns", f"Route53 health check option: {option}", 1, "option-month",
                    "route53_health_check_option_aws_month", per_hour=False)
        origins = sum(_count(pool.get("origins")) for pool in output.resources(stack, "cloudflare_load_balancer_pool").values())
        if output.resources(stack, "cloudflare_load_balancer"):
            included = prices.get("cloudflare_lb_included_origins")
            add(stack, "dns", "Cloudflare Load Balancing subscription", 1, "month", "cloudflare_lb_base_month",
                per_hour=False)
            add(stack, "dns", f"Cloudflare origins beyond the {int(included)} included", max(0, origins - included),
                "origin-month", "cloudflare_lb_origin_month", per_hour=False)
    return lines


def _global_member_attribute(output: Output, env: str, attribute: str) -> Optional[str]:
    """The first ``attribute`` an ElastiCache replication group of ``env`` sets."""
    for stack in output.stacks_of(env):
        for conf in output.resources(stack, "aws_elasticache_replication_group").values():
            if conf.get(attribute):
                return conf[attribute]
    return None


def usage_based(output: Output, env: str) -> list[str]:
    """What the environment (and its account's baseline) holds that is billed by use."""
    stacks = output.stacks_of(env) + output.account_stacks(output.account_of(env))
    held = {rtype for stack in stacks for rtype in output.stacks[stack].get("resource", {})}
    return [f"{what} ({rtype})" for rtype, what in USAGE_BASED if rtype in held]


def estimate(outdir: Path, envs: Optional[Sequence[str]] = None, prices: Optional[Prices] = None) -> dict[str, Any]:
    output = Output.load(outdir)
    prices = prices or Prices.load()
    result: dict[str, Any] = {"date": prices.date, "currency": prices.currency, "hours_per_month": prices.hours,
                              "environments": {}}
    for env in envs or output.environments:
        lines = environment_lines(output, env, prices)
        by_category: dict[str, float] = {}
        for line in lines:
            by_category[line.category] = round(by_category.get(line.category, 0) + line.monthly, 2)
        result["environments"][env] = {
            "monthly": round(sum(line.monthly for line in lines), 2),
            "by_category": dict(sorted(by_category.items())),
            "lines": [asdict(line) for line in lines],
            "usage_based": usage_based(output, env),
        }
    return result


def _money(value: float) -> str:
    return f"${value:,.2f}"


CATEGORIES = ("compute", "network", "load balancing", "data", "security", "dns", "observability")


def markdown(result: Mapping[str, Any], detail: bool = True) -> str:
    envs = result["environments"]
    lines = [f"Monthly idle floor per environment, on-demand list prices read {result['date']} "
             f"({int(result['hours_per_month'])} hours a month, {result['currency']}):", "",
             "| environment | " + " | ".join(CATEGORIES) + " | total |",
             "| --- | " + " | ".join("---:" for _ in CATEGORIES) + " | ---: |"]
    for env, figures in envs.items():
        lines.append(f"| {env} | " + " | ".join(_money(figures["by_category"].get(c, 0)) for c in CATEGORIES)
                     + f" | **{_money(figures['monthly'])}** |")
    if detail:
        for env, figures in envs.items():
            lines += ["", f"### {env}", "", "| stack | item | quantity | unit price | monthly |",
                      "| --- | --- | ---: | ---: | ---: |"]
            merged: dict[tuple[str, str, float], list[float]] = {}
            for line in figures["lines"]:
                key = (line["stack"], line["item"], line["unit_price"])
                merged.setdefault(key, [0.0, 0.0])
                merged[key][0] += line["quantity"]
                merged[key][1] += line["monthly"]
            units = {(line["stack"], line["item"], line["unit_price"]): line["unit"] for line in figures["lines"]}
            for (stack, item, price), (quantity, monthly) in merged.items():
                lines.append(f"| {stack} | {item} | {quantity:g} | ${price:g} / {units[(stack, item, price)]} "
                             f"| {_money(monthly)} |")
            lines += ["", "Billed by use, not in the figure above: " + "; ".join(figures["usage_based"]) + "."]
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.analysis.cost")
    parser.add_argument("--outdir", default="cdktf.out")
    parser.add_argument("--env", action="append")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    parser.add_argument("--reports", help="also write cost.md and cost.json here")
    args = parser.parse_args(argv)
    if not (Path(args.outdir) / "stacks").is_dir():
        print(f"error: {args.outdir}/stacks does not exist; run `make synth` first", file=sys.stderr)
        return 2
    try:
        result = estimate(Path(args.outdir), args.env)
    except PriceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.reports:
        reports = Path(args.reports)
        reports.mkdir(parents=True, exist_ok=True)
        (reports / "cost.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        (reports / "cost.md").write_text("# Monthly cost\n\n" + markdown(result))
    if args.format == "json":
        print(json.dumps(result, indent=1, sort_keys=True))
    elif args.format == "markdown":
        print(markdown(result))
    else:
        print(f"monthly idle floor, on-demand list prices read {result['date']} ({result['currency']}):")
        for env, figures in result["environments"].items():
            parts = ", ".join(f"{c} {_money(v)}" for c, v in figures["by_category"].items())
            print(f"  {env:<10} {_money(figures['monthly']):>12}  ({parts})")
        print("  before traffic and storage: each environment's billed-by-use items are in --format markdown")
    return 0


if __name__ == "__main__":
    sys.exit(main())
