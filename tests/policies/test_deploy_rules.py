"""The deploy-rules pack: every rule fails on the undeployable shape and passes on today's output.

The failing fixture is the real synthesized output from before the fixes
(tests/fixtures/deploy/before, commit a2e094a); the passing one is this session's
synthesis of every environment, so a regression in any environment fails here.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from policies.deploy_model import Output
from policies.deploy_rules import RULES, run_rules

BEFORE = Path(__file__).resolve().parents[1] / "fixtures" / "deploy" / "before"
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
    assert sorted(int(i.rsplit("_", 1)[1]) for i in RULE_IDS) == list(range(1, 15))
    assert all(r.source.startswith("https://") for r in RULES)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_fails_the_shape_that_was_undeployable(before, rule_id):
    assert before[rule_id][False], f"{rule_id} found nothing wrong with the output from before the fixes"


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_passes_todays_output_of_every_environment(today, rule_id, environments):
    assert not today[rule_id][False], "\n".join(map(str, today[rule_id][False]))
    assert today[rule_id][True], f"{rule_id} judged nothing in today's output"


def test_standby_state_rule_judges_every_two_region_environment(today, environments, synth_dir):
    two_region = {e for e, c in environments.items() if c.regions.standby}
    output = Output.load(synth_dir)
    judged = {output.environment_of(r.stack) for r in today["SPOF_DEPLOY_10"][True]}
    assert judged == two_region
