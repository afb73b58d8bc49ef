"""DNS: one record set served by Route53 and Cloudflare; the failover tree; the consistency check."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from environments.schema import record_fqdn
from tooling.analysis.dns_check import check, cloudflare_records, route53_records
from modules.failover import inactive_alarm_name
from modules.stacks.names import physical
from tests.conftest import PROJECT, resources
from tests.topology import (ENVIRONMENTS, LOAD_BALANCERS, MULTI_REGION, SINGLE_REGION, WITH_CLOUDFLARE,
                            dns_cloudflare_stack, dns_route53_stack, dns_zone_stack, each, regional_stack, widest)


def _platform_names(env) -> list[str]:
    """The FQDNs of the records that send traffic to the load balancers (``target: platform``)."""
    return sorted(record_fqdn(r.name, env.domain) for r in env.dns.records if r.target == "platform")


def _platform_records(env_names) -> list:
    return [pytest.param(name, fqdn, id=f"{name}:{fqdn}")
            for name in env_names for fqdn in _platform_names(ENVIRONMENTS[name])]


def _records_by_name(stack: dict) -> dict[str, dict[str, dict]]:
    by_name: dict[str, dict[str, dict]] = {}
    for record in resources(stack, "aws_route53_record").values():
        if "set_identifier" in record:
            by_name.setdefault(record["name"], {})[record["failover_routing_policy"]["type"]] = record
    return by_name


def _health(stack: dict) -> dict[str, dict]:
    return {f"${{aws_route53_health_check.{n}.id}}": h for n, h in resources(stack, "aws_route53_health_check").items()}


def _lb_output(stacks: dict, reference: str) -> str:
    """Follow a cross-stack reference to the regional stack output it reads, e.g. 'alb_primary'."""
    match = re.search(r"cross-stack-reference-input-([a-z0-9-]+)\.outputs\.([^}]+)\}", reference)
    source, output = match.groups()
    value = stacks[source]["output"][output]["value"]
    (lb_name,) = re.findall(r"aws_lb\.([^.]+)\.", value)
    return resources(stacks[source], "aws_lb")[lb_name]["tags"]["Role"] + "@" + source


@pytest.mark.parametrize("env_name, fqdn", each(_platform_records(MULTI_REGION), arity=2,
                                                none="no environment with a standby region has a target: platform record"))
def test_failover_tree_primary_region_then_standby_alb_alb_nlb(stacks, env_name, fqdn):
    env = ENVIRONMENTS[env_name]
    primary, standby = env.regions.primary.name, env.regions.standby.name
    stack = stacks[dns_route53_stack(env_name)]
    records, checks = _records_by_name(stack), _health(stack)
    top = records[fqdn]
    assert top["PRIMARY"]["alias"]["name"] == f"{primary}.failover.{fqdn}"
    assert top["SECONDARY"]["alias"]["name"] == f"{standby}.failover.{fqdn}"
    region_checks = {}
    for role, region in (("PRIMARY", primary), ("SECONDARY", standby)):
        # healthy while the region serves AND the failover plan has not made another region active: both
        # children of the region's "active" check (its RegionInactive alarm, read as last known)
        active = checks[top[role]["health_check_id"]]
        assert active["type"] == "CALCULATED" and active["child_health_threshold"] == 2
        serving, inactive = (checks[c] for c in active["child_healthchecks"])
        assert inactive["type"] == "CLOUDWATCH_METRIC" and inactive["cloudwatch_alarm_region"] == region
        assert inactive["cloudwatch_alarm_name"] == inactive_alarm_name(regional_stack(env_name, region))
        assert inactive["insufficient_data_health_status"] == "LastKnownStatus"
        region_checks[region] = serving
        assert top[role]["alias"]["evaluate_target_health"] is True  # the region's branch counts too
        if env.observability.canary_minutes:
            # the region's canary alarm, in the region it watches, and the branch through evaluate-target-health
            assert region_checks[region]["type"] == "CLOUDWATCH_METRIC"
            assert region_checks[region]["cloudwatch_alarm_region"] == region
            assert region_checks[region]["cloudwatch_alarm_name"] == f"{regional_stack(env_name, region)}-canary"
            # no data (a stopped canary, a lost region) is unhealthy; a changed alarm replaces the check
            assert region_checks[region]["insufficient_data_health_status"] == "Unhealthy"
            assert f"period={env.observability.canary_minutes * 60};" in region_checks[region]["triggers"]["alarm"]
        else:
            assert region_checks[region]["type"] == "CALCULATED" and region_checks[region]["child_health_threshold"] == 1
            assert len(region_checks[region]["child_healthchecks"]) == 3
    assert region_checks[primary] is not region_checks[standby]
    for region in (primary, standby):
        regional = regional_stack(env_name, region)
        level = records[f"{region}.failover.{fqdn}"]
        assert _lb_output(stacks, level["PRIMARY"]["alias"]["name"]) == f"alb-primary@{regional}"
        assert level["SECONDARY"]["alias"]["name"] == f"backup.{region}.failover.{fqdn}"
        backup = records[f"backup.{region}.failover.{fqdn}"]
        assert _lb_output(stacks, backup["PRIMARY"]["alias"]["name"]) == f"alb-secondary@{regional}"
        assert _lb_output(stacks, backup["SECONDARY"]["alias"]["name"]) == f"nlb@{regional}"
        for record in (level["PRIMARY"], backup["PRIMARY"], backup["SECONDARY"]):
            check_ = checks[record["health_check_id"]]  # each LB guarded by its own HTTPS check
            assert check_["type"] == "HTTPS" and check_["resource_path"] == env.dns.health_check.path
            # and the region's calculated check is built from this region's LB checks, not the other's
            if not env.observability.canary_minutes:
                assert record["health_check_id"] in region_checks[region]["child_healthchecks"]
            assert record["alias"]["evaluate_target_health"] is True


@pytest.mark.parametrize("env_name, fqdn", each(_platform_records(SINGLE_REGION), arity=2,
                                                none="no single-region environment has a target: platform record"))
def test_single_region_environments_point_at_their_region_without_region_failover(stacks, env_name, fqdn):
    stack = stacks[dns_route53_stack(env_name)]
    plain = [r for r in resources(stack, "aws_route53_record").values()
             if r["name"] == fqdn and "set_identifier" not in r]
    assert plain and plain[0]["alias"]["name"] == f"{ENVIRONMENTS[env_name].regions.primary.name}.failover.{fqdn}"


@pytest.mark.parametrize("env_name", each(WITH_CLOUDFLARE, none="no environment configures dns.cloudflare"))
def test_both_providers_carry_the_same_static_records(stacks, env_name):
    route53 = route53_records(stacks[dns_route53_stack(env_name)])
    cloudflare = cloudflare_records(stacks[dns_cloudflare_stack(env_name)])
    assert route53 == cloudflare
    assert len(route53) == len([r for r in ENVIRONMENTS[env_name].dns.records if r.target is None])


@pytest.mark.parametrize("env_name, fqdn", each(_platform_records(WITH_CLOUDFLARE), arity=2,
                                                none="no environment with dns.cloudflare has a target: platform record"))
def test_cloudflare_load_balancer_fails_over_in_the_same_order(stacks, env_name, fqdn):
    env = ENVIRONMENTS[env_name]
    stack = stacks[dns_cloudflare_stack(env_name)]
    pools = {f"${{cloudflare_load_balancer_pool.{n}.id}}": p for n, p in resources(stack, "cloudflare_load_balancer_pool").items()}
    (lb,) = [b for b in resources(stack, "cloudflare_load_balancer").values() if b["name"] == fqdn]
    assert lb["steering_policy"] == "off" and lb["proxied"] is False
    order = [pools[p]["name"] for p in lb["default_pools"]]
    # Route53's order: the primary region's ALB, second ALB, NLB, then the standby region's
    assert order == [physical(f"{env_name}-{region.name}-{key}-{fqdn.replace('.', '-')}", 64)
                     for region in env.regions.all for key in LOAD_BALANCERS]
    assert lb["fallback_pool"] == lb["default_pools"][-1]
    monitors = resources(stack, "cloudflare_load_balancer_monitor")
    for pool in pools.values():
        monitor = monitors[re.search(r"monitor\.([^.]+)\.id", pool["monitor"]).group(1)]
        assert monitor["type"] == "https" and monitor["path"] == env.dns.health_check.path
    settings = list(resources(stack, "cloudflare_zone_dns_settings").values())
    if (env.dns.cloudflare.zone_name or env.domain) == env.domain:
        # the environment's own zone co-serves with Route53
        assert [s["multi_provider"] for s in settings] == [True]
    else:  # records kept in a parent zone: that zone's settings are not this environment's to change
        assert settings == []
    assert "api_token" not in json.dumps(stack["provider"])


def test_consistency_command_passes_on_the_real_stacks(synth_dir):
    result = subprocess.run([sys.executable, "-m", "tooling.analysis.dns_check", "--outdir", str(synth_dir)],
                            cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    summary, parity = result.stdout.strip().splitlines()
    assert summary == f"dns consistency: {len(WITH_CLOUDFLARE)} environment(s) compared, 0 difference(s)"
    assert parity.startswith("dns parity (name servers, ACM validation records): ") and parity.endswith(
        " check(s), 0 problem(s)") and not parity.endswith(": 0 check(s), 0 problem(s)")


def _breakable(env) -> dict[str, list]:
    """The records the broken fixture below changes at Cloudflare, by type, from the config: every MX,
    every TXT whose TTL is not already 60, every CAA that lets letsencrypt.org issue."""
    records = env.dns.records
    return {"MX": [r for r in records if r.type == "MX"],
            "TXT": [r for r in records if r.type == "TXT" and r.ttl != 60],
            "CAA": [r for r in records if r.type == "CAA" and any('"letsencrypt.org"' in v for v in r.values)]}


# the environment to break: the widest one that has each kind of record to break
BREAKABLE = next((name for name in sorted(WITH_CLOUDFLARE, key=lambda n: (-len(ENVIRONMENTS[n].regions.all), n))
                  if all(_breakable(ENVIRONMENTS[name]).values())), None)


@pytest.mark.skipif(BREAKABLE is None, reason="no environment with dns.cloudflare has MX, TXT and letsencrypt CAA records")
def test_consistency_command_catches_a_broken_fixture(synth_dir, tmp_path):
    env = ENVIRONMENTS[BREAKABLE]
    broken = _breakable(env)
    # GIVEN an environment's DNS stacks where Cloudflare lost the MX records, changed a TTL and a CAA value
    for name in (dns_route53_stack(env.name), dns_cloudflare_stack(env.name)):
        shutil.copytree(synth_dir / "stacks" / name, tmp_path / "stacks" / name)
    path = tmp_path / "stacks" / dns_cloudflare_stack(env.name) / "cdk.tf.json"
    document = json.loads(path.read_text())
    records = document["resource"]["cloudflare_dns_record"]
    for name in [n for n, r in records.items() if r["type"] == "MX"]:
        del records[name]
    for record in records.values():
        if record["type"] == "TXT":
            record["ttl"] = 60
        if record["type"] == "CAA" and record["data"]["value"] == "letsencrypt.org":
            record["data"]["value"] = "evil-ca.example"
    path.write_text(json.dumps(document))
    # WHEN the check runs THEN it names each difference and exits 1
    compared, differences = check(tmp_path)
    assert compared == [env.name]
    expected = sorted({(record_fqdn(r.name, env.domain), rtype) for rtype, changed in broken.items() for r in changed})
    assert sorted((d.fqdn, d.type) for d in differences) == expected
    result = subprocess.run([sys.executable, "-m", "tooling.analysis.dns_check", "--outdir", str(tmp_path)],
                            cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 1
    for mx in broken["MX"]:
        values = sorted({value.text() for value in mx.parsed})
        assert (f"{env.name}: {record_fqdn(mx.name, env.domain)} MX\n    route53:    ttl {mx.ttl}, values {values}\n"
                "    cloudflare: missing") in result.stdout
    assert f"{len(expected)} difference(s)" in result.stdout


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_route53_is_the_aws_only_dns_stack_and_cloudflare_stays_out_of_aws_stacks(stacks, env_name):
    assert set(stacks[dns_route53_stack(env_name)]["terraform"]["required_providers"]) == {"aws"}
    if ENVIRONMENTS[env_name].dns.cloudflare:
        assert set(stacks[dns_cloudflare_stack(env_name)]["terraform"]["required_providers"]) == {"cloudflare"}


@pytest.mark.skipif(widest(lambda env: env.dns.cloudflare is not None) is None,
                    reason="no environment configures dns.cloudflare")
def test_consistency_command_catches_validation_records_missing_at_cloudflare(synth_dir, tmp_path):
    env = widest(lambda env: env.dns.cloudflare is not None)
    # GIVEN the output where Cloudflare lost one environment's ACM validation records
    shutil.copytree(synth_dir / "stacks", tmp_path / "stacks")
    path = tmp_path / "stacks" / dns_cloudflare_stack(env.name) / "cdk.tf.json"
    document = json.loads(path.read_text())
    records = document["resource"]["cloudflare_dns_record"]
    for name in [n for n in records if "acm-validation" in n]:
        del records[name]
    path.write_text(json.dumps(document))
    # WHEN dns-check runs THEN it names the records and exits 1
    result = subprocess.run([sys.executable, "-m", "tooling.analysis.dns_check", "--outdir", str(tmp_path)],
                            cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 1
    assert f"SPOF_DEPLOY_11 FAILED on {dns_zone_stack(env.name)}: ACM validation record" in result.stdout
    assert "exists only in Route53" in result.stdout
