"""Where Terraform keeps state: the S3 backend, its lock and its replica."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import model_validator

from environments.schema.common import Frozen, Region, schema_error


KMS_KEY_ARN = re.compile(r"^arn:aws[\w-]*:kms:[a-z0-9-]+:\d{12}:key/[\w-]+$")


class BackendConfig(Frozen):
    """Where Terraform keeps each stack's state."""

    type: Literal["local", "s3"] = "local"
    """``local`` (default): ``terraform.<stack>.tfstate`` at the project root.
    ``s3``: one object per stack in ``bucket``, encrypted, with locking."""

    bucket: Optional[str] = None
    """S3 bucket for state. Required when type is s3."""

    region: Optional[Region] = None
    """Region of the bucket. Left out: the environment's primary region."""

    key_prefix: str = "spofless"
    """Object key prefix; the key is ``<key_prefix>/<env>/<stack>.tfstate``."""

    kms_key_id: Optional[str] = None
    """KMS key ARN for state encryption. Left out: SSE-S3 (``encrypt = true``)."""

    lock: Literal["lockfile", "dynamodb"] = "lockfile"
    """``lockfile`` (default): S3-native locking (Terraform >= 1.10).
    ``dynamodb``: the legacy lock table named in ``dynamodb_table``."""

    dynamodb_table: Optional[str] = None
    """Lock table, required when lock is dynamodb."""

    standby_bucket: Optional[str] = None
    """S3 bucket in the standby region, for the stacks of the standby region. Required when
    type is s3 and the environment has a standby region: the standby region must be operable
    while the primary region is down, so its stacks keep their state there and read the
    upstream stacks' state (security, dns-zone) from this bucket, which holds a replica of
    ``bucket`` (S3 replication from ``bucket``, set up with the buckets; see the README)."""

    standby_kms_key_id: Optional[str] = None
    """KMS key ARN in the standby region for ``standby_bucket``. Left out: SSE-S3."""

    @model_validator(mode="after")
    def _s3_fields(self) -> "BackendConfig":
        if self.type == "s3" and not self.bucket:
            raise schema_error("backend", "is required when type is 's3'; allowed: an S3 bucket name",
                        field="bucket", value=self.bucket)
        for name in ("bucket", "kms_key_id", "dynamodb_table", "standby_bucket", "standby_kms_key_id"):
            if self.type == "local" and getattr(self, name):
                raise schema_error("backend", "applies only when type is 's3'; allowed: leave it out, or set type: s3",
                            field=name, value=getattr(self, name))
        for name in ("kms_key_id", "standby_kms_key_id"):
            value = getattr(self, name)
            if value and not KMS_KEY_ARN.match(value):
                raise schema_error("backend", "is not a KMS key ARN; allowed: arn:aws:kms:<region>:<account>:key/<id> "
                                              "(the replication role's policy names the key itself, not an alias)",
                                   field=name, value=value)
        if self.standby_bucket and bool(self.kms_key_id) != bool(self.standby_kms_key_id):
            # S3 replicates SSE-KMS objects only with a replica key named for the destination
            # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html)
            given = "kms_key_id" if self.kms_key_id else "standby_kms_key_id"
            missing = "standby_kms_key_id" if self.kms_key_id else "kms_key_id"
            raise schema_error("backend", f"is missing while {given} is set; allowed: both keys (state replicated "
                                          "from one KMS key to the other) or neither (SSE-S3)",
                               field=missing, value=None)
        if self.type == "s3" and self.lock == "dynamodb" and not self.dynamodb_table:
            raise schema_error("backend", "is required when lock is 'dynamodb'; allowed: a DynamoDB table name",
                        field="dynamodb_table", value=self.dynamodb_table)
        return self
