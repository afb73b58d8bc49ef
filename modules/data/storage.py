"""One region's application bucket and ECR repositories (in the regional stack).

They live in the regional stack, not the data stack, because each region's replication rule
points at the OTHER region's bucket and repositories: S3 refuses a replication configuration
whose destination bucket does not exist or is not versioned, so both regions' buckets must
exist before either data stack applies. The regional stacks of an environment apply first,
side by side; the replication rules come with the data stacks, after them.
"""

from __future__ import annotations

import json

from constructs import Construct

from environments.schema import DataConfig
from modules.data import BACKUP_TAG, app_bucket_name
from modules.iam import policy_document
from modules.loadbalancing.access_logs import deny_insecure_transport, private_versioned
from modules.outputs import stack_output
from modules.providers import aws
from modules.security.keys import RegionalKey


class RegionalStorage(Construct):
    """The application bucket (versioned, SSE-KMS with the region's storage key, private, TLS only,
    access-logged) and, when the environment owns them, its ECR repositories (KMS, immutable tags,
    scan on push, lifecycle)."""

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str, account_id: str, region: str,
                 config: DataConfig, storage_key: RegionalKey, log_bucket_id: str, log_bucket_policy):
        super().__init__(scope, construct_id)
        self.name = app_bucket_name(env_name, region, account_id)
        tags = {BACKUP_TAG: env_name}  # AWS Backup's selection picks the bucket by this tag
        self.bucket = aws("s3_bucket").S3Bucket(self, "bucket", bucket=self.name, force_destroy=False, tags=tags,
                                                lifecycle={"prevent_destroy": True})
        bucket_id = self.bucket.id
        # Replication needs versioning on both sides (S3 User Guide, "Requirements and considerations
        # for replication"): https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-requirements.html
        self.versioning = private_versioned(self, bucket_id)
        sse = aws("s3_bucket_server_side_encryption_configuration")
        sse.S3BucketServerSideEncryptionConfigurationA(
            self, "encryption", bucket=bucket_id,
            rule=[sse.S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default={"sse_algorithm": "aws:kms",
                                                         "kms_master_key_id": storage_key.arn},
                bucket_key_enabled=True)])
        lifecycle = aws("s3_bucket_lifecycle_configuration")
        lifecycle.S3BucketLifecycleConfiguration(
            self, "lifecycle", bucket=bucket_id,
            rule=[lifecycle.S3BucketLifecycleConfigurationRule(
                id="old-versions", status="Enabled",
                filter=[lifecycle.S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                noncurrent_version_expiration=[
                    lifecycle.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                        noncurrent_days=config.bucket.noncurrent_version_days)],
                abort_incomplete_multipart_upload=[
                    lifecycle.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                        days_after_initiation=7)],
            )])
        # Server access logs go to the region's access-log bucket (SSE-S3: S3 server access logging
        # cannot write to an SSE-KMS target), whose policy admits logging.s3.amazonaws.com for this bucket.
        # S3 checks the target's permissions when logging is turned on (PutBucketLogging answers
        # InvalidTargetBucketForLogging until the policy admits logging.s3.amazonaws.com): after the policy.
        aws("s3_bucket_logging").S3BucketLoggingA(self, "logging", bucket=bucket_id, target_bucket=log_bucket_id,
                                                  target_prefix=f"s3/{self.name}/", depends_on=[log_bucket_policy])
        aws("s3_bucket_notification").S3BucketNotification(self, "events", bucket=bucket_id, eventbridge=True)
        aws("s3_bucket_policy").S3BucketPolicy(self, "policy", bucket=bucket_id, policy=policy_document([
            deny_insecure_transport(self.bucket.arn),
        ]))
        stack_output(self, "app_bucket", self.bucket.bucket, "The application bucket of this region")
        self.repositories: dict[str, object] = {}
        for name in config.repositories:
            self._repository(name, storage_key, tags)

    def _repository(self, name: str, key: RegionalKey, tags: dict[str, str]) -> None:
        # Created in every region of the owning environment (the standby's too): replication then
        # writes into a repository that already has this KMS key, immutable tags and scanning,
        # instead of one ECR creates with AES256 defaults when the first image arrives.
        # https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication.html
        logical = name.replace("/", "-").replace(".", "-").replace("_", "-")
        ecr = aws("ecr_repository")
        repository = ecr.EcrRepository(
            self, f"repo-{logical}", name=name, image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            # a struct, not a dict: jsii drops a plain dict inside a list and synthesizes [{}]
            encryption_configuration=[ecr.EcrRepositoryEncryptionConfiguration(encryption_type="KMS",
                                                                               kms_key=key.arn)],
            force_delete=False, tags=tags)
        aws("ecr_lifecycle_policy").EcrLifecyclePolicy(
            self, f"repo-{logical}-lifecycle", repository=repository.name, policy=_LIFECYCLE)
        self.repositories[name] = repository


# Untagged images (layers of superseded builds) go after 14 days; tagged images are kept.
_LIFECYCLE = json.dumps({"rules": [{
    "rulePriority": 1, "description": "untagged images after 14 days", "action": {"type": "expire"},
    "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
}]}, sort_keys=True, separators=(",", ":"))
