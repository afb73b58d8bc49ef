"""Observability: every load balancer watched in its own region, alerting through a topic CloudWatch can use;
every Prometheus workspace alerting and collecting in its own region."""

from __future__ import annotations

from typing import Iterator, Optional

import yaml

from policies.model.output import Output, as_list, policy_statements
from policies.model.platform import Alarm, read_alarms, zones_of
from policies.model.topology import stack_region
from policies.rules.registry import rule

_KEY_TYPES = ("aws_kms_key", "aws_kms_replica_key")


def _key_lets_publish(policy, service: str = "cloudwatch.amazonaws.com") -> bool:
    for statement in policy_statements(policy):
        principal = statement.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, dict) else []
        actions = set(as_list(statement.get("Action")))
        if statement.get("Effect") == "Allow" and service in services and (
                "kms:*" in actions or {"kms:Decrypt", "kms:GenerateDataKey*"} <= actions):
            return True
    return False


def _key_usable_by(output: Output, stack: str, key, service: str) -> bool:
    """The key(s) ``key`` leads to (from ``stack``) are of the output, and each lets ``service`` use it."""
    keys = [output.get(r) for r in output.refs(stack, key) if r.type in _KEY_TYPES]
    return bool(keys) and all(k is not None and _key_lets_publish(k.get("policy"), service) for k in keys)


def _topics_of_event_rules(output: Output) -> set[tuple[str, str]]:
    """(stack, topic) of every topic an EventBridge rule's target publishes to."""
    return {(r.stack, r.name) for stack in output.stacks
            for conf in output.resources(stack, "aws_cloudwatch_event_target").values()
            for r in output.refs(stack, conf.get("arn")) if r.type == "aws_sns_topic"}


@rule(47, "Every load balancer has alarms in its own region, whose alerts go to a topic in that region that "
          "CloudWatch (and EventBridge, where a rule targets it) can publish to (a CMK-encrypted topic needs the key "
          "to let the publishing service use it)",
      "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services",
      fixture="mutated")
def load_balancers_alarmed(output: Output) -> Iterator[tuple[str, str, bool, str]]:
    events = _topics_of_event_rules(output)
    for stack in output.stacks:
        lbs = output.resources(stack, "aws_lb")
        if not lbs:  # a stack with alarms but no load balancer (the data tier's): its alert paths only
            yield from _alert_paths(output, stack, output.resources(stack, "aws_cloudwatch_metric_alarm"))
            continue
        region = stack_region(output, stack)
        alarms = {**output.resources(stack, "aws_cloudwatch_metric_alarm"),
                  **output.resources(stack, "aws_cloudwatch_composite_alarm")}
        topics = output.resources(stack, "aws_sns_topic")
        for name in lbs:
            watched = [a for a, conf in alarms.items() if f"aws_lb.{name}.arn_suffix" in str(conf)]
            yield stack, f"aws_lb.{name}", bool(watched), (
                f"no alarm in {stack} ({region}) watches it: its failures would reach no one and feed no failover")
        yield from _alert_paths(output, stack, alarms)
        for topic, conf in topics.items():
            key = conf.get("kms_master_key_id")
            if not key:
                continue
            publishers = ["cloudwatch.amazonaws.com"] + (
                ["events.amazonaws.com"] if (stack, topic) in events else [])
            for service in publishers:
                yield stack, f"aws_sns_topic.{topic} <- {service}", _key_usable_by(output, stack, key, service), (
                    f"is encrypted with {key!r}, whose policy does not let {service} use it "
                    f"(kms:Decrypt, kms:GenerateDataKey*): {service.split('.')[0]} drops every notification to it")


def _alert_paths(output: Output, stack: str, alarms: dict) -> Iterator[tuple[str, str, bool, str]]:
    """Every action of every alarm is a topic in the alarm's own region (its own stack's, or its
    region's regional stack's)."""
    region = stack_region(output, stack)
    for alarm, conf in alarms.items():
        for action in as_list(conf.get("alarm_actions")) + as_list(conf.get("ok_actions")):
            refs = [r for r in output.refs(stack, action) if r.type == "aws_sns_topic"]
            local = bool(refs) and all(stack_region(output, r.stack) == region for r in refs)
            yield stack, f"{alarm} -> {action}", local, (
                "alerts through something that is not its own region's topic: an alert path that crosses "
                "regions fails with the other region")


@rule(48, "Every Route53 health check on a CloudWatch alarm reads a synthesized metric alarm in the region it "
          "names that Route53 can evaluate: one standard-resolution metric, a plain statistic, no metric math and "
          "no 'M out of N' (datapoints to alarm equal to the evaluation periods)",
      "https://docs.aws.amazon.com/Route53/latest/APIReference/API_AlarmIdentifier.html", fixture="mutated")
