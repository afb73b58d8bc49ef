"""What the rehearsal verifies with boto3 against the emulator, from the environment's design.

Expectations come from the environment config (regions, AZs, keys, secrets,
node groups, records), not from the synthesized JSON, so a stack that
synthesizes the wrong thing fails here even though Terraform applied it.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator, Optional

from environments.schema import EnvironmentConfig, record_fqdn
from modules.loadbalancing.placement import LB_ORDER, alb_zones, lb_name
from modules.network.layout import INTERFACE_ENDPOINTS
from modules.observability.naming import canary_alarm_name
from modules.stacks import names
from tooling.terraform.leftovers import duplicates
from tooling.terraform.probes import Check, clients


def _check(name: str, probe: Callable[[], Optional[str]], ok_detail: Callable[[], str] | str) -> Check:
    """``probe`` returns a problem, or None when the design holds; an exception is a problem too."""
    try:
        problem = probe()
    except Exception as error:  # noqa: BLE001 - any API error is a failed check, reported as such
        problem = f"{type(error).__name__}: {error}"
    if problem:
        return Check(name, False, problem)
    return Check(name, True, ok_detail() if callable(ok_detail) else ok_detail)


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


# -- after apply ---------------------------------------------------------------------------

def _keys(config: EnvironmentConfig, client) -> Iterator[Check]:
    primary = config.regions.primary.name
    standby = config.regions.standby.name if config.regions.standby else None
    kms = client("kms", primary)
    for purpose in config.security.keys:
        alias = f"alias/{config.name}/{purpose}"

        def probe(purpose=purpose, alias=alias) -> Optional[str]:
            key = kms.describe_key(KeyId=alias)["KeyMetadata"]
            if key.get("KeyState") != "Enabled":
                return f"{alias} in {primary} is {key.get('KeyState')}"
            if bool(key.get("MultiRegion")) != bool(standby):
                return (f"{alias} in {primary}: MultiRegion={key.get('MultiRegion')}, expected "
                        f"{bool(standby)} ({'a standby region' if standby else 'single region'})")
            if standby and key["MultiRegionConfiguration"]["MultiRegionKeyType"] != "PRIMARY":
                return f"{alias} in {primary} is not the primary key"
            if not kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]:
                return f"{alias}: rotation is off"
            if standby:
                replica = client("kms", standby).describe_key(KeyId=alias)["KeyMetadata"]
                mrc = replica.get("MultiRegionConfiguration", {})
                if mrc.get("MultiRegionKeyType") != "REPLICA":
                    return f"{alias} in {standby} is not a replica"
                if mrc.get("PrimaryKey", {}).get("Arn") != key["Arn"]:
                    return f"{alias} in {standby} replicates {mrc.get('PrimaryKey')}, not {key['Arn']}"
            return None

        yield _check(f"kms {alias}", probe,
                     (f"multi-region primary in {primary}, replica in {standby} under the same alias"
                      if standby else f"single-region key in {primary} (no standby region)") + ", rotation on")


def _secrets(config: EnvironmentConfig, client) -> Iterator[Check]:
    primary = config.regions.primary.name
    standby = config.regions.standby.name if config.regions.standby else None
    for secret in config.security.secrets:
        name = f"{config.name}/{secret.name}"

        def probe(secret=secret, name=name) -> Optional[str]:
            described = client("secretsmanager", primary).describe_secret(SecretId=name)
            key = client("kms", primary).describe_key(KeyId=f"alias/{config.name}/{secret.key}")["KeyMetadata"]
            if described.get("KmsKeyId") not in (key["Arn"], key["KeyId"]):
                return f"{name} is encrypted with {described.get('KmsKeyId')}, not the {secret.key} key"
            replicas = {r["Region"]: r for r in described.get("ReplicationStatus", [])}
            if not standby:
                return f"{name} is replicated to {sorted(replicas)} in a single-region environment" if replicas else None
            if standby not in replicas:
                return f"{name} is not replicated to {standby} (replicas: {sorted(replicas) or 'none'})"
            replica_key = client("kms", standby).describe_key(
                KeyId=f"alias/{config.name}/{secret.key}")["KeyMetadata"]
            if replicas[standby].get("KmsKeyId") not in (replica_key["Arn"], replica_key["KeyId"]):
                return f"{name}'s replica in {standby} uses {replicas[standby].get('KmsKeyId')}, not the replica key"
            in_standby = client("secretsmanager", standby).describe_secret(SecretId=name)
            if in_standby.get("KmsKeyId") not in (replica_key["Arn"], replica_key["KeyId"]):
                return f"{name} as read in {standby} is encrypted with {in_standby.get('KmsKeyId')}, not the replica key"
            return None

        yield _check(f"secret {name}", probe,
                     f"encrypted with alias/{config.name}/{secret.key}"
                     + (f", replicated to {standby} under the replica key" if standby else ""))


def _load_balancers(config: EnvironmentConfig, client, region) -> dict[str, dict[str, Any]]:
    """This region's load balancers by role, from their names."""
    stack = names.regional(config.name, region.name)
    found = client("elbv2", region.name).describe_load_balancers()["LoadBalancers"]
    by_name = {lb["LoadBalancerName"]: lb for lb in found}
    return {role: by_name[lb_name(stack, role)] for role in LB_ORDER if lb_name(stack, role) in by_name}


