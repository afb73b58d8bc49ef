"""Data: every store replicated to the standby, global members carrying only what AWS accepts, keys the data services can use, server access logging that can deliver, lifecycle of versioned buckets, vault locks that cannot be destroyed by accident.

One rule, one place: each cites the document it encodes; its failing and passing fixtures are named
in the registry (:mod:`policies.rules.registry`)."""

from __future__ import annotations

import json
from typing import Optional


from modules.data import BACKUP_TAG
from modules.stacks import names
from policies.model.output import Output, actions, as_list, covers, policy_statements
from policies.model.topology import (data_stacks, region_of_alias, stack_after, stack_region, stacks_by_region)
from policies.rules.registry import rule


@rule(24, "A versioned bucket that expires objects also expires noncurrent versions and removes expired delete markers",
      "https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configuration-examples.html")
def delete_markers(output: Output):
    for stack, name, lifecycle in output.every("aws_s3_bucket_lifecycle_configuration"):
        buckets = {r.address for r in output.refs(stack, lifecycle.get("bucket"))}
        versioned = any(
            {r.address for r in output.refs(stack, v.get("bucket"))} & buckets
            and any(c.get("status") == "Enabled" for c in as_list(v.get("versioning_configuration")))
            for v in output.resources(stack, "aws_s3_bucket_versioning").values())
        rules = [r for r in as_list(lifecycle.get("rule")) if r.get("status") == "Enabled"]
        expires = any(e.get("days") or e.get("date") for r in rules for e in as_list(r.get("expiration")))
        if not (versioned and expires):
            continue
        markers = any(e.get("expired_object_delete_marker") for r in rules for e in as_list(r.get("expiration")))
        noncurrent = any(as_list(r.get("noncurrent_version_expiration")) for r in rules)
        problems = ([] if markers else ["no rule removes expired delete markers (they pile up forever)"]) + \
                   ([] if noncurrent else ["noncurrent versions never expire (expiry only hides the data)"])
        yield stack, f"aws_s3_bucket_lifecycle_configuration.{name}", not problems, "; ".join(problems)


def _missing(data: dict[str, str], *regions: str) -> Optional[str]:
    absent = [r for r in regions if r not in data]
    return "no data stack in " + " and ".join(absent) if absent else None


def _aurora_replicated(output: Output, data: dict[str, str], primary: str, standby: str) -> Optional[str]:
    if missing := _missing(data, primary, standby):
        return missing
    globals_ = output.resources(data[primary], "aws_rds_global_cluster")
    if not globals_:
        return f"the primary region's Aurora cluster is in no global database ({data[primary]})"
    identifiers = {g.get("global_cluster_identifier") for g in globals_.values()}
    joined = [c for c in output.resources(data[standby], "aws_rds_cluster").values()
              if c.get("global_cluster_identifier") in identifiers]
    if not joined:
        return f"no Aurora cluster in {standby} joins the global database {sorted(identifiers)}"
    instances = output.resources(data[standby], "aws_rds_cluster_instance")
    if not instances:
        return f"the secondary cluster in {standby} has no instance: a promoted secondary could not serve"
    if not stack_after(output, data[standby], data[primary]):
        # the secondary joins by identifier (no reference Terraform could order by): CreateDBCluster answers
        # GlobalClusterNotFoundFault until the global database exists
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html
        return (f"{data[standby]} is applied without waiting for {data[primary]}, which creates the global "
                "database its cluster joins by name")
    return None


def _cache_replicated(output: Output, data: dict[str, str], primary: str, standby: str) -> Optional[str]:
    if missing := _missing(data, primary, standby):
        return missing
    groups = output.resources(data[primary], "aws_elasticache_global_replication_group")
    if not groups:
        return f"the primary region's replication group is in no global datastore ({data[primary]})"
    members = [g for g in output.resources(data[standby], "aws_elasticache_replication_group").values()
               if any(r.type == "aws_elasticache_global_replication_group"
                      for r in output.refs(data[standby], g.get("global_replication_group_id")))]
    if not members:
        return f"no replication group in {standby} joins the global datastore"
    if not stack_after(output, data[standby], data[primary]):
        # https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Redis-Global-Datastores-CLI.html
        return (f"{data[standby]} is applied without waiting for {data[primary]}, which creates the global "
                "datastore its replication group joins")
    return None