def route53_reads_usable_alarms(output: Output) -> Iterator[tuple[str, str, bool, str]]:
    by_env: dict[str, dict[str, Alarm]] = {}
    for stack in output.stacks:
        for name, check in output.resources(stack, "aws_route53_health_check").items():
            if check.get("type") != "CLOUDWATCH_METRIC":
                continue
            alarm, region = str(check.get("cloudwatch_alarm_name")), check.get("cloudwatch_alarm_region")
            env = output.environment_of(stack)
            if env not in by_env:
                by_env[env] = read_alarms(output, output.stacks_of(env))[0]
            found = by_env[env].get(alarm)
            found = found if found is not None and found.region == region else None
            yield stack, f"aws_route53_health_check.{name}", found is not None, (
                f"reads alarm {alarm!r} in {region}, which no stack of the environment creates there: "
                "the check has nothing to follow")
            if found is not None:
                problems = _unreadable(found)
                yield stack, f"aws_route53_health_check.{name} -> {alarm}", not problems, (
                    f"reads alarm {alarm!r} ({found.stack}), which Route53 cannot evaluate: " + "; ".join(problems))


def _unreadable(alarm: Alarm) -> list[str]:
    """Why Route53 cannot follow an alarm (empty: it can)."""
    if alarm.composite:
        return ["a composite alarm has no metric"]
    conf, problems = alarm.conf, []
    if as_list(conf.get("metric_query")):
        problems.append("metric math (metric_query)")
    if conf.get("extended_statistic") or conf.get("statistic") not in ("Average", "Minimum", "Maximum", "Sum",
                                                                       "SampleCount"):
        problems.append(f"statistic {conf.get('extended_statistic') or conf.get('statistic')!r} (allowed: Average, "
                        "Minimum, Maximum, Sum, SampleCount)")
    period = conf.get("period")
    if not isinstance(period, int) or period < 60 or period % 60:
        problems.append(f"period {period!r} (a standard-resolution period: a multiple of 60 s)")
    evaluation = conf.get("evaluation_periods")
    if conf.get("datapoints_to_alarm") not in (None, evaluation):
        problems.append(f"{conf.get('datapoints_to_alarm')} out of {evaluation} datapoints ('M out of N')")
    return problems


def _admits_workspace(output: Output, stack: str, policy, workspace: str) -> bool:
    """A topic policy statement lets AMP publish for ``workspace`` (its SourceArn is that workspace's ARN)."""
    for statement in policy_statements(policy):
        principal = statement.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, dict) else []
        actions = set(as_list(statement.get("Action")))
        if statement.get("Effect") != "Allow" or "aps.amazonaws.com" not in services or not (
                "sns:Publish" in actions or "sns:*" in actions):
            continue
        condition = statement.get("Condition") or {}
        source = [v for test in ("ArnEquals", "ArnLike", "StringEquals") for v in
                  as_list((condition.get(test) or {}).get("aws:SourceArn"))]
        if any(r.type == "aws_prometheus_workspace" and r.name == workspace for v in source
               for r in output.refs(stack, v)):
            return True
    return False


def _topic_problems(output: Output, stack: str, workspace: str, region: Optional[str], topic_arn: str) -> list[str]:
    refs = [r for r in output.refs(stack, topic_arn) if r.type == "aws_sns_topic"]
    if not refs:
        return [f"publishes to {topic_arn!r}, not a topic of the output"]
    problems = []
    for ref in refs:
        topic = output.get(ref) or {}
        if stack_region(output, ref.stack) != region:
            problems.append(f"publishes to {ref.address} of {ref.stack}, outside the workspace's region {region}")
        if topic.get("fifo_topic"):
            problems.append(f"{ref.address} is a FIFO topic (AMP publishes to Standard topics only)")
        policies = [c for c in output.resources(ref.stack, "aws_sns_topic_policy").values()
                    if any(r.type == "aws_sns_topic" and r.name == ref.name for r in output.refs(ref.stack, c.get("arn")))]
        if not any(_admits_workspace(output, ref.stack, p.get("policy"), workspace) for p in policies):
            problems.append(f"the policy of {ref.address} does not admit aps.amazonaws.com for this workspace "
                            "(sns:Publish with aws:SourceArn the workspace): every notification fails")
        key = topic.get("kms_master_key_id")
        if key and not _key_usable_by(output, ref.stack, key, "aps.amazonaws.com"):
            problems.append(f"{ref.address} is encrypted with a key whose policy does not let aps.amazonaws.com "
                            "use it (kms:Decrypt, kms:GenerateDataKey*)")
    return problems


@rule(49, "Every Prometheus workspace's alert manager publishes to a Standard topic of its own region whose policy "
          "admits AMP for that workspace and whose key lets AMP use it; every managed collector scrapes a cluster "
          "of its region with a private endpoint, from subnets in two AZs or more where no node or pod lives",
      "https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-alertmanager-receiver-AMPpermission.html",
      fixture="mutated")
