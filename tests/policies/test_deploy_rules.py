"""The deploy-rules pack: every rule fails on the undeployable shape and passes on today's output.

The failing fixture is the real synthesized output from before the fixes
(tests/fixtures/deploy/before, commit a2e094a); the passing one is this session's
synthesis of every environment, so a regression in any environment fails here.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from policies.model.output import Output, expressions
from policies.rules import RULES, rules_with_fixture, run_rules

ACCOUNT_RULES = rules_with_fixture("account")
MUTATED_RULES = rules_with_fixture("mutated")
PRIVILEGE_RULES = rules_with_fixture("privilege")

BEFORE = Path(__file__).resolve().parents[1] / "fixtures" / "deploy" / "before"
# the output of every environment before the account baseline (three environments in one account)
ACCOUNT_BEFORE = Path(__file__).resolve().parents[1] / "fixtures" / "deploy" / "account-before"
# prod's output before the privileges inside the platform were narrowed
PRIVILEGE_BEFORE = Path(__file__).resolve().parents[1] / "fixtures" / "deploy" / "privilege-before"
RULE_IDS = [r.id for r in RULES]


def _verdicts(output: Output) -> dict[str, dict[bool, list]]:
    found: dict[str, dict[bool, list]] = defaultdict(lambda: {True: [], False: []})
    for result in run_rules(output):
        found[result.rule][result.passed].append(result)
    return found


@pytest.fixture(scope="module")
def before():
    return _verdicts(Output.load(BEFORE))


@pytest.fixture(scope="module")
def today(synth_dir):
    return _verdicts(Output.load(synth_dir))


def test_the_pack_has_a_rule_per_numbered_finding():
    numbers = sorted(int(i.rsplit("_", 1)[1]) for i in RULE_IDS)
    assert numbers == list(range(1, numbers[-1] + 1)) and numbers[-1] >= 47  # numbered without gaps
    assert all(r.source.startswith("https://") for r in RULES)


# the data tier's rules judge stores the output from before the fixes does not have: their failing
# fixtures are today's output with one thing taken away (tests/policies/test_data_rules.py)
@pytest.mark.parametrize("rule_id", [r for r in RULE_IDS
                                     if r not in MUTATED_RULES + ACCOUNT_RULES + PRIVILEGE_RULES])
def test_rule_fails_the_shape_that_was_undeployable(before, rule_id):
    assert before[rule_id][False], f"{rule_id} found nothing wrong with the output from before the fixes"


@pytest.fixture(scope="module")
def account_before():
    return _verdicts(Output.load(ACCOUNT_BEFORE))


@pytest.mark.parametrize("rule_id, expected", [
    ("SPOF_DEPLOY_29", "is created by 3 stacks"),  # AWSServiceRoleForAutoScaling in every security stack
    ("SPOF_DEPLOY_30", "EC2-VPC Elastic IPs in us-east-1"),  # 7 NAT Elastic IPs against 5
    ("SPOF_DEPLOY_31", "does not ignore_changes engine"),  # the standby caches
    ("SPOF_DEPLOY_32", "keeps the trailing dot"),  # the ACM validation CNAMEs
    ("SPOF_DEPLOY_33", "has no prevent_destroy"),  # prod's compliance vault locks
    ("SPOF_DEPLOY_34", "no account baseline"),  # no trail, no detection
])
def test_account_rule_fails_the_output_from_before_the_baseline(account_before, rule_id, expected):
    failures = account_before[rule_id][False]
    assert any(expected in str(r) for r in failures), "\n".join(map(str, failures)) or f"{rule_id} found nothing"


@pytest.fixture(scope="module")
def privilege_before():
    return _verdicts(Output.load(PRIVILEGE_BEFORE))


PRIVILEGE_EXPECTED = [
    ("SPOF_DEPLOY_36", "allows ec2:AuthorizeSecurityGroupIngress"),  # the full upstream controller policy
    ("SPOF_DEPLOY_37", "carries kubernetes.io/role/elb"),  # public subnets open to discovery
    ("SPOF_DEPLOY_38", "the ClusterSecretStore has no conditions"),
    ("SPOF_DEPLOY_39", "argocd/allow-from-vpc admits 10.32.0.0/16"),  # the whole VPC into the GitOps namespaces
    ("SPOF_DEPLOY_40", "uses project 'default'"),
    ("SPOF_DEPLOY_41", "without aws:RequestTag/eks-cluster-arn"),  # any association in the account
    ("SPOF_DEPLOY_42", "has no source_arn"),
    ("SPOF_DEPLOY_43", "does not set rds.force_ssl = 1"),
    ("SPOF_DEPLOY_44", ":v1.35.0 by tag only"),  # the Cluster Autoscaler's image
    ("SPOF_DEPLOY_45", "no route sends every request of the entrypoint nlb to a firewall"),
]


@pytest.mark.parametrize("rule_id, expected", PRIVILEGE_EXPECTED)
def test_privilege_rule_fails_the_output_from_before_the_narrowing(privilege_before, rule_id, expected):
    assert set(PRIVILEGE_RULES) == {r for r, _ in PRIVILEGE_EXPECTED}
    failures = privilege_before[rule_id][False]
    assert any(expected in str(r) for r in failures), "\n".join(map(str, failures)) or f"{rule_id} found nothing"


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_passes_todays_output_of_every_environment(today, rule_id, environments):
    assert not today[rule_id][False], "\n".join(map(str, today[rule_id][False]))
    assert today[rule_id][True], f"{rule_id} judged nothing in today's output"


def test_a_cross_stack_read_of_an_output_its_producer_lost_fails_the_reference_rule(synth_dir):
    """GIVEN today's output with one output a DNS stack reads taken from its producer, and a Cloudflare
    record reading a resource its stack does not declare, THEN the reference rule names both."""
    import copy

    output = Output.load(synth_dir)
    stacks = copy.deepcopy(output.stacks)
    consumer = next(s for s in sorted(stacks) if s.endswith("-dns-route53"))
    read = next(e for conf in stacks[consumer]["resource"]["aws_route53_record"].values()
                for e in expressions(conf)
                if e.startswith("data.terraform_remote_state."))
    producer, name = read.split(".")[2].removeprefix("cross-stack-reference-input-"), read.split(".")[4]
    del stacks[producer]["output"][name]
    flare = next(s for s in sorted(stacks) if s.endswith("-dns-cloudflare"))
    record = next(iter(stacks[flare]["resource"]["cloudflare_dns_record"].values()))
    record["content"] = "${cloudflare_zone.gone.id}"
    failed = {r.stack: r.message for r in run_rules(Output(stacks, output.manifest), {"SPOF_DEPLOY_35"})
              if not r.passed}
    assert f"{producer} declares no output {name}" in failed[consumer]
    assert f"{flare} has no cloudflare_zone.gone" in failed[flare]
    assert len(failed) == 2


def test_standby_state_rule_judges_every_two_region_environment(today, environments, synth_dir):
    two_region = {e for e, c in environments.items() if c.regions.standby}
    output = Output.load(synth_dir)
    judged = {output.environment_of(r.stack) for r in today["SPOF_DEPLOY_10"][True]}
    assert judged == two_region


# -- the second pack: each rule catches the one change that reintroduces its finding ---------------

def _first(stacks: dict, rtype: str, where=lambda c: True):
    for stack in sorted(stacks):
        for name, conf in sorted(stacks[stack].get("resource", {}).get(rtype, {}).items()):
            if where(conf):
                return stack, conf
    raise AssertionError(f"no {rtype} in the output")


def _release(stacks: dict, chart: str):
    import yaml
    stack, conf = _first(stacks, "helm_release", lambda c: c.get("chart") == chart)
    values = yaml.safe_load(conf["values"][0])
    return conf, values, lambda: conf.__setitem__("values", [yaml.safe_dump(values)])


def _unredact(stacks):
    _, conf = _first(stacks, "aws_wafv2_web_acl_logging_configuration")
    conf["redacted_fields"] = [f for f in conf["redacted_fields"] if f["single_header"]["name"] != "authorization"]


def _no_proxy_protocol(stacks):
    _, conf = _first(stacks, "aws_lb_target_group", lambda c: c.get("protocol") == "TLS")
    conf.pop("proxy_protocol_v2")


def _no_rate_limit(stacks):
    _, values, save = _release(stacks, "traefik")
    values["ports"]["nlb"]["http"]["middlewares"] = [m for m in values["ports"]["nlb"]["http"]["middlewares"]
                                                     if "rate" not in m]
    save()


def _old_addon(stacks):
    _, conf = _first(stacks, "aws_eks_addon", lambda c: c["addon_name"] == "kube-proxy")
    conf["addon_version"] = "v1.31.3-eksbuild.2"


def _no_support_type(stacks):
    _, conf = _first(stacks, "aws_eks_cluster")
    conf.pop("upgrade_policy")


def _untainted_spot(stacks):
    _, conf = _first(stacks, "aws_eks_node_group", lambda c: c.get("capacity_type") == "SPOT")
    conf.pop("taint")


def _argocd_anywhere(stacks):
    _, values, save = _release(stacks, "argo-cd")
    values["redis-ha"].pop("nodeSelector")
    save()


def _no_eks_auth_endpoint(stacks):
    stack, _ = _first(stacks, "aws_vpc_endpoint")
    endpoints = stacks[stack]["resource"]["aws_vpc_endpoint"]
    for name in [n for n, c in endpoints.items() if c["service_name"].endswith(".eks-auth")]:
        del endpoints[name]


def _account_wide_autoscaler(stacks):
    import json
    _, conf = _first(stacks, "aws_iam_role_policy", lambda c: "SetDesiredCapacity" in c["policy"])
    policy = json.loads(conf["policy"])
    for statement in policy["Statement"]:
        statement.pop("Condition", None)
    conf["policy"] = json.dumps(policy)


def _no_autoscaler(stacks):
    stack, _ = _first(stacks, "helm_release", lambda c: c.get("chart") == "cluster-autoscaler")
    releases = stacks[stack]["resource"]["helm_release"]
    for name in [n for n, c in releases.items() if c["chart"] == "cluster-autoscaler"]:
        del releases[name]


def _unpinned_crs(stacks):
    _, conf = _first(stacks, "aws_wafv2_web_acl")
    for waf_rule in conf["rule"]:
        waf_rule["statement"].get("managed_rule_group_statement", {}).pop("version", None)


def _bigger_bodies_on_one_path(stacks):
    """The NLB's path accepts 1 MiB while WAF holds the ALBs' path at 8 KB."""
    _, values, save = _release(stacks, "traefik")
    for item in values["extraObjects"]:
        if "buffering" in item.get("spec", {}):
            item["spec"]["buffering"]["maxRequestBodyBytes"] = 1 << 20
    save()


def _unlimited_nlb_path(stacks):
    _, values, save = _release(stacks, "traefik")
    values["ports"]["nlb"]["http"]["middlewares"] = [m for m in values["ports"]["nlb"]["http"]["middlewares"]
                                                     if "body" not in m]
    save()


def _untagged_volumes(stacks):
    _, conf = _first(stacks, "aws_launch_template")
    conf["tag_specifications"] = [t for t in conf["tag_specifications"] if t["resource_type"] != "volume"]


def _no_version_floor(stacks):
    stacks[sorted(stacks)[0]]["terraform"].pop("required_version")


def _any_account(stacks):
    stack = next(s for s in sorted(stacks) if stacks[s].get("provider", {}).get("aws"))
    stacks[stack]["provider"]["aws"][0].pop("allowed_account_ids")


def _markers_kept(stacks):
    _, conf = _first(stacks, "aws_s3_bucket_lifecycle_configuration")
    conf["rule"] = [r for r in conf["rule"] if not r["expiration"][0].get("expired_object_delete_marker")]


def _autoscaling_may_only_describe_the_key(stacks):
    """The Auto Scaling role keeps its statement on the volumes' key, with too few actions to use it."""
    import json as _json

    for stack in stacks.values():
        for conf in stack.get("resource", {}).get("aws_kms_key", {}).values():
            policy = _json.loads(conf["policy"])
            for statement in policy["Statement"]:
                if statement.get("Sid") == "AutoScalingServiceRoleUse":
                    statement["Action"] = ["kms:DescribeKey"]
                    conf["policy"] = _json.dumps(policy)
                    return


