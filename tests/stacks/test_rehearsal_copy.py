"""The rehearsal's copy of each stack: emulator wiring there, and only there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tooling.terraform.emulated import SKIPPED_TYPES, UNPROTECTED, rehearsal_document
from tooling.terraform.emulator import FAKE_CREDENTIAL, SERVICES, RehearsalError
from tooling.terraform.rehearse import stack_waves
from tests import topology
from tests.topology import (ENVIRONMENTS, data_stacks, dns_route53_stack, dns_zone_stack, expected_stacks, regional_stacks,
                            security_stack)
from tooling.terraform.runner import aws_only_stacks

ENDPOINT = "http://127.0.0.1:45678"
STATE = Path("/tmp/rehearsal-state")
EMULATOR_KEYS = ("endpoints", "access_key", "secret_key", "skip_credentials_validation",
                 "skip_metadata_api_check", "skip_region_validation", "s3_use_path_style")


@pytest.fixture(scope="module")
def copies(stacks, synth_dir):
    return {path.name: rehearsal_document(stacks[path.name], path.name, ENDPOINT, STATE)
            for path in aws_only_stacks(synth_dir)}


def test_normal_output_has_no_emulator_wiring(synth_dir):
    """cdktf.out is what gets deployed: no endpoints, credentials or loopback address in any stack."""
    for path in sorted((synth_dir / "stacks").glob("*/cdk.tf.json")):
        text = path.read_text()
        document = json.loads(text)
        for name, blocks in document.get("provider", {}).items():
            for block in blocks:
                assert not set(block) & set(EMULATOR_KEYS), (path.parent.name, name, sorted(block))
        assert "127.0.0.1" not in text and "localhost" not in text and FAKE_CREDENTIAL not in text, path


def test_every_aws_provider_points_at_the_emulator(copies):
    for stack, (document, _) in copies.items():
        providers = document["provider"]["aws"]
        assert providers, stack
        for provider in providers:
            assert provider["endpoints"] == [{service: ENDPOINT for service in SERVICES}], stack
            assert provider["access_key"] == provider["secret_key"] == FAKE_CREDENTIAL
            assert provider["skip_credentials_validation"] is True


def test_state_is_local_and_remote_state_reads_the_producers_local_state(copies, synth_dir):
    names = {p.name for p in aws_only_stacks(synth_dir)}
    for stack, (document, _) in copies.items():
        assert document["terraform"]["backend"] == {"local": {"path": str(STATE / f"{stack}.tfstate")}}
        for name, source in document.get("data", {}).get("terraform_remote_state", {}).items():
            producer = name.removeprefix("cross-stack-reference-input-")
            assert producer in names, (stack, name)
            assert source["backend"] == "local"
            assert source["config"] == {"path": str(STATE / f"{producer}.tfstate")}


def test_only_the_skip_list_what_needs_it_and_protection_are_taken_out(copies, stacks):
    """The copy drops the skipped types, and what refers to them (counted under its own type); it
    lifts prevent_destroy and deletion protection (UNPROTECTED); the rest is kept."""
    kept_any_protected = False
    for stack, (document, left_out) in copies.items():
        original = stacks[stack]["resource"]
        for resource_type, blocks in original.items():
            if resource_type in SKIPPED_TYPES:
                assert resource_type not in document["resource"]
                assert left_out[resource_type] == len(blocks)
                continue
            kept = document["resource"].get(resource_type, {})
            # a resource of a kept type leaves only because it names a left-out one
            assert len(blocks) - len(kept) == left_out.get(resource_type, 0), (stack, resource_type)
            for name in set(blocks) - set(kept):
                text = json.dumps(blocks[name])
                assert any(t in text for t in SKIPPED_TYPES), (stack, name)
            for name, copy in kept.items():
                block = blocks[name]
                kept_any_protected |= block.get("lifecycle", {}).get("prevent_destroy", False)
                assert "prevent_destroy" not in copy.get("lifecycle", {})
                # every other argument is untouched
                changed = {a for (t, a) in UNPROTECTED if t == resource_type}
                strip = lambda b: {k: v for k, v in b.items()  # noqa: E731
                                   if k not in ("lifecycle", "depends_on", *changed)}
                assert strip(copy) == strip(block), (stack, name)
                for (t, attribute), value in UNPROTECTED.items():
                    if t == resource_type and value is None:
                        assert attribute not in copy
                    elif t == resource_type and attribute in block:
                        assert copy[attribute] == value
    assert kept_any_protected, "the keys carry prevent_destroy in the real output"


def test_the_skip_list_is_short_and_says_why():
    # one per API moto lacks: EKS add-ons, access entries/policies, Pod Identity; rotation; query logs;
    # ElastiCache replication groups (no member clusters), subnet groups (no delete), Global Datastore,
    # users and user groups; backup selections; composite alarms; Synthetics canaries (no start, stop or
    # delete); Access Analyzer, Security Hub (account, standards, aggregator) and Service Quotas; AMP's
    # alert manager, scrapers and workspace configuration (moto has workspaces, rules and logging only)
    assert len(SKIPPED_TYPES) <= 24
    assert all(t.startswith("aws_") and len(why) > 20 for t, why in SKIPPED_TYPES.items())
    assert all(t not in SKIPPED_TYPES for (t, _) in UNPROTECTED)


def test_what_refers_to_a_skipped_type_is_left_out_with_it():
    document = {
        "provider": {"aws": [{"region": "us-east-1"}]},
        "resource": {
            "aws_eks_addon": {"a": {"addon_name": "coredns"}},
            "aws_ssm_parameter": {"p": {"value": "${aws_eks_addon.a.addon_version}"},
                                  "q": {"value": "${aws_ssm_parameter.p.version}"},
                                  "r": {"value": "${data.terraform_remote_state.cross-stack-reference-input-up"
                                                 ".outputs.cross-stack-output-aws_eks_addona_1234addon_version}"},
                                  "kept": {"value": "aws_eks_addon.ab is only text"}},
        },
        "output": {"o": {"value": "${aws_ssm_parameter.q.value}"}},
    }
    copy, left_out = rehearsal_document(document, "x", ENDPOINT, STATE)
    assert set(copy["resource"].get("aws_ssm_parameter", {})) == {"kept"}
    assert left_out == {"aws_eks_addon": 1, "aws_ssm_parameter": 3}
    assert "o" not in copy.get("output", {})


def test_a_data_source_reading_a_left_out_resource_is_an_error():
    document = {
        "provider": {"aws": [{"region": "us-east-1"}]},
        "resource": {"aws_eks_addon": {"a": {"addon_name": "coredns"}}},
        "data": {"aws_ssm_parameter": {"p": {"name": "${aws_eks_addon.a.addon_version}"}}},
    }
    with pytest.raises(RehearsalError, match="data refers to a resource the rehearsal leaves out"):
        rehearsal_document(document, "x", ENDPOINT, STATE)


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_waves_follow_the_manifest(synth_dir, env_name):
    env = ENVIRONMENTS[env_name]
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    names = [p.name for p in aws_only_stacks(synth_dir)]
    own = [n for n in names if n in expected_stacks(env)]
    assert own == topology.aws_only_stacks(env)
    baseline = topology.account_stacks(env)
    home = topology.account_stack(env.account.name, env.account.home_region)
    assert set(baseline) <= set(names)
    # the account's home baseline first, then its other regions' beside the keys, then the zone and its
    # certificates, then every region side by side, then the records beside the primary's data tier,
    # then the standby's data tier, which joins the primary's
    data = [p.stack for p in data_stacks(env)]
    assert stack_waves(manifest, baseline + own) == [
        [home], sorted([*(set(baseline) - {home}), security_stack(env_name)]), [dns_zone_stack(env_name)],
        sorted(p.stack for p in regional_stacks(env)), sorted([dns_route53_stack(env_name), data[0]]),
        *([data[1:]] if data[1:] else [])]


def test_waves_refuse_what_cannot_be_applied():
    with pytest.raises(RehearsalError, match="not an AWS-only stack"):
        stack_waves({"stacks": {"a": {"dependencies": ["b"]}, "b": {"dependencies": []}}}, ["a"])
    with pytest.raises(RehearsalError, match="cycle"):
        stack_waves({"stacks": {"a": {"dependencies": ["b"]}, "b": {"dependencies": ["a"]}}}, ["a", "b"])


def test_the_leftovers_check_places_every_resource_type_the_stacks_create(stacks):
    """After destroy the rehearsal lists what is left; a type it cannot see would be left unseen."""
    from tooling.terraform.leftovers import CREATED_BY_AWS, COVERAGE, GLOBAL_LISTERS, REGIONAL_LISTERS

    listed = set(REGIONAL_LISTERS) | set(GLOBAL_LISTERS)
    created = {t for stack in stacks.values() for t in stack.get("resource", {}) if t.startswith("aws_")}
    assert created <= set(COVERAGE), f"place these in rehearsal_checks.COVERAGE: {sorted(created - set(COVERAGE))}"
    for resource_type, seen_as in COVERAGE.items():
        if seen_as == "not created":
            assert resource_type in SKIPPED_TYPES, resource_type
        elif seen_as.startswith("with "):
            parent = seen_as[5:]
            assert COVERAGE.get(parent) in listed, f"{resource_type}: its parent {parent} is not listed"
        else:
            assert seen_as in listed, f"{resource_type}: no lister named {seen_as!r}"
    assert set(SKIPPED_TYPES) <= {t for t, s in COVERAGE.items() if s == "not created"}
    assert set(CREATED_BY_AWS) <= listed


def test_the_profile_reads_the_slowest_operations_from_terraform_output():
    from tooling.terraform.rehearse import slowest_operations

    log = ("aws_kms_key.logs: Creation complete after 2s [id=abc]\n"
           "aws_lb.alb-primary: Still creating... [1m0s elapsed]\n"
           "aws_lb.alb-primary: Creation complete after 1m2s [id=arn]\n"
           "aws_route53_record.a: Destruction complete after 31s\n"
           "aws_s3_bucket.logs: Modifications complete after 0s [id=b]\n")
    assert slowest_operations(log, top=3) == [
        {"address": "aws_lb.alb-primary", "operation": "creation", "seconds": 62},
        {"address": "aws_route53_record.a", "operation": "destruction", "seconds": 31},
        {"address": "aws_kms_key.logs", "operation": "creation", "seconds": 2}]
    assert slowest_operations("No changes. Your infrastructure matches the configuration.") == []


def test_terraform_plugins_run_with_a_lighter_garbage_collector_unless_the_caller_sets_one():
    from tooling.terraform.runner import PLUGIN_GOGC, terraform_env

    assert terraform_env({})["GOGC"] == PLUGIN_GOGC
    assert terraform_env({"GOGC": "100"})["GOGC"] == "100"


def test_the_copy_ignores_only_what_the_emulator_would_make_it_replace(copies, stacks):
    """IGNORED_IN_COPY: the attribute is ignored on the resources its condition names, and nowhere else."""
    from tooling.terraform.emulated import IGNORED_IN_COPY

    seen = set()
    for stack, (document, _) in copies.items():
        for (resource_type, attribute), (key, value, why) in IGNORED_IN_COPY.items():
            assert len(why) > 20
            for name, copy in document["resource"].get(resource_type, {}).items():
                ignored = copy.get("lifecycle", {}).get("ignore_changes", [])
                wanted = copy.get(key) == value
                assert (attribute in ignored) is wanted, (stack, name)
                assert attribute not in stacks[stack]["resource"][resource_type][name].get("lifecycle", {}).get(
                    "ignore_changes", [])  # the synthesized stack itself is untouched
                if wanted:
                    seen.add(resource_type)
    assert seen or not any(c.get("type") == "CLOUDWATCH_METRIC" for s in stacks.values()
                           for c in s.get("resource", {}).get("aws_route53_health_check", {}).values())
