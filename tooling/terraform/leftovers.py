"""What the rehearsal verifies after destroy: nothing of the environment is left in the emulator, and
nothing the account baseline owns once was created twice.
"""

from __future__ import annotations

from collections import Counter

from environments.schema import EnvironmentConfig
from tooling.terraform.probes import EMULATOR_DEFAULT_ROLE_PREFIXES, Check, clients


# -- after destroy -------------------------------------------------------------------------

# Every AWS resource type the stacks create -> how the leftovers check sees it: a lister below by
# name, "with <type>" (deleting that one deletes it, in AWS as in the emulator), or "not created"
# (the rehearsal copy drops it: emulated.SKIPPED_TYPES). tests/stacks/test_rehearsal_copy.py fails
# when the stacks gain a type this table does not place, so no type can be left behind unseen.
COVERAGE: dict[str, str] = {
    # the account baseline
    "aws_accessanalyzer_analyzer": "not created",
    # observability
    "aws_cloudformation_stack": "not created",
    "aws_cloudwatch_metric_alarm": "cloudwatch alarms",
    "aws_fis_experiment_template": "not created",
    "aws_cloudwatch_composite_alarm": "not created",
    "aws_cloudwatch_dashboard": "cloudwatch dashboards",
    "aws_synthetics_canary": "not created",
    "aws_prometheus_workspace": "prometheus workspaces",
    "aws_prometheus_rule_group_namespace": "with aws_prometheus_workspace",
    "aws_prometheus_alert_manager_definition": "not created",
    "aws_prometheus_scraper": "not created",
    "aws_prometheus_workspace_configuration": "not created",
    "aws_cloudwatch_event_rule": "event rules",
    "aws_cloudwatch_event_target": "with aws_cloudwatch_event_rule",
    "aws_sns_topic": "sns topics",
    "aws_sns_topic_policy": "with aws_sns_topic",
    "aws_sns_topic_subscription": "with aws_sns_topic",
    "aws_cloudtrail": "trails",
    "aws_config_configuration_recorder": "config recorders",
    "aws_config_configuration_recorder_status": "with aws_config_configuration_recorder",
    "aws_config_delivery_channel": "config delivery channels",
    "aws_ebs_encryption_by_default": "ebs encryption by default",
    "aws_guardduty_detector": "guardduty detectors",
    "aws_guardduty_detector_feature": "with aws_guardduty_detector",
    "aws_s3_account_public_access_block": "account public access block",
    "aws_s3_bucket_object_lock_configuration": "with aws_s3_bucket",
    "aws_securityhub_account": "not created",
    "aws_securityhub_finding_aggregator": "not created",
    "aws_securityhub_standards_subscription": "not created",
    "aws_servicequotas_service_quota": "not created",
    "aws_acm_certificate": "certificates",
    "aws_acm_certificate_validation": "with aws_acm_certificate",
    "aws_backup_plan": "backup plans",
    "aws_backup_selection": "not created",
    "aws_backup_vault": "backup vaults",
    "aws_backup_vault_lock_configuration": "with aws_backup_vault",
    "aws_db_subnet_group": "db subnet groups",
    "aws_ecr_lifecycle_policy": "with aws_ecr_repository",
    "aws_ecr_replication_configuration": "ecr replication",
    "aws_ecr_repository": "ecr repositories",
    "aws_elasticache_global_replication_group": "not created",
    "aws_elasticache_replication_group": "not created",
    "aws_elasticache_subnet_group": "not created",
    "aws_elasticache_user": "not created",
    "aws_elasticache_user_group": "not created",
    "aws_rds_cluster": "db clusters",
    "aws_rds_cluster_instance": "db instances",
    "aws_rds_cluster_parameter_group": "db cluster parameter groups",
    "aws_rds_global_cluster": "global clusters",
    "aws_s3_bucket_logging": "with aws_s3_bucket",
    "aws_s3_bucket_replication_configuration": "with aws_s3_bucket",
    "aws_secretsmanager_secret_version": "with aws_secretsmanager_secret",
    "aws_cloudwatch_log_group": "log groups",
    "aws_cloudwatch_log_resource_policy": "log resource policies",
    "aws_default_security_group": "with aws_vpc",
    "aws_eip": "elastic ips",
    "aws_eks_access_entry": "not created",
    "aws_eks_access_policy_association": "not created",
    "aws_eks_addon": "not created",
    "aws_eks_cluster": "eks clusters",
    "aws_eks_node_group": "eks node groups",
    "aws_eks_pod_identity_association": "not created",
    "aws_flow_log": "flow logs",
    "aws_iam_openid_connect_provider": "oidc providers",
    "aws_iam_role": "iam roles",
    "aws_iam_role_policy": "with aws_iam_role",
    "aws_iam_role_policy_attachment": "with aws_iam_role",
    "aws_iam_service_linked_role": "service-linked roles",
    "aws_internet_gateway": "internet gateways",
    "aws_kms_alias": "kms aliases",
    "aws_kms_key": "kms keys",
    "aws_kms_replica_key": "kms keys",
    "aws_lambda_function": "lambda functions",
    "aws_lambda_permission": "with aws_lambda_function",
    "aws_launch_template": "launch templates",
    "aws_lb": "load balancers",
    "aws_lb_listener": "with aws_lb",
    "aws_lb_target_group": "target groups",
    "aws_nat_gateway": "nat gateways",
    "aws_route": "with aws_route_table",
    "aws_route53_health_check": "health checks",
    "aws_route53_query_log": "not created",
    "aws_route53_record": "with aws_route53_zone",
    "aws_route53_zone": "hosted zones",
    "aws_route_table": "route tables",
    "aws_route_table_association": "with aws_route_table",
    "aws_s3_bucket": "s3 buckets",
    "aws_s3_bucket_lifecycle_configuration": "with aws_s3_bucket",
    "aws_s3_bucket_notification": "with aws_s3_bucket",
    "aws_s3_bucket_ownership_controls": "with aws_s3_bucket",
    "aws_s3_bucket_policy": "with aws_s3_bucket",
    "aws_s3_bucket_public_access_block": "with aws_s3_bucket",
    "aws_s3_bucket_server_side_encryption_configuration": "with aws_s3_bucket",
    "aws_s3_bucket_versioning": "with aws_s3_bucket",
    "aws_secretsmanager_secret": "secrets",
    "aws_secretsmanager_secret_rotation": "not created",
    "aws_security_group": "security groups",
    "aws_subnet": "subnets",
    "aws_vpc": "vpcs",
    "aws_vpc_endpoint": "vpc endpoints",
    "aws_vpc_security_group_egress_rule": "with aws_security_group",
    "aws_vpc_security_group_ingress_rule": "with aws_security_group",
    "aws_wafv2_web_acl": "web acls",
    "aws_wafv2_web_acl_association": "with aws_wafv2_web_acl",
    "aws_wafv2_web_acl_logging_configuration": "with aws_wafv2_web_acl",
}
# What AWS creates for the stacks' resources, listed too: the ENIs of load balancers, endpoints,
# NAT gateways and clusters, and the security group EKS creates for a cluster.
CREATED_BY_AWS = ("network interfaces",)

