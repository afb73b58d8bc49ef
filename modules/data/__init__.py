"""The data tier: Aurora global database, ElastiCache global datastore, application buckets with
cross-region replication, ECR repositories with registry replication, and AWS Backup."""

from __future__ import annotations

from modules.stacks.names import physical


def app_bucket_name(env_name: str, region: str, account_id: str) -> str:
    """The application bucket of one region: built here only, so the other region's replication
    rule and the bucket itself always agree (S3 names are global: the account id keeps them apart)."""
    return physical(f"{env_name}-{region}-app-{account_id}", 63)


def canary_bucket_name(env_name: str, region: str, account_id: str) -> str:
    """Where one region's canary keeps its results (screenshots, logs, HAR files)."""
    return physical(f"{env_name}-{region}-canary-{account_id}", 63)


def backup_vault_name(env_name: str, region: str) -> str:
    return physical(f"{env_name}-{region}-vault", 50)


def global_cluster_name(env_name: str) -> str:
    return physical(f"{env_name}-aurora", 63)


def cluster_name(env_name: str, region: str) -> str:
    return physical(f"{env_name}-{region}-aurora", 63)


def cache_name(env_name: str, region: str) -> str:
    # a replication group id is at most 40 characters
    return physical(f"{env_name}-{region}-cache", 40)


def cache_members(env_name: str, region: str, nodes: int) -> list[str]:
    """The member clusters ElastiCache names ``<group>-001`` and on for a group of ``nodes`` nodes."""
    return [f"{cache_name(env_name, region)}-{n:03d}" for n in range(1, nodes + 1)]


# Tag that AWS Backup's selection matches: every data store of the environment carries it.
BACKUP_TAG = "spofless:backup"