def _wrong_actions_on_the_log_bucket(stacks):
    """The log bucket's policy names the LB's prefix but grants a read, not s3:PutObject."""
    import json as _json

    _, conf = _first(stacks, "aws_s3_bucket_policy", lambda c: "AlbLogDelivery" in c["policy"])
    policy = _json.loads(conf["policy"])
    for statement in policy["Statement"]:
        if "s3:PutObject" in (statement.get("Action") if isinstance(statement.get("Action"), list)
                              else [statement.get("Action")]):
            statement["Action"] = ["s3:GetObject"]
    conf["policy"] = _json.dumps(policy)


def _firewall(values: dict) -> dict:
    return next(o for o in values["extraObjects"] if o["kind"] == "Deployment")


def _firewall_detects_only(stacks):
    _, values, save = _release(stacks, "traefik")
    for env in _firewall(values)["spec"]["template"]["spec"]["containers"][0]["env"]:
        if env["name"] == "MODSEC_RULE_ENGINE":
            env["value"] = "DetectionOnly"
    save()


def _firewall_in_one_zone(stacks):
    _, values, save = _release(stacks, "traefik")
    for constraint in _firewall(values)["spec"]["template"]["spec"]["topologySpreadConstraints"]:
        constraint["whenUnsatisfiable"] = "ScheduleAnyway"
    save()