REGIONAL_LISTERS: dict[str, object] = {}
GLOBAL_LISTERS: dict[str, object] = {}


def _lists(name: str, scope: dict):
    def register(function):
        scope[name] = function
        return function
    return register


def _tagged_once(items, what: str) -> list[str]:
    """Resources of one kind that share a Name tag: a duplicate an interrupted apply left (unnamed
    resources are created again, under a new id, by the next apply)."""
    names = [next((t["Value"] for t in item.get("Tags", []) if t["Key"] == "Name"), None) for item in items]
    counted = Counter(n for n in names if n)
    return [f"{what} named {name} x{count}" for name, count in sorted(counted.items()) if count > 1]


def duplicates(config: EnvironmentConfig, endpoint: str) -> Check:
    """After apply: no two VPCs, subnets, route tables, NAT gateways or security groups carry one
    Name tag. An apply killed after AWS created an unnamed resource but before Terraform saved it
    leaves one the next apply duplicates; this names it (the runbook's recovery is an import)."""
    client = clients(endpoint)
    found: list[str] = []
    for region in (r.name for r in config.regions.all):
        ec2 = client("ec2", region)
        found += _tagged_once(ec2.describe_vpcs()["Vpcs"], f"vpcs in {region}")
        found += _tagged_once(ec2.describe_subnets()["Subnets"], f"subnets in {region}")
        found += _tagged_once(ec2.describe_route_tables()["RouteTables"], f"route tables in {region}")
        found += _tagged_once(_live_nat_gateways(ec2), f"nat gateways in {region}")
        found += _tagged_once(ec2.describe_security_groups()["SecurityGroups"], f"security groups in {region}")
    return Check("no duplicates of unnamed resources", not found,
                 "; ".join(found) if found else "one VPC, subnet, route table, NAT gateway and security group "
                                                "per Name tag")


