"""What the rehearsal's checks share: a check's result, and boto3 clients pointed at the emulator."""

from __future__ import annotations

from dataclasses import dataclass


EMULATOR_DEFAULT_ROLE_PREFIXES = ("AWSServiceRoleFor",)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def clients(endpoint: str):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal")
    config = Config(retries={"max_attempts": 2})
    # S3 Control puts the account id in front of the host (<account>.127.0.0.1), which no resolver knows:
    # it reaches the emulator through the emulator itself as an HTTP proxy, as Terraform does
    proxied = config.merge(Config(proxies={"http": endpoint})) if endpoint else config
    return lambda service, region: session.client(service, region_name=region, endpoint_url=endpoint,
                                                  config=proxied if service == "s3control" else config)
