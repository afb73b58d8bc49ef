"""One AWS account, as read from ``environments/accounts/<name>.yaml``: the account baseline.

An account holds pieces that exist once however many environments share it (service-linked
roles, the S3 account public access block, EBS encryption by default, a GuardDuty detector, Security
Hub and an AWS Config recorder per region) and quotas every environment of it draws from. The
account file is their one owner: the ``account-<name>-<region>`` stacks create them, every
environment whose ``account_id`` is the account's depends on them and never creates them itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from environments.schema.backend import BackendConfig
from environments.schema.common import AccountId, Frozen, Region, schema_error


@dataclass(frozen=True)
class Quota:
    """A Service Quotas quota the environments draw from, per region (or per AZ of a region)."""

    service_code: str
    quota_code: str
    default: int
    title: str
    per_az: bool = False
    adjustable: bool = True


# The quotas the stacks come near, with AWS's default value for a new account. Sources:
# https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html (VPCs, internet and NAT gateways,
# Elastic IPs: 5 each), https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html
# (50 ALBs), https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-limits.html (50 NLBs),
# https://docs.aws.amazon.com/eks/latest/userguide/service-quotas.html (100 clusters),
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/CHAP_Limits.html (40 DB clusters).
QUOTAS: dict[str, Quota] = {
    "elastic_ips": Quota("ec2", "L-0263D0A3", 5, "EC2-VPC Elastic IPs"),
    "vpcs": Quota("vpc", "L-F678F1CE", 5, "VPCs per Region"),
    "internet_gateways": Quota("vpc", "L-A4707A72", 5, "Internet gateways per Region"),
    "nat_gateways_per_az": Quota("vpc", "L-FE5A380F", 5, "NAT gateways per Availability Zone", per_az=True),
    "application_load_balancers": Quota("elasticloadbalancing", "L-53DA6B97", 50,
                                        "Application Load Balancers per Region"),
    "network_load_balancers": Quota("elasticloadbalancing", "L-69A177A2", 50, "Network Load Balancers per Region"),
    "eks_clusters": Quota("eks", "L-1194D53C", 100, "EKS clusters per Region"),
    "db_clusters": Quota("rds", "L-952B80B8", 40, "Aurora DB clusters per Region"),
    # the WAF log delivery of every region and Route53's query logs (always in us-east-1) each need one;
    # AWS does not raise it. https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html
    "log_resource_policies": Quota("logs", "", 10, "CloudWatch Logs resource policies per Region",
                                   adjustable=False),
}

_ACCOUNT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
Mode = Literal["create", "existing"]


class SingletonsConfig(Frozen):
    """Who makes each piece that exists once per account (or per account and region)."""

    autoscaling_role: Mode = "create"
    """``AWSServiceRoleForAutoScaling``, which the environments' storage key policies name (KMS refuses
    a policy naming a role that does not exist). ``create`` (default): the baseline creates it.
    ``existing``: the account already has it (an account that ever ran an Auto Scaling group or an EKS
    node group does: ``aws iam get-role --role-name AWSServiceRoleForAutoScaling``); it is adopted."""

    config_role: Mode = "create"
    """``AWSServiceRoleForConfig``, the role the AWS Config recorders run as. Left out: created."""

    guardduty: Mode = "create"
    """The GuardDuty detector of each region (one per region and account). ``existing``: a detector is
    already on; the baseline looks it up and manages its protections only."""

    security_hub: Mode = "create"
    """Security Hub of each region. ``existing``: it is already enabled; the baseline subscribes the
    standard and aggregates findings only."""

    config_recorder: Mode = "create"
    """The AWS Config recorder of each region (one per region and account). ``existing``: a recorder
    already records all resources; the baseline creates none."""


class AuditConfig(Frozen):
    """The account's audit trail: one multi-region CloudTrail trail into a locked, replicated bucket."""

    replica_region: Optional[Region] = None
    """Where the trail's bucket is replicated. Left out: the first of ``regions`` after the home region.
    An account with one region has no replica (say why in ``single_region_reason``)."""

    retention_days: int = 365
    """Days every log object stays locked (S3 Object Lock) and kept, 1 to 3650. Left out: 365."""

    object_lock: Literal["governance", "compliance"] = "governance"
    """``governance`` (default): an administrator with s3:BypassGovernanceRetention can delete a log early.
    ``compliance``: nobody can, the root user included, until the retention ends."""

    @field_validator("retention_days")
    @classmethod
    def _days(cls, value: int) -> int:
        if not 1 <= value <= 3650:
            raise schema_error("retention", "is out of range; allowed: 1 to 3650 days")
        return value


