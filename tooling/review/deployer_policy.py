"""The deployer role's IAM policy, generated from what an environment's stacks create.

    spofless deployer-policy -e prod     reports/deployer-policy-prod.json (and a summary)

``eks.deployer_role_arn`` is the role every Terraform run of the environment assumes. What it may do
is read from ``cdktf.out``, never written by hand:

* **Which services**: the AWS services of the resource and data-source types the environment's stacks
  (and its account's baseline, which deploy takes along) hold; a type this generator does not know is
  an error, so a new type cannot slip in unscoped (:data:`SERVICES`).
* **Where**: every statement but those of the global services (IAM, Route53, STS) is limited to the
  regions the stacks' providers name (``aws:RequestedRegion``); a resource tagged for another
  environment (the providers' ``default_tags``) is denied, where the service puts tags in the request's
  context, since environments often share an account.
* **Which resources, where the names are known**: IAM roles by their exact ARNs (with the managed
  policies they may attach, and the services they may be passed to, from their trust policies), the
  EKS clusters and their node groups, add-ons, access entries and Pod Identity associations, the S3
  buckets, the secrets, the Lambda functions, the state objects (each stack's key and its lock file)
  and the state read from upstream stacks.
* **What it never does**, as explicit denies: delete or disable what the stacks hold under
  ``prevent_destroy`` (keys, zones, the global database, clusters, caches, vaults, buckets): the IAM
  side of the same guard, so a compromised pipeline cannot do what a plan refuses; bypassing the
  governance retention of Object Lock buckets or deleting their object versions; and creating users,
  access keys or login profiles.

What it does not stop: the role writes the inline policies of the roles it creates, so it could grant
those roles more than the stacks say. Pair it with a permissions boundary where that matters.

It is least privilege per service and per named resource, not per API action: Terraform's provider
calls many read and write actions per resource type, and a missing one fails an apply half way.
The quotas this must fit: 6,144 characters per managed policy and 10 managed policies per role
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html); the documents are split
to fit.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from policies.model.output import Output, as_list, policy_statements

# resource/data type prefix -> IAM service prefix (longest prefix wins)
SERVICES: dict[str, str] = {
    "aws_vpc": "ec2", "aws_subnet": "ec2", "aws_route": "ec2", "aws_route_table": "ec2",
    "aws_internet_gateway": "ec2", "aws_nat_gateway": "ec2", "aws_eip": "ec2", "aws_security_group": "ec2",
    "aws_default_security_group": "ec2", "aws_flow_log": "ec2", "aws_launch_template": "ec2",
    "aws_ebs_encryption_by_default": "ec2", "aws_availability_zones": "ec2",
    "aws_vpc_endpoint": "ec2", "aws_vpc_security_group": "ec2",
    "aws_lb": "elasticloadbalancing", "aws_elb_service_account": "",
    "aws_eks": "eks", "aws_iam": "iam", "aws_kms": "kms", "aws_secretsmanager": "secretsmanager",
    "aws_route53": "route53", "aws_acm": "acm", "aws_wafv2": "wafv2", "aws_s3": "s3", "aws_rds": "rds",
    "aws_db": "rds", "aws_elasticache": "elasticache", "aws_backup": "backup", "aws_cloudwatch_log": "logs",
    "aws_cloudwatch": "cloudwatch", "aws_cloudwatch_event": "events", "aws_sns": "sns",
    "aws_lambda": "lambda", "aws_synthetics": "synthetics", "aws_prometheus": "aps", "aws_ecr": "ecr", "aws_guardduty": "guardduty", "aws_securityhub": "securityhub",
    "aws_config": "config", "aws_cloudtrail": "cloudtrail", "aws_accessanalyzer": "access-analyzer",
    "aws_servicequotas": "servicequotas", "aws_cloudformation": "cloudformation", "aws_fis": "fis", "aws_caller_identity": "sts", "aws_partition": "", "aws_region": "",
}
GLOBAL = {"iam", "route53", "sts"}  # requests go to us-east-1 whatever the provider's region
# services named by their own statement below (exact resources), not by the regional one
SCOPED = {"iam", "eks", "s3", "secretsmanager", "lambda", "sts"}

# prevent_destroy types -> the delete actions denied outright
PROTECTED: dict[str, tuple[str, ...]] = {
    "aws_kms_key": ("kms:ScheduleKeyDeletion", "kms:DisableKey"),
    "aws_kms_replica_key": ("kms:ScheduleKeyDeletion", "kms:DisableKey"),
    "aws_route53_zone": ("route53:DeleteHostedZone",),
    # detaching a member (RemoveFromGlobalCluster, DisassociateGlobalReplicationGroup) stays allowed:
    # it is the unplanned-failover runbook's step
    "aws_rds_global_cluster": ("rds:DeleteGlobalCluster",),
    "aws_rds_cluster": ("rds:DeleteDBCluster",),
    "aws_rds_cluster_instance": ("rds:DeleteDBInstance",),
    "aws_elasticache_replication_group": ("elasticache:DeleteReplicationGroup",),
    "aws_elasticache_global_replication_group": ("elasticache:DeleteGlobalReplicationGroup",),
    "aws_backup_vault": ("backup:DeleteBackupVault", "backup:DeleteRecoveryPoint"),
    "aws_backup_vault_lock_configuration": ("backup:DeleteBackupVaultLockConfiguration",),
    "aws_s3_bucket": ("s3:DeleteBucket",),
}
NEVER = ("iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
         "iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:AddUserToGroup")
# the services that create a service-linked role on first use, by resource type prefix
LINKED_ROLES = {"aws_eks": ("eks.amazonaws.com", "eks-nodegroup.amazonaws.com"),
                "aws_lb": ("elasticloadbalancing.amazonaws.com",), "aws_rds": ("rds.amazonaws.com",),
                "aws_elasticache": ("elasticache.amazonaws.com",), "aws_eks_node_group": ("autoscaling.amazonaws.com",),
                "aws_guardduty": ("guardduty.amazonaws.com", "malware-protection.guardduty.amazonaws.com"),
                "aws_securityhub": ("securityhub.amazonaws.com",), "aws_config": ("config.amazonaws.com",),
                "aws_accessanalyzer": ("access-analyzer.amazonaws.com",),
                "aws_ecr_replication": ("replication.ecr.amazonaws.com",), "aws_backup": ("backup.amazonaws.com",),
                # multi-Region keys: https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-auth-slr.html
                "aws_kms_replica_key": ("mrk.kms.amazonaws.com",),
                "aws_servicequotas": ("servicequotas.amazonaws.com",),
                # https://docs.aws.amazon.com/prometheus/latest/userguide/using-service-linked-roles-prom.html
                "aws_prometheus_scraper": ("scraper.aps.amazonaws.com",),
                # zonal autoshift's practice runs (AWSServiceRoleForZonalAutoshiftPracticeRun), created by the
                # first ZonalAutoshiftConfiguration the CloudFormation stacks carry
                # https://docs.aws.amazon.com/r53recovery/latest/dg/using-service-linked-roles-zonal-autoshift.html
                "aws_cloudformation_stack": ("practice-run.arc-zonal-shift.amazonaws.com",)}
POLICY_CHARS = 6144
_TOKEN = re.compile(r"\$\{")


class PolicyError(Exception):
    """The output holds something this generator cannot scope: the message names it."""


def service_of(rtype: str) -> str:
    match = max((p for p in SERVICES if rtype == p or rtype.startswith(p + "_")), key=len, default=None)
    if match is None:
        raise PolicyError(f"{rtype}: no IAM service known for this type; add it to SERVICES in "
                          "tooling/review/deployer_policy.py")
    return SERVICES[match]


_PARTITION = re.compile(r"\$\{data\.aws_partition\.[\w-]+\.partition\}")
_ACCOUNT = re.compile(r"\$\{data\.aws_caller_identity\.[\w-]+\.account_id\}")


def _literal(value: Any, account: str = "") -> Optional[str]:
    """A name or ARN as AWS will hold it: the partition and account lookups filled in (the stacks'
    providers are limited to one account of the aws partition); None when anything else is unknown."""
    if not isinstance(value, str):
        return None
    value = _ACCOUNT.sub(account, _PARTITION.sub("aws", value)) if account else _PARTITION.sub("aws", value)
    return None if _TOKEN.search(value) else value


def _names(output: Output, stacks: Iterable[str], rtype: str, attribute: str, account: str = "") -> list[str]:
    return sorted({n for s in stacks for conf in output.resources(s, rtype).values()
                   if (n := _literal(conf.get(attribute), account))})


# how a protected resource's ARN is built from its name, where it has one (else the deny is for every
# resource of the type, which holds only when each one the stacks create is protected)
PROTECTED_ARNS: dict[str, tuple[str, str]] = {
    "aws_rds_global_cluster": ("global_cluster_identifier", "arn:aws:rds::{account}:global-cluster:{name}"),
    "aws_rds_cluster": ("cluster_identifier", "arn:aws:rds:*:{account}:cluster:{name}"),
    "aws_rds_cluster_instance": ("identifier", "arn:aws:rds:*:{account}:db:{name}"),
    "aws_elasticache_replication_group": ("replication_group_id",
                                          "arn:aws:elasticache:*:{account}:replicationgroup:{name}"),
    "aws_backup_vault": ("name", "arn:aws:backup:*:{account}:backup-vault:{name}"),
    "aws_s3_bucket": ("bucket", "arn:aws:s3:::{name}"),
}


def _statement(sid: str, actions: Sequence[str], resources: Sequence[str] | str, *, effect: str = "Allow",
               condition: Optional[dict] = None) -> dict:
    statement: dict[str, Any] = {"Sid": sid, "Effect": effect, "Action": sorted(set(actions)),
                                 "Resource": resources if isinstance(resources, str) else sorted(set(resources))}
    if condition:
        statement["Condition"] = condition
    return statement


def statements(output: Output, env: str) -> list[dict]:
    stacks = output.deployment_of(env)
    account = _account(output, stacks)
    regions = sorted({p.get("region") for s in stacks for p in output.providers(s, "aws") if p.get("region")})
    types = {t for s in stacks for t in output.stacks[s].get("resource", {}) if t.startswith("aws_")}
    data_types = {t for s in stacks for block in ("data", "ephemeral")
                  for t in output.stacks[s].get(block, {}) if t.startswith("aws_")}
    services = {service_of(t) for t in types | data_types} - {""}
    arn = f"arn:aws:{{}}:{{}}:{account}:{{}}"
    found: list[dict] = []

    regional = sorted(services - SCOPED)
    if regional:
        found.append(_statement("RegionalServices", [f"{s}:*" for s in regional if s not in GLOBAL], "*",
                                condition={"StringEquals": {"aws:RequestedRegion": regions}}))
    if "route53" in services:
        found.append(_statement("Route53", ["route53:*"], "*"))
    found.append(_statement("WhoAmI", ["sts:GetCallerIdentity"], "*"))

    # IAM: the roles by name, what they may attach and to whom they may be passed
    roles = _names(output, stacks, "aws_iam_role", "name")
    if roles:
        role_arns = [f"arn:aws:iam::{account}:role/{r}" for r in roles]
        found.append(_statement("OwnRoles", [
            "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy",
            "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags", "iam:PutRolePolicy", "iam:GetRolePolicy",
            "iam:DeleteRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole", "iam:DetachRolePolicy"], role_arns))
        attached = _names(output, stacks, "aws_iam_role_policy_attachment", "policy_arn", account)
        if attached:
            found.append(_statement("AttachKnownPolicies", ["iam:AttachRolePolicy"], role_arns,
                                    condition={"ArnEquals": {"iam:PolicyARN": attached}}))
            found.append(_statement("ReadKnownPolicies", ["iam:GetPolicy", "iam:GetPolicyVersion"], attached))
        # each role is passed only to the service(s) its trust policy names
        passed: dict[str, set[str]] = {}
        for s in stacks:
            for conf in output.resources(s, "aws_iam_role").values():
                for st in policy_statements(conf.get("assume_role_policy")):
                    principal = st.get("Principal")
                    for service in as_list(principal.get("Service") if isinstance(principal, dict) else None):
                        passed.setdefault(service, set()).add(f"arn:aws:iam::{account}:role/{conf['name']}")
        for service, arns in sorted(passed.items()):
            sid = "Pass" + "".join(part.capitalize() for part in re.split(r"[.-]", service.removesuffix(".amazonaws.com")))
            found.append(_statement(sid, ["iam:PassRole"], sorted(arns),
                                    condition={"StringEquals": {"iam:PassedToService": service}}))
    if "aws_iam_openid_connect_provider" in types:
        found.append(_statement("ClusterOidcProviders", ["iam:CreateOpenIDConnectProvider",
                                                         "iam:DeleteOpenIDConnectProvider",
                                                         "iam:GetOpenIDConnectProvider",
                                                         "iam:TagOpenIDConnectProvider",
                                                         "iam:UntagOpenIDConnectProvider",
                                                         "iam:UpdateOpenIDConnectProviderThumbprint"],
                                [f"arn:aws:iam::{account}:oidc-provider/oidc.eks.{r}.amazonaws.com/id/*"
                                 for r in regions]))
    linked = sorted({name for t in types for prefix, names in LINKED_ROLES.items()
                     if t == prefix or t.startswith(prefix + "_") for name in names}
                    | set(_names(output, stacks, "aws_iam_service_linked_role", "aws_service_name")))
    if linked:
        # iam:AWSServiceName is in the request of CreateServiceLinkedRole only; reading and tagging the
        # roles (the provider tags them with default_tags) is granted on their paths
        found.append(_statement("CreateServiceLinkedRoles", ["iam:CreateServiceLinkedRole"],
                                f"arn:aws:iam::{account}:role/aws-service-role/*",
                                condition={"StringEquals": {"iam:AWSServiceName": linked}}))
        found.append(_statement("ServiceLinkedRoles", ["iam:GetRole", "iam:TagRole", "iam:UntagRole",
                                                       "iam:ListRoleTags", "iam:UpdateRole"],
                                [f"arn:aws:iam::{account}:role/aws-service-role/{name}/*" for name in linked]))
    recorder_roles = _names(output, stacks, "aws_config_configuration_recorder", "role_arn", account)
    if recorder_roles:  # AWS Config records with its service-linked role, passed to it
        found.append(_statement("PassConfigRole", ["iam:PassRole"], recorder_roles,
                                condition={"StringEquals": {"iam:PassedToService": "config.amazonaws.com"}}))
    if "aws_backup_vault" in types:  # https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault.html
        found.append(_statement("BackupVaultStorage", ["backup-storage:MountCapsule"], "*",
                                condition={"StringEquals": {"aws:RequestedRegion": regions}}))

    clusters = _names(output, stacks, "aws_eks_cluster", "name")
    if clusters:
        found.append(_statement("OwnClusters", ["eks:*"], [
            arn.format("eks", "*", f"{kind}/{c}{tail}") for c in clusters
            for kind, tail in (("cluster", ""), ("nodegroup", "/*"), ("addon", "/*"), ("access-entry", "/*"),
                               ("podidentityassociation", "/*"))]))
        found.append(_statement("ClusterCatalogue", ["eks:DescribeAddonVersions", "eks:DescribeAddonConfiguration",
                                                     "eks:ListClusters", "eks:CreateCluster",
                                                     "eks:DescribeClusterVersions"], "*",
                                condition={"StringEquals": {"aws:RequestedRegion": regions}}))
    buckets = _names(output, stacks, "aws_s3_bucket", "bucket", account)
    if "s3" in services:
        if len(buckets) != sum(len(output.resources(st, "aws_s3_bucket")) for st in stacks):
            raise PolicyError("an S3 bucket name is only known at apply time; the deployer policy names buckets")
        found.append(_statement("OwnBuckets", ["s3:*"], [f"arn:aws:s3:::{b}" for b in buckets]
                                + [f"arn:aws:s3:::{b}/*" for b in buckets]))
        found.append(_statement("AccountPublicAccessBlock", ["s3:GetAccountPublicAccessBlock",
                                                             "s3:PutAccountPublicAccessBlock",
                                                             "s3:ListAllMyBuckets"], "*"))
    secrets = _names(output, stacks, "aws_secretsmanager_secret", "name")
    if secrets:
        found.append(_statement("OwnSecrets", ["secretsmanager:*"],
                                [arn.format("secretsmanager", "*", f"secret:{s}-??????") for s in secrets]))
        found.append(_statement("SecretsCatalogue", ["secretsmanager:ListSecrets", "secretsmanager:GetRandomPassword"],
                                "*", condition={"StringEquals": {"aws:RequestedRegion": regions}}))
    functions = _names(output, stacks, "aws_lambda_function", "function_name")
    if functions:
        found.append(_statement("OwnFunctions", ["lambda:*"],
                                [arn.format("lambda", "*", f"function:{f}") for f in functions]))
    canaries = _names(output, stacks, "aws_synthetics_canary", "name")
    if canaries:
        # CreateCanary builds the canary's function and layer with the caller's own Lambda permissions
        # (cwsyn-<canary>-<id>), and DeleteCanary with delete_lambda removes them the same way:
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Canaries_Roles.html
        found.append(_statement("CanaryFunctions", ["lambda:*"],
                                [arn.format("lambda", "*", f"{kind}:cwsyn-{c}-*") for c in canaries
                                 for kind in ("function", "layer")]))
        # the runtime's own layers, which AWS publishes (CloudWatchSyntheticsFullAccess grants the same read)
        found.append(_statement("SyntheticsRuntimeLayers", ["lambda:GetLayerVersion"], [
            f"arn:aws:lambda:*:*:layer:{layer}" for layer in ("Synthetics:*", "Synthetics_Selenium:*",
                                                               "AWS-CW-Synthetics*:*")]))
        # a canary's role is passed to Synthetics too (the service names it on the function it creates)
        canary_roles = sorted({f"arn:aws:iam::{account}:role/{name}" for s in stacks
                               for c in output.resources(s, "aws_synthetics_canary").values()
                               for r in output.refs(s, c.get("execution_role_arn")) if r.type == "aws_iam_role"
                               if (name := _literal((output.get(r) or {}).get("name"), account))})
        if canary_roles:
            found.append(_statement("PassCanaryRoles", ["iam:PassRole"], canary_roles,
                                    condition={"StringEquals": {"iam:PassedToService": "synthetics.amazonaws.com"}}))

    if "aws_cloudformation_stack" in types:
        # CloudFormation creates the Region switch plan and the zonal autoshift configurations with the caller's
        # rights; the plan through ARC's control plane
        # (us-east-1 whatever the stack's region): the plan's handlers call arc-region-switch:*Plan* and
        # iam:PassRole (granted above for the role the plan trusts).
        # https://docs.aws.amazon.com/r53recovery/latest/dg/security_iam_region_switch_permissions.html
        found.append(_statement("RegionSwitchPlans", [
            "arc-region-switch:CreatePlan", "arc-region-switch:UpdatePlan", "arc-region-switch:DeletePlan",
            "arc-region-switch:GetPlan", "arc-region-switch:ListPlans", "arc-region-switch:TagResource",
            "arc-region-switch:UntagResource", "arc-region-switch:ListTagsForResource"], "*"))
        # ... and the zonal autoshift configurations (AWS::ARCZonalShift::ZonalAutoshiftConfiguration handlers)
        found.append(_statement("ZonalAutoshift", [
            "arc-zonal-shift:CreatePracticeRunConfiguration", "arc-zonal-shift:UpdatePracticeRunConfiguration",
            "arc-zonal-shift:DeletePracticeRunConfiguration", "arc-zonal-shift:UpdateZonalAutoshiftConfiguration",
            "arc-zonal-shift:GetManagedResource", "arc-zonal-shift:ListManagedResources"], "*",
            condition={"StringEquals": {"aws:RequestedRegion": regions}}))
    found += _state_statements(output, stacks)
    found += _protected(output, stacks, account)
    found += _other_environments(output, stacks, env)
    locked = sorted({b for st in stacks for c in output.resources(st, "aws_s3_bucket_object_lock_configuration").values()
                     if (b := _literal(c.get("bucket"), account))}
                    | {b for st in stacks for c in output.resources(st, "aws_s3_bucket").values()
                       if c.get("object_lock_enabled") and (b := _literal(c.get("bucket"), account))})
    if locked:  # governance-mode retention yields to s3:BypassGovernanceRetention: not for this role
        found.append(_statement("KeepLockedObjects", ["s3:BypassGovernanceRetention", "s3:DeleteObjectVersion"],
                                [f"arn:aws:s3:::{b}/*" for b in locked], effect="Deny"))
    found.append(_statement("NoLongLivedCredentials", list(NEVER), "*", effect="Deny"))
    return found


def _protected(output: Output, stacks: Sequence[str], account: str) -> list[dict]:
    """Deny the deletes ``prevent_destroy`` refuses: for the whole type when every resource of it is
    protected, else for the protected ones by ARN."""
    everywhere: set[str] = set()
    by_arn: dict[tuple[str, ...], set[str]] = {}
    for rtype, actions in sorted(PROTECTED.items()):
        confs = [c for s in stacks for c in output.resources(s, rtype).values()]
        kept = [c for c in confs if (c.get("lifecycle") or {}).get("prevent_destroy")]
        if not kept:
            continue
        if len(kept) == len(confs) and rtype != "aws_s3_bucket":
            everywhere |= set(actions)
        elif rtype in PROTECTED_ARNS:
            attribute, template = PROTECTED_ARNS[rtype]
            arns = {template.format(account=account, name=n) for c in kept
                    if (n := _literal(c.get(attribute), account))}
            if arns:
                by_arn.setdefault(actions, set()).update(arns)
    found = []
    if everywhere:
        found.append(_statement("KeepWhatPreventDestroyKeeps", sorted(everywhere), "*", effect="Deny"))
    for n, (actions, arns) in enumerate(sorted(by_arn.items()), start=1):
        found.append(_statement(f"KeepProtected{n}", actions, sorted(arns), effect="Deny"))
    return found


def _other_environments(output: Output, stacks: Sequence[str], env: str) -> list[dict]:
    """Environments often share an account: deny acting on, or creating, a resource whose environment tag
    (the providers' ``default_tags``) names another environment. Where a service puts no tag in the
    request's context the condition key is absent and the deny does not apply, so this narrows what the
    services support (EC2, RDS, ElastiCache, KMS, ELB, ... ) without breaking the rest."""
    keys = {k for s in stacks for p in output.providers(s, "aws")
            for k, v in ((p.get("default_tags") or [{}])[0].get("tags") or {}).items() if v == env}
    found = []
    for n, key in enumerate(sorted(keys), start=1):
        for where in ("ResourceTag", "RequestTag"):
            found.append(_statement(f"OnlyThisEnvironment{where}{n if len(keys) > 1 else ''}", ["*"], "*",
                                    effect="Deny", condition={"StringNotEquals": {f"aws:{where}/{key}": env},
                                                              "Null": {f"aws:{where}/{key}": "false"}}))
    return found


def _account(output: Output, stacks: Sequence[str]) -> str:
    accounts = {a for s in stacks for p in output.providers(s, "aws") for a in as_list(p.get("allowed_account_ids"))}
    if len(accounts) != 1:
        raise PolicyError(f"the stacks name {len(accounts)} accounts ({', '.join(sorted(accounts)) or 'none'}); "
                          "one deployer policy is for one account")
    return accounts.pop()


def _state_statements(output: Output, stacks: Sequence[str]) -> list[dict]:
    """Each stack's own state object and its lock file; the upstream states it reads."""
    written, read, buckets, tables = set(), set(), set(), set()
    for stack in stacks:
        s3 = output.stacks[stack].get("terraform", {}).get("backend", {}).get("s3")
        if s3:
            written |= {f"arn:aws:s3:::{s3['bucket']}/{s3['key']}", f"arn:aws:s3:::{s3['bucket']}/{s3['key']}.tflock"}
            buckets.add(s3["bucket"])
            if s3.get("dynamodb_table"):
                tables.add(s3["dynamodb_table"])
        for source in output.stacks[stack].get("data", {}).get("terraform_remote_state", {}).values():
            if source.get("backend") == "s3":
                config = source.get("config", {})
                read.add(f"arn:aws:s3:::{config['bucket']}/{config['key']}")
                buckets.add(config["bucket"])
    found = []
    if written:
        found.append(_statement("StateObjects", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], written))
    if read:
        found.append(_statement("UpstreamState", ["s3:GetObject"], read))
    if buckets:
        found.append(_statement("StateBuckets", ["s3:ListBucket", "s3:GetBucketVersioning"],
                                [f"arn:aws:s3:::{b}" for b in buckets]))
    if tables:
        found.append(_statement("StateLockTable", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
                                                   "dynamodb:DescribeTable"],
                                [f"arn:aws:dynamodb:*:*:table/{t}" for t in tables]))
    return found


