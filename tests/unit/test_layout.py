"""The subnet plan: inside the VPC, disjoint, stable as AZs are added."""

import ipaddress
import itertools

import pytest

from modules.network.layout import MAX_AZ_SLOTS, TIERS, plan_subnets


def _all(plan):
    return [ipaddress.ip_network(c) for tier in TIERS for c in plan.tier(tier)]


def test_prod_shaped_vpc_gets_three_tiers_per_az():
    # GIVEN a /16 and three AZs WHEN planned THEN each tier has one subnet per AZ at its size
    plan = plan_subnets("10.32.0.0/16", 3)
    assert plan.private == ("10.32.0.0/20", "10.32.16.0/20", "10.32.32.0/20")
    assert plan.public == ("10.32.128.0/22", "10.32.132.0/22", "10.32.136.0/22")
    assert plan.database == ("10.32.160.0/22", "10.32.164.0/22", "10.32.168.0/22")


@pytest.mark.parametrize("cidr", ["10.0.0.0/16", "172.16.0.0/18", "192.168.0.0/22"])
def test_subnets_are_inside_the_vpc_and_disjoint(cidr):
    vpc = ipaddress.ip_network(cidr)
    subnets = _all(plan_subnets(cidr, MAX_AZ_SLOTS))
    assert all(s.subnet_of(vpc) for s in subnets)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(subnets, 2))
    assert min(s.num_addresses for s in subnets) >= 16  # AWS's smallest subnet is a /28


def test_adding_an_az_never_renumbers_existing_subnets():
    two, three = plan_subnets("10.0.0.0/16", 2), plan_subnets("10.0.0.0/16", 3)
    for tier in TIERS:
        assert three.tier(tier)[:2] == two.tier(tier)


def test_rejects_a_vpc_too_small_for_the_layout():
    with pytest.raises(ValueError, match="too small"):
        plan_subnets("10.0.0.0/23", 2)