def _health_checks_skip_the_firewall(stacks):
    _, values, save = _release(stacks, "traefik")
    values["ingressRoute"]["healthcheck"]["entryPoints"].append("nlb")
    save()


def _workload_routes_default_to_the_nlb_entrypoint(stacks):
    _, values, save = _release(stacks, "traefik")
    values["ports"]["nlb"]["asDefault"] = True
    save()


def _a_route_past_the_firewall(stacks):
    _, values, save = _release(stacks, "traefik")
    values["extraObjects"].append({"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
                                   "metadata": {"name": "shortcut", "namespace": "ingress"},
                                   "spec": {"entryPoints": ["nlb"], "routes": [
                                       {"kind": "Rule", "match": "Host(`app.example.com`)",
                                        "services": [{"name": "app", "port": 80}]}]}})
    save()


def _nlb_routes_unguarded(stacks):
    import yaml
    _, conf = _first(stacks, "helm_release", lambda c: c.get("name") == "spofless-cluster")
    values = yaml.safe_load(conf["values"][0])
    values["objects"] = [o for o in values["objects"]
                         if "firewalled-entrypoint-routes" not in str(o.get("metadata", {}).get("name"))
                         and "firewalled-entrypoint-routes" not in str(o.get("spec", {}).get("policyName"))]
    conf["values"] = [yaml.safe_dump(values)]


