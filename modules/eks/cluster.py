"""An EKS cluster per region: private API, envelope encryption, two capacity types over every AZ."""

from __future__ import annotations

import json

from cdktf import Fn
from constructs import Construct

from environments.schema import EksConfig
from modules.iam import AccountContext, policy_document, service_assume_role_policy
from modules.network.network import Network
from modules.outputs import stack_output
from modules.providers import aws
from modules.security.keys import RegionalKey, RegionKeys
from modules.stacks.names import physical
from modules.tags import CAPACITY_TYPE_LABEL

LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
# Add-ons that call AWS APIs get their own role through EKS Pod Identity (no node-wide rights).
ADDON_IDENTITIES = {
    "vpc-cni": ("aws-node", "AmazonEKS_CNI_Policy"),
    "aws-ebs-csi-driver": ("ebs-csi-controller-sa", "service-role/AmazonEBSCSIDriverPolicy"),
}
# The VPC CNI enforces Kubernetes NetworkPolicies only when its network policy agent is on;
# without it the GitOps namespaces' default-deny policies are accepted and silently ignored.
# https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html
ADDON_CONFIGURATION = {"vpc-cni": {"enableNetworkPolicy": "true"}}
# The taint of spot nodes; workloads that may run on spot tolerate it.
SPOT_TAINT = ("spofless.io/capacity", "spot")
# Add-ons that run Deployments: on on-demand nodes (their DaemonSets tolerate every taint).
# Keys from the add-ons' configuration schemas (aws eks describe-addon-configuration).
ON_DEMAND = {CAPACITY_TYPE_LABEL: "ON_DEMAND"}
ADDON_PLACEMENT = {
    "coredns": {"nodeSelector": ON_DEMAND},
    "aws-ebs-csi-driver": {"controller": {"nodeSelector": ON_DEMAND}},
}
# What a node's launch template starts, each tagged with the environment's tags.
LAUNCHED_RESOURCE_TYPES = ("instance", "volume", "network-interface")
# Node role: join the cluster and pull images; nothing else (the CNI's rights live with the CNI).
NODE_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"]


# Where the nodes' security group was before it moved into this construct (its logical id there,
# the same in every regional stack); the moved block is a no-op on a fresh account.
NODES_SG_BEFORE_2026_11 = "aws_security_group.lb_nodes-sg_037332A5"

def pod_identity_trust(cluster_arn: str, namespace: str, service_account: str) -> str:
    """Trust for EKS Pod Identity limited to one cluster's service account (session-tag conditions)."""
    return policy_document([{
        "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": {"aws:RequestTag/eks-cluster-arn": cluster_arn,
                                       "aws:RequestTag/kubernetes-namespace": namespace,
                                       "aws:RequestTag/kubernetes-service-account": service_account}}}])


