"""checkov's SARIF mapped to the environment files and constructs, so code scanning can annotate a diff."""

from __future__ import annotations

import re

import pytest

from policies.model.output import Output
from modules.stacks import names
from tests.conftest import PROJECT
from tooling.review import sarif
from tooling.review.gate import load_skips


@pytest.fixture(scope="module")
def output(synth_dir):
    return Output.load(synth_dir)


def test_every_construct_that_creates_resources_maps_to_its_class_and_a_config_section(output):
    seen = set()
    for stack, document in output.stacks.items():
        kind = names.parse(stack).kind
        for group in document.get("resource", {}).values():
            for conf in group.values():
                path = conf["//"]["metadata"]["path"]
                seen.add((kind, path.split("/")[1]))
    assert seen <= set(sarif.CONSTRUCTS), f"not mapped: {sorted(seen - set(sarif.CONSTRUCTS))}"
    for (kind, _), (module, cls, section) in sarif.CONSTRUCTS.items():
        assert re.search(rf"^class {cls}\b", (PROJECT / module).read_text(), re.MULTILINE), (module, cls)
        files = (PROJECT / "environments" / ("accounts" if kind == "account" else "")).glob("*.yaml")
        for env_file in files:
            assert re.search(rf"^{section}:", env_file.read_text(), re.MULTILINE), (env_file.name, section)


def _finding(stack: str, unique_id: str, rule: str) -> dict:
    snippet = f'      "{unique_id}": {{\n        "//": {{\n          "metadata": {{\n            "uniqueId": "{unique_id}"'
    return {"ruleId": rule, "level": "error", "message": {"text": "a check"}, "locations": [{"physicalLocation": {
        "artifactLocation": {"uri": f"tmp/spofless-checkov-x/stacks/{stack}/cdk.tf.json"},
        "region": {"startLine": 10, "endLine": 20, "snippet": {"text": snippet}}}}]}


def test_a_finding_moves_to_the_environment_file_with_the_construct_beside_it(output, environments):
    for env in environments:
        stack = names.regional(env, environments[env].regions.primary.name)
        unique_id, conf = next(iter(output.resources(stack, "aws_lb").items()))
        mapped = sarif.map_sarif({"runs": [{"results": [_finding(stack, unique_id, "CKV_TEST_1")]}]}, output)
        (result,) = mapped["runs"][0]["results"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == f"environments/{env}.yaml"
        lines = (PROJECT / "environments" / f"{env}.yaml").read_text().splitlines()
        assert lines[location["region"]["startLine"] - 1].startswith("load_balancing:")
        construct, synthesized = result["relatedLocations"]
        assert construct["physicalLocation"]["artifactLocation"]["uri"] == "modules/loadbalancing/load_balancers.py"
        assert synthesized["physicalLocation"]["artifactLocation"]["uri"] == f"cdktf.out/stacks/{stack}/cdk.tf.json"
        assert f"aws_lb.{unique_id}" in result["message"]["text"] and "suppressions" not in result


def test_a_finding_the_scoped_skip_list_accepts_is_suppressed_with_its_reason(output, environments):
    skips = load_skips()
    for skip in skips:
        hits = [(stack, name) for stack, document in output.stacks.items()
                for rtype, group in document.get("resource", {}).items() for name in group
                if skip.matches(skip.check, f"{rtype}.{name}")]
        assert hits, skip.check
        stack, name = hits[0]
        mapped = sarif.map_sarif({"runs": [{"results": [_finding(stack, name, skip.check),
                                                        _finding(stack, name, "CKV_OTHER")]}]}, output, skips)
        accepted, other = mapped["runs"][0]["results"]
        assert accepted["suppressions"] == [{"kind": "external", "status": "accepted", "justification": skip.why}]
        assert "suppressions" not in other


def test_a_finding_it_cannot_place_is_left_as_checkov_wrote_it(output):
    finding = _finding("nosuch-stack", "x", "CKV_X")
    assert sarif.map_sarif({"runs": [{"results": [finding]}]}, output)["runs"][0]["results"] == [finding]


def test_gitlab_gets_the_open_findings_as_a_code_quality_report(output, environments):
    """GitLab's Code Quality report: the mapped location, a severity from the SARIF level, a fingerprint that is
    the same on every run, and nothing a scoped skip accepts."""
    skip = load_skips()[0]
    stack, name = next((stack, name) for stack, document in sorted(output.stacks.items())
                       for rtype, group in document.get("resource", {}).items() for name in group
                       if skip.matches(skip.check, f"{rtype}.{name}"))
    findings = {"runs": [{"results": [_finding(stack, name, skip.check), _finding(stack, name, "CKV_OTHER")]}]}
    report = sarif.code_quality(sarif.map_sarif(findings, output, load_skips()))
    assert [r["check_name"] for r in report] == ["CKV_OTHER"]
    (entry,) = report
    assert entry["location"]["path"] == f"environments/{output.environment_of(stack)}.yaml"
    assert entry["location"]["lines"]["begin"] >= 1 and entry["severity"] == "major"
    assert re.fullmatch(r"[0-9a-f]{64}", entry["fingerprint"])
    assert sarif.code_quality(sarif.map_sarif(findings, output, load_skips())) == report
