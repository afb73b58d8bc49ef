"""Network construct: assertions on its synthesized resources (cdktf.Testing)."""

from __future__ import annotations

import json

import pytest

from environments.schema import NetworkConfig, RegionConfig
from modules.tags import LB_DISCOVERY_TAGS
from tests.conftest import resources


def _synth(*, per_az: bool = True, az_count: int = 3, retention: int = 365) -> dict:
    from cdktf import Testing, TerraformStack

    from modules.iam import AccountContext
    from modules.network.network import Network
    from modules.providers import aws
    from modules.security.keys import RegionalKey

    app = Testing.app()
    stack = TerraformStack(app, "test")
    aws("provider").AwsProvider(stack, "aws", region="eu-west-1")
    Network(stack, "network", name="t-eu-west-1",
            region=RegionConfig(name="eu-west-1", vpc_cidr="10.8.0.0/16", az_count=az_count),
            settings=NetworkConfig(nat_gateway_per_az=per_az, flow_logs_retention_days=retention),
            flow_log_key=RegionalKey("logs", "eu-west-1", "arn:aws:kms:eu-west-1:111122223333:key/test", "test", False),
            account=AccountContext(stack, "account"))
    return json.loads(Testing.synth(stack))


@pytest.fixture(scope="module")
def ha() -> dict:
    return _synth()


@pytest.fixture(scope="module")
def single_nat() -> dict:
    return _synth(per_az=False, az_count=2)


def _ref(resource_type: str, name: str, attribute: str = "id") -> str:
    return f"${{{resource_type}.{name}.{attribute}}}"


def _by_tag_name(stack: dict, resource_type: str) -> dict[str, dict]:
    return {r["tags"]["Name"]: r for r in resources(stack, resource_type).values()}


def test_vpc_has_dns_on(ha):
    (vpc,) = resources(ha, "aws_vpc").values()
    assert vpc["cidr_block"] == "10.8.0.0/16"
    assert vpc["enable_dns_hostnames"] is True and vpc["enable_dns_support"] is True


def test_four_tiers_in_every_az_with_planned_cidrs(ha):
    subnets = _by_tag_name(ha, "aws_subnet")
    assert len(subnets) == 12
    for tier in ("public", "private", "database", "collector"):
        zones = [subnets[f"t-eu-west-1-{tier}-{z}"]["availability_zone"] for z in "abc"]
        assert zones == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert subnets["t-eu-west-1-private-a"]["cidr_block"] == "10.8.0.0/20"
    assert subnets["t-eu-west-1-public-c"]["cidr_block"] == "10.8.136.0/22"
    assert subnets["t-eu-west-1-collector-a"]["cidr_block"] == "10.8.192.0/22"
    assert all(s["map_public_ip_on_launch"] is False for s in subnets.values())
    # no load balancer discovery: the platform names its load balancers' subnets itself
    assert not any(tag in s["tags"] for s in subnets.values() for tag in LB_DISCOVERY_TAGS)


def test_a_nat_gateway_per_az_each_in_its_own_public_subnet(ha):
    subnet_names = {r["tags"]["Name"]: name for name, r in resources(ha, "aws_subnet").items()}
    nats = _by_tag_name(ha, "aws_nat_gateway")
    assert sorted(nats) == ["t-eu-west-1-nat-a", "t-eu-west-1-nat-b", "t-eu-west-1-nat-c"]
    for letter in "abc":
        assert nats[f"t-eu-west-1-nat-{letter}"]["subnet_id"] == _ref(
            "aws_subnet", subnet_names[f"t-eu-west-1-public-{letter}"])
    assert len(resources(ha, "aws_eip")) == 3


