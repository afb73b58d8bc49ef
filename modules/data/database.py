"""Aurora PostgreSQL: the global database, and one region's cluster in it."""

from __future__ import annotations

from typing import Literal, Optional

from cdktf import TerraformStack
from constructs import Construct

from environments.schema import AuroraConfig
from modules.data import BACKUP_TAG, cluster_name, global_cluster_name
from modules.iam import service_assume_role_policy
from modules.outputs import stack_output
from modules.providers import aws
from modules.security.keys import RegionalKey
from modules.stacks.names import physical

ENGINE = "aurora-postgresql"
PORT = 5432
FORCE_SSL = "rds.force_ssl"
_PASSWORD = "aurora_master_password"  # the ephemeral resource's name
# Role of the RDS-provided policy for Enhanced Monitoring (the agent on each instance publishes
# OS metrics to CloudWatch Logs as monitoring.rds.amazonaws.com).
MONITORING_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"


class AuroraRegion(Construct):
    """This region's Aurora PostgreSQL cluster: the writer side of the global database in the
    primary region (which also creates the global cluster), a secondary, read-only cluster that
    the global database replicates to (typically < 1 s behind) in the standby.

    Both: instances spread over the region's AZs (one writer, readers Aurora promotes in about
    30 s when the writer's AZ fails), storage encrypted with this region's ``storage`` key (the
    replica key in the standby), the isolated database subnets, a security group that admits
    only the EKS nodes, Performance Insights and Enhanced Monitoring, log exports, IAM database
    authentication, deletion protection, and point-in-time recovery for ``backup_retention_days``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str, region: str,
                 role: Literal["primary", "standby"], config: AuroraConfig, vpc_id: str,
                 subnet_ids: list[str], zones: tuple[str, ...], nodes_security_group_id: str,
                 storage_key: RegionalKey, secrets_key: RegionalKey, partition: str, account_id: str,
                 multi_region: bool, tags: dict[str, str], retention_days: int, standby_region: Optional[str] = None,
                 standby_secrets_key: Optional[RegionalKey] = None):
        super().__init__(scope, construct_id)
        self._tags = tags
        name = cluster_name(env_name, region)
        self.subnet_group = aws("db_subnet_group").DbSubnetGroup(
            self, "subnets", name=name, subnet_ids=subnet_ids,
            description=f"{name}: the isolated database subnets of every AZ")
        self.security_group = aws("security_group").SecurityGroup(
            self, "sg", name=physical(f"{name}-db", 255), vpc_id=vpc_id,
            description=f"{name}: PostgreSQL from the EKS nodes only",
            tags={"Name": f"{name}-db"})
        aws("vpc_security_group_ingress_rule").VpcSecurityGroupIngressRule(
            self, "from-nodes", security_group_id=self.security_group.id,
            referenced_security_group_id=nodes_security_group_id, ip_protocol="tcp", from_port=PORT, to_port=PORT,
            description="PostgreSQL from the EKS nodes (pods use the nodes' security group)")
        monitoring = aws("iam_role").IamRole(
            self, "monitoring-role", name=physical(f"{name}-monitoring", 64),
            # confused-deputy keys as RDS recommends for this role: only this account's databases
            # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html
            assume_role_policy=service_assume_role_policy(
                "monitoring.rds.amazonaws.com", source_account=account_id,
                source_arn=f"arn:{partition}:rds:{region}:{account_id}:db:*"),
            description=f"{name}: Enhanced Monitoring publishes OS metrics")
        monitoring_policy = aws("iam_role_policy_attachment").IamRolePolicyAttachment(
            self, "monitoring-policy", role=monitoring.name, policy_arn=MONITORING_POLICY.format(partition=partition))

        # Query logging into the exported postgresql log: schema changes always, and every statement
        # slower than a second (the two settings Aurora PostgreSQL's audit guidance names).
        # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_LogAccess.Concepts.PostgreSQL.html
        params = aws("rds_cluster_parameter_group")
        self.parameters = params.RdsClusterParameterGroup(
            self, "parameters", name=name, family=f"aurora-postgresql{config.engine_version.split('.')[0]}",
            description=f"{name}: query logging",
            # TLS required for every connection (Aurora PostgreSQL 16 and older default to 0). Applied with
            # pending-reboot, which AWS accepts for static and dynamic parameters alike and which reads
            # back unchanged (immediate leaves a diff on a static one); a new cluster starts with it.
            # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Security.html
            parameter=[params.RdsClusterParameterGroupParameter(name="log_statement", value="ddl"),
                       params.RdsClusterParameterGroupParameter(name="log_min_duration_statement", value="1000"),
                       params.RdsClusterParameterGroupParameter(name=FORCE_SSL, value="1",
                                                                apply_method="pending-reboot")])
        common = dict(
            cluster_identifier=name,
            engine=ENGINE,
            engine_version=config.engine_version,
            db_subnet_group_name=self.subnet_group.name,
            db_cluster_parameter_group_name=self.parameters.name,
            vpc_security_group_ids=[self.security_group.id],
            port=PORT,
            storage_encrypted=True,
            # A secondary cluster in another region must name a key in ITS region: the replica of the
            # multi-region storage key (RDS cannot use the primary region's key there).
            # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-getting-started.html
            kms_key_id=storage_key.arn,
            # AWS Backup's continuous rule manages this once it has run; RDS refuses any other value
            # (https://docs.aws.amazon.com/aws-backup/latest/devguide/point-in-time-recovery-retention-period.html)
            backup_retention_period=retention_days,
            preferred_backup_window="03:00-04:00",
            preferred_maintenance_window="sun:05:00-sun:06:00",
            copy_tags_to_snapshot=True,
            deletion_protection=config.deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{name}-final",
            enabled_cloudwatch_logs_exports=["postgresql"],
            iam_database_authentication_enabled=True,
            tags={**tags, BACKUP_TAG: env_name},
        )
        # The lifecycle rules the global-database examples and the provider's docs keep teaching:
        # - engine_version: an upgrade of a global database is made on aws_rds_global_cluster, which
        #   upgrades every member; the members' own engine_version then reads back changed and a
        #   plan would try to "upgrade" them again ("Provider produced inconsistent final plan").
        #   https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/rds_global_cluster
        # - replication_source_identifier, on BOTH clusters: after a switchover or failover the former
        #   primary is the secondary and RDS sets it there; a plan clearing it would make the provider
        #   promote that cluster (PromoteReadReplicaDBCluster) out of the global database.
        # global_cluster_identifier is deliberately NOT ignored: a cluster detached from the global
        # database (an unplanned failover's detach-and-promote) must show as a change, and
        # spofless's plan review flags any change of it as a stateful one (tooling/review/plan_review.py).
        ignore = ["engine_version", "replication_source_identifier"] if multi_region else ["engine_version"]
        if role == "primary":
            self.global_cluster = aws("rds_global_cluster").RdsGlobalCluster(
                self, "global", global_cluster_identifier=global_cluster_name(env_name), engine=ENGINE,
                engine_version=config.engine_version, storage_encrypted=True,
                deletion_protection=config.deletion_protection, database_name=config.database_name,
                force_destroy=False, lifecycle={"prevent_destroy": True}) if multi_region else None
            self.master_secret = self._master_secret(env_name, config, secrets_key, standby_secrets_key,
                                                     standby_region)
            self.cluster = aws("rds_cluster").RdsCluster(
                self, "cluster",
                **common,
                global_cluster_identifier=self.global_cluster.id if self.global_cluster else None,
                database_name=config.database_name,
                master_username=config.master_username,
                # RDS cannot manage the master password of a global database's member in Secrets Manager
                # (rds-secrets-manager.html, "Limitations": "DB clusters that are part of an Aurora
                # global database"), so the password is a write-only argument: generated by Secrets
                # Manager at apply time (an ephemeral value), sent to RDS and to the secret, and stored in
                # neither the plan nor the state. A new password: raise data.aurora.password_version.
                # https://developer.hashicorp.com/terraform/language/resources/ephemeral/write-only
                master_password_wo=self._password,
                master_password_wo_version=config.password_version,
                lifecycle={"prevent_destroy": True, "ignore_changes": ignore},
            )
            # The secret is written once RDS has accepted the password: an apply that fails in between
            # leaves the secret at its previous value, and raising password_version resyncs both.
            self._secret_value.add_override("depends_on", [f"aws_rds_cluster.{self.cluster.friendly_unique_id}"])
        else:
            self.global_cluster = None
            # The secondary joins the global database by its name (global_cluster_identifier): its
            # stack is applied after the primary's data stack (a stack dependency), and it has no
            # master user, password or database name of its own: they come from the primary.
            self.cluster = aws("rds_cluster").RdsCluster(
                self, "cluster",
                **common,
                global_cluster_identifier=global_cluster_name(env_name),
                lifecycle={"prevent_destroy": True, "ignore_changes": ignore},
            )
        self.instances = []
        for index in range(config.instances):
            zone = zones[index % len(zones)]
            self.instances.append(aws("rds_cluster_instance").RdsClusterInstance(
                self, f"instance-{index + 1}",
                identifier=f"{name}-{index + 1}",
                cluster_identifier=self.cluster.id,
                engine=ENGINE,
                instance_class=config.instance_class,
                availability_zone=zone,
                db_subnet_group_name=self.subnet_group.name,
                publicly_accessible=False,
                # tier 0 for the first two: the writer's replacement is the reader in another AZ
                promotion_tier=min(index, 15),
                auto_minor_version_upgrade=True,
                ca_cert_identifier="rds-ca-rsa2048-g1",
                performance_insights_enabled=True,
                performance_insights_kms_key_id=storage_key.arn,
                performance_insights_retention_period=config.performance_insights_retention_days,
                monitoring_interval=config.monitoring_interval,
                monitoring_role_arn=monitoring.arn,
                copy_tags_to_snapshot=True,
                tags=tags,
                lifecycle={"ignore_changes": ["engine_version"]},
                # RDS checks the monitoring role's permissions when the instance is created
                depends_on=[monitoring_policy],
            ))
        self._outputs(role)

    def _master_secret(self, env_name: str, config: AuroraConfig, key: RegionalKey,
                       standby_key: Optional[RegionalKey], standby_region: Optional[str]):
        """The master user's credentials in Secrets Manager (``<env>/data/aurora-master``), replicated
        to the standby region with its replica key, so the standby can log in after a failover."""
        stack = TerraformStack.of(self)
        # an ephemeral resource: no CDKTF class exists for it, so it is written as raw Terraform JSON
        stack.add_override(f"ephemeral.aws_secretsmanager_random_password.{_PASSWORD}", {
            "password_length": 40, "exclude_punctuation": True})
        self._password = f"${{ephemeral.aws_secretsmanager_random_password.{_PASSWORD}.random_password}}"
        secret = aws("secretsmanager_secret").SecretsmanagerSecret(
            self, "master-secret", name=f"{env_name}/data/aurora-master", kms_key_id=key.arn,
            description=f"{env_name}: Aurora master user (username, password); set at apply, write-only",
            recovery_window_in_days=30, tags=self._tags,
            replica=[aws("secretsmanager_secret").SecretsmanagerSecretReplica(
                region=standby_region, kms_key_id=standby_key.arn)] if standby_region and standby_key else None)
        self._secret_value = aws("secretsmanager_secret_version").SecretsmanagerSecretVersion(
            self, "master-secret-value", secret_id=secret.id,
            secret_string_wo=(f'${{jsonencode({{"username" = "{config.master_username}", '
                              f'"password" = {self._password[2:-1]}}})}}'),
            secret_string_wo_version=config.password_version)
        return secret

    def _outputs(self, role: str) -> None:
        stack_output(self, "aurora_cluster_arn", self.cluster.arn, "ARN of this region's Aurora cluster")
        stack_output(self, "aurora_reader_endpoint", self.cluster.reader_endpoint,
                     "This region's reader endpoint (read-only queries, local to the region)")
        if self.global_cluster is not None:
            # The one name applications use: Aurora's global writer endpoint always resolves to the
            # writer of the current primary cluster, through a switchover or a managed failover.
            stack_output(self, "aurora_global_cluster_id", self.global_cluster.id, "The global database")
            stack_output(self, "aurora_writer_endpoint", self.global_cluster.endpoint,
                         "Global writer endpoint: follows the writer across regions on switchover/failover")
        elif role == "primary":
            stack_output(self, "aurora_writer_endpoint", self.cluster.endpoint, "The cluster's writer endpoint")
        if role == "primary":
            stack_output(self, "aurora_master_secret_arn", self.master_secret.arn,
                         "Secrets Manager secret with the master user's credentials (replicated to the standby)")
