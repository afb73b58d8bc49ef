"""``<env>-<region>``: everything that lives in one region of an environment."""

from __future__ import annotations

from typing import Literal

from constructs import Construct

from environments.schema import EnvironmentConfig, RegionConfig
from modules.dns.zone import RegionalCertificates
from modules.eks.cluster import Cluster
from modules.iam import AccountContext
from modules.loadbalancing.load_balancers import LoadBalancing
from modules.network.network import Network
from modules.security.keys import KeyRing
from modules.stacks.base import SpoflessStack


class RegionalStack(SpoflessStack):
    """Network, load balancing and the EKS cluster of one region.

    ``role`` says whether this is the environment's primary or standby region;
    both are built by the same code and differ only in the values they get.
    ``keys`` is the security stack's key ring: this region's keys (the primary
    key in the primary region, the replica in the standby) come from it as
    cross-stack references, and so does this region's issued TLS certificate
    from the DNS zone stack.
    """

    def __init__(self, scope: Construct, stack_id: str, *, env: EnvironmentConfig,
                 region: RegionConfig, role: Literal["primary", "standby"], keys: KeyRing,
                 certificates: RegionalCertificates):
        super().__init__(scope, stack_id, env=env, side=role)
        self.region = region
        self.role = role
        self.aws_provider(region.name)
        account = AccountContext(self, "account")
        self.network = Network(
            self, "network",
            name=stack_id,
            region=region,
            settings=env.network,
            flow_log_kms_key_arn=keys.key_arn("logs", region.name),
            account=account,
        )
        self.load_balancing = LoadBalancing(
            self, "lb",
            name=stack_id,
            region=region.name,
            network=self.network,
            config=env.load_balancing,
            certificate_arn=certificates.certificate_arn(region.name),
            logs_kms_key_arn=keys.key_arn("logs", region.name),
            account=account,
        )
        self.cluster = Cluster(
            self, "eks",
            name=stack_id,
            region=region.name,
            network=self.network,
            config=env.eks,
            secrets_kms_key_arn=keys.key_arn("eks", region.name),
            storage_kms_key_arn=keys.key_arn("storage", region.name),
            logs_kms_key_arn=keys.key_arn("logs", region.name),
            nodes_security_group_id=self.load_balancing.nodes_sg.id,
            account=account,
        )
