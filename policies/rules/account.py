"""Account: what exists once per account has one owner, the environments fit the quotas, detection and audit in every region.

One rule, one place: each cites the document it encodes; its failing and passing fixtures are named
in the registry (:mod:`policies.rules.registry`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator, Optional


from environments.schema.account import QUOTAS
from modules.stacks import names
from policies.model.output import Output, as_list
from policies.rules.registry import rule


# Resource types that exist once per account (None) or once per account and region ("region"), with what
# makes two of them the same one.
SINGLETONS = {
    "aws_iam_service_linked_role": (None, ("aws_service_name", "custom_suffix")),
    "aws_s3_account_public_access_block": (None, ()),
    "aws_securityhub_finding_aggregator": (None, ()),
    "aws_ebs_encryption_by_default": ("region", ()),
    "aws_ebs_default_kms_key": ("region", ()),
    "aws_guardduty_detector": ("region", ()),
    "aws_securityhub_account": ("region", ()),
    "aws_config_configuration_recorder": ("region", ()),
    "aws_config_delivery_channel": ("region", ()),
    "aws_ecr_replication_configuration": ("region", ()),
}


def _account_of(provider: dict) -> Optional[str]:
    """The account an AWS provider is limited to (``allowed_account_ids``), or None."""
    return next((str(a) for a in as_list(provider.get("allowed_account_ids"))), None)


def _placement(output: Output, stack: str, conf: dict) -> tuple[Optional[str], Optional[str]]:
    """``(account id, region)`` a resource is created in, from the provider it uses."""
    provider = output.provider_of(stack, conf) or {}
    return _account_of(provider), provider.get("region")


def _baseline_by_region(output: Output) -> dict[tuple[str, str], str]:
    """``{(account, region): the account baseline stack of that region}`` (its default provider's)."""
    return {(_account_of(provider), provider.get("region")): stack for stack in output.account_stacks()
            for provider in output.providers(stack, "aws") if not provider.get("alias") and _account_of(provider)}


def _baseline_facts(output: Output, stack: str) -> dict:
    """What a baseline stack says of itself in its ``account_baseline`` output: the pieces it adopts, whether
    the default VPCs remain, a one-region account's reason (modules/stacks/account.py)."""
    return (output.stacks[stack].get("output", {}).get("account_baseline") or {}).get("value") or {}


def _is_account_stack(stack: str) -> bool:
    parsed = names.parse(stack)
    return parsed is not None and parsed.kind == "account"


@rule(29, "What exists once per account (or account and region) is created once, by the account baseline",
      "https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html")
def one_owner(output: Output):
    # CreateServiceLinkedRole fails when the role exists ("has been taken in this account",
    # hashicorp/terraform-provider-aws#28644); a second GuardDuty detector, Config recorder or Security
    # Hub enablement fails the same way; and the environment that owned one would delete it for all.
    seen: dict[tuple, list[tuple[str, str]]] = defaultdict(list)
    for rtype, (scope, identity) in SINGLETONS.items():
        for stack, name, conf in output.every(rtype):
            account, region = _placement(output, stack, conf)
            key = (rtype, account, region if scope == "region" else None,
                   tuple(str(conf.get(field) or "") for field in identity))
            seen[key].append((stack, name))
    for (rtype, account, region, identity), places in sorted(seen.items(), key=lambda item: str(item[0])):
        where = f"{rtype} ({', '.join(i for i in identity if i) or 'account-wide'}) in account {account}" + (
            f", {region}" if region else "")
        for stack, name in places:
            subject = f"{rtype}.{name}"
            if len(places) > 1:
                yield stack, subject, False, (
                    f"{where} is created by {len(places)} stacks ({', '.join(sorted(s for s, _ in places))}): the "
                    "second create fails, and destroying one owner deletes it for every environment")
            elif rtype != "aws_ecr_replication_configuration" and not _is_account_stack(stack):
                yield stack, subject, False, (
                    f"{where} is created by an environment's stack: destroying that environment deletes what the "
                    "account's other environments use; allowed: the account baseline (environments/accounts/)")
            else:
                yield stack, subject, True, ""


def _usage(output: Output) -> dict[tuple[str, str, str, Optional[str]], dict[str, int]]:
    """``{(account, region, quota, zone): {stack: count}}`` of what the output creates."""
    usage: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(stack, conf, quota, zone=None):
        account, region = _placement(output, stack, conf)
        if account and region:
            usage[(account, region, quota, zone)][stack] += 1

    for stack, _, conf in output.every("aws_eip"):
        add(stack, conf, "elastic_ips")
    for stack, _, conf in output.every("aws_vpc"):
        add(stack, conf, "vpcs")
    for stack, _, conf in output.every("aws_internet_gateway"):
        add(stack, conf, "internet_gateways")
    for stack, _, conf in output.every("aws_eks_cluster"):
        add(stack, conf, "eks_clusters")
    for stack, _, conf in output.every("aws_rds_cluster"):
        add(stack, conf, "db_clusters")
    for stack, _, conf in output.every("aws_lb"):
        add(stack, conf, "network_load_balancers" if conf.get("load_balancer_type") == "network"
            else "application_load_balancers")
    for stack, _, conf in output.every("aws_cloudwatch_log_resource_policy"):
        add(stack, conf, "log_resource_policies")
    for stack, _, conf in output.every("aws_nat_gateway"):
        subnet = next(iter(output.refs(stack, conf.get("subnet_id"))), None)
        zone = (output.get(subnet) or {}).get("availability_zone") if subnet else None
        add(stack, conf, "nat_gateways_per_az", zone)
    return usage


def _declared(output: Output) -> dict[tuple[str, str], dict]:
    """``{(account, region): {"quotas": {quota: value}, "default_vpcs": bool}}`` from the baseline stacks."""
    declared: dict[tuple[str, str], dict] = {}
    by_code = {(q.service_code, q.quota_code): name for name, q in QUOTAS.items() if q.quota_code}
    for where, stack in _baseline_by_region(output).items():
        entry = declared[where] = {"quotas": {},
                                   "default_vpcs": bool(_baseline_facts(output, stack).get("default_vpcs", True))}
        for conf in output.resources(stack, "aws_servicequotas_service_quota").values():
            name = by_code.get((conf.get("service_code"), conf.get("quota_code")))
            if name:
                entry["quotas"][name] = int(conf.get("value", 0))
    return declared


@rule(30, "The environments of an account fit its quotas in every region (AWS's default, or what the baseline "
          "requests)", "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html")
def quotas(output: Output):
    declared = _declared(output)
    for (account, region, quota, zone), by_stack in sorted(_usage(output).items(), key=lambda item: str(item[0])):
        entry = declared.get((account, region), {"quotas": {}, "default_vpcs": True})
        limit = entry["quotas"].get(quota, QUOTAS[quota].default)
        used = sum(by_stack.values()) + (1 if quota == "vpcs" and entry["default_vpcs"] else 0)
        spec = QUOTAS[quota]
        subject = f"{spec.title} in {region}{' ' + zone if zone else ''} of account {account}"
        yield sorted(by_stack)[-1], subject, used <= limit, (
            f"needs {used} ({', '.join(f'{s} {n}' for s, n in sorted(by_stack.items()))}"
            f"{', the default VPC 1' if quota == 'vpcs' and entry['default_vpcs'] else ''}) and the quota is {limit} "
            f"({spec.service_code} {spec.quota_code or 'fixed'}"
            f"{', requested' if quota in entry['quotas'] else ', AWS default'}):"
            " the stack that applies last fails (AddressLimitExceeded / VpcLimitExceeded)")


def _account_regions(output: Output) -> dict[str, dict[str, str]]:
    """``{account: {region: the first environment stack creating resources there}}``."""
    regions: dict[str, dict[str, str]] = defaultdict(dict)
    for env in output.environments:
        for stack in sorted(output.stacks_of(env)):
            for provider in output.providers(stack, "aws"):
                account = _account_of(provider)
                if account and provider.get("region") and output.stacks[stack].get("resource"):
                    regions[account].setdefault(provider["region"], stack)
    return regions


def _detection(output: Output, stack: str) -> Iterator[str]:
    """What one region's baseline stack lacks of threat detection and findings."""
    adopted = set(_baseline_facts(output, stack).get("adopted") or [])
    features = {conf.get("name") for conf in output.resources(stack, "aws_guardduty_detector_feature").values()
                if conf.get("status") == "ENABLED"}
    if not output.resources(stack, "aws_guardduty_detector") and "guardduty" not in adopted:
        yield "no GuardDuty detector"
    for needed in ("EKS_AUDIT_LOGS", "RUNTIME_MONITORING", "S3_DATA_EVENTS", "RDS_LOGIN_EVENTS"):
        if needed not in features:
            yield f"GuardDuty without {needed}"
    if not output.resources(stack, "aws_securityhub_standards_subscription"):
        yield "no Security Hub standard"
    if not output.resources(stack, "aws_config_configuration_recorder") and "config_recorder" not in adopted:
        yield "no AWS Config recorder (Security Hub's controls have no data without one)"


def _trail(output: Output, stack: str) -> Iterator[str]:
    """What the home region's audit trail lacks."""
    trails = [c for c in output.resources(stack, "aws_cloudtrail").values()
              if c.get("is_multi_region_trail") and c.get("enable_log_file_validation") and c.get("kms_key_id")]
    if not trails:
        yield "no multi-region CloudTrail trail with log-file validation and a KMS key"
        return
    buckets = [c for c in output.resources(stack, "aws_s3_bucket").values() if c.get("object_lock_enabled")]
    if not buckets:
        yield "the trail's bucket has no Object Lock"
    replication = output.resources(stack, "aws_s3_bucket_replication_configuration")
    single = _baseline_facts(output, stack).get("single_region")
    if len(buckets) < 2 and not single:
        yield "the trail's bucket has no locked replica in another region (a region's loss takes the record)"
    elif len(buckets) >= 2 and not replication:
        yield "the trail's bucket does not replicate to its replica"


@rule(34, "Every region an account's environments use has GuardDuty, Security Hub and AWS Config; the account has a "
          "multi-region trail into a locked bucket replicated to a second region",
      "https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-setup-prereqs.html")
def audit_and_detection(output: Output):
    baselines = _baseline_by_region(output)
    for account, regions in sorted(_account_regions(output).items()):
        homes = sorted(s for (a, _), s in baselines.items() if a == account and output.resources(s, "aws_cloudtrail"))
        problems = list(_trail(output, homes[0])) if homes else ["no account baseline holds a trail"]
        yield (homes or sorted(regions.values()))[0], f"audit trail of account {account}", not problems, \
            "; ".join(problems)
        for region, user in sorted(regions.items()):
            stack = baselines.get((account, region))
            if stack is None:
                yield user, f"detection in {region} of account {account}", False, (
                    "no account baseline stack covers this region: nothing detects threats there")
                continue
            problems = list(_detection(output, stack))
            yield stack, f"detection in {region} of account {account}", not problems, "; ".join(problems)