def _buckets(output: Output, regional: dict[str, str]) -> dict[str, tuple[str, str, dict]]:
    """``{bucket name: (region, stack, conf)}`` of the data buckets (tagged for backup)."""
    found = {}
    for region, stack in regional.items():
        for conf in output.resources(stack, "aws_s3_bucket").values():
            if BACKUP_TAG in (conf.get("tags") or {}) and isinstance(conf.get("bucket"), str):
                found[conf["bucket"]] = (region, stack, conf)
    return found


def _versioned(output: Output, stack: str, bucket: str) -> bool:
    for versioning in output.resources(stack, "aws_s3_bucket_versioning").values():
        refs = output.refs(stack, versioning.get("bucket"))
        names_ = {output.get(r).get("bucket") for r in refs if output.get(r)} | {versioning.get("bucket")}
        if bucket in names_ and any(c.get("status") == "Enabled"
                                    for c in as_list(versioning.get("versioning_configuration"))):
            return True
    return False


def _bucket_problems(output: Output, data: dict[str, str], regional: dict[str, str]) -> list[str]:
    buckets = _buckets(output, regional)
    problems = []
    for bucket, (region, stack, _) in sorted(buckets.items()):
        rules = [(r, conf) for conf in output.resources(data.get(region, ""), "aws_s3_bucket_replication_configuration")
                 .values() if conf.get("bucket") == bucket for r in as_list(conf.get("rule"))
                 if r.get("status") == "Enabled"]
        if not rules:
            problems.append(f"{bucket} ({region}) has no replication rule to another region")
            continue
        for item, _conf in rules:
            destination = (as_list(item.get("destination")) or [{}])[0]
            target = str(destination.get("bucket", "")).rsplit(":::", 1)[-1]
            found = buckets.get(target)
            if found is None or found[0] == region:
                problems.append(f"{bucket}: replicates to {target or '?'}, which is no data bucket in another region")
                continue
            if not _versioned(output, found[1], target):
                problems.append(f"{bucket}: destination {target} is not versioned (S3 rejects the rule)")
            if not stack_after(output, data[region], found[1]):
                problems.append(f"{data[region]} is applied without waiting for {found[1]}, which creates {target}")
            criteria = (as_list(item.get("source_selection_criteria")) or [{}])[0]
            kms = (as_list(criteria.get("sse_kms_encrypted_objects")) or [{}])[0].get("status") == "Enabled"
            replica_key = (as_list(destination.get("encryption_configuration")) or [{}])[0].get("replica_kms_key_id")
            if not (kms and replica_key):
                problems.append(f"{bucket}: SSE-KMS objects are not replicated (sse_kms_encrypted_objects and "
                                f"replica_kms_key_id are both needed)")
            if as_list(destination.get("replication_time")) and not as_list(destination.get("metrics")):
                problems.append(f"{bucket}: Replication Time Control without replication metrics (S3 rejects it)")
    return problems


def _backup_copies(output: Output, data: dict[str, str], region: str, other: str) -> Optional[str]:
    plans = output.resources(data.get(region, ""), "aws_backup_plan")
    copies = [c for plan in plans.values() for r in as_list(plan.get("rule")) for c in as_list(r.get("copy_action"))]
    if not plans:
        return f"no backup plan in {region}"
    if not any(f":backup:{other}:" in str(c.get("destination_vault_arn")) for c in copies):
        return f"the backup plan in {region} copies nothing to {other}"
    return None


@rule(25, "In an environment with a standby region, every data store has a replica there: Aurora global "
          "database, ElastiCache global datastore, bucket replication both ways, ECR registry replication, "
          "backup copies", "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.html")
