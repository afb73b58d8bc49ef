"""Data tier: Aurora PostgreSQL global database, ElastiCache global datastore, the application
buckets, ECR repositories and AWS Backup, in every region of the environment."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from environments.schema.common import Frozen, schema_error

# Aurora PostgreSQL versions that support Aurora Global Database (major.minor), per
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.Aurora_Fea_Regions_DB-eng.Feature.GlobalDatabase.html
AURORA_VERSION = re.compile(r"^(1[3-7])\.\d{1,2}$")
# Global databases need memory-optimized classes (db.r5 and newer); a single-region cluster may use
# db.t3/t4g.medium (the environment rule enforces the first).
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.configuration.requirements.html
AURORA_CLASS = re.compile(r"^db\.(r[5-8][a-z]*\.(large|[0-9]*x?large)|t[34]g?\.medium)$")
# Global Datastore node types: the M5/M6g/M7g, R5/R6g/R6gd/R7g families (large and up);
# burstable (t) nodes are not supported.
# https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Redis-Global-Datastores-Getting-Started.html
GLOBAL_CACHE_NODE = re.compile(r"^cache\.(m5|m6g|m7g|r5|r6g|r6gd|r7g)\.([0-9]*x?large)$")
CACHE_NODE = re.compile(r"^cache\.[a-z][a-z0-9]*\.[a-z0-9]+$")
CACHE_VERSIONS = {"valkey": ("7.2", "8.0", "8.1"), "redis": ("6.2", "7.0", "7.1")}
_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_REPO = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")


class AuroraConfig(Frozen):
    """The Aurora PostgreSQL cluster of every region, joined in one global database."""

    engine_version: str = "16.6"
    """Aurora PostgreSQL version (major.minor) with Global Database support. Left out: 16.6."""

    instance_class: str = "db.r6g.large"
    """Instance class of every instance (writer and readers, both regions): memory-optimized
    (db.r5 and newer); db.t3/t4g.medium only without a standby region (a global database needs
    memory-optimized instances). Left out: db.r6g.large."""

    instances: int = Field(default=2, ge=1, le=15)
    """Instances per region, spread over the region's AZs (one writer, the rest readers that
    Aurora promotes in-region in about 30 s). At least 2 in an environment with a standby region.
    Left out: 2."""

    database_name: str = "platform"
    """Name of the database created in the primary cluster. Left out: platform."""

    master_username: str = "platform_admin"
    """Master user; its password is generated at apply time and written (write-only: never in the
    plan or the state) to the cluster and to the secret ``<env>/data/aurora-master``. Left out:
    platform_admin."""

    password_version: int = Field(default=1, ge=1)
    """Raise it by one to give the master user a new generated password (cluster and secret change
    together on the next apply). Left out: 1."""

    backup_retention_days: Optional[int] = Field(default=None, ge=1, le=35)
    """Days of point-in-time recovery (automated backups), 1 to 35. Left out: what AWS Backup's
    continuous rule keeps, min(backup.retention_days, 35). With continuous backup on, AWS Backup
    manages the cluster's retention and RDS refuses any other value on the next apply, so a value
    here must equal that one (or turn backup.continuous off)."""

    performance_insights_retention_days: Literal[7, 31, 62, 93, 186, 372, 731] = 7
    """Days Performance Insights keeps its data (7 is free). Left out: 7."""

    monitoring_interval: Literal[1, 5, 10, 15, 30, 60] = 60
    """Seconds between Enhanced Monitoring samples. Left out: 60."""

    deletion_protection: bool = True
    """RDS refuses to delete a protected cluster. Left out: on. Turning it off is how a
    cluster is deliberately removed."""

    @field_validator("engine_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not AURORA_VERSION.match(value):
            raise schema_error("aurora_version", "is not an Aurora PostgreSQL major.minor with Global Database "
                                          "support; allowed: 13.x to 17.x, e.g. '16.6'")
        return value

    @field_validator("instance_class")
    @classmethod
    def _class(cls, value: str) -> str:
        if not AURORA_CLASS.match(value):
            raise schema_error("aurora_class", "is not an instance class Aurora Global Database supports; allowed: "
                                        "db.r5/r6g/r6i/r7g/r8g sizes (e.g. db.r6g.large) or db.t3/t4g.medium")
        return value

    @field_validator("database_name", "master_username")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not _IDENT.match(value) or value in ("postgres", "rdsadmin", "admin"):
            raise schema_error("identifier", "is not a usable PostgreSQL identifier; allowed: 1-63 of a-z, 0-9 and _, "
                                      "starting with a letter, not postgres/rdsadmin/admin")
        return value


class CacheConfig(Frozen):
    """The ElastiCache replication group of every region, joined in one global datastore."""

    engine: Literal["valkey", "redis"] = "valkey"
    """``valkey`` or ``redis`` (Redis OSS). Left out: valkey."""

    engine_version: Optional[str] = None
    """Engine version; one with Global Datastore support. Left out: 8.0 (valkey), 7.1 (redis)."""

    node_type: str = "cache.r7g.large"
    """Node type of every node. With a standby region (a Global Datastore) an m5/m6g/m7g/r5/r6g/
    r6gd/r7g type from large up (no burstable t types). Left out: cache.r7g.large."""

    replicas: int = Field(default=2, ge=1, le=5)
    """Read replicas per region besides the primary node, in other AZs: Multi-AZ and automatic
    failover need at least 1. Left out: 2."""

    snapshot_retention_days: int = Field(default=7, ge=1, le=35)
    """Days of daily snapshots of the primary region's group. Left out: 7."""

    @property
    def version(self) -> str:
        return self.engine_version or {"valkey": "8.0", "redis": "7.1"}[self.engine]

    @field_validator("node_type")
    @classmethod
    def _node(cls, value: str) -> str:
        if not CACHE_NODE.match(value):
            raise schema_error("cache_node", "is not an ElastiCache node type; allowed: cache.<family>.<size>, "
                                      "e.g. cache.r7g.large")
        return value

    @model_validator(mode="after")
    def _engine_version(self) -> "CacheConfig":
        allowed = CACHE_VERSIONS[self.engine]
        if self.engine_version is not None and self.engine_version not in allowed:
            raise schema_error("cache_version", "is not a {engine} version spofless supports with Global Datastore; "
                                         "allowed: {allowed}", field="engine_version", value=self.engine_version,
                        engine=self.engine, allowed=", ".join(allowed))
        return self


