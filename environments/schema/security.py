"""Security: KMS key purposes and the Secrets Manager secrets, replicated to the standby."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import field_validator, model_validator

from environments.schema.common import Frozen, schema_error


KEY_PURPOSES = ("eks", "secrets", "logs", "storage")
REQUIRED_KEY_PURPOSES = {"logs": "VPC flow logs are encrypted with it", "eks": "EKS secrets envelope encryption uses it",
                         "storage": "the EKS nodes' volumes are encrypted with it"}
SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,256}$")
LAMBDA_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$")


class SecretConfig(Frozen):
    """One Secrets Manager secret. Its value never appears in the configuration or the output."""

    name: str
    """Secret name below the environment, e.g. ``gitops/github-token`` (stored as
    ``<env>/gitops/github-token``). Required; letters, digits and ``/_+=.@-``."""

    description: str
    """What the secret is for and who sets it. Required."""

    key: str = "secrets"
    """Purpose of the KMS key that encrypts it. Left out: ``secrets``."""

    rotation_days: Optional[int] = None
    """Days between automatic rotations of a ``generated`` secret, 1 to 1000 (AWS's range).
    Left out: 30. Not allowed on an ``external`` secret (see ``value``)."""

    rotation_function_arn: Optional[str] = None
    """Lambda that rotates a ``generated`` secret, in the primary region. Left out:
    ``security.rotation_function_arn``, else the rotation function spofless deploys in the
    security stack (a new random value each rotation)."""

    value: Literal["external", "generated"] = "external"
    """``external`` (default): set out of band and rotated where it is issued, e.g. a Git
    host token, which no Lambda can mint; no rotation is configured (Secrets Manager would
    invoke the function at once, and it cannot rotate such a value). A new value put into the
    secret reaches the clusters through the External Secrets Operator's refresh.
    ``generated``: a random value born inside AWS: the rotation function creates the first
    value right after creation (rotate immediately) and a new one every ``rotation_days``."""

    @model_validator(mode="after")
    def _rotation_fits_value(self) -> "SecretConfig":
        if self.value == "external":
            for name in ("rotation_days", "rotation_function_arn"):
                if getattr(self, name) is not None:
                    raise schema_error("external_rotation", "applies only to value: generated; an external secret (e.g. a "
                                                     "Git host token) is rotated where it is issued, and a Lambda "
                                                     "cannot mint it; allowed: leave it out, or value: generated",
                                field=name, value=getattr(self, name))
        return self

    @property
    def rotation_period(self) -> Optional[int]:
        """Days between rotations; None for an external secret (not rotated by AWS)."""
        return None if self.value == "external" else (self.rotation_days or 30)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SECRET_NAME.match(value) or value.startswith("/"):
            raise schema_error("secret_name", "is not a valid secret name; allowed: 1-256 of letters, digits "
                                       "and / _ + = . @ -, not starting with '/'")
        return value

    @field_validator("rotation_days")
    @classmethod
    def _rotation(cls, value: Optional[int]) -> Optional[int]:
        if value is not None and not 1 <= value <= 1000:
            raise schema_error("rotation_days", "is out of AWS's range for automatic rotation; allowed: 1 to 1000")
        return value

    @field_validator("rotation_function_arn")
    @classmethod
    def _function(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not LAMBDA_ARN.match(value):
            raise schema_error("lambda_arn", "is not a Lambda function ARN; allowed: "
                                      "arn:aws:lambda:<region>:<account>:function:<name>")
        return value


class SecurityConfig(Frozen):
    """KMS keys and Secrets Manager secrets of the environment (stack ``<env>-security``)."""

    keys: tuple[str, ...] = KEY_PURPOSES
    """Key purposes; one multi-region key each, replicated to the standby region.
    Left out: eks, secrets, logs, storage. logs, eks and storage are required."""

    key_deletion_window_days: int = 30
    """Days a deleted key waits before it is gone, 7 to 30. Left out: 30 (the longest)."""

    rotation_function_arn: Optional[str] = None
    """Default rotation Lambda for generated secrets that name none, in the primary region.
    Left out: the rotation function spofless deploys."""

    secrets: tuple[SecretConfig, ...] = ()
    """Secrets to create. Left out: none."""

    @field_validator("rotation_function_arn")
    @classmethod
    def _function(cls, value: Optional[str]) -> Optional[str]:
        return SecretConfig._function(value)

    @field_validator("key_deletion_window_days")
    @classmethod
    def _window(cls, value: int) -> int:
        if not 7 <= value <= 30:
            raise schema_error("deletion_window", "is out of range; allowed: 7 to 30 days")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "SecurityConfig":
        for index, purpose in enumerate(self.keys):
            if purpose not in KEY_PURPOSES:
                raise schema_error("key_purpose", "is not a key purpose spofless knows; allowed: {allowed}",
                            field=f"keys.{index}", value=purpose, allowed=", ".join(KEY_PURPOSES))
            if purpose in self.keys[:index]:
                raise schema_error("key_purpose", "is listed twice; allowed: each purpose once",
                            field=f"keys.{index}", value=purpose)
        for purpose, why in REQUIRED_KEY_PURPOSES.items():
            if purpose not in self.keys:
                raise schema_error("key_purpose", "must include '{purpose}' ({why}); allowed: a list containing {required}",
                            field="keys", value=list(self.keys), purpose=purpose, why=why,
                            required=", ".join(REQUIRED_KEY_PURPOSES))
        seen: dict[str, int] = {}
        for index, secret in enumerate(self.secrets):
            if secret.name in seen:
                raise schema_error("duplicate_secret", "is already the name of secrets.{first}; allowed: unique names",
                            field=f"secrets.{index}.name", value=secret.name, first=seen[secret.name])
            seen[secret.name] = index
            if secret.key not in self.keys:
                raise schema_error("unknown_key", "is not one of the keys declared in security.keys; allowed: {allowed}",
                            field=f"secrets.{index}.key", value=secret.key, allowed=", ".join(self.keys))
        return self

    def rotation_function(self, secret: SecretConfig) -> Optional[str]:
        """The configured rotation Lambda ARN of ``secret``; None means spofless's own function."""
        return secret.rotation_function_arn or self.rotation_function_arn
