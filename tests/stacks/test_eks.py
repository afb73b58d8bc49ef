"""EKS in every region: the regional key, logging, endpoint access, both capacity types in all AZs."""

from __future__ import annotations

import re

import pytest

from environments import eks_versions
from environments.schema import EksConfig
from modules.tags import KEY_PURPOSE
from tests.conftest import resources
from tests.topology import GITOPS, REGIONAL, STACKS, dns_cloudflare_stack, env_of, security_stack

# the primary region holds each multi-region key, the standby region its replica
KEY_TYPE = {"primary": "aws_kms_key", "standby": "aws_kms_replica_key"}


def _only(stack: dict, resource_type: str) -> dict:
    (value,) = resources(stack, resource_type).values()
    return value


def _remote(stacks: dict, reference: str, source: str) -> str:
    output = re.fullmatch(r"\$\{data\.terraform_remote_state\.[^.]+\.outputs\.([^}]+)\}", reference).group(1)
    return stacks[source]["output"][output]["value"]


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_secrets_are_encrypted_with_the_regional_eks_key(stacks, stack_name):
    placement = REGIONAL[stack_name]
    key_type = KEY_TYPE[placement.role]
    cluster = _only(stacks[stack_name], "aws_eks_cluster")
    (config,) = cluster["encryption_config"] if isinstance(cluster["encryption_config"], list) else [cluster["encryption_config"]]
    assert config["resources"] == ["secrets"]
    security = security_stack(placement.env.name)
    (eks_key,) = [n for n, k in resources(stacks[security], key_type).items() if k["tags"][KEY_PURPOSE] == "eks"]
    assert _remote(stacks, config["provider"]["key_arn"], security) == f"${{{key_type}.{eks_key}.arn}}"


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_cluster_api_is_private_with_access_entries_and_full_logging(stacks, stack_name):
    cluster = _only(stacks[stack_name], "aws_eks_cluster")
    assert cluster["vpc_config"]["endpoint_private_access"] is True
    assert cluster["vpc_config"]["endpoint_public_access"] is False
    assert cluster["access_config"] == {"authentication_mode": "API",
                                        "bootstrap_cluster_creator_admin_permissions": False}
    assert sorted(cluster["enabled_cluster_log_types"]) == ["api", "audit", "authenticator", "controllerManager",
                                                             "scheduler"]
    config = REGIONAL[stack_name].env.eks
    assert cluster["version"] == config.version
    assert cluster["upgrade_policy"] == {"support_type": config.support_type}
    assert eks_versions.refusal(config.version, config.support_type) is None
    group = [g for g in resources(stacks[stack_name], "aws_cloudwatch_log_group").values()
             if g["name"] == f"/aws/eks/{stack_name}/cluster"]
    assert group and group[0]["kms_key_id"]
    assert resources(stacks[stack_name], "aws_iam_openid_connect_provider")


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_on_demand_and_spot_groups_each_span_every_az(stacks, stack_name):
    stack = stacks[stack_name]
    env, region = REGIONAL[stack_name].env, REGIONAL[stack_name].region
    subnets = resources(stack, "aws_subnet")
    groups = {g["capacity_type"]: g for g in resources(stack, "aws_eks_node_group").values()}
    assert sorted(groups) == ["ON_DEMAND", "SPOT"]
    for group in groups.values():
        zones = sorted(subnets[re.search(r"aws_subnet\.([^.]+)\.id", ref).group(1)]["availability_zone"]
                       for ref in group["subnet_ids"])
        assert zones == sorted(region.zones)
        assert all(subnets[re.search(r"aws_subnet\.([^.]+)\.id", r).group(1)]["tags"]["Tier"] == "private"
                   for r in group["subnet_ids"])
    sizes = {c: (g["scaling_config"]["min_size"], g["scaling_config"]["desired_size"], g["scaling_config"]["max_size"])
             for c, g in groups.items()}
    assert sizes == {"ON_DEMAND": (env.eks.on_demand.min, env.eks.on_demand.desired, env.eks.on_demand.max),
                     "SPOT": (env.eks.spot.min, env.eks.spot.desired, env.eks.spot.max)}
    assert len(groups["SPOT"]["instance_types"]) >= 2


