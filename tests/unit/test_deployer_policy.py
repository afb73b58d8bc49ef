"""The deployer role's policy: generated from the stacks, scoped to their names, regions and state, within IAM's quotas."""

from __future__ import annotations

import json

import pytest

from policies.model.output import Output
from tests.topology import ENVIRONMENTS, regions
from tooling.review import deployer_policy


@pytest.fixture(scope="module")
def output(synth_dir):
    return Output.load(synth_dir)


def _statements(output, env) -> dict[str, dict]:
    return {s["Sid"]: s for s in deployer_policy.statements(output, env)}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_policy_fits_iams_quotas(output, env):
    documents = deployer_policy.documents(deployer_policy.statements(output, env))
    assert 1 <= len(documents) <= 10  # managed policies per role
    assert all(len(json.dumps(d, separators=(",", ":"))) <= deployer_policy.POLICY_CHARS for d in documents)
    sids = [s["Sid"] for d in documents for s in d["Statement"]]
    assert len(sids) == len(set(sids))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_regional_services_stay_in_the_environments_regions(output, env):
    config = ENVIRONMENTS[env]
    statements = _statements(output, env)
    # the account baseline deploys with the environment, in the account's regions
    wanted = {r.name for _, r in regions(config)} | set(config.account.regions)
    assert set(statements["RegionalServices"]["Condition"]["StringEquals"]["aws:RequestedRegion"]) >= {
        r.name for _, r in regions(config)}
    assert set(statements["RegionalServices"]["Condition"]["StringEquals"]["aws:RequestedRegion"]) <= wanted | {"us-east-1"}  # Route53 query logs
    assert not any(a.startswith(("iam:", "s3:", "eks:", "secretsmanager:")) for a in statements["RegionalServices"]["Action"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_iam_reaches_exactly_the_roles_the_stacks_create_and_passes_them_only_to_their_services(output, env):
    statements = _statements(output, env)
    stacks = output.deployment_of(env)
    names = {c["name"] for s in stacks for c in output.resources(s, "aws_iam_role").values()}
    arns = {f"arn:aws:iam::{ENVIRONMENTS[env].account_id}:role/{n}" for n in names}
    assert set(statements["OwnRoles"]["Resource"]) == arns
    passes = [s for s in statements.values() if s["Action"] == ["iam:PassRole"]
              and s["Sid"] not in ("PassConfigRole", "PassCanaryRoles")]
    assert {r for s in passes for r in s["Resource"]} == arns
    # each role only to the service its trust policy names
    for stack in stacks:
        for conf in output.resources(stack, "aws_iam_role").values():
            trusted = {p["Principal"]["Service"] for p in json.loads(conf["assume_role_policy"])["Statement"]
                       if isinstance(p.get("Principal"), dict) and "Service" in p["Principal"]}
            role = f"arn:aws:iam::{ENVIRONMENTS[env].account_id}:role/{conf['name']}"
            assert {s["Condition"]["StringEquals"]["iam:PassedToService"] for s in passes if role in s["Resource"]} == trusted
    # a canary's role goes to Synthetics as well, which creates the function it runs as
    canaries = {(s, c["execution_role_arn"]) for s in stacks for c in output.resources(s, "aws_synthetics_canary").values()}
    if canaries:
        canary = statements["PassCanaryRoles"]
        assert canary["Condition"] == {"StringEquals": {"iam:PassedToService": "synthetics.amazonaws.com"}}
        assert len(canary["Resource"]) == len(canaries) and set(canary["Resource"]) <= arns
    else:
        assert "PassCanaryRoles" not in statements
    policies = statements["AttachKnownPolicies"]["Condition"]["ArnEquals"]["iam:PolicyARN"]
    assert policies and all(p.startswith("arn:aws:iam::aws:policy/") for p in policies)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_state_is_reached_object_by_object(output, env):
    config = ENVIRONMENTS[env]
    statements = _statements(output, env)
    if config.backend.type != "s3":
        assert "StateObjects" not in statements
        return
    objects = set(statements["StateObjects"]["Resource"])
    for stack in output.stacks_of(env):
        s3 = output.stacks[stack]["terraform"]["backend"]["s3"]
        assert {f"arn:aws:s3:::{s3['bucket']}/{s3['key']}", f"arn:aws:s3:::{s3['bucket']}/{s3['key']}.tflock"} <= objects
    assert all(o.startswith(f"arn:aws:s3:::{config.backend.bucket}/") or
               o.startswith(f"arn:aws:s3:::{config.backend.standby_bucket}/") for o in objects)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_what_prevent_destroy_keeps_the_role_cannot_delete_either(output, env):
    statements = _statements(output, env)
    denied = {a for s in statements.values() if s["Effect"] == "Deny" for a in s["Action"]}
    assert {"kms:ScheduleKeyDeletion", "route53:DeleteHostedZone", "backup:DeleteBackupVault",
            "elasticache:DeleteReplicationGroup", "rds:DeleteDBCluster", "s3:DeleteBucket",
            "iam:CreateAccessKey", "iam:CreateUser"} <= denied
    buckets = next(s for s in statements.values() if s["Effect"] == "Deny" and "s3:DeleteBucket" in s["Action"])
    assert buckets["Resource"] != "*"  # log buckets are not protected: only the protected ones are named
    # the failover runbook's detach stays possible
    assert "rds:RemoveFromGlobalCluster" not in denied


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_another_environments_tagged_resources_are_out_of_reach(output, env):
    statements = _statements(output, env)
    for where in ("ResourceTag", "RequestTag"):
        deny = statements[f"OnlyThisEnvironment{where}"]
        assert deny["Effect"] == "Deny" and deny["Action"] == ["*"]
        assert deny["Condition"]["StringNotEquals"] == {f"aws:{where}/Environment": env}


def test_service_linked_roles_are_created_by_name_and_read_on_their_paths(output):
    statements = _statements(output, "prod" if "prod" in ENVIRONMENTS else sorted(ENVIRONMENTS)[0])
    create = statements["CreateServiceLinkedRoles"]
    assert create["Action"] == ["iam:CreateServiceLinkedRole"]
    names = create["Condition"]["StringEquals"]["iam:AWSServiceName"]
    assert "mrk.kms.amazonaws.com" in names and "servicequotas.amazonaws.com" in names
    assert "Condition" not in statements["ServiceLinkedRoles"] and "iam:TagRole" in statements["ServiceLinkedRoles"]["Action"]


def test_a_type_the_generator_does_not_know_is_refused_by_name(output):
    env = output.environments[0]
    stack = output.stacks_of(env)[0]
    stacks = dict(output.stacks)
    stacks[stack] = {**stacks[stack], "resource": {**stacks[stack].get("resource", {}), "aws_sagemaker_domain": {"x": {}}}}
    with pytest.raises(deployer_policy.PolicyError, match="aws_sagemaker_domain: no IAM service known"):
        deployer_policy.statements(Output(stacks, output.manifest), env)


def test_the_command_writes_one_file_per_environment(synth_dir, tmp_path, capsys):
    assert deployer_policy.main(["--outdir", str(synth_dir), "--reports", str(tmp_path)]) == 0
    for env in ENVIRONMENTS:
        document = json.loads((tmp_path / f"deployer-policy-{env}.json").read_text())
        assert document  # one document or a list of them
    assert "deployer policy" in capsys.readouterr().out