def data_replicated(output: Output):
    for env in output.environments:
        primary, standby = region_of_alias(output, env, "primary"), region_of_alias(output, env, "standby")
        if standby is None:
            continue
        data, regional = data_stacks(output, env), stacks_by_region(output, env, "regional")
        where = data.get(primary) or names.security(env)
        yield where, "Aurora", (why := _aurora_replicated(output, data, primary, standby)) is None, why
        yield where, "ElastiCache", (why := _cache_replicated(output, data, primary, standby)) is None, why
        problems = _bucket_problems(output, data, regional) if data else ["no data stack"]
        if not _buckets(output, regional) and data:
            problems.append("no data bucket in either region")
        yield where, "application buckets", not problems, "; ".join(problems)
        for region, other in ((primary, standby), (standby, primary)):
            yield data.get(region, where), f"backups of {region}", (
                why := _backup_copies(output, data, region, other)) is None, why
        repositories = output.resources(regional.get(primary, ""), "aws_ecr_repository")
        if repositories:
            rules = [r for c in output.resources(data.get(primary, ""), "aws_ecr_replication_configuration").values()
                     for cfg in as_list(c.get("replication_configuration")) for r in as_list(cfg.get("rule"))]
            regions = {d.get("region") for r in rules for d in as_list(r.get("destination"))}
            yield where, "ECR repositories", standby in regions, (
                f"the registry in {primary} does not replicate to {standby}: the standby cluster could not pull "
                "images while the primary region is down")


# Fields AWS takes from the global datastore and rejects on a secondary member (the provider marks
# them ConflictsWith global_replication_group_id).
# https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/elasticache_replication_group
CACHE_MEMBER_FORBIDDEN = ("engine", "engine_version", "node_type", "num_node_groups", "parameter_group_name",
                          "at_rest_encryption_enabled", "transit_encryption_enabled", "auth_token",
                          "snapshot_arns", "snapshot_name")


# A secondary Aurora cluster gets its users and database from the primary.
AURORA_MEMBER_FORBIDDEN = ("master_username", "master_password", "manage_master_user_password", "database_name",
                           "snapshot_identifier")


def _true(value) -> bool:
    return value is True or value == "true"


@rule(26, "Global database and datastore members carry only what AWS accepts on a member; the writer side is "
          "encrypted, Multi-AZ and password-less in Terraform",
          "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Redis-Global-Datastores-CLI.html")