def _region_tier(config: EnvironmentConfig, client, region) -> Iterator[Check]:
    name = region.name
    zones = region.zones
    elbv2 = client("elbv2", name)
    primary_zones, secondary_zones = alb_zones(zones)
    expected = {"alb-primary": ("application", primary_zones), "alb-secondary": ("application", secondary_zones),
                "nlb": ("network", zones)}

    def lbs() -> Optional[str]:
        found = _load_balancers(config, client, region)
        missing = sorted(set(expected) - set(found))
        if missing:
            return f"missing in {name}: {', '.join(missing)}"
        for role, (lb_type, want) in expected.items():
            lb = found[role]
            got = tuple(sorted(z["ZoneName"] for z in lb["AvailabilityZones"]))
            # Scheme left out of the request means internet-facing in AWS; moto then omits it.
            scheme = lb.get("Scheme", "internet-facing")
            if lb["Type"] != lb_type or scheme != "internet-facing":
                return f"{role}: {lb['Type']}/{scheme}, expected {lb_type}/internet-facing"
            if got != tuple(sorted(want)):
                return f"{role} is on {', '.join(got)}, expected {', '.join(sorted(want))}"
            attributes = {a["Key"]: a["Value"] for a in
                          elbv2.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
            if attributes.get("deletion_protection.enabled") != "true":
                return f"{role}: deletion protection is off"
            if attributes.get("access_logs.s3.enabled") != "true":
                return f"{role}: access logs are off"
            listeners = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
            tls = [x for x in listeners if x["Port"] == 443 and x["Protocol"] in ("HTTPS", "TLS")]
            if not tls or not tls[0].get("Certificates"):
                return f"{role}: no TLS listener with a certificate on 443"
            if lb_type == "network":
                # WAF cannot sit in front of an NLB: the client's address must reach the gateway's limits
                for group in elbv2.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]:
                    attrs = {a["Key"]: a["Value"] for a in elbv2.describe_target_group_attributes(
                        TargetGroupArn=group["TargetGroupArn"])["Attributes"]}
                    if attrs.get("proxy_protocol_v2.enabled") != "true":
                        return f"{role}: target group {group['TargetGroupName']} sends no proxy protocol v2 header"
        return None

    yield _check(f"load balancers {name}", lbs,
                 lambda: "; ".join(f"{role} on {'/'.join(z[-1] for z in want)}"
                                   for role, (_, want) in expected.items())
                 + ", deletion protection, access logs, TLS on 443")

    def network() -> Optional[str]:
        ec2 = client("ec2", name)
        vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == region.vpc_cidr and not v.get("IsDefault")]
        if len(vpcs) != 1:
            return f"{len(vpcs)} VPCs with {region.vpc_cidr}, expected 1"
        vpc = vpcs[0]["VpcId"]
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        per_zone = {z: sum(1 for s in subnets if s["AvailabilityZone"] == z) for z in zones}
        if set(s["AvailabilityZone"] for s in subnets) != set(zones) or len(set(per_zone.values())) != 1:
            return f"subnets per AZ {per_zone}, expected the same tiers in each of {', '.join(zones)}"
        nats = [n for n in ec2.describe_nat_gateways()["NatGateways"]
                if n.get("VpcId") == vpc and n.get("State") != "deleted"]
        want = len(zones) if config.network.nat_gateway_per_az else 1
        if len(nats) != want:
            return f"{len(nats)} NAT gateways, expected {want}"
        endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
        by_service = {e["ServiceName"].removeprefix(f"com.amazonaws.{name}."): e for e in endpoints}
        if by_service.get("s3", {}).get("VpcEndpointType") != "Gateway":
            return "no S3 gateway endpoint"
        private = {s["SubnetId"] for s in subnets if any(t["Key"] == "Tier" and t["Value"] == "private"
                                                          for t in s.get("Tags", []))}
        for service in INTERFACE_ENDPOINTS:
            endpoint = by_service.get(service)
            if endpoint is None or endpoint.get("VpcEndpointType") != "Interface":
                return f"no {service} interface endpoint"
            if set(endpoint.get("SubnetIds", [])) != private:
                return f"the {service} endpoint is not in the {len(private)} private subnets"
        return None

    yield _check(f"network {name}", network,
                 f"VPC {region.vpc_cidr}, subnets in {len(zones)} AZs, "
                 f"{len(zones) if config.network.nat_gateway_per_az else 1} NAT gateway(s), "
                 f"S3 gateway and {len(INTERFACE_ENDPOINTS)} interface endpoints in every private subnet")

    cluster_name = names.regional(config.name, name)  # the cluster is named after its stack

    def cluster() -> Optional[str]:
        eks = client("eks", name)
        described = eks.describe_cluster(name=cluster_name)["cluster"]
        if described["status"] != "ACTIVE":
            return f"cluster {cluster_name} is {described['status']}"
        if described.get("version") != config.eks.version:
            return f"cluster {cluster_name} runs {described.get('version')}, expected {config.eks.version}"
        support = (described.get("upgradePolicy") or {}).get("supportType")
        if support != config.eks.support_type:
            return f"cluster {cluster_name} has support type {support}, expected {config.eks.support_type}"
        ec2 = client("ec2", name)
        subnet_zones = {s["AvailabilityZone"] for s in
                        ec2.describe_subnets(SubnetIds=described["resourcesVpcConfig"]["subnetIds"])["Subnets"]}
        if subnet_zones != set(zones):
            return f"cluster subnets span {sorted(subnet_zones)}, expected {list(zones)}"
        groups = set(eks.list_nodegroups(clusterName=cluster_name)["nodegroups"])
        for label, capacity, size in (("on-demand", "ON_DEMAND", config.eks.on_demand),
                                      ("spot", "SPOT", config.eks.spot)):
            group_name = f"{cluster_name}-{label}"
            if group_name not in groups:
                return f"node group {group_name} missing (found {sorted(groups)})"
            group = eks.describe_nodegroup(clusterName=cluster_name, nodegroupName=group_name)["nodegroup"]
            scaling = group["scalingConfig"]
            if group.get("capacityType") != capacity:
                return f"{group_name} is {group.get('capacityType')}, expected {capacity}"
            if bool(group.get("taints")) != (capacity == "SPOT"):
                return f"{group_name} has taints {group.get('taints')}: only the spot group is tainted"
            if (scaling["minSize"], scaling["maxSize"]) != (size.min, size.max):
                return f"{group_name} scales {scaling['minSize']}..{scaling['maxSize']}, expected {size.min}..{size.max}"
            group_zones = {s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=group["subnets"])["Subnets"]}
            if group_zones != set(zones):
                return f"{group_name} spans {sorted(group_zones)}, expected {list(zones)}"
        return None

    yield _check(f"eks {cluster_name}", cluster,
                 f"ACTIVE, {config.eks.version} ({config.eks.support_type} support), on-demand {config.eks.on_demand.min}..{config.eks.on_demand.max} "
                 f"and spot {config.eks.spot.min}..{config.eks.spot.max} node groups across {len(zones)} AZs")


