"""The environment's ARC Region switch plan, generated from the same configuration as the platform.

hashicorp/aws 5.100.0 (the provider this project pins) has no Region switch resource (it came with 6.29.0),
so the plan travels as a CloudFormation stack holding one ``AWS::ARCRegionSwitch::Plan``. What that costs:
Terraform sees the stack, not the plan (a change made to the plan in the console shows only in
CloudFormation's drift detection), and the deployer needs CloudFormation rights. What it keeps: one apply,
the plan's properties validated against AWS's published resource schema (policies/schemas) before anything
is deployed, and no second tool.

Each region has an ``activate`` workflow (failover to the standby, and back):

1. ``approve`` (without ``failover.automatic``): a person with the approver role confirms.
2. ``data`` (parallel): the Aurora global database's switchover (graceful run; an ungraceful run fails over
   and may lose the last seconds, Region switch's ``Ungraceful: failover``; an automatic plan always fails
   over, see below), and the ElastiCache global datastore's promotion (a custom step: Region switch has no
   ElastiCache block).
3. ``dns``: both DNS providers answer the region being activated, also when the region being left still
   answers its health checks (a switchover, or a failure DNS cannot see): Route53 through each region's
   RegionInactive alarm, a child of its health check; Cloudflare through its pools.

The custom steps run in the region being activated (``RegionToRun: activatingRegion``, a function in each
region), so no step needs the region being left. Region switch skips Lambda steps in an ungraceful run
(https://docs.aws.amazon.com/r53recovery/latest/dg/custom-action-lambda-block.html): a plan the standby's
alarm triggers therefore fails over Aurora in a graceful run, so that the cache and DNS steps run too, and
``spofless failover`` makes the custom steps itself after an ungraceful run it started. The standby's cluster needs no step: it runs at the
primary's size and its own engine reconciles it at all times (modules/gitops/engines.py).
Plans are managed through us-east-1 (ARC's control plane) and run from the region being activated.
https://docs.aws.amazon.com/r53recovery/latest/dg/region-switch.html
https://docs.aws.amazon.com/r53recovery/latest/dg/security_iam_region_switch_permissions.html
"""

from __future__ import annotations

import json
from typing import Optional

from constructs import Construct

from environments.schema import EnvironmentConfig
from modules.data import cluster_name, global_cluster_name
from modules.failover import function_name, plan_name, plan_stack_name
from modules.iam import policy_document
from modules.providers import aws

PLAN_TYPE = "AWS::ARCRegionSwitch::Plan"
AURORA_TIMEOUT_MINUTES = 30
CACHE_TIMEOUT_MINUTES = 20
DNS_TIMEOUT_MINUTES = 10


def _lambda_step(name: str, description: str, env: EnvironmentConfig, account: str, partition: str, action: str,
                 timeout: int) -> dict:
    payload = json.dumps({"action": action}, sort_keys=True)
    return {"Name": name, "Description": description, "ExecutionBlockType": "CustomActionLambda",
            "ExecutionBlockConfiguration": {"CustomActionLambdaConfig": {
                "Lambdas": [{"Arn": f"arn:{partition}:lambda:{r.name}:{account}:function:{function_name(env.name, r.name)}",
                             "Payload": payload} for r in env.regions.all],
                "RegionToRun": "activatingRegion", "RetryIntervalMinutes": 1, "TimeoutMinutes": timeout}}}


