"""The names of an environment's stacks: built here, and parsed back here, nowhere else.

Pure Python: the constructs name their stacks with it and the tooling reads
``cdktf.out`` with it, so a stack kind added or renamed changes one file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Optional

GLOBAL_KINDS = ("security", "dns-zone", "dns-route53", "dns-cloudflare")
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d"
_NAME = re.compile(rf"^(?P<env>[a-z][a-z0-9-]*?)-(?:(?P<kind>{'|'.join(GLOBAL_KINDS)})|"
                   rf"(?P<region>{_REGION})(?:-(?P<suffix>gitops|data))?)$")
# an account's baseline; environment names never start with "account" (environments/schema), so these
# names are the baseline's alone
_ACCOUNT = re.compile(rf"^account-(?P<account>[a-z][a-z0-9-]*?)-(?P<region>{_REGION})$")


def account(account_name: str, region: str) -> str:
    """The baseline stack of one region of an account: ``account-<name>-<region>``."""
    return f"account-{account_name}-{region}"


def security(env: str) -> str:
    return f"{env}-security"


def dns_zone(env: str) -> str:
    return f"{env}-dns-zone"


def dns_route53(env: str) -> str:
    return f"{env}-dns-route53"


def dns_cloudflare(env: str) -> str:
    return f"{env}-dns-cloudflare"


def regional(env: str, region: str) -> str:
    return f"{env}-{region}"


def gitops(env: str, region: str) -> str:
    return f"{env}-{region}-gitops"


def data(env: str, region: str) -> str:
    return f"{env}-{region}-data"


@dataclass(frozen=True)
class StackName:
    env: str  # the environment, or for kind "account" the account's name
    kind: str  # one of GLOBAL_KINDS, "regional", "gitops", "data" or "account"
    region: Optional[str] = None


def parse(name: str) -> Optional[StackName]:
    """``prod-us-east-1-gitops`` -> ``StackName("prod", "gitops", "us-east-1")`` (``-data``: kind "data";
    ``account-platform-us-east-1``: ``StackName("platform", "account", "us-east-1")``); None for other names."""
    account_match = _ACCOUNT.match(name)
    if account_match:
        return StackName(account_match["account"], "account", account_match["region"])
    match = _NAME.match(name)
    if not match:
        return None
    if match["kind"]:
        return StackName(match["env"], match["kind"])
    return StackName(match["env"], match["suffix"] or "regional", match["region"])


def physical(name: str, limit: int) -> str:
    """An AWS/Cloudflare resource name within ``limit`` characters that never collides.

    Names within the limit are kept as they are; a longer one is cut and ends with 8
    characters of its SHA-256, so two long names that share a prefix stay distinct
    (a plain cut made every load balancer of a long environment name the same name).
    """
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:limit - 9].rstrip('-')}-{digest}"
