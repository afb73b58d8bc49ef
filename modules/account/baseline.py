"""One region of the account baseline: guard-rails, threat detection, findings, quotas.

Each piece here exists once per account and region, so it has one owner (the account file) however
many environments share the account. What real AWS enforces, with its source:
- GuardDuty allows one detector per account and region; a second CreateDetector fails.
  Runtime Monitoring with EKS add-on management installs the agent into every EKS cluster of the
  region (the aws-guardduty-agent add-on), which is what EKS protection needs beyond audit logs.
  https://docs.aws.amazon.com/guardduty/latest/ug/guardduty-features-activation-model.html
  https://docs.aws.amazon.com/guardduty/latest/ug/runtime-monitoring-configuration.html
- Security Hub's controls evaluate AWS Config's recorded configuration items: without a recorder in
  the region most AWS Foundational Security Best Practices controls have no data.
  https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-setup-prereqs.html
- AWS Config allows one recorder per account and region; it runs as AWSServiceRoleForConfig, and
  global resources (IAM) are recorded in one region only, or every region reports them.
  https://docs.aws.amazon.com/config/latest/developerguide/select-resources.html
- A Service Quotas request above the default is reviewed by AWS; the value read back is the applied
  quota, so the resource differs until the request is approved (the plan shows the pending value).
  https://docs.aws.amazon.com/servicequotas/latest/userguide/request-quota-increase.html
"""

from __future__ import annotations

from typing import Optional

from constructs import Construct

from environments.schema.account import QUOTAS, AccountConfig
from modules.providers import aws
from modules.stacks.names import physical

# GuardDuty protections, by the detector feature names of hashicorp/aws 5.100.0
# (aws_guardduty_detector_feature). RUNTIME_MONITORING supersedes EKS_RUNTIME_MONITORING; the two are
# not turned on together. https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DetectorFeatureConfiguration.html
GUARDDUTY_FEATURES = ("S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "EBS_MALWARE_PROTECTION", "RDS_LOGIN_EVENTS",
                      "RUNTIME_MONITORING", "LAMBDA_NETWORK_LOGS")
# GuardDuty reports all three agent settings of RUNTIME_MONITORING and the provider stores what it reads, so
# each is declared (the platform runs on EKS only: the EC2 and Fargate agents stay off).
RUNTIME_AGENTS = {"EKS_ADDON_MANAGEMENT": "ENABLED", "ECS_FARGATE_AGENT_MANAGEMENT": "DISABLED",
                  "EC2_AGENT_MANAGEMENT": "DISABLED"}
FSBP = "standards/aws-foundational-security-best-practices/v/1.0.0"


def config_role_arn(account_id: str, partition: str = "aws") -> str:
    return (f"arn:{partition}:iam::{account_id}:role/aws-service-role/config.amazonaws.com/"
            "AWSServiceRoleForConfig")


class RegionBaseline(Construct):
    """Guard-rails and detection of one region of the account."""

    def __init__(self, scope: Construct, construct_id: str, *, account: AccountConfig, region: str, partition: str,
                 config_bucket: str, config_key_arn: str, config_ready: Optional[list] = None, config_role=None):
        super().__init__(scope, construct_id)
        singletons = account.singletons
        home = region == account.home_region
        # EBS encryption by default: every new volume of the region is encrypted (the account's default key
        # unless a launch template names one, as the node groups do).
        aws("ebs_encryption_by_default").EbsEncryptionByDefault(self, "ebs-encryption", enabled=True)
        aws("accessanalyzer_analyzer").AccessanalyzerAnalyzer(
            self, "access-analyzer", analyzer_name=physical(f"{account.name}-{region}", 255), type="ACCOUNT")
        self.detector_id = self._guardduty(singletons.guardduty)
        self.security_hub = None
        if singletons.security_hub == "create":
            self.security_hub = aws("securityhub_account").SecurityhubAccount(
                self, "security-hub", enable_default_standards=False, auto_enable_controls=True,
                control_finding_generator="SECURITY_CONTROL")
        aws("securityhub_standards_subscription").SecurityhubStandardsSubscription(
            self, "fsbp", standards_arn=f"arn:{partition}:securityhub:{region}::{FSBP}",
            depends_on=[self.security_hub] if self.security_hub else None)
        if singletons.config_recorder == "create":
            self._config(account, region, partition, config_bucket, config_key_arn, home, config_role,
                         config_ready or [])
        for name, value in account.requested(region).items():
            quota = QUOTAS[name]
            aws("servicequotas_service_quota").ServicequotasServiceQuota(
                self, f"quota-{name.replace('_', '-')}", service_code=quota.service_code,
                quota_code=quota.quota_code, value=value)

    def _guardduty(self, mode: str) -> str:
        if mode == "create":
            detector = aws("guardduty_detector").GuarddutyDetector(self, "guardduty", enable=True,
                                                                   finding_publishing_frequency="FIFTEEN_MINUTES")
            detector_id = detector.id
        else:
            detector_id = aws("data_aws_guardduty_detector").DataAwsGuarddutyDetector(self, "guardduty").id
        feature = aws("guardduty_detector_feature")
        for name in GUARDDUTY_FEATURES:
            feature.GuarddutyDetectorFeature(
                self, f"guardduty-{name.lower().replace('_', '-')}", detector_id=detector_id, name=name,
                status="ENABLED",
                additional_configuration=[feature.GuarddutyDetectorFeatureAdditionalConfiguration(
                    name=agent, status=status) for agent, status in RUNTIME_AGENTS.items()]
                if name == "RUNTIME_MONITORING"
                else None)
        return detector_id

    def _config(self, account: AccountConfig, region: str, partition: str, bucket: str, key_arn: str, home: bool,
                config_role, ready: list) -> None:
        recorder = aws("config_configuration_recorder").ConfigConfigurationRecorder(
            self, "config-recorder", name=physical(f"{account.name}-{region}", 256),
            role_arn=config_role_arn(account.account_id, partition),
            recording_group={"all_supported": True, "include_global_resource_types": home},
            depends_on=[config_role] if config_role is not None else None)
        # Config writes a test object at PutDeliveryChannel: the bucket, its policy and encryption first (the
        # provider retries only InsufficientDeliveryPolicyException, not NoSuchBucket); the objects are
        # encrypted with the audit key (s3_kms_key_arn: a key in the bucket's region), not SSE-S3.
        channel = aws("config_delivery_channel").ConfigDeliveryChannel(
            self, "config-delivery", name=physical(f"{account.name}-{region}", 256), s3_bucket_name=bucket,
            s3_key_prefix="config", s3_kms_key_arn=key_arn,
            snapshot_delivery_properties={"delivery_frequency": "TwentyFour_Hours"},
            depends_on=[recorder, *ready])
        aws("config_configuration_recorder_status").ConfigConfigurationRecorderStatus(
            self, "config-recording", name=recorder.name, is_enabled=True, depends_on=[channel])
