"""The rehearsal's verification fails when what exists departs from the design (moto in-process)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from tooling import emulator, rehearsal_checks


@pytest.fixture
def aws():
    emulator.apply_fixes()
    with mock_aws():
        yield rehearsal_checks._clients(None)  # noqa: SLF001 - endpoint None: moto intercepts in-process


def _by_name(checks):
    return {c.name: c for c in checks}


def test_keys_must_be_multi_region_with_a_replica_in_the_standby(aws, environments):
    prod = environments["prod"]
    east, west = aws("kms", "us-east-1"), aws("kms", "us-west-2")
    good = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    east.enable_key_rotation(KeyId=good)
    east.create_alias(AliasName="alias/prod/eks", TargetKeyId=good)
    east.replicate_key(KeyId=good, ReplicaRegion="us-west-2")
    west.create_alias(AliasName="alias/prod/eks", TargetKeyId=good)
    single = east.create_key()["KeyMetadata"]["KeyId"]
    east.create_alias(AliasName="alias/prod/secrets", TargetKeyId=single)
    unreplicated = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    east.enable_key_rotation(KeyId=unreplicated)
    east.create_alias(AliasName="alias/prod/logs", TargetKeyId=unreplicated)

    checks = _by_name(rehearsal_checks._keys(prod, aws))  # noqa: SLF001
    assert checks["kms alias/prod/eks"].ok, checks["kms alias/prod/eks"].detail
    assert not checks["kms alias/prod/secrets"].ok and "MultiRegion" in checks["kms alias/prod/secrets"].detail
    assert not checks["kms alias/prod/logs"].ok and "NotFound" in checks["kms alias/prod/logs"].detail
    assert not checks["kms alias/prod/storage"].ok


def test_load_balancers_must_sit_on_their_intended_zones(aws, environments):
    prod = environments["prod"]
    region = prod.regions.primary
    ec2, elbv2 = aws("ec2", region.name), aws("elbv2", region.name)
    vpc = ec2.create_vpc(CidrBlock=region.vpc_cidr)["Vpc"]["VpcId"]
    subnets = {zone: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.32.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
               for i, zone in enumerate(region.zones)}
    a, b, c = region.zones
    for role, lb_type, zones in (("alb-primary", "application", (a, c)),  # should be a/b
                                 ("alb-secondary", "application", (b, c)), ("nlb", "network", (a, b, c))):
        elbv2.create_load_balancer(Name=f"prod-{region.name}-{role}", Type=lb_type,
                                   Subnets=[subnets[z] for z in zones])

    (check,) = [c for c in rehearsal_checks._region_tier(prod, aws, region)  # noqa: SLF001
                if c.name.startswith("load balancers")]
    assert not check.ok and check.detail.startswith(f"alb-primary is on {a}, {c}, expected {a}, {b}")


def test_a_missing_load_balancer_is_named(aws, environments):
    dev = environments["dev"]
    (check,) = [c for c in rehearsal_checks._region_tier(dev, aws, dev.regions.primary)  # noqa: SLF001
                if c.name.startswith("load balancers")]
    assert not check.ok and check.detail == "missing in us-east-1: alb-primary, alb-secondary, nlb"


def test_leftovers_name_what_destroy_missed(aws, environments):
    dev = environments["dev"]
    assert rehearsal_checks.leftovers(dev, None) == []
    aws("ec2", "us-east-1").create_vpc(CidrBlock="10.0.0.0/16")
    aws("secretsmanager", "us-east-1").create_secret(Name="dev/left-behind")
    key = aws("kms", "us-east-1").create_key()["KeyMetadata"]["KeyId"]
    left = rehearsal_checks.leftovers(dev, None)
    assert any(item.startswith("vpcs in us-east-1: vpc-") for item in left)
    assert "secrets in us-east-1: dev/left-behind" in left
    assert f"kms keys in us-east-1: {key}" in left
    aws("kms", "us-east-1").schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert not any(item.startswith("kms keys") for item in rehearsal_checks.leftovers(dev, None))


def test_leftovers_include_what_aws_creates_and_the_pieces_of_a_network(aws, environments):
    """A security group, a subnet, an ENI (what AWS creates for LBs, endpoints and clusters) and a
    target group left behind are each named; the default VPC's own pieces are not ours."""
    dev = environments["dev"]
    ec2 = aws("ec2", "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="dev-left", Description="left", VpcId=vpc)["GroupId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    aws("elbv2", "us-east-1").create_target_group(Name="dev-left", Protocol="HTTP", Port=80, VpcId=vpc)
    left = rehearsal_checks.leftovers(dev, None)
    assert f"subnets in us-east-1: {subnet}" in left
    assert f"security groups in us-east-1: {group}" in left  # the VPC's own "default" group is not listed
    assert f"network interfaces in us-east-1: {eni}" in left
    assert "target groups in us-east-1: dev-left" in left


def test_duplicates_of_unnamed_resources_are_named(aws, environments):
    dev = environments["dev"]
    assert rehearsal_checks.duplicates(dev, None).ok
    ec2 = aws("ec2", "us-east-1")
    for _ in range(2):  # what a killed apply and the next one leave: the same VPC twice
        ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "dev-us-east-1"}]}])
    check = rehearsal_checks.duplicates(dev, None)
    assert not check.ok and check.detail == "vpcs in us-east-1 named dev-us-east-1 x2"


def _network(aws, env, *, skip_endpoint: str = ""):
    """A VPC shaped like the env's first region: subnets per tier and AZ, NAT gateways, endpoints."""
    from modules.network.layout import INTERFACE_ENDPOINTS, TIERS, plan_subnets

    region = env.regions.primary
    ec2 = aws("ec2", region.name)
    vpc = ec2.create_vpc(CidrBlock=region.vpc_cidr)["Vpc"]["VpcId"]
    plan = plan_subnets(region.vpc_cidr, len(region.zones))
    subnets = {tier: [ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone, TagSpecifications=[
        {"ResourceType": "subnet", "Tags": [{"Key": "Tier", "Value": tier}]}])["Subnet"]["SubnetId"]
        for zone, cidr in zip(region.zones, plan.tier(tier))] for tier in TIERS}
    for subnet in subnets["public"][: len(region.zones) if env.network.nat_gateway_per_az else 1]:
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{region.name}.s3", VpcEndpointType="Gateway",
                            RouteTableIds=[table])
    for service in INTERFACE_ENDPOINTS:
        if service != skip_endpoint:
            ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{region.name}.{service}",
                                    VpcEndpointType="Interface", SubnetIds=subnets["private"], PrivateDnsEnabled=True)
    (check,) = [c for c in rehearsal_checks._region_tier(env, aws, region)  # noqa: SLF001
                if c.name.startswith("network")]
    return check


def test_the_network_check_wants_every_endpoint_in_every_private_subnet(aws, environments):
    check = _network(aws, environments["dev"])
    assert check.ok, check.detail
    assert "interface endpoints in every private subnet" in check.detail


def test_a_missing_interface_endpoint_is_named(aws, environments):
    check = _network(aws, environments["dev"], skip_endpoint="eks-auth")
    assert not check.ok and check.detail == "no eks-auth interface endpoint"
