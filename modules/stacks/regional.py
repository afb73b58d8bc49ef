"""``<env>-<region>``: everything that lives in one region of an environment."""

from __future__ import annotations

from typing import Literal

from constructs import Construct

from environments.schema import EnvironmentConfig, RegionConfig
from modules.data import app_bucket_name, cache_members, canary_bucket_name, cluster_name
from modules.data.replication import replication_rule_id
from modules.data.storage import RegionalStorage
from modules.dns.zone import RegionalCertificates
from modules.eks.cluster import ON_DEMAND, Cluster
from modules.failover import METRIC_NAME, METRIC_NAMESPACE, inactive_alarm_name
from modules.failover.zonal import ZonalAutoshift
from modules.gitops.bootstrap import ARGOCD_NAMESPACE, FLUX_NAMESPACE
from modules.gitops.addons import AUTOSCALER_SERVICE_ACCOUNT, ESO_SERVICE_ACCOUNT, LBC_SERVICE_ACCOUNT
from modules.iam import AccountContext, PolicyStatements
from modules.loadbalancing.load_balancers import LoadBalancing
from modules.network.network import Network
from modules.dns.records import plan_records, region_name
from modules.observability.alarms import RegionalAlarms
from modules.observability.canary import RegionalCanary
from modules.observability.dashboard import RegionalDashboard
from modules.observability.logs import ContainerLogs
from modules.observability.naming import canary_alarm_name, peer_canary_alarm_name
from modules.observability.metrics import RegionalMetrics
from modules.providers import aws
from modules.security.keys import KeyRing
from modules.security.secrets import secret_arn_pattern
from modules.stacks import names
from modules.stacks.base import SpoflessStack


# What the load balancer controller calls when all it does is TargetGroupBindings of ip targets with a
# known VPC (v3.5.0): the webhooks DescribeTargetGroups (webhooks/elbv2/targetgroup_helper.go), the
# reconciler DescribeTargetHealth, RegisterTargets, DeregisterTargets (pkg/targetgroupbinding/
# targets_manager.go) and DescribeVpcs (resource_manager.go), and the networking clean-up
# DescribeSecurityGroups even without a networking section (pkg/networking/networking_manager.go).
# The installation guide's subset for "add and remove IPs to already existing target groups" adds
# ModifyTargetGroup(Attributes) and DescribeInstances, which this path never calls (vpcId is set).
# https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v3.5.0/docs/deploy/installation.md
LBC_DESCRIBE = ("ec2:DescribeSecurityGroups", "ec2:DescribeVpcs",
                "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth")
LBC_TARGETS = ("elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets")


def lbc_statements(target_group_arns: list[str]) -> list[dict]:
    """The load balancer controller's policy: reads everywhere (they take no resource), target registration on
    ``target_group_arns`` only. No security group, listener, rule, WAF, Shield or load balancer call."""
    return [{"Sid": "Discover", "Effect": "Allow", "Action": list(LBC_DESCRIBE), "Resource": "*"},
            {"Sid": "RegisterPodsInOwnTargetGroups", "Effect": "Allow", "Action": list(LBC_TARGETS),
             "Resource": list(target_group_arns)}]


