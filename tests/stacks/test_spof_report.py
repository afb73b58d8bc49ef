"""SPOF report: computed from the synthesized resources, with series/parallel availability."""

from __future__ import annotations

import pytest

from tooling.spof_report import FIGURES, analyse, load_environments, parallel, report, series


def test_parallel_and_series_combine_availability():
    assert parallel([0.99, 0.99]) == pytest.approx(0.9999)
    assert series([0.99, 0.99]) == pytest.approx(0.9801)
    assert parallel([]) == 0.0


def test_prod_has_no_single_point_of_failure(synth_dir):
    text, undeclared = report(synth_dir, "prod")
    assert undeclared == 0
    rows = {line.split()[0]: line for line in text.splitlines()[2:9]}
    assert "route53 + cloudflare" in rows["DNS"] and rows["DNS"].rstrip().endswith("none")
    assert "3 LBs per region" in text and "ON_DEMAND+SPOT groups per region" in text
    assert "4 keys, 4 replicas" in text and "3 secrets, 3 replicated" in text


def test_prod_request_path_combines_dns_with_either_region(synth_dir):
    import yaml

    figures = yaml.safe_load(FIGURES.read_text())
    tiers, overall, declared = analyse(load_environments(synth_dir)["prod"], figures)
    region = series([parallel([figures["load_balancer"]] * 3), figures["eks_control_plane"],
                     parallel([figures["data_plane"]] * 2)])
    assert overall == pytest.approx(series([parallel([figures["dns"]] * 2), parallel([region, region])]))
    assert declared is None


def test_dev_single_region_shows_as_a_declared_exception(synth_dir):
    text, undeclared = report(synth_dir, "dev")
    assert undeclared == 0
    assert "declared: region" in text
    assert "declared exception: dev: cost." in text


def test_prod_without_its_standby_shows_undeclared_spofs(environments, tmp_path):
    from modules.app import synthesize

    prod = environments["prod"]
    synthesize([prod.model_copy(update={"regions": prod.regions.model_copy(update={"standby": None})})],
               tmp_path / "cdktf.out")
    text, undeclared = report(tmp_path / "cdktf.out", "prod")
    assert undeclared >= 5
    assert "SPOF: one region" in text
