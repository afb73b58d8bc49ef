"""The rehearsal's verification fails when what exists departs from the design (moto in-process)."""

from __future__ import annotations

import pytest
from moto import mock_aws

from tests.topology import multi_region, regional_stack, smallest, widest
from tooling.terraform import emulator

# what the checks are given: environments of the configuration, chosen by the property each test needs
from tooling.terraform import leftovers, probes, rehearsal_checks
ALL_PURPOSES = {"eks", "secrets", "logs", "storage"}
REPLICATED = widest(lambda env: multi_region(env) and set(env.security.keys) >= ALL_PURPOSES)
THREE_AZS = widest(lambda env: len(env.regions.primary.zones) == 3)
ONE = smallest()


@pytest.fixture
def aws(monkeypatch):
    emulator.apply_fixes()
    # the environment's account, as the rehearsal's emulator runs (S3 Control answers only its own account)
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ONE.account_id)
    with mock_aws():
        yield probes.clients(None)  # noqa: SLF001 - endpoint None: moto intercepts in-process


def _by_name(checks):
    return {c.name: c for c in checks}


@pytest.mark.skipif(REPLICATED is None, reason="no environment has a standby region and all four key purposes")
def test_keys_must_be_multi_region_with_a_replica_in_the_standby(aws):
    env, alias = REPLICATED, f"alias/{REPLICATED.name}"
    primary, standby = env.regions.primary.name, env.regions.standby.name
    east, west = aws("kms", primary), aws("kms", standby)
    good = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    east.enable_key_rotation(KeyId=good)
    east.create_alias(AliasName=f"{alias}/eks", TargetKeyId=good)
    east.replicate_key(KeyId=good, ReplicaRegion=standby)
    west.create_alias(AliasName=f"{alias}/eks", TargetKeyId=good)
    single = east.create_key()["KeyMetadata"]["KeyId"]
    east.create_alias(AliasName=f"{alias}/secrets", TargetKeyId=single)
    unreplicated = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    east.enable_key_rotation(KeyId=unreplicated)
    east.create_alias(AliasName=f"{alias}/logs", TargetKeyId=unreplicated)

    checks = _by_name(rehearsal_checks._keys(env, aws))  # noqa: SLF001
    assert checks[f"kms {alias}/eks"].ok, checks[f"kms {alias}/eks"].detail
    assert not checks[f"kms {alias}/secrets"].ok and "MultiRegion" in checks[f"kms {alias}/secrets"].detail
    assert not checks[f"kms {alias}/logs"].ok and "NotFound" in checks[f"kms {alias}/logs"].detail
    assert not checks[f"kms {alias}/storage"].ok


@pytest.mark.skipif(THREE_AZS is None, reason="no environment's primary region spreads over three AZs")
def test_load_balancers_must_sit_on_their_intended_zones(aws):
    import ipaddress

    env = THREE_AZS
    region = env.regions.primary
    ec2, elbv2 = aws("ec2", region.name), aws("elbv2", region.name)
    vpc = ec2.create_vpc(CidrBlock=region.vpc_cidr)["Vpc"]["VpcId"]
    cidrs = ipaddress.ip_network(region.vpc_cidr).subnets(new_prefix=24)
    subnets = {zone: ec2.create_subnet(VpcId=vpc, CidrBlock=str(next(cidrs)), AvailabilityZone=zone)["Subnet"]["SubnetId"]
               for zone in region.zones}
    a, b, c = region.zones
    for role, lb_type, zones in (("alb-primary", "application", (a, c)),  # should be a/b
                                 ("alb-secondary", "application", (b, c)), ("nlb", "network", (a, b, c))):
        elbv2.create_load_balancer(Name=f"{regional_stack(env.name, region.name)}-{role}", Type=lb_type,
                                   Subnets=[subnets[z] for z in zones])

    (check,) = [c for c in rehearsal_checks._region_tier(env, aws, region)  # noqa: SLF001
                if c.name.startswith("load balancers")]
    assert not check.ok and check.detail.startswith(f"alb-primary is on {a}, {c}, expected {a}, {b}")


def test_a_missing_load_balancer_is_named(aws):
    region = ONE.regions.primary.name
    (check,) = [c for c in rehearsal_checks._region_tier(ONE, aws, ONE.regions.primary)  # noqa: SLF001
                if c.name.startswith("load balancers")]
    assert not check.ok and check.detail == f"missing in {region}: alb-primary, alb-secondary, nlb"


def test_leftovers_name_what_destroy_missed(aws):
    region = ONE.regions.primary.name
    assert leftovers.leftovers(ONE, None) == []
    aws("ec2", region).create_vpc(CidrBlock="10.0.0.0/16")
    aws("secretsmanager", region).create_secret(Name=f"{ONE.name}/left-behind")
    key = aws("kms", region).create_key()["KeyMetadata"]["KeyId"]
    left = leftovers.leftovers(ONE, None)
    assert any(item.startswith(f"vpcs in {region}: vpc-") for item in left)
    assert f"secrets in {region}: {ONE.name}/left-behind" in left
    assert f"kms keys in {region}: {key}" in left
    aws("kms", region).schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert not any(item.startswith("kms keys") for item in leftovers.leftovers(ONE, None))


def test_leftovers_include_what_aws_creates_and_the_pieces_of_a_network(aws):
    """A security group, a subnet, an ENI (what AWS creates for LBs, endpoints and clusters) and a
    target group left behind are each named; the default VPC's own pieces are not ours."""
    region, left_name = ONE.regions.primary.name, f"{ONE.name}-left"
    ec2 = aws("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=left_name, Description="left", VpcId=vpc)["GroupId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    aws("elbv2", region).create_target_group(Name=left_name, Protocol="HTTP", Port=80, VpcId=vpc)
    left = leftovers.leftovers(ONE, None)
    assert f"subnets in {region}: {subnet}" in left
    assert f"security groups in {region}: {group}" in left  # the VPC's own "default" group is not listed
    assert f"network interfaces in {region}: {eni}" in left
    assert f"target groups in {region}: {left_name}" in left


def test_duplicates_of_unnamed_resources_are_named(aws):
    region = ONE.regions.primary.name
    vpc_name = regional_stack(ONE.name, region)
    assert leftovers.duplicates(ONE, None).ok
    ec2 = aws("ec2", region)
    for _ in range(2):  # what a killed apply and the next one leave: the same VPC twice
        ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": vpc_name}]}])
    check = leftovers.duplicates(ONE, None)
    assert not check.ok and check.detail == f"vpcs in {region} named {vpc_name} x2"


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


def test_the_network_check_wants_every_endpoint_in_every_private_subnet(aws):
    check = _network(aws, ONE)
    assert check.ok, check.detail
    assert "interface endpoints in every private subnet" in check.detail


def test_a_missing_interface_endpoint_is_named(aws):
    check = _network(aws, ONE, skip_endpoint="eks-auth")
    assert not check.ok and check.detail == "no eks-auth interface endpoint"
