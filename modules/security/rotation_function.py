"""The Lambda that rotates the secrets spofless generates, deployed in the primary region."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from constructs import Construct

from modules.assets import deterministic_zip, file_asset
from modules.iam import AccountContext, PolicyStatements, policy_document
from modules.providers import aws
from modules.security.keys import RegionalKey

HANDLER = Path(__file__).resolve().parent / "rotation" / "handler.py"
RUNTIME = "python3.12"


def package() -> bytes:
    """The function's zip, byte-identical for identical source."""
    return deterministic_zip({"handler.py": HANDLER.read_bytes()})


class RotationFunction(Construct):
    """Random-value rotation (modules/security/rotation/handler.py) of the secrets named in ``secrets``.

    Secrets Manager invokes it when rotation is configured, at once for a secret that
    rotates immediately, so it must exist, be invocable by Secrets Manager, and be able to
    read and write the secrets and use their keys before any rotation is declared.
    It reaches those secrets and no other: its role names each one (not ``<env>/*``, which
    holds the database password and the Git tokens), each secret gets its own invoke
    permission limited to that secret's ARN (:meth:`allow`), and the handler refuses any
    secret outside ``SECRET_NAMES``.
    https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets-required-permissions-function.html
    """

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str, region: str, provider,
                 account: AccountContext, keys: list[RegionalKey], logs_key: RegionalKey, secrets: list[str],
                 log_retention_days: int = 365):
        super().__init__(scope, construct_id)
        name = f"{env_name}-secret-rotation"
        zipped = package()
        # the output's copy is checked against source_code_hash (tests/stacks/test_security.py)
        asset_path = file_asset(self, "code", zipped, "rotation.zip")
        group = aws("cloudwatch_log_group").CloudwatchLogGroup(
            self, "logs", provider=provider, name=f"/aws/lambda/{name}", retention_in_days=log_retention_days,
            kms_key_id=logs_key.arn)
        self._provider = provider
        self._account = account
        # AWS appends six characters to a secret's name in its ARN
        arns = sorted(f"arn:{account.partition}:secretsmanager:{region}:{account.account_id}:secret:"
                      f"{env_name}/{name}-??????" for name in secrets)
        role = aws("iam_role").IamRole(
            self, "role", provider=provider, name=name,
            assume_role_policy=policy_document([{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}}}]))
        statements = PolicyStatements([
            {"Sid": "RotateOwnSecrets", "Effect": "Allow", "Resource": arns,
             "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                        "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]},
            {"Sid": "RandomValues", "Effect": "Allow", "Action": "secretsmanager:GetRandomPassword",
             "Resource": "*"},
            {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"{group.arn}:*"},
            {"Sid": "Tracing", "Effect": "Allow", "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
             "Resource": "*"},
        ])
        for key in keys:  # use of the secrets' keys, through Secrets Manager only
            key.grant_encrypt_decrypt(statements, via_service="secretsmanager")
        aws("iam_role_policy").IamRolePolicy(
            self, "policy", provider=provider, role=role.id, name="rotate-secrets",
            policy=policy_document(statements))
        self.function = aws("lambda_function").LambdaFunction(
            self, "function", provider=provider, function_name=name, role=role.arn, runtime=RUNTIME,
            handler="handler.handler", filename=asset_path, timeout=60, memory_size=128,
            source_code_hash=base64.b64encode(hashlib.sha256(zipped).digest()).decode(),
            tracing_config={"mode": "Active"}, depends_on=[group],
            environment={"variables": {"SECRET_NAMES": ",".join(sorted(f"{env_name}/{n}" for n in secrets))}},
            description="Rotates the random secrets spofless generates (new value each rotation)")
        self.arn: str = self.function.arn

    def allow(self, name: str, secret_arn: str):
        """Let Secrets Manager invoke the function for one secret (its ARN and this account only)."""
        return aws("lambda_permission").LambdaPermission(
            self, f"invoke-{name.replace('/', '-')}", provider=self._provider,
            statement_id=f"SecretsManagerRotation-{name.replace('/', '-')}",
            action="lambda:InvokeFunction", function_name=self.function.function_name,
            principal="secretsmanager.amazonaws.com", source_account=self._account.account_id,
            source_arn=secret_arn)
