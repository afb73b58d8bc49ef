"""Dual ALB + NLB per region: placement by AZ, TLS, WAF, access logs, security groups."""

from __future__ import annotations

import json
import re

import pytest

from modules.loadbalancing.load_balancers import TLS_POLICY, alb_zones
from tests.conftest import resources
from tests.topology import (ENVIRONMENTS, LOAD_BALANCERS, REGIONAL, dns_zone_stack, each, regional_stack, regions,
                            widest)


def _ref_name(reference: str, resource_type: str, attribute: str = "id") -> str:
    match = re.fullmatch(rf"\$\{{{resource_type}\.([^.]+)\.{attribute}\}}", reference)
    assert match, f"{reference} is not a reference to {resource_type}.*.{attribute}"
    return match.group(1)


def _load_balancers(stack: dict) -> dict[str, dict]:
    return {lb["tags"]["Role"]: {**lb, "_name": name} for name, lb in resources(stack, "aws_lb").items()}


def _zones_of(stack: dict, lb: dict) -> list[str]:
    subnets = resources(stack, "aws_subnet")
    return sorted(subnets[_ref_name(ref, "aws_subnet")]["availability_zone"] for ref in lb["subnets"])


@pytest.mark.parametrize("stack_name", each(sorted(s for s, p in REGIONAL.items() if len(p.region.zones) >= 3),
                                            none="no region spreads over three or more AZs"))
def test_two_albs_and_one_nlb_on_their_intended_azs(stacks, stack_name):
    stack = stacks[stack_name]
    zones = REGIONAL[stack_name].region.zones
    lbs = _load_balancers(stack)
    assert sorted(lbs) == ["alb-primary", "alb-secondary", "nlb"]
    assert [lbs[k]["load_balancer_type"] for k in sorted(lbs)] == ["application", "application", "network"]
    # the ALBs overlap by one AZ (the first and second, the second and third), the NLB spans every AZ
    assert _zones_of(stack, lbs["alb-primary"]) == sorted(zones[0:2])
    assert _zones_of(stack, lbs["alb-secondary"]) == sorted(zones[1:3])
    assert _zones_of(stack, lbs["nlb"]) == sorted(zones)
    subnets = resources(stack, "aws_subnet")
    for lb in lbs.values():  # only public subnets face the internet
        assert all(subnets[_ref_name(r, "aws_subnet")]["tags"]["Tier"] == "public" for r in lb["subnets"])


@pytest.mark.parametrize("stack_name", each(sorted(s for s, p in REGIONAL.items() if len(p.region.zones) == 2),
                                            none="no region spreads over exactly two AZs"))
def test_with_two_azs_both_albs_use_both(stacks, stack_name):
    zones = sorted(REGIONAL[stack_name].region.zones)
    lbs = _load_balancers(stacks[stack_name])
    assert _zones_of(stacks[stack_name], lbs["alb-primary"]) == zones
    assert _zones_of(stacks[stack_name], lbs["alb-secondary"]) == zones
    assert _zones_of(stacks[stack_name], lbs["nlb"]) == zones


