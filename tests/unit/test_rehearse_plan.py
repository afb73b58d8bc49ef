"""The rehearsal's plan after apply: no change passes, a listed emulator quirk is tolerated, anything else fails."""

from __future__ import annotations

from tooling.terraform import emulated


def _change(address, actions, before=None, after=None, unknown=None):
    kind = address.split(".")[0]
    return {"address": address, "type": kind,
            "change": {"actions": actions, "before": before, "after": after, "after_unknown": unknown or {}}}


def test_no_change_and_reads_pass():
    plan = {"resource_changes": [_change("aws_vpc.v", ["no-op"]), _change("data.aws_region.r", ["read"])]}
    assert emulated.judge_plan(plan) == ([], [])


def test_an_update_of_a_listed_quirk_is_tolerated_and_anything_else_fails(monkeypatch):
    monkeypatch.setattr(emulated, "PLAN_QUIRKS", {("aws_acm_certificate", "key_algorithm"): "emulator default"})
    quirk = _change("aws_acm_certificate.c", ["update"], {"key_algorithm": "RSA_2048", "tags": {}},
                    {"key_algorithm": "EC_prime256v1", "tags": {}})
    drift = _change("aws_lb.a", ["update"], {"idle_timeout": 60}, {"idle_timeout": 120})
    problems, tolerated = emulated.judge_plan({"resource_changes": [quirk, drift]})
    assert tolerated == ["aws_acm_certificate.c.key_algorithm"]
    assert problems == ["aws_lb.a: update idle_timeout"]


def test_a_replacement_or_a_new_resource_always_fails(monkeypatch):
    monkeypatch.setattr(emulated, "PLAN_QUIRKS", {("aws_vpc", "cidr_block"): "never tolerated as a replace"})
    plan = {"resource_changes": [_change("aws_vpc.v", ["delete", "create"], {"cidr_block": "a"}, {"cidr_block": "b"}),
                                 _change("aws_subnet.s", ["create"], None, {"cidr_block": "c"})]}
    problems, tolerated = emulated.judge_plan(plan)
    assert problems == ["aws_vpc.v: delete/create", "aws_subnet.s: create"] and tolerated == []


def test_a_value_that_becomes_unknown_counts_as_changed():
    change = _change("aws_lb.a", ["update"], {"arn": "x"}, {"arn": None}, {"arn": True})
    assert emulated.changed_attributes(change["change"]) == ["arn"]


def test_every_listed_quirk_says_why():
    assert all(len(why) > 30 for why in emulated.PLAN_QUIRKS.values())


def test_a_nested_value_counts_only_where_it_becomes_unknown():
    same = {"block_device_mappings": [{"ebs": [{"volume_size": 20}]}]}
    change = _change("aws_launch_template.t", ["update"], same, same, {"block_device_mappings": [{"ebs": [{}]}]})
    assert emulated.changed_attributes(change["change"]) == []
    unknown = {"block_device_mappings": [{"ebs": [{"kms_key_id": True}]}]}
    change = _change("aws_launch_template.t", ["update"], same, same, unknown)
    assert emulated.changed_attributes(change["change"]) == ["block_device_mappings"]
