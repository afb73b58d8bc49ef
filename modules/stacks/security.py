"""``<env>-security``: KMS keys and secrets, with both regions' providers side by side."""

from __future__ import annotations

from constructs import Construct

from environments.schema import EnvironmentConfig
from modules.iam import AccountContext
from modules.outputs import stack_output
from modules.providers import aws
from modules.security.keys import KeyRing
from modules.security.secrets import SecretSet
from modules.stacks.base import SpoflessStack


class SecurityStack(SpoflessStack):
    """Multi-region keys with their replicas, and replicated secrets, of one environment.

    Two aliased AWS providers, ``primary`` and ``standby``, so every pairing of a
    key and its replica (and of a secret and its replica key) is visible in one
    stack. Regional stacks read key ARNs from here through cross-stack references.
    """

    def __init__(self, scope: Construct, stack_id: str, *, env: EnvironmentConfig):
        super().__init__(scope, stack_id, env=env)
        primary, standby = env.regions.primary, env.regions.standby
        primary_provider = self.aws_provider(primary.name, alias="primary")
        standby_provider = self.aws_provider(standby.name, alias="standby") if standby else None
        account = AccountContext(self, "account", provider=primary_provider)
        self.autoscaling_role_arn = self._autoscaling_role(primary_provider)
        # Where an earlier version of this stack created the role, Terraform forgets it instead of deleting it
        # (the account's other environments launch nodes with it); the account file then adopts it
        # (singletons.autoscaling_role: existing). A removed block for an address not in state does nothing.
        # https://developer.hashicorp.com/terraform/language/resources/syntax#removing-resources
        self.add_override("removed", [{"from": "aws_iam_service_linked_role.autoscaling-role",
                                       "lifecycle": {"destroy": False}}])
        self.keys = KeyRing(
            self, "keys",
            env_name=env.name,
            purposes=env.security.keys,
            deletion_window_days=env.security.key_deletion_window_days,
            primary_region=primary.name,
            standby_region=standby.name if standby else None,
            primary_provider=primary_provider,
            standby_provider=standby_provider,
            account=account,
            autoscaling_role_arn=self.autoscaling_role_arn,
            single_region_reason=env.regions.single_region_reason,
        )
        self.secrets = SecretSet(self, "secrets", env_name=env.name, config=env.security,
                                 keys=self.keys, primary_provider=primary_provider, account=account,
                                 single_region_reason=env.regions.single_region_reason)
        self._outputs()

    def _autoscaling_role(self, provider) -> str:
        """ARN of ``AWSServiceRoleForAutoScaling``, looked up: the account baseline owns it (one per
        account, however many environments share it; a second CreateServiceLinkedRole fails, and
        destroying one environment must not delete the role the others' nodes launch with).

        The key policies reference this ARN, so Terraform reads the role before any key: KMS
        validates that every principal in a key policy exists. The baseline applies first.
        """
        return aws("data_aws_iam_role").DataAwsIamRole(
            self, "autoscaling-role", provider=provider, name="AWSServiceRoleForAutoScaling").arn

    def _outputs(self) -> None:
        for purpose in self.keys.purposes:
            stack_output(self, f"{purpose}_key_arns", {r: self.keys.key(purpose, r).arn for r in self.keys.regions},
                         f"ARN of the {purpose} key by region (primary key, then replica)")
        if self.secrets.names:
            stack_output(self, "secret_arns", {n: self.secrets.secret_arn(n) for n in self.secrets.names},
                         "ARN of each secret in the primary region")