def leftovers(config: EnvironmentConfig, endpoint: str) -> list[str]:
    """Everything of ours the emulator still holds after destroy (the emulator holds nothing else).

    KMS keys cannot be deleted at once: a destroyed key is scheduled for deletion,
    which is what AWS does too, so only keys that are not pending deletion count.
    """
    client = clients(endpoint)
    regions = [r.name for r in config.regions.all]
    left: list[str] = []

    def add(what: str, items) -> None:
        items = list(items)
        if items:
            left.append(f"{what}: {', '.join(sorted(items)[:5])}{' ...' if len(items) > 5 else ''}")

    for region in regions:
        for what, lister in REGIONAL_LISTERS.items():
            add(f"{what} in {region}", lister(client, region))
    for what, lister in GLOBAL_LISTERS.items():
        add(what, lister(client, regions[0], config))
    return left


def _default_vpcs(ec2) -> set[str]:
    return {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault")}


@_lists("kms keys", REGIONAL_LISTERS)
def _left_kms_keys(client, region):
    kms = client("kms", region)
    keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    # a destroyed key is scheduled for deletion, as in AWS: only keys not pending deletion count
    return (k["KeyId"] for k in keys if k["KeyState"] not in ("PendingDeletion", "PendingReplicaDeletion"))


@_lists("kms aliases", REGIONAL_LISTERS)
def _left_kms_aliases(client, region):
    return (a["AliasName"] for a in client("kms", region).list_aliases()["Aliases"]
            if not a["AliasName"].startswith("alias/aws/"))


@_lists("cloudwatch alarms", REGIONAL_LISTERS)
def _left_alarms(client, region):
    return [a["AlarmName"] for a in client("cloudwatch", region).describe_alarms()["MetricAlarms"]]


@_lists("cloudwatch dashboards", REGIONAL_LISTERS)
def _left_dashboards(client, region):
    return [d["DashboardName"] for d in client("cloudwatch", region).list_dashboards()["DashboardEntries"]]


@_lists("event rules", REGIONAL_LISTERS)
def _left_event_rules(client, region):
    return [r["Name"] for r in client("events", region).list_rules()["Rules"]]


@_lists("prometheus workspaces", REGIONAL_LISTERS)
def _left_workspaces(client, region):
    return [w["workspaceId"] for w in client("amp", region).list_workspaces()["workspaces"]]


@_lists("sns topics", REGIONAL_LISTERS)
def _left_topics(client, region):
    return [t["TopicArn"] for t in client("sns", region).list_topics()["Topics"]]


@_lists("secrets", REGIONAL_LISTERS)
def _left_secrets(client, region):
    return (s["Name"] for s in client("secretsmanager", region).list_secrets()["SecretList"])


@_lists("vpcs", REGIONAL_LISTERS)
def _left_vpcs(client, region):
    return (v["VpcId"] for v in client("ec2", region).describe_vpcs()["Vpcs"] if not v.get("IsDefault"))


@_lists("subnets", REGIONAL_LISTERS)
def _left_subnets(client, region):
    ec2 = client("ec2", region)
    default = _default_vpcs(ec2)
    return (s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s["VpcId"] not in default)


@_lists("route tables", REGIONAL_LISTERS)
def _left_route_tables(client, region):
    ec2 = client("ec2", region)
    default = _default_vpcs(ec2)
    return (t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"] if t["VpcId"] not in default)


@_lists("internet gateways", REGIONAL_LISTERS)
def _left_internet_gateways(client, region):
    ec2 = client("ec2", region)
    default = _default_vpcs(ec2)
    return (g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]
            if not {a.get("VpcId") for a in g.get("Attachments", [])} & default)


@_lists("security groups", REGIONAL_LISTERS)
def _left_security_groups(client, region):
    ec2 = client("ec2", region)
    default = _default_vpcs(ec2)
    return (g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]
            if g.get("VpcId") not in default and g["GroupName"] != "default")


@_lists("network interfaces", REGIONAL_LISTERS)
def _left_network_interfaces(client, region):
    return (n["NetworkInterfaceId"] for n in client("ec2", region).describe_network_interfaces()["NetworkInterfaces"])