def test_default_capacity_splits_60_40_between_on_demand_and_spot(environments):
    eks = EksConfig.model_validate({"deployer_role_arn": "arn:aws:iam::111122223333:role/deployer"})
    assert eks.on_demand.desired / (eks.on_demand.desired + eks.spot.desired) == pytest.approx(0.6)
    # an environment that leaves the sizes out gets exactly these
    for env in environments.values():
        for group in ("on_demand", "spot"):
            if group not in env.eks.model_fields_set:
                assert getattr(env.eks, group) == getattr(eks, group), (env.name, group)


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_nodes_require_imdsv2_and_encrypted_volumes(stacks, stack_name):
    stack = stacks[stack_name]
    template = _only(stack, "aws_launch_template")
    assert template["metadata_options"] == {"http_endpoint": "enabled", "http_tokens": "required",
                                            "http_put_response_hop_limit": 1}
    ebs = template["block_device_mappings"][0]["ebs"]
    assert ebs["encrypted"] == "true" and ebs["volume_type"] == "gp3" and ebs["kms_key_id"]
    (nodes_sg,) = [n for n, g in resources(stack, "aws_security_group").items() if g["tags"]["Name"].endswith("-nodes")]
    assert f"${{aws_security_group.{nodes_sg}.id}}" in template["vpc_security_group_ids"]
    for group in resources(stack, "aws_eks_node_group").values():
        assert "remote_access" not in group


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_the_nodes_group_belongs_to_eks_and_moved_there_without_a_replacement(stacks, stack_name):
    from modules.eks.cluster import NODES_SG_BEFORE_2026_11

    stack = stacks[stack_name]
    (name,) = [n for n, g in resources(stack, "aws_security_group").items() if g["tags"]["Name"].endswith("-nodes")]
    assert stack["resource"]["aws_security_group"][name]["//"]["metadata"]["path"].endswith("/eks/nodes-sg")
    # the state of the group that lived in the load-balancing construct moves to it (no destroy/create)
    assert {"from": NODES_SG_BEFORE_2026_11, "to": f"aws_security_group.{name}"} in stack["moved"]
    # and the load balancers open their ports into that group, and only theirs
    sources = {r["referenced_security_group_id"] for r in resources(stack, "aws_vpc_security_group_ingress_rule").values()
               if r["security_group_id"] == f"${{aws_security_group.{name}.id}}"}
    lb_groups = {f"${{aws_security_group.{n}.id}}" for n, g in resources(stack, "aws_security_group").items()
                 if g["tags"]["Name"].endswith(("-alb", "-nlb"))}
    assert sources == lb_groups and len(lb_groups) == 2


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_core_addons_are_pinned_and_aws_callers_use_pod_identity(stacks, stack_name):
    addons = {a["addon_name"]: a for a in resources(stacks[stack_name], "aws_eks_addon").values()
              if a["addon_name"] != "amazon-cloudwatch-observability"}  # the observability tier's (its own test)
    version = REGIONAL[stack_name].env.eks.version
    assert {name: a["addon_version"] for name, a in addons.items()} == eks_versions.VERSIONS[version].addons
    assert sorted(addons) == sorted(eks_versions.ADDON_NAMES)
    assert addons["vpc-cni"]["pod_identity_association"][0]["service_account"] == "aws-node"
    assert addons["aws-ebs-csi-driver"]["pod_identity_association"][0]["service_account"] == "ebs-csi-controller-sa"
    stack = stacks[stack_name]
    (node_role,) = [n for n, r in resources(stack, "aws_iam_role").items() if r["name"].endswith("-eks-nodes")]
    node_policies = sorted(a["policy_arn"].rsplit("/", 1)[1]
                           for a in resources(stack, "aws_iam_role_policy_attachment").values()
                           if a["role"] == f"${{aws_iam_role.{node_role}.name}}")
    # the CNI's rights live with the CNI's own role (Pod Identity), not on every node
    assert node_policies == ["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy"]


@pytest.mark.parametrize("stack_name", sorted(REGIONAL))
def test_cluster_outputs_for_the_gitops_stack(stacks, stack_name):
    assert {"cluster_name", "cluster_endpoint", "cluster_ca_data", "cluster_oidc_issuer",
            "nodes_security_group_id"} <= set(stacks[stack_name]["output"])


def test_no_helm_kubernetes_or_cloudflare_provider_in_the_aws_stacks(stacks):
    for name, stack in stacks.items():
        providers = set(stack["terraform"]["required_providers"])
        if name in GITOPS:
            assert {"helm", "kubernetes"} <= providers
        elif name in STACKS and name == dns_cloudflare_stack(env_of(name).name):
            assert providers == {"cloudflare"}
        else:
            assert not providers & {"helm", "kubernetes", "cloudflare"}, name
