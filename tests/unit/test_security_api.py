"""The security stack's consumer API: key objects per region, grants that attach, secret ARNs."""

from __future__ import annotations

import json
import re

import pytest

from environments.loader import load_environments
from modules.tags import KEY_PURPOSE
from tests.conftest import resources


@pytest.fixture(scope="module")
def synthesized():
    """GIVEN prod's security stack and a policy built only from its helpers, WHEN synthesized."""
    from cdktf import Testing

    from modules.iam import PolicyStatements, policy_document
    from modules.providers import aws
    from modules.stacks.security import SecurityStack

    (prod,) = load_environments(["prod"])
    app = Testing.app()
    stack = SecurityStack(app, "prod-security", env=prod)
    # grants attach to the statements they are given (and return what they attached)
    statements = PolicyStatements()
    attached = [stack.keys.region("us-west-2").eks.grant_decrypt(statements),
                stack.keys.key("storage", "us-east-1").grant_encrypt_decrypt(statements, via_service="s3"),
                *stack.secrets.grant_read(statements, "gitops/github-token", "us-west-2")]
    assert attached == statements and len(statements) == 4
    aws("iam_policy").IamPolicy(stack, "consumer", name="consumer", provider=stack.node.find_child("aws-primary"),
                                policy=policy_document(statements))
    with pytest.raises(KeyError, match="no 'eks' key in eu-west-1"):
        stack.keys.key("eks", "eu-west-1")
    with pytest.raises(KeyError, match="no keys in eu-west-1"):
        stack.keys.region("eu-west-1")
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
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}


def test_grant_read_on_the_standby_replica_reads_the_replica_and_decrypts_via_secrets_manager(synthesized):
    (policy,) = resources(synthesized, "aws_iam_policy").values()
    read, decrypt = json.loads(policy["policy"])["Statement"][2:]
    (secret,) = [n for n, s in resources(synthesized, "aws_secretsmanager_secret").items()
                 if s["name"] == "prod/gitops/github-token"]
    assert read["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    assert re.fullmatch(r"arn:\$\{data\.aws_partition\.[^}]+\.partition\}:secretsmanager:us-west-2:"
                        r"\$\{data\.aws_caller_identity\.[^}]+\.account_id\}:secret:prod/gitops/github-token-\?{6}",
                        read["Resource"]), read["Resource"]
    assert decrypt["Resource"] == f"${{aws_kms_replica_key.{_names(synthesized, 'aws_kms_replica_key')['secrets']}.arn}}"
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.us-west-2.amazonaws.com"}}


def test_secret_arn_in_the_standby_region_is_the_primary_arn_with_the_region_swapped():
    from cdktf import TerraformOutput, Testing

    from modules.stacks.security import SecurityStack

    (prod,) = load_environments(["prod"])
    stack = SecurityStack(Testing.app(), "prod-security", env=prod)
    TerraformOutput(stack, "standby_arn", value=stack.secrets.secret_arn("gitops/github-token", "us-west-2"))
    value = json.loads(Testing.synth(stack))["output"]["standby_arn"]["value"]
    assert re.fullmatch(r'\$\{replace\(aws_secretsmanager_secret\.[^.]+\.arn, ":us-east-1:", ":us-west-2:"\)\}', value)
    with pytest.raises(KeyError, match="not in eu-west-1"):
        stack.secrets.grant_read([], "gitops/github-token", "eu-west-1")


def test_outputs_give_each_purpose_key_per_region(synthesized):
    outputs = synthesized["output"]
    assert sorted(outputs) == ["eks_key_arns", "logs_key_arns", "secret_arns", "secrets_key_arns", "storage_key_arns"]
    assert sorted(outputs["logs_key_arns"]["value"]) == ["us-east-1", "us-west-2"]


def test_a_purpose_missing_in_a_region_is_named():
    from modules.security.keys import RegionalKey, RegionKeys

    keys = RegionKeys("us-east-1", {"logs": RegionalKey("logs", "us-east-1", "arn", "id", False)})
    assert keys.logs.arn == "arn"
    with pytest.raises(KeyError, match=r"no 'storage' key in us-east-1; keys exist for \['logs'\]"):
        keys.storage
