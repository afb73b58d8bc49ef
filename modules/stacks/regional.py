"""``<env>-<region>``: everything that lives in one region of an environment."""

from __future__ import annotations

from typing import Literal

from constructs import Construct

from environments.schema import EnvironmentConfig, RegionConfig
from modules.iam import AccountContext
from modules.network.network import Network
from modules.security.keys import KeyRing
from modules.stacks.base import SpoflessStack


class RegionalStack(SpoflessStack):
    """Network (and, as the platform grows, load balancing and EKS) of one region.

    ``role`` says whether this is the environment's primary or standby region;
    both are built by the same code and differ only in the values they get.
    ``keys`` is the security stack's key ring: this region's keys (the primary
    key in the primary region, the replica in the standby) come from it as
    cross-stack references.
    """

    def __init__(self, scope: Construct, stack_id: str, *, env: EnvironmentConfig,
                 region: RegionConfig, role: Literal["primary", "standby"], keys: KeyRing):
        super().__init__(scope, stack_id, env=env)
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
