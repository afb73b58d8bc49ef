"""Deploy rehearsal of the smallest environment (fewest regions; dev today): every AWS stack applied,
verified and destroyed against moto.

Started by conftest.py as soon as collection selects it, so it runs beside the
rest of the suite; this test collects its report. Select alone with
``-m rehearsal``; ``ENVS=prod make rehearse`` runs the same for prod.
"""

from __future__ import annotations

import pytest

from tests.topology import (account_stack, account_stacks, data_stacks, dns_route53_stack, dns_zone_stack,
                            regional_stack, regional_stacks, security_stack, smallest)
from tooling.terraform.emulated import SKIPPED_TYPES

REHEARSED = smallest()
pytestmark = [pytest.mark.integration, pytest.mark.rehearsal(REHEARSED.name)]


def test_the_smallest_environment_applies_verifies_and_destroys(rehearsal):
    code, report, output = rehearsal(REHEARSED.name)
    assert report is not None, output[-3000:]
    failed = [c for c in report["checks"] if not c["ok"]]
    assert code == 0 and report["ok"], output[-3000:]
    assert not failed and not report["leftovers"] and not report["error"]

    dev = REHEARSED
    region = dev.regions.primary.name
    # in dependency waves: the account's home baseline, its other regions' beside the keys, the zone, every
    # region (side by side), the records beside the primary's data tier, then the standby's data tier (which
    # joins the primary's)
    data = [p.stack for p in data_stacks(dev)]
    home = account_stack(dev.account.name, dev.account.home_region)
    assert [s["stack"] for s in report["stacks"]] == [home, *sorted([*(set(account_stacks(dev)) - {home}),
                                                                     security_stack(dev.name)]),
                                                      dns_zone_stack(dev.name),
                                                      *sorted(p.stack for p in regional_stacks(dev)),
                                                      *sorted([dns_route53_stack(dev.name), data[0]]), *data[1:]]
    for stack in report["stacks"]:
        assert stack["resources"] > 0 and stack["left_after_destroy"] == 0 and not stack["error"], stack
        assert set(stack["skipped"]) <= set(SKIPPED_TYPES)

    # the design was checked, not just the exit codes: one check per key, secret, region tier and record
    names = {c["name"] for c in report["checks"]}
    assert {f"kms alias/{dev.name}/{p}" for p in dev.security.keys} <= names
    assert {f"secret {dev.name}/{s.name}" for s in dev.security.secrets} <= names
    assert {f"load balancers {region}", f"network {region}", f"eks {regional_stack(dev.name, region)}",
            "route53 health checks"} <= names
    assert sum(n.startswith("route53 failover ") for n in names) == sum(
        r.target == "platform" for r in dev.dns.records)
    assert any(n.startswith("aurora: ") for n in names)
    # the account baseline: singletons, the audit trail, detection in every region
    assert sum(n.startswith(f"account {dev.account.name}: ") for n in names) == 3
    # the second plan, honestly: every stack planned again on its state as the real APIs read it back
    assert {f"plan after read-back {s['stack']}" for s in report["stacks"]} <= names
    if dev.regions.standby is not None:
        assert {n.split(":")[0] for n in names} >= {"aurora", "buckets", "backup"}
    assert "Skipped resource types" in output and all(t in output for t in SKIPPED_TYPES)
