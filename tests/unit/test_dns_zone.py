"""The dns-zone stack's optional DNSSEC signing (off in every shipped environment)."""

from __future__ import annotations

import json

from tests.conftest import resources
from tests.topology import dns_zone_stack, security_stack, widest


def test_dnssec_signs_the_zone_with_a_single_region_kms_key():
    from cdktf import Testing

    from modules.stacks.dns_zone import DnsZoneStack
    from modules.stacks.security import SecurityStack

    # GIVEN an environment of the configuration with dns.dnssec on WHEN its zone stack is synthesized
    env = widest()
    env = env.model_copy(update={"dns": env.dns.model_copy(update={"dnssec": True})})
    app = Testing.app()
    security = SecurityStack(app, security_stack(env.name), env=env)
    stack = json.loads(Testing.synth(DnsZoneStack(app, dns_zone_stack(env.name), env=env, keys=security.keys)))
    # THEN an asymmetric signing key in us-east-1 signs the zone through a key-signing key
    (key_name, key), = [(n, k) for n, k in resources(stack, "aws_kms_key").items() if k.get("key_usage") == "SIGN_VERIFY"]
    assert key["customer_master_key_spec"] == "ECC_NIST_P256" and key["lifecycle"] == {"prevent_destroy": True}
    admin, signing = json.loads(key["policy"])["Statement"]
    assert "kms:ReplicateKey" not in admin["Action"] and "kms:Sign" not in admin["Action"]
    assert signing["Principal"] == {"Service": "dnssec-route53.amazonaws.com"}
    assert signing["Action"] == ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:CreateGrant"]
    (ksk,) = resources(stack, "aws_route53_key_signing_key").values()
    assert ksk["key_management_service_arn"] == f"${{aws_kms_key.{key_name}.arn}}"
    assert resources(stack, "aws_route53_hosted_zone_dnssec")
