"""A regional customer-managed KMS key for CloudWatch Logs in one region."""

from __future__ import annotations

from constructs import Construct

from modules.iam import AccountContext, policy_document
from modules.providers import aws


class LogsKey(Construct):
    """KMS key that only CloudWatch Logs of this account and region may use.

    Rotation on, 30-day deletion window, and a key policy with two statements:
    the account administers the key through IAM, and the regional CloudWatch
    Logs service may use it only for this account's log groups (encryption
    context condition).
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, region: str,
                 account: AccountContext):
        super().__init__(scope, construct_id)
        log_groups = f"arn:{account.partition}:logs:{region}:{account.account_id}:log-group:*"
        policy = policy_document([
            {
                "Sid": "AccountAdministration",
                "Effect": "Allow",
                "Principal": {"AWS": account.root_arn},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsUse",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*",
                           "kms:ReEncrypt*"],
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
            },
        ])
        self.key = aws("kms_key").KmsKey(
            self, "key",
            description=f"{name}: CloudWatch Logs encryption",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy,
        )
        aws("kms_alias").KmsAlias(self, "alias", name=f"alias/{name}/logs", target_key_id=self.key.key_id)
        self.key_arn: str = self.key.arn
