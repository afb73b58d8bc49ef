"""The read model carries what availability depends on, and it matches the configuration.

For every environment (derived from environments/*.yaml): the ingress gateway and every platform
workload as scheduled (replicas, a zone spread that blocks scheduling, capacity), and each data store's
configured protections (instances over AZs with a stated failover order, deletion protection,
Replication Time Control, continuous backup, the standby applied after the primary). A change to a
construct that breaks one of these fails here, whatever the other tests see.
"""

from __future__ import annotations

import pytest

from policies.model.output import Output
from policies.model.platform import build, data_members
from policies.model.topology import stack_after
from tests.topology import ENVIRONMENTS, regions


@pytest.fixture(scope="module")
def output(synth_dir):
    return Output.load(synth_dir)


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_the_ingress_gateway_outlives_any_one_az_in_every_region(output, env_name):
    platform = build(output, env_name)
    for region in platform.regions.values():
        gateway = region.cluster.gateway
        assert gateway is not None, region.name
        assert gateway.replicas >= 2 and gateway.zone_spread, (region.name, gateway)
        assert gateway.capacity == "ON_DEMAND", (region.name, gateway)


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_every_platform_workload_runs_two_replicas_on_on_demand_nodes(output, env_name):
    for region in build(output, env_name).regions.values():
        pieces = region.cluster.pieces
        assert pieces, region.name
        assert [p.label for p in pieces if p.replicas < 2] == [], region.name
        assert [p.label for p in pieces if p.capacity != "ON_DEMAND"] == [], region.name


def test_a_gateway_without_an_enforced_zone_spread_does_not_outlive_an_az():
    from policies.model.platform import placements

    spread = [{"topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 1}]
    (soft,) = placements("traefik", {"deployment": {"replicas": 6}, "topologySpreadConstraints": spread})
    (single,) = placements("traefik", {"deployment": {"replicas": 1}, "topologySpreadConstraints": [
        dict(spread[0], whenUnsatisfiable="DoNotSchedule")]})
    assert not soft.survives_an_az() and not single.survives_an_az()


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_each_data_store_carries_the_protections_its_configuration_asks_for(output, env_name):
    config = ENVIRONMENTS[env_name]
    members = data_members(output, env_name)
    assert sorted(members) == sorted(region.name for _, region in regions(config))
    for role, region in regions(config):
        member = members[region.name]
        aurora = member.aurora
        assert len(aurora) == config.data.aurora.instances, region.name
        assert len({i.zone for i in aurora}) == min(len(aurora), len(region.zones)), region.name
        # a stated failover order: one promotion tier per instance, in the order they are declared
        assert [i.tier for i in aurora] == sorted({i.tier for i in aurora}), (region.name, aurora)
        if len(aurora) > 1:
            assert {i.zone for i in member.failover_order()[0]}.isdisjoint({aurora[0].zone}), region.name
        assert member.aurora_deletion_protection == config.data.aurora.deletion_protection, region.name
        assert member.cache_nodes == 1 + config.data.cache.replicas and member.cache_multi_az, region.name
        assert member.backup_continuous == config.data.backup.continuous, region.name
        if config.regions.standby is not None:
            assert member.aurora_global and member.cache_global, region.name
            assert member.bucket_rules, region.name
            assert all(timed == config.data.bucket.replication_time_control for _, timed in member.bucket_rules)
    if config.regions.standby is not None:
        primary, standby = members[config.regions.primary.name], members[config.regions.standby.name]
        assert stack_after(output, standby.stack, primary.stack)
