"""The S3 bucket that receives one region's load balancer access logs."""

from __future__ import annotations

from constructs import Construct

from modules.iam import AccountContext, policy_document
from modules.providers import aws

# Regions that predate August 2022 deliver ALB logs from a regional ELB account
# (aws_elb_service_account knows which); newer regions use the service principal.
_LEGACY_ELB_ACCOUNT_REGIONS = {
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-south-1",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-south-1", "eu-north-1", "me-south-1", "sa-east-1",
}


def private_versioned(scope: Construct, bucket_id: str, provider=None):
    """Owner-enforced (no ACLs), every public access blocked, versioned: what every spofless bucket
    starts from. Returns the versioning resource (replication rules depend on it)."""
    aws("s3_bucket_ownership_controls").S3BucketOwnershipControls(
        scope, "ownership", provider=provider, bucket=bucket_id, rule={"object_ownership": "BucketOwnerEnforced"})
    aws("s3_bucket_public_access_block").S3BucketPublicAccessBlock(
        scope, "public-access", provider=provider, bucket=bucket_id, block_public_acls=True,
        block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
    return aws("s3_bucket_versioning").S3BucketVersioningA(
        scope, "versioning", provider=provider, bucket=bucket_id, versioning_configuration={"status": "Enabled"})


def deny_insecure_transport(bucket_arn: str) -> dict:
    """The bucket-policy statement every spofless bucket carries: no request over plain HTTP."""
    return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def expiring_lifecycle(scope: Construct, bucket_id: str, *, rule_id: str, days: int, noncurrent_days: int,
                       provider=None):
    """Expire objects after ``days`` and their old versions after ``noncurrent_days``, abort stale uploads, and
    remove the delete markers expiry leaves behind (what every spofless bucket that expires does)."""
    lifecycle = aws("s3_bucket_lifecycle_configuration")
    return lifecycle.S3BucketLifecycleConfiguration(
        scope, "lifecycle", provider=provider, bucket=bucket_id,
        rule=[lifecycle.S3BucketLifecycleConfigurationRule(
            id=rule_id, status="Enabled",
            filter=[lifecycle.S3BucketLifecycleConfigurationRuleFilter(prefix="")],
            expiration=[lifecycle.S3BucketLifecycleConfigurationRuleExpiration(days=days)],
            noncurrent_version_expiration=[
                lifecycle.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=noncurrent_days)],
            abort_incomplete_multipart_upload=[
                lifecycle.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                    days_after_initiation=7)],
        ), lifecycle.S3BucketLifecycleConfigurationRule(
            # In a versioned bucket, expiring a current object only adds a delete marker; once
            # its noncurrent versions expire the marker is left alone, listed and kept forever,
            # unless a rule removes expired markers. S3 rejects ExpiredObjectDeleteMarker beside
            # Days in one Expiration, hence a rule of its own.
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configuration-examples.html
            id="remove-expired-delete-markers", status="Enabled",
            filter=[lifecycle.S3BucketLifecycleConfigurationRuleFilter(prefix="")],
            expiration=[lifecycle.S3BucketLifecycleConfigurationRuleExpiration(
                expired_object_delete_marker=True)],
        )])


class AccessLogBucket(Construct):
    """Versioned, private, encrypted bucket for ALB and NLB access logs, with expiry.

    Encryption is SSE-S3 (AES256): ELB access log delivery does not support
    SSE-KMS, so a customer key is not an option for this bucket.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, region: str,
                 expiry_days: int, account: AccountContext, prefixes: tuple[str, ...],
                 server_log_sources: tuple[str, ...] = ()):
        super().__init__(scope, construct_id)
        self.prefixes = prefixes
        self.server_log_sources = server_log_sources
        self.bucket = aws("s3_bucket").S3Bucket(self, "bucket", bucket=name, force_destroy=False)
        bucket_id = self.bucket.id
        private_versioned(self, bucket_id)
        sse = aws("s3_bucket_server_side_encryption_configuration")
        sse.S3BucketServerSideEncryptionConfigurationA(
            self, "encryption", bucket=bucket_id,
            rule=[sse.S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default={"sse_algorithm": "AES256"})])
        expiring_lifecycle(self, bucket_id, rule_id="expire-access-logs", days=expiry_days, noncurrent_days=30)
        # EventBridge notifications: lets log pipelines subscribe without touching the bucket again.
        aws("s3_bucket_notification").S3BucketNotification(self, "events", bucket=bucket_id, eventbridge=True)
        # Every load balancer that logs here must depend on this policy: ELB writes a test
        # object when access logging is turned on and fails the create when it is denied.
        self.policy = aws("s3_bucket_policy").S3BucketPolicy(
            self, "policy", bucket=bucket_id, policy=self._policy(region, account))

    def _policy(self, region: str, account: AccountContext) -> str:
        # ELB writes to <bucket>/<prefix>/AWSLogs/<account>/..., never to <bucket>/AWSLogs/ when a
        # prefix is set, so the grant names each load balancer's prefix. (ELB User Guide, "Enable
        # access logs for your Application Load Balancer" / "... Network Load Balancer": bucket policy,
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/network/enable-access-logs.html)
        objects = [f"{self.bucket.arn}/{prefix}/AWSLogs/{account.account_id}/*" for prefix in self.prefixes]
        if region in _LEGACY_ELB_ACCOUNT_REGIONS:
            elb = aws("data_aws_elb_service_account").DataAwsElbServiceAccount(self, "elb-account", region=region)
            alb_principal = {"AWS": elb.arn}
        else:
            alb_principal = {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
        source_arn = f"arn:{account.partition}:logs:{region}:{account.account_id}:*"
        # S3 server access logs of the region's other buckets (the application bucket), under
        # s3/<bucket>/: with BucketOwnerEnforced the grant must be this policy, not an ACL. (S3 User
        # Guide, "Permissions for log delivery", https://docs.aws.amazon.com/AmazonS3/latest/userguide/
        # enable-server-access-logging.html#grant-log-delivery-permissions-general)
        server_logs = [
            {"Sid": f"S3ServerAccessLogs{index}", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": f"{self.bucket.arn}/s3/{source}/*",
             "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id},
                           "ArnLike": {"aws:SourceArn": f"arn:{account.partition}:s3:::{source}"}}}
            for index, source in enumerate(self.server_log_sources)]
        return policy_document(server_logs + [
            {"Sid": "AlbLogDelivery", "Effect": "Allow", "Principal": alb_principal,
             "Action": "s3:PutObject", "Resource": objects},
            {"Sid": "NlbLogDelivery", "Effect": "Allow", "Principal": {"Service": "delivery.logs.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": objects,
             "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id},
                           "ArnLike": {"aws:SourceArn": source_arn}}},
            {"Sid": "NlbLogDeliveryAclCheck", "Effect": "Allow",
             "Principal": {"Service": "delivery.logs.amazonaws.com"},
             "Action": "s3:GetBucketAcl", "Resource": self.bucket.arn,
             "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id},
                           "ArnLike": {"aws:SourceArn": source_arn}}},
            deny_insecure_transport(self.bucket.arn),
        ])
