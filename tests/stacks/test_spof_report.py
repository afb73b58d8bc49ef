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
