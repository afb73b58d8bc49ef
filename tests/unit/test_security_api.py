"""The security stack's consumer API: key objects per region, grants that attach, secret ARNs."""

from __future__ import annotations

import json
import re

import pytest

from modules.tags import KEY_PURPOSE
from tests.conftest import resources
from tests.topology import multi_region, security_stack, widest

# a two-region environment with a secret: its security stack is the API's input
ENV = widest(lambda env: multi_region(env) and bool(env.security.secrets))
needs_env = pytest.mark.skipif(ENV is None, reason="no environment has a standby region and a secret")
PRIMARY = ENV.regions.primary.name if ENV else None
STANDBY = ENV.regions.standby.name if ENV else None
SECRET = ENV.security.secrets[0] if ENV else None
OTHER_REGION = "eu-west-1" if "eu-west-1" not in (PRIMARY, STANDBY) else "eu-central-1"  # none of the env's


@pytest.fixture(scope="module")
def synthesized():
    """GIVEN ENV's security stack and a policy built only from its helpers, WHEN synthesized."""
    if ENV is None:
        pytest.skip("no environment has a standby region and a secret")
    from cdktf import Testing

    from modules.iam import PolicyStatements, policy_document
    from modules.providers import aws
    from modules.stacks.security import SecurityStack

    app = Testing.app()
    stack = SecurityStack(app, security_stack(ENV.name), env=ENV)
    # grants attach to the statements they are given (and return what they attached)
    statements = PolicyStatements()
    attached = [stack.keys.region(STANDBY).eks.grant_decrypt(statements),
                stack.keys.key("storage", PRIMARY).grant_encrypt_decrypt(statements, via_service="s3"),
                *stack.secrets.grant_read(statements, SECRET.name, STANDBY)]
    assert attached == statements and len(statements) == 4
    aws("iam_policy").IamPolicy(stack, "consumer", name="consumer", provider=stack.node.find_child("aws-primary"),
                                policy=policy_document(statements))
    with pytest.raises(KeyError, match=f"no 'eks' key in {OTHER_REGION}"):
        stack.keys.key("eks", OTHER_REGION)
    with pytest.raises(KeyError, match=f"no keys in {OTHER_REGION}"):
        stack.keys.region(OTHER_REGION)
    return json.loads(Testing.synth(stack))


def _names(stack, resource_type):
    return {r["tags"][KEY_PURPOSE]: n for n, r in resources(stack, resource_type).items()}


def test_grant_decrypt_in_the_standby_region_names_the_replica_key(synthesized):
    (policy,) = resources(synthesized, "aws_iam_policy").values()
    statements = json.loads(policy["policy"])["Statement"]
    replica = _names(synthesized, "aws_kms_replica_key")["eks"]
    assert statements[0] == {"Sid": "DecryptEksKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey"],
                             "Resource": f"${{aws_kms_replica_key.{replica}.arn}}"}


def test_grant_encrypt_decrypt_in_the_primary_region_names_the_primary_key_via_one_service(synthesized):
    (policy,) = resources(synthesized, "aws_iam_policy").values()
    statement = json.loads(policy["policy"])["Statement"][1]
    primary = _names(synthesized, "aws_kms_key")["storage"]
    assert statement["Resource"] == f"${{aws_kms_key.{primary}.arn}}"
    assert "kms:GenerateDataKey*" in statement["Action"]
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{PRIMARY}.amazonaws.com"}}


def test_grant_read_on_the_standby_replica_reads_the_replica_and_decrypts_via_secrets_manager(synthesized):
    (policy,) = resources(synthesized, "aws_iam_policy").values()
    read, decrypt = json.loads(policy["policy"])["Statement"][2:]
    (secret,) = [n for n, s in resources(synthesized, "aws_secretsmanager_secret").items()
                 if s["name"] == f"{ENV.name}/{SECRET.name}"]
    assert read["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    assert re.fullmatch(rf"arn:\$\{{data\.aws_partition\.[^}}]+\.partition\}}:secretsmanager:{re.escape(STANDBY)}:"
                        rf"\$\{{data\.aws_caller_identity\.[^}}]+\.account_id\}}:secret:"
                        rf"{re.escape(f'{ENV.name}/{SECRET.name}')}-\?{{6}}",
                        read["Resource"]), read["Resource"]
    replica = _names(synthesized, "aws_kms_replica_key")[SECRET.key]
    assert decrypt["Resource"] == f"${{aws_kms_replica_key.{replica}.arn}}"
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": f"secretsmanager.{STANDBY}.amazonaws.com"}}


@needs_env
def test_secret_arn_in_the_standby_region_is_the_primary_arn_with_the_region_swapped():
    from cdktf import TerraformOutput, Testing

    from modules.stacks.security import SecurityStack

    stack = SecurityStack(Testing.app(), security_stack(ENV.name), env=ENV)
    TerraformOutput(stack, "standby_arn", value=stack.secrets.secret_arn(SECRET.name, STANDBY))
    value = json.loads(Testing.synth(stack))["output"]["standby_arn"]["value"]
    assert re.fullmatch(rf'\$\{{replace\(aws_secretsmanager_secret\.[^.]+\.arn, ":{re.escape(PRIMARY)}:", '
                        rf'":{re.escape(STANDBY)}:"\)\}}', value), value
    with pytest.raises(KeyError, match=f"not in {OTHER_REGION}"):
        stack.secrets.grant_read([], SECRET.name, OTHER_REGION)


def test_outputs_give_each_purpose_key_per_region(synthesized):
    outputs = synthesized["output"]
    assert sorted(outputs) == sorted(["secret_arns", *(f"{purpose}_key_arns" for purpose in ENV.security.keys)])
    assert sorted(outputs["logs_key_arns"]["value"]) == sorted([PRIMARY, STANDBY])


def test_a_purpose_missing_in_a_region_is_named():
    from modules.security.keys import RegionalKey, RegionKeys

    keys = RegionKeys("us-east-1", {"logs": RegionalKey("logs", "us-east-1", "arn", "id", False)})
    assert keys.logs.arn == "arn"
    with pytest.raises(KeyError, match=r"no 'storage' key in us-east-1; keys exist for \['logs'\]"):
        keys.storage
