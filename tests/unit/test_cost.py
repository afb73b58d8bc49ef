"""The monthly cost floor: counted from the output, priced from sourced list prices, in the docs as computed."""

from __future__ import annotations

import re

import pytest

from tests.topology import ENVIRONMENTS, LOAD_BALANCERS, regions
from tooling.analysis import cost

PRICES = cost.Prices.load()


@pytest.fixture(scope="module")
def estimate(synth_dir):
    return cost.estimate(synth_dir)


def _lines(estimate, env: str, item: str) -> list[dict]:
    return [line for line in estimate["environments"][env]["lines"] if line["item"].startswith(item)]


def _quantity(estimate, env: str, item: str) -> float:
    return sum(line["quantity"] for line in _lines(estimate, env, item))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_what_is_priced_is_what_the_configuration_asks_for(estimate, env):
    config = ENVIRONMENTS[env]
    n_regions = len(regions(config))
    assert _quantity(estimate, env, "EKS control plane") == n_regions
    aurora = _lines(estimate, env, "Aurora PostgreSQL")
    assert sum(line["quantity"] for line in aurora) == config.data.aurora.instances * n_regions
    assert {line["item"] for line in aurora} == {f"Aurora PostgreSQL {config.data.aurora.instance_class}"}
    cache = _lines(estimate, env, "ElastiCache")
    assert sum(line["quantity"] for line in cache) == (config.data.cache.replicas + 1) * n_regions
    assert {line["item"] for line in cache} == {f"ElastiCache {config.data.cache.engine} {config.data.cache.node_type}"}
    assert _quantity(estimate, env, "Application Load Balancer") == 2 * n_regions
    assert _quantity(estimate, env, "Network Load Balancer") == (len(LOAD_BALANCERS) - 2) * n_regions
    assert _quantity(estimate, env, "WAF web ACL") == n_regions
    assert _quantity(estimate, env, "Route53 hosted zone") == 1
    assert _quantity(estimate, env, "Cloudflare Load Balancing subscription") == 1


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_line_is_quantity_times_a_sourced_price_and_the_totals_add_up(estimate, env):
    figures = estimate["environments"][env]
    for line in figures["lines"]:
        hours = PRICES.hours if line["unit"].endswith("-hour") else 1
        assert line["monthly"] == round(line["quantity"] * line["unit_price"] * hours, 2), line
    assert figures["monthly"] == pytest.approx(sum(line["monthly"] for line in figures["lines"]), abs=0.01)
    assert figures["monthly"] == pytest.approx(sum(figures["by_category"].values()), abs=0.05)
    assert any("Aurora storage" in item for item in figures["usage_based"])


def test_every_price_names_its_source_and_the_file_its_date():
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", PRICES.date)
    for key, entry in PRICES.items.items():
        assert entry.get("source") and "usd" in entry, key
        values = entry["usd"].values() if isinstance(entry["usd"], dict) else [entry["usd"]]
        assert all(float(v) > 0 for v in values), key


def test_a_resource_without_a_price_is_named_not_guessed(synth_dir):
    document = {"date": PRICES.date, "prices": {k: v for k, v in PRICES.items.items() if k != "nat_gateway_hour"}}
    with pytest.raises(cost.PriceError, match="no price for nat_gateway_hour"):
        cost.estimate(synth_dir, prices=cost.Prices(document))


def test_the_cost_table_in_the_docs_is_the_computed_one(estimate):
    text = (cost.PROJECT / "docs" / "real-account.md").read_text()
    table = cost.markdown(estimate, detail=False).strip()
    assert table in text, "docs/real-account.md: refresh the cost table with `spofless cost --format markdown`"


def test_the_command_writes_its_reports(synth_dir, tmp_path, capsys):
    assert cost.main(["--outdir", str(synth_dir), "--reports", str(tmp_path)]) == 0
    assert "monthly idle floor" in capsys.readouterr().out
    assert (tmp_path / "cost.md").read_text().startswith("# Monthly cost")
    assert cost.main(["--outdir", str(tmp_path / "nothing")]) == 2
