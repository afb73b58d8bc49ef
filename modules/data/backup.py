"""AWS Backup of one region's data stores: a locked vault, a plan, and a copy to the other region."""

from __future__ import annotations

from typing import Optional

from constructs import Construct

from environments.schema import BackupConfig
from modules.data import BACKUP_TAG, backup_vault_name
from modules.iam import service_assume_role_policy
from modules.outputs import stack_output
from modules.providers import aws
from modules.security.keys import RegionalKey
from modules.stacks.names import physical

# The AWS-managed policies AWS Backup's default role carries, plus the two S3 needs (S3 backup is
# not covered by the first pair). https://docs.aws.amazon.com/aws-backup/latest/devguide/iam-service-roles.html
# https://docs.aws.amazon.com/aws-backup/latest/devguide/s3-backups.html#s3-backup-permissions
SERVICE_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)
CONTINUOUS_MAX_DAYS = 35  # continuous backups (point-in-time restore) are kept at most 35 days


class RegionalBackup(Construct):
    """A vault encrypted with this region's storage key and locked (governance or compliance), and a
    plan with two rules over the data stores tagged for this environment (and the ones named):

    - ``continuous``: point-in-time restore of Aurora and S3 to any second of the last
      min(retention, 35) days, a few minutes behind the live data (the design's 15-minute backup
      RPO; AWS Backup's scheduled rules run at most hourly, so continuous backup is how it is met);
    - ``snapshots``: a recovery point on ``schedule``, kept ``retention_days``, and copied to the
      other region's vault (kept as long), so a region's loss never takes its backups with it.

    The copy names the other region's vault by ARN; that vault is created by the other region's
    data stack. https://docs.aws.amazon.com/aws-backup/latest/devguide/cross-region-backup.html
    """

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str, region: str,
                 copy_region: Optional[str], config: BackupConfig, key: RegionalKey, account_id: str,
                 partition: str, resources: list[str]):
        super().__init__(scope, construct_id)
        name = backup_vault_name(env_name, region)
        self.vault = aws("backup_vault").BackupVault(self, "vault", name=name, kms_key_arn=key.arn,
                                                     force_destroy=False, lifecycle={"prevent_destroy": True})
        continuous_days = min(config.retention_days, CONTINUOUS_MAX_DAYS)
        # Vault lock: no recovery point leaves the vault before the shortest retention the plan gives.
        # Governance mode can be lifted by an administrator; compliance mode becomes immutable after
        # changeable_for_days. https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html
        self.lock = aws("backup_vault_lock_configuration").BackupVaultLockConfiguration(
            self, "lock", backup_vault_name=self.vault.name,
            min_retention_days=continuous_days if config.continuous else config.retention_days,
            changeable_for_days=config.lock_grace_days if config.vault_lock == "compliance" else None,
            # Every field is ForceNew, and a compliance lock is immutable once its grace days pass:
            # a change would plan a delete AWS refuses half way (the vault keeps its old lock).
            # Changing it is a deliberate act: lift prevent_destroy inside the grace days, or not at all.
            lifecycle={"prevent_destroy": True} if config.vault_lock == "compliance" else None)
        self.copy_vault_arn = (f"arn:{partition}:backup:{copy_region}:{account_id}:backup-vault:"
                               f"{backup_vault_name(env_name, copy_region)}") if copy_region else None
        plan = aws("backup_plan")
        rules = []
        if config.continuous:
            rules.append(plan.BackupPlanRule(
                rule_name="continuous", target_vault_name=self.vault.name,
                schedule=config.schedule, enable_continuous_backup=True,
                lifecycle=plan.BackupPlanRuleLifecycle(delete_after=continuous_days),
                recovery_point_tags={BACKUP_TAG: env_name}))
        copies = [plan.BackupPlanRuleCopyAction(
            destination_vault_arn=self.copy_vault_arn,
            lifecycle=plan.BackupPlanRuleCopyActionLifecycle(delete_after=config.retention_days))
        ] if self.copy_vault_arn else None
        rules.append(plan.BackupPlanRule(
            rule_name="snapshots", target_vault_name=self.vault.name, schedule=config.schedule,
            start_window=60, completion_window=180,
            lifecycle=plan.BackupPlanRuleLifecycle(delete_after=config.retention_days),
            recovery_point_tags={BACKUP_TAG: env_name}, copy_action=copies))
        self.plan = plan.BackupPlan(self, "plan", name=name, rule=rules)
        self.role = aws("iam_role").IamRole(
            self, "role", name=physical(f"{name}-backup", 64),
            assume_role_policy=service_assume_role_policy("backup.amazonaws.com"),
            description=f"{name}: AWS Backup backs up and restores the data tier")
        for index, policy in enumerate(SERVICE_POLICIES):
            aws("iam_role_policy_attachment").IamRolePolicyAttachment(
                self, f"role-policy-{index}", role=self.role.name, policy_arn=f"arn:{partition}:iam::aws:policy/{policy}")
        # The stores named here, and anything tagged spofless:backup=<env> later (resources OR tags).
        selection = aws("backup_selection")
        self.selection = selection.BackupSelection(
            self, "selection", name=name, plan_id=self.plan.id, iam_role_arn=self.role.arn,
            resources=list(resources),
            selection_tag=[selection.BackupSelectionSelectionTag(type="STRINGEQUALS", key=BACKUP_TAG, value=env_name)])
        stack_output(self, "backup_vault_arn", self.vault.arn, "This region's backup vault")