def _flux_applies_unsigned_commits(stacks):
    import yaml
    _, conf = _first(stacks, "helm_release", lambda c: c.get("chart") == "flux2-sync" and "verify" in c["values"][0])
    values = yaml.safe_load(conf["values"][0])
    del values["gitRepository"]["spec"]["verify"]
    conf["values"] = [yaml.safe_dump(values)]


def _argocd_keyring_empty(stacks):
    import yaml
    _, conf = _first(stacks, "helm_release", lambda c: c.get("chart") == "argo-cd" and "gpg" in c["values"][0])
    values = yaml.safe_load(conf["values"][0])
    del values["configs"]["gpg"]
    conf["values"] = [yaml.safe_dump(values)]


def _inspected_port_from_the_load_balancers(stacks):
    _, conf = _first(stacks, "kubernetes_network_policy_v1",
                     lambda c: c["metadata"]["name"] == "allow-from-load-balancers")
    conf["spec"]["ingress"][0]["ports"].append({"port": "8445", "protocol": "TCP"})


def _cloudwatch_may_not_use_the_alert_key(stacks):
    import json
    _, conf = _first(stacks, "aws_kms_key", lambda c: "CloudWatchAlarmsPublish" in c.get("policy", ""))
    policy = json.loads(conf["policy"])
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "CloudWatchAlarmsPublish"]
    conf["policy"] = json.dumps(policy)