class BucketConfig(Frozen):
    """The application bucket of every region, replicated to the other region."""

    replication_time_control: bool = True
    """S3 Replication Time Control: 99.99 % of objects replicated within 15 minutes, with
    replication metrics (charged per GB): the design's 15-minute RPO for objects. Off: most
    objects still replicate in seconds, with no time guarantee. Left out: on."""

    replicate_deletes: bool = True
    """Replicate delete markers, so a delete in one region hides the object in the other too.
    Versions are never deleted by replication (S3 does not replicate version deletes): a delete
    marker is undone by deleting the marker. Left out: on (both regions serve the same objects)."""

    noncurrent_version_days: int = Field(default=90, ge=1, le=3650)
    """Days an overwritten or deleted object's old version is kept. Left out: 90."""


class BackupConfig(Frozen):
    """AWS Backup of the data tier: a vault per region, a plan that copies to the other region."""

    schedule: str = "cron(0 5 ? * * *)"
    """When the snapshot rule runs and copies to the other region (AWS Backup cron, at most hourly).
    Left out: daily at 05:00 UTC. Point-in-time restore comes from continuous backup; each copy is a
    cross-region snapshot copy, and RDS runs at most 5 of those at a time per destination region and
    account, so an hourly copy of several environments queues and expires."""

    retention_days: int = Field(default=30, ge=1, le=36500)
    """Days each recovery point and its cross-region copy are kept. Left out: 30."""

    continuous: bool = True
    """Continuous backup (point-in-time restore to any second, about 5 minutes behind) for Aurora
    and S3, kept min(retention_days, 35) days. Left out: on."""

    vault_lock: Literal["governance", "compliance"] = "governance"
    """Vault lock mode. ``governance``: retention limits enforced, removable by an administrator
    with backup:DeleteBackupVaultLockConfiguration. ``compliance``: after ``lock_grace_days`` nobody,
    AWS included, can delete a recovery point before its retention ends or remove the lock.
    Left out: governance."""

    lock_grace_days: int = Field(default=3, ge=3, le=36500)
    """Days before a compliance lock becomes immutable (at least 3). Used only with compliance."""

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        fields = value[5:-1].split() if value.startswith("cron(") and value.endswith(")") else []
        if len(fields) != 6 or not fields[0].isdigit():
            raise schema_error("backup_schedule", "is not an AWS Backup schedule at most hourly; allowed: cron(M H DoM Mon "
                                           "DoW Y) with a fixed minute, e.g. 'cron(0 * ? * * *)'")
        return value


CONTINUOUS_MAX_DAYS = 35  # AWS Backup keeps continuous backups at most 35 days


class DataConfig(Frozen):
    """The data tier (stack ``<env>-<region>-data`` per region; buckets and repositories in the
    regional stack). With a standby region every store has a cross-region replica."""

    aurora: AuroraConfig = Field(default_factory=AuroraConfig)
    """Aurora PostgreSQL. Left out: every default."""

    cache: CacheConfig = Field(default_factory=CacheConfig)
    """ElastiCache. Left out: every default."""

    bucket: BucketConfig = Field(default_factory=BucketConfig)
    """The application bucket. Left out: every default."""

    backup: BackupConfig = Field(default_factory=BackupConfig)
    """AWS Backup. Left out: every default."""

    repositories: tuple[str, ...] = ()
    """ECR repositories this environment owns, created in each of its regions; with a standby,
    the primary region's registry replicates them there, so the standby cluster pulls images
    while the primary region is down. Replication is a registry-wide setting (one per account
    and region), so one environment per account and region owns the repositories and the others
    pull from them. Left out: none."""

    @property
    def aurora_retention_days(self) -> int:
        """The cluster's backup retention: what the continuous rule keeps, or the Aurora field."""
        if self.backup.continuous:
            return min(self.backup.retention_days, CONTINUOUS_MAX_DAYS)
        return self.aurora.backup_retention_days or 30

    @model_validator(mode="after")
    def _retention_agrees(self) -> "DataConfig":
        days = self.aurora.backup_retention_days
        if self.backup.continuous and days is not None and days != self.aurora_retention_days:
            raise schema_error("aurora_retention", "differs from what AWS Backup's continuous rule keeps ({kept} days); "
                                            "AWS Backup then manages the cluster's retention and RDS refuses any "
                                            "other value; allowed: {kept}, leave it out, or backup.continuous: false",
                        field="aurora.backup_retention_days", value=days, kept=self.aurora_retention_days)
        return self

    @field_validator("repositories")
    @classmethod
    def _repositories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _REPO.match(name) or len(name) > 200:
                raise schema_error("repository", "is not an ECR repository name; allowed: lower-case a-z, 0-9, . _ - "
                                          "and / between parts, at most 200 characters", field=name, value=name)
        if len(set(value)) != len(value):
            raise schema_error("repository", "lists a repository twice; allowed: unique names")
        return value
