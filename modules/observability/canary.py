"""One region's canary: every load-balanced name requested through this region's own load balancers.

Route53's endpoint checks call each load balancer by its AWS name, on the gateway's health path: they
see a load balancer that answers, not a platform that serves. The canary (CloudWatch Synthetics, a
Lambda the service runs on a schedule) requests each public name through ``<region>.failover.<name>``
(the region's own chain of load balancers) with the public name's TLS certificate checked, on
``observability.canary_path``. Its alarm on ``SuccessPercent`` is what Route53 reads to take out a
region that answers but fails (modules/dns/route53.py).

What real AWS asks for, and where it is written:
- Route53 reads only alarms on one standard-resolution metric with a plain statistic, and no "M out
  of N" alarm: ``datapoints_to_alarm`` equals ``evaluation_periods`` and the period is the canary's
  rate (one datapoint per run). https://docs.aws.amazon.com/Route53/latest/APIReference/API_AlarmIdentifier.html
- The execution role: results to the artifact bucket, logs to ``/aws/lambda/cwsyn-<name>-*``, metrics
  in the ``CloudWatchSynthetics`` namespace only; with SSE-KMS artifacts, the key through S3 in this
  region. https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Canaries_CanaryPermissions.html
- ``start_canary`` (off by default: a canary that never runs publishes nothing) and ``delete_lambda``
  (off by default: a destroy would leave the function and its layer behind).
- The provider does not notice a changed zip (no source hash): the zip's path carries its content hash,
  so a new script is a new path. https://github.com/hashicorp/terraform-provider-aws/issues/18089
- A canary's name: modules/observability/naming.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cdktf import Fn
from constructs import Construct

from environments.schema import ObservabilityConfig
from modules.assets import deterministic_zip, file_asset
from modules.iam import AccountContext, PolicyStatements, policy_document
from modules.loadbalancing.access_logs import deny_insecure_transport, expiring_lifecycle, private_versioned
from modules.observability.naming import (canary_alarm_name, canary_alarm_settings, canary_name,
                                          peer_canary_alarm_name, peer_canary_name)
from modules.providers import aws
from modules.security.keys import RegionalKey

SCRIPT = Path(__file__).resolve().parent / "canary_code" / "spofless_canary.py"
HANDLER = "spofless_canary.handler"
TIMEOUT_SECONDS = 10  # each request; the run's own timeout allows every target
ARTIFACT_DAYS = 14


def rate(minutes: int) -> str:
    """The schedule in the form AWS returns (it rewrites others)."""
    return "rate(1 minute)" if minutes == 1 else f"rate({minutes} minutes)"


def package() -> bytes:
    """The canary's zip (``python/spofless_canary.py``, the layout Python runtimes load), byte-identical
    for identical source."""
    return deterministic_zip({"python/spofless_canary.py": SCRIPT.read_bytes()})


class RegionalCanary(Construct):
    """The canaries of one region, their private encrypted artifact bucket, their role and their alarms.

    ``targets``: this region's own failover names (the canary whose alarm Route53 reads). ``peer_targets``:
    the other region's, requested from here (the peer canary): when a whole region is lost, its own alarms
    and topic are lost with it, so the region that survives must be the one to say so. Its alarm only
    alerts; Route53 never reads it (one region's view of the other must not take either out)."""

    def __init__(self, scope: Construct, construct_id: str, *, stack: str, region: str, bucket_name: str,
                 targets: list[dict], config: ObservabilityConfig, storage_key: RegionalKey, topic_arn: str,
                 account: AccountContext, log_bucket_id: str, log_bucket_policy, name_servers,
                 peer_targets: list[dict] = ()):
        super().__init__(scope, construct_id)
        self.name = canary_name(stack)
        self.alarm_name = canary_alarm_name(stack)
        self.period = config.canary_minutes * 60
        self.config, self.topic_arn, self.bucket_name, self.storage_key = config, topic_arn, bucket_name, storage_key
        # the failover names exist only in Route53 (the zone is served by Cloudflare too): the canary asks
        # the zone's Route53 name servers for them
        self.name_servers = Fn.jsonencode(name_servers)
        names = [self.name] + ([peer_canary_name(stack)] if peer_targets else [])
        bucket = aws("s3_bucket").S3Bucket(self, "bucket", bucket=bucket_name, force_destroy=False)
        private_versioned(self, bucket.id)
        sse = aws("s3_bucket_server_side_encryption_configuration")
        sse.S3BucketServerSideEncryptionConfigurationA(
            self, "encryption", bucket=bucket.id,
            rule=[sse.S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default={"sse_algorithm": "aws:kms",
                                                         "kms_master_key_id": storage_key.arn},
                bucket_key_enabled=True)])
        expiring_lifecycle(self, bucket.id, rule_id="expire-canary-results", days=ARTIFACT_DAYS, noncurrent_days=1)
        aws("s3_bucket_notification").S3BucketNotification(self, "events", bucket=bucket.id, eventbridge=True)
        aws("s3_bucket_logging").S3BucketLoggingA(
            self, "logging", bucket=bucket.id, target_bucket=log_bucket_id, target_prefix=f"s3/{bucket_name}/",
            depends_on=[log_bucket_policy])
        aws("s3_bucket_policy").S3BucketPolicy(self, "policy", bucket=bucket.id,
                                              policy=policy_document([deny_insecure_transport(bucket.arn)]))
        role = aws("iam_role").IamRole(
            self, "role", name=f"{stack}-canary",
            assume_role_policy=policy_document([{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}}}]))
        statements = PolicyStatements([
            {"Sid": "Results", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": f"{bucket.arn}/*"},
            {"Sid": "ResultsBucket", "Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": bucket.arn},
            {"Sid": "ListBuckets", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
            {"Sid": "Logs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [f"arn:{account.partition}:logs:{region}:{account.account_id}:log-group:"
                          f"/aws/lambda/cwsyn-{name}-*" for name in names]},
            {"Sid": "Metrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
             "Condition": {"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}}},
        ])
        storage_key.grant_encrypt_decrypt(statements, via_service="s3")
        policy = aws("iam_role_policy").IamRolePolicy(
            self, "role-policy", role=role.id, name="canary", policy=policy_document(statements))
        zipped = package()
        # the file name carries the content hash: the provider notices a new script by its new path
        self.code = file_asset(self, "code", zipped, f"canary-{hashlib.sha256(zipped).hexdigest()[:16]}.zip")
        self.role_arn, self.policy = role.arn, policy
        self.canary, self.alarm = self._canary(
            "", self.name, targets, self.alarm_name,
            "the region's canary fails: a load-balanced name does not answer 200-399 through this region's load "
            "balancers (Route53 takes the region out)")
        if peer_targets:
            self.peer, self.peer_alarm = self._canary(
                "peer-", peer_canary_name(stack), list(peer_targets), peer_canary_alarm_name(stack),
                "the other region's platform names fail through its own load balancers, seen from this region (its "
                "own alarms may be lost with it)")

    def _canary(self, prefix: str, name: str, targets: list[dict], alarm_name: str, description: str):
        config = self.config
        canary = aws("synthetics_canary").SyntheticsCanary(
            # results land under canary/<region>/<name>/ of the location: both canaries share the bucket
            self, f"{prefix}canary", name=name, artifact_s3_location=f"s3://{self.bucket_name}/",
            execution_role_arn=self.role_arn, handler=HANDLER, runtime_version=config.canary_runtime,
            zip_file=self.code, start_canary=True, delete_lambda=True,
            schedule={"expression": rate(config.canary_minutes)},
            run_config={"timeout_in_seconds": min(self.period, TIMEOUT_SECONDS * max(1, len(targets)) + 10),
                        "environment_variables": {
                            "SPOFLESS_NAMESERVERS": self.name_servers,
                            "SPOFLESS_TARGETS": json.dumps(targets, sort_keys=True, separators=(",", ":")),
                            "SPOFLESS_TIMEOUT": str(TIMEOUT_SECONDS)}},
            artifact_config={"s3_encryption": {"encryption_mode": "SSE_KMS", "kms_key_arn": self.storage_key.arn}},
            success_retention_period=ARTIFACT_DAYS, failure_retention_period=ARTIFACT_DAYS,
            depends_on=[self.policy])
        # one datapoint per run: the period is the rate, and Route53 refuses "M out of N"
        alarm = aws("cloudwatch_metric_alarm").CloudwatchMetricAlarm(
            self, f"{prefix}alarm", alarm_name=alarm_name, alarm_description=description,
            namespace="CloudWatchSynthetics", metric_name="SuccessPercent", dimensions={"CanaryName": name},
            comparison_operator="LessThanThreshold", **canary_alarm_settings(config.canary_minutes,
                                                                              config.evaluation_minutes),
            # a canary that stops reporting (its region is lost, or it was stopped) counts as failing
            treat_missing_data="breaching", alarm_actions=[self.topic_arn], ok_actions=[self.topic_arn])
        return canary, alarm