def _eventbridge_may_not_use_the_alert_key(stacks):
    import json
    _, conf = _first(stacks, "aws_kms_key", lambda c: "EventBridgeRulesPublish" in c.get("policy", ""))
    policy = json.loads(conf["policy"])
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "EventBridgeRulesPublish"]
    conf["policy"] = json.dumps(policy)


def _a_load_balancer_nobody_watches(stacks):
    stack = next(s for s, d in sorted(stacks.items()) if d.get("resource", {}).get("aws_cloudwatch_metric_alarm"))
    name = next(iter(stacks[stack]["resource"]["aws_lb"]))
    alarms = stacks[stack]["resource"]["aws_cloudwatch_metric_alarm"]
    for alarm in [a for a, c in alarms.items() if f"aws_lb.{name}.arn_suffix" in str(c)]:
        del alarms[alarm]


def _alerts_to_the_other_regions_topic(stacks):
    stack = next(s for s, d in sorted(stacks.items()) if d.get("resource", {}).get("aws_cloudwatch_metric_alarm"))
    alarm = next(c for c in stacks[stack]["resource"]["aws_cloudwatch_metric_alarm"].values() if c["alarm_actions"])
    alarm["alarm_actions"] = ["arn:aws:sns:us-west-2:111122223333:elsewhere-alerts"]


def _canary_alarm(stacks):
    return next(c for _, d in sorted(stacks.items()) for c in d.get("resource", {}).get("aws_cloudwatch_metric_alarm", {}
                                                                                        ).values()
                if c.get("namespace") == "CloudWatchSynthetics")


def _route53_reads_metric_math(stacks):
    alarm = _canary_alarm(stacks)
    for key in ("namespace", "metric_name", "statistic", "dimensions", "period"):
        alarm.pop(key)
    alarm["metric_query"] = [{"id": "x", "expression": "100 * m / 1", "return_data": True}]


def _route53_reads_an_extended_statistic(stacks):
    alarm = _canary_alarm(stacks)
    alarm["extended_statistic"] = alarm.pop("statistic") and "p90"


def _route53_reads_m_out_of_n(stacks):
    alarm = _canary_alarm(stacks)
    alarm["evaluation_periods"], alarm["datapoints_to_alarm"] = 5, 2


def _route53_reads_an_alarm_of_another_region(stacks):
    check = next(c for _, d in sorted(stacks.items()) for c in d.get("resource", {}).get("aws_route53_health_check", {}
                                                                                          ).values()
                 if c.get("type") == "CLOUDWATCH_METRIC")
    check["cloudwatch_alarm_region"] = "eu-west-1"


def _prometheus(stacks, rtype):
    stack = next(s for s, d in sorted(stacks.items()) if d.get("resource", {}).get(rtype))
    return stack, next(iter(stacks[stack]["resource"][rtype].values()))


def _amp_may_not_publish_to_the_topic(stacks):
    import json
    stack, _ = _prometheus(stacks, "aws_prometheus_alert_manager_definition")
    for conf in stacks[stack]["resource"]["aws_sns_topic_policy"].values():
        policy = json.loads(conf["policy"])
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "ThisRegionsPrometheusAlerts"]
        conf["policy"] = json.dumps(policy)


