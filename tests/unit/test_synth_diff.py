"""`spofless diff --against REF`: the generated Terraform of two revisions, by stack, resource and attribute."""

from __future__ import annotations

import json

import yaml

from tooling.review import synth_diff


def _stack(resources: dict) -> dict:
    return {"resource": resources, "//": {"metadata": {"stackName": "x"}}}


def test_resources_added_removed_and_changed_are_named_with_their_attributes():
    before = {"s": _stack({"aws_lb": {"a": {"name": "a", "idle_timeout": 60, "//": {"metadata": {"path": "p"}}},
                                      "gone": {"name": "g"}}}),
              "old-stack": _stack({"aws_vpc": {"v": {}}})}
    after = {"s": _stack({"aws_lb": {"a": {"name": "a", "idle_timeout": 120, "//": {"metadata": {"path": "q"}}},
                                     "new": {"name": "n"}}})}
    diff = synth_diff.compare(before, after)
    assert [(c.kind, c.address) for c in diff["s"]] == [("added", "aws_lb.new"), ("removed", "aws_lb.gone"),
                                                        ("changed", "aws_lb.a")]
    assert diff["s"][2].attributes == [("idle_timeout", 60, 120)]  # construct metadata is not configuration
    assert [(c.kind, c.address) for c in diff["old-stack"]] == [("removed", "aws_vpc.v")]
    text = synth_diff.markdown(diff, "main")
    assert "| `s` | 1 | 1 | 1 |" in text and "`idle_timeout`: `60` -> `120`" in text


def test_chart_values_and_policies_held_as_strings_are_compared_by_field_and_objects_by_name():
    def release(objects, timeout):
        return _stack({"helm_release": {"r": {"values": [yaml.safe_dump({"objects": objects, "timeout": timeout})]}},
                       "aws_iam_policy": {"p": {"policy": json.dumps({"Statement": [{"Action": timeout}]})}}})
    secret = {"kind": "Secret", "metadata": {"name": "keys", "namespace": "flux"}, "data": {"a": "1"}}
    policy = {"kind": "ValidatingAdmissionPolicy", "metadata": {"name": "guard"}, "spec": {"x": 1}}
    diff = synth_diff.compare({"s": release([policy], "s3:Get")}, {"s": release([secret, policy], "s3:Put")})
    changes = {c.address: c.attributes for c in diff["s"]}
    # the inserted Secret is one added block, and the policy after it is not reported as moved
    assert changes["helm_release.r"] == [("values[0].objects[Secret/flux/keys]", None, synth_diff.BLOCK),
                                         ("values[0].timeout", "s3:Get", "s3:Put")]
    assert changes["aws_iam_policy.p"] == [("policy.Statement[0].Action", "s3:Get", "s3:Put")]
    assert "  - added: `values[0].objects[Secret/flux/keys]`" in synth_diff.markdown(diff, "main")


def test_the_same_output_has_no_difference():
    stacks = {"s": _stack({"aws_lb": {"a": {"name": "a"}}})}
    assert synth_diff.compare(stacks, json.loads(json.dumps(stacks))) == {}
    assert "No stack changes." in synth_diff.markdown({}, "HEAD")


def test_an_unknown_revision_is_one_line_and_exit_2(tmp_path, capsys):
    assert synth_diff.main(["--against", "no-such-ref-anywhere", "--reports", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --against no-such-ref-anywhere: not a commit, branch or tag of this repository"]


def test_against_this_revision_writes_both_reports(synth_dir, tmp_path):
    assert synth_diff.main(["--against", "HEAD", "--out", str(synth_dir), "--reports", str(tmp_path),
                            "--env", "dev"]) == 0
    assert (tmp_path / "synth-diff.md").read_text().startswith("## Generated Terraform against `HEAD`")
    assert isinstance(json.loads((tmp_path / "synth-diff.json").read_text()), dict)
