"""The rotation function's handler through the four steps of Secrets Manager's protocol, against botocore's
Stubber (each call's parameters are validated against the real service model, so a call AWS would refuse
fails here too): the first rotation of a secret with no version yet, a later rotation, a retried finish,
a token that is not AWSPENDING, and a secret the function was not deployed for."""

from __future__ import annotations

import importlib.util

import boto3
import pytest
from botocore.stub import Stubber

from modules.security.rotation_function import HANDLER

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/webhook-key-AbCdEf"
NAME = "prod/webhook-key"
TOKEN = "11111111-2222-3333-4444-555555555555"
OLD = "99999999-8888-7777-6666-555555555555"


@pytest.fixture
def client():
    client = boto3.client("secretsmanager", region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


@pytest.fixture
def handler(monkeypatch, client):
    """The deployed handler as Lambda runs it (``handler(event, context)``), its boto3 client the stubbed one."""
    monkeypatch.setenv("SECRET_NAMES", f"{NAME},prod/other")
    spec = importlib.util.spec_from_file_location("rotation_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module.boto3, "client", lambda *args, **kwargs: client)
    return module.handler


def _describe(client, stages: dict, name: str = NAME, enabled: bool = True):
    client.stubber.add_response("describe_secret", {"ARN": ARN, "Name": name, "RotationEnabled": enabled,
                                                    "VersionIdsToStages": stages}, {"SecretId": ARN})


def _event(step: str) -> dict:
    return {"SecretId": ARN, "ClientRequestToken": TOKEN, "Step": step}


def test_first_rotation_of_a_secret_with_no_value_runs_all_four_steps(handler, client):
    pending = {TOKEN: ["AWSPENDING"]}  # rotate_immediately on a new secret: no AWSCURRENT exists
    _describe(client, pending)
    client.stubber.add_client_error("get_secret_value", "ResourceNotFoundException",
                                    expected_params={"SecretId": ARN, "VersionId": TOKEN, "VersionStage": "AWSPENDING"})
    client.stubber.add_response("get_random_password", {"RandomPassword": "x" * 64},
                                {"PasswordLength": 64, "ExcludePunctuation": True})
    client.stubber.add_response("put_secret_value", {"ARN": ARN, "VersionId": TOKEN},
                                {"SecretId": ARN, "ClientRequestToken": TOKEN, "SecretString": "x" * 64,
                                 "VersionStages": ["AWSPENDING"]})
    handler(_event("createSecret"), None)
    for step in ("setSecret", "testSecret"):
        _describe(client, pending)
        handler(_event(step), None)
    _describe(client, pending)
    # nothing to remove AWSCURRENT from: the call must not name a version (botocore refuses None)
    client.stubber.add_response("update_secret_version_stage", {"ARN": ARN, "Name": NAME},
                                {"SecretId": ARN, "VersionStage": "AWSCURRENT", "MoveToVersionId": TOKEN})
    handler(_event("finishSecret"), None)


def test_a_later_rotation_moves_awscurrent_from_the_old_version(handler, client):
    _describe(client, {OLD: ["AWSCURRENT"], TOKEN: ["AWSPENDING"]})
    client.stubber.add_response("update_secret_version_stage", {"ARN": ARN, "Name": NAME},
                                {"SecretId": ARN, "VersionStage": "AWSCURRENT", "MoveToVersionId": TOKEN,
                                 "RemoveFromVersionId": OLD})
    handler(_event("finishSecret"), None)


def test_create_keeps_a_pending_value_already_written(handler, client):
    _describe(client, {OLD: ["AWSCURRENT"], TOKEN: ["AWSPENDING"]})
    client.stubber.add_response("get_secret_value", {"ARN": ARN, "VersionId": TOKEN, "SecretString": "kept"},
                                {"SecretId": ARN, "VersionId": TOKEN, "VersionStage": "AWSPENDING"})
    handler(_event("createSecret"), None)


def test_a_retried_finish_of_a_version_already_current_changes_nothing(handler, client):
    _describe(client, {TOKEN: ["AWSCURRENT"]})
    handler(_event("finishSecret"), None)


def test_a_token_that_is_not_awspending_is_refused(handler, client):
    _describe(client, {OLD: ["AWSCURRENT"], TOKEN: ["AWSPREVIOUS"]})
    with pytest.raises(ValueError, match="not staged AWSPENDING"):
        handler(_event("createSecret"), None)


def test_a_secret_the_function_was_not_deployed_for_is_refused(handler, client):
    _describe(client, {TOKEN: ["AWSPENDING"]}, name="prod/aurora-master-password")
    with pytest.raises(ValueError, match="not a secret this function rotates"):
        handler(_event("createSecret"), None)


@pytest.mark.parametrize("stages, message", [
    ({OLD: ["AWSCURRENT"]}, "is not a version of"),
])
def test_a_token_that_is_no_version_of_the_secret_is_refused(handler, client, stages, message):
    _describe(client, stages)
    with pytest.raises(ValueError, match=message):
        handler(_event("setSecret"), None)


def test_a_secret_without_rotation_enabled_is_refused(handler, client):
    _describe(client, {TOKEN: ["AWSPENDING"]}, enabled=False)
    with pytest.raises(ValueError, match="rotation is not enabled"):
        handler(_event("finishSecret"), None)


def test_an_unknown_step_is_refused_before_any_call(handler, client):
    with pytest.raises(ValueError, match="unknown rotation step"):
        handler(_event("rollback"), None)