def _amp_may_not_use_the_alert_key(stacks):
    import json
    for _, d in sorted(stacks.items()):
        for conf in d.get("resource", {}).get("aws_kms_key", {}).values():
            if "PrometheusAlertsPublish" in conf.get("policy", ""):
                policy = json.loads(conf["policy"])
                policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "PrometheusAlertsPublish"]
                conf["policy"] = json.dumps(policy)
                return


def _amp_alerts_to_the_other_regions_topic(stacks):
    _, conf = _prometheus(stacks, "aws_prometheus_alert_manager_definition")
    conf["definition"] = conf["definition"].replace("${aws_sns_topic.", "${aws_sns_topic.elsewhere")


def _collector_among_the_pods(stacks):
    stack, conf = _prometheus(stacks, "aws_prometheus_scraper")
    cluster = next(iter(stacks[stack]["resource"]["aws_eks_cluster"].values()))
    conf["source"][0]["eks"][0]["subnet_ids"] = list(cluster["vpc_config"]["subnet_ids"])


def _collector_in_one_az(stacks):
    _, conf = _prometheus(stacks, "aws_prometheus_scraper")
    conf["source"][0]["eks"][0]["subnet_ids"] = conf["source"][0]["eks"][0]["subnet_ids"][:1]


def _container_log_group(stacks):
    stack = next(s for s, d in sorted(stacks.items())
                 if any(a.get("addon_name") == "amazon-cloudwatch-observability"
                        for a in d.get("resource", {}).get("aws_eks_addon", {}).values()))
    return stacks[stack]["resource"]


def _fluent_bit_creates_the_application_group(stacks):
    groups = _container_log_group(stacks)["aws_cloudwatch_log_group"]
    (name,) = [n for n, g in groups.items() if g["name"].endswith("/application")]
    del groups[name]


def _container_logs_kept_forever(stacks):
    groups = _container_log_group(stacks)["aws_cloudwatch_log_group"]
    next(g for g in groups.values() if g["name"].endswith("/host")).pop("retention_in_days")


def _the_addon_starts_before_its_groups(stacks):
    addon = next(a for a in _container_log_group(stacks)["aws_eks_addon"].values()
                 if a.get("addon_name") == "amazon-cloudwatch-observability")
    addon["depends_on"] = [d for d in addon["depends_on"] if not d.startswith("aws_cloudwatch_log_group.")]


def _plan_of(stacks, env="prod"):
    import json
    (conf,) = stacks[f"{env}-us-west-2-data"]["resource"]["aws_cloudformation_stack"].values()
    return conf, json.loads(conf["template_body"])


def _save_plan(conf, body):
    import json
    conf["template_body"] = json.dumps(body)


def _workflow_steps(body, region="us-west-2"):
    (workflow,) = [w for w in body["Resources"]["Plan"]["Properties"]["Workflows"]
                   if w["WorkflowTargetRegion"] == region]
    return workflow["Steps"]


def _a_store_left_out_of_the_plan(stacks):
    conf, body = _plan_of(stacks)
    (data,) = [s for s in _workflow_steps(body) if s["ExecutionBlockType"] == "Parallel"]
    inner = data["ExecutionBlockConfiguration"]["ParallelConfig"]["Steps"]
    inner[:] = [s for s in inner if s["Name"] != "cache"]
    _save_plan(conf, body)


def _an_automatic_plan_that_only_switches_over(stacks):
    conf, body = _plan_of(stacks)
    (data,) = [s for s in _workflow_steps(body) if s["ExecutionBlockType"] == "Parallel"]
    for inner in data["ExecutionBlockConfiguration"]["ParallelConfig"]["Steps"]:
        if inner["ExecutionBlockType"] == "AuroraGlobalDatabase":
            inner["ExecutionBlockConfiguration"]["GlobalAuroraConfig"]["Behavior"] = "switchoverOnly"
    _save_plan(conf, body)


