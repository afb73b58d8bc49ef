"""SPOF report: computed from the synthesized resources; availability from the drill and sourced failure rates."""

from __future__ import annotations

import pytest

from tests.topology import ENVIRONMENTS, SINGLE_REGION, each, environments_where, widest
from policies.model.output import Output
from tooling.analysis.spof_report import (YEAR_SECONDS, availability, expected_downtime, load_rates, report,
                                          report_data)

# zero-SPOF by configuration: a standby region and a second DNS provider
ZERO_SPOF = environments_where(lambda env: env.regions.standby is not None and env.dns.cloudflare is not None)


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


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_availability_is_each_single_failures_drilled_downtime_times_its_rate(synth_dir, env_name):
    from tooling.analysis.drill import drill

    rates = load_rates()
    played = drill(Output.load(synth_dir), [env_name])[env_name]
    expected = expected_downtime(played, rates)
    singles = [s for s in played if len(s.failed) == 1]
    assert [e.failure for e in expected] == [s.failed[0] for s in singles]
    for e, scenario in zip(expected, singles):
        rate = rates[scenario.failed[0].split(":", 1)[0]]
        assert e.per_year == rate["per_year"]
        survived = scenario.verdict == "survived"
        assert e.seconds == (scenario.downtime if survived else rate["lasts_s"])
    total = sum(rates[s.failed[0].split(":", 1)[0]]["per_year"] * e.seconds for s, e in zip(singles, expected))
    assert availability(expected) == pytest.approx(1 - total / YEAR_SECONDS)
    assert 0.99 < availability(expected) < 1  # never the 100 % a product of SLAs reaches


def test_a_standby_region_and_a_second_provider_buy_availability_a_declared_single_region_does_not(synth_dir):
    data = report_data(synth_dir)
    if not ZERO_SPOF or not SINGLE_REGION:
        pytest.skip("needs an environment of each kind")
    best = min(data[e]["availability"] for e in ZERO_SPOF)
    worst = max(data[e]["availability"] for e in SINGLE_REGION)
    assert best > worst
    for env in SINGLE_REGION:
        region = [e for e in data[env]["expected_downtime"] if e["failure"].startswith("region:")]
        assert region and not region[0]["taken_over"] and region[0]["seconds"] == load_rates()["region"]["lasts_s"]


def test_every_failure_the_drill_plays_has_a_rate_with_its_source(synth_dir):
    from tooling.analysis.drill import drill

    kinds = {s.failed[0].split(":", 1)[0] for played in drill(Output.load(synth_dir)).values() for s in played}
    rates = load_rates()
    assert kinds <= set(rates)
    assert all(r["per_year"] > 0 and r["lasts_s"] > 0 and len(r["source"]) > 40 for r in rates.values())
    with pytest.raises(KeyError, match="no rate for the drill's 'region' failures"):
        expected_downtime(drill(Output.load(synth_dir)).popitem()[1], {k: v for k, v in rates.items() if k != "region"})


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
