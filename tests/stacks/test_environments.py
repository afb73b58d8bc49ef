"""Per environment: which stacks exist, their backend and provider, and a snapshot.

The snapshot (tests/snapshots/<env>.json) records every resource address and the
placement of every subnet. Construct ids are a contract: renaming one replaces a
real resource, and this test is where such a change shows up. Regenerate on
purpose with SPOFLESS_UPDATE_SNAPSHOTS=1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import PROJECT, resources

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
EXPECTED_STACKS = {
    "dev": ["dev-dns-cloudflare", "dev-dns-route53", "dev-dns-zone", "dev-security", "dev-us-east-1",
            "dev-us-east-1-gitops"],
    "staging": ["staging-dns-cloudflare", "staging-dns-route53", "staging-dns-zone", "staging-security",
                "staging-us-east-1", "staging-us-east-1-gitops", "staging-us-west-2", "staging-us-west-2-gitops"],
    "prod": ["prod-dns-cloudflare", "prod-dns-route53", "prod-dns-zone", "prod-security", "prod-us-east-1",
             "prod-us-east-1-gitops", "prod-us-west-2", "prod-us-west-2-gitops"],
}
REGIONAL = {env: [s for s in names if not s.endswith(("-security", "-gitops")) and "-dns-" not in s]
            for env, names in EXPECTED_STACKS.items()}


def test_a_stack_per_region_of_every_environment(stacks):
    assert sorted(stacks) == sorted(s for names in EXPECTED_STACKS.values() for s in names)


@pytest.mark.parametrize("env_name", sorted(EXPECTED_STACKS))
def test_each_regional_stack_targets_its_region_with_the_environment_tags(stacks, environments, env_name):
    # (gitops stacks: tests/stacks/test_gitops.py)
    env = environments[env_name]
    for region, stack_name in zip(env.regions.all, REGIONAL[env_name]):
        (provider,) = stacks[stack_name]["provider"]["aws"]
        assert provider["region"] == region.name
        assert provider["default_tags"] == [{"tags": env.all_tags}]
        assert provider["default_tags"][0]["tags"]["Environment"] == env_name
        (vpc,) = resources(stacks[stack_name], "aws_vpc").values()
        assert vpc["cidr_block"] == region.vpc_cidr


def test_dev_uses_a_relative_local_backend(stacks):
    backend = stacks["dev-us-east-1"]["terraform"]["backend"]
    assert backend == {"local": {"path": "../../../terraform.dev-us-east-1.tfstate"}}


@pytest.mark.parametrize("stack_name", ["prod-us-east-1", "prod-us-west-2", "staging-us-west-2"])
def test_s3_backend_is_encrypted_and_locked(stacks, environments, stack_name):
    s3 = stacks[stack_name]["terraform"]["backend"]["s3"]
    env = environments[stack_name.split("-")[0]]
    # the standby region's stacks keep state in the standby region (operable without the primary)
    standby = stack_name.endswith(env.regions.standby.name)
    assert s3["bucket"] == (env.backend.standby_bucket if standby else env.backend.bucket)
    assert s3["key"] == f"spofless/{env.name}/{stack_name}.tfstate"
    assert s3["region"] == (env.regions.standby.name if standby else env.regions.primary.name)
    assert s3["encrypt"] is True
    assert s3["use_lockfile"] is True


@pytest.mark.parametrize("stack_name", ["prod-us-east-1", "prod-us-west-2", "staging-us-east-1"])
def test_ha_environments_spread_over_three_azs_with_a_nat_gateway_each(stacks, stack_name):
    stack = stacks[stack_name]
    zones = {s["availability_zone"] for s in resources(stack, "aws_subnet").values()}
    assert len(zones) == 3
    nat_subnets = {n["subnet_id"] for n in resources(stack, "aws_nat_gateway").values()}
    assert len(nat_subnets) == 3


def test_dev_declares_its_single_nat_gateway(stacks, environments):
    assert environments["dev"].network.nat_gateway_per_az is False
    stack = stacks["dev-us-east-1"]
    assert len(resources(stack, "aws_nat_gateway")) == 1
    assert {s["availability_zone"] for s in resources(stack, "aws_subnet").values()} == {"us-east-1a", "us-east-1b"}


def test_output_holds_no_machine_specific_path(synth_dir):
    for path in synth_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()  # assets (the rotation function's zip) are binary
            assert str(PROJECT).encode() not in data and str(synth_dir).encode() not in data, path


def _snapshot(stacks: dict, names: list[str]) -> dict:
    snapshot = {}
    for name in names:
        stack = stacks[name]
        addresses = sorted(f"{rtype}.{rname}" for rtype, group in stack.get("resource", {}).items()
                           for rname in group)
        data = sorted(f"data.{rtype}.{rname}" for rtype, group in stack.get("data", {}).items()
                      for rname in group)
        subnets = {rname: f"{s['availability_zone']} {s['cidr_block']}"
                   for rname, s in sorted(resources(stack, "aws_subnet").items())}
        snapshot[name] = {"resources": addresses, "data": data, "subnets": subnets,
                          "outputs": sorted(stack.get("output", {}))}
    return snapshot


@pytest.mark.parametrize("env_name", sorted(EXPECTED_STACKS))
def test_resource_addresses_match_the_snapshot(stacks, env_name):
    actual = _snapshot(stacks, EXPECTED_STACKS[env_name])
    path = SNAPSHOTS / f"{env_name}.json"
    if os.environ.get("SPOFLESS_UPDATE_SNAPSHOTS") == "1":
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    elif not path.exists():  # never a silent pass: a new environment's snapshot is reviewed and committed
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
        pytest.fail(f"{path} was missing and has been written; review and commit it")
    expected = json.loads(path.read_text())
    for stack_name in expected:
        for key in ("resources", "data", "outputs"):
            gone = sorted(set(expected[stack_name][key]) - set(actual[stack_name][key]))
            new = sorted(set(actual[stack_name][key]) - set(expected[stack_name][key]))
            assert not gone and not new, (
                f"{stack_name} {key} changed: removed {gone}, added {new}. Renamed construct ids "
                f"replace real resources; if intended, rerun with SPOFLESS_UPDATE_SNAPSHOTS=1")
    assert actual == expected
