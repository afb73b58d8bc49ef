"""IAM policy documents as deterministic JSON, and the account facts they need."""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Optional

from constructs import Construct

from modules.providers import aws


def policy_document(statements: Iterable[Mapping[str, Any]]) -> str:
    """A policy document string with sorted keys, so synthesis is byte-stable."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)},
                      sort_keys=True, separators=(",", ":"))


class PolicyStatements(list):
    """IAM statements being collected for one policy: what ``grant_*`` methods attach to."""

    def add_to_policy(self, statement: Mapping[str, Any]) -> None:
        self.append(statement)


def service_assume_role_policy(service: str, source_account: Optional[str] = None,
                               source_arn: Optional[str] = None) -> str:
    """Trust policy letting one AWS service principal assume a role.

    ``source_account`` (and ``source_arn``, a pattern of the resources acting) add the
    ``aws:SourceAccount``/``aws:SourceArn`` conditions that guard against the confused-deputy
    problem, for the services that document them (CONFUSED_DEPUTY_KEYS).
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    if source_arn:
        statement.setdefault("Condition", {})["ArnLike"] = {"aws:SourceArn": source_arn}
    return policy_document([statement])


class AccountContext(Construct):
    """The account id and partition of the provider in scope, read at plan time."""

    def __init__(self, scope: Construct, construct_id: str, *, provider=None):
        super().__init__(scope, construct_id)
        identity = aws("data_aws_caller_identity").DataAwsCallerIdentity(self, "identity", provider=provider)
        partition = aws("data_aws_partition").DataAwsPartition(self, "partition", provider=provider)
        self.account_id: str = identity.account_id
        self.partition: str = partition.partition

    @property
    def root_arn(self) -> str:
        """``arn:<partition>:iam::<account>:root``: the account, for key administration."""
        return f"arn:{self.partition}:iam::{self.account_id}:root"
