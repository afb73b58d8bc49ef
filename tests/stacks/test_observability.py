"""Each region's alarms and alert topic, derived from the environment files: no home region for alerts."""

from __future__ import annotations

import json
import re

import pytest

from modules.failover import inactive_alarm_name

from environments.schema import record_fqdn
from tests.conftest import resources
from tests.topology import ENVIRONMENTS, LOAD_BALANCERS, gitops_stacks, regional_stacks

REGIONS = [(env, placement) for env in ENVIRONMENTS.values() for placement in regional_stacks(env)]


def _alb_zones(zones: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The design: primary ALB on the first two AZs, secondary on the second and third; both on both with two;
    the NLB on every AZ (restated from the design, not imported)."""
    if len(zones) == 2:
        return {"alb-primary": zones, "alb-secondary": zones, "nlb": zones}
    return {"alb-primary": zones[:2], "alb-secondary": zones[1:3], "nlb": zones}


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_every_load_balancer_is_watched_per_az_and_the_albs_for_errors_latency_and_rejections(stacks, env, placement):
    stack = stacks[placement.stack]
    alarms = {a["alarm_name"]: a for a in resources(stack, "aws_cloudwatch_metric_alarm").values()}
    observed = env.observability
    zones = _alb_zones(tuple(placement.region.zones))
    expected = set()
    for role in LOAD_BALANCERS:
        for zone in zones[role]:
            expected |= {f"{placement.stack}-{role}-unhealthy-{zone}", f"{placement.stack}-{role}-no-healthy-{zone}"}
        if role != "nlb":
            expected |= {f"{placement.stack}-{role}-{kind}" for kind in ("5xx", "p99", "rejected")}
    expected.add(f"{placement.stack}-waf-blocked")  # the region's web ACL, every rule
    if observed.canary_minutes:  # the region's own canary, and its view of the other region when there is one
        expected |= {f"{placement.stack}-canary"} | ({f"{placement.stack}-peer-canary"} if env.regions.standby else set())
    if env.regions.standby:  # the failover plan's switch for Route53: one datapoint, written once per run
        expected.add(inactive_alarm_name(placement.stack))
        switch = alarms.pop(inactive_alarm_name(placement.stack))
        assert switch["datapoints_to_alarm"] == 1 and switch["treat_missing_data"] == "ignore"
        expected.remove(inactive_alarm_name(placement.stack))
    assert set(alarms) == expected
    for name, alarm in alarms.items():
        assert alarm["evaluation_periods"] == alarm["datapoints_to_alarm"] == observed.evaluation_minutes
        if name.endswith("-5xx"):
            assert alarm["threshold"] == observed.lb_5xx_percent
            assert "FILL(elb, 0)" in alarm["metric_query"][0]["expression"]  # no 5xx datapoint is zero, not missing
        if name.endswith("-waf-blocked"):
            assert alarm["namespace"] == "AWS/WAFV2" and alarm["threshold"] == observed.waf_blocked_per_minute
            assert alarm["dimensions"] == {"WebACL": placement.stack, "Rule": "ALL", "Region": placement.region.name}
            (acl,) = resources(stack, "aws_wafv2_web_acl").values()
            assert acl["name"] == acl["visibility_config"]["metric_name"] == placement.stack
        if name.endswith("-p99"):
            assert alarm["threshold"] == observed.p99_latency_seconds and alarm["extended_statistic"] == "p99"
        if "-no-healthy-" in name:
            assert alarm["treat_missing_data"] == "breaching"  # nothing registered is as bad as nothing healthy
            assert alarm["dimensions"]["AvailabilityZone"] == name.rsplit("-no-healthy-", 1)[1]


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_composites_say_which_az_is_impaired_and_whether_the_region_fails(stacks, env, placement):
    stack = stacks[placement.stack]
    composites = {a["alarm_name"]: a for a in resources(stack, "aws_cloudwatch_composite_alarm").values()}
    zones = tuple(placement.region.zones)
    assert set(composites) == {f"{placement.stack}-az-{z}" for z in zones} | {f"{placement.stack}-region"}
    for zone in zones:
        members = re.findall(r'ALARM\("([^"]+)"\)', composites[f"{placement.stack}-az-{zone}"]["alarm_rule"])
        assert members and all(m.endswith(f"-no-healthy-{zone}") for m in members)
    rule = composites[f"{placement.stack}-region"]["alarm_rule"]
    assert rule.startswith(f'ALARM("{placement.stack}-alb-primary-5xx") OR (')
    assert all(f'ALARM("{placement.stack}-az-{z}")' in rule for z in zones) and " AND " in rule
    address = {a["alarm_name"]: f"aws_cloudwatch_metric_alarm.{n}" for n, a in resources(stack, "aws_cloudwatch_metric_alarm").items()}
    address |= {a["alarm_name"]: f"aws_cloudwatch_composite_alarm.{n}"
                for n, a in resources(stack, "aws_cloudwatch_composite_alarm").items()}
    for composite in composites.values():  # CloudWatch needs the members to exist first
        members = re.findall(r'ALARM\("([^"]+)"\)', composite["alarm_rule"])
        assert {address[m] for m in members} <= set(composite["depends_on"])


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_alerts_go_through_the_regions_own_encrypted_topic(stacks, env, placement):
    stack = stacks[placement.stack]
    (topic_name, topic), = resources(stack, "aws_sns_topic").items()
    assert topic["name"] == f"{placement.stack}-alerts" and topic["kms_master_key_id"]
    local = f"${{aws_sns_topic.{topic_name}.arn}}"
    for alarm in [*resources(stack, "aws_cloudwatch_metric_alarm").values(),
                  *resources(stack, "aws_cloudwatch_composite_alarm").values()]:
        assert set(alarm["alarm_actions"]) <= {local} and set(alarm["ok_actions"]) <= {local}
    (policy,) = resources(stack, "aws_sns_topic_policy").values()
    publish = next(s for s in json.loads(policy["policy"])["Statement"] if s["Sid"] == "ThisRegionsAlarmsPublish")
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Condition"]["ArnLike"]["aws:SourceArn"].endswith(f":alarm:{placement.stack}-*")
    assert f":cloudwatch:{placement.region.name}:" in publish["Condition"]["ArnLike"]["aws:SourceArn"]
    emails = sorted(s["endpoint"] for s in resources(stack, "aws_sns_topic_subscription").values())
    assert emails == sorted(env.observability.alert_emails)


def test_the_logs_key_lets_cloudwatch_publish_alarms_of_its_own_account_and_region(stacks):
    for env in ENVIRONMENTS.values():
        security = stacks[f"{env.name}-security"]
        keys = [*resources(security, "aws_kms_key").values(), *resources(security, "aws_kms_replica_key").values()]
        logs = [k for k in keys if "CloudWatchLogsUse" in k["policy"]]
        assert logs
        for key in logs:
            statement = next(s for s in json.loads(key["policy"])["Statement"] if s["Sid"] == "CloudWatchAlarmsPublish")
            assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
            assert ":cloudwatch:" in statement["Condition"]["ArnLike"]["aws:SourceArn"]


@pytest.mark.parametrize("env", list(ENVIRONMENTS.values()), ids=lambda e: e.name)
def test_the_standby_alerts_when_its_database_falls_behind_by_more_than_the_configured_lag(stacks, env):
    placements = regional_stacks(env)
    for placement in placements:
        data = stacks[f"{placement.stack}-data"]
        alarms = [a for a in resources(data, "aws_cloudwatch_metric_alarm").values()
                  if a.get("metric_name") == "AuroraGlobalDBReplicationLag"]
        if placement.role != "standby":
            assert not alarms  # the metric exists only in the secondary's region
            continue
        (alarm,) = alarms
        assert alarm["alarm_name"] == f"{placement.stack}-data-aurora-replication-lag"
        assert alarm["metric_name"] == "AuroraGlobalDBReplicationLag" and alarm["namespace"] == "AWS/RDS"
        assert alarm["threshold"] == env.observability.database_lag_seconds * 1000
        assert alarm["treat_missing_data"] == "breaching"
        # through the region's own topic, read from its regional stack
        assert alarm["alarm_actions"] == alarm["ok_actions"]
        assert f"cross-stack-reference-input-{placement.stack}." in alarm["alarm_actions"][0]
        assert "aws_sns_topic" in alarm["alarm_actions"][0]


@pytest.mark.parametrize("env", ENVIRONMENTS.values(), ids=lambda e: e.name)
def test_the_standby_alerts_when_its_cache_falls_behind_whichever_member_is_its_primary(stacks, env):
    from modules.data import cache_name
    for placement in regional_stacks(env):
        data = stacks[f"{placement.stack}-data"]
        alarms = [a for a in resources(data, "aws_cloudwatch_metric_alarm").values()
                  if "GlobalDatastoreReplicationLag" in json.dumps(a.get("metric_query", []))]
        if placement.role != "standby":
            assert not alarms  # published in the secondary's region only
            continue
        (alarm,) = alarms
        assert alarm["alarm_name"] == f"{placement.stack}-data-cache-replication-lag"
        assert alarm["threshold"] == env.observability.cache_lag_seconds and alarm["treat_missing_data"] == "breaching"
        queries = {q["id"]: q for q in alarm["metric_query"]}
        members = sorted(q["metric"]["dimensions"]["CacheClusterId"] for q in queries.values() if "metric" in q)
        group = cache_name(env.name, placement.region.name)
        assert members == [f"{group}-{n:03d}" for n in range(1, env.data.cache.replicas + 2)]
        (returned,) = [q for q in queries.values() if q.get("return_data")]
        assert returned["expression"].startswith("MAX([")
        assert f"cross-stack-reference-input-{placement.stack}." in alarm["alarm_actions"][0]


def _platform_names(env) -> list[str]:
    return sorted(record_fqdn(r.name, env.domain) for r in env.dns.records if r.target == "platform")


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_each_region_runs_canaries_through_its_own_and_the_other_regions_failover_names(stacks, env, placement):
    observed = env.observability
    stack = stacks[placement.stack]
    canaries = {c["name"]: c for c in resources(stack, "aws_synthetics_canary").values()}
    if not observed.canary_minutes:
        assert not canaries
        return
    others = [r.name for r in env.regions.all if r.name != placement.region.name]
    assert len(canaries) == 1 + bool(others)
    path = observed.canary_path or env.dns.health_check.path
    alarms = {a["alarm_name"]: a for a in resources(stack, "aws_cloudwatch_metric_alarm").values()}
    buckets = {b["bucket"] for b in resources(stack, "aws_s3_bucket").values()}
    for canary in canaries.values():
        peer = canary["name"] != placement.stack
        regions = others if peer else [placement.region.name]
        targets = json.loads(canary["run_config"]["environment_variables"]["SPOFLESS_TARGETS"])
        assert targets == [{"connect": f"{region}.failover.{name}", "host": name, "path": path}
                           for region in regions for name in _platform_names(env)]
        # the failover names are asked of the zone's Route53 name servers (Cloudflare does not hold them)
        assert "aws_route53_zone" in canary["run_config"]["environment_variables"]["SPOFLESS_NAMESERVERS"]
        assert "name_servers" in canary["run_config"]["environment_variables"]["SPOFLESS_NAMESERVERS"]
        assert canary["start_canary"] is True and canary["delete_lambda"] is True  # it runs; destroy removes its function
        assert canary["schedule"]["expression"] == (
            "rate(1 minute)" if observed.canary_minutes == 1 else f"rate({observed.canary_minutes} minutes)")
        assert canary["runtime_version"] == observed.canary_runtime
        assert canary["run_config"]["timeout_in_seconds"] <= observed.canary_minutes * 60
        assert canary["artifact_config"]["s3_encryption"]["encryption_mode"] == "SSE_KMS"
        assert canary["artifact_s3_location"].removeprefix("s3://").rstrip("/") in buckets
        assert canary["zip_file"].startswith("assets/") and canary["zip_file"].endswith(".zip")
        (alarm,) = [a for a in alarms.values() if a.get("dimensions", {}).get("CanaryName") == canary["name"]]
        assert alarm["alarm_name"] == f"{placement.stack}-{'peer-canary' if peer else 'canary'}"
        # what Route53 can read: one metric, a plain statistic, one datapoint per run, no "M out of N"
        assert alarm["namespace"] == "CloudWatchSynthetics" and alarm["metric_name"] == "SuccessPercent"
        assert alarm["statistic"] == "Average" and alarm["period"] == observed.canary_minutes * 60
        assert alarm["evaluation_periods"] == alarm["datapoints_to_alarm"] == observed.evaluation_minutes
        assert alarm["treat_missing_data"] == "breaching"


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_the_canary_role_reaches_its_bucket_its_logs_and_its_metrics_only(stacks, env, placement):
    if not env.observability.canary_minutes:
        pytest.skip(f"{env.name} runs no canary")
    stack = stacks[placement.stack]
    (role,) = [r for r in resources(stack, "aws_iam_role").values() if r["name"] == f"{placement.stack}-canary"]
    trust = json.loads(role["assume_role_policy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"} and "aws:SourceAccount" in json.dumps(trust)
    (policy,) = [p for p in resources(stack, "aws_iam_role_policy").values() if p["name"] == "canary"]
    statements = {st["Sid"]: st for st in json.loads(policy["policy"])["Statement"]}
    assert statements["Metrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}}
    names = sorted(c["name"] for c in resources(stack, "aws_synthetics_canary").values())
    logs = statements["Logs"]["Resource"]
    assert len(logs) == len(names) and all(  # each canary's own log group, in this region
        any(r.endswith(f":log-group:/aws/lambda/cwsyn-{n}-*") and f":logs:{placement.region.name}:" in r for r in logs)
        for n in names)
    assert statements["Results"]["Resource"].endswith("/*") and statements["Results"]["Action"] == [
        "s3:GetObject", "s3:PutObject"]
    key_use = [st for st in statements.values() if st.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")]
    assert key_use and all(st["Condition"]["StringEquals"]["kms:ViaService"] == f"s3.{placement.region.name}.amazonaws.com"
                           for st in key_use)


@pytest.mark.parametrize("env", list(ENVIRONMENTS.values()), ids=lambda e: e.name)
def test_each_region_alerts_on_the_copies_it_sends_and_receives(stacks, env):
    """OperationsFailedReplication is published in the source's region, ReplicationLatency in the
    destination's: each region watches its outgoing rule's failures and its incoming rule's latency."""
    placements = regional_stacks(env)
    for placement in placements:
        data = stacks[f"{placement.stack}-data"]
        alarms = {a["metric_name"]: a for a in resources(data, "aws_cloudwatch_metric_alarm").values()
                  if a.get("namespace") == "AWS/S3"}
        others = [p for p in placements if p is not placement]
        if not others or not env.data.bucket.replication_time_control:
            assert not alarms  # nothing replicates, or no replication metrics without Replication Time Control
            continue
        (other,) = others
        own = f"{env.name}-{placement.region.name}-app-{env.account_id}"
        theirs = f"{env.name}-{other.region.name}-app-{env.account_id}"
        assert alarms["OperationsFailedReplication"]["dimensions"] == {
            "SourceBucket": own, "DestinationBucket": theirs, "RuleId": f"to-{other.region.name}"}
        assert alarms["OperationsFailedReplication"]["threshold"] == 0
        assert alarms["ReplicationLatency"]["dimensions"] == {
            "SourceBucket": theirs, "DestinationBucket": own, "RuleId": f"to-{placement.region.name}"}
        assert alarms["ReplicationLatency"]["threshold"] == env.observability.replication_latency_seconds
        # the rules' ids are what the metrics carry
        rules = [r for c in resources(data, "aws_s3_bucket_replication_configuration").values() for r in c["rule"]]
        assert [r["id"] for r in rules] == [f"to-{other.region.name}"]
        for alarm in alarms.values():
            assert alarm["treat_missing_data"] == "notBreaching" and alarm["alarm_actions"] == alarm["ok_actions"]
            assert f"cross-stack-reference-input-{placement.stack}." in alarm["alarm_actions"][0]


@pytest.mark.parametrize("env", list(ENVIRONMENTS.values()), ids=lambda e: e.name)
def test_failed_backup_and_copy_jobs_of_the_environments_resources_alert_in_their_region(stacks, env):
    for placement in regional_stacks(env):
        data = stacks[f"{placement.stack}-data"]
        (rule,) = resources(data, "aws_cloudwatch_event_rule").values()
        pattern = json.loads(rule["event_pattern"])
        assert pattern["source"] == ["aws.backup"]
        assert set(pattern["detail-type"]) == {"Backup Job State Change", "Copy Job State Change"}
        assert set(pattern["detail"]["state"]) == {"FAILED", "ABORTED", "EXPIRED"}
        # this environment's resources only: the account's other environments page their own people
        (plan_selection,) = resources(data, "aws_backup_selection").values()
        assert sorted(pattern["detail"]["resourceArn"]) == sorted(plan_selection["resources"])
        assert rule["name"].startswith(f"{placement.stack}-")  # what the topic's policy admits
        (target,) = resources(data, "aws_cloudwatch_event_target").values()
        assert "aws_sns_topic" in target["arn"] and f"cross-stack-reference-input-{placement.stack}." in target["arn"]
    for placement in regional_stacks(env):
        (policy,) = resources(stacks[placement.stack], "aws_sns_topic_policy").values()
        rules = next(s for s in json.loads(policy["policy"])["Statement"] if s["Sid"] == "ThisRegionsRulesPublish")
        assert rules["Principal"] == {"Service": "events.amazonaws.com"}
        assert rules["Condition"]["ArnLike"]["aws:SourceArn"].endswith(f":rule/{placement.stack}-*")


def _prometheus_rules(stack: dict) -> dict[str, list[dict]]:
    import yaml
    (namespace,) = resources(stack, "aws_prometheus_rule_group_namespace").values()
    rules: dict[str, list[dict]] = {}
    for group in yaml.safe_load(namespace["data"])["groups"]:
        for rule in group["rules"]:
            rules.setdefault(rule["alert"], []).append(rule)
    return rules


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_each_region_collects_its_clusters_metrics_from_subnets_without_pods(stacks, env, placement):
    """GIVEN an environment with cluster metrics WHEN synthesized THEN its region has a workspace, logged and kept
    for the configured days, and a managed collector on its own cluster, in the collector subnets of every AZ
    (not where the nodes and pods live), with the cluster's security group."""
    stack = stacks[placement.stack]
    scrapers = resources(stack, "aws_prometheus_scraper")
    if not env.observability.cluster_metrics:
        assert not scrapers and not resources(stack, "aws_prometheus_workspace")
        return
    (workspace_name, workspace), = resources(stack, "aws_prometheus_workspace").items()
    assert workspace["alias"] == placement.stack
    assert workspace["logging_configuration"]["log_group_arn"].endswith(".arn}:*")
    (config,) = resources(stack, "aws_prometheus_workspace_configuration").values()
    assert config["retention_period_in_days"] == env.observability.metrics_retention_days
    (scraper,) = scrapers.values()
    assert scraper["destination"][0]["amp"][0]["workspace_arn"] == f"${{aws_prometheus_workspace.{workspace_name}.arn}}"
    eks = scraper["source"][0]["eks"][0]
    (cluster_name, cluster), = resources(stack, "aws_eks_cluster").items()
    assert eks["cluster_arn"] == f"${{aws_eks_cluster.{cluster_name}.arn}}"
    assert eks["security_group_ids"] == [f"${{aws_eks_cluster.{cluster_name}.vpc_config[0].cluster_security_group_id}}"]
    subnets = resources(stack, "aws_subnet")
    used = [subnets[ref.split(".")[1]] for ref in eks["subnet_ids"]]
    assert {s["tags"]["Tier"] for s in used} == {"collector"}
    assert sorted(s["availability_zone"] for s in used) == sorted(placement.region.zones)
    assert not set(eks["subnet_ids"]) & set(cluster["vpc_config"]["subnet_ids"])


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_the_clusters_alert_rules_follow_the_node_groups_and_both_engines(stacks, env, placement):
    if not env.observability.cluster_metrics:
        return
    rules = _prometheus_rules(stacks[placement.stack])
    observed = env.observability
    assert {r["for"] for r in rules["NodeNotReady"]} == {f"{observed.node_not_ready_minutes}m"}
    assert {r["for"] for r in rules["ContainerCrashLooping"]} == {f"{observed.crash_loop_minutes}m"}
    # one rule per node group with a minimum, each on the group's own name and minimum
    expected = {f"{placement.stack}-on-demand": env.eks.on_demand.min, f"{placement.stack}-spot": env.eks.spot.min}
    below = {re.search(r'nodegroup="([^"]+)"', r["expr"]).group(1): int(r["expr"].rsplit("<", 1)[1])
             for r in rules["NodeGroupBelowMinimum"]}
    assert below == {group: minimum for group, minimum in expected.items() if minimum > 0}
    # a reclaimed spot node's replacement takes minutes: the spot group's rule waits at least 10
    waits = {re.search(r'nodegroup="([^"]+)"', r["expr"]).group(1): int(r["for"][:-1]) for r in rules["NodeGroupBelowMinimum"]}
    assert all(w >= 10 for g, w in waits.items() if g.endswith("-spot"))
    # an engine's controller that is down leaves its status stale: its replicas are watched themselves
    assert {"GitopsControllerUnavailableDeployment", "GitopsControllerUnavailableStatefulSet"} <= set(rules)
    # a group with no Ready node at all still alerts (count() of nothing is no series: "or vector(0)")
    assert all("or vector(0)" in r["expr"] for r in rules["NodeGroupBelowMinimum"])
    # both engines, each on what it is meant to reconcile: the knob moves the alerts without this stack
    assert 'self_heal="true"' in rules["ArgoCDApplicationOutOfSync"][0]["expr"]
    assert 'suspended!="true"' in rules["FluxNotReady"][0]["expr"]
    assert {r["for"] for r in rules["FluxNotReady"]} == {f"{observed.sync_failure_minutes}m"}
    # blind is an alert too
    assert "absent(" in rules["KubeStateMetricsDown"][0]["expr"]


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_the_workspace_alerts_through_the_regions_topic_which_admits_it(stacks, env, placement):
    import yaml
    stack = stacks[placement.stack]
    if not env.observability.cluster_metrics:
        return
    (topic_name, _), = resources(stack, "aws_sns_topic").items()
    (workspace_name, _), = resources(stack, "aws_prometheus_workspace").items()
    (definition,) = resources(stack, "aws_prometheus_alert_manager_definition").values()
    config = yaml.safe_load(yaml.safe_load(definition["definition"])["alertmanager_config"])
    (receiver,) = config["receivers"]
    (sns,) = receiver["sns_configs"]
    assert sns["topic_arn"] == f"${{aws_sns_topic.{topic_name}.arn}}"
    assert sns["sigv4"] == {"region": placement.region.name}
    assert config["route"]["receiver"] == receiver["name"]
    (policy_name, policy), = resources(stack, "aws_sns_topic_policy").items()
    assert definition["depends_on"] == [f"aws_sns_topic_policy.{policy_name}"]
    amp = next(s for s in json.loads(policy["policy"])["Statement"] if s["Sid"] == "ThisRegionsPrometheusAlerts")
    assert amp["Principal"] == {"Service": "aps.amazonaws.com"}
    assert amp["Condition"]["ArnEquals"]["aws:SourceArn"] == f"${{aws_prometheus_workspace.{workspace_name}.arn}}"


@pytest.mark.parametrize("env, placement", [(e, p) for e in ENVIRONMENTS.values() for p in gitops_stacks(e)],
                         ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_kube_state_metrics_admits_the_collector_subnets_only(stacks, env, placement):
    import yaml
    from modules.network.layout import plan_subnets
    stack = stacks[placement.stack]
    releases = {r["name"]: r for r in resources(stack, "helm_release").values()}
    if not env.observability.cluster_metrics:
        assert "kube-state-metrics" not in releases
        return
    values = yaml.safe_load(releases["kube-state-metrics"]["values"][0])
    assert values["replicas"] >= 2 and values["podDisruptionBudget"] == {"maxUnavailable": 1}
    assert values["metricLabelsAllowlist"] == ["nodes=[eks.amazonaws.com/nodegroup]"]
    kinds = {r["groupVersionKind"]["kind"] for r in values["customResourceState"]["config"]["spec"]["resources"]}
    assert kinds == {"Application", "GitRepository", "Kustomization", "HelmRelease"}
    policies = {p["metadata"]["name"]: p for p in resources(stack, "kubernetes_network_policy_v1").values()
                if "ns-monitoring" in p["metadata"]["namespace"]}
    assert "default-deny" in policies
    (ingress,) = policies["allow-from-collector"]["spec"]["ingress"]
    collector = plan_subnets(placement.region.vpc_cidr, len(placement.region.zones)).collector
    assert sorted(f["ip_block"]["cidr"] for f in ingress["from"]) == sorted(collector)
    assert [p["port"] for p in ingress["ports"]] == ["8080"]


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_each_region_has_a_dashboard_of_its_own_region_only(stacks, env, placement):
    """GIVEN a regional stack WHEN synthesized THEN its dashboard, named after the stack (dashboard names are
    account-wide), reads every metric from its own region, shows the state of the alarms that decide the
    failover, each load balancer's healthy targets in every AZ it spans, and the replication it receives."""
    stack = stacks[placement.stack]
    (dashboard,) = resources(stack, "aws_cloudwatch_dashboard").values()
    assert dashboard["dashboard_name"] == placement.stack
    widgets = json.loads(dashboard["dashboard_body"])["widgets"]
    metric = [w["properties"] for w in widgets if w["type"] == "metric"]
    assert {m["region"] for m in metric} == {placement.region.name}
    (alarm,) = [w["properties"]["alarms"] for w in widgets if w["type"] == "alarm"]
    names = {a.rsplit(":alarm:", 1)[1] for a in alarm}
    assert {f"{placement.stack}-region", *(f"{placement.stack}-az-{z}" for z in placement.region.zones)} <= names
    assert all(f":cloudwatch:{placement.region.name}:{env.account_id}:alarm:" in a for a in alarm)
    healthy = {(m[0][3], z[7]) for m in (p["metrics"] for p in metric) if m[0][1] == "HealthyHostCount" for z in m}
    assert len({lb for lb, _ in healthy}) == len(resources(stack, "aws_lb"))
    assert {z for _, z in healthy} == set(placement.region.zones)
    standby = env.regions.standby is not None and placement.region.name == env.regions.standby.name
    for lag_metric in ("AuroraGlobalDBReplicationLag", "GlobalDatastoreReplicationLag"):
        assert bool([p for p in metric if p["metrics"][0][1] == lag_metric]) == standby
    # no widget overlaps another, and each fits the 24-column grid
    cells = [(x, y) for w in widgets for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])]
    assert len(cells) == len(set(cells)) and all(w["x"] + w["width"] <= 24 for w in widgets)