def prometheus_paths_work(output: Output) -> Iterator[tuple[str, str, bool, str]]:
    for stack in output.stacks:
        region = stack_region(output, stack)
        for name, conf in output.resources(stack, "aws_prometheus_alert_manager_definition").items():
            workspaces = [r for r in output.refs(stack, conf.get("workspace_id")) if r.type == "aws_prometheus_workspace"]
            try:
                body = yaml.safe_load(str(conf.get("definition") or "")) or {}
                routes = yaml.safe_load(body.get("alertmanager_config") or "") or {}
            except (yaml.YAMLError, AttributeError):
                yield stack, f"aws_prometheus_alert_manager_definition.{name}", False, "its definition is not YAML"
                continue
            arns = [sns.get("topic_arn") for receiver in routes.get("receivers") or []
                    for sns in receiver.get("sns_configs") or []]
            problems = [] if arns and workspaces else ["names no SNS receiver of a workspace of the output"]
            for arn in arns:
                problems += _topic_problems(output, stack, workspaces[0].name if workspaces else "", region, str(arn))
            yield stack, f"aws_prometheus_alert_manager_definition.{name}", not problems, "; ".join(problems)
        for name, conf in output.resources(stack, "aws_prometheus_scraper").items():
            yield stack, f"aws_prometheus_scraper.{name}", *_collector(output, stack, region, conf)


def _collector(output: Output, stack: str, region: Optional[str], conf: dict) -> tuple[bool, str]:
    eks = next(iter(as_list(next(iter(as_list(conf.get("source"))), {}).get("eks"))), {})
    clusters = [r for r in output.refs(stack, eks.get("cluster_arn")) if r.type == "aws_eks_cluster"]
    if not clusters:
        return False, "scrapes no EKS cluster of the output"
    problems = []
    cluster = output.get(clusters[0]) or {}
    if stack_region(output, clusters[0].stack) != region:
        problems.append(f"scrapes a cluster outside its region {region}")
    vpc = next(iter(as_list(cluster.get("vpc_config"))), {})
    if vpc.get("endpoint_private_access") is not True:
        problems.append("the cluster's endpoint has no private access, which the collector needs")
    zones = zones_of(output, stack, eks.get("subnet_ids"))
    if len(zones - {None}) < 2:
        problems.append(f"its subnets span {len(zones - {None})} AZ(s); AMP needs two or more")
    pod_subnets = {r.name for value in [vpc.get("subnet_ids"), *(g.get("subnet_ids") for g in
                                                                   output.resources(stack, "aws_eks_node_group").values())]
                   for r in output.refs(stack, value) if r.type == "aws_subnet"}
    shared = sorted({r.name for r in output.refs(stack, eks.get("subnet_ids")) if r.type == "aws_subnet"} & pod_subnets)
    if shared:
        problems.append(f"shares subnets with the cluster's nodes and pods ({', '.join(shared)}): a NetworkPolicy "
                        "admitting the collector would admit every pod there too")
    return not problems, "; ".join(problems)


@rule(50, "Every cluster whose CloudWatch Observability add-on ships container logs has the add-on's log groups "
          "(application, dataplane, host, performance) created first, encrypted with a KMS key and with a "
          "retention: left to Fluent Bit and the agent, they are created unencrypted and kept forever",
      "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-reference.html",
      fixture="mutated")
def container_log_groups_come_first(output: Output) -> Iterator[tuple[str, str, bool, str]]:
    for stack in output.stacks:
        groups = {conf.get("name"): (name, conf) for name, conf in output.resources(stack, "aws_cloudwatch_log_group").items()}
        for name, conf in output.resources(stack, "aws_eks_addon").items():
            if conf.get("addon_name") != "amazon-cloudwatch-observability":
                continue
            clusters = [output.get(r) for r in output.refs(stack, conf.get("cluster_name")) if r.type == "aws_eks_cluster"]
            cluster = (clusters[0] or {}).get("name") if clusters else None
            after = set(as_list(conf.get("depends_on")))
            problems = []
            for kind in ("application", "dataplane", "host", "performance"):
                group = f"/aws/containerinsights/{cluster}/{kind}"
                found = groups.get(group)
                if found is None:
                    problems.append(f"no log group {group} (Fluent Bit or the agent would create it unencrypted)")
                    continue
                group_name, group_conf = found
                if not group_conf.get("kms_key_id") or not group_conf.get("retention_in_days"):
                    problems.append(f"{group} has no KMS key or no retention")
                if f"aws_cloudwatch_log_group.{group_name}" not in after:
                    problems.append(f"the add-on does not depend on {group} (it may start writing first)")
            yield stack, f"aws_eks_addon.{name}", not problems, "; ".join(problems)