def plan_properties(env: EnvironmentConfig, *, partition: str, execution_role_arn: str,
                    approval_role_arn: Optional[str], alarms: dict[str, str]) -> dict:
    """The plan's CloudFormation properties (pure: the rule and the tests read the same shape).
    ``alarms``: region -> ARN of the alarm that says that region's platform names fail, seen from the other
    region (the trigger of an automatic plan)."""
    account = env.account_id
    regions = [r.name for r in env.regions.all]
    failover = env.failover
    workflows = []
    for target in regions:
        steps = []
        if not failover.automatic:
            steps.append({"Name": "approve", "Description": f"A person confirms the move to {target}",
                          "ExecutionBlockType": "ManualApproval",
                          "ExecutionBlockConfiguration": {"ExecutionApprovalConfig": {
                              "ApprovalRole": approval_role_arn,
                              "TimeoutMinutes": failover.approval_timeout_minutes}}})
        data = [{"Name": "aurora", "Description": "The Aurora global database's writer moves to the region activated",
                 "ExecutionBlockType": "AuroraGlobalDatabase",
                 "ExecutionBlockConfiguration": {"GlobalAuroraConfig": {
                     # A trigger's run must finish when the region left is gone, with the custom steps (Region
                     # switch skips Lambda steps in an ungraceful run): an automatic plan fails over even in a
                     # graceful run (RPO: the replication lag). A plan a person starts switches over (nothing
                     # lost) and fails over in an ungraceful run.
                     "Behavior": "failover" if failover.automatic else "switchoverOnly",
                     "Ungraceful": {"Ungraceful": "failover"},
                     "GlobalClusterIdentifier": global_cluster_name(env.name),
                     "DatabaseClusterArns": [f"arn:{partition}:rds:{r}:{account}:cluster:{cluster_name(env.name, r)}"
                                             for r in regions],
                     "TimeoutMinutes": AURORA_TIMEOUT_MINUTES}}},
                _lambda_step("cache", "The ElastiCache global datastore's primary moves to the region activated",
                             env, account, partition, "promote-cache", CACHE_TIMEOUT_MINUTES)]
        steps.append({"Name": "data", "Description": "Every global store moves at once",
                      "ExecutionBlockType": "Parallel", "ExecutionBlockConfiguration": {"ParallelConfig": {"Steps": data}}})
        steps.append(_lambda_step("dns", "Route53 and Cloudflare answer the region activated", env, account, partition,
                                  "dns", DNS_TIMEOUT_MINUTES))
        workflows.append({"WorkflowTargetAction": "activate", "WorkflowTargetRegion": target,
                          "WorkflowDescription": f"Serve {env.name} from {target}", "Steps": steps})
    properties = {
        "Name": plan_name(env.name), "Description": f"{env.name}: the data tier and both DNS providers move regions",
        "Regions": regions, "PrimaryRegion": env.regions.primary.name, "RecoveryApproach": "activePassive",
        "ExecutionRole": execution_role_arn,
        "RecoveryTimeObjectiveMinutes": failover.recovery_time_objective_minutes,
        "Workflows": workflows,
        "Tags": {"Environment": env.name, "ManagedBy": "spofless"},
    }
    if failover.automatic and alarms:
        standby = env.regions.standby.name
        properties["AssociatedAlarms"] = {f"{region}-names-failing": {"AlarmType": "trigger", "ResourceIdentifier": arn}
                                          for region, arn in sorted(alarms.items())}
        # only toward the standby: coming back is a decision, made with `spofless failover --to <primary>`
        properties["Triggers"] = [{
            "Description": f"The primary's names fail as seen from {standby}",
            "Action": "activate", "TargetRegion": standby,
            "Conditions": [{"AssociatedAlarmName": f"{env.regions.primary.name}-names-failing", "Condition": "red"}],
            "MinDelayMinutesBetweenExecutions": failover.min_minutes_between_runs}]
    return properties


def template(properties: dict) -> str:
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09",
                       "Description": "spofless: the environment's Region switch plan",
                       "Resources": {"Plan": {"Type": PLAN_TYPE, "Properties": properties}},
                       "Outputs": {"PlanArn": {"Value": {"Fn::GetAtt": ["Plan", "Arn"]}}}},
                      sort_keys=True, separators=(",", ":"))


