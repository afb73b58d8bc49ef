"""Each region's alarms and alert topic, derived from the environment files: no home region for alerts."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import resources
from tests.topology import ENVIRONMENTS, LOAD_BALANCERS, regional_stacks

REGIONS = [(env, placement) for env in ENVIRONMENTS.values() for placement in regional_stacks(env)]


def _alb_zones(zones: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The design: primary ALB on the first two AZs, secondary on the second and third; both on both with two;
    the NLB on every AZ (restated from the design, not imported)."""
    if len(zones) == 2:
        return {"alb-primary": zones, "alb-secondary": zones, "nlb": zones}
    return {"alb-primary": zones[:2], "alb-secondary": zones[1:3], "nlb": zones}


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_every_load_balancer_is_watched_per_az_and_the_albs_for_errors_latency_and_rejections(stacks, env, placement):
    stack = stacks[placement.stack]
    alarms = {a["alarm_name"]: a for a in resources(stack, "aws_cloudwatch_metric_alarm").values()}
    observed = env.observability
    zones = _alb_zones(tuple(placement.region.zones))
    expected = set()
    for role in LOAD_BALANCERS:
        for zone in zones[role]:
            expected |= {f"{placement.stack}-{role}-unhealthy-{zone}", f"{placement.stack}-{role}-no-healthy-{zone}"}
        if role != "nlb":
            expected |= {f"{placement.stack}-{role}-{kind}" for kind in ("5xx", "p99", "rejected")}
    assert set(alarms) == expected
    for name, alarm in alarms.items():
        assert alarm["evaluation_periods"] == alarm["datapoints_to_alarm"] == observed.evaluation_minutes
        if name.endswith("-5xx"):
            assert alarm["threshold"] == observed.lb_5xx_percent
            assert "FILL(elb, 0)" in alarm["metric_query"][0]["expression"]  # no 5xx datapoint is zero, not missing
        if name.endswith("-p99"):
            assert alarm["threshold"] == observed.p99_latency_seconds and alarm["extended_statistic"] == "p99"
        if "-no-healthy-" in name:
            assert alarm["treat_missing_data"] == "breaching"  # nothing registered is as bad as nothing healthy
            assert alarm["dimensions"]["AvailabilityZone"] == name.rsplit("-no-healthy-", 1)[1]


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_composites_say_which_az_is_impaired_and_whether_the_region_fails(stacks, env, placement):
    stack = stacks[placement.stack]
    composites = {a["alarm_name"]: a for a in resources(stack, "aws_cloudwatch_composite_alarm").values()}
    zones = tuple(placement.region.zones)
    assert set(composites) == {f"{placement.stack}-az-{z}" for z in zones} | {f"{placement.stack}-region"}
    for zone in zones:
        members = re.findall(r'ALARM\("([^"]+)"\)', composites[f"{placement.stack}-az-{zone}"]["alarm_rule"])
        assert members and all(m.endswith(f"-no-healthy-{zone}") for m in members)
    rule = composites[f"{placement.stack}-region"]["alarm_rule"]
    assert rule.startswith(f'ALARM("{placement.stack}-alb-primary-5xx") OR (')
    assert all(f'ALARM("{placement.stack}-az-{z}")' in rule for z in zones) and " AND " in rule
    metric_alarms = {f"aws_cloudwatch_metric_alarm.{n}" for n in resources(stack, "aws_cloudwatch_metric_alarm")}
    for composite in composites.values():  # CloudWatch needs the members to exist first
        assert metric_alarms <= set(composite["depends_on"])


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_alerts_go_through_the_regions_own_encrypted_topic(stacks, env, placement):
    stack = stacks[placement.stack]
    (topic_name, topic), = resources(stack, "aws_sns_topic").items()
    assert topic["name"] == f"{placement.stack}-alerts" and topic["kms_master_key_id"]
    local = f"${{aws_sns_topic.{topic_name}.arn}}"
    for alarm in [*resources(stack, "aws_cloudwatch_metric_alarm").values(),
                  *resources(stack, "aws_cloudwatch_composite_alarm").values()]:
        assert set(alarm["alarm_actions"]) <= {local} and set(alarm["ok_actions"]) <= {local}
    (policy,) = resources(stack, "aws_sns_topic_policy").values()
    publish = next(s for s in json.loads(policy["policy"])["Statement"] if s["Sid"] == "ThisRegionsAlarmsPublish")
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Condition"]["ArnLike"]["aws:SourceArn"].endswith(f":alarm:{placement.stack}-*")
    assert f":cloudwatch:{placement.region.name}:" in publish["Condition"]["ArnLike"]["aws:SourceArn"]
    emails = sorted(s["endpoint"] for s in resources(stack, "aws_sns_topic_subscription").values())
    assert emails == sorted(env.observability.alert_emails)


def test_the_logs_key_lets_cloudwatch_publish_alarms_of_its_own_account_and_region(stacks):
    for env in ENVIRONMENTS.values():
        security = stacks[f"{env.name}-security"]
        keys = [*resources(security, "aws_kms_key").values(), *resources(security, "aws_kms_replica_key").values()]
        logs = [k for k in keys if "CloudWatchLogsUse" in k["policy"]]
        assert logs
        for key in logs:
            statement = next(s for s in json.loads(key["policy"])["Statement"] if s["Sid"] == "CloudWatchAlarmsPublish")
            assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
            assert ":cloudwatch:" in statement["Condition"]["ArnLike"]["aws:SourceArn"]


@pytest.mark.parametrize("env", list(ENVIRONMENTS.values()), ids=lambda e: e.name)
def test_the_standby_alerts_when_its_database_falls_behind_by_more_than_the_configured_lag(stacks, env):
    placements = regional_stacks(env)
    for placement in placements:
        data = stacks[f"{placement.stack}-data"]
        alarms = list(resources(data, "aws_cloudwatch_metric_alarm").values())
        if placement.role != "standby":
            assert not alarms  # the metric exists only in the secondary's region
            continue
        (alarm,) = alarms
        assert alarm["alarm_name"] == f"{placement.stack}-data-aurora-replication-lag"
        assert alarm["metric_name"] == "AuroraGlobalDBReplicationLag" and alarm["namespace"] == "AWS/RDS"
        assert alarm["threshold"] == env.observability.database_lag_seconds * 1000
        assert alarm["treat_missing_data"] == "breaching"
        # through the region's own topic, read from its regional stack
        assert alarm["alarm_actions"] == alarm["ok_actions"]
        assert f"cross-stack-reference-input-{placement.stack}." in alarm["alarm_actions"][0]
        assert "aws_sns_topic" in alarm["alarm_actions"][0]
