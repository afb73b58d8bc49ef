"""What every spofless stack shares: a portable state backend and tagged AWS providers."""

from __future__ import annotations

from typing import Optional

from cdktf import LocalBackend, S3Backend, TerraformStack
from constructs import Construct

from environments.schema import EnvironmentConfig
from modules.providers import aws


class SpoflessStack(TerraformStack):
    """A TerraformStack with the environment's backend set explicitly.

    CDKTF injects a local backend with an *absolute* path when none is set, which
    makes ``cdktf.out`` unusable on any other machine; every stack sets one here.
    """

    def __init__(self, scope: Construct, stack_id: str, *, env: EnvironmentConfig):
        super().__init__(scope, stack_id)
        self.env = env
        self.stack_id = stack_id
        backend = env.backend
        if backend.type == "local":
            # Relative to the stack's working directory, cdktf.out/stacks/<stack>/:
            # state lives at the project root and survives re-synthesis.
            LocalBackend(self, path=f"../../../terraform.{stack_id}.tfstate")
        else:
            s3 = S3Backend(
                self,
                bucket=backend.bucket,
                key=f"{backend.key_prefix}/{env.name}/{stack_id}.tfstate",
                region=backend.region or env.regions.primary.name,
                encrypt=True,
                kms_key_id=backend.kms_key_id,
                dynamodb_table=backend.dynamodb_table if backend.lock == "dynamodb" else None,
            )
            if backend.lock == "lockfile":
                # S3-native locking (Terraform >= 1.10); cdktf 0.21's S3Backend predates the field.
                s3.add_override("use_lockfile", True)

    def aws_provider(self, region: str, alias: Optional[str] = None):
        """An AWS provider for ``region`` tagging every resource with the environment's tags."""
        provider_id = f"aws-{alias}" if alias else "aws"
        module = aws("provider")
        return module.AwsProvider(
            self,
            provider_id,
            region=region,
            alias=alias,
            default_tags=[module.AwsProviderDefaultTags(tags=self.env.all_tags)],
        )
