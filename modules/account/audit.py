"""The account's audit trail: one multi-region CloudTrail trail into a locked bucket, replicated.

What CloudTrail, S3 and KMS enforce that the emulator does not, each with its source:
- CloudTrail checks at CreateTrail that it may write to the bucket (GetBucketAcl, PutObject under
  ``AWSLogs/<account>/``) and encrypt with the key: the trail depends on the bucket policy, and both
  policies name the trail by ``aws:SourceArn``.
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
- Object Lock is turned on when a bucket is created (``object_lock_enabled``) and needs versioning;
  CloudTrail delivers into a bucket with default retention.
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
- Replicating an Object Lock bucket needs Object Lock on the destination too, and the role needs
  s3:GetObjectRetention / s3:GetObjectLegalHold on the source.
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-replication
- AWS Config delivers to a bucket of another region with GetBucketAcl, ListBucket and PutObject
  under ``config/AWSLogs/<account>/Config/``, the ACL bucket-owner-full-control, but never to a bucket
  with Object Lock default retention (its uploads carry no Content-MD5), so it has a bucket of its own;
  Config keeps each region's configuration history itself, the bucket holds its delivered snapshots.
  https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-policy.html
  https://docs.aws.amazon.com/config/latest/developerguide/manage-delivery-channel.html
- With S3 Bucket Keys, creating a trail needs kms:Decrypt for CloudTrail on the key, and whoever reads
  the logs decrypts under CloudTrail's encryption context.
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
"""

from __future__ import annotations

from typing import Optional

from constructs import Construct

from environments.schema import BucketConfig
from environments.schema.account import AccountConfig
from modules.data.replication import BucketReplication
from modules.iam import AccountContext, policy_document
from modules.loadbalancing.access_logs import deny_insecure_transport, expiring_lifecycle, private_versioned
from modules.providers import aws
from modules.security.keys import RegionalKey, admin_statement
from modules.stacks.names import physical
from modules.tags import SINGLE_REGION

TRAIL_PREFIX = "cloudtrail"
CONFIG_PREFIX = "config"


def audit_bucket_name(account: AccountConfig, region: str) -> str:
    """``spofless-audit-<account id>-<region>``: globally unique, and the same from every stack."""
    return physical(f"spofless-audit-{account.account_id}-{region}", 63)


def config_bucket_name(account: AccountConfig) -> str:
    """``spofless-config-<account id>-<home region>``: where every region's AWS Config delivers."""
    return physical(f"spofless-config-{account.account_id}-{account.home_region}", 63)


def trail_name(account: AccountConfig) -> str:
    return physical(f"{account.name}-audit", 128)