def global_members(output: Output):
    for stack, name, conf in output.every("aws_elasticache_replication_group"):
        subject = f"aws_elasticache_replication_group.{name}"
        if conf.get("global_replication_group_id"):
            set_ = [f for f in CACHE_MEMBER_FORBIDDEN if conf.get(f) is not None]
            yield stack, subject, not set_, f"a global datastore member sets {', '.join(set_)}, which AWS rejects"
            continue
        problems = [what for what, ok in (
            ("encryption at rest", _true(conf.get("at_rest_encryption_enabled"))),
            ("encryption in transit", _true(conf.get("transit_encryption_enabled"))),
            ("a customer-managed key", bool(conf.get("kms_key_id"))),
            ("Multi-AZ", _true(conf.get("multi_az_enabled"))),
            ("automatic failover", _true(conf.get("automatic_failover_enabled"))),
            ("a replica", int(conf.get("num_cache_clusters") or 0) >= 2 or int(conf.get("replicas_per_node_group") or 0) >= 1),
        ) if not ok]
        yield stack, subject, not problems, "lacks " + ", ".join(problems)
    for stack, name, conf in output.every("aws_rds_cluster"):
        subject = f"aws_rds_cluster.{name}"
        ignored = set(as_list((conf.get("lifecycle") or {}).get("ignore_changes")))
        problems = []
        if "global_cluster_identifier" in ignored:
            problems.append("ignores global_cluster_identifier: a detached cluster would plan as unchanged")
        member = bool(conf.get("global_cluster_identifier"))
        secondary = member and not conf.get("master_username")
        # either member is the secondary after a switchover: RDS then sets its replication source, and
        # a plan clearing it would promote the cluster out of the global database
        if member and "replication_source_identifier" not in ignored:
            problems.append("does not ignore replication_source_identifier: after a switchover the next apply "
                            "would promote it out of the global database")
        if secondary:
            problems += [f"sets {f} (a secondary takes it from the primary)" for f in AURORA_MEMBER_FORBIDDEN
                         if conf.get(f) is not None]
        else:
            # RDS-managed passwords are refused on global members (rds-secrets-manager.html, Limitations);
            # a plain master_password lands in the plan and the state: write-only is what is left
            if conf.get("master_password") is not None:
                problems.append("has a master_password: the password would be in the plan and the state")
            if conf.get("global_cluster_identifier") and _true(conf.get("manage_master_user_password")):
                problems.append("lets RDS manage the password, which RDS refuses for a global database member")
            if conf.get("master_username") and not (conf.get("master_password_wo")
                                                    or _true(conf.get("manage_master_user_password"))):
                problems.append("has no password source that stays out of the state (master_password_wo)")
        if not (_true(conf.get("storage_encrypted")) and conf.get("kms_key_id")):
            problems.append("is not encrypted with a customer-managed key (a secondary must name one in its region)")
        kept = {int(r["lifecycle"]["delete_after"]) for p in output.resources(stack, "aws_backup_plan").values()
                for r in as_list(p.get("rule")) if r.get("enable_continuous_backup")
                and isinstance(r.get("lifecycle"), dict) and r["lifecycle"].get("delete_after") is not None}
        if kept and conf.get("backup_retention_period") not in kept:
            problems.append(f"keeps backups {conf.get('backup_retention_period')} days while AWS Backup's continuous "
                            f"rule keeps {sorted(kept)}: AWS Backup manages the retention and RDS refuses the "
                            "other value on the next apply")
        yield stack, subject, not problems, "; ".join(problems)
    for stack, name, conf in output.every("aws_elasticache_global_replication_group"):
        ignored = set(as_list((conf.get("lifecycle") or {}).get("ignore_changes")))
        yield stack, f"aws_elasticache_global_replication_group.{name}", "primary_replication_group_id" in ignored, (
            "does not ignore primary_replication_group_id: the provider reads it from the current primary and "
            "it forces replacement, so after a failover every plan replaces the global datastore")


KEY_USERS = {
    # resource type -> (attribute path, service)
    "aws_rds_cluster": (("kms_key_id",), "rds"),
    "aws_rds_cluster_instance": (("performance_insights_kms_key_id",), "rds"),
    "aws_elasticache_replication_group": (("kms_key_id",), "elasticache"),
    "aws_backup_vault": (("kms_key_arn",), "backup"),
    "aws_ecr_repository": (("encryption_configuration", "kms_key"), "ecr"),
}


def _key_conf(output: Output, stack: str, value) -> Optional[dict]:
    for ref in output.refs(stack, value):
        if ref.type in ("aws_kms_key", "aws_kms_replica_key"):
            return output.get(ref)
    return None


def _allows(policy: str, service: str, region: str) -> bool:
    via = f"{service}.{region}.amazonaws.com"
    for statement in policy_statements(policy):
        if statement.get("Effect") != "Allow":
            continue
        actions = as_list(statement.get("Action"))
        if not any(a in ("kms:*", "kms:CreateGrant") for a in actions):
            continue
        services = as_list(((statement.get("Condition") or {}).get("StringEquals") or {}).get("kms:ViaService"))
        if via in services:
            return True
    return False


@rule(27, "A customer-managed key that a data service encrypts with lets that service use it (grants) in that "
          "region", "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service")
