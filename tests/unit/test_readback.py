"""Read-back normalisations: a state as the real APIs return it (tooling/terraform/readback.py).

GIVEN a state as Terraform stores it after applying against the emulator (which echoes what it was sent)
WHEN the read-back normalisations are applied
THEN each attribute a real service normalises reads as that service returns it, and nothing else changes.
"""

from __future__ import annotations

import copy
import json

from tooling.terraform import readback


def _state(*resources):
    return {"version": 4, "serial": 7, "lineage": "x", "resources": [
        {"mode": "managed", "type": rtype, "name": name, "instances": [{"attributes": attributes}]}
        for rtype, name, attributes in resources]}


def test_a_global_datastore_member_reads_back_the_datastores_engine():
    state = _state(("aws_elasticache_replication_group", "member", {"engine": "redis", "global_replication_group_id": "g"}),
                   ("aws_elasticache_replication_group", "primary", {"engine": "valkey", "global_replication_group_id": ""}))
    changed = readback.normalise_state(state)
    assert [r["instances"][0]["attributes"]["engine"] for r in state["resources"]] == ["valkey", "valkey"]
    assert len(changed) == 1 and changed[0].startswith("aws_elasticache_replication_group.member.engine")
    assert state["serial"] == 8  # a state push needs a newer serial


def test_cloudflare_keeps_names_without_the_trailing_dot():
    state = _state(("cloudflare_dns_record", "validation", {"type": "CNAME", "content": "_x.acm-validations.aws."}),
                   ("cloudflare_dns_record", "spf", {"type": "TXT", "content": "v=spf1 -all."}))
    readback.normalise_state(state)
    assert state["resources"][0]["instances"][0]["attributes"]["content"] == "_x.acm-validations.aws"
    assert state["resources"][1]["instances"][0]["attributes"]["content"] == "v=spf1 -all."  # TXT is text


def test_policies_come_back_reordered_and_with_one_element_lists_collapsed():
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"],
                                                                 "Resource": "*"}]})
    state = _state(("aws_iam_role_policy", "p", {"policy": policy}))
    readback.normalise_state(state)
    read = state["resources"][0]["instances"][0]["attributes"]["policy"]
    assert read != policy
    assert json.loads(read) == {"Version": "2012-10-17", "Statement": {"Resource": "*", "Effect": "Allow",
                                                                       "Action": "s3:GetObject"}}


def test_a_state_already_as_read_back_is_left_alone():
    state = _state(("aws_route53_zone", "zone", {"name": "example.com"}),
                   ("aws_vpc", "vpc", {"cidr_block": "10.0.0.0/16"}))
    before = copy.deepcopy(state)
    assert readback.normalise_state(state) == [] and state == before


def test_every_normalisation_says_why_and_cites_its_source():
    assert all(n.why and n.source.startswith("https://") for n in readback.NORMALISATIONS)


def test_a_state_from_a_plan_fills_what_is_known_after_apply_by_type():
    plan = {"resource_changes": [{"mode": "managed", "type": "aws_x", "name": "a", "provider_name": "p",
                                  "change": {"actions": ["create"], "after": {"name": "a", "tags": None},
                                             "after_unknown": {"id": True, "port": True, "on": True, "ids": True},
                                             "after_sensitive": {"secret": True}}}]}
    schemas = {"provider_schemas": {"p": {"resource_schemas": {"aws_x": {"version": 2, "block": {"attributes": {
        "id": {"type": "string"}, "port": {"type": "number"}, "on": {"type": "bool"}, "ids": {"type": ["set", "string"]},
        "name": {"type": "string"}, "tags": {"type": ["map", "string"]}}}}}}}}
    (resource,) = readback.state_from_plan(plan, schemas)["resources"]
    instance = resource["instances"][0]
    assert instance["schema_version"] == 2
    assert instance["attributes"] == {"id": "read-back", "port": 0, "on": False, "ids": [], "name": "a", "tags": None}
    assert instance["sensitive_attributes"] == [[{"type": "get_attr", "value": "secret"}]]
