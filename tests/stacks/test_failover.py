"""Regional failover as one action: the generated Region switch plan, its custom steps and `spofless failover`.

Expectations come from the environment files: every multi-region environment has a plan activating each of its
regions; the plan's properties validate against AWS's published resource schema; the command moves the
Aurora global database's writer against the emulator's RDS (moto, with the emulator's switchover fix), and
the plan path follows a stubbed ARC Region switch client.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from modules.failover import function_name, plan_name
from policies.model.failover import region_switch_plan
from policies.model.output import Output
from tooling import failover as cli

SCHEMA = Path(__file__).resolve().parents[2] / "policies" / "schemas" / "aws-arcregionswitch-plan.json"


def _multi(environments):
    return {name: env for name, env in environments.items() if env.regions.standby is not None}


@pytest.fixture(scope="module")
def output(synth_dir):
    return Output.load(synth_dir)


def _concrete(value, account: str):
    """Terraform's interpolations replaced by what they are at apply time (partition aws, the role's ARN)."""
    text = json.dumps(value)
    text = re.sub(r"\$\{data\.aws_partition\.[^}]+\}", "aws", text)
    text = re.sub(r"\$\{aws_iam_role\.([^.}]+)\.arn\}", lambda m: f"arn:aws:iam::{account}:role/{m.group(1)}", text)
    assert "${" not in text, text
    return json.loads(text)


def test_every_multi_region_environment_has_a_plan_and_only_those(environments, output):
    for name, env in environments.items():
        plan = region_switch_plan(output, name)
        if env.regions.standby is None:
            assert plan is None
            continue
        assert plan is not None and plan.properties["Name"] == plan_name(name)
        assert sorted(plan.workflows) == sorted(r.name for r in env.regions.all)
        assert plan.automatic == env.failover.automatic
        for region, steps in plan.workflows.items():
            kinds = [s.kind for s in steps]
            assert ("ManualApproval" in kinds) != env.failover.automatic
            assert {"AuroraGlobalDatabase", "CustomActionLambda"} <= set(kinds)
            assert [s.action for s in steps if s.kind == "CustomActionLambda"] == ["promote-cache", "dns"]


def test_the_plan_validates_against_the_published_resource_schema(environments, output):
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    properties_schema = {"type": "object", "definitions": schema["definitions"], "properties": schema["properties"],
                         "required": schema["required"], "additionalProperties": False}
    validator = jsonschema.Draft7Validator(properties_schema)
    for name, env in _multi(environments).items():
        properties = _concrete(region_switch_plan(output, name).properties, env.account_id)
        errors = sorted(e.message for e in validator.iter_errors(properties))
        assert not errors, f"{name}: {errors}"
        # and the schema is not toothless: a block type AWS does not have is refused
        broken = copy.deepcopy(properties)
        broken["Workflows"][0]["Steps"][0]["ExecutionBlockType"] = "ElastiCacheGlobalDatastore"
        assert list(validator.iter_errors(broken))


def test_the_custom_steps_run_in_the_region_activated(environments, output):
    for name, env in _multi(environments).items():
        plan = region_switch_plan(output, name)
        for region, steps in plan.workflows.items():
            for step in steps:
                if step.kind == "CustomActionLambda":
                    assert step.config["RegionToRun"] == "activatingRegion"
                    arns = {lam["Arn"].split(":")[-1] for lam in step.config["Lambdas"]}
                    assert arns == {function_name(name, r.name) for r in env.regions.all}


# -- the functions' code ----------------------------------------------------------------------------

def _handler(region="us-west-2"):
    module = cli._load_handler()
    module.REGION = region
    return module


class _Cache:
    def __init__(self, role="SECONDARY", refuse=False):
        self.role, self.refuse, self.calls = role, refuse, []

    def describe_replication_groups(self, ReplicationGroupId):
        return {"ReplicationGroups": [{"Status": "available", "GlobalReplicationGroupInfo": {
            "GlobalReplicationGroupId": "ldgnf-prod-cache", "GlobalReplicationGroupMemberRole": self.role}}]}

    def failover_global_replication_group(self, **kwargs):
        self.calls.append(("failover", kwargs))
        if self.refuse:
            raise RuntimeError("the primary's region does not answer")
        self.role = "PRIMARY"

    def disassociate_global_replication_group(self, **kwargs):
        self.calls.append(("disassociate", kwargs))


def test_promote_cache_fails_over_then_waits_for_the_member():
    cache = _Cache()
    result = _handler().promote_cache({"cache_group": "prod-us-west-2-cache"}, client=cache, sleep=lambda s: None)
    assert cache.calls == [("failover", {"GlobalReplicationGroupId": "ldgnf-prod-cache", "PrimaryRegion": "us-west-2",
                                         "PrimaryReplicationGroupId": "prod-us-west-2-cache"})]
    assert "is the primary" in result["result"]
    again = _handler().promote_cache({"cache_group": "prod-us-west-2-cache"}, client=cache)
    assert "already the primary" in again["result"]  # idempotent: Region switch retries steps


def test_promote_cache_detaches_only_in_an_ungraceful_run():
    with pytest.raises(RuntimeError):
        _handler().promote_cache({"cache_group": "g"}, client=_Cache(refuse=True))
    cache = _Cache(refuse=True)
    result = _handler().promote_cache({"cache_group": "g"}, ungraceful=True, client=cache)
    assert [c[0] for c in cache.calls] == ["failover", "disassociate"] and "standalone" in result["result"]


class _Metrics:
    def __init__(self, region, sink):
        self.region, self.sink = region, sink

    def put_metric_data(self, Namespace, MetricData):
        self.sink.append((self.region, Namespace, MetricData[0]["Value"]))


class _Secrets:
    def get_secret_value(self, SecretId):
        return {"SecretString": "cf-token-value\n"}


def test_the_dns_step_turns_both_providers_to_the_region_activated():
    sink, calls = [], []

    def request(token, method, path, body):
        calls.append((token, method, path, body))
        return {"result": [{"name": "p-east", "id": "1"}, {"name": "p-west", "id": "2"}]} if method == "GET" else {}

    config = {"env": "prod", "regions": ["us-east-1", "us-west-2"], "namespace": "Spofless/Failover",
              "metric": "RegionInactive", "cloudflare_account": "a" * 32, "cloudflare_token_secret": "prod/dns/t",
              "cloudflare_pools": {"us-east-1": ["p-east"], "us-west-2": ["p-west"]}}
    result = _handler().dns(config, cloudwatch=lambda r: _Metrics(r, sink), secrets=_Secrets(), request=request)
    # the region activated first; the region left last, best effort
    assert sink == [("us-west-2", "Spofless/Failover", 0.0), ("us-east-1", "Spofless/Failover", 1.0)]
    patches = {path.rsplit("/", 1)[-1]: body for _, method, path, body in calls if method == "PATCH"}
    assert patches == {"1": {"enabled": False}, "2": {"enabled": True}}
    assert all(token == "cf-token-value" for token, *_ in calls)
    assert "cf-token-value" not in json.dumps(result)


# -- spofless failover ------------------------------------------------------------------------------

def test_dry_run_prints_the_steps_and_changes_nothing(synth_dir):
    lines = []
    status = cli.main(["-e", "prod", "--to", "us-west-2", "--dry-run", "--out", str(synth_dir)], out=lines.append,
                      client_factory=lambda *a: pytest.fail("a dry run made a call"))
    assert status == 0
    assert any("aurora" in line for line in lines) and any("dns" in line for line in lines)


@pytest.mark.parametrize("argv, message", [
    (["-e", "nope", "--to", "us-west-2"], "no such environment"),
    (["-e", "dev", "--to", "us-west-2"], "no Region switch plan"),
    (["-e", "prod", "--to", "eu-west-1"], "not a region of prod"),
])
def test_bad_input_is_one_error_and_exit_2(synth_dir, argv, message):
    lines = []
    assert cli.main(argv + ["--out", str(synth_dir)], out=lines.append) == 2
    assert any(message in line for line in lines)


def test_it_refuses_without_the_environment_name(synth_dir):
    lines = []
    status = cli.main(["-e", "prod", "--to", "us-west-2", "--practice", "--out", str(synth_dir)], out=lines.append,
                      read=lambda prompt: "staging", client_factory=lambda *a: pytest.fail("called AWS"))
    assert status == 2 and "nothing was changed" in lines[-1]


@pytest.fixture
def emulated_prod():
    """prod's global database as the data stacks create it, in the emulator's RDS (in-process moto with the
    emulator's fixes), and the Cloudflare token secret in the standby."""
    moto = pytest.importorskip("moto")
    import boto3

    from tooling.terraform.emulator import apply_fixes

    apply_fixes()
    with moto.mock_aws():
        east = boto3.client("rds", region_name="us-east-1")
        west = boto3.client("rds", region_name="us-west-2")
        east.create_global_cluster(GlobalClusterIdentifier="prod-aurora", Engine="aurora-postgresql")
        east.create_db_cluster(DBClusterIdentifier="prod-us-east-1-aurora", Engine="aurora-postgresql",
                               GlobalClusterIdentifier="prod-aurora", MasterUsername="spofless",
                               MasterUserPassword="not-a-secret-1")
        west.create_db_cluster(DBClusterIdentifier="prod-us-west-2-aurora", Engine="aurora-postgresql",
                               GlobalClusterIdentifier="prod-aurora")
        boto3.client("secretsmanager", region_name="us-west-2").create_secret(
            Name="prod/dns/cloudflare-failover-token", SecretString="cf-token")
        yield boto3


def _writer(boto3) -> str:
    members = boto3.client("rds", region_name="us-east-1").describe_global_clusters(
        GlobalClusterIdentifier="prod-aurora")["GlobalClusters"][0]["GlobalClusterMembers"]
    return next(m["DBClusterArn"] for m in members if m["IsWriter"]).split(":")[3]


@pytest.mark.parametrize("practice", [True, False], ids=["practice", "real"])
def test_failover_moves_the_writer_and_both_dns_providers(synth_dir, emulated_prod, practice):
    boto3 = emulated_prod
    cache, cloudflare, lines = _Cache(), [], []

    def clients(service, region):
        return cache if service == "elasticache" else boto3.client(service, region_name=region)

    def request(token, method, path, body):
        cloudflare.append((method, body))
        if method == "GET":
            pools = region_switch_pools(synth_dir)
            return {"result": [{"name": n, "id": str(i)} for i, n in enumerate(pools)]}
        return {}

    assert _writer(boto3) == "us-east-1"
    argv = ["-e", "prod", "--to", "us-west-2", "--yes", "--via", "steps", "--out", str(synth_dir)]
    status = cli.main(argv + (["--practice"] if practice else []), client_factory=clients, out=lines.append,
                      sleep=lambda s: None, cloudflare_request=request)
    assert status == 0, "\n".join(lines)
    assert _writer(boto3) == "us-west-2"
    assert [line.split(":")[0].strip() for line in lines if line.startswith("[")] == ["[1/3] aurora", "[2/3] cache",
                                                                                       "[3/3] dns"]
    assert ("switched over" if practice else "failed over") in "\n".join(lines)
    assert cache.role == "PRIMARY"
    enabled = [body["enabled"] for method, body in cloudflare if method == "PATCH"]
    assert enabled.count(True) == enabled.count(False) > 0
    metrics = boto3.client("cloudwatch", region_name="us-east-1").list_metrics(Namespace="Spofless/Failover")
    assert metrics["Metrics"], "the region left has no RegionInactive datapoint"


def region_switch_pools(synth_dir) -> list[str]:
    stack = json.loads((Path(synth_dir) / "stacks" / "prod-dns-cloudflare" / "cdk.tf.json").read_text())
    return [p["name"] for p in stack["resource"]["cloudflare_load_balancer_pool"].values()]


def test_a_failed_step_stops_the_run_and_says_what_to_do(synth_dir, emulated_prod):
    boto3 = emulated_prod
    lines = []

    def clients(service, region):
        return _Cache(refuse=True) if service == "elasticache" else boto3.client(service, region_name=region)

    status = cli.main(["-e", "prod", "--to", "us-west-2", "--yes", "--via", "steps", "--practice",
                       "--out", str(synth_dir)], client_factory=clients, out=lines.append, sleep=lambda s: None)
    assert status == 1
    text = "\n".join(lines)
    assert "FAILED" in text and "what to do" in text and "[3/3]" not in text


class _Arc:
    def __init__(self):
        self.states = iter([
            {"executionState": "inProgress", "stepStates": [{"name": "data", "status": "running"}]},
            {"executionState": "inProgress", "stepStates": [{"name": "data", "status": "completed"},
                                                           {"name": "dns", "status": "running"}]},
            {"executionState": "completed", "stepStates": [{"name": "data", "status": "completed"},
                                                          {"name": "dns", "status": "completed"}]}])
        self.started = None

    def list_plans(self):
        return {"plans": [{"name": "prod-region-switch", "arn": "arn:aws:arc-region-switch::1:plan/prod-region-switch"}]}

    def start_plan_execution(self, **kwargs):
        self.started = kwargs
        return {"executionId": "e-1"}

    def get_plan_execution(self, planArn, executionId):
        return next(self.states)


def test_a_deployed_plan_is_started_in_the_region_activated_and_followed(synth_dir):
    arc, lines, regions = _Arc(), [], []

    def clients(service, region):
        regions.append((service, region))
        return arc

    status = cli.main(["-e", "prod", "--to", "us-west-2", "--yes", "--out", str(synth_dir)],
                      client_factory=clients, out=lines.append, sleep=lambda s: None)
    assert status == 0 and regions == [("arc-region-switch", "us-west-2")]
    # prod's plan is automatic: it fails over in a graceful run, which keeps the custom steps
    assert arc.started["mode"] == "graceful" and arc.started["targetRegion"] == "us-west-2"
    assert any("dns: completed" in line for line in lines) and "plan completed" in lines[-1]


# -- zonal autoshift --------------------------------------------------------------------------------

AUTOSHIFT_SCHEMA = SCHEMA.parent / "aws-arczonalshift-zonalautoshiftconfiguration.json"


def test_every_load_balancer_and_cluster_autoshifts_with_practice_runs_judged_in_region(environments, stacks):
    import jsonschema

    schema = json.loads(AUTOSHIFT_SCHEMA.read_text())
    validator = jsonschema.Draft7Validator({k: v for k, v in schema.items() if k not in ("handlers",)})
    for name, env in environments.items():
        for region in env.regions.all:
            stack = stacks[f"{name}-{region.name}"]["resource"]
            if not env.failover.zonal_autoshift:
                assert "aws_cloudformation_stack" not in stack
                continue
            (conf,) = stack["aws_cloudformation_stack"].values()
            body = json.loads(conf["template_body"])
            targets = {re.search(r"\$\{(aws_[a-z_]+)\.([^.]+)\.arn\}", r["Properties"]["ResourceIdentifier"]).groups()
                       for r in body["Resources"].values()}
            assert targets == {("aws_lb", n) for n in stack["aws_lb"]} | {("aws_eks_cluster", n)
                                                                          for n in stack["aws_eks_cluster"]}
            for resource in body["Resources"].values():
                properties = json.loads(re.sub(r"\$\{[^}]+\}", "arn:aws:x:y", json.dumps(resource["Properties"])))
                assert not list(validator.iter_errors(properties))
                alarm = resource["Properties"]["PracticeRunConfiguration"]["OutcomeAlarms"][0]["AlarmIdentifier"]
                alarm_name = re.search(r"aws_cloudwatch_metric_alarm\.([^.]+)\.arn", alarm).group(1)
                assert stack["aws_cloudwatch_metric_alarm"][alarm_name]["alarm_name"].endswith("-canary")
            assert all(lb["enable_zonal_shift"] is True for lb in stack["aws_lb"].values())
            assert all(c["zonal_shift_config"] == {"enabled": True} or c["zonal_shift_config"] == [{"enabled": True}]
                       for c in stack["aws_eks_cluster"].values())
            # the cross-zone NLB's group keeps connections to unhealthy targets, as zonal shift requires
            nlb_groups = [g for g in stack["aws_lb_target_group"].values() if g["protocol"] == "TLS"]
            assert nlb_groups and all(g["target_health_state"] == [{"enable_unhealthy_connection_termination": False}]
                                      for g in nlb_groups)


def test_the_drill_plays_each_az_with_its_autoshift_and_misses_one_without(output, environments):
    from policies.model.platform import build
    from tooling.analysis import drill

    targets = drill.load_targets()
    name = next(n for n, e in environments.items() if e.failover.zonal_autoshift)
    env = build(output, name)
    region = next(iter(env.regions.values()))
    zone = sorted(next(iter(region.lbs.values())).zones)[0]
    baseline = {n: {a.provider: a.lb for a in (drill.route53_answer(env, n, drill.Failure([]), targets),
                                                drill.cloudflare_answer(env, n, drill.Failure([])))} for n in env.names}
    played = drill.play(env, [drill.Part("az", region.name, zone)], targets, baseline)
    assert played.verdict == "survived" and played.shift.startswith("autoshift ")
    shifted, total = (int(x) for x in played.shift.split()[1].split("/"))
    assert shifted == total > 1
    # the same output without the region's autoshift configurations: the AZ row says what stays exposed
    stacks = copy.deepcopy(output.stacks)
    del stacks[region.stack]["resource"]["aws_cloudformation_stack"]
    bare = build(Output(stacks), name)
    played = drill.play(bare, [drill.Part("az", region.name, zone)], targets, baseline)
    assert played.verdict == "MISSED TARGET" and any("no zonal autoshift" in p for p in played.problems)


# -- fault injection --------------------------------------------------------------------------------

def test_every_az_has_a_power_interruption_and_every_standby_a_cross_region_cut(environments, stacks):
    for name, env in environments.items():
        for role, region in zip(("primary", "standby"), env.regions.all):
            resource = stacks[f"{name}-{region.name}-data"]["resource"]
            if not env.failover.fault_injection:
                assert "aws_fis_experiment_template" not in resource
                continue
            templates = list(resource["aws_fis_experiment_template"].values())
            power = [t for t in templates if "power interruption" in t["description"]]
            assert sorted(t["description"].split(" of ")[1].split(" ")[0] for t in power) == sorted(region.zones)
            for template in templates:
                (stop,) = template["stop_condition"]
                assert stop["source"] == "aws:cloudwatch:alarm" and "canary_alarm" in stop["value"]
                assert template["experiment_options"]["empty_target_resolution_mode"] == "skip"
            for template in power:
                actions = {a["action_id"] for a in template["action"]}
                assert {"aws:ec2:stop-instances", "aws:network:disrupt-connectivity",
                        "aws:elasticache:replicationgroup-interrupt-az-power"} <= actions
                # only the primary's cluster has a writer to fail over
                assert ("aws:rds:failover-db-cluster" in actions) == (role == "primary")
            crossing = [t for t in templates if "no connectivity" in t["description"]]
            assert len(crossing) == (1 if env.regions.standby else 0)
            for template in crossing:
                other = next(r.name for r in env.regions.all if r.name != region.name)
                assert all({"key": "region", "value": other} in a["parameter"] for a in template["action"])


def test_a_region_left_that_does_not_answer_never_keeps_the_dns_step_from_finishing():
    sink = []

    class Gone:
        def put_metric_data(self, **kwargs):
            raise ConnectionError("no route")

    config = {"env": "prod", "regions": ["us-east-1", "us-west-2"], "namespace": "Spofless/Failover",
              "metric": "RegionInactive"}
    result = _handler().dns(config, cloudwatch=lambda r: Gone() if r == "us-east-1" else _Metrics(r, sink))
    assert sink == [("us-west-2", "Spofless/Failover", 0.0)] and "us-east-1 not written" in result["result"]


def test_an_automatic_plan_fails_over_in_every_run_and_a_practice_switches_over_here(environments, output, synth_dir):
    for name, env in _multi(environments).items():
        (aurora,) = region_switch_plan(output, name).steps(env.regions.standby.name, "AuroraGlobalDatabase")
        assert aurora.config["Behavior"] == ("failover" if env.failover.automatic else "switchoverOnly")
    name = next((n for n, e in _multi(environments).items() if e.failover.automatic), None)
    if name is None:
        pytest.skip("no automatic environment")
    arc, lines = _Arc(), []
    status = cli.main(["-e", name, "--to", environments[name].regions.standby.name, "--yes", "--practice",
                       "--out", str(synth_dir)], client_factory=lambda service, region: pytest.fail(service)
                      if service == "arc-region-switch" else None, out=lines.append, sleep=lambda s: None)
    assert arc.started is None and "as a switchover" in "\n".join(lines)
    assert status != 0  # the direct calls had no client here: what matters is that the plan was not started


def test_after_an_ungraceful_run_the_command_makes_the_custom_steps_region_switch_skipped(
        synth_dir, tmp_path, emulated_prod):
    import shutil

    # prod's output with a plan a person starts (switchover; failover only in an ungraceful run)
    out = tmp_path / "cdktf.out"
    shutil.copytree(synth_dir, out)
    path = out / "stacks" / "prod-us-west-2-data" / "cdk.tf.json"
    stack = json.loads(path.read_text())
    (conf,) = stack["resource"]["aws_cloudformation_stack"].values()
    body = json.loads(conf["template_body"])
    properties = body["Resources"]["Plan"]["Properties"]
    properties.pop("Triggers", None)
    for workflow in properties["Workflows"]:
        for step in workflow["Steps"]:
            for inner in step["ExecutionBlockConfiguration"].get("ParallelConfig", {}).get("Steps", []):
                if inner["ExecutionBlockType"] == "AuroraGlobalDatabase":
                    inner["ExecutionBlockConfiguration"]["GlobalAuroraConfig"]["Behavior"] = "switchoverOnly"
    conf["template_body"] = json.dumps(body)
    path.write_text(json.dumps(stack))
    boto3, arc, cache, lines, cloudflare = emulated_prod, _Arc(), _Cache(refuse=True), [], []

    def clients(service, region):
        if service == "arc-region-switch":
            return arc
        return cache if service == "elasticache" else boto3.client(service, region_name=region)

    def request(token, method, path_, body_):
        cloudflare.append(method)
        return {"result": [{"name": n, "id": str(i)} for i, n in enumerate(region_switch_pools(synth_dir))]}

    status = cli.main(["-e", "prod", "--to", "us-west-2", "--yes", "--out", str(out)], client_factory=clients,
                      out=lines.append, sleep=lambda s: None, cloudflare_request=request)
    text = "\n".join(lines)
    assert status == 0, text
    assert arc.started["mode"] == "ungraceful" and "making them here" in text
    assert [line.split(":")[0] for line in lines if line.startswith("[")] == ["[1/2] cache", "[2/2] dns"]
    # the primary's region does not answer the cache's failover: its member here leaves the datastore
    assert [c[0] for c in cache.calls] == ["failover", "disassociate"] and "PATCH" in cloudflare
