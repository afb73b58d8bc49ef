"""The failure drill's data scenarios: every store survives as designed, and a store without its
replica (or a backup plan without continuous backup) is reported as not survived or late."""

from __future__ import annotations

import copy

import pytest

from modules.stacks import names
from policies.model.output import Output
from tests.topology import ENVIRONMENTS, MULTI_REGION
from tooling.analysis.drill import load_targets
from tooling.analysis.drill_data import data_scenarios


@pytest.fixture(scope="module")
def output(synth_dir):
    return Output.load(synth_dir)


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_every_store_meets_its_targets(output, env_name):
    played = data_scenarios(output, env_name, load_targets())
    # and the account baseline the environment relies on (tooling/analysis/drill_data.py _account_scenarios)
    assert {s.store for s in played} == {"Aurora", "cache", "objects", "backups", "audit trail", "detection"}
    bad = [(s.store, s.failure, s.problems) for s in played if s.verdict not in ("survived", "declared")]
    assert not bad
    declared = [s for s in played if s.verdict == "declared"]
    assert bool(declared) == (ENVIRONMENTS[env_name].regions.standby is None)


def _without(output, env_name, role, rtype, change=None):
    config = ENVIRONMENTS[env_name]
    region = (config.regions.primary if role == "primary" else config.regions.standby).name
    stacks = copy.deepcopy(output.stacks)
    resources = stacks[names.data(env_name, region)]["resource"]
    if change is None:
        resources.pop(rtype)
    else:
        for conf in resources[rtype].values():
            change(conf)
    return data_scenarios(Output(stacks, output.manifest), env_name, load_targets())


@pytest.mark.parametrize("env_name", MULTI_REGION or [pytest.param("-", marks=pytest.mark.skip("no standby"))])
def test_a_store_without_its_cross_region_copy_does_not_survive_the_region(output, env_name):
    played = _without(output, env_name, "standby", "aws_rds_cluster",
                      lambda c: c.pop("global_cluster_identifier"))
    aurora = next(s for s in played if s.store == "Aurora" and s.failure.startswith("region"))
    assert aurora.verdict == "NOT SURVIVED" and aurora.how == "no copy in another region"
    played = _without(output, env_name, "primary", "aws_s3_bucket_replication_configuration",
                      lambda c: [r["destination"].pop("replication_time", None) for r in c["rule"]])
    objects = next(s for s in played if s.store == "objects")
    assert objects.verdict == "NOT SURVIVED" and "no time bound" in objects.how


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_backups_without_continuous_backup_miss_the_15_minute_rpo(output, env_name):
    played = _without(output, env_name, "primary", "aws_backup_plan",
                      lambda p: [r.pop("enable_continuous_backup", None) for r in p["rule"]])
    backups = next(s for s in played if s.store == "backups")
    assert backups.verdict == "MISSED TARGET" and backups.rpo >= 3600


@pytest.mark.parametrize("env_name", MULTI_REGION or [pytest.param("-", marks=pytest.mark.skip("no standby"))])
def test_the_account_baseline_without_its_second_region_does_not_survive_the_first(output, env_name):
    """The audit record without its replica, and detection without a detector in the standby region."""
    stacks = copy.deepcopy(output.stacks)
    account = output.account_of(env_name)
    for stack in output.account_stacks(account):
        stacks[stack].get("resource", {}).pop("aws_s3_bucket_replication_configuration", None)
        if stack.endswith(ENVIRONMENTS[env_name].regions.standby.name):
            stacks[stack]["resource"].pop("aws_guardduty_detector")
    played = data_scenarios(Output(stacks, output.manifest), env_name, load_targets())
    verdicts = {s.store: (s.verdict, s.how) for s in played}
    assert verdicts["audit trail"] == ("NOT SURVIVED", "no copy of the record in another region")
    assert verdicts["detection"][0] == "NOT SURVIVED" and "nothing detects threats" in verdicts["detection"][1]