def documents(found: Sequence[dict]) -> list[dict]:
    """The statements packed into as few policy documents as fit IAM's managed-policy size."""
    packed: list[list[dict]] = [[]]
    for statement in found:
        trial = {"Version": "2012-10-17", "Statement": [*packed[-1], statement]}
        if packed[-1] and len(json.dumps(trial, separators=(",", ":"))) > POLICY_CHARS:
            packed.append([])
        packed[-1].append(statement)
    for group in packed:
        size = len(json.dumps({"Version": "2012-10-17", "Statement": group}, separators=(",", ":")))
        if size > POLICY_CHARS:
            raise PolicyError(f"statement {group[0]['Sid']} alone is {size} characters, over IAM's {POLICY_CHARS}")
    return [{"Version": "2012-10-17", "Statement": group} for group in packed]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.review.deployer_policy")
    parser.add_argument("--outdir", default="cdktf.out")
    parser.add_argument("--env", action="append")
    parser.add_argument("--reports", default="reports")
    args = parser.parse_args(argv)
    if not (Path(args.outdir) / "stacks").is_dir():
        print(f"error: {args.outdir}/stacks does not exist; run `make synth` first", file=sys.stderr)
        return 2
    output = Output.load(Path(args.outdir))
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    for env in args.env or output.environments:
        try:
            docs = documents(statements(output, env))
        except PolicyError as error:
            print(f"error: {env}: {error}", file=sys.stderr)
            return 1
        target = reports / f"deployer-policy-{env}.json"
        target.write_text(json.dumps(docs if len(docs) > 1 else docs[0], indent=2, sort_keys=True) + "\n")
        sids = [s["Sid"] for d in docs for s in d["Statement"]]
        print(f"deployer policy {env}: {len(docs)} document(s), {len(sids)} statements "
              f"({', '.join(sids)}): {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
