"""``<env>-<region>-data``: the data tier of one region."""

from __future__ import annotations

from typing import Literal, Optional

from constructs import Construct

from environments.schema import EnvironmentConfig, RegionConfig
from modules.data import app_bucket_name, cache_members
from modules.data.backup import RegionalBackup
from modules.data.cache import CacheRegion
from modules.data.database import AuroraRegion
from modules.data.replication import BucketReplication, RegistryReplication, replication_rule_id
from modules.iam import AccountContext
from modules.observability.alarms import (BackupFailureAlerts, CacheReplicationLagAlarm, ReplicationAlarms,
                                          ReplicationLagAlarm)
from modules.security.keys import KeyRing
from modules.stacks.base import SpoflessStack
from modules.stacks.regional import RegionalStack
from modules.tags import SINGLE_REGION


class DataStack(SpoflessStack):
    """Aurora, ElastiCache, bucket replication, ECR registry replication and AWS Backup of one region.

    One stack per region, kept apart from the regional stack (its state changes rarely, and a
    plan of the busy regional stack never holds the databases) and apart from the other region:
    a standby region's data stack plans and applies with the standby region alone (its state is in
    the standby's bucket), which is what scaling up or re-pointing the standby during a
    primary-region outage needs. The standby's stack comes after the primary's: its cluster and
    replication group join the global database and datastore the primary's creates.
    """

    def __init__(self, scope: Construct, stack_id: str, *, env: EnvironmentConfig, region: RegionConfig,
                 role: Literal["primary", "standby"], keys: KeyRing, regional: RegionalStack,
                 other_regional: Optional[RegionalStack] = None, primary: Optional["DataStack"] = None):
        super().__init__(scope, stack_id, env=env, side=role)
        self.aws_provider(region.name)
        account = AccountContext(self, "account")
        multi_region = env.regions.standby is not None
        other = env.regions.standby if role == "primary" else env.regions.primary
        region_keys = keys.region(region.name)
        network = regional.network
        zones = tuple(network.zones)
        database_subnets = network.subnet_ids("database")
        nodes_sg = regional.cluster.nodes_security_group_id
        tags = {SINGLE_REGION: env.regions.single_region_reason} if env.regions.single_region_reason else {}
        self.aurora = AuroraRegion(
            self, "aurora", env_name=env.name, region=region.name, role=role, config=env.data.aurora,
            vpc_id=network.vpc_id, subnet_ids=database_subnets, zones=zones, nodes_security_group_id=nodes_sg,
            storage_key=region_keys.storage, secrets_key=region_keys.secrets, partition=account.partition,
            account_id=env.account_id,
            multi_region=multi_region, tags=tags, retention_days=env.data.aurora_retention_days,
            standby_region=env.regions.standby.name if multi_region else None,
            standby_secrets_key=keys.key("secrets", env.regions.standby.name) if multi_region else None)
        if multi_region and role == "standby":
            ReplicationLagAlarm(self, "aurora-replication-lag", stack=stack_id,
                                cluster_identifier=self.aurora.cluster.cluster_identifier,
                                topic_arn=regional.alarms.topic.arn, config=env.observability)
        self.cache = CacheRegion(
            self, "cache", env_name=env.name, region=region.name, role=role, config=env.data.cache,
            vpc_id=network.vpc_id, subnet_ids=database_subnets, zones=zones, nodes_security_group_id=nodes_sg,
            storage_key=region_keys.storage,
            global_group_id=primary.cache.global_group.global_replication_group_id if primary else None,
            multi_region=multi_region, tags=tags)
        if multi_region and role == "standby":
            CacheReplicationLagAlarm(self, "cache-replication-lag", stack=stack_id,
                                     members=cache_members(env.name, region.name, 1 + env.data.cache.replicas),
                                     topic_arn=regional.alarms.topic.arn, config=env.observability)
        bucket = app_bucket_name(env.name, region.name, env.account_id)
        if other is not None:
            self.bucket_replication = BucketReplication(
                self, "bucket-replication", name=f"{env.name}-{region.name}", source_bucket=bucket,
                destination_bucket=app_bucket_name(env.name, other.name, env.account_id),
                destination_region=other.name, source_key=region_keys.storage,
                destination_key=keys.key("storage", other.name), config=env.data.bucket,
                partition=account.partition)
            if env.data.bucket.replication_time_control:  # replication metrics come with it
                other_bucket = app_bucket_name(env.name, other.name, env.account_id)
                ReplicationAlarms(self, "replication-alarms", stack=stack_id,
                                  outgoing=(bucket, other_bucket, replication_rule_id(other.name)),
                                  incoming=(other_bucket, bucket, replication_rule_id(region.name)),
                                  topic_arn=regional.alarms.topic.arn, config=env.observability)
            # the rule points at the other region's bucket: that region's regional stack must be applied
            if other_regional is not None:
                self.add_dependency(other_regional)
            if role == "primary" and env.data.repositories:
                RegistryReplication(self, "registry-replication", account_id=env.account_id,
                                    destination_region=other.name, repositories=env.data.repositories)
        if primary is not None:
            # the secondary cluster joins the global database by name, which is no reference
            self.add_dependency(primary)
        protected = [self.aurora.cluster.arn, f"arn:{account.partition}:s3:::{bucket}"]
        self.backup = RegionalBackup(
            self, "backup", env_name=env.name, region=region.name, copy_region=other.name if other else None,
            config=env.data.backup, key=region_keys.storage, account_id=env.account_id,
            partition=account.partition,
            resources=protected)
        BackupFailureAlerts(self, "backup-alerts", stack=stack_id, resource_arns=protected,
                            topic_arn=regional.alarms.topic.arn)
