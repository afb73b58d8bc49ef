"""Deterministic subnet plan (which CIDR each tier gets in each AZ slot), and the VPC endpoints.

The VPC is cut the same way whatever the AZ count, so adding a third AZ later
adds subnets and never renumbers (and so replaces) existing ones:

    first half        private   8 slots at prefix +4   (a /16 gives /20s: EKS nodes and pods)
    third quarter     public    8 slots at prefix +6   (/22s: load balancers, NAT gateways)
                      database  8 slots at prefix +6   (/22s)
    fourth quarter    collector 8 slots at prefix +6   (/22s: ENIs of the AWS-managed metrics collector;
                                 no pods, so a NetworkPolicy can admit exactly them)
                      reserved  the rest, for later tiers (transit)

Pure Python, no cdktf: it is unit-tested on its own and used by the construct.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MAX_AZ_SLOTS = 8
TIERS = ("public", "private", "database", "collector")


@dataclass(frozen=True)
class SubnetPlan:
    """CIDRs per tier, one per AZ, in AZ order."""

    public: tuple[str, ...]
    private: tuple[str, ...]
    database: tuple[str, ...]
    collector: tuple[str, ...] = ()

    def tier(self, name: str) -> tuple[str, ...]:
        return getattr(self, name)


def plan_subnets(vpc_cidr: str, az_count: int) -> SubnetPlan:
    """Carve ``vpc_cidr`` into public, private and database subnets for ``az_count`` AZs."""
    if not 1 <= az_count <= MAX_AZ_SLOTS:
        raise ValueError(f"az_count {az_count}: allowed 1 to {MAX_AZ_SLOTS}")
    vpc = ipaddress.ip_network(vpc_cidr, strict=True)
    if vpc.prefixlen + 6 > 28:
        raise ValueError(f"{vpc_cidr}: too small; the smallest subnet would be below /28")
    first_half, second_half = vpc.subnets(prefixlen_diff=1)
    third_quarter, fourth_quarter = second_half.subnets(prefixlen_diff=1)
    private = list(first_half.subnets(new_prefix=vpc.prefixlen + 4))
    edge = list(third_quarter.subnets(new_prefix=vpc.prefixlen + 6))
    public, database = edge[:MAX_AZ_SLOTS], edge[MAX_AZ_SLOTS:]
    collector = list(fourth_quarter.subnets(new_prefix=vpc.prefixlen + 6))[:MAX_AZ_SLOTS]
    return SubnetPlan(
        public=tuple(str(n) for n in public[:az_count]),
        private=tuple(str(n) for n in private[:az_count]),
        database=tuple(str(n) for n in database[:az_count]),
        collector=tuple(str(n) for n in collector[:az_count]),
    )


# Interface endpoints in every private subnet (service: who needs it). The first six are what
# nodes need to start pods; the last three keep the platform's controllers working from any AZ.
# https://docs.aws.amazon.com/eks/latest/userguide/private-clusters.html
INTERFACE_ENDPOINTS = {
    "ecr.api": "image manifests and pull authorization (kubelet, ECR credential provider)",
    "ecr.dkr": "image pulls (layers come from S3, through the gateway endpoint)",
    "sts": "role sessions (the AWS SDKs of add-ons and workloads)",
    "eks-auth": "EKS Pod Identity credentials (AssumeRoleForPodIdentity)",
    "ec2": "the VPC CNI's ENI and address calls",
    "logs": "CloudWatch Logs from nodes and add-ons",
    "elasticloadbalancing": "the load balancer controller registering pod IPs in the target groups",
    "autoscaling": "the Cluster Autoscaler resizing the node groups",
    "secretsmanager": "External Secrets reading the Git credentials",
}