def _no_plan_at_all(stacks):
    del stacks["prod-us-west-2-data"]["resource"]["aws_cloudformation_stack"]


def _dns_step_runs_in_the_region_left(stacks):
    conf, body = _plan_of(stacks)
    (dns,) = [s for s in _workflow_steps(body) if s["Name"] == "dns"]
    dns["ExecutionBlockConfiguration"]["CustomActionLambdaConfig"]["RegionToRun"] = "deactivatingRegion"
    _save_plan(conf, body)


def _dns_moves_before_the_stores(stacks):
    conf, body = _plan_of(stacks)
    steps = _workflow_steps(body)
    (dns,) = [s for s in steps if s["Name"] == "dns"]
    steps.remove(dns)
    steps.insert(0, dns)
    _save_plan(conf, body)


def _route53_does_not_read_the_inactive_alarm(stacks):
    checks = stacks["prod-dns-route53"]["resource"]["aws_route53_health_check"]
    (active,) = [c for c in checks.values() if c.get("tags", {}).get("Name") == "prod-us-east-1-active"]
    active["child_healthchecks"] = active["child_healthchecks"][:1]
    active["child_health_threshold"] = 1


def _an_apply_turns_cloudflare_pools_back_on(stacks):
    pools = stacks["prod-dns-cloudflare"]["resource"]["cloudflare_load_balancer_pool"]
    next(iter(pools.values())).pop("lifecycle")


def _autoshift_template(stacks, stack="prod-us-east-1"):
    import json
    (conf,) = stacks[stack]["resource"]["aws_cloudformation_stack"].values()
    return conf, json.loads(conf["template_body"])


def _nlb_terminates_unhealthy_connections(stacks):
    groups = stacks["prod-us-east-1"]["resource"]["aws_lb_target_group"]
    next(g for g in groups.values() if "target_health_state" in g).pop("target_health_state")


def _a_load_balancer_without_autoshift(stacks):
    conf, body = _autoshift_template(stacks)
    del body["Resources"]["LoadBalancerAlbsecondary"]
    _save_plan(conf, body)


def _zonal_shift_off_on_the_cluster(stacks):
    (cluster,) = stacks["prod-us-west-2"]["resource"]["aws_eks_cluster"].values()
    cluster.pop("zonal_shift_config")


def _practice_judged_by_another_regions_alarm(stacks):
    conf, body = _autoshift_template(stacks)
    practice = body["Resources"]["Cluster"]["Properties"]["PracticeRunConfiguration"]
    practice["OutcomeAlarms"][0]["AlarmIdentifier"] = "arn:aws:cloudwatch:us-west-2:111122223333:alarm:prod-us-west-2-canary"
    _save_plan(conf, body)


def _experiments(stacks, stack="prod-us-east-1-data"):
    return stacks[stack]["resource"]["aws_fis_experiment_template"]


def _an_experiment_nothing_stops(stacks):
    next(iter(_experiments(stacks).values()))["stop_condition"] = [{"source": "none"}]


def _an_az_without_an_experiment(stacks):
    templates = _experiments(stacks)
    del templates[next(n for n in sorted(templates) if "az-power" in n)]


def _experiments_stopped_by_another_regions_alarm(stacks):
    next(iter(_experiments(stacks).values()))["stop_condition"] = [{
        "source": "aws:cloudwatch:alarm", "value": "arn:aws:cloudwatch:us-west-2:111122223333:alarm:prod-us-west-2-canary"}]


def _fis_trusted_without_conditions(stacks):
    import json
    roles = stacks["prod-us-east-1-data"]["resource"]["aws_iam_role"]
    role = next(r for r in roles.values() if "fis.amazonaws.com" in r["assume_role_policy"])
    trust = json.loads(role["assume_role_policy"])
    trust["Statement"][0].pop("Condition")
    role["assume_role_policy"] = json.dumps(trust)


