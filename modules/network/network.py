"""The network tier of one region: VPC, three subnet tiers per AZ, NAT, flow logs."""

from __future__ import annotations

from constructs import Construct

from environments.schema import NetworkConfig, RegionConfig
from modules.iam import AccountContext, policy_document, service_assume_role_policy
from modules.network.layout import INTERFACE_ENDPOINTS, TIERS, plan_subnets
from modules.outputs import stack_output
from modules.security.keys import RegionalKey
from modules.providers import aws

# No subnet carries a load balancer discovery tag (modules.tags.LB_DISCOVERY_TAGS): every load
# balancer of the platform names its subnets in Terraform.


class Network(Construct):
    """VPC with public, private and database subnets in every configured AZ.

    - Public subnets route to an internet gateway; nothing in them gets a public
      IP by default (load balancers and NAT gateways bring their own).
    - Private subnets route to a NAT gateway in their own AZ, so an AZ outage
      never cuts another AZ's egress; ``nat_gateway_per_az: false`` trades that
      for cost with a single NAT gateway in the first AZ.
    - Database subnets have no route to the internet at all.
    - VPC endpoints (S3 gateway, and interface endpoints for ECR, STS, EKS Pod
      Identity, EC2, Logs and the controllers' APIs) keep each AZ's nodes working
      when that AZ's NAT gateway is impaired.
    - The VPC's default security group is emptied (no rules), so nothing can
      use it by accident, and flow logs go to a KMS-encrypted log group.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, region: RegionConfig,
                 settings: NetworkConfig, flow_log_key: RegionalKey, account: AccountContext):
        super().__init__(scope, construct_id)
        zones = region.zones
        plan = plan_subnets(region.vpc_cidr, len(zones))
        self.name = name
        self.zones = zones
        self.cidr = region.vpc_cidr

        self.vpc = aws("vpc").Vpc(
            self, "vpc",
            cidr_block=region.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": name},
        )
        self._vpc_id = self.vpc.id
        # No ingress or egress blocks: Terraform removes AWS's allow-all default rules.
        aws("default_security_group").DefaultSecurityGroup(
            self, "default-sg", vpc_id=self._vpc_id, tags={"Name": f"{name}-default-closed"},
        )

        self.subnets: dict[str, dict[str, object]] = {tier: {} for tier in TIERS}
        # Attribute reads are calls into node; ids used many times are read once.
        self._subnet_ids: dict[str, dict[str, str]] = {tier: {} for tier in TIERS}
        for tier in TIERS:
            for zone, cidr in zip(zones, plan.tier(tier)):
                self.subnets[tier][zone] = aws("subnet").Subnet(
                    self, f"{tier}-{zone[-1]}",
                    vpc_id=self._vpc_id,
                    cidr_block=cidr,
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{name}-{tier}-{zone[-1]}", "Tier": tier},
                )
                self._subnet_ids[tier][zone] = self.subnets[tier][zone].id

        self._public_routing()
        self.nat_gateways = self._nat_gateways(settings.nat_gateway_per_az)
        self._private_routing()
        self._database_routing()
        self._endpoints(region.name)
        self._flow_logs(settings, flow_log_key, account)
        self._outputs()

    # -- routing ---------------------------------------------------------------------------

    def _route_table(self, table_id: str, label: str):
        return aws("route_table").RouteTable(
            self, table_id, vpc_id=self._vpc_id, tags={"Name": f"{self.name}-{label}"})

    def _associate(self, tier: str, table_for_zone) -> None:
        association = aws("route_table_association").RouteTableAssociation
        for zone, subnet_id in self._subnet_ids[tier].items():
            association(self, f"{tier}-rta-{zone[-1]}", subnet_id=subnet_id,
                        route_table_id=table_for_zone(zone).id)

    def _public_routing(self) -> None:
        self.internet_gateway = aws("internet_gateway").InternetGateway(
            self, "igw", vpc_id=self._vpc_id, tags={"Name": self.name})
        table = self._route_table("public-rt", "public")
        aws("route").Route(self, "public-default", route_table_id=table.id,
                           destination_cidr_block="0.0.0.0/0", gateway_id=self.internet_gateway.id)
        self._associate("public", lambda zone: table)

    def _nat_gateways(self, per_az: bool) -> dict[str, object]:
        """NAT gateway per AZ (HA), or one in the first AZ when the knob says so."""
        zones = self.zones if per_az else self.zones[:1]
        gateways = {}
        for zone in zones:
            letter = zone[-1]
            eip = aws("eip").Eip(self, f"nat-eip-{letter}", domain="vpc",
                                 tags={"Name": f"{self.name}-nat-{letter}"})
            gateways[zone] = aws("nat_gateway").NatGateway(
                self, f"nat-{letter}",
                allocation_id=eip.allocation_id,
                subnet_id=self._subnet_ids["public"][zone],
                tags={"Name": f"{self.name}-nat-{letter}"},
                depends_on=[self.internet_gateway],
            )
        return gateways

    def _private_routing(self) -> None:
        """A route table per AZ, each to the NAT gateway in its AZ (or the single one)."""
        tables = {}
        for zone in self.zones:
            letter = zone[-1]
            nat = self.nat_gateways.get(zone) or next(iter(self.nat_gateways.values()))
            tables[zone] = self._route_table(f"private-rt-{letter}", f"private-{letter}")
            aws("route").Route(self, f"private-default-{letter}", route_table_id=tables[zone].id,
                               destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)
        self._associate("private", tables.__getitem__)
        self.private_route_tables = tables

    def _database_routing(self) -> None:
        """Database subnets, and the collector's: local routes only, no path to or from the internet (the
        managed collector writes to its workspace on AWS's side; in the VPC it only reaches the pods)."""
        table = self._route_table("database-rt", "database")
        self._associate("database", lambda zone: table)
        self._associate("collector", lambda zone: table)

    # -- VPC endpoints: what the nodes need from AWS, without their AZ's NAT gateway ----------

    def _endpoints(self, region: str) -> None:
        """An S3 gateway endpoint on every private route table and an interface endpoint per service
        in every private subnet, so an AZ whose NAT gateway is impaired still starts pods: image
        pulls (ECR, whose layers come from S3), Pod Identity credentials, the CNI's EC2 calls, logs.
        https://docs.aws.amazon.com/eks/latest/userguide/private-clusters.html
        """
        endpoint = aws("vpc_endpoint").VpcEndpoint
        endpoint(self, "endpoint-s3", vpc_id=self._vpc_id, service_name=f"com.amazonaws.{region}.s3",
                 vpc_endpoint_type="Gateway", route_table_ids=[t.id for t in self.private_route_tables.values()],
                 tags={"Name": f"{self.name}-s3"})
        group = aws("security_group").SecurityGroup(
            self, "endpoints-sg", name=f"{self.name}-endpoints", vpc_id=self._vpc_id,
            description="Interface endpoints: HTTPS from inside the VPC", tags={"Name": f"{self.name}-endpoints"})
        aws("vpc_security_group_ingress_rule").VpcSecurityGroupIngressRule(
            self, "endpoints-in-https", security_group_id=group.id, description="HTTPS from the VPC",
            ip_protocol="tcp", from_port=443, to_port=443, cidr_ipv4=self.cidr)
        for service in INTERFACE_ENDPOINTS:
            # private DNS answers the service's public name with the endpoint's addresses in
            # the VPC (it needs enable_dns_support and enable_dns_hostnames, both on above)
            endpoint(self, f"endpoint-{service.replace('.', '-')}", vpc_id=self._vpc_id,
                     service_name=f"com.amazonaws.{region}.{service}", vpc_endpoint_type="Interface",
                     subnet_ids=self.subnet_ids("private"), security_group_ids=[group.id],
                     private_dns_enabled=True, tags={"Name": f"{self.name}-{service}"})

    # -- flow logs -------------------------------------------------------------------------

    def _flow_logs(self, settings: NetworkConfig, key: RegionalKey, account: AccountContext) -> None:
        log_group = aws("cloudwatch_log_group").CloudwatchLogGroup(
            self, "flow-logs",
            name=f"/spofless/{self.name}/vpc-flow-logs",
            retention_in_days=settings.flow_logs_retention_days,
            kms_key_id=key.arn,
        )
        role = aws("iam_role").IamRole(
            self, "flow-logs-role",
            name=f"{self.name}-vpc-flow-logs",
            assume_role_policy=service_assume_role_policy("vpc-flow-logs.amazonaws.com",
                                                          source_account=account.account_id),
        )
        # Only the calls the delivery service makes, only on this log group's streams.
        aws("iam_role_policy").IamRolePolicy(
            self, "flow-logs-policy",
            name="deliver-flow-logs",
            role=role.id,
            policy=policy_document([{
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                "Resource": [log_group.arn, f"{log_group.arn}:*"],
            }]),
        )
        aws("flow_log").FlowLog(
            self, "flow-log",
            vpc_id=self._vpc_id,
            traffic_type=settings.flow_logs_traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags={"Name": f"{self.name}-flow-log"},
        )

    # -- consumers -------------------------------------------------------------------------

    @property
    def vpc_id(self) -> str:
        return self._vpc_id

    def subnet_ids(self, tier: str) -> list[str]:
        """Subnet ids of one tier, in AZ order."""
        return list(self._subnet_ids[tier].values())

    def subnet_ids_by_zone(self, tier: str) -> dict[str, str]:
        """``{zone: subnet id}`` for one tier."""
        return dict(self._subnet_ids[tier])

    def _outputs(self) -> None:
        """Stack outputs with plain names (``vpc_id``, ``private_subnet_ids``, ...)."""
        values = {
            "vpc_id": (self.vpc_id, "VPC id"),
            "vpc_cidr": (self.cidr, "VPC IPv4 CIDR"),
            **{f"{tier}_subnet_ids": (self.subnet_ids_by_zone(tier), f"{tier} subnet ids by availability zone")
               for tier in TIERS},
            "nat_gateway_ids": ({zone: nat.id for zone, nat in self.nat_gateways.items()},
                                "NAT gateway ids by availability zone"),
        }
        for name, (value, description) in values.items():
            stack_output(self, name, value, description)
