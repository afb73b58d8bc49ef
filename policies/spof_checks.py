"""Zero-SPOF checks no built-in checkov check covers.

Each check reads one synthesized resource (checkov's parsed form: every
attribute value is wrapped in a list). Ids live in our own namespace,
CKV_SPOF_<n>; tests/policies/ shows each failing on a bad fixture and passing on
a good one.
"""

from __future__ import annotations

import re
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

from modules.tags import SINGLE_REGION

_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def _first(conf: dict, key: str, default: Any = None) -> Any:
    value = conf.get(key, [default])
    return value[0] if isinstance(value, list) and value else default


def _count(value: Any) -> int:
    """Length of a list attribute, which checkov may wrap once more."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    return len(value) if isinstance(value, list) else 0


class LoadBalancerSpansTwoAzs(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="Load balancer spans at least two availability zones (subnets)",
                         id="CKV_SPOF_1", categories=[CheckCategories.NETWORKING],
                         supported_resources=["aws_lb", "aws_alb"])

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        self.evaluated_keys = ["subnets", "subnet_mapping"]
        zones = _count(conf.get("subnets")) or len(conf.get("subnet_mapping", []))
        return CheckResult.PASSED if zones >= 2 else CheckResult.FAILED


class NodeGroupSpansTwoAzs(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="EKS node group spans at least two availability zones (subnets)",
                         id="CKV_SPOF_2", categories=[CheckCategories.KUBERNETES],
                         supported_resources=["aws_eks_node_group"])

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        self.evaluated_keys = ["subnet_ids"]
        return CheckResult.PASSED if _count(conf.get("subnet_ids")) >= 2 else CheckResult.FAILED


class FailoverRecordHasHealthCheck(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="Route53 PRIMARY failover record is guarded by a health check",
                         id="CKV_SPOF_3", categories=[CheckCategories.NETWORKING],
                         supported_resources=["aws_route53_record"])

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        self.evaluated_keys = ["failover_routing_policy", "health_check_id"]
        policy = _first(conf, "failover_routing_policy")
        if not policy:
            return CheckResult.UNKNOWN  # not a failover record: nothing to say
        role = _first(policy, "type") if isinstance(policy, dict) else None
        if role != "PRIMARY":
            return CheckResult.PASSED
        return CheckResult.PASSED if _first(conf, "health_check_id") else CheckResult.FAILED


class HelmChartPinned(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="Helm release pins an exact chart version",
                         id="CKV_SPOF_4", categories=[CheckCategories.SUPPLY_CHAIN],
                         supported_resources=["helm_release"])

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        self.evaluated_keys = ["version"]
        version = _first(conf, "version")
        return CheckResult.PASSED if isinstance(version, str) and _VERSION.match(version) else CheckResult.FAILED


class CloudflareLoadBalancerFailsOver(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="Cloudflare load balancer has two or more pools and a fallback pool",
                         id="CKV_SPOF_5", categories=[CheckCategories.NETWORKING],
                         supported_resources=["cloudflare_load_balancer"])

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        self.evaluated_keys = ["default_pools", "fallback_pool"]
        ok = _count(conf.get("default_pools")) >= 2 and bool(_first(conf, "fallback_pool"))
        return CheckResult.PASSED if ok else CheckResult.FAILED


class CloudflarePoolMonitored(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="Cloudflare load balancer pool is health-monitored",
                         id="CKV_SPOF_6", categories=[CheckCategories.NETWORKING],
                         supported_resources=["cloudflare_load_balancer_pool"])

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        self.evaluated_keys = ["monitor"]
        return CheckResult.PASSED if _first(conf, "monitor") else CheckResult.FAILED


class CloudflareRecordNotProxied(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="Cloudflare record is DNS-only, answering like the Route53 copy of the zone",
                         id="CKV_SPOF_7", categories=[CheckCategories.NETWORKING],
                         supported_resources=["cloudflare_dns_record", "cloudflare_load_balancer"])

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        self.evaluated_keys = ["proxied"]
        return CheckResult.FAILED if _first(conf, "proxied") is True else CheckResult.PASSED


check_lb = LoadBalancerSpansTwoAzs()
check_nodes = NodeGroupSpansTwoAzs()
check_failover = FailoverRecordHasHealthCheck()
check_helm = HelmChartPinned()
check_cf_lb = CloudflareLoadBalancerFailsOver()
check_cf_pool = CloudflarePoolMonitored()
check_cf_proxied = CloudflareRecordNotProxied()


SINGLE_REGION_TAG = SINGLE_REGION


def _declared_single_region(conf: dict) -> bool:
    tags = _first(conf, "tags") or {}
    return isinstance(tags, dict) and bool(tags.get(SINGLE_REGION_TAG))


class KeyIsMultiRegion(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="KMS key is multi-region, or its environment declares it single-region",
                         id="CKV_SPOF_8", categories=[CheckCategories.ENCRYPTION],
                         supported_resources=["aws_kms_key"])

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        self.evaluated_keys = ["multi_region", "tags"]
        if _first(conf, "key_usage") == "SIGN_VERIFY":
            return CheckResult.UNKNOWN  # DNSSEC signing keys are regional by design (us-east-1)
        if _first(conf, "multi_region") is True or _declared_single_region(conf):
            return CheckResult.PASSED
        return CheckResult.FAILED


class SecretIsReplicated(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="Secrets Manager secret is replicated to another region, or declared single-region",
                         id="CKV_SPOF_10", categories=[CheckCategories.SECRETS],
                         supported_resources=["aws_secretsmanager_secret"])

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        self.evaluated_keys = ["replica", "tags"]
        if conf.get("replica") or _declared_single_region(conf):
            return CheckResult.PASSED
        return CheckResult.FAILED


class StatefulResourceProtected(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(name="Stateful resource (key, zone) has lifecycle prevent_destroy",
                         id="CKV_SPOF_11", categories=[CheckCategories.GENERAL_SECURITY],
                         supported_resources=["aws_kms_key", "aws_kms_replica_key", "aws_route53_zone",
                                              "cloudflare_zone"])

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        self.evaluated_keys = ["lifecycle"]
        lifecycle = _first(conf, "lifecycle") or {}
        protected = isinstance(lifecycle, dict) and _first(lifecycle, "prevent_destroy") is True
        return CheckResult.PASSED if protected else CheckResult.FAILED


check_key_multi_region = KeyIsMultiRegion()
check_secret_replicated = SecretIsReplicated()
check_stateful_protected = StatefulResourceProtected()
