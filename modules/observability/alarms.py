"""One region's alarms, alerting through the region's own topic: no home region for alerts.

Per load balancer and AZ: unhealthy hosts in its target group, and no healthy host at all (the AZ's
share of that load balancer serves nothing). Per ALB: the 5xx share of requests (answered by the
load balancer or by its targets), p99 target response time, rejected connections. Composite alarms
then say what the failover needs: an AZ is impaired when a load balancer that spans it has no
healthy host there; the region is failing when its primary ALB answers with errors, or when every
AZ is impaired.

The topic is encrypted with the region's logs key, whose policy lets CloudWatch use it for alarms
of this account and region: without that, CloudWatch cannot publish to a CMK-encrypted topic and
the alerts are dropped silently (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
#compatibility-with-aws-services). ELB metric dimensions (LoadBalancer, TargetGroup, AvailabilityZone
as the resources' arn_suffix):
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-cloudwatch-metrics.html
"""

from __future__ import annotations

import json

from constructs import Construct

from environments.schema import ObservabilityConfig
from modules.iam import AccountContext
from modules.observability.naming import alarm_prefix
from modules.providers import aws

PERIOD = 60  # seconds: ELB publishes these metrics every minute


class RegionalAlarms(Construct):
    """The alarms of one region's load balancers, per AZ and per region, and the region's alert topic."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, region: str, load_balancers: dict,
                 config: ObservabilityConfig, logs_key, account: AccountContext, web_acl_name: str = "",
                 prometheus_workspace_arn: str = ""):
        super().__init__(scope, construct_id)
        self.name = name
        self.config = config
        prefix = alarm_prefix(name)
        alarms_arn = f"arn:{account.partition}:cloudwatch:{region}:{account.account_id}:alarm:{prefix}*"
        rules_arn = f"arn:{account.partition}:events:{region}:{account.account_id}:rule/{prefix}*"
        self.topic = aws("sns_topic").SnsTopic(self, "alerts", name=f"{name}-alerts", kms_master_key_id=logs_key.arn)
        self.topic_policy = aws("sns_topic_policy").SnsTopicPolicy(self, "alerts-policy", arn=self.topic.arn, policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": account.root_arn},
                 "Action": ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe",
                            "sns:ListSubscriptionsByTopic", "sns:Publish", "sns:DeleteTopic"],
                 "Resource": self.topic.arn},
                {"Sid": "ThisRegionsAlarmsPublish", "Effect": "Allow",
                 "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
                 "Resource": self.topic.arn,
                 "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id},
                               "ArnLike": {"aws:SourceArn": alarms_arn}}},
                # the data stack's rule on AWS Backup's failed jobs (BackupFailureAlerts)
                {"Sid": "ThisRegionsRulesPublish", "Effect": "Allow",
                 "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish",
                 "Resource": self.topic.arn,
                 "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id},
                               "ArnLike": {"aws:SourceArn": rules_arn}}},
                # the region's Prometheus workspace's alert manager (modules/observability/metrics.py)
                *([{"Sid": "ThisRegionsPrometheusAlerts", "Effect": "Allow",
                    "Principal": {"Service": "aps.amazonaws.com"},
                    "Action": ["sns:GetTopicAttributes", "sns:Publish"], "Resource": self.topic.arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id},
                                  "ArnEquals": {"aws:SourceArn": prometheus_workspace_arn}}}]
                  if prometheus_workspace_arn else []),
            ]}, sort_keys=True))
        for n, address in enumerate(config.alert_emails):
            aws("sns_topic_subscription").SnsTopicSubscription(
                self, f"alert-email-{n}", topic_arn=self.topic.arn, protocol="email", endpoint=address)
        self.zone_alarms: dict[str, list[str]] = {}
        self.metric_alarms: list = []
        self.primary_errors = ""
        for key, lb in sorted(load_balancers.items()):
            self._load_balancer(key, lb)
        if web_acl_name:
            # the web ACL's own metric name is its name (modules/loadbalancing/waf.py), so the WebACL
            # dimension is the same whichever of the two WAF reports under; Rule=ALL sums every rule
            # https://docs.aws.amazon.com/waf/latest/developerguide/waf-metrics.html
            self._alarm("waf-blocked", f"the region's web ACL blocks over {config.waf_blocked_per_minute} requests a "
                        "minute: an attack, or a rule refusing real traffic",
                        namespace="AWS/WAFV2", metric_name="BlockedRequests", statistic="Sum", period=PERIOD,
                        dimensions={"WebACL": web_acl_name, "Rule": "ALL", "Region": region},
                        comparison_operator="GreaterThanThreshold", threshold=config.waf_blocked_per_minute,
                        treat_missing_data="notBreaching")
        self._composites()

    # -- metric alarms ------------------------------------------------------------------------

    def _alarm(self, suffix: str, description: str, *, notify: bool = True, **settings):
        alarm_name = f"{alarm_prefix(self.name)}{suffix}"
        actions = [self.topic.arn] if notify else []
        self.metric_alarms.append(aws("cloudwatch_metric_alarm").CloudwatchMetricAlarm(
            self, suffix, alarm_name=alarm_name, alarm_description=description,
            evaluation_periods=self.config.evaluation_minutes, datapoints_to_alarm=self.config.evaluation_minutes,
            alarm_actions=actions, ok_actions=actions, **settings))
        return alarm_name

    def _load_balancer(self, key: str, lb) -> None:
        namespace = "AWS/NetworkELB" if key == "nlb" else "AWS/ApplicationELB"
        alarm = aws("cloudwatch_metric_alarm")
        for zone in lb.zones:
            dimensions = {"LoadBalancer": lb.arn_suffix, "TargetGroup": lb.target_group_arn_suffix,
                          "AvailabilityZone": zone}
            self._alarm(f"{key}-unhealthy-{zone}", f"{key}: a target in {zone} fails its health check",
                        notify=False, namespace=namespace, metric_name="UnHealthyHostCount", statistic="Maximum",
                        period=PERIOD, comparison_operator="GreaterThanThreshold", threshold=0,
                        dimensions=dimensions, treat_missing_data="notBreaching")
            # no datapoint at all means no target registered there: as impaired as none healthy
            self.zone_alarms.setdefault(zone, []).append(self._alarm(
                f"{key}-no-healthy-{zone}", f"{key}: no healthy target in {zone}", notify=False,
                namespace=namespace, metric_name="HealthyHostCount", statistic="Minimum", period=PERIOD,
                comparison_operator="LessThanThreshold", threshold=1, dimensions=dimensions,
                treat_missing_data="breaching"))
        if key == "nlb":
            return
        errors = self._alarm(
            f"{key}-5xx", f"{key}: over {self.config.lb_5xx_percent:g}% of requests answered 5xx",
            comparison_operator="GreaterThanThreshold", threshold=self.config.lb_5xx_percent,
            treat_missing_data="notBreaching", metric_query=[
                alarm.CloudwatchMetricAlarmMetricQuery(
                    id="share", expression="100 * (FILL(elb, 0) + FILL(targets, 0)) / requests", label="5xx share (%)",
                    return_data=True),
                *(alarm.CloudwatchMetricAlarmMetricQuery(id=qid, metric=alarm.CloudwatchMetricAlarmMetricQueryMetric(
                    namespace=namespace, metric_name=metric, period=PERIOD, stat="Sum",
                    dimensions={"LoadBalancer": lb.arn_suffix}))
                  for qid, metric in (("elb", "HTTPCode_ELB_5XX_Count"), ("targets", "HTTPCode_Target_5XX_Count"),
                                      ("requests", "RequestCount")))])
        if key == "alb-primary":
            self.primary_errors = errors
        self._alarm(f"{key}-p99", f"{key}: p99 response time over {self.config.p99_latency_seconds:g} s",
                    namespace=namespace, metric_name="TargetResponseTime", extended_statistic="p99", period=PERIOD,
                    comparison_operator="GreaterThanThreshold", threshold=self.config.p99_latency_seconds,
                    dimensions={"LoadBalancer": lb.arn_suffix}, treat_missing_data="notBreaching")
        self._alarm(f"{key}-rejected", f"{key}: connections rejected (the load balancer is at its limit)",
                    namespace=namespace, metric_name="RejectedConnectionCount", statistic="Sum", period=PERIOD,
                    comparison_operator="GreaterThanThreshold", threshold=0, dimensions={"LoadBalancer": lb.arn_suffix},
                    treat_missing_data="notBreaching")

    # -- what the failover reads --------------------------------------------------------------

    def _composites(self) -> None:
        """A composite alarm's rule names its members, which CloudWatch needs to exist first: the
        composites depend on them."""
        composite = aws("cloudwatch_composite_alarm")
        prefix = alarm_prefix(self.name)
        self.zone_names: dict[str, str] = {}
        zones = []
        for zone, members in sorted(self.zone_alarms.items()):
            self.zone_names[zone] = f"{prefix}az-{zone}"
            zones.append(composite.CloudwatchCompositeAlarm(
                self, f"az-{zone}", alarm_name=self.zone_names[zone],
                alarm_description=f"{zone} impaired: a load balancer that spans it has no healthy target there",
                alarm_rule=" OR ".join(f'ALARM("{m}")' for m in members),
                alarm_actions=[self.topic.arn], ok_actions=[self.topic.arn], depends_on=self.metric_alarms))
        every_zone = " AND ".join(f'ALARM("{n}")' for n in self.zone_names.values())
        rule = f'ALARM("{self.primary_errors}") OR ({every_zone})' if self.primary_errors else every_zone
        self.region_alarm_name = f"{prefix}region"
        composite.CloudwatchCompositeAlarm(
            self, "region", alarm_name=self.region_alarm_name,
            alarm_description="the region is failing: its primary ALB answers with errors, or every AZ is impaired",
            alarm_rule=rule, alarm_actions=[self.topic.arn], ok_actions=[self.topic.arn],
            depends_on=[*self.metric_alarms, *zones])


class ReplicationLagAlarm(Construct):
    """The standby's Aurora cluster behind the primary by more than ``database_lag_seconds``: the data a
    region failover would lose. The metric exists only in the secondary's region, for its cluster
    (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html),
    so the alarm lives there and alerts through that region's topic. Missing data breaches: a secondary
    that reports no lag is not replicating."""

    def __init__(self, scope: Construct, construct_id: str, *, stack: str, cluster_identifier: str,
                 topic_arn: str, config: ObservabilityConfig):
        super().__init__(scope, construct_id)
        self.alarm = aws("cloudwatch_metric_alarm").CloudwatchMetricAlarm(
            self, "alarm", alarm_name=f"{alarm_prefix(stack)}aurora-replication-lag",
            alarm_description=f"the standby's Aurora cluster is over {config.database_lag_seconds} s behind the primary",
            namespace="AWS/RDS", metric_name="AuroraGlobalDBReplicationLag", statistic="Maximum", period=PERIOD,
            dimensions={"DBClusterIdentifier": cluster_identifier}, comparison_operator="GreaterThanThreshold",
            threshold=config.database_lag_seconds * 1000,  # the metric is in milliseconds
            evaluation_periods=config.evaluation_minutes, datapoints_to_alarm=config.evaluation_minutes,
            treat_missing_data="breaching", alarm_actions=[topic_arn], ok_actions=[topic_arn])


class CacheReplicationLagAlarm(Construct):
    """The standby's cache behind the primary's by more than ``cache_lag_seconds``. ElastiCache publishes
    ``GlobalDatastoreReplicationLag`` (seconds) in the secondary's region, per node (``CacheClusterId``), on
    whichever member is the secondary's primary: the alarm takes the maximum over every member
    (``<group>-001`` and on), so it follows a failover inside the group. No member reporting breaches: a
    secondary that reports no lag is not replicating.
    https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.Redis.html"""

    def __init__(self, scope: Construct, construct_id: str, *, stack: str, members: list[str],
                 topic_arn: str, config: ObservabilityConfig):
        super().__init__(scope, construct_id)
        alarm = aws("cloudwatch_metric_alarm")
        self.alarm = alarm.CloudwatchMetricAlarm(
            self, "alarm", alarm_name=f"{alarm_prefix(stack)}cache-replication-lag",
            alarm_description=f"the standby's cache is over {config.cache_lag_seconds} s behind the primary",
            comparison_operator="GreaterThanThreshold", threshold=config.cache_lag_seconds,
            evaluation_periods=config.evaluation_minutes, datapoints_to_alarm=config.evaluation_minutes,
            treat_missing_data="breaching", alarm_actions=[topic_arn], ok_actions=[topic_arn], metric_query=[
                alarm.CloudwatchMetricAlarmMetricQuery(
                    id="lag", expression=f"MAX([{', '.join(f'm{n}' for n in range(1, len(members) + 1))}])",
                    label="replication lag (s)", return_data=True),
                *(alarm.CloudwatchMetricAlarmMetricQuery(
                    id=f"m{n}", metric=alarm.CloudwatchMetricAlarmMetricQueryMetric(
                        namespace="AWS/ElastiCache", metric_name="GlobalDatastoreReplicationLag", period=PERIOD,
                        stat="Maximum", dimensions={"CacheClusterId": member}))
                  for n, member in enumerate(members, start=1))])


class ReplicationAlarms(Construct):
    """A region's view of its application bucket's replication, through the region's own topic.

    S3 publishes each replication metric in one region only: ``OperationsFailedReplication`` in the
    source bucket's, ``ReplicationLatency`` in the destination's (dimensions SourceBucket,
    DestinationBucket, RuleId; only with replication metrics on the rule, which Replication Time
    Control turns on). So each region watches the copies it sends (any failure alerts) and the copies it
    receives (later than ``replication_latency_seconds``). No datapoint means nothing to replicate.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html#s3-cloudwatch-replication-metrics
    """

    def __init__(self, scope: Construct, construct_id: str, *, stack: str, outgoing: tuple[str, str, str],
                 incoming: tuple[str, str, str], topic_arn: str, config: ObservabilityConfig):
        super().__init__(scope, construct_id)
        alarm = aws("cloudwatch_metric_alarm").CloudwatchMetricAlarm
        actions = {"alarm_actions": [topic_arn], "ok_actions": [topic_arn]}

        def dimensions(rule: tuple[str, str, str]) -> dict:
            source, destination, rule_id = rule
            return {"SourceBucket": source, "DestinationBucket": destination, "RuleId": rule_id}

        self.failed = alarm(
            self, "failed", alarm_name=f"{alarm_prefix(stack)}s3-replication-failed",
            alarm_description=f"objects of {outgoing[0]} failed to replicate to {outgoing[1]}",
            namespace="AWS/S3", metric_name="OperationsFailedReplication", statistic="Sum", period=300,
            dimensions=dimensions(outgoing), comparison_operator="GreaterThanThreshold", threshold=0,
            evaluation_periods=1, datapoints_to_alarm=1, treat_missing_data="notBreaching", **actions)
        self.latency = alarm(
            self, "latency", alarm_name=f"{alarm_prefix(stack)}s3-replication-latency",
            alarm_description=f"objects of {incoming[0]} reach {incoming[1]} over "
                              f"{config.replication_latency_seconds} s late",
            namespace="AWS/S3", metric_name="ReplicationLatency", statistic="Maximum", period=PERIOD,
            dimensions=dimensions(incoming), comparison_operator="GreaterThanThreshold",
            threshold=config.replication_latency_seconds, evaluation_periods=config.evaluation_minutes,
            datapoints_to_alarm=config.evaluation_minutes, treat_missing_data="notBreaching", **actions)


# AWS Backup's job states that lose a recovery point, as EventBridge delivers them
# https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html
BACKUP_FAILED_STATES = ("ABORTED", "EXPIRED", "FAILED")


class BackupFailureAlerts(Construct):
    """A failed, aborted or expired backup or copy job of this environment's resources alerts through the
    region's topic.

    AWS Backup sends each job's state changes to EventBridge in the region of the job (a copy job: the
    source region's); a rule there publishes them to the region's topic (its policy admits this account's
    rules of the stack, and the logs key lets EventBridge use it). The rule matches the jobs of the
    resources this environment backs up (``detail.resourceArn``), not every job of the account: several
    environments share an account. Events, not the AWS/Backup metrics: those come every 5 minutes, only
    when non-zero, and carry no environment. Event fields: the examples of
    https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html
    """

    def __init__(self, scope: Construct, construct_id: str, *, stack: str, resource_arns: list[str], topic_arn: str):
        super().__init__(scope, construct_id)
        self.rule = aws("cloudwatch_event_rule").CloudwatchEventRule(
            self, "rule", name=f"{alarm_prefix(stack)}backup-failed",
            description="a backup or copy job of this environment failed, was aborted or expired",
            event_pattern=json.dumps({
                "source": ["aws.backup"], "detail-type": ["Backup Job State Change", "Copy Job State Change"],
                "detail": {"state": list(BACKUP_FAILED_STATES), "resourceArn": list(resource_arns)}},
                sort_keys=True))
        aws("cloudwatch_event_target").CloudwatchEventTarget(
            self, "topic", rule=self.rule.name, target_id="alerts", arn=topic_arn)