@_lists("vpc endpoints", REGIONAL_LISTERS)
def _left_vpc_endpoints(client, region):
    return (e["VpcEndpointId"] for e in client("ec2", region).describe_vpc_endpoints()["VpcEndpoints"]
            if e.get("State", "").lower() not in ("deleted", "deleting"))


@_lists("flow logs", REGIONAL_LISTERS)
def _left_flow_logs(client, region):
    return (f["FlowLogId"] for f in client("ec2", region).describe_flow_logs()["FlowLogs"])


@_lists("nat gateways", REGIONAL_LISTERS)
def _left_nat_gateways(client, region):
    return (n["NatGatewayId"] for n in _live_nat_gateways(client("ec2", region)))


def _live_nat_gateways(ec2) -> list[dict]:
    """NAT gateways not (being) deleted: EC2 lists deleted ones for an hour."""
    return [n for n in ec2.describe_nat_gateways()["NatGateways"] if n.get("State") not in ("deleted", "deleting")]


@_lists("elastic ips", REGIONAL_LISTERS)
def _left_elastic_ips(client, region):
    return (a.get("AllocationId", "?") for a in client("ec2", region).describe_addresses()["Addresses"])


@_lists("launch templates", REGIONAL_LISTERS)
def _left_launch_templates(client, region):
    return (t["LaunchTemplateName"] for t in client("ec2", region).describe_launch_templates()["LaunchTemplates"])


@_lists("load balancers", REGIONAL_LISTERS)
def _left_load_balancers(client, region):
    return (lb["LoadBalancerName"] for lb in client("elbv2", region).describe_load_balancers()["LoadBalancers"])


@_lists("target groups", REGIONAL_LISTERS)
def _left_target_groups(client, region):
    return (g["TargetGroupName"] for g in client("elbv2", region).describe_target_groups()["TargetGroups"])


@_lists("eks clusters", REGIONAL_LISTERS)
def _left_eks_clusters(client, region):
    return client("eks", region).list_clusters()["clusters"]


@_lists("eks node groups", REGIONAL_LISTERS)
def _left_eks_node_groups(client, region):
    eks = client("eks", region)
    return (f"{c}/{g}" for c in eks.list_clusters()["clusters"] for g in eks.list_nodegroups(clusterName=c)["nodegroups"])


@_lists("certificates", REGIONAL_LISTERS)
def _left_certificates(client, region):
    return (c["DomainName"] for c in client("acm", region).list_certificates()["CertificateSummaryList"])


@_lists("web acls", REGIONAL_LISTERS)
def _left_web_acls(client, region):
    return (w["Name"] for w in client("wafv2", region).list_web_acls(Scope="REGIONAL")["WebACLs"])


@_lists("log groups", REGIONAL_LISTERS)
def _left_log_groups(client, region):
    return (g["logGroupName"] for g in client("logs", region).describe_log_groups()["logGroups"])


@_lists("log resource policies", REGIONAL_LISTERS)
def _left_log_resource_policies(client, region):
    return (p["policyName"] for p in client("logs", region).describe_resource_policies()["resourcePolicies"])


@_lists("lambda functions", REGIONAL_LISTERS)
def _left_lambda_functions(client, region):
    return (f["FunctionName"] for f in client("lambda", region).list_functions()["Functions"])


@_lists("s3 buckets", GLOBAL_LISTERS)
def _left_buckets(client, region, config):
    return (b["Name"] for b in client("s3", region).list_buckets().get("Buckets", []))


@_lists("iam roles", GLOBAL_LISTERS)
def _left_roles(client, region, config):
    return (r["RoleName"] for r in client("iam", region).list_roles()["Roles"]
            if not r["RoleName"].startswith(EMULATOR_DEFAULT_ROLE_PREFIXES))


@_lists("trails", REGIONAL_LISTERS)
def _left_trails(client, region):
    return (t["Name"] for t in client("cloudtrail", region).describe_trails(includeShadowTrails=False)["trailList"])


@_lists("config recorders", REGIONAL_LISTERS)
def _left_config_recorders(client, region):
    return (r["name"] for r in client("config", region).describe_configuration_recorders()["ConfigurationRecorders"])


