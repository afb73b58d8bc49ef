"""What every spofless stack shares: a portable state backend and tagged AWS providers."""

from __future__ import annotations

from typing import Literal, Optional

from cdktf import DataTerraformRemoteStateS3, LocalBackend, S3Backend, TerraformStack
from constructs import Construct

from environments.schema import EnvironmentConfig
from modules.providers import aws


Side = Literal["primary", "standby"]
# Terraform versions every stack accepts (terraform.required_version).
TERRAFORM_VERSION = ">= 1.11.0, < 2.0.0"


def state_location(env: EnvironmentConfig, side: Side) -> dict:
    """Bucket, region and key of the state a stack of ``side`` keeps (s3 backends).

    The standby region's stacks keep state in the standby region's bucket, and read
    their upstream stacks' state from there too (a replica of the primary bucket):
    operating the standby never needs the primary region.
    """
    backend = env.backend
    if not hasattr(env, "regions") or not hasattr(env.regions, "primary"):  # an account's baseline
        return {"bucket": backend.bucket, "region": backend.region or env.home_region, "kms_key_id": backend.kms_key_id}
    if side == "standby" and backend.standby_bucket:
        return {"bucket": backend.standby_bucket, "region": env.regions.standby.name,
                "kms_key_id": backend.standby_kms_key_id}
    return {"bucket": backend.bucket, "region": backend.region or env.regions.primary.name,
            "kms_key_id": backend.kms_key_id}


class SpoflessS3Backend(S3Backend):
    """The S3 backend, whose remote-state reads follow the reading stack's side.

    CDKTF asks the *producing* stack's backend to build the ``terraform_remote_state``
    of a cross-stack reference: a standby-side producer is read from the standby bucket,
    and a standby-side reader reads every producer from there (the primary bucket's replica).
    """

    def __init__(self, scope: Construct, *, env: EnvironmentConfig, key: str, side: Side):
        backend = env.backend
        self._env = env
        self._key = key
        self._side = side
        super().__init__(scope, key=key, encrypt=True, **state_location(env, side),
                         dynamodb_table=backend.dynamodb_table if backend.lock == "dynamodb" else None)

    def get_remote_state_data_source(self, scope: Construct, name: str, _from_stack: str):
        # a standby-side producer's state exists only in the standby bucket; a primary-side
        # producer's state is read from the standby replica by standby-side readers
        reader = TerraformStack.of(scope)
        side = "standby" if "standby" in (self._side, getattr(reader, "side", "primary")) else "primary"
        return DataTerraformRemoteStateS3(scope, name, key=self._key, encrypt=True,
                                          workspace="${terraform.workspace}", **state_location(self._env, side))


class SpoflessStack(TerraformStack):
    """A TerraformStack with the environment's backend set explicitly.

    CDKTF injects a local backend with an *absolute* path when none is set, which
    makes ``cdktf.out`` unusable on any other machine; every stack sets one here.
    ``side`` says which region's state bucket the stack uses (s3 backends):
    ``standby`` for the stacks of the standby region, ``primary`` for the rest.
    ``env`` is an environment, or an account for the baseline stacks (the same name, backend, tags
    and account_id; an account's state stays in its one bucket).
    """

    def __init__(self, scope: Construct, stack_id: str, *, env: EnvironmentConfig, side: Side = "primary"):
        super().__init__(scope, stack_id)
        self.env = env
        self.stack_id = stack_id
        self.side = side
        # The floor is what the output relies on: S3-native state locking (use_lockfile) is
        # generally available from Terraform 1.11 (experimental in 1.10).
        # https://developer.hashicorp.com/terraform/language/backend/s3#state-locking
        self.add_override("terraform.required_version", TERRAFORM_VERSION)
        backend = env.backend
        if backend.type == "local":
            # Relative to the stack's working directory, cdktf.out/stacks/<stack>/:
            # state lives at the project root and survives re-synthesis.
            LocalBackend(self, path=f"../../../terraform.{stack_id}.tfstate")
        else:
            s3 = SpoflessS3Backend(self, env=env, key=f"{backend.key_prefix}/{env.name}/{stack_id}.tfstate",
                                   side=side)
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
            # Terraform stops before planning when the credentials belong to another account.
            # https://registry.terraform.io/providers/hashicorp/aws/5.100.0/docs#allowed_account_ids-1
            allowed_account_ids=[self.env.account_id],
        )
