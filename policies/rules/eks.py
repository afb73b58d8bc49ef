"""EKS: the in-cluster stacks reach their cluster, NetworkPolicies are enforced, versions in support, node groups sized by an autoscaler, spot isolated from the platform pods, launch templates tagged.

One rule, one place: each cites the document it encodes; its failing and passing fixtures are named
in the registry (:mod:`policies.rules.registry`)."""

from __future__ import annotations

import json
from typing import Optional


from modules.tags import CAPACITY_TYPE_LABEL
from policies.model.output import Output, Ref, as_list, policy_statements
from policies.model.topology import (cluster_addon, cluster_of_provider, installed_releases,
                                     installers, node_groups_of, values_at)
from policies.rules.registry import rule


@rule(14, "NetworkPolicies in a cluster are enforced: the VPC CNI's network policy agent is on",
      "https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html")
def network_policies_enforced(output: Output):
    for stack in output.stacks:
        policies = [n for t in ("kubernetes_network_policy_v1", "kubernetes_network_policy")
                    for n in output.resources(stack, t)]
        if not policies:
            continue
        cluster = cluster_of_provider(output, stack)
        if cluster is None:
            yield stack, "network policies", False, "their cluster cannot be found from the kubernetes provider"
            continue
        cni = cluster_addon(output, cluster, "vpc-cni")
        try:
            config = json.loads((cni or {}).get("configuration_values") or "{}")
        except json.JSONDecodeError:
            config = {}
        on = str(config.get("enableNetworkPolicy", "")).lower() == "true"
        yield stack, f"{len(policies)} network policies on {cluster.address} ({cluster.stack})", on, (
            "the vpc-cni add-on does not set enableNetworkPolicy: the policies are accepted and not enforced")


CLUSTER_ADMIN = "AmazonEKSClusterAdminPolicy"


def _refers_to(output: Output, stack: str, value, target: Ref, attribute: Optional[str] = None) -> bool:
    return any(r.address == target.address and r.stack == target.stack
               and (attribute is None or r.attribute.startswith(attribute)) for r in output.refs(stack, value))


@rule(3, "A cluster that a stack installs into admits that stack's Terraform: an access entry and a network path",
      "https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html")
def gitops_reaches_cluster(output: Output):
    for stack in output.stacks:
        cluster = cluster_of_provider(output, stack)
        if cluster is None:
            continue
        conf = output.get(cluster) or {}
        subject = f"{cluster.address} ({cluster.stack}) from {stack}"
        access = (as_list(conf.get("access_config")) or [{}])[0]
        admins = set()
        if access.get("bootstrap_cluster_creator_admin_permissions") is True:
            admins.add("the cluster creator")
        entries = {c.get("principal_arn") for c in output.resources(cluster.stack, "aws_eks_access_entry").values()
                   if _refers_to(output, cluster.stack, c.get("cluster_name"), cluster)}
        for association in output.resources(cluster.stack, "aws_eks_access_policy_association").values():
            if (association.get("principal_arn") in entries and str(association.get("policy_arn", "")).endswith(CLUSTER_ADMIN)
                    and _refers_to(output, cluster.stack, association.get("cluster_name"), cluster)):
                admins.add(association.get("principal_arn"))
        if not admins:
            yield stack, subject, False, ("no access entry with cluster-admin and creator admin off: every call "
                                          "from the gitops stack gets 401 (authentication_mode API)")
            continue
        vpc = (as_list(conf.get("vpc_config")) or [{}])[0]
        cidrs = as_list(vpc.get("public_access_cidrs"))
        public = vpc.get("endpoint_public_access") is True and cidrs and "0.0.0.0/0" not in cidrs
        private = False
        for rtype in ("aws_vpc_security_group_ingress_rule", "aws_security_group_rule"):
            for rule_conf in output.resources(cluster.stack, rtype).values():
                if rtype == "aws_security_group_rule" and rule_conf.get("type") != "ingress":
                    continue
                low, high = rule_conf.get("from_port", -1), rule_conf.get("to_port", -1)
                if (_refers_to(output, cluster.stack, rule_conf.get("security_group_id"), cluster, "vpc_config")
                        and isinstance(low, int) and isinstance(high, int) and low <= 443 <= high):
                    private = True
        yield stack, subject, bool(public or private), (
            "no network path to the API: the public endpoint is off (or open to all) and no ingress rule on "
            "the cluster security group admits 443 to the private endpoint")


LAUNCHED = ("instance", "volume", "network-interface")


def _default_tags(output: Output, stack: str, conf: dict) -> dict[str, str]:
    provider = output.provider_of(stack, conf) or {}
    return {k: v for block in as_list(provider.get("default_tags")) for k, v in (block.get("tags") or {}).items()}


