"""Fault-injection templates (AWS FIS) for one region, generated from the model, so a team can run the drill for
real: an AZ power interruption for each AZ, and (multi-region) the loss of connectivity to the other region.

Every template stops when the region's canary alarm goes into ALARM (every platform name requested through this
region's own load balancers): the platform is designed to serve through these failures, so an alarm means it
does not and the experiment ends (its actions roll back: instances start, network ACLs are removed).

- **AZ power interruption** (AWS's "AZ Availability: Power Interruption" scenario, on this platform's resources):
  the on-demand nodes of the AZ stop for 30 minutes, its spot nodes get their two-minute interruption notice,
  every subnet of the AZ loses its network (all traffic, 30 minutes), the cache's nodes in the AZ lose power,
  and in the primary region Aurora fails over (its writer may be in the AZ).
  https://docs.aws.amazon.com/fis/latest/userguide/az-availability-scenario.html
- **Cross-region connectivity** (AWS's "Cross-Region: Connectivity" scenario): the region's private subnets can
  reach nothing in the other region, and S3 replication toward it pauses, for an hour. Before the first run, the
  account's "Routes per route table" quota must allow 250 more routes (350 when the other region is us-east-1).
  https://docs.aws.amazon.com/fis/latest/userguide/cross-region-scenario.html

Targets are found at run time: the nodes by their node group's tag (EKS tags each instance
``eks:nodegroup-name``) and the AZ; subnets by ARN or by the ``Tier`` tag inside this VPC; buckets by the tag
AWS Backup's selection uses. A target that resolves to nothing is skipped (``empty_target_resolution_mode``).
Action and target names: https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
"""

from __future__ import annotations

from typing import Optional

from constructs import Construct

from modules.iam import PolicyStatements, policy_document
from modules.providers import aws
from modules.security.keys import RegionalKey

MANAGED_POLICIES = ("AWSFaultInjectionSimulatorEC2Access", "AWSFaultInjectionSimulatorNetworkAccess",
                    "AWSFaultInjectionSimulatorRDSAccess")
POWER_MINUTES = 30
CROSS_REGION_MINUTES = 60


def _minutes(value: int) -> str:
    return f"PT{value}M"