class RegionSwitchPlan(Construct):
    """The plan, its execution role and (without ``failover.automatic``) the role that approves a run."""

    def __init__(self, scope: Construct, construct_id: str, *, env: EnvironmentConfig, partition: str,
                 alarms: dict[str, str], depends_on: Optional[list] = None):
        super().__init__(scope, construct_id)
        account = env.account_id
        name = plan_name(env.name)
        regions = [r.name for r in env.regions.all]
        # a plan's ARN is plan/<name>:<suffix> (the resource schema's Arn pattern)
        plan_arn = [f"arn:{partition}:arc-region-switch::{account}:plan/{name}",
                    f"arn:{partition}:arc-region-switch::{account}:plan/{name}:*"]
        # the trust policy AWS documents for the execution role (no condition keys documented for this service)
        # https://docs.aws.amazon.com/r53recovery/latest/dg/security_iam_region_switch_trust_policy.html
        role = aws("iam_role").IamRole(
            self, "execution-role", name=f"{env.name}-region-switch",
            assume_role_policy=policy_document([{
                "Effect": "Allow", "Principal": {"Service": "arc-region-switch.amazonaws.com"},
                "Action": "sts:AssumeRole"}]))
        rds = f"arn:{partition}:rds"
        statements = [
            {"Sid": "ReadDatabases", "Effect": "Allow", "Resource": "*",
             "Action": ["rds:DescribeGlobalClusters", "rds:DescribeDBClusters"]},
            {"Sid": "MoveTheGlobalDatabase", "Effect": "Allow",
             "Action": ["rds:FailoverGlobalCluster", "rds:SwitchoverGlobalCluster"],
             "Resource": [f"{rds}::{account}:global-cluster:{global_cluster_name(env.name)}"]
             + [f"{rds}:{r}:{account}:cluster:{cluster_name(env.name, r)}" for r in regions]},
            {"Sid": "RunTheSteps", "Effect": "Allow", "Action": ["lambda:GetFunction", "lambda:InvokeFunction"],
             "Resource": [f"arn:{partition}:lambda:{r}:{account}:function:{function_name(env.name, r)}" for r in regions]},
            {"Sid": "ReadTheAlarms", "Effect": "Allow", "Resource": "*",
             "Action": ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory", "cloudwatch:GetMetricStatistics"]},
            {"Sid": "ReadThePlan", "Effect": "Allow", "Resource": plan_arn,
             "Action": ["arc-region-switch:GetPlan", "arc-region-switch:GetPlanExecution",
                        "arc-region-switch:ListPlanExecutions"]},
            {"Sid": "CheckOwnRights", "Effect": "Allow", "Action": "iam:SimulatePrincipalPolicy",
             "Resource": f"arn:{partition}:iam::{account}:role/{env.name}-region-switch"},
        ]
        if env.failover.automatic:
            statements.append({"Sid": "StartOnTrigger", "Effect": "Allow", "Resource": plan_arn,
                               "Action": ["arc-region-switch:StartPlanExecution"]})
        policy = aws("iam_role_policy").IamRolePolicy(self, "execution-policy", role=role.id, name="run-the-plan",
                                                      policy=policy_document(statements))
        approval_arn = None
        if not env.failover.automatic:
            # who approves: any principal of this account allowed to assume this role, with MFA
            approver = aws("iam_role").IamRole(
                self, "approval-role", name=f"{env.name}-region-switch-approver",
                assume_role_policy=policy_document([{
                    "Effect": "Allow", "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                    "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]))
            aws("iam_role_policy").IamRolePolicy(self, "approval-policy", role=approver.id, name="approve-a-run",
                                                 policy=policy_document([{
                                                     "Sid": "ApproveRuns", "Effect": "Allow", "Resource": plan_arn,
                                                     "Action": ["arc-region-switch:ApprovePlanExecutionStep",
                                                                "arc-region-switch:GetPlanExecution",
                                                                "arc-region-switch:ListPlanExecutions"]}]))
            approval_arn = approver.arn
        self.properties = plan_properties(env, partition=partition, execution_role_arn=role.arn,
                                          approval_role_arn=approval_arn, alarms=alarms)
        self.stack = aws("cloudformation_stack").CloudformationStack(
            self, "plan", name=plan_stack_name(env.name), template_body=template(self.properties),
            on_failure="ROLLBACK", depends_on=[policy, *(depends_on or [])])
        self.arn = self.stack.outputs.lookup("PlanArn")
