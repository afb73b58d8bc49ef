"""The state buckets an environment's S3 backend names, as a Terraform configuration to apply once.

    spofless bootstrap -e prod          writes bootstrap/prod/main.tf.json, then:
    terraform -chdir=bootstrap/prod init && terraform -chdir=bootstrap/prod apply

The stacks cannot create the bucket their own state lives in, so this small configuration comes
first, with local state in its folder (keep that folder, or move its state into the bucket it made
with ``terraform init -migrate-state`` after adding a backend). Generated from the environment file:

* ``backend.bucket`` in ``backend.region`` (default: the primary region) and, with a standby region,
  ``backend.standby_bucket`` there: versioned (Terraform state history, and S3 replication needs
  it), encrypted (``kms_key_id`` when set, else SSE-S3, with an S3 Bucket Key), every public access
  blocked, ACLs off (bucket owner enforced), TLS-only and ``prevent_destroy``; old state versions
  expire after 90 days.
* Replication from the first to the second, with delete markers (a removed lock file is removed in
  the replica too): the standby region's stacks read the security and dns-zone state from the
  replica, so the standby is operable while the primary region is down. The replication role may
  read the source and write the destination only, and use the two keys only through S3.
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html
  (with an S3 Bucket Key the encryption context is the bucket's ARN, not the object's, so both match)
* With ``lock: dynamodb`` (single region only), the lock table, on demand, with point-in-time recovery.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from environments.schema import EnvironmentConfig
from tooling.terraform import locks

PROJECT = Path(__file__).resolve().parents[2]
NONCURRENT_DAYS = 90  # state versions kept to roll a stack's state back


class BootstrapError(Exception):
    """Nothing to bootstrap (a local backend): the message says so."""


def _bucket(name: str, label: str, provider: Optional[str], kms_key: Optional[str],
            tags: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The bucket ``name`` and the resources that make it a state bucket, keyed by resource type."""
    on = {"provider": provider} if provider else {}
    ref = f"${{aws_s3_bucket.{label}.id}}"
    encryption = {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key} if kms_key else {"sse_algorithm": "AES256"}
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "TLSOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    return {
        "aws_s3_bucket": {label: {**on, "bucket": name, "force_destroy": False, "tags": tags,
                                  "lifecycle": {"prevent_destroy": True}}},
        "aws_s3_bucket_versioning": {label: {**on, "bucket": ref,
                                             "versioning_configuration": {"status": "Enabled"}}},
        "aws_s3_bucket_server_side_encryption_configuration": {label: {**on, "bucket": ref, "rule": [{
            "apply_server_side_encryption_by_default": encryption, "bucket_key_enabled": True}]}},
        "aws_s3_bucket_public_access_block": {label: {**on, "bucket": ref, "block_public_acls": True,
                                                      "block_public_policy": True, "ignore_public_acls": True,
                                                      "restrict_public_buckets": True}},
        "aws_s3_bucket_ownership_controls": {label: {**on, "bucket": ref,
                                                     "rule": {"object_ownership": "BucketOwnerEnforced"}}},
        "aws_s3_bucket_policy": {label: {**on, "bucket": ref, "policy": json.dumps(policy, sort_keys=True),
                                         "depends_on": [f"aws_s3_bucket_public_access_block.{label}"]}},
        "aws_s3_bucket_lifecycle_configuration": {label: {**on, "bucket": ref, "rule": [{
            "id": "state-history", "status": "Enabled", "filter": {},
            "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_DAYS},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}],
            "depends_on": [f"aws_s3_bucket_versioning.{label}"]}},
    }


def _merge(into: dict[str, dict], more: dict[str, dict]) -> None:
    for rtype, resources in more.items():
        into.setdefault(rtype, {}).update(resources)


def configuration(env: EnvironmentConfig) -> dict[str, Any]:
    """The bootstrap configuration of ``env`` (Terraform JSON)."""
    backend = env.backend
    if backend.type != "s3":
        raise BootstrapError(f"{env.name}: backend.type is {backend.type!r}; state stays in local files, "
                             "nothing to bootstrap (set backend.type: s3 and a bucket first)")
    region = backend.region or env.regions.primary.name
    tags = {**env.all_tags, "spofless:purpose": "terraform-state"}
    providers = [{"region": region, "allowed_account_ids": [env.account_id], "default_tags": {"tags": tags}}]
    resources: dict[str, dict] = {}
    _merge(resources, _bucket(backend.bucket, "state", None, backend.kms_key_id, tags))
    standby = env.regions.standby.name if env.regions.standby is not None else None
    if standby and backend.standby_bucket:
        providers.append({"alias": "standby", "region": standby, "allowed_account_ids": [env.account_id],
                          "default_tags": {"tags": tags}})
        _merge(resources, _bucket(backend.standby_bucket, "standby", "aws.standby", backend.standby_kms_key_id, tags))
        _merge(resources, _replication(env, region, standby))
    if backend.lock == "dynamodb" and backend.dynamodb_table:
        resources["aws_dynamodb_table"] = {"lock": {
            "name": backend.dynamodb_table, "billing_mode": "PAY_PER_REQUEST", "hash_key": "LockID",
            "attribute": [{"name": "LockID", "type": "S"}], "point_in_time_recovery": {"enabled": True},
            "server_side_encryption": {"enabled": True}, "deletion_protection_enabled": True,
            "lifecycle": {"prevent_destroy": True}}}
    return {
        "//": f"spofless bootstrap -e {env.name}: the state buckets of {env.name}'s S3 backend; apply once, "
              "before the stacks (tooling/terraform/bootstrap.py)",
        "terraform": {"required_version": ">= 1.11.0",
                      "required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}},
        "provider": {"aws": providers},
        "resource": resources,
        "output": {"state_bucket": {"value": "${aws_s3_bucket.state.id}"},
                   **({"standby_state_bucket": {"value": "${aws_s3_bucket.standby.id}"}} if "standby" in
                      resources["aws_s3_bucket"] else {})},
    }


def _replication(env: EnvironmentConfig, region: str, standby: str) -> dict[str, dict]:
    backend = env.backend
    source, target = backend.bucket, backend.standby_bucket
    role = f"{env.name}-state-replication"
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadSource", "Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
         "Resource": f"arn:aws:s3:::{source}"},
        {"Sid": "ReadSourceVersions", "Effect": "Allow",
         "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
         "Resource": f"arn:aws:s3:::{source}/*"},
        {"Sid": "WriteReplica", "Effect": "Allow",
         "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
         "Resource": f"arn:aws:s3:::{target}/*"},
    ]
    if backend.kms_key_id:
        statements.append({"Sid": "DecryptSource", "Effect": "Allow", "Action": "kms:Decrypt",
                           "Resource": backend.kms_key_id,
                           "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                                         "StringLike": {"kms:EncryptionContext:aws:s3:arn": [f"arn:aws:s3:::{source}",
                                                                                f"arn:aws:s3:::{source}/*"]}}})
    if backend.standby_kms_key_id:
        statements.append({"Sid": "EncryptReplica", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                           "Resource": backend.standby_kms_key_id,
                           "Condition": {"StringEquals": {"kms:ViaService": f"s3.{standby}.amazonaws.com"},
                                         "StringLike": {"kms:EncryptionContext:aws:s3:arn": [f"arn:aws:s3:::{target}",
                                                                                f"arn:aws:s3:::{target}/*"]}}})
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": env.account_id},
                      "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{source}"}}}]}
    rule: dict[str, Any] = {
        "id": "standby-region", "status": "Enabled", "priority": 1, "filter": {},
        "delete_marker_replication": {"status": "Enabled"},
        "destination": {"bucket": "${aws_s3_bucket.standby.arn}", "storage_class": "STANDARD"},
    }
    if backend.kms_key_id:
        rule["source_selection_criteria"] = {"sse_kms_encrypted_objects": {"status": "Enabled"}}
    if backend.standby_kms_key_id:
        rule["destination"]["encryption_configuration"] = {"replica_kms_key_id": backend.standby_kms_key_id}
    return {
        "aws_iam_role": {"replication": {"name": role, "assume_role_policy": json.dumps(trust, sort_keys=True)}},
        "aws_iam_role_policy": {"replication": {"name": "replicate-state", "role": "${aws_iam_role.replication.id}",
                                                "policy": json.dumps({"Version": "2012-10-17",
                                                                      "Statement": statements}, sort_keys=True)}},
        "aws_s3_bucket_replication_configuration": {"state": {
            "bucket": "${aws_s3_bucket.state.id}", "role": "${aws_iam_role.replication.arn}", "rule": [rule],
            "depends_on": ["aws_s3_bucket_versioning.state", "aws_s3_bucket_versioning.standby"]}},
    }


def write(env: EnvironmentConfig, root: Path) -> Path:
    """Write ``<root>/<env>/main.tf.json`` and the lock entry of its provider; the folder keeps the
    bootstrap's own local state."""
    document = configuration(env)
    folder = root / env.name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "main.tf.json"
    target.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    locks.place(folder, document)  # terraform init there checks the provider against the committed lock
    return target