class FaultExperiments(Construct):
    """The region's experiment templates, their role and their log group."""

    def __init__(self, scope: Construct, construct_id: str, *, stack: str, region: str, account_id: str,
                 partition: str, zones: tuple[str, ...], subnets_by_zone: dict[str, list[str]], vpc_id: str,
                 node_groups: dict[str, str], cluster_arn: Optional[str], cache_arn: Optional[str],
                 stop_alarm_arn: str, logs_key: RegionalKey, storage_key: RegionalKey,
                 other_region: Optional[str], bucket_tag: tuple[str, str], log_retention_days: int = 365):
        super().__init__(scope, construct_id)
        experiments = f"arn:{partition}:fis:{region}:{account_id}:experiment/*"
        group = aws("cloudwatch_log_group").CloudwatchLogGroup(
            self, "logs", name=f"/aws/fis/{stack}", retention_in_days=log_retention_days, kms_key_id=logs_key.arn)
        role = aws("iam_role").IamRole(
            self, "role", name=f"{stack}-fis",
            assume_role_policy=policy_document([{
                "Effect": "Allow", "Principal": {"Service": "fis.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id},
                              "ArnLike": {"aws:SourceArn": experiments}}}]))
        attachments = [aws("iam_role_policy_attachment").IamRolePolicyAttachment(
            self, f"managed-{name}", role=role.name, policy_arn=f"arn:{partition}:iam::aws:policy/service-role/{name}")
            for name in MANAGED_POLICIES]
        statements = PolicyStatements([
            # the experiment log, delivered as vended logs
            # https://docs.aws.amazon.com/fis/latest/userguide/monitoring-logging.html
            {"Sid": "ExperimentLog", "Effect": "Allow", "Resource": "*",
             "Action": ["logs:CreateLogDelivery", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
                        "logs:DescribeLogGroups"]},
            {"Sid": "FindTargets", "Effect": "Allow", "Action": "tag:GetResources", "Resource": "*"},
        ])
        if cache_arn:
            statements.append({"Sid": "CachePower", "Effect": "Allow", "Resource": cache_arn,
                               "Action": ["elasticache:InterruptClusterAzPower", "elasticache:DescribeReplicationGroups"]})
        if other_region:
            statements += [
                {"Sid": "PauseReplication", "Effect": "Allow", "Action": ["s3:PauseReplication", "s3:ListAllMyBuckets"],
                 "Resource": "*"},
                {"Sid": "ReplicationPause", "Effect": "Allow", "Resource": "*",
                 "Action": ["s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration"],
                 "Condition": {"BoolIfExists": {"s3:IsReplicationPauseRequest": "true"}}}]
        # stopped nodes start again on encrypted volumes: EC2 needs a grant on the storage key
        statements.append({"Sid": "RestartEncryptedNodes", "Effect": "Allow", "Action": "kms:CreateGrant",
                           "Resource": storage_key.arn,
                           "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}})
        policy = aws("iam_role_policy").IamRolePolicy(self, "policy", role=role.id, name="fault-injection",
                                                      policy=policy_document(statements))
        # the blocks given as lists of dicts (targets, actions) pass to jsii as they are: camelCase keys
        self._template = aws("fis_experiment_template")
        self._common = dict(
            role_arn=role.arn,
            stop_condition=[{"source": "aws:cloudwatch:alarm", "value": stop_alarm_arn}],
            log_configuration={"log_schema_version": 2,
                               "cloudwatch_logs_configuration": {"log_group_arn": f"{group.arn}:*"}},
            experiment_options={"account_targeting": "single-account", "empty_target_resolution_mode": "skip"},
            depends_on=[policy, *attachments, group])
        subnet_arn = lambda subnet: f"arn:{partition}:ec2:{region}:{account_id}:subnet/{subnet}"  # noqa: E731
        for zone in zones:
            self._az_power(stack, zone, [subnet_arn(s) for s in subnets_by_zone.get(zone, [])], node_groups,
                           cluster_arn, cache_arn)
        if other_region:
            self._cross_region(stack, region, other_region, vpc_id, bucket_tag)

    def _az_power(self, stack: str, zone: str, subnet_arns: list[str], node_groups: dict[str, str],
                  cluster_arn: Optional[str], cache_arn: Optional[str]) -> None:
        in_zone = [{"path": "Placement.AvailabilityZone", "values": [zone]}, {"path": "State.Name", "values": ["running"]}]
        targets = [
            {"name": "OnDemandNodes", "resourceType": "aws:ec2:instance", "selectionMode": "ALL",
             "resourceTag": [{"key": "eks:nodegroup-name", "value": node_groups["ON_DEMAND"]}], "filter": in_zone},
            {"name": "SpotNodes", "resourceType": "aws:ec2:spot-instance", "selectionMode": "ALL",
             "resourceTag": [{"key": "eks:nodegroup-name", "value": node_groups["SPOT"]}], "filter": in_zone},
            {"name": "Subnets", "resourceType": "aws:ec2:subnet", "selectionMode": "ALL", "resourceArns": subnet_arns},
        ]
        actions = [
            {"name": "stop-on-demand-nodes", "actionId": "aws:ec2:stop-instances",
             "description": "The AZ's on-demand nodes lose power; they start again after the interruption",
             "parameter": [{"key": "startInstancesAfterDuration", "value": _minutes(POWER_MINUTES)},
                           {"key": "completeIfInstancesTerminated", "value": "true"}],
             "target": {"key": "Instances", "value": "OnDemandNodes"}},
            {"name": "interrupt-spot-nodes", "actionId": "aws:ec2:send-spot-instance-interruptions",
             "description": "The AZ's spot nodes get their two-minute notice",
             "parameter": [{"key": "durationBeforeInterruption", "value": "PT2M"}],
             "target": {"key": "SpotInstances", "value": "SpotNodes"}},
            {"name": "cut-the-network", "actionId": "aws:network:disrupt-connectivity",
             "description": "Every subnet of the AZ: no traffic in or out",
             "parameter": [{"key": "duration", "value": _minutes(POWER_MINUTES)}, {"key": "scope", "value": "all"}],
             "target": {"key": "Subnets", "value": "Subnets"}},
        ]
        if cluster_arn:
            # fails over only while the writer is in this AZ, as a power loss there would
            targets.append({"name": "Database", "resourceType": "aws:rds:cluster", "selectionMode": "ALL",
                            "resourceArns": [cluster_arn], "parameters": {"writerAvailabilityZoneIdentifiers": zone}})
            actions.append({"name": "fail-over-the-database", "actionId": "aws:rds:failover-db-cluster",
                            "description": "Aurora's writer, if in the AZ, moves to a reader in another AZ",
                            "target": {"key": "Clusters", "value": "Database"}})
        if cache_arn:
            targets.append({"name": "Cache", "resourceType": "aws:elasticache:replicationgroup",
                            "selectionMode": "ALL", "resourceArns": [cache_arn],
                            "parameters": {"availabilityZoneIdentifier": zone}})
            actions.append({"name": "cut-the-cache-power", "actionId": "aws:elasticache:replicationgroup-interrupt-az-power",
                            "description": "The cache's nodes in the AZ lose power; a replica elsewhere is promoted",
                            "parameter": [{"key": "duration", "value": _minutes(POWER_MINUTES)}],
                            "target": {"key": "ReplicationGroups", "value": "Cache"}})
        self._template.FisExperimentTemplate(
            self, f"az-power-{zone}", description=f"{stack}: power interruption of {zone} ({POWER_MINUTES} min)",
            target=targets, action=actions, tags={"Name": f"{stack}-az-power-{zone}"}, **self._common)

    def _cross_region(self, stack: str, region: str, other: str, vpc_id: str, bucket_tag: tuple[str, str]) -> None:
        self._template.FisExperimentTemplate(
            self, "cross-region", description=f"{stack}: no connectivity from {region} to {other} "
                                              f"({CROSS_REGION_MINUTES} min)",
            target=[{"name": "PrivateSubnets", "resourceType": "aws:ec2:subnet", "selectionMode": "ALL",
                     "resourceTag": [{"key": "Tier", "value": "private"}],
                     "filter": [{"path": "VpcId", "values": [vpc_id]}]},
                    {"name": "Buckets", "resourceType": "aws:s3:bucket", "selectionMode": "ALL",
                     "resourceTag": [{"key": bucket_tag[0], "value": bucket_tag[1]}]}],
            action=[{"name": "cut-cross-region-routes", "actionId": "aws:network:route-table-disrupt-cross-region-connectivity",
                     "description": f"The private subnets reach nothing in {other}",
                     "parameter": [{"key": "region", "value": other},
                                   {"key": "duration", "value": _minutes(CROSS_REGION_MINUTES)}],
                     "target": {"key": "Subnets", "value": "PrivateSubnets"}},
                    {"name": "pause-replication", "actionId": "aws:s3:bucket-pause-replication",
                     "description": f"S3 replication toward {other} pauses",
                     "parameter": [{"key": "region", "value": other},
                                   {"key": "duration", "value": _minutes(CROSS_REGION_MINUTES)}],
                     "target": {"key": "Buckets", "value": "Buckets"}}],
            tags={"Name": f"{stack}-cross-region"}, **self._common)