def _dns(config: EnvironmentConfig, client) -> Iterator[Check]:
    route53 = client("route53", "us-east-1")
    regions = config.regions.all
    domain = _norm(config.domain)
    state: dict[str, Any] = {}

    def records() -> list[dict[str, Any]]:
        if "records" not in state:
            zones = [z for z in route53.list_hosted_zones()["HostedZones"] if _norm(z["Name"]) == domain]
            if len(zones) != 1:
                raise LookupError(f"{len(zones)} hosted zones named {domain}, expected 1")
            found, kwargs = [], {"HostedZoneId": zones[0]["Id"]}
            while True:
                page = route53.list_resource_record_sets(**kwargs)
                found += page["ResourceRecordSets"]
                if not page.get("IsTruncated"):
                    break
                kwargs.update(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"])
            state["records"] = found
        return state["records"]

    def lb_names() -> dict[str, str]:
        """LB DNS name -> '<region>/<role>'."""
        if "lbs" not in state:
            state["lbs"] = {_norm(lb["DNSName"]): f"{region.name}/{role}"
                            for region in regions
                            for role, lb in _load_balancers(config, client, region).items()}
        return state["lbs"]

    def resolve(name: str, depth: int = 0) -> list[str]:
        """The order in which traffic for ``name`` reaches load balancers, following failover."""
        if depth > 8:
            raise RecursionError(f"alias chain through {name} is deeper than 8")
        lbs = lb_names()
        if _norm(name) in lbs:
            return [lbs[_norm(name)]]
        sets = [r for r in records() if _norm(r["Name"]) == _norm(name) and r["Type"] == "A"]
        if not sets:
            raise LookupError(f"no A record {name}")
        rank = {"PRIMARY": 0, None: 0, "SECONDARY": 1}
        order: list[str] = []
        for record in sorted(sets, key=lambda r: rank[r.get("Failover")]):
            order += resolve(record["AliasTarget"]["DNSName"], depth + 1)
        return order

    expected = [f"{region.name}/{role}" for region in regions for role in LB_ORDER]
    for record in config.dns.records:
        if record.target != "platform":
            continue
        fqdn = record_fqdn(record.name, config.domain)

        def chain(fqdn=fqdn) -> Optional[str]:
            got = resolve(fqdn)
            return None if got == expected else f"{fqdn} fails over {' -> '.join(got)}, expected {' -> '.join(expected)}"

        yield _check(f"route53 failover {fqdn}", chain, " -> ".join(expected))

    def health_checks() -> Optional[str]:
        checks, kwargs = [], {}
        while True:
            page = route53.list_health_checks(**kwargs)
            checks += page["HealthChecks"]
            if not page.get("IsTruncated"):
                break
            kwargs = {"Marker": page["NextMarker"]}
        https = {_norm(c["HealthCheckConfig"].get("FullyQualifiedDomainName", "")): c for c in checks
                 if c["HealthCheckConfig"]["Type"] == "HTTPS"}
        unchecked = sorted(where for name, where in lb_names().items() if name not in https)
        if unchecked:
            return f"no HTTPS health check on {', '.join(unchecked)}"
        by_id = {c["Id"]: c for c in checks}
        if config.observability.canary_minutes:
            # one check per region on its canary alarm (moto keeps no AlarmIdentifier: the alarms are asked
            # for in their regions instead)
            metric = [c for c in checks if c["HealthCheckConfig"]["Type"] == "CLOUDWATCH_METRIC"]
            if len(metric) != len(regions):
                return f"{len(metric)} alarm health checks, expected one per region on its canary alarm ({len(regions)})"
            for region in regions:
                alarm = canary_alarm_name(names.regional(config.name, region.name))
                found = client("cloudwatch", region.name).describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
                if not found or found[0].get("Namespace") != "CloudWatchSynthetics":
                    return f"no canary alarm {alarm} in {region.name} for Route53 to read"
        calculated = [c for c in checks if c["HealthCheckConfig"]["Type"] == "CALCULATED"]
        if not config.observability.canary_minutes and len(calculated) != len(regions):
            return f"{len(calculated)} calculated health checks, expected one per region ({len(regions)})"
        for c in calculated:
            children = c["HealthCheckConfig"].get("ChildHealthChecks", [])
            if len(children) != len(LB_ORDER) or any(by_id.get(child, {}).get("HealthCheckConfig", {})
                                                     .get("Type") != "HTTPS" for child in children):
                return f"calculated check {c['Id']} has children {children}, expected the region's 3 LB checks"
        failover = [r for r in records() if r.get("Failover") and r.get("HealthCheckId")]
        dangling = [r["Name"] for r in failover if r["HealthCheckId"] not in by_id]
        if dangling:
            return f"failover records with unknown health checks: {', '.join(dangling)}"
        return None

    yield _check("route53 health checks", health_checks,
                 lambda: f"HTTPS check on each of {len(lb_names())} LBs, " + (
                     f"{len(regions)} region check(s) on the canary alarms" if config.observability.canary_minutes
                     else f"{len(regions)} calculated region check(s)"))


def _data_tier(config: EnvironmentConfig, client) -> Iterator[Check]:
    """The data tier as the environment designs it: Aurora's instances and the global database's
    members, the buckets' replication rules, the backup copy action and vault lock. (The replication
    groups are not emulated: emulated.SKIPPED_TYPES.)"""
    from modules.data import app_bucket_name, backup_vault_name, cluster_name, global_cluster_name

    regions = [r.name for r in config.regions.all]
    primary, standby = regions[0], (regions[1] if len(regions) > 1 else None)

    def global_database() -> Optional[str]:
        clusters = {r: client("rds", r).describe_db_clusters(DBClusterIdentifier=cluster_name(config.name, r))
                    ["DBClusters"][0] for r in regions}
        for region, cluster in clusters.items():
            members = cluster.get("DBClusterMembers", [])
            if len(members) != config.data.aurora.instances:
                return f"{region}: {len(members)} instances, the design says {config.data.aurora.instances}"
            if not cluster.get("StorageEncrypted") or not cluster.get("KmsKeyId"):
                return f"{region}: cluster storage is not encrypted with a key"
        if standby is None:
            return None
        found = client("rds", primary).describe_global_clusters(
            GlobalClusterIdentifier=global_cluster_name(config.name))["GlobalClusters"][0]
        members = {m["DBClusterArn"]: m.get("IsWriter") for m in found.get("GlobalClusterMembers", [])}
        writer = clusters[primary]["DBClusterArn"]
        if members.get(writer) is not True:
            return f"the primary cluster is not the global database's writer ({members})"
        if clusters[standby]["DBClusterArn"] not in members:
            return f"the standby cluster is not a member of {global_cluster_name(config.name)}"
        return None

    yield _check("aurora: instances per region, encrypted; global database writer in the primary, reader in "
                 "the standby" if standby else "aurora: instances, encrypted", global_database,
                 lambda: f"{config.data.aurora.instances} instances in each of {', '.join(regions)}")

    def backup_alerts() -> Optional[str]:
        for region in regions:
            stack = names.regional(config.name, region)
            events = client("events", region)
            rule = f"{stack}-data-backup-failed"
            found = [r for r in events.list_rules(NamePrefix=rule)["Rules"] if r["Name"] == rule]
            if not found:
                return f"no rule {rule} in {region}"
            pattern = json.loads(found[0]["EventPattern"])
            if pattern.get("source") != ["aws.backup"] or "FAILED" not in pattern.get("detail", {}).get("state", []):
                return f"{rule} does not match failed AWS Backup jobs: {pattern}"
            targets = [t["Arn"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]]
            if not targets or not all(t.endswith(f":{stack}-alerts") and f":{region}:" in t for t in targets):
                return f"{rule} publishes to {targets}, not to {stack}-alerts in {region}"
        return None

    yield _check("backup: failed, aborted or expired jobs alert through the region's topic", backup_alerts,
                 f"a rule per region ({', '.join(regions)})")

    if standby is None:
        return

    def replication_alarms() -> Optional[str]:
        for region in regions:
            stack = names.regional(config.name, region)
            wanted = {f"{stack}-data-s3-replication-failed", f"{stack}-data-s3-replication-latency"}
            found = {a["AlarmName"] for a in client("cloudwatch", region).describe_alarms(
                AlarmNamePrefix=f"{stack}-data-s3-")["MetricAlarms"]}
            if found != wanted:
                return f"{region}: replication alarms {sorted(found)}, expected {sorted(wanted)}"
        return None

    if config.data.bucket.replication_time_control:
        yield _check("buckets: each region alarms on the copies it sends and receives", replication_alarms,
                     "failed operations at the source, latency at the destination")

    def replication() -> Optional[str]:
        for region, other in ((primary, standby), (standby, primary)):
            bucket = app_bucket_name(config.name, region, config.account_id)
            rules = client("s3", region).get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"]
            targets = [r["Destination"]["Bucket"] for r in rules if r.get("Status") == "Enabled"]
            want = f"arn:aws:s3:::{app_bucket_name(config.name, other, config.account_id)}"
            if want not in targets:
                return f"{bucket} replicates to {targets}, not to {want}"
            keys = [r["Destination"].get("EncryptionConfiguration", {}).get("ReplicaKmsKeyID") for r in rules]
            if not all(keys):
                return f"{bucket}: a rule names no replica key"
            if config.data.bucket.replication_time_control and not all(
                    r["Destination"].get("ReplicationTime", {}).get("Status") == "Enabled" for r in rules):
                return f"{bucket}: Replication Time Control is off"
        return None

    yield _check("buckets: each region's replicates to the other's, with its key", replication,
                 "both directions" + (", Replication Time Control on" if config.data.bucket.replication_time_control
                                      else ""))

    def copies() -> Optional[str]:
        for region, other in ((primary, standby), (standby, primary)):
            backup = client("backup", region)
            plans = [p for p in backup.list_backup_plans()["BackupPlansList"]
                     if p["BackupPlanName"] == backup_vault_name(config.name, region)]
            if not plans:
                return f"no backup plan in {region}"
            rules = backup.get_backup_plan(BackupPlanId=plans[0]["BackupPlanId"])["BackupPlan"]["Rules"]
            destinations = [c["DestinationBackupVaultArn"] for r in rules for c in r.get("CopyActions", [])]
            if not any(f":{other}:" in d and d.endswith(backup_vault_name(config.name, other)) for d in destinations):
                return f"{region}: copies go to {destinations}, not to the vault in {other}"
            vault = backup.describe_backup_vault(BackupVaultName=backup_vault_name(config.name, region))
            if not vault.get("Locked"):
                return f"{region}: the vault is not locked"
        return None

    yield _check("backup: a locked vault per region, the plan copies to the other region", copies,
                 f"{primary} <-> {standby}")


def _account_baseline(config: EnvironmentConfig, client) -> Iterator[Check]:
    """The account baseline the environment depends on: the singletons, the audit trail into its locked,
    replicated bucket, and detection in every region of the account. (Access Analyzer, Security Hub and the
    quota requests are not emulated: emulated.SKIPPED_TYPES.)"""
    from modules.account.audit import audit_bucket_name, trail_name

    account = config.account
    home, replica = account.home_region, account.trail_replica_region

    def singletons() -> Optional[str]:
        iam = client("iam", home)
        roles = {r["RoleName"].lower() for r in iam.list_roles(PathPrefix="/aws-service-role/")["Roles"]}
        if account.singletons.autoscaling_role == "create" and "awsserviceroleforautoscaling" not in roles:
            return "no AWSServiceRoleForAutoScaling"
        block = client("s3control", home).get_public_access_block(AccountId=account.account_id)
        if not all(block["PublicAccessBlockConfiguration"].values()):
            return f"the account's S3 public access block is not whole: {block['PublicAccessBlockConfiguration']}"
        for region in account.regions:
            if not client("ec2", region).get_ebs_encryption_by_default()["EbsEncryptionByDefault"]:
                return f"EBS encryption by default is off in {region}"
        return None

    yield _check(f"account {account.name}: one AWSServiceRoleForAutoScaling, the S3 account public access block, "
                 "EBS encryption by default in every region", singletons,
                 lambda: f"{len(account.regions)} region(s), the role created once for every environment")

    def trail() -> Optional[str]:
        cloudtrail = client("cloudtrail", home)
        found = cloudtrail.get_trail(Name=trail_name(account))["Trail"]
        if not (found.get("IsMultiRegionTrail") and found.get("LogFileValidationEnabled") and found.get("KmsKeyId")):
            return f"the trail is not multi-region, validated and KMS-encrypted: {found}"
        if not cloudtrail.get_trail_status(Name=trail_name(account)).get("IsLogging"):
            return "the trail is not logging"
        buckets = [(home, audit_bucket_name(account, home))] + ([(replica, audit_bucket_name(account, replica))]
                                                                if replica else [])
        for region, bucket in buckets:
            lock = client("s3", region).get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
            retention = lock.get("Rule", {}).get("DefaultRetention", {})
            if lock.get("ObjectLockEnabled") != "Enabled" or retention.get("Days") != account.audit.retention_days:
                return f"{bucket}: Object Lock {lock}"
        if replica:
            rules = client("s3", home).get_bucket_replication(Bucket=buckets[0][1])["ReplicationConfiguration"]["Rules"]
            if not any(r["Destination"]["Bucket"].endswith(f":::{buckets[1][1]}") for r in rules):
                return f"{buckets[0][1]} does not replicate to {buckets[1][1]}"
        return None

    yield _check(f"account {account.name}: a multi-region trail, validated and encrypted, into a locked bucket"
                 + (f" replicated to {replica}" if replica else ""), trail,
                 f"{trail_name(account)} logging into {audit_bucket_name(account, home)}")

    def detection() -> Optional[str]:
        for region in account.regions:
            guardduty = client("guardduty", region)
            detectors = guardduty.list_detectors()["DetectorIds"]
            if len(detectors) != 1:
                return f"{region}: {len(detectors)} GuardDuty detectors"
            features = {f["Name"]: f["Status"] for f in guardduty.get_detector(DetectorId=detectors[0]).get(
                "Features", [])}
            missing = [f for f in ("EKS_AUDIT_LOGS", "RUNTIME_MONITORING", "S3_DATA_EVENTS", "RDS_LOGIN_EVENTS")
                       if features.get(f) != "ENABLED"]
            if missing:
                return f"{region}: GuardDuty without {', '.join(missing)}"
            config_service = client("config", region)
            status = config_service.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
            if account.singletons.config_recorder == "create" and not any(r.get("recording") for r in status):
                return f"{region}: AWS Config is not recording"
        return None

    yield _check(f"account {account.name}: GuardDuty (EKS, runtime, S3, RDS) and AWS Config in every region",
                 detection, lambda: ", ".join(account.regions))


def _alarms(config: EnvironmentConfig, client, region) -> Iterator[Check]:
    """Each load balancer's alarms in its own region: per AZ unhealthy and no-healthy, per ALB 5xx share,
    p99 and rejected connections; the web ACL's blocked requests; the canaries' alarms (the canaries are not
    emulated); the notifying ones go to this region's topic, encrypted with a key."""
    name = region.name
    stack = names.regional(config.name, name)
    primary_zones, secondary_zones = alb_zones(region.zones)
    per_zone = len(primary_zones) + len(secondary_zones) + len(region.zones)
    # the region's canary and, with a standby, its view of the other region; the web ACL's blocked requests
    canaries = (1 + (config.regions.standby is not None)) if config.observability.canary_minutes else 0
    expected = 2 * per_zone + 3 * 2 + 1 + canaries
    notifies = 3 * 2 + 1 + canaries

    def alarms() -> Optional[str]:
        everything = client("cloudwatch", name).describe_alarms(AlarmNamePrefix=f"{stack}-")["MetricAlarms"]
        found = [a for a in everything if not a["AlarmName"].startswith(f"{stack}-data-")]
        lag = [a for a in everything if a["AlarmName"] in (f"{stack}-data-aurora-replication-lag",
                                                           f"{stack}-data-cache-replication-lag")]
        standby = config.regions.standby is not None and name == config.regions.standby.name
        if len(lag) != (2 if standby else 0):
            return (f"the Aurora and cache replication-lag alarms are {'missing from' if standby else 'also in'} "
                    f"{name}: {[a['AlarmName'] for a in lag]}")
        if len(found) != expected:
            return f"{len(found)} metric alarms named {stack}-*, expected {expected}"
        topics = [t["TopicArn"] for t in client("sns", name).list_topics()["Topics"]
                  if t["TopicArn"].endswith(f":{stack}-alerts")]
        if not topics:
            return f"no topic {stack}-alerts in {name}"
        attributes = client("sns", name).get_topic_attributes(TopicArn=topics[0])["Attributes"]
        if not attributes.get("KmsMasterKeyId"):
            return f"{stack}-alerts is not encrypted with a KMS key"
        notifying = [a for a in found if a.get("AlarmActions")]
        strays = [a["AlarmName"] for a in notifying + lag if a["AlarmActions"] != [topics[0]]]
        if strays or len(notifying) != notifies:
            return f"alarms notifying elsewhere than {stack}-alerts: {', '.join(strays) or len(notifying)}"
        return None

    yield _check(f"alarms {name}", alarms,
                 f"{expected} metric alarms (load balancers per AZ and per ALB, WAF, canaries); {stack}-alerts encrypted")


def _dashboard(config: EnvironmentConfig, client, region) -> Iterator[Check]:
    """The region's dashboard under the stack's name, every metric widget reading this region."""
    name = region.name
    stack = names.regional(config.name, name)

    def dashboard() -> Optional[str]:
        import json
        body = json.loads(client("cloudwatch", name).get_dashboard(DashboardName=stack)["DashboardBody"])
        regions = {w["properties"].get("region") for w in body["widgets"] if w["type"] == "metric"}
        if regions != {name}:
            return f"dashboard {stack} reads {sorted(map(str, regions))}, expected {name} only"
        return None

    yield _check(f"dashboard {name}", dashboard, f"dashboard {stack}: every metric from {name}")


def _container_logs(config: EnvironmentConfig, client, region) -> Iterator[Check]:
    """The cluster's container log groups exist before anything writes to them, encrypted and kept for the
    configured days (the add-on that writes to them is not emulated)."""
    if not config.observability.container_logs:
        return
    name = region.name
    prefix = f"/aws/containerinsights/{names.regional(config.name, name)}/"

    def groups() -> Optional[str]:
        found = {g["logGroupName"]: g for g in
                 client("logs", name).describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]}
        expected = [f"{prefix}{kind}" for kind in ("application", "dataplane", "host", "performance")]
        if sorted(found) != expected:
            return f"container log groups {sorted(found)}, expected {expected}"
        wrong = [n for n, g in found.items() if not g.get("kmsKeyId")
                 or g.get("retentionInDays") != config.observability.log_retention_days]
        return f"not encrypted or not kept {config.observability.log_retention_days} days: {wrong}" if wrong else None

    yield _check(f"container logs {name}", groups, f"{prefix}*: 4 log groups, encrypted, "
                 f"kept {config.observability.log_retention_days} days")