class Cluster(Construct):
    """EKS cluster with ON_DEMAND and SPOT managed node groups spanning the private subnets of every AZ.

    - API: access entries only (no aws-auth ConfigMap), private endpoint, public
      endpoint off unless CIDRs are configured, every control-plane log type on.
    - Secrets are envelope-encrypted with this region's ``eks`` key (the primary
      key in the primary region, its replica in the standby).
    - Nodes: a launch template requiring IMDSv2 (hop limit 1, so pods cannot
      borrow the node's role) and encrypted gp3 root volumes. EKS cannot mix
      capacity types in one group, so on-demand and spot are two groups; the spot
      group lists several instance types.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, region: str, network: Network,
                 config: EksConfig, keys: RegionKeys, workload_ports: tuple[int, ...], account: AccountContext,
                 tags: dict[str, str]):
        super().__init__(scope, construct_id)
        self.name = name
        self.region = region
        self.tags = tags
        partition = account.partition
        managed = lambda policy: f"arn:{partition}:iam::aws:policy/{policy}"  # noqa: E731

        cluster_role = aws("iam_role").IamRole(
            self, "cluster-role", name=f"{name}-eks-cluster",
            assume_role_policy=policy_document([{
                "Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"]}]))
        attachment = aws("iam_role_policy_attachment").IamRolePolicyAttachment(
            self, "cluster-policy", role=cluster_role.name, policy_arn=managed("AmazonEKSClusterPolicy"))

        # Created here, before the cluster, so it is encrypted and kept for a set time
        # (EKS would otherwise create it unencrypted with no expiry).
        log_group = aws("cloudwatch_log_group").CloudwatchLogGroup(
            self, "control-plane-logs", name=f"/aws/eks/{name}/cluster",
            retention_in_days=config.control_plane_log_retention_days, kms_key_id=keys.logs.arn)

        eks = aws("eks_cluster")
        self.cluster = eks.EksCluster(
            self, "cluster",
            name=name,
            version=config.version,
            role_arn=cluster_role.arn,
            vpc_config=eks.EksClusterVpcConfig(
                subnet_ids=network.subnet_ids("private"),
                endpoint_private_access=True,
                endpoint_public_access=bool(config.public_endpoint_cidrs),
                public_access_cidrs=list(config.public_endpoint_cidrs) or None,
            ),
            # Access entries only, and no implicit admin for whoever created the cluster: every
            # principal with access is declared below (the deployer and the admins).
            access_config=eks.EksClusterAccessConfig(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False),
            enabled_cluster_log_types=LOG_TYPES,
            # Explicit, because the API's default is EXTENDED (billed at the higher rate); with
            # STANDARD, EKS upgrades the control plane itself when standard support ends.
            # https://docs.aws.amazon.com/eks/latest/userguide/view-upgrade-policy.html
            upgrade_policy=eks.EksClusterUpgradePolicy(support_type=config.support_type),
            # Zonal shift moves the cluster's east-west traffic (Services, endpoints) away from an impaired
            # AZ and stops the node groups launching there; autoshift does it when AWS sees the AZ fail.
            # https://docs.aws.amazon.com/eks/latest/userguide/zone-shift.html
            zonal_shift_config=eks.EksClusterZonalShiftConfig(enabled=True),
            encryption_config=eks.EksClusterEncryptionConfig(
                provider=eks.EksClusterEncryptionConfigProvider(key_arn=keys.eks.arn),
                resources=["secrets"]),
            tags={"Name": name},
            depends_on=[attachment, log_group],
        )
        self.oidc = aws("iam_openid_connect_provider").IamOpenidConnectProvider(
            self, "oidc", url=self.cluster.identity.get(0).oidc.get(0).issuer,
            client_id_list=["sts.amazonaws.com"])

        self._access_entries(config, partition)
        if config.deployer_access == "in-vpc":
            # The private endpoint answers only what the cluster security group admits; EKS's
            # default admits the cluster's own ENIs (nodes), not a runner elsewhere in the VPC.
            # https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html
            aws("vpc_security_group_ingress_rule").VpcSecurityGroupIngressRule(
                self, "api-from-vpc", security_group_id=self.cluster.vpc_config.cluster_security_group_id,
                description="Kubernetes API from the region's runner, inside the VPC", ip_protocol="tcp",
                from_port=443, to_port=443, cidr_ipv4=network.cidr)
        node_role = self._node_role(managed)
        # The workload nodes' own security group: the load balancers open their ports into it
        # (LoadBalancing adds those rules). It lived in the load-balancing construct until
        # 2026-11; the moved block keeps the existing group (a new one would be a replacement:
        # its description is ForceNew, and every node would be cut off while it happens).
        self.nodes_sg = aws("security_group").SecurityGroup(
            self, "nodes-sg", name=f"{name}-nodes", vpc_id=network.vpc_id, tags={"Name": f"{name}-nodes"},
            description=f"Workload nodes: {' and '.join(map(str, workload_ports))} only from the load balancers")
        self.nodes_sg.move_from_id(NODES_SG_BEFORE_2026_11)
        template = self._launch_template(config, keys.storage, self.nodes_sg.id)
        self.node_group_floors: dict[str, tuple[int, bool]] = {}
        self.node_groups = {
            capacity: self._node_group(capacity, size, types, node_role, template, network)
            for capacity, size, types in (
                ("ON_DEMAND", config.on_demand, config.on_demand_instance_types),
                ("SPOT", config.spot, config.spot_instance_types),
            )
        }
        self._addons(config.addons, managed)
        self.nodes_security_group_id = self.nodes_sg.id
        self.vpc_id = network.vpc_id
        self._outputs()

    def _access_entries(self, config: EksConfig, partition: str) -> None:
        """Cluster-admin access entries: the deployer (who applies the gitops stacks) and the admins.

        With ``authentication_mode = API`` and creator admin off, a principal without an
        entry gets 401 from the API: https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html
        """
        principals = [("deployer", config.deployer_role_arn),
                      *((f"admin-{index}", arn) for index, arn in enumerate(config.admin_role_arns))]
        for construct_id, role_arn in principals:
            entry = aws("eks_access_entry").EksAccessEntry(
                self, construct_id, cluster_name=self.cluster.name, principal_arn=role_arn, type="STANDARD")
            aws("eks_access_policy_association").EksAccessPolicyAssociation(
                self, f"{construct_id}-policy", cluster_name=self.cluster.name, principal_arn=role_arn,
                policy_arn=f"arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                access_scope={"type": "cluster"}, depends_on=[entry])

    def _node_role(self, managed):
        role = aws("iam_role").IamRole(
            self, "node-role", name=f"{self.name}-eks-nodes",
            assume_role_policy=service_assume_role_policy("ec2.amazonaws.com"))
        self._node_attachments = [
            aws("iam_role_policy_attachment").IamRolePolicyAttachment(
                self, f"node-{policy}", role=role.name, policy_arn=managed(policy))
            for policy in NODE_POLICIES
        ]
        return role

    def _launch_template(self, config: EksConfig, storage_key: RegionalKey, nodes_security_group_id: str):
        template = aws("launch_template")
        return template.LaunchTemplate(
            self, "nodes-template",
            name=f"{self.name}-nodes",
            update_default_version=True,
            # The cluster security group keeps node <-> control plane traffic working;
            # the nodes group admits the load balancers on the app port.
            vpc_security_group_ids=[self.cluster.vpc_config.cluster_security_group_id, nodes_security_group_id],
            metadata_options=template.LaunchTemplateMetadataOptions(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1),
            block_device_mappings=[template.LaunchTemplateBlockDeviceMappings(
                device_name="/dev/xvda",
                ebs=template.LaunchTemplateBlockDeviceMappingsEbs(
                    volume_size=config.node_disk_gib, volume_type="gp3", encrypted="true",
                    kms_key_id=storage_key.arn, delete_on_termination="true"))],
            monitoring=template.LaunchTemplateMonitoring(enabled=True),
            # The provider's default_tags reach the launch template itself, not what it launches:
            # the instances, their volumes and network interfaces get the environment's tags here.
            # https://registry.terraform.io/providers/hashicorp/aws/5.100.0/docs#default_tags-configuration-block
            # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchTemplateTagSpecificationRequest.html
            tag_specifications=[template.LaunchTemplateTagSpecifications(
                resource_type=kind, tags={**self.tags, "Name": f"{self.name}-node"})
                for kind in LAUNCHED_RESOURCE_TYPES],
        )

    def _node_group(self, capacity: str, size, instance_types, role, template, network: Network):
        label = "on-demand" if capacity == "ON_DEMAND" else "spot"
        # the names, minimums and capacity as plain values, for what watches the groups (the alert rules)
        self.node_group_floors[f"{self.name}-{label}"] = (size.min, capacity == "SPOT")
        group = aws("eks_node_group")
        return group.EksNodeGroup(
            self, f"nodes-{label}",
            cluster_name=self.cluster.name,
            node_group_name=f"{self.name}-{label}",
            node_role_arn=role.arn,
            subnet_ids=network.subnet_ids("private"),
            capacity_type=capacity,
            instance_types=list(instance_types),
            scaling_config=group.EksNodeGroupScalingConfig(
                min_size=size.min, desired_size=size.desired, max_size=size.max),
            update_config=group.EksNodeGroupUpdateConfig(max_unavailable_percentage=33),
            launch_template=group.EksNodeGroupLaunchTemplate(
                id=template.id, version=Fn.tostring(template.latest_version)),
            labels={"spofless.io/capacity": label},
            # Spot nodes take only pods that tolerate losing them at two minutes' notice: the
            # platform's add-ons (on-demand nodeSelector) and anything without the toleration
            # stay on on-demand capacity. https://docs.aws.amazon.com/eks/latest/userguide/node-taints-managed-node-groups.html
            taint=[group.EksNodeGroupTaint(key=SPOT_TAINT[0], value=SPOT_TAINT[1], effect="NO_SCHEDULE")]
            if capacity == "SPOT" else None,
            # Autoscalers own the live size; Terraform sets the bounds.
            lifecycle={"ignore_changes": ["scaling_config[0].desired_size"]},
            depends_on=self._node_attachments,
        )

    def _addons(self, versions: dict[str, str], managed) -> None:
        addon = aws("eks_addon")
        for name, version in versions.items():
            identities = None
            if name in ADDON_IDENTITIES:
                service_account, policy = ADDON_IDENTITIES[name]
                role = self.pod_role(name, "kube-system", service_account)
                aws("iam_role_policy_attachment").IamRolePolicyAttachment(
                    self, f"{name}-policy", role=role.name, policy_arn=managed(policy))
                identities = [addon.EksAddonPodIdentityAssociation(role_arn=role.arn, service_account=service_account)]
            addon.EksAddon(
                self, f"addon-{name}", cluster_name=self.cluster.name, addon_name=name, addon_version=version,
                configuration_values=self._configuration(name),
                resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                pod_identity_association=identities,
                # coredns and the EBS driver run as pods: they need nodes first
                depends_on=list(self.node_groups.values()) if name in ("coredns", "aws-ebs-csi-driver") else None,
            )

    @staticmethod
    def _configuration(name: str):
        values = {**ADDON_CONFIGURATION.get(name, {}), **ADDON_PLACEMENT.get(name, {})}
        return json.dumps(values, sort_keys=True, separators=(",", ":")) if values else None

    def pod_role(self, key: str, namespace: str, service_account: str):
        """An IAM role that EKS Pod Identity hands to one service account of this cluster only (an add-on's
        own association, or :meth:`pod_identity`'s).

        The trust names the cluster, namespace and service account through the session tags the
        Pod Identity agent sets: without them any association in the account (another environment's
        cluster included) could be given this role.
        https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html
        https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html
        """
        return aws("iam_role").IamRole(
            self, f"{key}-role", name=physical(f"{self.name}-{key}", 64),
            assume_role_policy=pod_identity_trust(self.cluster.arn, namespace, service_account))

    def pod_identity(self, construct_id: str, *, namespace: str, service_account: str,
                     statements: list[dict]) -> None:
        """An IAM role for one service account through EKS Pod Identity (the agent add-on is pinned)."""
        role = self.pod_role(construct_id, namespace, service_account)
        aws("iam_role_policy").IamRolePolicy(self, f"{construct_id}-policy", role=role.id, name=construct_id,
                                             policy=policy_document(statements))
        aws("eks_pod_identity_association").EksPodIdentityAssociation(
            self, f"{construct_id}-identity", cluster_name=self.cluster.name, namespace=namespace,
            service_account=service_account, role_arn=role.arn)

    def _outputs(self) -> None:
        values = {
            "cluster_name": (self.cluster.name, "EKS cluster name"),
            "cluster_endpoint": (self.cluster.endpoint, "Kubernetes API endpoint (private)"),
            "cluster_ca_data": (self.cluster.certificate_authority.get(0).data, "Cluster CA, base64"),
            "cluster_oidc_issuer": (self.cluster.identity.get(0).oidc.get(0).issuer, "OIDC issuer URL (IRSA)"),
            "nodes_security_group_id": (self.nodes_security_group_id, "Security group of the workload nodes"),
        }
        for name, (value, description) in values.items():
            stack_output(self, name, value, description)

    @property
    def cluster_name(self) -> str:
        return self.cluster.name

    @property
    def endpoint(self) -> str:
        return self.cluster.endpoint

    @property
    def ca_data(self) -> str:
        return self.cluster.certificate_authority.get(0).data
