"""Secrets Manager rotation for secrets spofless generates (``value: generated``).

The four steps of the rotation protocol for a secret whose value is a random
string that consumers read from Secrets Manager (nothing else holds a copy):
createSecret puts a new random value as AWSPENDING, setSecret and testSecret
have nothing to update or test outside Secrets Manager, finishSecret makes
AWSPENDING the AWSCURRENT version.
https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html
"""

import os

import boto3

LENGTH = int(os.environ.get("SECRET_LENGTH", "64"))


def handler(event, _context):
    client = boto3.client("secretsmanager")
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"rotation is not enabled for {arn}")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise ValueError(f"version {token} is not a version of {arn}")
    if "AWSCURRENT" in stages[token]:
        return  # already current: a retried finishSecret
    if step == "createSecret":
        try:
            client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except client.exceptions.ResourceNotFoundException:
            value = client.get_random_password(PasswordLength=LENGTH, ExcludePunctuation=True)["RandomPassword"]
            client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=value,
                                    VersionStages=["AWSPENDING"])
    elif step in ("setSecret", "testSecret"):
        return
    elif step == "finishSecret":
        current = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
        client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                           RemoveFromVersionId=current)
    else:
        raise ValueError(f"unknown rotation step {step}")