def _metrics(config: EnvironmentConfig, client, region) -> Iterator[Check]:
    """The region's Prometheus workspace under the stack's alias, logging to its log group, with the cluster's
    alert rules (the collector and the alert manager are not emulated)."""
    if not config.observability.cluster_metrics:
        return
    name = region.name
    stack = names.regional(config.name, name)

    def workspace() -> Optional[str]:
        amp = client("amp", name)
        found = [w for w in amp.list_workspaces(alias=stack)["workspaces"] if w.get("alias") == stack]
        if len(found) != 1:
            return f"{len(found)} Prometheus workspaces with alias {stack} in {name}, expected 1"
        workspace_id = found[0]["workspaceId"]
        logging = amp.describe_logging_configuration(workspaceId=workspace_id)["loggingConfiguration"]
        if f"/aws/vendedlogs/prometheus/{stack}" not in logging.get("logGroupArn", ""):
            return f"workspace {stack} logs to {logging.get('logGroupArn')!r}, not its own log group"
        rules = [n["name"] for n in amp.list_rule_groups_namespaces(workspaceId=workspace_id)["ruleGroupsNamespaces"]]
        if rules != ["cluster"]:
            return f"workspace {stack} holds rule namespaces {rules}, expected the cluster's"
        return None

    yield _check(f"metrics {name}", workspace, f"Prometheus workspace {stack}: logged, with the cluster's alert rules")


def verify(config: EnvironmentConfig, endpoint: str) -> list[Check]:
    """Every design check against what the emulator holds after apply."""
    client = clients(endpoint)
    checks = [*_account_baseline(config, client), *_keys(config, client), *_secrets(config, client)]
    for region in config.regions.all:
        checks += list(_region_tier(config, client, region))
        checks += list(_alarms(config, client, region))
        checks += list(_metrics(config, client, region))
        checks += list(_dashboard(config, client, region))
        checks += list(_container_logs(config, client, region))
    checks += list(_data_tier(config, client))
    checks += list(_dns(config, client))
    checks.append(duplicates(config, endpoint))
    return checks