class AuditBucket(Construct):
    """One audit bucket: versioned, private, SSE-KMS with its region's audit key, TLS only, and the policy
    its writer delivers through: CloudTrail's (``writer="cloudtrail"``, Object Lock default retention),
    AWS Config's (``"config"``, no default retention: Config cannot write under it), or none (a replica,
    locked like its source)."""

    def __init__(self, scope: Construct, construct_id: str, *, account: AccountConfig, region: str, provider,
                 context: AccountContext, trail_arn: str, writer: Optional[str], name: Optional[str] = None,
                 key: Optional[RegionalKey] = None):
        super().__init__(scope, construct_id)
        audit = account.audit
        self.name = name or audit_bucket_name(account, region)
        self.region = region
        arn = f"arn:{context.partition}:s3:::{self.name}"
        self.key = key or self._key(provider, account, region, context, trail_arn)
        locked = writer != "config"
        self.bucket = aws("s3_bucket").S3Bucket(self, "bucket", provider=provider, bucket=self.name,
                                                object_lock_enabled=True if locked else None, force_destroy=False,
                                                lifecycle={"prevent_destroy": True})
        self.versioning = private_versioned(self, self.bucket.id, provider=provider)
        if locked:
            lock = aws("s3_bucket_object_lock_configuration")
            lock.S3BucketObjectLockConfigurationA(
                self, "object-lock", provider=provider, bucket=self.bucket.id,
                rule=lock.S3BucketObjectLockConfigurationRuleA(
                    default_retention=lock.S3BucketObjectLockConfigurationRuleDefaultRetentionA(
                        mode=audit.object_lock.upper(), days=audit.retention_days)),
                depends_on=[self.versioning])
        sse = aws("s3_bucket_server_side_encryption_configuration")
        self.encryption = sse.S3BucketServerSideEncryptionConfigurationA(
            self, "encryption", provider=provider, bucket=self.bucket.id,
            rule=[sse.S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default={"sse_algorithm": "aws:kms",
                                                          "kms_master_key_id": self.key.arn},
                bucket_key_enabled=True)])
        # a locked version cannot be removed before its retention ends; S3 expires it the day after
        expiring_lifecycle(self, self.bucket.id, rule_id="expire-after-retention", days=audit.retention_days + 1,
                           noncurrent_days=audit.retention_days + 1, provider=provider)
        aws("s3_bucket_notification").S3BucketNotification(self, "events", provider=provider, bucket=self.bucket.id,
                                                           eventbridge=True)
        statements = [
            deny_insecure_transport(arn),
        ]
        if writer == "cloudtrail":
            statements += [
                {"Sid": "CloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                 "Action": "s3:GetBucketAcl", "Resource": arn,
                 "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}},
                {"Sid": "CloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                 "Action": "s3:PutObject", "Resource": f"{arn}/{TRAIL_PREFIX}/AWSLogs/{context.account_id}/*",
                 "Condition": {"StringEquals": {"aws:SourceArn": trail_arn,
                                                "s3:x-amz-acl": "bucket-owner-full-control"}}},
            ]
        elif writer == "config":
            owner = {"StringEquals": {"aws:SourceAccount": context.account_id}}
            statements += [
                {"Sid": "ConfigAclCheck", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"},
                 "Action": ["s3:GetBucketAcl", "s3:ListBucket"], "Resource": arn, "Condition": owner},
                {"Sid": "ConfigWrite", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"},
                 "Action": "s3:PutObject",
                 "Resource": f"{arn}/{CONFIG_PREFIX}/AWSLogs/{context.account_id}/Config/*",
                 "Condition": {"StringEquals": {"aws:SourceAccount": context.account_id,
                                                "s3:x-amz-acl": "bucket-owner-full-control"}}},
            ]
        self.policy = aws("s3_bucket_policy").S3BucketPolicy(self, "policy", provider=provider, bucket=self.bucket.id,
                                                             policy=policy_document(statements))

    def _key(self, provider, account: AccountConfig, region: str, context: AccountContext,
             trail_arn: str) -> RegionalKey:
        # CloudTrail encrypts with the key when the trail's SourceArn and the encryption context name this
        # account's trails; AWS Config delivers through S3 under the same key; S3 replication encrypts
        # replicas with the destination's key (granted to the replication role through IAM).
        account_trails = f"arn:{context.partition}:cloudtrail:*:{context.account_id}:trail/*"
        statements = [
            admin_statement(context, replicable=False),
            {"Sid": "CloudTrailEncrypt", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "kms:GenerateDataKey*", "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceArn": trail_arn},
                           "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": account_trails}}},
            {"Sid": "CloudTrailDescribe", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}},
            {"Sid": "AccountDecryptsTrailLogs", "Effect": "Allow", "Principal": {"AWS": context.root_arn},
             "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEquals": {"kms:CallerAccount": context.account_id},
                           "Null": {"kms:EncryptionContext:aws:cloudtrail:arn": "false"}}},
            {"Sid": "ConfigDelivery", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": context.account_id}}},
            {"Sid": "AccountReadsLogs", "Effect": "Allow", "Principal": {"AWS": context.root_arn},
             "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
            {"Sid": "AccountReplicates", "Effect": "Allow", "Principal": {"AWS": context.root_arn},
             "Action": ["kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
        ]
        key = aws("kms_key").KmsKey(
            self, "key", provider=provider, description=f"{account.name}: audit logs (CloudTrail, AWS Config) in "
                                                        f"{region}",
            enable_key_rotation=True, deletion_window_in_days=30, policy=policy_document(statements),
            # one key per region's audit bucket: the replica bucket's objects are encrypted again with that
            # region's key, so neither region's copy needs the other region's key
            tags={SINGLE_REGION: "one key per region's audit bucket; the replica bucket has its own"},
            lifecycle={"prevent_destroy": True})
        aws("kms_alias").KmsAlias(self, "alias", provider=provider, name=f"alias/spofless/{account.name}/audit",
                                  target_key_id=key.key_id)
        return RegionalKey("audit", region, key.arn, key.key_id, False)


class AuditTrail(Construct):
    """The multi-region trail (every region's management events, global services included, log-file
    validation on, KMS-encrypted) into the home region's audit bucket, replicated to ``replica``'s."""

    def __init__(self, scope: Construct, construct_id: str, *, account: AccountConfig, context: AccountContext,
                 home_provider, replica_provider):
        super().__init__(scope, construct_id)
        home = account.home_region
        replica = account.trail_replica_region
        self.name = trail_name(account)
        self.arn = f"arn:{context.partition}:cloudtrail:{home}:{context.account_id}:trail/{self.name}"
        self.bucket = AuditBucket(self, "bucket", account=account, region=home, provider=home_provider,
                                  context=context, trail_arn=self.arn, writer="cloudtrail")
        self.config_bucket = AuditBucket(self, "config", account=account, region=home, provider=home_provider,
                                         context=context, trail_arn=self.arn, writer="config",
                                         name=config_bucket_name(account), key=self.bucket.key)
        self.replica: Optional[AuditBucket] = None
        if replica is not None:
            self.replica = AuditBucket(self, "replica", account=account, region=replica, provider=replica_provider,
                                       context=context, trail_arn=self.arn, writer=None)
            replication = BucketReplication(
                self, "replication", name=f"{account.name}-audit", source_bucket=self.bucket.bucket.id,
                destination_bucket=self.replica.bucket.id, destination_region=replica,
                source_key=self.bucket.key, destination_key=self.replica.key,
                # deletes are not replicated: the replica is the copy a mistake or an attacker cannot reach
                config=BucketConfig(replication_time_control=True, replicate_deletes=False),
                partition=context.partition, provider=home_provider,
                depends_on=[self.bucket.versioning, self.replica.versioning],
                extra_source_actions=("s3:GetObjectLegalHold", "s3:GetObjectRetention"))
            self.replication = replication.configuration
        self.trail = aws("cloudtrail").Cloudtrail(
            self, "trail", provider=home_provider, name=self.name, s3_bucket_name=self.bucket.name,
            s3_key_prefix=TRAIL_PREFIX, is_multi_region_trail=True, include_global_service_events=True,
            enable_log_file_validation=True, kms_key_id=self.bucket.key.arn, enable_logging=True,
            # CloudTrail tests its write and its key at create: both policies first
            depends_on=[self.bucket.policy])