@pytest.mark.parametrize("env, placement", REGIONS, ids=lambda v: getattr(v, "stack", getattr(v, "name", str(v))))
def test_container_logs_go_to_log_groups_created_first_and_traces_to_xray(stacks, env, placement):
    """GIVEN container logs on WHEN synthesized THEN the CloudWatch Observability add-on, at the version row's
    pinned build, writes into the four log groups of its cluster, created before it with the region's logs key
    and the configured retention, through a Pod Identity role on its own service account; it opens the trace
    receivers on every node and keeps its controller on on-demand capacity."""
    from environments import eks_versions
    stack = stacks[placement.stack]
    addons = [a for a in resources(stack, "aws_eks_addon").values()
              if a["addon_name"] == "amazon-cloudwatch-observability"]
    if not env.observability.container_logs:
        assert not addons
        return
    (addon,) = addons
    assert addon["addon_version"] == eks_versions.VERSIONS[env.eks.version].observability_addon
    groups = {g["name"]: (n, g) for n, g in resources(stack, "aws_cloudwatch_log_group").items()
              if g["name"].startswith(f"/aws/containerinsights/{placement.stack}/")}
    assert sorted(groups) == [f"/aws/containerinsights/{placement.stack}/{k}"
                              for k in ("application", "dataplane", "host", "performance")]
    for name, group in groups.values():
        assert group["retention_in_days"] == env.observability.log_retention_days and group["kms_key_id"]
        assert f"aws_cloudwatch_log_group.{name}" in addon["depends_on"]
    (association,) = addon["pod_identity_association"]
    assert association["service_account"] == "cloudwatch-agent"
    role = resources(stack, "aws_iam_role")[association["role_arn"].split(".")[1]]
    trust = json.loads(role["assume_role_policy"])["Statement"][0]["Condition"]["StringEquals"]
    assert trust["aws:RequestTag/kubernetes-namespace"] == "amazon-cloudwatch"
    assert trust["aws:RequestTag/kubernetes-service-account"] == "cloudwatch-agent"
    values = json.loads(addon["configuration_values"])
    assert values["containerLogs"] == {"enabled": True}
    traces = values["agent"]["config"]["traces"]["traces_collected"]
    assert traces["xray"]["bind_address"] == "0.0.0.0:2000"
    assert (traces["otlp"]["grpc_endpoint"], traces["otlp"]["http_endpoint"]) == ("0.0.0.0:4317", "0.0.0.0:4318")
    assert values["manager"]["nodeSelector"] == {"eks.amazonaws.com/capacityType": "ON_DEMAND"}
