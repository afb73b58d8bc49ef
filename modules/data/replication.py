"""Cross-region replication of the application buckets (both directions) and of the ECR registry."""

from __future__ import annotations

from constructs import Construct

from environments.schema import BucketConfig
from modules.iam import PolicyStatements, policy_document, service_assume_role_policy
from modules.providers import aws
from modules.security.keys import RegionalKey
from modules.stacks.names import physical


def replication_rule_id(destination_region: str) -> str:
    """The id of the rule that replicates a bucket to ``destination_region`` (its metrics' RuleId)."""
    return f"to-{destination_region}"


class BucketReplication(Construct):
    """Replicates this region's application bucket to the other region's, with the other
    region's storage key (the replica key there).

    Both regions carry a rule towards the other, with replica modification sync: after a
    failover the standby's writes flow back, and neither region is the only copy of an object
    written while the other was away. What S3 enforces and the emulator does not:
    - versioning on source and destination, else PutBucketReplication fails (the buckets are
      created, versioned, by the regional stacks, which apply before either data stack);
    - SSE-KMS objects replicate only when the rule opts in (sse_kms_encrypted_objects) and names
      the destination key (replica_kms_key_id), and the role may decrypt with the source key and
      encrypt with the destination key, each through S3 in its own region;
    - Replication Time Control needs replication metrics on the same rule.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html
    Delete markers: replicated when ``replicate_deletes`` (the default), so both regions answer the
    same; deleting a specific version is never replicated (S3's rule), so a delete is recoverable
    on both sides by removing its marker.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/delete-marker-replication.html
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, source_bucket: str,
                 destination_bucket: str, destination_region: str, source_key: RegionalKey,
                 destination_key: RegionalKey, config: BucketConfig, partition: str, provider=None,
                 depends_on=None, extra_source_actions: tuple[str, ...] = ()):
        super().__init__(scope, construct_id)
        source_arn = f"arn:{partition}:s3:::{source_bucket}"
        destination_arn = f"arn:{partition}:s3:::{destination_bucket}"
        statements = PolicyStatements([
            {"Sid": "ReadSource", "Effect": "Allow", "Resource": source_arn,
             "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"]},
            {"Sid": "ReadSourceVersions", "Effect": "Allow", "Resource": f"{source_arn}/*",
             "Action": sorted(["s3:GetObjectVersionAcl", "s3:GetObjectVersionForReplication",
                               "s3:GetObjectVersionTagging", *extra_source_actions])},
            {"Sid": "WriteDestination", "Effect": "Allow", "Resource": f"{destination_arn}/*",
             "Action": ["s3:ObjectOwnerOverrideToBucketOwner", "s3:ReplicateDelete", "s3:ReplicateObject",
                        "s3:ReplicateTags"]},
        ])
        source_key.grant_decrypt(statements, via_service="s3")
        destination_key.grant_encrypt_decrypt(statements, via_service="s3")
        self.role = aws("iam_role").IamRole(
            self, "role", provider=provider, name=physical(f"{name}-s3-replication", 64),
            assume_role_policy=service_assume_role_policy("s3.amazonaws.com"),
            description=f"{name}: S3 replication of {source_bucket} to {destination_bucket}")
        aws("iam_role_policy").IamRolePolicy(self, "policy", provider=provider, role=self.role.id, name="replicate",
                                            policy=policy_document(statements))
        destination = {
            "bucket": destination_arn,
            "storage_class": "STANDARD",
            "encryption_configuration": {"replica_kms_key_id": destination_key.arn},
        }
        if config.replication_time_control:
            destination["replication_time"] = {"status": "Enabled", "time": {"minutes": 15}}
            destination["metrics"] = {"status": "Enabled", "event_threshold": {"minutes": 15}}
        replication = aws("s3_bucket_replication_configuration")
        self.configuration = replication.S3BucketReplicationConfigurationA(
            self, "configuration", provider=provider, bucket=source_bucket, role=self.role.arn, depends_on=depends_on,
            rule=[replication.S3BucketReplicationConfigurationRule(
                id=replication_rule_id(destination_region), status="Enabled", priority=1,
                filter={},
                delete_marker_replication={"status": "Enabled" if config.replicate_deletes else "Disabled"},
                source_selection_criteria={"sse_kms_encrypted_objects": {"status": "Enabled"},
                                           "replica_modifications": {"status": "Enabled"}},
                destination=destination,
            )])


class RegistryReplication(Construct):
    """The primary region's private registry replicates the environment's repositories to the
    standby region, so the standby cluster pulls images while the primary region is down.
    Registry-wide: one configuration per account and region (the loader allows one owner)."""

    def __init__(self, scope: Construct, construct_id: str, *, account_id: str, destination_region: str,
                 repositories: tuple[str, ...]):
        super().__init__(scope, construct_id)
        ecr = aws("ecr_replication_configuration")
        self.configuration = ecr.EcrReplicationConfiguration(
            self, "configuration",
            replication_configuration=ecr.EcrReplicationConfigurationReplicationConfiguration(rule=[
                ecr.EcrReplicationConfigurationReplicationConfigurationRule(
                    destination=[ecr.EcrReplicationConfigurationReplicationConfigurationRuleDestination(
                        region=destination_region, registry_id=account_id)],
                    repository_filter=[
                        ecr.EcrReplicationConfigurationReplicationConfigurationRuleRepositoryFilter(
                            filter=name, filter_type="PREFIX_MATCH") for name in repositories])]))
