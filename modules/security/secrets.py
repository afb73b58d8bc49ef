"""Secrets Manager secrets, replicated to the standby region, without their values."""

from __future__ import annotations

from typing import Any, Optional

from cdktf import Fn
from constructs import Construct

from environments.schema import SecurityConfig
from modules.iam import AccountContext
from modules.providers import aws
from modules.security.keys import Grantee, KeyRing
from modules.tags import KEY_PURPOSE, SINGLE_REGION
from modules.security.rotation_function import RotationFunction


def secret_arn_pattern(account: AccountContext, region: str, env_name: str, name: str) -> str:
    """ARN pattern of secret ``<env>/<name>`` in ``region``: AWS appends six random characters,
    so the pattern ``<name>-??????`` matches the secret (primary or replica) and nothing else."""
    return f"arn:{account.partition}:secretsmanager:{region}:{account.account_id}:secret:{env_name}/{name}-??????"


def _construct_id(name: str) -> str:
    return name.replace("/", "-")


class SecretSet(Construct):
    """The environment's secrets: metadata, encryption, replication and rotation only.

    Each secret is encrypted with its purpose's primary-region key and
    replicated to the standby region under the replica key. No secret version
    is ever declared here: values are set out of band or created by the
    rotation function inside AWS, so neither the synthesized JSON nor the
    Terraform state holds one.
    """

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str, config: SecurityConfig,
                 keys: KeyRing, primary_provider, account: AccountContext,
                 single_region_reason: Optional[str] = None):
        super().__init__(scope, construct_id)
        self._keys = keys
        self._account = account
        self._env_name = env_name
        self._secrets: dict[str, Any] = {}
        self.rotation_function = None
        rotated = [s for s in config.secrets if s.rotation_period and config.rotation_function(s) is None]
        if rotated:
            self.rotation_function = RotationFunction(
                self, "rotation-function", env_name=env_name, region=keys.primary_region, provider=primary_provider,
                account=account, logs_key=keys.key("logs", keys.primary_region),
                keys=[keys.key(p, keys.primary_region) for p in sorted({s.key for s in rotated})],
                secrets=[s.name for s in rotated])
        for secret in config.secrets:
            module = aws("secretsmanager_secret")
            replicas = []
            if keys.standby_region:
                # Struct class, not a dict: jsii passes dicts inside lists to node unconverted,
                # and a snake_case key would be silently dropped.
                replicas.append(module.SecretsmanagerSecretReplica(
                    region=keys.standby_region, kms_key_id=keys.key(secret.key, keys.standby_region).arn))
            resource = module.SecretsmanagerSecret(
                self, _construct_id(secret.name),
                provider=primary_provider,
                name=f"{env_name}/{secret.name}",
                description=secret.description,
                kms_key_id=keys.key(secret.key, keys.primary_region).arn,
                recovery_window_in_days=30,
                replica=replicas or None,
                tags={KEY_PURPOSE: secret.key, "Value": secret.value,
                      **({SINGLE_REGION: single_region_reason} if single_region_reason else {})},
            )
            if secret.rotation_period:
                own = config.rotation_function(secret) is None
                aws("secretsmanager_secret_rotation").SecretsmanagerSecretRotation(
                    self, f"{_construct_id(secret.name)}-rotation",
                    provider=primary_provider,
                    secret_id=resource.id,
                    rotation_lambda_arn=self.rotation_function.arn if own else config.rotation_function(secret),
                    rotation_rules={"automatically_after_days": secret.rotation_period},
                    # generated: the function creates the first value now, inside AWS
                    rotate_immediately=True,
                    # Secrets Manager invokes the function at once: it must be allowed to first
                    depends_on=[self.rotation_function.allow(secret.name, resource.arn)] if own else None,
                )
            self._secrets[secret.name] = (resource, secret.key)

    @property
    def names(self) -> list[str]:
        return list(self._secrets)

    def secret_arn(self, name: str, region: Optional[str] = None) -> str:
        """ARN of secret ``name`` in ``region`` (the replica's ARN in the standby region)."""
        resource, _ = self._secrets[name]
        region = region or self._keys.primary_region
        if region == self._keys.primary_region:
            return resource.arn
        if region != self._keys.standby_region:
            raise KeyError(f"secret {name!r} exists in {self._keys.regions}, not in {region}")
        # A replica keeps the primary's ARN (suffix included) with the region swapped.
        return Fn.replace(resource.arn, f":{self._keys.primary_region}:", f":{region}:")

    def grant_read(self, grantee: Grantee, name: str, region: str) -> list[dict[str, Any]]:
        """Let ``grantee`` read secret ``name`` in ``region``: the secret, and decrypt via Secrets Manager.

        The secret is named by AWS's documented pattern ``<name>-??????`` (the six
        characters AWS appends), which keeps the policy plain JSON in both regions.
        """
        _, purpose = self._secrets[name]
        if region not in self._keys.regions:
            raise KeyError(f"secret {name!r} exists in {self._keys.regions}, not in {region}")
        pattern = secret_arn_pattern(self._account, region, self._env_name, name)
        read = {
            "Sid": "ReadSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Resource": pattern,
        }
        grantee.add_to_policy(read)
        return [read, self._keys.key(purpose, region).grant_decrypt(grantee, via_service="secretsmanager")]