class RegionalStack(SpoflessStack):
    """Network, load balancing, the EKS cluster, the application bucket and ECR repositories of one region.

    ``role`` says whether this is the environment's primary or standby region;
    both are built by the same code and differ only in the values they get.
    ``keys`` is the security stack's key ring: this region's keys (the primary
    key in the primary region, the replica in the standby) come from it as
    cross-stack references, and so does this region's issued TLS certificate
    from the DNS zone stack.
    """

    def __init__(self, scope: Construct, stack_id: str, *, env: EnvironmentConfig,
                 region: RegionConfig, role: Literal["primary", "standby"], keys: KeyRing,
                 certificates: RegionalCertificates, name_servers=None):
        super().__init__(scope, stack_id, env=env, side=role)
        self.region = region
        self.role = role
        self.aws_provider(region.name)
        account = AccountContext(self, "account")
        region_keys = keys.region(region.name)
        self.network = Network(
            self, "network",
            name=stack_id,
            region=region,
            settings=env.network,
            flow_log_key=region_keys.logs,
            account=account,
        )
        self.cluster = Cluster(
            self, "eks",
            name=stack_id,
            region=region.name,
            network=self.network,
            config=env.eks,
            keys=region_keys,
            workload_ports=(env.load_balancing.app_port, env.load_balancing.nlb_target_port),
            account=account,
            tags=env.all_tags,
        )
        self.load_balancing = LoadBalancing(
            self, "lb",
            name=stack_id,
            region=region.name,
            network=self.network,
            config=env.load_balancing,
            certificate_arn=certificates.certificate_arn(region.name),
            logs_key=region_keys.logs,
            nodes_sg=self.cluster.nodes_sg,
            account=account,
            server_log_sources=(app_bucket_name(env.name, region.name, env.account_id),
                                *((canary_bucket_name(env.name, region.name, env.account_id),)
                                  if env.observability.canary_minutes else ())),
        )
        self.metrics = RegionalMetrics(self, "metrics", stack=stack_id, config=env.observability,
                                       logs_key_arn=region_keys.logs.arn) if env.observability.cluster_metrics else None
        self.alarms = RegionalAlarms(
            self, "alarms", name=stack_id, region=region.name, load_balancers=self.load_balancing.load_balancers,
            config=env.observability, logs_key=region_keys.logs, account=account, web_acl_name=stack_id,
            prometheus_workspace_arn=self.metrics.workspace_arn if self.metrics else "")
        if self.metrics:
            self.metrics.watch(
                cluster_arn=self.cluster.cluster.arn, cluster=stack_id, subnet_ids=self.network.subnet_ids("collector"),
                security_group_id=self.cluster.cluster.vpc_config.cluster_security_group_id,
                node_groups=self.cluster.node_group_floors, engines=f"{ARGOCD_NAMESPACE}|{FLUX_NAMESPACE}",
                region=region.name,
                topic_arn=self.alarms.topic.arn, topic_policy=self.alarms.topic_policy)
        if env.observability.canary_minutes:
            path = env.observability.canary_path or env.dns.health_check.path
            self.canary = RegionalCanary(
                self, "canary", stack=stack_id, region=region.name,
                bucket_name=canary_bucket_name(env.name, region.name, env.account_id),
                targets=self._canary_targets(env, [region.name], path),
                peer_targets=self._canary_targets(env, [r.name for r in env.regions.all if r.name != region.name], path),
                config=env.observability, storage_key=region_keys.storage, topic_arn=self.alarms.topic.arn,
                account=account, log_bucket_id=self.load_balancing.logs.bucket.id,
                log_bucket_policy=self.load_balancing.logs.policy, name_servers=name_servers)
        if env.regions.standby is not None:
            self._region_inactive_alarm(env.name, stack_id)
        if env.failover.zonal_autoshift:
            lbs = {f"LoadBalancer{key.replace('-', '').title()}": lb.arn
                   for key, lb in self.load_balancing.load_balancers.items()}
            ZonalAutoshift(self, "zonal-autoshift", regional_stack=stack_id,
                           resources={**lbs, "Cluster": self.cluster.cluster.arn},
                           alarm_arn=self.canary.alarm.arn, depends_on=[self.canary.alarm])
        self._dashboard(env, region.name, role, account)
        if env.observability.container_logs:
            ContainerLogs(self, "container-logs", cluster=self.cluster,
                          version=env.eks.release.observability_addon, config=env.observability,
                          logs_key_arn=region_keys.logs.arn, partition=account.partition, on_demand=dict(ON_DEMAND))
        # the application bucket and ECR repositories: both regions' exist before any replication rule
        self.storage = RegionalStorage(
            self, "storage",
            env_name=env.name,
            account_id=env.account_id,
            region=region.name,
            config=env.data,
            storage_key=region_keys.storage,
            log_bucket_id=self.load_balancing.logs.bucket.id,
            log_bucket_policy=self.load_balancing.logs.policy,
        )
        self._platform_identities(env, region.name, keys, account)

    def _region_inactive_alarm(self, env_name: str, stack_id: str) -> None:
        """In ALARM while the Region switch plan's DNS step has made another region the active one: a child of
        this region's Route53 health check (modules/dns/route53.py), so Route53 stops answering this region
        even while its load balancers still answer. The metric is written once per run; with no data after
        that the alarm keeps its state (treat_missing_data: ignore), and the health check reads it as last
        known. Route53 reads only an alarm on one standard-resolution metric with a plain statistic.
        https://docs.aws.amazon.com/Route53/latest/APIReference/API_AlarmIdentifier.html"""
        aws("cloudwatch_metric_alarm").CloudwatchMetricAlarm(
            self, "region-inactive", alarm_name=inactive_alarm_name(stack_id),
            alarm_description="The failover plan made another region active: Route53 answers that region",
            namespace=METRIC_NAMESPACE, metric_name=METRIC_NAME, dimensions={"Environment": env_name},
            statistic="Maximum", period=60, evaluation_periods=1, datapoints_to_alarm=1, threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="ignore",
            # the on-call hears that the plan took this region out of DNS, and when it is back
            alarm_actions=[self.alarms.topic.arn], ok_actions=[self.alarms.topic.arn])

    def _dashboard(self, env: EnvironmentConfig, region: str, role: str, account: AccountContext) -> None:
        """The region's dashboard, from the same names the alarms and the data tier use."""
        stack = self.node.id
        others = [r.name for r in env.regions.all if r.name != region]
        alarms = [self.alarms.region_alarm_name, *self.alarms.zone_names.values()]
        if env.observability.canary_minutes:
            alarms += [canary_alarm_name(stack), *([peer_canary_alarm_name(stack)] if others else [])]
        incoming = None
        if others and env.data.bucket.replication_time_control:
            incoming = (app_bucket_name(env.name, others[0], env.account_id),
                        app_bucket_name(env.name, region, env.account_id), replication_rule_id(region))
        RegionalDashboard(
            self, "dashboard", stack=stack, region=region, load_balancers=self.load_balancing.load_balancers,
            alarm_arns=[f"arn:{account.partition}:cloudwatch:{region}:{env.account_id}:alarm:{a}" for a in alarms],
            canaries=bool(env.observability.canary_minutes), peers=[names.regional(env.name, r) for r in others],
            web_acl_name=stack, incoming_replication=incoming,
            aurora_lag_cluster=cluster_name(env.name, region) if others and role == "standby" else None,
            cache_lag_members=tuple(cache_members(env.name, region, 1 + env.data.cache.replicas))
            if others and role == "standby" else ())

    @staticmethod
    def _canary_targets(env: EnvironmentConfig, regions: list[str], path: str) -> list[dict]:
        """Every platform name of ``regions``, through each region's own failover name."""
        return [{"connect": region_name(record.fqdn, region), "host": record.fqdn, "path": path}
                for region in regions for record in sorted(plan_records(env)[1], key=lambda r: r.fqdn)]

    def _autoscaler_identity(self, region: str, account: AccountContext) -> None:
        """The Cluster Autoscaler may resize and shrink only this cluster's node groups.

        Reads are account-wide (the Describe calls take no resource); the two calls that change
        capacity are limited to Auto Scaling groups tagged for this cluster, which EKS tags on
        every managed node group it creates (k8s.io/cluster-autoscaler/<cluster> = owned).
        https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md
        https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html
        """
        name = self.cluster.name
        namespace, service_account = AUTOSCALER_SERVICE_ACCOUNT
        self.cluster.pod_identity("cluster-autoscaler", namespace=namespace, service_account=service_account,
                                  statements=[
            {"Sid": "Discover", "Effect": "Allow", "Resource": "*",
             "Action": ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
                        "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
                        "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements"]},
            {"Sid": "ReadNodeGroups", "Effect": "Allow", "Action": "eks:DescribeNodegroup",
             "Resource": f"arn:{account.partition}:eks:{region}:{account.account_id}:nodegroup/{name}/*"},
            {"Sid": "ResizeOwnNodeGroups", "Effect": "Allow", "Resource": "*",
             "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
             "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{name}": "owned"}}},
        ])

    def _platform_identities(self, env: EnvironmentConfig, region: str, keys: KeyRing,
                             account: AccountContext) -> None:
        """AWS roles of the in-cluster platform pieces the gitops stack installs (EKS Pod Identity)."""
        namespace, service_account = LBC_SERVICE_ACCOUNT
        self.cluster.pod_identity("lb-controller", namespace=namespace, service_account=service_account,
                                  statements=lbc_statements(
                                      [lb.target_group_arn for _, lb in sorted(self.load_balancing.load_balancers.items())]))
        self._autoscaler_identity(region, account)
        # External Secrets reads the Git tokens from this region's copy (the replica in the standby).
        names = {env.gitops.github_token_secret, env.gitops.gitlab_token_secret} if env.gitops.sources else set()
        secrets = [s for s in env.security.secrets if s.name in names]
        if not secrets:
            return
        namespace, service_account = ESO_SERVICE_ACCOUNT
        statements = PolicyStatements([{
            "Sid": "ReadGitTokens", "Effect": "Allow",
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Resource": sorted(secret_arn_pattern(account, region, env.name, s.name) for s in secrets),
        }])
        for purpose in sorted({s.key for s in secrets}):
            keys.key(purpose, region).grant_decrypt(statements, via_service="secretsmanager")
        self.cluster.pod_identity("external-secrets", namespace=namespace, service_account=service_account,
                                  statements=statements)