def test_alb_zones_pair_the_first_azs_and_overlap_by_one():
    assert alb_zones(("x-a", "x-b")) == (("x-a", "x-b"), ("x-a", "x-b"))
    assert alb_zones(("x-a", "x-b", "x-c")) == (("x-a", "x-b"), ("x-b", "x-c"))
    assert alb_zones(("x-a", "x-b", "x-c", "x-d")) == (("x-a", "x-b"), ("x-b", "x-c"))


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_load_balancer_hardening(stacks, stack_name):
    config = REGIONAL[stack_name].env.load_balancing
    lbs = _load_balancers(stacks[stack_name])
    for key, lb in lbs.items():
        assert lb["enable_deletion_protection"] is True and lb["internal"] is False
        assert lb["access_logs"]["enabled"] is True and lb["access_logs"]["prefix"] == key
    for key in ("alb-primary", "alb-secondary"):
        assert lbs[key]["drop_invalid_header_fields"] is True and lbs[key]["enable_http2"] is True
        assert lbs[key]["idle_timeout"] == config.idle_timeout_seconds
    assert lbs["nlb"]["enable_cross_zone_load_balancing"] is True


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_listeners_terminate_tls_1_2_plus_and_redirect_http(stacks, stack_name):
    stack = stacks[stack_name]
    lbs = {f"${{aws_lb.{lb['_name']}.arn}}": key for key, lb in _load_balancers(stack).items()}
    listeners: dict[str, dict[int, dict]] = {}
    for listener in resources(stack, "aws_lb_listener").values():
        listeners.setdefault(lbs[listener["load_balancer_arn"]], {})[listener["port"]] = listener
    assert sorted(listeners) == ["alb-primary", "alb-secondary", "nlb"]
    for key, by_port in listeners.items():
        secure = by_port[443]
        assert secure["protocol"] == ("TLS" if key == "nlb" else "HTTPS")
        assert secure["ssl_policy"] == TLS_POLICY == "ELBSecurityPolicy-TLS13-1-2-2021-06"
        # the issued certificate, read from the dns-zone stack after validation
        assert secure["certificate_arn"].startswith("${data.terraform_remote_state.cross-stack-reference-input-")
        assert secure["default_action"][0]["type"] == "forward"
    for key in ("alb-primary", "alb-secondary"):
        http = listeners[key][80]
        assert http["protocol"] == "HTTP"
        assert http["default_action"][0]["redirect"] == {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}
    assert sorted(listeners["nlb"]) == [443]


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_listener_certificate_is_the_validated_one_for_the_region(stacks, stack_name):
    placement = REGIONAL[stack_name]
    zone = stacks[dns_zone_stack(placement.env.name)]
    listeners = [listener for listener in resources(stacks[stack_name], "aws_lb_listener").values() if listener["port"] == 443]
    assert len(listeners) == len(LOAD_BALANCERS)
    for listener in listeners:
        output = re.search(r"outputs\.([^}]+)\}", listener["certificate_arn"]).group(1)
        value = zone["output"][output]["value"]
        validation = resources(zone, "aws_acm_certificate_validation")[
            _ref_name(value, "aws_acm_certificate_validation", "certificate_arn")]
        certificate = _ref_name(validation["certificate_arn"], "aws_acm_certificate", "arn")
        # issued in the listener's own region: the dns-zone stack's provider of that region's role
        assert resources(zone, "aws_acm_certificate")[certificate]["provider"] == f"aws.{placement.role}"


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_target_groups_are_ip_targets_with_the_configured_health_check(stacks, stack_name):
    config = REGIONAL[stack_name].env.load_balancing
    groups = resources(stacks[stack_name], "aws_lb_target_group").values()
    assert sorted(g["protocol"] for g in groups) == ["HTTPS", "HTTPS", "TLS"]
    for group in groups:
        nlb = group["protocol"] == "TLS"
        assert group["target_type"] == "ip"
        assert group["port"] == (config.nlb_target_port if nlb else config.app_port)
        # the NLB's path: the client's address travels in a proxy protocol v2 header
        assert group.get("proxy_protocol_v2", False) is nlb
        assert group.get("preserve_client_ip") == ("false" if nlb else None)
        assert group["deregistration_delay"] == "30"
        health = config.health_check
        assert group["health_check"] == {
            "enabled": True, "protocol": "HTTPS", "port": "traffic-port", "path": health.path,
            "interval": health.interval_seconds, "timeout": health.timeout_seconds,
            "healthy_threshold": health.healthy_threshold, "unhealthy_threshold": health.unhealthy_threshold,
            "matcher": health.matcher}
        # the failover table's "AZ failure detected in < 30 s": a lost AZ's targets leave rotation in time
        assert health.interval_seconds * health.unhealthy_threshold <= 30


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_waf_protects_both_albs_with_managed_rules_rate_limit_and_logging(stacks, stack_name):
    stack = stacks[stack_name]
    (acl_name, acl), = resources(stack, "aws_wafv2_web_acl").items()
    assert acl["scope"] == "REGIONAL"
    groups = [r["statement"]["managed_rule_group_statement"]["name"] for r in acl["rule"]
              if "managed_rule_group_statement" in r["statement"]]
    assert groups == ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                      "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesAmazonIpReputationList",
                      "AWSManagedRulesAnonymousIpList"]
    (rate,) = [r for r in acl["rule"] if "rate_based_statement" in r["statement"]]
    assert rate["statement"]["rate_based_statement"] == {"limit": 2000, "aggregate_key_type": "IP"}
    assert rate["action"] == {"block": {}}
    lbs = _load_balancers(stack)
    protected = {a["resource_arn"] for a in resources(stack, "aws_wafv2_web_acl_association").values()
                 if a["web_acl_arn"] == f"${{aws_wafv2_web_acl.{acl_name}.arn}}"}
    assert protected == {f"${{aws_lb.{lbs[k]['_name']}.arn}}" for k in ("alb-primary", "alb-secondary")}
    (logging,) = resources(stack, "aws_wafv2_web_acl_logging_configuration").values()
    assert logging["resource_arn"] == f"${{aws_wafv2_web_acl.{acl_name}.arn}}"
    group = resources(stack, "aws_cloudwatch_log_group")[_ref_name(logging["log_destination_configs"][0],
                                                                   "aws_cloudwatch_log_group", "arn")]
    assert group["name"].startswith("aws-waf-logs-") and group["kms_key_id"]


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_access_log_bucket_is_private_versioned_encrypted_and_expiring(stacks, stack_name):
    stack = stacks[stack_name]
    # the region's other bucket (the application bucket, modules/data/storage.py) logs into this one
    stack = {"resource": {t: {n: c for n, c in blocks.items() if n.startswith("lb_")}
                          for t, blocks in stack["resource"].items()}}
    (bucket_name, bucket), = resources(stack, "aws_s3_bucket").items()
    ref = f"${{aws_s3_bucket.{bucket_name}.id}}"
    assert all(lb["access_logs"]["bucket"] == ref for lb in _load_balancers(stack).values())
    (block,) = resources(stack, "aws_s3_bucket_public_access_block").values()
    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                          "restrict_public_buckets"))
    (versioning,) = resources(stack, "aws_s3_bucket_versioning").values()
    assert versioning["versioning_configuration"] == {"status": "Enabled"}
    (sse,) = resources(stack, "aws_s3_bucket_server_side_encryption_configuration").values()
    assert sse["rule"][0]["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}
    (lifecycle,) = resources(stack, "aws_s3_bucket_lifecycle_configuration").values()
    assert lifecycle["rule"][0]["expiration"] == [{"days": 365}]
    (policy,) = resources(stack, "aws_s3_bucket_policy").values()
    statements = {s["Sid"]: s for s in json.loads(policy["policy"])["Statement"]}
    assert statements["AlbLogDelivery"]["Principal"]["AWS"].startswith("${data.aws_elb_service_account.")
    assert statements["NlbLogDelivery"]["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_security_groups_chain_internet_to_load_balancers_to_nodes_only(stacks, stack_name):
    stack = stacks[stack_name]
    env = REGIONAL[stack_name].env
    app, nlb = env.load_balancing.app_port, env.load_balancing.nlb_target_port
    cidr = REGIONAL[stack_name].region.vpc_cidr
    groups = {g["tags"]["Name"].rsplit("-", 1)[1]: f"${{aws_security_group.{n}.id}}"
              for n, g in resources(stack, "aws_security_group").items()}
    ingress = [(r["security_group_id"], r["from_port"], r.get("cidr_ipv4") or r.get("referenced_security_group_id"))
               for r in resources(stack, "aws_vpc_security_group_ingress_rule").values()
               if "cluster_security_group_id" not in r["security_group_id"]]  # the API path (test_eks)
    egress = [(r["security_group_id"], r["from_port"], r["referenced_security_group_id"])
              for r in resources(stack, "aws_vpc_security_group_egress_rule").values()]
    assert sorted(ingress) == sorted([
        (groups["alb"], 443, "0.0.0.0/0"), (groups["alb"], 80, "0.0.0.0/0"), (groups["nlb"], 443, "0.0.0.0/0"),
        (groups["nodes"], app, groups["alb"]), (groups["nodes"], nlb, groups["nlb"]),
        (groups["endpoints"], 443, cidr)])  # the VPC endpoints: HTTPS from inside the VPC only
    assert sorted(egress) == sorted([(groups["alb"], app, groups["nodes"]), (groups["nlb"], nlb, groups["nodes"])])


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_outputs_for_the_dns_tier(stacks, stack_name):
    outputs = stacks[stack_name]["output"]
    for key in ("alb_primary", "alb_secondary", "nlb"):
        for suffix in ("dns_name", "zone_id", "target_group_arn"):
            assert f"{key}_{suffix}" in outputs


@pytest.mark.parametrize("env_name", each(sorted(n for n, e in ENVIRONMENTS.items() if not e.dns.existing_route53_zone_id),
                                          none="every environment adopts an existing Route53 zone"))
def test_dns_zone_stack_issues_a_certificate_per_region_validated_in_the_zone(stacks, env_name):
    from environments.schema import record_fqdn
    from modules.dns.records import load_balanced_names

    env = ENVIRONMENTS[env_name]
    stack = stacks[dns_zone_stack(env_name)]
    (zone_name, zone), = resources(stack, "aws_route53_zone").items()
    assert zone["name"] == env.domain and zone["lifecycle"] == {"prevent_destroy": True}
    certificates = resources(stack, "aws_acm_certificate")
    assert sorted(c["provider"] for c in certificates.values()) == sorted(f"aws.{role}" for role, _ in regions(env))
    assert all(c["domain_name"] == env.domain and c["validation_method"] == "DNS"
               for c in certificates.values())
    # One validation record per certificate name, keyed by that name: the addresses are known when
    # planning (a for_each over domain_validation_options is not, and failed the first apply).
    records = resources(stack, "aws_route53_record")
    # every name the DNS sends to the load balancers: the apex, the platform records, and every CNAME to one
    names = sorted({env.domain, *load_balanced_names(env)})
    platform = {record_fqdn(r.name, env.domain) for r in env.dns.records if r.target == "platform"}
    cnames = {record_fqdn(r.name, env.domain) for r in env.dns.records
              if r.type == "CNAME" and r.values[0].rstrip(".") in platform}
    assert platform | cnames <= set(names)
    records = {n: r for n, r in records.items() if "domain_validation_options" in str(r["name"])}
    assert len(records) == len(names)
    for record in records.values():
        assert record["zone_id"] == f"${{aws_route53_zone.{zone_name}.zone_id}}" and "for_each" not in record
    assert sorted(re.search(r'\["([^"]+)"\]\}$', r["name"]).group(1) for r in records.values()) == sorted(names)
    assert all("domain_validation_options" in r["records"][0] for r in records.values())
    validations = resources(stack, "aws_acm_certificate_validation").values()
    fqdns = sorted(f"${{aws_route53_record.{name}.fqdn}}" for name in records)
    assert len(validations) == len(env.regions.all)
    assert all(sorted(v["validation_record_fqdns"]) == fqdns for v in validations)
    (query_log,) = resources(stack, "aws_route53_query_log").values()
    group = resources(stack, "aws_cloudwatch_log_group")[_ref_name(query_log["cloudwatch_log_group_arn"],
                                                                   "aws_cloudwatch_log_group", "arn")]
    # Route53 writes query logs to us-east-1 only: the provider of the environment's region there, or its own
    log_provider = next((f"aws.{role}" for role, region in regions(env) if region.name == "us-east-1"),
                        "aws.query-logs")
    assert group["name"] == f"/aws/route53/{env.domain}" and group["provider"] == log_provider


def test_a_larger_body_limit_holds_on_every_path(tmp_path):
    """Above WAF's 8 KB the size rule only counts and the gateway holds the knob on both paths,
    and the deploy rules (body limit per path, every path filtered) still pass."""
    from environments.schema import LoadBalancingConfig
    from modules.app import synthesize
    from policies.model.output import Output
    from policies.rules import run_rules

    env = widest()
    load_balancing = LoadBalancingConfig.model_validate({**env.load_balancing.model_dump(),
                                                         "request_body_limit_kib": 64})
    outdir = tmp_path / "cdktf.out"
    synthesize([env.model_copy(update={"load_balancing": load_balancing})], outdir)
    output = Output.load(outdir)
    stack = regional_stack(env.name, env.regions.primary.name)
    (acl,) = output.resources(stack, "aws_wafv2_web_acl").values()
    (crs,) = [r["statement"]["managed_rule_group_statement"] for r in acl["rule"]
              if r["name"] == "AWSManagedRulesCommonRuleSet"]
    assert {"name": "SizeRestrictions_BODY", "action_to_use": {"count": {}}} in crs["rule_action_override"]
    results = run_rules(output, {"SPOF_DEPLOY_16", "SPOF_DEPLOY_21"})
    assert results and all(r.passed for r in results), [str(r) for r in results if not r.passed]