class AccountConfig(Frozen):
    """One AWS account shared by one or more environments, as read from ``environments/accounts/<name>.yaml``."""

    name: str
    """Account name; must equal the file name without ``.yaml``. Names the stacks ``account-<name>-<region>``."""

    account_id: AccountId
    """The AWS account (12 digits). Every environment with this ``account_id`` depends on this baseline."""

    home_region: Region
    """Where the account-wide pieces live (service-linked roles, the trail, the findings aggregator)."""

    regions: tuple[Region, ...]
    """Every region an environment of the account uses: each gets GuardDuty, Security Hub, an AWS Config
    recorder, IAM Access Analyzer and EBS encryption by default. Must include ``home_region``."""

    single_region_reason: Optional[str] = None
    """Why an account with one region keeps its audit trail without a replica. Required then."""

    backend: BackendConfig = Field(default_factory=BackendConfig)
    """Where the baseline stacks keep state. Left out: local."""

    tags: dict[str, str] = Field(default_factory=dict)
    """Tags on every baseline resource; ``ManagedBy`` and ``Account`` are added."""

    default_vpcs: bool = True
    """Whether each region still has its default VPC (it counts against the VPC quota). Left out: yes."""

    quotas: dict[Region, dict[str, int]] = Field(default_factory=dict)
    """Per region, the value each quota of ``QUOTAS`` must have. A value above AWS's default is requested
    through Service Quotas by the baseline; the environments' combined usage must fit in it (checked when
    the files are read and by ``make check``). Left out: AWS's defaults."""

    singletons: SingletonsConfig = Field(default_factory=SingletonsConfig)
    """Which account-wide pieces the baseline creates and which it adopts. Left out: all created."""

    audit: AuditConfig = Field(default_factory=AuditConfig)
    """The audit trail. Left out: every default."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ACCOUNT_NAME.match(value):
            raise schema_error("name", "is not a valid account name; allowed: 1-20 of a-z, 0-9 and '-', starting with a "
                                "letter")
        return value

    @field_validator("quotas")
    @classmethod
    def _quotas(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        for region, quotas in value.items():
            for name, amount in quotas.items():
                if name not in QUOTAS:
                    raise schema_error("quota", "is not a quota spofless counts; allowed: {allowed}",
                                field=f"{region}.{name}", value=name, allowed=", ".join(QUOTAS))
                if not 1 <= amount <= 10000:
                    raise schema_error("quota", "is out of range; allowed: 1 to 10000", field=f"{region}.{name}",
                                value=amount)
                spec = QUOTAS[name]
                if not spec.adjustable and amount > spec.default:
                    raise schema_error("quota", "is above {default}, and AWS does not raise '{title}'; allowed: at most "
                                         "{default}", field=f"{region}.{name}", value=amount, default=spec.default,
                                title=spec.title)
        return value

    @model_validator(mode="after")
    def _regions(self) -> "AccountConfig":
        if self.home_region not in self.regions:
            raise schema_error("regions", "does not include home_region {home}; allowed: a list that includes it",
                        field="regions", value=list(self.regions), home=self.home_region)
        if len(set(self.regions)) != len(self.regions):
            raise schema_error("regions", "names a region twice; allowed: each region once", field="regions",
                        value=list(self.regions))
        for region in self.quotas:
            if region not in self.regions:
                raise schema_error("quota", "is not a region of this account; allowed: {allowed}", field=f"quotas.{region}",
                            value=region, allowed=", ".join(self.regions))
        replica = self.audit.replica_region
        if replica is not None and (replica == self.home_region or replica not in self.regions):
            raise schema_error("replica_region", "is the home region or not a region of this account; allowed: {allowed}",
                        field="audit.replica_region", value=replica,
                        allowed=", ".join(r for r in self.regions if r != self.home_region) or "none")
        if len(self.regions) == 1 and not self.single_region_reason:
            raise schema_error("single_region", "is required: an account with one region keeps its audit trail without a "
                                         "replica; allowed: a sentence saying why, or a second region",
                        field="single_region_reason", value=None)
        return self

    @property
    def trail_replica_region(self) -> Optional[str]:
        """The region the audit bucket replicates to, or None for a one-region account."""
        return self.audit.replica_region or next((r for r in self.regions if r != self.home_region), None)

    def quota(self, region: str, name: str) -> int:
        """The value quota ``name`` has in ``region``: declared here, else AWS's default."""
        return self.quotas.get(region, {}).get(name, QUOTAS[name].default)

    def requested(self, region: str) -> dict[str, int]:
        """The quotas of ``region`` declared above AWS's default: what the baseline requests."""
        return {name: value for name, value in sorted(self.quotas.get(region, {}).items())
                if value > QUOTAS[name].default}

    @property
    def all_tags(self) -> dict[str, str]:
        merged = {"Account": self.name, "ManagedBy": "spofless", **self.tags}
        return dict(sorted(merged.items()))


def quota_usage(env) -> dict[tuple[str, str, Optional[str]], int]:
    """``{(region, quota, zone or None): count}`` one environment draws from the account's quotas.

    Counted from the configuration the constructs build from (one VPC, internet gateway and EKS cluster
    per region; a NAT gateway and its Elastic IP per AZ, or one; two ALBs and an NLB; one Aurora cluster;
    a CloudWatch Logs resource policy per region for WAF's logs, and one in us-east-1 for Route53's).
    """
    usage: dict[tuple[str, str, Optional[str]], int] = {}
    for region in env.regions.all:
        nat_zones = region.zones if env.network.nat_gateway_per_az else region.zones[:1]
        for name, count in (("elastic_ips", len(nat_zones)), ("vpcs", 1), ("internet_gateways", 1),
                            ("application_load_balancers", 2), ("network_load_balancers", 1),
                            ("eks_clusters", 1), ("db_clusters", 1)):
            usage[(region.name, name, None)] = usage.get((region.name, name, None), 0) + count
        for zone in nat_zones:
            usage[(region.name, "nat_gateways_per_az", zone)] = 1
        usage[(region.name, "log_resource_policies", None)] = usage.get(
            (region.name, "log_resource_policies", None), 0) + 1  # WAF log delivery
    # Route53 delivers query logs to CloudWatch Logs in us-east-1 only, whatever the environment's regions
    usage[("us-east-1", "log_resource_policies", None)] = usage.get(("us-east-1", "log_resource_policies", None), 0) + 1
    return usage
