"""Observability: every load balancer watched in its own region, alerting through a topic CloudWatch can use."""

from __future__ import annotations

from typing import Iterator

from policies.model.output import Output, as_list, policy_statements
from policies.model.topology import stack_region
from policies.rules.registry import rule

_KEY_TYPES = ("aws_kms_key", "aws_kms_replica_key")


def _key_lets_cloudwatch_publish(policy) -> bool:
    for statement in policy_statements(policy):
        principal = statement.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, dict) else []
        actions = set(as_list(statement.get("Action")))
        if statement.get("Effect") == "Allow" and "cloudwatch.amazonaws.com" in services and (
                "kms:*" in actions or {"kms:Decrypt", "kms:GenerateDataKey*"} <= actions):
            return True
    return False


@rule(47, "Every load balancer has alarms in its own region, whose alerts go to a topic in that region that "
          "CloudWatch can publish to (a CMK-encrypted topic needs the key to let cloudwatch.amazonaws.com use it)",
      "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services",
      fixture="mutated")
def load_balancers_alarmed(output: Output) -> Iterator[tuple[str, str, bool, str]]:
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
            keys = [output.get(r) for r in output.refs(stack, key) if r.type in _KEY_TYPES]
            usable = bool(keys) and all(k is not None and _key_lets_cloudwatch_publish(k.get("policy"))
                                        for k in keys)
            yield stack, f"aws_sns_topic.{topic}", usable, (
                f"is encrypted with {key!r}, whose policy does not let cloudwatch.amazonaws.com use it "
                "(kms:Decrypt, kms:GenerateDataKey*): CloudWatch drops every alarm notification to it")


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