def test_each_private_subnet_routes_through_the_nat_gateway_of_its_own_az(ha):
    nat_ids = {r["tags"]["Name"][-1]: name for name, r in resources(ha, "aws_nat_gateway").items()}
    table_ids = {r["tags"]["Name"]: name for name, r in resources(ha, "aws_route_table").items()}
    routes = [r for r in resources(ha, "aws_route").values() if "nat_gateway_id" in r]
    assert len(routes) == 3
    for letter in "abc":
        table = _ref("aws_route_table", table_ids[f"t-eu-west-1-private-{letter}"])
        (route,) = [r for r in routes if r["route_table_id"] == table]
        assert route["nat_gateway_id"] == _ref("aws_nat_gateway", nat_ids[letter])


def test_single_nat_knob_sends_every_az_through_one_gateway(single_nat):
    (nat_name,) = resources(single_nat, "aws_nat_gateway")
    routes = [r for r in resources(single_nat, "aws_route").values() if "nat_gateway_id" in r]
    assert len(routes) == 2
    assert {r["nat_gateway_id"] for r in routes} == {_ref("aws_nat_gateway", nat_name)}


def test_database_and_collector_subnets_have_no_route_out(ha):
    table_ids = {r["tags"]["Name"]: name for name, r in resources(ha, "aws_route_table").items()}
    database_table = _ref("aws_route_table", table_ids["t-eu-west-1-database"])
    assert not [r for r in resources(ha, "aws_route").values() if r["route_table_id"] == database_table]
    associations = [a for a in resources(ha, "aws_route_table_association").values()
                    if a["route_table_id"] == database_table]
    subnet_names = {name: r["tags"]["Name"] for name, r in resources(ha, "aws_subnet").items()}
    assert sorted(subnet_names[a["subnet_id"].split(".")[1]] for a in associations) == [
        f"t-eu-west-1-{tier}-{z}" for tier in ("collector", "database") for z in "abc"]


def test_public_subnets_route_to_the_internet_gateway(ha):
    (igw,) = resources(ha, "aws_internet_gateway")
    (route,) = [r for r in resources(ha, "aws_route").values() if "gateway_id" in r]
    assert route["gateway_id"] == _ref("aws_internet_gateway", igw)
    assert route["destination_cidr_block"] == "0.0.0.0/0"


def test_default_security_group_is_closed(ha):
    (sg,) = resources(ha, "aws_default_security_group").values()
    assert "ingress" not in sg and "egress" not in sg


def test_flow_logs_go_to_an_encrypted_log_group_with_retention(ha):
    (group_name, group), = resources(ha, "aws_cloudwatch_log_group").items()
    assert group["kms_key_id"] == "arn:aws:kms:eu-west-1:111122223333:key/test"
    assert group["retention_in_days"] == 365
    (flow,) = resources(ha, "aws_flow_log").values()
    assert flow["log_destination"] == _ref("aws_cloudwatch_log_group", group_name, "arn")
    assert flow["traffic_type"] == "ALL"
    (vpc_name,) = resources(ha, "aws_vpc")
    assert flow["vpc_id"] == _ref("aws_vpc", vpc_name)


def test_flow_log_role_can_write_only_to_its_log_group(ha):
    (group_name,) = resources(ha, "aws_cloudwatch_log_group")
    (policy,) = resources(ha, "aws_iam_role_policy").values()
    document = json.loads(policy["policy"])
    (statement,) = document["Statement"]
    arn = _ref("aws_cloudwatch_log_group", group_name, "arn")
    assert statement["Resource"] == [arn, f"{arn}:*"]
    assert "*" not in json.dumps(statement["Action"])
    (role,) = resources(ha, "aws_iam_role").values()
    trust = json.loads(role["assume_role_policy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]


def test_outputs_expose_subnets_by_zone(ha):
    outputs = ha["output"]
    assert sorted(outputs) == ["collector_subnet_ids", "database_subnet_ids", "nat_gateway_ids", "private_subnet_ids",
                               "public_subnet_ids", "vpc_cidr", "vpc_id"]
    assert sorted(outputs["private_subnet_ids"]["value"]) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