MUTATIONS = {
    "SPOF_DEPLOY_1": [_wrong_actions_on_the_log_bucket],
    "SPOF_DEPLOY_2": [_autoscaling_may_only_describe_the_key],
    "SPOF_DEPLOY_15": [_old_addon, _no_support_type],
    "SPOF_DEPLOY_16": [_no_proxy_protocol, _no_rate_limit],
    "SPOF_DEPLOY_17": [_unredact],
    "SPOF_DEPLOY_18": [_no_eks_auth_endpoint],
    "SPOF_DEPLOY_19": [_no_autoscaler, _account_wide_autoscaler],
    "SPOF_DEPLOY_20": [_untainted_spot, _argocd_anywhere],
    "SPOF_DEPLOY_21": [_unpinned_crs, _bigger_bodies_on_one_path, _unlimited_nlb_path],
    "SPOF_DEPLOY_22": [_untagged_volumes],
    "SPOF_DEPLOY_23": [_no_version_floor, _any_account],
    "SPOF_DEPLOY_24": [_markers_kept],
    "SPOF_DEPLOY_39": [_inspected_port_from_the_load_balancers],
    "SPOF_DEPLOY_45": [_firewall_detects_only, _firewall_in_one_zone, _health_checks_skip_the_firewall,
                       _workload_routes_default_to_the_nlb_entrypoint, _a_route_past_the_firewall,
                       _nlb_routes_unguarded],
    "SPOF_DEPLOY_46": [_flux_applies_unsigned_commits, _argocd_keyring_empty],
    "SPOF_DEPLOY_47": [_cloudwatch_may_not_use_the_alert_key, _eventbridge_may_not_use_the_alert_key,
                       _a_load_balancer_nobody_watches, _alerts_to_the_other_regions_topic],
    "SPOF_DEPLOY_48": [_route53_reads_metric_math, _route53_reads_an_extended_statistic, _route53_reads_m_out_of_n,
                       _route53_reads_an_alarm_of_another_region],
    "SPOF_DEPLOY_49": [_amp_may_not_publish_to_the_topic, _amp_may_not_use_the_alert_key,
                       _amp_alerts_to_the_other_regions_topic, _collector_among_the_pods, _collector_in_one_az],
    "SPOF_DEPLOY_50": [_fluent_bit_creates_the_application_group, _container_logs_kept_forever,
                       _the_addon_starts_before_its_groups],
    "SPOF_DEPLOY_51": [_a_store_left_out_of_the_plan, _no_plan_at_all, _an_automatic_plan_that_only_switches_over, _dns_step_runs_in_the_region_left,
                       _dns_moves_before_the_stores, _route53_does_not_read_the_inactive_alarm,
                       _an_apply_turns_cloudflare_pools_back_on],
    "SPOF_DEPLOY_52": [_nlb_terminates_unhealthy_connections, _a_load_balancer_without_autoshift,
                       _zonal_shift_off_on_the_cluster, _practice_judged_by_another_regions_alarm],
    "SPOF_DEPLOY_53": [_an_experiment_nothing_stops, _an_az_without_an_experiment,
                       _experiments_stopped_by_another_regions_alarm, _fis_trusted_without_conditions],
}


@pytest.fixture(scope="module")
def today_stacks(synth_dir):
    return Output.load(synth_dir).stacks


@pytest.mark.parametrize("rule_id, mutate", [(r, m) for r, ms in MUTATIONS.items() for m in ms],
                         ids=lambda v: v if isinstance(v, str) else v.__name__.strip("_"))
def test_second_pack_rule_fails_when_its_fix_is_undone(today_stacks, rule_id, mutate):
    import copy
    stacks = copy.deepcopy(today_stacks)
    mutate(stacks)
    failed = [r for r in run_rules(Output(stacks), {rule_id}) if not r.passed]
    assert failed, f"{rule_id} did not notice {mutate.__name__}"
    assert len(failed) < len(run_rules(Output(stacks), {rule_id})), "the mutation should break one thing, not all"
