"""The second plan against what AWS reads back, with the real hashicorp/aws 5.100.0 binary.

GIVEN a Global Datastore member as synthesized (its references replaced by literal values)
WHEN the first plan's values, read back as AWS returns them (tooling/terraform/readback.py: the member's engine is the
     datastore's, valkey), are the state of a second plan
THEN today's member plans no change, and the member as it was before its fix (no ignore_changes on engine)
     cannot be planned at all: the provider's default engine forces a replacement prevent_destroy refuses.
No API is called: the provider skips its credential and account checks and the plan does not refresh.
"""

from __future__ import annotations

import copy
import json
import re
import shutil

import pytest

from tooling.terraform import readback

from tooling.terraform import runner as terraform
from tooling.terraform.deploy import terraform as run_terraform

pytestmark = pytest.mark.integration

_REFERENCE = re.compile(r"\$\{[^}]*\}")


def _literal(value, placeholder):
    """``value`` with every interpolation replaced by a literal (Terraform cannot plan references to other stacks)."""
    if isinstance(value, str):
        return _REFERENCE.sub(placeholder, value)
    if isinstance(value, list):
        return [_literal(v, f"{placeholder}-{i}") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _literal(v, placeholder) for k, v in value.items()}
    return value


def _member(stacks):
    for name, stack in sorted(stacks.items()):
        for rname, conf in sorted(stack.get("resource", {}).get("aws_elasticache_replication_group", {}).items()):
            if conf.get("global_replication_group_id"):
                return name, rname, conf
    pytest.skip("no environment has a standby region, so no Global Datastore member is synthesized")


def _config(stack: dict, conf: dict) -> dict:
    (provider,) = [p for p in stack["provider"]["aws"] if not p.get("alias")]
    member = _literal({k: v for k, v in conf.items() if k not in ("//", "provider", "depends_on")}, "read-back")
    member["kms_key_id"] = f"arn:aws:kms:{provider['region']}:111122223333:key/read-back"
    return {
        "terraform": {"required_providers": stack["terraform"]["required_providers"]},
        "provider": {"aws": [{"region": provider["region"], "access_key": "read-back", "secret_key": "read-back",
                              "skip_credentials_validation": True, "skip_requesting_account_id": True,
                              "skip_metadata_api_check": True, "skip_region_validation": True}]},
        "resource": {"aws_elasticache_replication_group": {"member": member}},
    }


def _second_plan(work, config: dict):
    """Plan from nothing, store the plan's values as AWS reads them back, plan again without refreshing."""
    work.mkdir()
    env = terraform.terraform_env()
    (work / "main.tf.json").write_text(json.dumps(config))
    assert run_terraform(["init", "-input=false", "-no-color"], work, env).returncode == 0, (work / "init.log").read_text()
    schemas = json.loads(run_terraform(["providers", "schema", "-json"], work, env).stdout)
    first = run_terraform(["plan", "-input=false", "-no-color", "-out=first.tfplan"], work, env)
    assert first.returncode == 0, first.stdout + first.stderr
    plan = json.loads(run_terraform(["show", "-json", "first.tfplan"], work, env).stdout)
    state = readback.state_from_plan(plan, schemas)
    normalised = readback.normalise_state(state)
    (work / "terraform.tfstate").write_text(json.dumps(state))
    second = run_terraform(["plan", "-refresh=false", "-input=false", "-no-color", "-detailed-exitcode"], work, env)
    return normalised, second


@pytest.fixture(scope="module")
def member(stacks):
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH; it is required for the read-back plan")
    terraform.setup()
    name, rname, conf = _member(stacks)
    return stacks[name], conf


def test_the_member_plans_no_change_when_its_engine_reads_back_as_the_datastores(member, tmp_path):
    stack, conf = member
    normalised, second = _second_plan(tmp_path / "today", _config(stack, conf))
    assert any(n.startswith("aws_elasticache_replication_group.member.engine") for n in normalised)
    assert second.returncode == 0, second.stdout + second.stderr  # -detailed-exitcode: 0 is no changes


def test_the_member_before_its_fix_cannot_be_planned_again(member, tmp_path):
    stack, conf = member
    before = copy.deepcopy(conf)
    before["lifecycle"]["ignore_changes"] = [a for a in before["lifecycle"].get("ignore_changes", []) if a != "engine"]
    _, second = _second_plan(tmp_path / "before", _config(stack, before))
    output = second.stdout + second.stderr
    assert second.returncode == 1, output
    assert "prevent_destroy" in output and "engine" in output, output
