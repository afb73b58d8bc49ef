"""Secrets Manager rotation for secrets spofless generates (``value: generated``).

The four steps of the rotation protocol for a secret whose value is a random
string that consumers read from Secrets Manager (nothing else holds a copy):
createSecret puts a new random value as AWSPENDING, setSecret and testSecret
have nothing to update or test outside Secrets Manager, finishSecret makes
AWSPENDING the AWSCURRENT version.

It rotates only the secrets named in ``SECRET_NAMES`` (the deployment lists the
ones it was made for), only versions Secrets Manager staged as AWSPENDING, and a
secret's first rotation (no AWSCURRENT version yet) as well as later ones.
https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html
https://github.com/aws-samples/aws-secrets-manager-rotation-lambdas (SecretsManagerRotationTemplate)
"""

import os

import boto3

LENGTH = int(os.environ.get("SECRET_LENGTH", "64"))
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def _owned() -> frozenset:
    return frozenset(n for n in os.environ.get("SECRET_NAMES", "").split(",") if n)


def handler(event, _context):
    client = boto3.client("secretsmanager")
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step not in STEPS:
        raise ValueError(f"unknown rotation step {step}")
    metadata = client.describe_secret(SecretId=arn)
    if metadata.get("Name") not in _owned():
        raise ValueError(f"{metadata.get('Name')} is not a secret this function rotates")
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"rotation is not enabled for {arn}")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise ValueError(f"version {token} is not a version of {arn}")
    if "AWSCURRENT" in stages[token]:
        return  # already current: a retried finishSecret
    if "AWSPENDING" not in stages[token]:
        raise ValueError(f"version {token} of {arn} is not staged AWSPENDING for rotation")
    if step == "createSecret":
        try:
            client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except client.exceptions.ResourceNotFoundException:
            value = client.get_random_password(PasswordLength=LENGTH, ExcludePunctuation=True)["RandomPassword"]
            client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=value,
                                    VersionStages=["AWSPENDING"])
    elif step == "finishSecret":
        current = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
        # the first rotation of a secret has no current version to take the label from
        moved = {"RemoveFromVersionId": current} if current else {}
        client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, **moved)
    # setSecret, testSecret: nothing outside Secrets Manager holds the value
