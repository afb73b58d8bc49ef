"""``<env>-<region>-gitops``: ArgoCD and Flux in one region's cluster.

A separate stack from the cluster's on purpose: the helm and kubernetes
providers here are configured from the cluster's outputs, which only exist
once the regional stack has been applied.
"""

from __future__ import annotations

from pathlib import Path

from cdktf import AssetType, Fn, TerraformAsset
from constructs import Construct

from environments.schema import EnvironmentConfig, RegionConfig
from modules.eks.cluster import Cluster
from modules.gitops.bootstrap import GitopsBootstrap
from modules.network.layout import plan_subnets
from modules.gitops.engines import Role
from modules.providers import helm, kubernetes

from modules.stacks.base import SpoflessStack

CLUSTER_CHART = Path(__file__).resolve().parents[1] / "gitops" / "charts" / "spofless-cluster"


def _exec_auth(module, prefix: str, cluster: Cluster, region: str):
    """``aws eks get-token`` exec credentials: short-lived, nothing stored."""
    return getattr(module, f"{prefix}Exec")(
        api_version="client.authentication.k8s.io/v1beta1", command="aws",
        args=["eks", "get-token", "--cluster-name", cluster.cluster_name, "--region", region])


class GitopsStack(SpoflessStack):
    """Helm and kubernetes providers authenticated with the exec plugin, and the bootstrap."""

    def __init__(self, scope: Construct, stack_id: str, *, env: EnvironmentConfig, region: RegionConfig,
                 role: Role, cluster: Cluster, target_groups: dict[str, tuple[str, int]]):
        super().__init__(scope, stack_id, env=env, side=role)
        ca = Fn.base64decode(cluster.ca_data)
        helm_module = helm("provider")
        helm_provider = helm_module.HelmProvider(
            self, "helm",
            kubernetes=helm_module.HelmProviderKubernetes(
                host=cluster.endpoint, cluster_ca_certificate=ca,
                exec=_exec_auth(helm_module, "HelmProviderKubernetes", cluster, region.name)))
        k8s_module = kubernetes("provider")
        kubernetes_provider = k8s_module.KubernetesProvider(
            self, "kubernetes", host=cluster.endpoint, cluster_ca_certificate=ca,
            exec=[_exec_auth(k8s_module, "KubernetesProvider", cluster, region.name)])
        # spofless's own chart travels with the stack (assets/), so the output stays self-contained.
        chart = TerraformAsset(self, "cluster-chart", path=str(CLUSTER_CHART), type=AssetType.DIRECTORY)
        # every load balancer of the region lives in the public subnets (modules/loadbalancing);
        # nodes and pods (VPC CNI: pod addresses come from the node's subnet) in the private ones
        subnets = plan_subnets(region.vpc_cidr, len(region.zones))
        self.bootstrap = GitopsBootstrap(
            self, "bootstrap", env_name=env.name, region=region.name, config=env.gitops,
            load_balancer_cidrs=subnets.public, pod_cidrs=subnets.private, vpc_id=cluster.vpc_id,
            cluster_name=cluster.cluster_name,
            # two ingress pods per AZ: one AZ lost and one pod disrupted still leave a pod per AZ left
            replicas=2 * len(region.zones), eks=env.eks, load_balancing=env.load_balancing,
            target_groups=target_groups,
            chart_path=chart.path, helm_provider=helm_provider, kubernetes_provider=kubernetes_provider,
            collector_cidrs=subnets.collector if env.observability.cluster_metrics else ())
