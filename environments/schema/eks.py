"""EKS: the Kubernetes version and support, node groups, access and control-plane logs."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from environments import eks_versions
from environments.schema.common import Frozen, RetentionDays, schema_error


class NodeGroupSize(Frozen):
    """Size of one managed node group (per region)."""

    min: int = Field(ge=0, le=450)
    desired: int = Field(ge=0, le=450)
    max: int = Field(ge=1, le=450)

    @model_validator(mode="after")
    def _order(self) -> "NodeGroupSize":
        if self.min > self.max:
            raise schema_error("node_size", "is larger than max ({max}); allowed: min <= desired <= max",
                        field="min", value=self.min, max=self.max)
        if not self.min <= self.desired <= self.max:
            raise schema_error("node_size", "is outside min..max ({min}..{max}); allowed: min <= desired <= max",
                        field="desired", value=self.desired, min=self.min, max=self.max)
        return self


IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")


class EksConfig(Frozen):
    """The EKS cluster of every region: versions, endpoint access, node groups."""

    version: str = eks_versions.DEFAULT_VERSION
    """Kubernetes version, e.g. ``"1.35"``: one of the versions in environments/eks_versions.py
    that are supported, at ``support_type``, for at least 90 days after that table's date, and
    whose add-on builds are pinned there (the add-ons and the Cluster Autoscaler follow the
    version). Left out: 1.35."""

    support_type: eks_versions.SupportType = "STANDARD"
    """What EKS does when the version's standard support ends (``upgrade_policy``): ``STANDARD``
    upgrades the control plane to the next version then; ``EXTENDED`` keeps it, for 12 more
    months billed at the extended-support rate. Set on every cluster, because EKS's own
    default is EXTENDED. Left out: STANDARD."""

    public_endpoint_cidrs: tuple[str, ...] = ()
    """CIDRs allowed to reach the public API endpoint. Left out: public endpoint off
    (the API is reachable only from inside the VPC)."""

    admin_role_arns: tuple[str, ...] = ()
    """IAM roles granted cluster-admin through access entries. Left out: none."""

    deployer_role_arn: str
    """The IAM role Terraform runs as when it applies the stacks (the CI runner's role). Required.
    The clusters are created with ``authentication_mode = API`` and without creator admin, so
    this role gets an access entry with cluster-admin in every cluster; without one the gitops
    stacks are refused (401) by the clusters they install into."""

    deployer_access: Literal["in-vpc", "public"] = "in-vpc"
    """Where Terraform runs when it applies a region's gitops stack.
    ``in-vpc`` (default): a runner inside that region's VPC (one per region; the regions'
    VPCs are not connected, and a standby must be operable without the primary); the
    cluster security group admits HTTPS from the VPC to the private endpoint.
    ``public``: the public endpoint is opened, only to ``public_endpoint_cidrs`` (the
    runners' egress addresses), which is then required."""

    on_demand: NodeGroupSize = Field(default_factory=lambda: NodeGroupSize(min=3, desired=3, max=9))
    """ON_DEMAND node group size. Left out: 3/3/9 (60% of the default capacity)."""

    spot: NodeGroupSize = Field(default_factory=lambda: NodeGroupSize(min=2, desired=2, max=6))
    """SPOT node group size. Left out: 2/2/6 (40%)."""

    on_demand_instance_types: tuple[str, ...] = ("m6i.large",)
    """Instance types of the on-demand group. Left out: m6i.large."""

    spot_instance_types: tuple[str, ...] = ("m6i.large", "m6a.large", "m5.large", "m7i.large")
    """Instance types of the spot group; several, so one type's reclaim does not empty it."""

    node_disk_gib: int = Field(50, ge=20, le=16384)
    """Root volume size of every node (gp3, encrypted). Left out: 50."""

    control_plane_log_retention_days: RetentionDays = 365
    """Days control-plane logs are kept. Left out: 365."""

    @model_validator(mode="after")
    def _version(self) -> "EksConfig":
        problem = eks_versions.refusal(self.version, self.support_type)
        if problem:
            allowed = ", ".join(eks_versions.supported(self.support_type)) or "none"
            raise schema_error("eks_version", "{problem}; allowed at support_type {support_type}: {allowed} (the table: "
                                       "environments/eks_versions.py, from {source})", field="version",
                        value=self.version, problem=problem, support_type=self.support_type, allowed=allowed,
                        source=eks_versions.CALENDAR_SOURCE)
        return self

    @property
    def release(self) -> eks_versions.EksVersion:
        """The version's row: support dates, add-on builds, the autoscaler."""
        return eks_versions.VERSIONS[self.version]

    @property
    def addons(self) -> dict[str, str]:
        """The EKS add-on builds pinned for this version, by add-on name."""
        return dict(sorted(self.release.addons.items()))

    @field_validator("deployer_role_arn")
    @classmethod
    def _deployer(cls, value: str) -> str:
        if not IAM_ROLE_ARN.match(value):
            raise schema_error("role_arn", "is not an IAM role ARN; allowed: arn:aws:iam::<account>:role/<name>")
        return value

    @field_validator("admin_role_arns")
    @classmethod
    def _admins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, arn in enumerate(value):
            if not IAM_ROLE_ARN.match(arn):
                raise schema_error("role_arn", "is not an IAM role ARN; allowed: arn:aws:iam::<account>:role/<name>",
                            field=str(index), value=arn)
        return value

    @model_validator(mode="after")
    def _deployer_path(self) -> "EksConfig":
        if self.deployer_access == "public" and not self.public_endpoint_cidrs:
            raise schema_error("deployer_access", "is 'public' but public_endpoint_cidrs is empty, so nothing could reach "
                                           "the API; allowed: the runners' egress CIDRs in public_endpoint_cidrs, "
                                           "or deployer_access: in-vpc", field="deployer_access",
                        value=self.deployer_access)
        if self.deployer_role_arn in self.admin_role_arns:
            raise schema_error("deployer_role", "is also in admin_role_arns (one access entry per principal); "
                                         "allowed: list it in one place", field="deployer_role_arn",
                        value=self.deployer_role_arn)
        return self

    @field_validator("public_endpoint_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, cidr in enumerate(value):
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise schema_error("cidr", "is not a valid network ({reason}); allowed: e.g. '203.0.113.0/24'",
                            field=str(index), value=cidr, reason=str(exc)) from None
            if network.prefixlen == 0:
                raise schema_error("cidr", "opens the API to the whole internet; allowed: specific networks",
                            field=str(index), value=cidr)
        return value

    @field_validator("on_demand_instance_types", "spot_instance_types")
    @classmethod
    def _instance_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise schema_error("instance_types", "is empty; allowed: one or more EC2 instance types, e.g. m6i.large")
        for index, name in enumerate(value):
            # family[generation][attributes].size, e.g. m6i.large, c7gn.16xlarge, u-6tb1.metal
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,15}\.[a-z0-9]{1,16}", name):
                raise schema_error("instance_type", "is not an EC2 instance type; allowed: e.g. m6i.large",
                            field=str(index), value=name)
        return value

    @field_validator("spot_instance_types")
    @classmethod
    def _spot(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) < 2:
            raise schema_error("spot_types", "lists fewer than two instance types; allowed: two or more, so one "
                                      "type's capacity reclaim does not empty the group")
        return value