@rule(22, "Instances, volumes and network interfaces a launch template starts carry the environment's tags",
      "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchTemplateTagSpecificationRequest.html")
def launch_template_tags(output: Output):
    for stack, name, template in output.every("aws_launch_template"):
        wanted = _default_tags(output, stack, template)
        specs = {s.get("resource_type"): s.get("tags") or {} for s in as_list(template.get("tag_specifications"))}
        for kind in LAUNCHED:
            tags = specs.get(kind)
            missing = sorted(set(wanted) - set(tags or {}))
            yield stack, f"aws_launch_template.{name} ({kind})", tags is not None and not missing, (
                f"no tag_specifications for {kind}: provider default_tags do not reach what the template launches"
                if tags is None else f"its {kind} tags miss {', '.join(missing)} (provider default_tags)")


@rule(15, "Each cluster runs a Kubernetes version in support at an explicit support type, with that version's add-ons",
      "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html")
def kubernetes_version(output: Output):
    from environments import eks_versions

    for stack, name, cluster in output.every("aws_eks_cluster"):
        version = str(cluster.get("version"))
        subject = f"aws_eks_cluster.{name} (Kubernetes {version})"
        policy = as_list(cluster.get("upgrade_policy"))
        support = (policy[0] if policy else {}).get("support_type")
        if support not in ("STANDARD", "EXTENDED"):
            yield stack, subject, False, ("sets no upgrade_policy.support_type: EKS defaults to EXTENDED (billed at the "
                                          "higher rate), then upgrades the control plane itself")
            continue
        problem = eks_versions.refusal(version, support)
        yield stack, subject, problem is None, f"{problem or ''}; table: environments/eks_versions.py"
        row = eks_versions.VERSIONS.get(version)
        if row is None or not row.addons:
            continue
        for addon, build in sorted(row.addons.items()):
            found = (cluster_addon(output, Ref(stack, "aws_eks_cluster", name, ""), addon) or {}).get("addon_version")
            yield stack, f"{subject} add-on {addon}", found == build, (
                "is not installed as a managed add-on" if found is None else
                f"is {found}, not the build pinned for {version} ({build}): add-ons stay on another version's builds")


def _role_statements(output: Output, stack: str, role: Ref) -> list[dict]:
    statements = []
    for conf in output.resources(stack, "aws_iam_role_policy").values():
        if any(r.address == role.address for r in output.refs(stack, conf.get("role"))):
            statements += policy_statements(conf.get("policy"))
    return statements


@rule(19, "Node groups that may grow are sized by an autoscaler, with a role scoped to this cluster's groups",
      "https://docs.aws.amazon.com/eks/latest/best-practices/cas.html")
def node_autoscaling(output: Output):
    installed = installers(output)
    for stack, name, cluster in output.every("aws_eks_cluster"):
        groups = node_groups_of(output, stack, name)
        elastic = [g for g in groups for s in as_list(g.get("scaling_config"))
                   if int(s.get("min_size", 0)) < int(s.get("max_size", 0))]
        if not elastic:
            continue
        subject = f"aws_eks_cluster.{name} ({len(elastic)} node groups with min < max)"
        gitops = installed.get(f"aws_eks_cluster.{name}@{stack}")
        releases = installed_releases(output, gitops) if gitops else {}
        autoscaler = next((r for r in releases.values() if r["conf"].get("chart") == "cluster-autoscaler"), None)
        if autoscaler is None:
            yield stack, subject, False, "no Cluster Autoscaler is installed: the groups stay at their first size"
            continue
        values, problems = autoscaler["values"], []
        discovered = output.refs(gitops, (values.get("autoDiscovery") or {}).get("clusterName"))
        if not any(r.address == f"aws_eks_cluster.{name}" and r.stack == stack for r in discovered):
            problems.append("its autoDiscovery.clusterName is not this cluster")
        minor = ".".join(str((values.get("image") or {}).get("tag", "")).lstrip("v").split(".")[:2])
        if minor != str(cluster.get("version")):
            problems.append(f"its image {values.get('image')} is not for Kubernetes {cluster.get('version')}")
        if int(values.get("replicaCount", 1)) < 2 or not any(
                c.get("topologyKey") == "topology.kubernetes.io/zone" for c in values.get("topologySpreadConstraints") or []):
            problems.append("it runs fewer than two replicas, or not spread over the zones")
        if (values.get("podDisruptionBudget") or {}).get("enabled") is False:
            problems.append("its PodDisruptionBudget is turned off")
        namespace = autoscaler["conf"].get("namespace")
        account = ((values.get("rbac") or {}).get("serviceAccount") or {}).get("name")
        associations = [c for c in output.resources(stack, "aws_eks_pod_identity_association").values()
                        if c.get("namespace") == namespace and c.get("service_account") == account]
        if not associations:
            problems.append(f"its service account {namespace}/{account} has no AWS role (Pod Identity)")
        for association in associations:
            for role in output.refs(stack, association.get("role_arn")):
                resize = [s for s in _role_statements(output, stack, role)
                          if s.get("Effect") == "Allow" and "autoscaling:SetDesiredCapacity" in as_list(s.get("Action"))]
                if not resize:
                    problems.append("its role may not call autoscaling:SetDesiredCapacity")
                elif any(not any("aws:ResourceTag/k8s.io/cluster-autoscaler/" in key
                                 for block in (s.get("Condition") or {}).values() for key in block) for s in resize):
                    problems.append("its role may resize every Auto Scaling group of the account, not only this "
                                    "cluster's (no aws:ResourceTag/k8s.io/cluster-autoscaler/<cluster> condition)")
        yield stack, subject, not problems, "; ".join(problems)


