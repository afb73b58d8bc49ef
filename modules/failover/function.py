"""The Lambda that runs the Region switch plan's custom steps in one region (``<env>-<region>-failover``)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Optional

from constructs import Construct

from modules.assets import deterministic_zip, file_asset
from modules.failover import METRIC_NAME, METRIC_NAMESPACE, function_name
from modules.iam import AccountContext, PolicyStatements, policy_document
from modules.providers import aws
from modules.security.keys import RegionalKey
from modules.security.secrets import secret_arn_pattern

HANDLER = Path(__file__).resolve().parent / "handler" / "handler.py"
RUNTIME = "python3.12"
TIMEOUT_SECONDS = 900  # the cache promotion waits up to 10 min for ElastiCache


def package() -> bytes:
    """The function's zip, byte-identical for identical source."""
    return deterministic_zip({"handler.py": HANDLER.read_bytes()})


class FailoverFunction(Construct):
    """One region's failover steps (modules/failover/handler/handler.py), invoked by the Region switch plan in
    the region being activated, so no step needs the region being left.

    Its role reaches: this region's cache member and the global datastore it belongs to (ElastiCache names
    the datastore with a prefix of its own, so the ARN is matched on the name's end); the RegionInactive
    metric, in any region (the step writes the other region's too); and the Cloudflare token secret in this
    region (the replica in the standby), through Secrets Manager with the secrets key.
    Region switch invokes the function with the plan's execution role (lambda:InvokeFunction there), so no
    resource policy is needed here.
    https://docs.aws.amazon.com/r53recovery/latest/dg/security_iam_region_switch_permissions.html
    """

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str, region: str, regions: list[str],
                 account: AccountContext, cache_group: str, logs_key: RegionalKey, secrets_key: RegionalKey,
                 cloudflare: Optional[dict], log_retention_days: int = 365):
        super().__init__(scope, construct_id)
        name = function_name(env_name, region)
        zipped = package()
        asset_path = file_asset(self, "code", zipped, "failover.zip")
        group = aws("cloudwatch_log_group").CloudwatchLogGroup(
            self, "logs", name=f"/aws/lambda/{name}", retention_in_days=log_retention_days, kms_key_id=logs_key.arn)
        role = aws("iam_role").IamRole(
            self, "role", name=name,
            assume_role_policy=policy_document([{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}}}]))
        prefix = f"arn:{account.partition}:elasticache"
        statements = PolicyStatements([
            {"Sid": "ReadCache", "Effect": "Allow", "Resource": "*",
             "Action": ["elasticache:DescribeReplicationGroups", "elasticache:DescribeGlobalReplicationGroups"]},
            {"Sid": "PromoteCache", "Effect": "Allow",
             "Action": ["elasticache:FailoverGlobalReplicationGroup", "elasticache:DisassociateGlobalReplicationGroup"],
             "Resource": [f"{prefix}::{account.account_id}:globalreplicationgroup:*-{env_name}-cache",
                          f"{prefix}:{region}:{account.account_id}:replicationgroup:{cache_group}"]},
            {"Sid": "RegionInactiveMetric", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
             "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}}},
            {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"{group.arn}:*"},
            {"Sid": "Tracing", "Effect": "Allow", "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
             "Resource": "*"},
        ])
        config = {"env": env_name, "regions": sorted(regions), "cache_group": cache_group,
                  "namespace": METRIC_NAMESPACE, "metric": METRIC_NAME}
        if cloudflare:
            statements.append({"Sid": "CloudflareToken", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                               "Resource": secret_arn_pattern(account, region, env_name, cloudflare["secret"])})
            secrets_key.grant_decrypt(statements, via_service="secretsmanager")
            config.update(cloudflare_account=cloudflare["account"], cloudflare_pools=cloudflare["pools"],
                          cloudflare_token_secret=f"{env_name}/{cloudflare['secret']}")
        aws("iam_role_policy").IamRolePolicy(self, "policy", role=role.id, name="failover-steps",
                                             policy=policy_document(statements))
        self.function = aws("lambda_function").LambdaFunction(
            self, "function", function_name=name, role=role.arn, runtime=RUNTIME,
            handler="handler.handler", filename=asset_path, timeout=TIMEOUT_SECONDS, memory_size=128,
            source_code_hash=base64.b64encode(hashlib.sha256(zipped).digest()).decode(),
            tracing_config={"mode": "Active"}, depends_on=[group],
            environment={"variables": {"FAILOVER_CONFIG": json.dumps(config, sort_keys=True, separators=(",", ":"))}},
            description="The Region switch plan's custom steps: promote the cache, turn both DNS providers")
        self.arn: str = self.function.arn
