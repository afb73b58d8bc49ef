"""Deploy rehearsal of dev: every AWS stack applied, verified and destroyed against moto.

Started by conftest.py as soon as collection selects it, so it runs beside the
rest of the suite; this test collects its report. Select alone with
``-m rehearsal``; ``ENV=prod make rehearse`` runs the same for prod.
"""

from __future__ import annotations

import pytest

from tooling.rehearse import SKIPPED_TYPES

pytestmark = [pytest.mark.integration, pytest.mark.rehearsal("dev")]


def test_dev_applies_verifies_and_destroys(rehearsal, environments):
    code, report, output = rehearsal("dev")
    assert report is not None, output[-3000:]
    failed = [c for c in report["checks"] if not c["ok"]]
    assert code == 0 and report["ok"], output[-3000:]
    assert not failed and not report["leftovers"] and not report["error"]

    dev = environments["dev"]
    region = dev.regions.primary.name
    assert [s["stack"] for s in report["stacks"]] == ["dev-security", "dev-dns-zone", f"dev-{region}",
                                                      "dev-dns-route53"]
    for stack in report["stacks"]:
        assert stack["resources"] > 0 and stack["left_after_destroy"] == 0 and not stack["error"], stack
        assert set(stack["skipped"]) <= set(SKIPPED_TYPES)

    # the design was checked, not just the exit codes: one check per key, secret, region tier and record
    names = {c["name"] for c in report["checks"]}
    assert {f"kms alias/dev/{p}" for p in dev.security.keys} <= names
    assert {f"secret dev/{s.name}" for s in dev.security.secrets} <= names
    assert {f"load balancers {region}", f"network {region}", f"eks dev-{region}",
            "route53 health checks"} <= names
    assert sum(n.startswith("route53 failover ") for n in names) == sum(
        r.target == "platform" for r in dev.dns.records)
    assert "Skipped resource types" in output and all(t in output for t in SKIPPED_TYPES)
