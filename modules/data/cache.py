"""ElastiCache (Valkey or Redis OSS): one region's replication group, joined in a global datastore."""

from __future__ import annotations

from typing import Literal, Optional

from constructs import Construct

from environments.schema import CacheConfig
from modules.data import cache_name
from modules.outputs import stack_output
from modules.providers import aws
from modules.security.keys import RegionalKey
from modules.stacks.names import physical

PORT = 6379


class CacheRegion(Construct):
    """This region's replication group: a primary node and ``replicas`` replicas spread over the
    AZs, Multi-AZ with automatic failover, encrypted at rest with this region's ``storage`` key
    and in transit (TLS required), reachable only from the EKS nodes.

    In the primary region it is the global datastore's primary and creates the global datastore;
    in the standby it joins it as a read-only secondary that a failover promotes. A secondary
    takes its engine, version, node type, shard count, parameter group and encryption settings
    from the global datastore: AWS rejects them on a member (the provider marks them as
    conflicting with ``global_replication_group_id``), so they are set only on the primary.
    https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Redis-Global-Datastores-CLI.html

    Authentication is IAM: a user group whose only enabled user authenticates with IAM (pods get
    ``elasticache:Connect`` through EKS Pod Identity), and the ``default`` user switched off, so no
    AUTH password exists at all, in Terraform, its state or anywhere else.
    https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth-iam.html
    """

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str, region: str,
                 role: Literal["primary", "standby"], config: CacheConfig, vpc_id: str, subnet_ids: list[str],
                 zones: tuple[str, ...], nodes_security_group_id: str, storage_key: RegionalKey,
                 global_group_id: Optional[str], multi_region: bool, tags: dict[str, str]):
        super().__init__(scope, construct_id)
        name = cache_name(env_name, region)
        subnets = aws("elasticache_subnet_group").ElasticacheSubnetGroup(
            self, "subnets", name=name, subnet_ids=subnet_ids,
            description=f"{name}: the isolated database subnets of every AZ")
        self.security_group = aws("security_group").SecurityGroup(
            self, "sg", name=physical(f"{name}-cache", 255), vpc_id=vpc_id,
            description=f"{name}: {config.engine} from the EKS nodes only", tags={"Name": f"{name}-cache"})
        aws("vpc_security_group_ingress_rule").VpcSecurityGroupIngressRule(
            self, "from-nodes", security_group_id=self.security_group.id,
            referenced_security_group_id=nodes_security_group_id, ip_protocol="tcp", from_port=PORT, to_port=PORT,
            description=f"{config.engine} (TLS) from the EKS nodes")
        users = self._users(name, config.engine)
        nodes = 1 + config.replicas
        common = dict(
            replication_group_id=name,
            description=f"{env_name} cache in {region} ({role})",
            subnet_group_name=subnets.name,
            security_group_ids=[self.security_group.id],
            port=PORT,
            num_cache_clusters=nodes,
            preferred_cache_cluster_azs=[zones[i % len(zones)] for i in range(nodes)],
            multi_az_enabled=True,
            automatic_failover_enabled=True,
            kms_key_id=storage_key.arn,
            user_group_ids=[users.user_group_id],
            auto_minor_version_upgrade="true",
            maintenance_window="sun:06:00-sun:07:00",
            apply_immediately=False,
            tags=tags,
        )
        if role == "primary":
            self.group = aws("elasticache_replication_group").ElasticacheReplicationGroup(
                self, "group", **common,
                engine=config.engine, engine_version=config.version, node_type=config.node_type,
                at_rest_encryption_enabled="true", transit_encryption_enabled=True,
                snapshot_retention_limit=config.snapshot_retention_days, snapshot_window="03:00-04:00",
                # a version upgrade of a global datastore is made on the global datastore itself,
                # which upgrades every member (aws_elasticache_global_replication_group docs)
                lifecycle={"prevent_destroy": True, "ignore_changes": ["engine_version"]} if multi_region
                else {"prevent_destroy": True},
            )
            self.global_group = aws("elasticache_global_replication_group").ElasticacheGlobalReplicationGroup(
                self, "global", global_replication_group_id_suffix=physical(f"{env_name}-cache", 40),
                primary_replication_group_id=self.group.id, engine_version=config.version,
                global_replication_group_description=f"{env_name}: the cache of every region",
                # the provider reads this back from whichever member is primary now, and it forces a
                # replacement: after a failover every plan would replace the datastore
                lifecycle={"prevent_destroy": True, "ignore_changes": ["primary_replication_group_id"]}
            ) if multi_region else None
        else:
            self.global_group = None
            self.group = aws("elasticache_replication_group").ElasticacheReplicationGroup(
                self, "group", **common, global_replication_group_id=global_group_id,
                # A member joins with the datastore's engine and sends none (AWS refuses it beside
                # GlobalReplicationGroupId), but hashicorp/aws 5.100.0 defaults `engine` to "redis"
                # and reads back what AWS built ("valkey" for a Valkey datastore), so every later
                # plan would replace the member (with prevent_destroy: a hard error, exactly when the
                # runbook scales the standby). The engine is the datastore's to change, never the
                # member's. hashicorp/terraform-provider-aws#40786, #41713, #42592
                lifecycle={"prevent_destroy": True, "ignore_changes": ["engine"]})
        stack_output(self, "cache_endpoint", self.group.primary_endpoint_address,
                     "This region's cache endpoint (writes only where the global datastore's primary is)")
        stack_output(self, "cache_reader_endpoint", self.group.reader_endpoint_address,
                     "This region's reader endpoint")
        # an application's role needs elasticache:Connect on this user and the replication group
        # (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth-iam.html), then connects as it
        stack_output(self, "cache_user", {"user_id": self.app_user.user_id, "arn": self.app_user.arn,
                                          "replication_group_arn": self.group.arn},
                     "IAM-authenticated cache user: grant elasticache:Connect on both ARNs to the application's role")
        if self.global_group is not None:
            stack_output(self, "cache_global_group_id", self.global_group.global_replication_group_id,
                         "The global datastore the standby's replication group joins")

    def _users(self, name: str, engine: str):
        # ElastiCache requires a user named "default" in every user group; this one is switched off
        # ("off", no commands, no keys) and has no password (no-password-required, but off = no login).
        default = aws("elasticache_user").ElasticacheUser(
            self, "default-user", user_id=physical(f"{name}-default", 40), user_name="default",
            engine=engine, access_string="off -@all", authentication_mode={"type": "no-password-required"})
        # IAM users must have user_id == user_name; the application's role is granted
        # elasticache:Connect on this user and the replication group.
        self.app_user = aws("elasticache_user").ElasticacheUser(
            self, "app-user", user_id=physical(f"{name}-app", 40), user_name=physical(f"{name}-app", 40),
            engine=engine, access_string="on ~* +@all -@dangerous", authentication_mode={"type": "iam"})
        return aws("elasticache_user_group").ElasticacheUserGroup(
            self, "users", user_group_id=physical(f"{name}-users", 40), engine=engine,
            user_ids=[default.user_id, self.app_user.user_id])
