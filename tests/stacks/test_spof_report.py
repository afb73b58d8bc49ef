"""SPOF report: computed from the synthesized resources, with series/parallel availability."""

from __future__ import annotations

import pytest

from tests.topology import ENVIRONMENTS, SINGLE_REGION, each, environments_where, widest
from policies.model.output import Output
from tooling.analysis.spof_report import FIGURES, analyse, parallel, report, series

# zero-SPOF by configuration: a standby region and a second DNS provider
ZERO_SPOF = environments_where(lambda env: env.regions.standby is not None and env.dns.cloudflare is not None)


def test_parallel_and_series_combine_availability():
    assert parallel([0.99, 0.99]) == pytest.approx(0.9999)
    assert series([0.99, 0.99]) == pytest.approx(0.9801)
    assert parallel([]) == 0.0


@pytest.mark.parametrize("env_name", each(ZERO_SPOF, none="no environment has both a standby region and "
                                                            "dns.cloudflare"))
def test_two_region_environments_with_two_dns_providers_have_no_single_point_of_failure(synth_dir, env_name):
    env = ENVIRONMENTS[env_name]
    text, undeclared = report(synth_dir, env_name)
    assert undeclared == 0
    rows = {line.split()[0]: line for line in text.splitlines()[2:9]}
    assert "route53 + cloudflare" in rows["DNS"] and rows["DNS"].rstrip().endswith("none")
    assert "3 LBs per region" in text and "ON_DEMAND+SPOT groups per region" in text
    keys, secrets = len(env.security.keys), len(env.security.secrets)
    assert f"{keys} keys, {keys} replicas" in text and f"{secrets} secrets, {secrets} replicated" in text


@pytest.mark.parametrize("env_name", each(ZERO_SPOF, none="no environment has both a standby region and "
                                                            "dns.cloudflare"))
def test_request_path_combines_dns_with_either_region(synth_dir, env_name):
    import yaml

    figures = yaml.safe_load(FIGURES.read_text())
    tiers, overall, declared = analyse(Output.load(synth_dir), env_name, figures)
    region = series([parallel([figures["load_balancer"]] * 3), figures["eks_control_plane"],
                     parallel([figures["data_plane"]] * 2)])
    assert overall == pytest.approx(series([parallel([figures["dns"]] * 2), parallel([region, region])]))
    assert declared is None


@pytest.mark.parametrize("env_name", each(SINGLE_REGION, none="every environment has a standby region"))
def test_single_region_shows_as_a_declared_exception(synth_dir, env_name):
    text, undeclared = report(synth_dir, env_name)
    assert undeclared == 0
    assert "declared: region" in text
    assert f"declared exception: {ENVIRONMENTS[env_name].regions.single_region_reason}" in text


def test_an_environment_without_its_standby_shows_undeclared_spofs(tmp_path):
    from modules.app import synthesize

    env = widest(lambda env: env.regions.standby is not None)
    if env is None:
        pytest.skip("no environment has a standby region to take away")
    synthesize([env.model_copy(update={"regions": env.regions.model_copy(update={"standby": None})})],
               tmp_path / "cdktf.out")
    text, undeclared = report(tmp_path / "cdktf.out", env.name)
    assert undeclared >= 5
    assert "SPOF: one region" in text


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_the_security_section_names_exactly_who_reaches_tokens_load_balancers_and_clusters(synth_dir, env_name):
    """Derived from the configuration: per region, the operator's role reads the Git tokens and the store
    serves the engines' namespaces; the controller's role changes only its region's three target groups;
    a push reaches the workload namespace only."""
    from policies.model.access import access

    env = ENVIRONMENTS[env_name]
    regions = [r.name for r in env.regions.all]
    found = access(Output.load(synth_dir), env_name)
    tokens = sorted(f"{env_name}/{s}" for s in (env.gitops.github_token_secret, env.gitops.gitlab_token_secret))
    roles = [g for g in found.git_tokens if g.how.startswith("Pod Identity")]
    assert sorted(g.how for g in roles) == sorted(f"Pod Identity external-secrets/external-secrets in {env_name}-{r}"
                                                  for r in regions)
    assert all(g.reach == ", ".join(tokens) for g in roles)
    stores = [g for g in found.git_tokens if g.how.startswith("ClusterSecretStore")]
    assert len(stores) == len(regions) and {g.who for g in stores} == {"namespaces argocd, flux-system"}
    assert len(found.git_tokens) == 2 * len(regions)  # nothing else: not the rotation function
    controllers = [g for g in found.load_balancers if g.how.startswith("Pod Identity")]
    assert len(controllers) == len(regions) and all(g.reach.count("aws_lb_target_group.") == 3 and "*" not in g.reach
                                                    for g in controllers)
    bindings = [g for g in found.load_balancers if g.how.startswith("TargetGroupBinding")]
    assert {g.who for g in bindings} == {"namespace ingress"} and len(bindings) == len(regions)
    pushes = [g for g in found.clusters if g.who.startswith("a push to")]
    assert len(pushes) == len(regions) * len(env.gitops.sources) * 3  # Argo CD on one host, Flux on both
    assert not any("cluster-wide" in g.reach for g in pushes)


def test_the_security_section_shows_the_wider_reach_of_the_output_from_before_the_narrowing():
    from pathlib import Path

    from policies.model.access import access

    before = Path(__file__).resolve().parents[1] / "fixtures" / "deploy" / "privilege-before"
    found = access(Output.load(before), "prod")
    assert any(g.who == "prod-secret-rotation" for g in found.git_tokens)
    assert any(g.who.startswith("every namespace") for g in found.git_tokens)
    assert any(g.who == "any namespace editor" for g in found.load_balancers)
    assert any("AuthorizeSecurityGroupIngress" in g.reach for g in found.load_balancers)
    assert any("cluster-wide" in g.reach for g in found.clusters)
