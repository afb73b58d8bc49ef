"""DNS: one record set served by Route53 and Cloudflare; the failover tree; the consistency check."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from modules.dns.consistency import check, cloudflare_records, route53_records
from tests.conftest import PROJECT, resources


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


@pytest.mark.parametrize("fqdn", ["app.platform.example.com", "platform.example.com"])
def test_prod_failover_tree_primary_region_then_standby_alb_alb_nlb(stacks, fqdn):
    stack = stacks["prod-dns-route53"]
    records, checks = _records_by_name(stack), _health(stack)
    top = records[fqdn]
    assert top["PRIMARY"]["alias"]["name"] == f"us-east-1.failover.{fqdn}"
    assert top["SECONDARY"]["alias"]["name"] == f"us-west-2.failover.{fqdn}"
    region_checks = {}
    for role, region in (("PRIMARY", "us-east-1"), ("SECONDARY", "us-west-2")):
        region_checks[region] = checks[top[role]["health_check_id"]]
        assert region_checks[region]["type"] == "CALCULATED" and region_checks[region]["child_health_threshold"] == 1
        assert len(region_checks[region]["child_healthchecks"]) == 3
    assert region_checks["us-east-1"] is not region_checks["us-west-2"]
    for region in ("us-east-1", "us-west-2"):
        level = records[f"{region}.failover.{fqdn}"]
        assert _lb_output(stacks, level["PRIMARY"]["alias"]["name"]) == f"alb-primary@prod-{region}"
        assert level["SECONDARY"]["alias"]["name"] == f"backup.{region}.failover.{fqdn}"
        backup = records[f"backup.{region}.failover.{fqdn}"]
        assert _lb_output(stacks, backup["PRIMARY"]["alias"]["name"]) == f"alb-secondary@prod-{region}"
        assert _lb_output(stacks, backup["SECONDARY"]["alias"]["name"]) == f"nlb@prod-{region}"
        for record in (level["PRIMARY"], backup["PRIMARY"], backup["SECONDARY"]):
            check_ = checks[record["health_check_id"]]  # each LB guarded by its own HTTPS check
            assert check_["type"] == "HTTPS" and check_["resource_path"] == "/health/ready"
            # and the region's calculated check is built from this region's LB checks, not the other's
            assert record["health_check_id"] in region_checks[region]["child_healthchecks"]
            assert record["alias"]["evaluate_target_health"] is True


def test_single_region_dev_points_at_its_region_without_region_failover(stacks):
    stack = stacks["dev-dns-route53"]
    plain = [r for r in resources(stack, "aws_route53_record").values()
             if r["name"] == "app.dev.platform.example.com" and "set_identifier" not in r]
    assert plain and plain[0]["alias"]["name"] == "us-east-1.failover.app.dev.platform.example.com"


@pytest.mark.parametrize("env_name", ["dev", "staging", "prod"])
def test_both_providers_carry_the_same_static_records(stacks, environments, env_name):
    route53 = route53_records(stacks[f"{env_name}-dns-route53"])
    cloudflare = cloudflare_records(stacks[f"{env_name}-dns-cloudflare"])
    assert route53 == cloudflare
    assert len(route53) == len([r for r in environments[env_name].dns.records if r.target is None])


def test_cloudflare_load_balancer_fails_over_in_the_same_order(stacks):
    stack = stacks["prod-dns-cloudflare"]
    pools = {f"${{cloudflare_load_balancer_pool.{n}.id}}": p for n, p in resources(stack, "cloudflare_load_balancer_pool").items()}
    (lb,) = [l for l in resources(stack, "cloudflare_load_balancer").values() if l["name"] == "app.platform.example.com"]
    assert lb["steering_policy"] == "off" and lb["proxied"] is False
    order = [pools[p]["name"].split("-app-")[0] for p in lb["default_pools"]]
    assert order == ["prod-us-east-1-alb-primary", "prod-us-east-1-alb-secondary", "prod-us-east-1-nlb",
                     "prod-us-west-2-alb-primary", "prod-us-west-2-alb-secondary", "prod-us-west-2-nlb"]
    assert lb["fallback_pool"] == lb["default_pools"][-1]
    monitors = resources(stack, "cloudflare_load_balancer_monitor")
    for pool in pools.values():
        monitor = monitors[re.search(r"monitor\.([^.]+)\.id", pool["monitor"]).group(1)]
        assert monitor["type"] == "https" and monitor["path"] == "/health/ready"
    (settings,) = resources(stack, "cloudflare_zone_dns_settings").values()
    assert settings["multi_provider"] is True
    assert "api_token" not in json.dumps(stack["provider"])


def test_consistency_command_passes_on_the_real_stacks(synth_dir):
    result = subprocess.run([sys.executable, "-m", "modules.dns.consistency", "--outdir", str(synth_dir)],
                            cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    summary, parity = result.stdout.strip().splitlines()
    assert summary == "dns consistency: 3 environment(s) compared, 0 difference(s)"
    assert parity.startswith("dns parity (name servers, ACM validation records): ") and parity.endswith(
        " check(s), 0 problem(s)") and not parity.endswith(": 0 check(s), 0 problem(s)")


def test_consistency_command_catches_a_broken_fixture(synth_dir, tmp_path):
    # GIVEN prod's DNS stacks where Cloudflare lost the MX record, changed a TTL and a CAA value
    for name in ("prod-dns-route53", "prod-dns-cloudflare"):
        shutil.copytree(synth_dir / "stacks" / name, tmp_path / "stacks" / name)
    path = tmp_path / "stacks" / "prod-dns-cloudflare" / "cdk.tf.json"
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
    assert compared == ["prod"]
    assert sorted((d.fqdn, d.type) for d in differences) == [
        ("platform.example.com", "CAA"), ("platform.example.com", "MX"), ("platform.example.com", "TXT")]
    result = subprocess.run([sys.executable, "-m", "modules.dns.consistency", "--outdir", str(tmp_path)],
                            cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "prod: platform.example.com MX\n    route53:    ttl 3600, values ['10 mail.example.net']\n" \
           "    cloudflare: missing" in result.stdout
    assert "3 difference(s)" in result.stdout


def test_route53_is_the_aws_only_dns_stack_and_cloudflare_stays_out_of_aws_stacks(stacks):
    assert set(stacks["prod-dns-route53"]["terraform"]["required_providers"]) == {"aws"}
    assert set(stacks["prod-dns-cloudflare"]["terraform"]["required_providers"]) == {"cloudflare"}


def test_consistency_command_catches_validation_records_missing_at_cloudflare(synth_dir, tmp_path):
    # GIVEN prod's output where Cloudflare lost the ACM validation records
    shutil.copytree(synth_dir / "stacks", tmp_path / "stacks")
    path = tmp_path / "stacks" / "prod-dns-cloudflare" / "cdk.tf.json"
    document = json.loads(path.read_text())
    records = document["resource"]["cloudflare_dns_record"]
    for name in [n for n in records if "acm-validation" in n]:
        del records[name]
    path.write_text(json.dumps(document))
    # WHEN dns-check runs THEN it names the records and exits 1
    result = subprocess.run([sys.executable, "-m", "modules.dns.consistency", "--outdir", str(tmp_path)],
                            cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "SPOF_DEPLOY_11 FAILED on prod-dns-zone: ACM validation record" in result.stdout
    assert "exists only in Route53" in result.stdout