ON_DEMAND_LABEL = (CAPACITY_TYPE_LABEL, "ON_DEMAND")


# Where each platform chart puts its pods: paths to the pod specs' nodeSelector (siblings: tolerations).
PLACEMENT = {
    "traefik": [()],
    "aws-load-balancer-controller": [()],
    "external-secrets": [(), ("webhook",), ("certController",)],
    "argo-cd": [("global",), ("redis-ha",)],
    "flux2": [("sourceController",), ("kustomizeController",), ("helmController",), ("notificationController",),
              ("imageAutomationController",), ("imageReflectionController",)],
    "cluster-autoscaler": [()],
    "kube-state-metrics": [()],
}


NO_PODS = ("argocd-apps", "flux2-sync")


ADDON_PLACEMENT = {"coredns": (), "aws-ebs-csi-driver": ("controller",)}


def _on_demand_only(spec: Optional[dict], spot_taints: list[dict]) -> Optional[str]:
    if spec is None:
        return "is not configured"
    if (spec.get("nodeSelector") or {}).get(ON_DEMAND_LABEL[0]) != ON_DEMAND_LABEL[1]:
        return f"has no nodeSelector {ON_DEMAND_LABEL[0]}: {ON_DEMAND_LABEL[1]}"
    for toleration in spec.get("tolerations") or []:
        if toleration.get("operator") == "Exists" and not toleration.get("key") or any(
                toleration.get("key") == t.get("key") for t in spot_taints):
            return "tolerates the spot taint"
    return None


@rule(20, "Spot node groups are tainted, and the platform's own pods run on on-demand capacity",
      "https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html#managed-node-group-capacity-types")
def spot_isolation(output: Output):
    installed = installers(output)
    for stack, name, cluster in output.every("aws_eks_cluster"):
        groups = node_groups_of(output, stack, name)
        spot = [g for g in groups if g.get("capacity_type") == "SPOT"]
        if not spot:
            continue
        taints = [t for g in spot for t in as_list(g.get("taint"))]
        for group in spot:
            tainted = any(t.get("effect") in ("NO_SCHEDULE", "NO_EXECUTE") for t in as_list(group.get("taint")))
            yield stack, f"aws_eks_node_group {group.get('node_group_name')}", tainted, (
                "is not tainted: critical pods (quorums, controllers, CoreDNS) land on spot and are reclaimed together")
        for addon_name, path in ADDON_PLACEMENT.items():
            addon = cluster_addon(output, Ref(stack, "aws_eks_cluster", name, ""), addon_name)
            if addon is None:
                continue
            try:
                config = json.loads(addon.get("configuration_values") or "{}")
            except ValueError:
                config = {}
            problem = _on_demand_only(values_at(config, path), taints)
            yield stack, f"add-on {addon.get('addon_name')}", problem is None, f"its configuration {problem}"
        gitops = installed.get(f"aws_eks_cluster.{name}@{stack}")
        for release_name, release in sorted(installed_releases(output, gitops).items() if gitops else []):
            chart = str(release["conf"].get("chart"))
            if chart in NO_PODS or not release["conf"].get("repository"):
                continue  # custom resources only (the apps charts, spofless's own chart)
            if chart not in PLACEMENT:
                yield gitops, f"helm_release {release_name}", False, (
                    f"chart {chart} has no known placement: add it to PLACEMENT in this rule with its nodeSelector paths")
                continue
            problems = []
            for path in PLACEMENT[chart]:
                spec = values_at(release["values"], path)
                if spec is not None and spec.get("create") is False:
                    continue
                problem = _on_demand_only(spec, taints)
                if problem:
                    problems.append(f"{'.'.join(path) or 'the chart'} {problem}")
            yield gitops, f"helm_release {release_name} ({chart})", not problems, "; ".join(problems)
