"""``<env>-<region>-data``: the data tier of one region."""

from __future__ import annotations

from typing import Literal, Optional

from constructs import Construct

from environments.schema import EnvironmentConfig, RegionConfig
from modules.data import BACKUP_TAG, app_bucket_name, cache_members, cache_name
from modules.data.backup import RegionalBackup
from modules.data.cache import CacheRegion
from modules.data.database import AuroraRegion
from modules.dns.cloudflare import pool_name
from modules.dns.records import plan_records
from modules.failover.experiments import FaultExperiments
from modules.network.layout import TIERS
from modules.failover.function import FailoverFunction
from modules.failover.plan import RegionSwitchPlan
from modules.observability.naming import peer_canary_alarm_name
from modules.stacks import names
from modules.loadbalancing.placement import LB_ORDER
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
        if multi_region:
            # the Region switch plan's custom steps, run here when this region is the one being activated
            cloudflare = None
            if env.dns.cloudflare is not None:
                _, platform = plan_records(env)
                cloudflare = {"account": env.dns.cloudflare.account_id, "secret": env.failover.cloudflare_token_secret,
                              "pools": {r.name: sorted(pool_name(env.name, r.name, key, item.fqdn)
                                                       for item in platform for key in LB_ORDER)
                                        for r in env.regions.all}}
            self.failover = FailoverFunction(
                self, "failover", env_name=env.name, region=region.name, regions=[r.name for r in env.regions.all],
                account=account, cache_group=cache_name(env.name, region.name), logs_key=region_keys.logs,
                secrets_key=region_keys.secrets, cloudflare=cloudflare)
        if multi_region and role == "standby":
            # The Region switch plan lives with the standby's data: applied after both regions' stores and
            # functions, its state and its CloudFormation stack in the region that survives the primary's loss.
            # ARC's control plane is in us-east-1 whatever region calls it; runs start in the region activated.
            alarms = {}
            if env.observability.canary_minutes:
                # the other region's peer canary requests a region's names: red when they fail from outside
                for watched in env.regions.all:
                    watcher = next(r.name for r in env.regions.all if r.name != watched.name)
                    alarms[watched.name] = (f"arn:{account.partition}:cloudwatch:{watcher}:{env.account_id}:alarm:"
                                            f"{peer_canary_alarm_name(names.regional(env.name, watcher))}")
            self.plan = RegionSwitchPlan(self, "region-switch", env=env, partition=account.partition, alarms=alarms,
                                         depends_on=[self.failover.function])
        if env.failover.fault_injection:
            zones_of = {zone: [network.subnet_ids_by_zone(tier)[zone] for tier in TIERS
                               if zone in network.subnet_ids_by_zone(tier)] for zone in zones}
            FaultExperiments(
                self, "fault-injection", stack=stack_id, region=region.name, account_id=env.account_id,
                partition=account.partition, zones=zones, subnets_by_zone=zones_of, vpc_id=network.vpc_id,
                node_groups={"ON_DEMAND": f"{regional.cluster.name}-on-demand", "SPOT": f"{regional.cluster.name}-spot"},
                # a secondary of the global database has no writer to fail over
                cluster_arn=self.aurora.cluster.arn if role == "primary" else None,
                # by name, not by reference: the role's policy needs no attribute of the group
                cache_arn=(f"arn:{account.partition}:elasticache:{region.name}:{env.account_id}:replicationgroup:"
                           f"{cache_name(env.name, region.name)}"),
                stop_alarm_arn=regional.canary.alarm.arn,
                logs_key=region_keys.logs, storage_key=region_keys.storage,
                other_region=other.name if other is not None else None, bucket_tag=(BACKUP_TAG, env.name))
        protected = [self.aurora.cluster.arn, f"arn:{account.partition}:s3:::{bucket}"]
        self.backup = RegionalBackup(
            self, "backup", env_name=env.name, region=region.name, copy_region=other.name if other else None,
            config=env.data.backup, key=region_keys.storage, account_id=env.account_id,
            partition=account.partition,
            resources=protected)
        BackupFailureAlerts(self, "backup-alerts", stack=stack_id, resource_arns=protected,
                            topic_arn=regional.alarms.topic.arn)
