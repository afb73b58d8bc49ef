"""Cloudflare keeps each value of a record set as its own record: its address must follow the value.

Addressed by position, adding one TXT value turned a create into an update of every value after it
plus a create; addressed by value, it is one create and nothing else moves.
"""

from __future__ import annotations

import json

import pytest

from environments.schema import EnvironmentConfig
from modules.stacks import names
from tests.conftest import resources

ADDED = "spofless-test-value=1"


def _static(stack: dict) -> dict[str, dict]:
    return {name: conf for name, conf in resources(stack, "cloudflare_dns_record").items() if "_static-" in name}


@pytest.mark.parametrize("position", ["first", "last"])
def test_adding_a_value_creates_one_record_and_leaves_every_other_address(environments, stacks, tmp_path,
                                                                          position):
    from modules.app import synthesize

    env = next((e for e in environments.values() if names.dns_cloudflare(e.name) in stacks
                and any(r.type == "TXT" for r in e.dns.records)), None)
    if env is None:
        pytest.skip("no environment has a Cloudflare stack with a TXT record")
    data = env.model_dump(mode="json")
    record = next(r for r in data["dns"]["records"] if r["type"] == "TXT")
    # sorted values: "0..." sorts before every existing value, "~" after
    record["values"].append(("0" if position == "first" else "~") + ADDED)
    outdir = tmp_path / "cdktf.out"
    changed = EnvironmentConfig.model_validate(data)
    changed._account_config = env.account  # noqa: SLF001 - what the loader resolves
    synthesize([changed], outdir)
    stack = names.dns_cloudflare(env.name)
    before = _static(stacks[stack])
    after = _static(json.loads((outdir / "stacks" / stack / "cdk.tf.json").read_text()))
    added = set(after) - set(before)
    assert set(before) <= set(after), "an existing value's record changed address"
    assert len(added) == 1 and ADDED in after[added.pop()]["content"]
    strip = lambda conf: {k: v for k, v in conf.items() if k != "//"}  # noqa: E731
    assert all(strip(after[name]) == strip(conf) for name, conf in before.items())


def test_records_addressed_by_position_before_are_moved_not_replaced(environments, stacks):
    from modules.dns.cloudflare import value_key
    from modules.dns.records import plan_records

    checked = 0
    for env in environments.values():
        stack = stacks.get(names.dns_cloudflare(env.name))
        if stack is None:
            continue
        static = _static(stack)
        moved = {m["to"].split(".", 1)[1]: m["from"].split(".", 1)[1] for m in stack.get("moved", [])
                 if m["to"].startswith("cloudflare_dns_record.")}
        assert set(moved) == set(static), env.name
        for item in plan_records(env)[0]:
            for index, value in enumerate(item.values):
                (to,) = [name for name in static if f"-{value_key(value.text())}_" in name]
                # the old address was the value's position in the record's sorted values
                assert f"_static-{item.type}-" in moved[to] and f"-{index}_" in moved[to], (to, moved[to])
                checked += 1
    assert checked
