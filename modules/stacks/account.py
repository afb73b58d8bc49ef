"""``account-<name>-<region>``: the account baseline of one region, the home region's with the account-wide pieces."""

from __future__ import annotations

from typing import Optional

from constructs import Construct

from environments.schema.account import AccountConfig
from modules.account.audit import AuditTrail, config_bucket_name
from modules.account.baseline import RegionBaseline
from modules.iam import AccountContext
from modules.outputs import stack_output
from modules.providers import aws
from modules.stacks.base import SpoflessStack

AUTOSCALING_ROLE = "AWSServiceRoleForAutoScaling"


class AccountStack(SpoflessStack):
    """Guard-rails, threat detection and quotas of one region of an account.

    The home region's stack also holds what is global to the account: the service-linked roles the
    environments' key policies and the Config recorders name, the S3 account public access block, the
    multi-region trail with its bucket and that bucket's replica (a second, aliased provider, so the
    pairing is visible in one place, as the keys' are), and the Security Hub findings aggregator.
    Every environment of the account depends on its region's baseline stack (``spofless deploy``
    applies the baseline first) and creates none of these.
    """

    def __init__(self, scope: Construct, stack_id: str, *, account: AccountConfig, region: str,
                 home: Optional["AccountStack"] = None):
        super().__init__(scope, stack_id, env=account)
        self.account = account
        self.region = region
        self.home = region == account.home_region
        provider = self.aws_provider(region)
        context = AccountContext(self, "account", provider=provider)
        config_role = None
        self.trail = None
        if self.home:
            _, self.autoscaling_role_arn = self._service_linked_role(
                "autoscaling-role", "autoscaling.amazonaws.com", AUTOSCALING_ROLE, account.singletons.autoscaling_role,
                "Launches EKS node-group instances; the environments' storage key policies name it")
            if account.singletons.config_recorder == "create":
                config_role, _ = self._service_linked_role(
                    "config-role", "config.amazonaws.com", "AWSServiceRoleForConfig", account.singletons.config_role,
                    "AWS Config recorders of every region")
            # S3 Block Public Access for the whole account: no bucket of any environment can be made public.
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
            aws("s3_account_public_access_block").S3AccountPublicAccessBlock(
                self, "s3-public-access", block_public_acls=True, block_public_policy=True, ignore_public_acls=True,
                restrict_public_buckets=True)
            replica = account.trail_replica_region
            self.trail = AuditTrail(self, "audit", account=account, context=context, home_provider=None,
                                    replica_provider=self.aws_provider(replica, alias="replica") if replica else None)
        # every region's AWS Config delivers to the home region's Config bucket, under the home audit key
        trail = self.trail if self.home else home.trail
        self.baseline = RegionBaseline(self, "baseline", account=account, region=region,
                                       partition=context.partition, config_bucket=config_bucket_name(account),
                                       config_key_arn=trail.config_bucket.key.arn,
                                       config_ready=[trail.config_bucket.policy, trail.config_bucket.encryption]
                                       if self.home else None,
                                       config_role=config_role)
        if self.home:
            # One view of every region's findings. If the home region is down, each region's Security Hub
            # keeps generating its own findings (read them there); the aggregate catches up on recovery.
            # https://docs.aws.amazon.com/securityhub/latest/userguide/finding-aggregation.html
            others = [r for r in account.regions if r != region]
            if others:
                aws("securityhub_finding_aggregator").SecurityhubFindingAggregator(
                    self, "findings", linking_mode="SPECIFIED_REGIONS", specified_regions=others,
                    depends_on=[self.baseline.security_hub] if self.baseline.security_hub else None)
            stack_output(self, "autoscaling_role_arn", self.autoscaling_role_arn,
                         f"{AUTOSCALING_ROLE}: the environments' storage key policies name it")
            stack_output(self, "trail_arn", self.trail.trail.arn, "The account's multi-region CloudTrail trail")
        stack_output(self, "guardduty_detector_id", self.baseline.detector_id, f"The GuardDuty detector of {region}")
        # what the checks over cdktf.out cannot see in the resources: the pieces adopted, the default VPC
        # (it counts against the VPC quota) and a one-region account's declared exception
        singletons = account.singletons
        stack_output(self, "account_baseline", {
            "adopted": [name for name in type(singletons).model_fields if getattr(singletons, name) == "existing"],
            "default_vpcs": account.default_vpcs,
            "single_region": account.single_region_reason if len(account.regions) == 1 else None,
        }, "What this baseline adopts instead of creating, and what it assumes of the account")

    def _service_linked_role(self, construct_id: str, service: str, role_name: str, mode: str, description: str):
        """Create the role (``create``), or adopt the account's (``existing``): a data read that fails the plan
        clearly when it is missing. Returns ``(the created resource or None, the role's ARN)``."""
        if mode == "create":
            role = aws("iam_service_linked_role").IamServiceLinkedRole(
                self, construct_id, aws_service_name=service, description=description)
            return role, role.arn
        return None, aws("data_aws_iam_role").DataAwsIamRole(self, construct_id, name=role_name).arn