@_lists("config delivery channels", REGIONAL_LISTERS)
def _left_config_channels(client, region):
    return (c["name"] for c in client("config", region).describe_delivery_channels()["DeliveryChannels"])


@_lists("ebs encryption by default", REGIONAL_LISTERS)
def _left_ebs_encryption(client, region):
    # destroying aws_ebs_encryption_by_default turns it off again (the emulator starts with it off)
    return ("on",) if client("ec2", region).get_ebs_encryption_by_default()["EbsEncryptionByDefault"] else ()


@_lists("guardduty detectors", REGIONAL_LISTERS)
def _left_guardduty_detectors(client, region):
    return client("guardduty", region).list_detectors()["DetectorIds"]


@_lists("account public access block", GLOBAL_LISTERS)
def _left_account_public_access_block(client, region, config):
    from botocore.exceptions import ClientError

    try:
        client("s3control", region).get_public_access_block(AccountId=config.account_id)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchPublicAccessBlockConfiguration":
            return ()
        raise
    return ("set",)


@_lists("service-linked roles", GLOBAL_LISTERS)
def _left_service_linked_roles(client, region, config):
    # the account baseline creates AWSServiceRoleForAutoScaling and AWSServiceRoleForConfig unless the account
    # has them (singletons in environments/accounts/); the emulator holds none of its own under /aws-service-role/
    return (r["RoleName"] for r in client("iam", region).list_roles(PathPrefix="/aws-service-role/")["Roles"])


@_lists("oidc providers", GLOBAL_LISTERS)
def _left_oidc_providers(client, region, config):
    return (p["Arn"] for p in client("iam", region).list_open_id_connect_providers()["OpenIDConnectProviderList"])


@_lists("hosted zones", GLOBAL_LISTERS)
def _left_hosted_zones(client, region, config):
    seeded = f"{config.dns.parent_domain}." if config.dns.parent_domain else None  # the rehearsal's, not ours
    return (z["Name"] for z in client("route53", "us-east-1").list_hosted_zones()["HostedZones"] if z["Name"] != seeded)


@_lists("health checks", GLOBAL_LISTERS)
def _left_health_checks(client, region, config):
    return (c["Id"] for c in client("route53", "us-east-1").list_health_checks()["HealthChecks"])


@_lists("db clusters", REGIONAL_LISTERS)
def _left_db_clusters(client, region):
    return (c["DBClusterIdentifier"] for c in client("rds", region).describe_db_clusters()["DBClusters"])


@_lists("db instances", REGIONAL_LISTERS)
def _left_db_instances(client, region):
    return (i["DBInstanceIdentifier"] for i in client("rds", region).describe_db_instances()["DBInstances"])


@_lists("db subnet groups", REGIONAL_LISTERS)
def _left_db_subnet_groups(client, region):
    return (g["DBSubnetGroupName"] for g in client("rds", region).describe_db_subnet_groups()["DBSubnetGroups"]
            if g["DBSubnetGroupName"] != "default")


@_lists("db cluster parameter groups", REGIONAL_LISTERS)
def _left_db_cluster_parameter_groups(client, region):
    groups = client("rds", region).describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    return (g["DBClusterParameterGroupName"] for g in groups if not g["DBClusterParameterGroupName"].startswith("default."))


@_lists("global clusters", GLOBAL_LISTERS)
def _left_global_clusters(client, region, config):
    return (g["GlobalClusterIdentifier"] for g in client("rds", region).describe_global_clusters()["GlobalClusters"])


@_lists("backup vaults", REGIONAL_LISTERS)
def _left_backup_vaults(client, region):
    vaults = client("backup", region).list_backup_vaults()["BackupVaultList"]
    return (v["BackupVaultName"] for v in vaults if v["BackupVaultName"] not in ("Default", "default"))


@_lists("backup plans", REGIONAL_LISTERS)
def _left_backup_plans(client, region):
    return (p["BackupPlanName"] for p in client("backup", region).list_backup_plans()["BackupPlansList"])


@_lists("ecr repositories", REGIONAL_LISTERS)
def _left_ecr_repositories(client, region):
    return (r["repositoryName"] for r in client("ecr", region).describe_repositories()["repositories"])


@_lists("ecr replication", REGIONAL_LISTERS)
def _left_ecr_replication(client, region):
    rules = client("ecr", region).describe_registry().get("replicationConfiguration", {}).get("rules", [])
    return (f"{len(rules)} rules",) if rules else ()
