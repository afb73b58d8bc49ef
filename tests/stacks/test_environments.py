"""Per environment: which stacks exist, their backend and provider, and a snapshot.

The snapshot (tests/snapshots/<env>.json) records every resource address and the
placement of every subnet. Construct ids are a contract: renaming one replaces a
real resource, and this test is where such a change shows up. Regenerate on
purpose with SPOFLESS_UPDATE_SNAPSHOTS=1.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT, resources
from tests.topology import ACCOUNT_STACKS, ALL_STACKS, ENVIRONMENTS, REGIONAL, STACKS, each, env_of, expected_stacks, in_standby_region

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
UPDATE_SNAPSHOTS = "SPOFLESS_UPDATE_SNAPSHOTS"


def _stacks_where(predicate) -> list[str]:
    return [stack for stack, env in STACKS.items() if predicate(env)]


def test_a_stack_per_region_of_every_environment(stacks):
    assert sorted(stacks) == ALL_STACKS


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_each_regional_stack_targets_its_region_with_the_environment_tags(stacks, stack_name):
    # (gitops stacks: tests/stacks/test_gitops.py)
    placement = REGIONAL[stack_name]
    env, region = placement.env, placement.region
    (provider,) = stacks[stack_name]["provider"]["aws"]
    assert provider["region"] == region.name
    assert provider["default_tags"] == [{"tags": env.all_tags}]
    assert provider["default_tags"][0]["tags"]["Environment"] == env.name
    (vpc,) = resources(stacks[stack_name], "aws_vpc").values()
    assert vpc["cidr_block"] == region.vpc_cidr


@pytest.mark.parametrize("stack_name", each(_stacks_where(lambda env: env.backend.type == "local"),
                                            none="no environment keeps its state in a local backend"))
def test_local_backend_environments_use_a_relative_path(stacks, stack_name):
    backend = stacks[stack_name]["terraform"]["backend"]
    assert backend == {"local": {"path": f"../../../terraform.{stack_name}.tfstate"}}


@pytest.mark.parametrize("stack_name", each(_stacks_where(lambda env: env.backend.type == "s3"),
                                            none="no environment keeps its state in an s3 backend"))
def test_s3_backend_is_encrypted_and_locked(stacks, stack_name):
    s3 = stacks[stack_name]["terraform"]["backend"]["s3"]
    env = env_of(stack_name)
    # the standby region's stacks keep state in the standby region (operable without the primary)
    standby = in_standby_region(stack_name)
    assert s3["bucket"] == (env.backend.standby_bucket if standby else env.backend.bucket)
    assert s3["key"] == f"{env.backend.key_prefix}/{env.name}/{stack_name}.tfstate"
    assert s3["region"] == (env.regions.standby.name if standby else env.backend.region or env.regions.primary.name)
    assert s3["encrypt"] is True
    if env.backend.lock == "lockfile":
        assert s3["use_lockfile"] is True
    else:
        assert s3["dynamodb_table"] == env.backend.dynamodb_table and "use_lockfile" not in s3


@pytest.mark.parametrize("stack_name", each(
    [s for s, p in REGIONAL.items() if p.env.network.nat_gateway_per_az],
    none="no environment has network.nat_gateway_per_az: true"))
def test_ha_environments_spread_over_their_azs_with_a_nat_gateway_each(stacks, stack_name):
    stack = stacks[stack_name]
    region = REGIONAL[stack_name].region
    subnets = resources(stack, "aws_subnet")
    assert {s["availability_zone"] for s in subnets.values()} == set(region.zones)
    nat_zones = [subnets[re.fullmatch(r"\$\{aws_subnet\.([^.]+)\.id\}", n["subnet_id"]).group(1)]["availability_zone"]
                 for n in resources(stack, "aws_nat_gateway").values()]
    assert sorted(nat_zones) == sorted(region.zones)  # one in every AZ, none twice


@pytest.mark.parametrize("stack_name", each(
    [s for s, p in REGIONAL.items() if not p.env.network.nat_gateway_per_az],
    none="no environment declares a single NAT gateway (network.nat_gateway_per_az: false)"))
def test_environments_declaring_one_nat_gateway_get_exactly_one(stacks, stack_name):
    region = REGIONAL[stack_name].region
    stack = stacks[stack_name]
    assert len(resources(stack, "aws_nat_gateway")) == 1
    assert {s["availability_zone"] for s in resources(stack, "aws_subnet").values()} == set(region.zones)


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


ACCOUNTS = sorted(set(ACCOUNT_STACKS.values()))


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS) + [f"account-{a}" for a in ACCOUNTS])
def test_resource_addresses_match_the_snapshot(stacks, env_name):
    """Per environment, and per account baseline (``account-<name>``)."""
    names = (sorted(s for s, a in ACCOUNT_STACKS.items() if f"account-{a}" == env_name)
             if env_name not in ENVIRONMENTS else expected_stacks(ENVIRONMENTS[env_name]))
    actual = _snapshot(stacks, names)
    path = SNAPSHOTS / f"{env_name}.json"
    if os.environ.get(UPDATE_SNAPSHOTS) == "1":
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    elif not path.exists():  # a new environment's snapshot is recorded on purpose, reviewed and committed
        pytest.skip(f"no snapshot yet for {env_name}: record it with {UPDATE_SNAPSHOTS}=1")
    expected = json.loads(path.read_text())
    for stack_name in expected:
        assert stack_name in actual, f"{stack_name} is in {path.name} but no longer synthesized"
        for key in ("resources", "data", "outputs"):
            gone = sorted(set(expected[stack_name][key]) - set(actual[stack_name][key]))
            new = sorted(set(actual[stack_name][key]) - set(expected[stack_name][key]))
            assert not gone and not new, (
                f"{stack_name} {key} changed: removed {gone}, added {new}. Renamed construct ids "
                f"replace real resources; if intended, rerun with {UPDATE_SNAPSHOTS}=1")
    assert actual == expected


def test_every_snapshot_belongs_to_a_configured_environment():
    orphans = sorted(p.stem for p in SNAPSHOTS.glob("*.json")
                     if p.stem not in ENVIRONMENTS and p.stem.removeprefix("account-") not in ACCOUNTS)
    assert not orphans, (f"tests/snapshots/ holds {orphans} but environments/ has no such environment; "
                         f"delete the snapshot, or restore the environment file")
