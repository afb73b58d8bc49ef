"""Tests for design-breaking one-line changes that used to pass the fast tests (issue 17, section 5).

Each test names the mutant it kills. They follow the environments, not today's values.
"""

from __future__ import annotations

import re

import pytest
import yaml

from modules.stacks import names
from policies.model.output import Output
from tests.conftest import resources


@pytest.fixture(scope="module")
def output(stacks):
    return Output(stacks)


def _regional(environments):
    return [(env, region) for env, config in sorted(environments.items()) for region in config.regions.all]


def test_every_failover_alias_evaluates_its_target_health(stacks, environments):
    """Mutant: evaluate_target_health False on the upper (name-to-name) aliases."""
    for env in environments:
        aliases = [r for r in resources(stacks[names.dns_route53(env)], "aws_route53_record").values() if r.get("alias")]
        assert aliases
        for record in aliases:
            assert record["alias"]["evaluate_target_health"] is True, record["name"]


def test_each_lb_health_check_probes_the_lb_its_record_answers_with(output, environments):
    """Mutant: a leaf record guarded by the health check of another load balancer."""
    for env in environments:
        stack = names.dns_route53(env)
        checks = output.resources(stack, "aws_route53_health_check")
        leaves = [r for r in output.resources(stack, "aws_route53_record").values()
                  if r.get("health_check_id") and "aws_lb" in str(r["alias"]["name"])]
        assert leaves
        for record in leaves:
            check = checks[re.search(r"aws_route53_health_check\.([^.]+)\.id", record["health_check_id"]).group(1)]
            (probed,) = output.refs(stack, check["fqdn"])
            (answered,) = output.refs(stack, record["alias"]["name"])
            assert (probed.stack, probed.address) == (answered.stack, answered.address), record["set_identifier"]


def test_the_control_plane_uses_the_private_subnet_of_every_az(stacks, environments):
    """Mutant: the cluster's vpc_config.subnet_ids taken from the public (or database) tier."""
    for env, region in _regional(environments):
        stack = stacks[names.regional(env, region.name)]
        (cluster,) = resources(stack, "aws_eks_cluster").values()
        subnets = resources(stack, "aws_subnet")
        used = [subnets[m] for m in re.findall(r"aws_subnet\.([^.]+)\.id", str(cluster["vpc_config"]["subnet_ids"]))]
        assert sorted(s["availability_zone"] for s in used) == sorted(region.zones)
        assert {s["tags"]["Tier"] for s in used} == {"private"}


def test_secrets_keep_a_recovery_window(stacks, environments):
    """Mutant: recovery_window_in_days 0 (a deleted secret is gone at once, with no undo)."""
    for env in environments:
        for secret in resources(stacks[names.security(env)], "aws_secretsmanager_secret").values():
            assert 7 <= secret["recovery_window_in_days"] <= 30


def test_cloudflare_records_are_dns_only_with_route53_ttls(stacks, environments):
    """Mutant: a Cloudflare record proxied (the origin's certificate and health checks break), or a
    TTL that differs from the one Route53 serves."""
    for env, config in environments.items():
        if not config.dns.cloudflare:
            continue
        for record in resources(stacks[names.dns_cloudflare(env)], "cloudflare_dns_record").values():
            assert record.get("proxied") is False, record["name"]
        for balancer in resources(stacks[names.dns_cloudflare(env)], "cloudflare_load_balancer").values():
            assert balancer["proxied"] is False
            ttl = next(r.ttl for r in config.dns.records if r.target == "platform"
                       and names_match(r.name, config.domain, balancer["name"]))
            assert balancer["ttl"] == ttl


def names_match(name: str, domain: str, fqdn: str) -> bool:
    return (domain if name == "@" else f"{name}.{domain}") == fqdn.rstrip(".")


def test_argocd_pulls_from_the_git_host_the_knob_names(environments, tmp_path):
    """Mutant: the ArgoCD Applications' repoURL taken from GitHub whatever gitops.git_host says."""
    from environments.schema import GitopsConfig
    from modules.app import synthesize

    env = next(c for c in environments.values() if c.gitops.sources)
    for host in ("github", "gitlab"):
        gitops = GitopsConfig.model_validate({**env.gitops.model_dump(), "git_host": host})
        outdir = tmp_path / host / "cdktf.out"
        synthesize([env.model_copy(update={"gitops": gitops})], outdir)
        stack = Output.load(outdir).stacks[names.gitops(env.name, env.regions.primary.name)]
        (apps,) = [r for r in resources(stack, "helm_release").values() if r["chart"] == "argocd-apps"]
        urls = {a["source"]["repoURL"] for a in yaml.safe_load(apps["values"][0])["applications"].values()}
        assert urls == {getattr(s, host) for s in env.gitops.sources}


def test_a_minimal_environment_gets_the_highly_available_defaults(tmp_path):
    """Mutants: schema defaults flipped to the cheaper, less available value (one NAT gateway,
    fewer AZs, a public API, no spot diversity, a shorter key deletion window)."""
    from environments.loader import load_file

    path = tmp_path / "minimal.yaml"
    path.write_text("name: minimal\ndomain: example.org\naccount_id: '111122223333'\n"
                    "regions:\n  primary: {name: us-east-1, vpc_cidr: 10.0.0.0/16}\n"
                    "  standby: {name: us-west-2, vpc_cidr: 10.1.0.0/16}\n"
                    "eks:\n  deployer_role_arn: arn:aws:iam::111122223333:role/deployer\n")
    config = load_file(path)
    assert config.network.nat_gateway_per_az is True
    assert len(config.regions.primary.zones) == len(config.regions.standby.zones) == 3
    assert config.eks.public_endpoint_cidrs == () and config.eks.deployer_access == "in-vpc"
    assert len(set(config.eks.spot_instance_types)) >= 2
    assert config.eks.support_type == "STANDARD"
    assert config.load_balancing.health_check.interval_seconds * config.load_balancing.health_check.unhealthy_threshold <= 30
    assert config.gitops.active in ("argocd", "flux")


def _ref(value: str) -> str:
    """``${aws_x.name.id}`` -> ``name``."""
    return re.fullmatch(r"\$\{[a-z0-9_]+\.([^.]+)\.[a-z_]+\}", value).group(1)


def test_each_az_leaves_through_its_own_nat_gateway(stacks, environments):
    """Mutant: every private route table's default route to the first AZ's NAT gateway (with
    nat_gateway_per_az, that AZ's outage would cut every AZ's egress)."""
    checked = 0
    for env, region in _regional(environments):
        stack = stacks[names.regional(env, region.name)]
        subnets = resources(stack, "aws_subnet")
        gateways = resources(stack, "aws_nat_gateway")
        tables: dict[str, set[str]] = {}
        for association in resources(stack, "aws_route_table_association").values():
            tables.setdefault(_ref(association["route_table_id"]), set()).add(
                subnets[_ref(association["subnet_id"])]["availability_zone"])
        for route in resources(stack, "aws_route").values():
            if "nat_gateway_id" not in route:
                continue
            gateway_zone = subnets[_ref(gateways[_ref(route["nat_gateway_id"])]["subnet_id"])]["availability_zone"]
            served = tables[_ref(route["route_table_id"])]
            if environments[env].network.nat_gateway_per_az:
                assert served == {gateway_zone}, (env, region.name, served, gateway_zone)
                checked += 1
            else:
                assert len(gateways) == 1
    assert checked, "no environment has a NAT gateway per AZ: nothing was checked"
