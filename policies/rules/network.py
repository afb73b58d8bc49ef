"""Network: nodes reach the AWS APIs through VPC endpoints in their own AZ.

One rule, one place: each cites the document it encodes; its failing and passing fixtures are named
in the registry (:mod:`policies.rules.registry`)."""

from __future__ import annotations



from policies.model.output import Output, Ref, as_list
from policies.rules.registry import rule


NODE_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "sts", "eks-auth", "ec2", "logs")


def _subnets(output: Output, stack: str, value) -> list[tuple[Ref, dict]]:
    return [(ref, output.get(ref) or {}) for ref in output.refs(stack, value) if ref.type == "aws_subnet"]


def _same(a: Ref, b: Ref) -> bool:
    return a.address == b.address and a.stack == b.stack


def _ingress_443(output: Output, stack: str, group: Ref) -> bool:
    for conf in output.resources(stack, "aws_vpc_security_group_ingress_rule").values():
        if any(_same(r, group) for r in output.refs(stack, conf.get("security_group_id"))) \
                and conf.get("ip_protocol") in ("tcp", "-1") \
                and (conf.get("ip_protocol") == "-1" or int(conf.get("from_port", 0)) <= 443 <= int(conf.get("to_port", 0))):
            return True
    group_conf = output.get(group) or {}
    return any(int(i.get("from_port", 0)) <= 443 <= int(i.get("to_port", 0)) for i in as_list(group_conf.get("ingress")))


@rule(18, "Nodes reach ECR, S3, STS, EKS Pod Identity, EC2 and Logs through VPC endpoints in their own AZ",
      "https://docs.aws.amazon.com/eks/latest/userguide/private-clusters.html")
def node_endpoints(output: Output):
    judged: set[str] = set()
    for stack, name, group in output.every("aws_eks_node_group"):
        subnets = _subnets(output, stack, group.get("subnet_ids"))
        vpcs = {r.address: r for _, conf in subnets for r in output.refs(stack, conf.get("vpc_id"))
                if r.type == "aws_vpc"}
        for vpc in vpcs.values():
            key = f"{vpc.address}@{vpc.stack}"
            if key in judged:
                continue
            judged.add(key)
            subject = f"{vpc.address} (nodes of aws_eks_node_group.{name})"
            problems = []
            vpc_conf = output.get(vpc) or {}
            if not (vpc_conf.get("enable_dns_support", True) and vpc_conf.get("enable_dns_hostnames")):
                problems.append("the VPC has DNS support or hostnames off, so endpoint private DNS cannot work")
            endpoints = [(n, c) for n, c in output.resources(vpc.stack, "aws_vpc_endpoint").items()
                         if any(_same(r, vpc) for r in output.refs(vpc.stack, c.get("vpc_id")))]
            # S3: a gateway endpoint on the route table of every node subnet
            tables = {}
            for subnet, _ in subnets:
                for assoc in output.resources(vpc.stack, "aws_route_table_association").values():
                    if any(_same(r, subnet) for r in output.refs(vpc.stack, assoc.get("subnet_id"))):
                        for table in output.refs(vpc.stack, assoc.get("route_table_id")):
                            tables[table.address] = subnet.address
            gateway = [c for _, c in endpoints if str(c.get("service_name", "")).endswith(".s3")
                       and c.get("vpc_endpoint_type") == "Gateway"]
            on_tables = {r.address for c in gateway for r in output.refs(vpc.stack, c.get("route_table_ids"))}
            uncovered = sorted(set(tables) - on_tables)
            if not gateway:
                problems.append("no S3 gateway endpoint (ECR image layers are served from S3)")
            elif uncovered:
                problems.append(f"the S3 gateway endpoint is not on {', '.join(uncovered)}")
            zones = {conf.get("availability_zone") for _, conf in subnets}
            for service in NODE_ENDPOINT_SERVICES:
                found = [c for _, c in endpoints if str(c.get("service_name", "")).endswith(f".{service}")
                         and c.get("vpc_endpoint_type") == "Interface"]
                if not found:
                    problems.append(f"no {service} interface endpoint")
                    continue
                conf = found[0]
                in_zones = {s.get("availability_zone") for _, s in _subnets(output, vpc.stack, conf.get("subnet_ids"))}
                if zones - in_zones:
                    problems.append(f"the {service} endpoint has no subnet in {', '.join(sorted(zones - in_zones))}")
                if not conf.get("private_dns_enabled"):
                    problems.append(f"the {service} endpoint has private DNS off: SDKs keep using the NAT path")
                groups = output.refs(vpc.stack, conf.get("security_group_ids"))
                if not any(_ingress_443(output, vpc.stack, g) for g in groups):
                    problems.append(f"the {service} endpoint's security groups admit no HTTPS")
            yield vpc.stack, subject, not problems, "; ".join(problems)