def data_keys_usable(output: Output):
    for rtype, (path, service) in KEY_USERS.items():
        for stack, name, conf in output.every(rtype):
            value = conf
            for part in path:
                value = (as_list(value)[0] if isinstance(value, list) and value else value)
                value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                continue
            key = _key_conf(output, stack, value)
            region = stack_region(output, stack)
            if key is None or region is None:
                continue
            yield stack, f"{rtype}.{name}", _allows(key.get("policy", ""), service, region), (
                f"its key's policy does not let {service} in {region} use it (kms:ViaService "
                f"{service}.{region}.amazonaws.com): the create fails with a KMS access error")


@rule(28, "S3 server access logging targets a bucket whose policy admits logging.s3.amazonaws.com for the source "
          "bucket, and waits for that policy",
          "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html")
def server_access_logging(output: Output):
    for stack, name, conf in output.every("aws_s3_bucket_logging"):
        subject = f"aws_s3_bucket_logging.{name}"
        targets = {r.address for r in output.refs(stack, conf.get("target_bucket"))}
        source = next((output.get(r) for r in output.refs(stack, conf.get("bucket"))), None) or {}
        source_name = source.get("bucket") or conf.get("bucket")
        prefix = str(conf.get("target_prefix") or "")
        policies = [(n, p) for n, p in output.resources(stack, "aws_s3_bucket_policy").items()
                    if {r.address for r in output.refs(stack, p.get("bucket"))} & targets]
        granted = [n for n, p in policies for s in policy_statements(p.get("policy"))
                   if s.get("Effect") == "Allow" and covers(actions(s), "s3:PutObject")
                   and (s.get("Principal") or {}).get("Service") == "logging.s3.amazonaws.com"
                   and any(prefix in str(r) for r in as_list(s.get("Resource")))
                   and str(source_name) in json.dumps(s.get("Condition", {}))]
        if not granted:
            yield stack, subject, False, (f"no policy on the target bucket lets logging.s3.amazonaws.com write "
                                          f"{prefix or '<prefix>'} for {source_name}: PutBucketLogging answers "
                                          "InvalidTargetBucketForLogging")
            continue
        waits = all(f"aws_s3_bucket_policy.{n}" in output.depends_on(stack, conf) for n in granted)
        yield stack, subject, waits, (f"does not depend_on aws_s3_bucket_policy.{granted[0]}: logging can be "
                                      "turned on before the target admits it, and S3 refuses")


@rule(31, "A Global Datastore member sets no engine and ignores the engine it reads back",
      "https://github.com/hashicorp/terraform-provider-aws/issues/40786")
def member_engine(output: Output):
    # hashicorp/aws 5.100.0 defaults `engine` to "redis"; AWS builds the member with the datastore's engine
    # ("valkey" for a Valkey datastore) and the provider reads that back: every later plan replaces the
    # member, and with prevent_destroy the plan fails (#41713, #42592).
    for stack, name, conf in output.every("aws_elasticache_replication_group"):
        if not conf.get("global_replication_group_id"):
            continue
        ignored = as_list((conf.get("lifecycle") or {}).get("ignore_changes"))
        subject = f"aws_elasticache_replication_group.{name}"
        if conf.get("engine"):
            yield stack, subject, False, "sets engine beside global_replication_group_id (AWS refuses it)"
        else:
            yield stack, subject, "engine" in ignored or "all" in ignored, (
                "does not ignore_changes engine: the provider's default 'redis' differs from what AWS reads back "
                "and every later plan replaces the member")


@rule(33, "A compliance-mode Backup vault lock has prevent_destroy (immutable after its grace days, every field "
          "ForceNew)", "https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html")
def vault_lock(output: Output):
    for stack, name, conf in output.every("aws_backup_vault_lock_configuration"):
        if conf.get("changeable_for_days") is None:
            continue  # governance mode: an administrator can lift it
        yield stack, f"aws_backup_vault_lock_configuration.{name}", (conf.get("lifecycle") or {}).get(
            "prevent_destroy") is True, ("has no prevent_destroy: a retention change plans a delete + create that AWS "
                                         "refuses half way once the grace days have passed")
