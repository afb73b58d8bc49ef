"""KMS multi-region keys, one per purpose, with replicas in the standby region."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Protocol

from constructs import Construct

from modules.iam import AccountContext, policy_document
from modules.providers import aws
from modules.tags import KEY_PURPOSE, SINGLE_REGION

# Administration without use: the account (through IAM) can manage the key's life
# cycle but not encrypt or decrypt with it; use is granted per purpose below.
_ADMIN_ACTIONS = sorted([
    "kms:CancelKeyDeletion", "kms:Create*", "kms:Delete*", "kms:Describe*", "kms:Disable*",
    "kms:Enable*", "kms:Get*", "kms:List*", "kms:Put*", "kms:ReplicateKey", "kms:Revoke*",
    "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:Update*",
])
_USE_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]

# purpose -> the AWS services that may use the key on the account's behalf (kms:ViaService)
_VIA_SERVICES = {
    "eks": ("eks",),
    "secrets": ("secretsmanager",),
    # the data tier: Aurora and ElastiCache at rest, AWS Backup's vaults, ECR's repositories; each
    # service creates grants through its own endpoint in the key's region
    "storage": ("backup", "ec2", "ecr", "elasticache", "rds", "s3"),
}
_DESCRIPTIONS = {
    "eks": "EKS secrets envelope encryption",
    "secrets": "Secrets Manager secrets",
    "logs": "CloudWatch Logs log groups",
    "storage": "S3 buckets, EBS volumes, databases, caches, backups and images",
}


def admin_statement(account: AccountContext, *, replicable: bool = True) -> dict[str, Any]:
    """Account administration of a key, without use. ``replicable=False`` drops
    kms:ReplicateKey, for keys that must stay in one region (DNSSEC signing)."""
    actions = _ADMIN_ACTIONS if replicable else [a for a in _ADMIN_ACTIONS if a != "kms:ReplicateKey"]
    return {"Sid": "AccountAdministration", "Effect": "Allow", "Principal": {"AWS": account.root_arn},
            "Action": actions, "Resource": "*"}


# Purposes whose key encrypts the EBS volumes an Auto Scaling group launches (EKS node groups).
EBS_PURPOSES = ("storage",)


def autoscaling_statements(role_arn: str) -> list[dict[str, Any]]:
    """What the Auto Scaling service-linked role needs on a key that encrypts the volumes it launches.

    EC2 Auto Scaling launches node-group instances as ``AWSServiceRoleForAutoScaling``; that
    role's own policy has no KMS rights, so without these statements in the KEY policy every
    instance with an encrypted root volume terminates at launch (node groups then fail with
    AsgInstanceLaunchFailures). Use, plus CreateGrant for AWS resources only. Source: "Required
    AWS KMS key policy for use with encrypted volumes", Amazon EC2 Auto Scaling User Guide,
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html
    """
    return [
        {"Sid": "AutoScalingServiceRoleUse", "Effect": "Allow", "Principal": {"AWS": role_arn},
         "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
         "Resource": "*"},
        {"Sid": "AutoScalingServiceRoleGrants", "Effect": "Allow", "Principal": {"AWS": role_arn},
         "Action": "kms:CreateGrant", "Resource": "*",
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}}},
    ]


def key_policy(purpose: str, region: str, account: AccountContext,
               autoscaling_role_arn: Optional[str] = None) -> str:
    """The key policy of ``purpose``'s key in ``region`` (primary and replica differ only in region).

    Account administration, and use restricted to the services of the purpose in
    this region of this account. CloudWatch Logs is a service principal (it calls
    KMS itself), limited to this account's log groups. A key for EBS volumes also
    lets the Auto Scaling service-linked role use it (``autoscaling_role_arn``).
    """
    statements: list[dict[str, Any]] = [admin_statement(account)]
    if purpose == "logs":
        # The region's alert topic is encrypted with this key: CloudWatch publishes the alarms of this account
        # and region to it, and EventBridge the rules' events (failed AWS Backup jobs); without the grant the
        # notifications are dropped silently.
        # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
        # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html#eb-sns-encrypted
        for sid, service, source in (("CloudWatchAlarmsPublish", "cloudwatch", "alarm:*"),
                                     ("EventBridgeRulesPublish", "events", "rule/*")):
            statements.append({
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": f"{service}.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id},
                              "ArnLike": {"aws:SourceArn":
                                          f"arn:{account.partition}:{service}:{region}:{account.account_id}:{source}"}},
            })
        # Each region's Prometheus workspace alerts through the same topic. AWS documents this grant without
        # conditions (https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-alertmanager-receiver-AMPpermission.html);
        # the topic's policy admits only this environment's workspace of that region, so no other account's
        # workspace can make use of it.
        statements.append({
            "Sid": "PrometheusAlertsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "aps.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        })
        statements.append({
            "Sid": "CloudWatchLogsUse",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": _USE_ACTIONS,
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                      f"arn:{account.partition}:logs:{region}:{account.account_id}:log-group:*"}},
        })
    else:
        statements.append({
            "Sid": "UseThroughServices",
            "Effect": "Allow",
            "Principal": {"AWS": account.root_arn},
            # creating a Backup vault under the key also retires grants: the permissions AWS lists
            # for it (https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault.html)
            "Action": [*_USE_ACTIONS, "kms:CreateGrant",
                       *(["kms:RetireGrant"] if "backup" in _VIA_SERVICES[purpose] else [])],
            "Resource": "*",
            "Condition": {"StringEquals": {
                "kms:CallerAccount": account.account_id,
                "kms:ViaService": [f"{s}.{region}.amazonaws.com" for s in _VIA_SERVICES[purpose]],
            }},
        })
    if purpose in EBS_PURPOSES:
        if autoscaling_role_arn is None:
            raise ValueError(f"the {purpose} key encrypts EBS volumes: its policy needs the Auto Scaling "
                             "service-linked role (autoscaling_role_arn)")
        statements += autoscaling_statements(autoscaling_role_arn)
    return policy_document(statements)


class Grantee(Protocol):
    """What a grant attaches its IAM statement to (modules/iam.PolicyStatements, before it becomes
    one policy document)."""

    def add_to_policy(self, statement: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class RegionalKey:
    """One key as seen from one region: the primary or its replica, or a single-region key.

    Constructs receive these, never ARN strings, and grant use of them with ``grant_*``: the
    statement names this region's key (the replica in the standby) and, with ``via_service``,
    only through that service in this region.
    """

    purpose: str
    region: str
    arn: str
    key_id: str
    is_replica: bool

    def grant_decrypt(self, grantee: Grantee, via_service: Optional[str] = None) -> dict[str, Any]:
        """Let ``grantee`` decrypt with this key (optionally only through one service); returns the statement."""
        return self._grant(grantee, ["kms:Decrypt", "kms:DescribeKey"], via_service, "Decrypt")

    def grant_encrypt_decrypt(self, grantee: Grantee, via_service: Optional[str] = None) -> dict[str, Any]:
        """Let ``grantee`` encrypt, decrypt and generate data keys with this key; returns the statement."""
        return self._grant(grantee, _USE_ACTIONS, via_service, "EncryptDecrypt")

    def _grant(self, grantee: Grantee, actions: list[str], via_service: Optional[str], verb: str) -> dict[str, Any]:
        statement: dict[str, Any] = {
            "Sid": f"{verb}{self.purpose.capitalize()}Key",
            "Effect": "Allow",
            "Action": actions,
            "Resource": self.arn,
        }
        if via_service:
            statement["Condition"] = {"StringEquals": {"kms:ViaService": f"{via_service}.{self.region}.amazonaws.com"}}
        grantee.add_to_policy(statement)
        return statement


@dataclass(frozen=True)
class RegionKeys:
    """The keys usable in one region, by purpose: what a regional construct receives."""

    region: str
    by_purpose: Mapping[str, RegionalKey]

    def __getitem__(self, purpose: str) -> RegionalKey:
        try:
            return self.by_purpose[purpose]
        except KeyError:
            raise KeyError(f"no {purpose!r} key in {self.region}; keys exist for {sorted(self.by_purpose)}") from None

    @property
    def eks(self) -> RegionalKey:
        return self["eks"]

    @property
    def secrets(self) -> RegionalKey:
        return self["secrets"]

    @property
    def logs(self) -> RegionalKey:
        return self["logs"]

    @property
    def storage(self) -> RegionalKey:
        return self["storage"]


def single_region_logs_key(scope: Construct, construct_id: str, *, provider, env_name: str, region: str,
                           description: str, deletion_window_days: int, account: AccountContext) -> RegionalKey:
    """A logs key for one region outside the key ring's regions (Route53 query logs live in us-east-1
    whatever the environment's regions): the same policy as the ring's logs key in that region."""
    key = aws("kms_key").KmsKey(
        scope, construct_id, provider=provider,
        description=f"{env_name}: {description}", enable_key_rotation=True,
        deletion_window_in_days=deletion_window_days,
        policy=key_policy("logs", region, account), lifecycle={"prevent_destroy": True},
    )
    return RegionalKey("logs", region, key.arn, key.key_id, False)


def dnssec_signing_key(scope: Construct, construct_id: str, *, provider, env_name: str,
                       account: AccountContext) -> RegionalKey:
    """The asymmetric key Route53 signs a zone with: ECC_NIST_P256, SIGN_VERIFY, in us-east-1, never
    replicated, used only by dnssec-route53 for this account's zones.
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-configuring-dnssec-cmk-requirements.html
    """
    key = aws("kms_key").KmsKey(
        scope, construct_id, provider=provider, description=f"{env_name}: Route53 DNSSEC signing",
        customer_master_key_spec="ECC_NIST_P256", key_usage="SIGN_VERIFY", deletion_window_in_days=30,
        lifecycle={"prevent_destroy": True},
        policy=policy_document([
            admin_statement(account, replicable=False),
            {"Sid": "Route53DnssecSigning", "Effect": "Allow", "Principal": {"Service": "dnssec-route53.amazonaws.com"},
             "Action": ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:CreateGrant"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id},
                           "ArnLike": {"aws:SourceArn": f"arn:{account.partition}:route53:::hostedzone/*"}}},
        ]))
    return RegionalKey("dnssec", "us-east-1", key.arn, key.key_id, False)


class KeyRing(Construct):
    """A multi-region KMS key per purpose, and its replica in the standby region.

    Every key: rotation on, a deletion window from config (30 days by default),
    an explicit key policy, an alias ``alias/<env>/<purpose>`` in each region,
    and ``prevent_destroy``, so a plan can never delete the key that decrypts
    the platform's data. Without a standby region the keys are single-region.
    """

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str, purposes: tuple[str, ...],
                 deletion_window_days: int, primary_region: str, standby_region: Optional[str],
                 primary_provider, standby_provider, account: AccountContext,
                 autoscaling_role_arn: str, single_region_reason: Optional[str] = None):
        super().__init__(scope, construct_id)
        self.primary_region = primary_region
        self.standby_region = standby_region
        self._keys: dict[tuple[str, str], RegionalKey] = {}
        lifecycle = {"prevent_destroy": True}
        tags = {SINGLE_REGION: single_region_reason} if single_region_reason else {}
        for purpose in purposes:
            description = f"{env_name}: {_DESCRIPTIONS[purpose]}"
            primary = aws("kms_key").KmsKey(
                self, purpose,
                provider=primary_provider,
                description=description,
                multi_region=standby_region is not None,
                enable_key_rotation=True,
                deletion_window_in_days=deletion_window_days,
                policy=key_policy(purpose, primary_region, account, autoscaling_role_arn),
                tags={KEY_PURPOSE: purpose, **tags},
                lifecycle=lifecycle,
            )
            aws("kms_alias").KmsAlias(self, f"{purpose}-alias", provider=primary_provider,
                                      name=f"alias/{env_name}/{purpose}", target_key_id=primary.key_id)
            self._keys[(purpose, primary_region)] = RegionalKey(purpose, primary_region, primary.arn,
                                                                primary.key_id, False)
            if standby_region is None:
                continue
            replica = aws("kms_replica_key").KmsReplicaKey(
                self, f"{purpose}-replica",
                provider=standby_provider,
                primary_key_arn=primary.arn,
                description=description,
                deletion_window_in_days=deletion_window_days,
                policy=key_policy(purpose, standby_region, account, autoscaling_role_arn),
                tags={KEY_PURPOSE: purpose},
                lifecycle=lifecycle,
            )
            aws("kms_alias").KmsAlias(self, f"{purpose}-replica-alias", provider=standby_provider,
                                      name=f"alias/{env_name}/{purpose}", target_key_id=replica.key_id)
            self._keys[(purpose, standby_region)] = RegionalKey(purpose, standby_region, replica.arn,
                                                                replica.key_id, True)

    @property
    def purposes(self) -> list[str]:
        return list(dict.fromkeys(purpose for purpose, _ in self._keys))

    @property
    def regions(self) -> list[str]:
        return [r for r in (self.primary_region, self.standby_region) if r]

    def key(self, purpose: str, region: str) -> RegionalKey:
        """The key of ``purpose`` usable in ``region``: the primary there, the replica in the standby."""
        try:
            return self._keys[(purpose, region)]
        except KeyError:
            raise KeyError(f"no {purpose!r} key in {region}; keys exist for "
                           f"{sorted(set(p for p, _ in self._keys))} in {self.regions}") from None

    def region(self, region: str) -> RegionKeys:
        """Every purpose's key usable in ``region``."""
        if region not in self.regions:
            raise KeyError(f"no keys in {region}; keys exist in {self.regions}")
        return RegionKeys(region, {p: k for (p, r), k in self._keys.items() if r == region})
