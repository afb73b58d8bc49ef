"""Types and helpers every part of the schema shares: the frozen base model, the error that says what is
allowed, AWS regions, DNS domains and CloudWatch Logs retention periods.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from environments.regions import REGION_ZONES


# The subnet layout (modules/network/layout.py) carves the smallest subnets at
# VPC prefix + 6, and AWS's smallest subnet is a /28; AWS VPCs are /16 to /28.
MIN_VPC_PREFIX = 16
MAX_VPC_PREFIX = 22

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                      1096, 1827, 2192, 2557, 2922, 3288, 3653)

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


class Frozen(BaseModel):
    """Base of every config object: immutable, and unknown fields are errors."""

    # field docstrings become descriptions in the JSON Schema (spofless schema), for editors
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, use_attribute_docstrings=True)


def schema_error(kind: str, message: str, *, field: str | None = None, **context) -> PydanticCustomError:
    """An error whose message says what is allowed.

    ``field`` names the sub-field a model-level rule is about (pydantic reports
    those at the model's own location), and ``value`` the offending value, so the
    loader can print the exact path, e.g. ``regions.standby.name``.
    """
    if field is not None:
        context["field"] = field
    return PydanticCustomError(kind, message, context)


def check_region(value: str) -> str:
    if value not in REGION_ZONES:
        raise schema_error(
            "unknown_region",
            "is not a known AWS region; allowed: {allowed}",
            allowed=", ".join(sorted(REGION_ZONES)),
        )
    return value


def check_domain(value: str) -> str:
    name = value.rstrip(".")
    labels = name.split(".")
    problems = []
    if name != name.lower():
        problems.append("must be lower case")
    if len(name) > 253:
        problems.append("is longer than 253 characters")
    if len(labels) < 2:
        problems.append("needs at least two labels (name.tld)")
    if any(not DNS_LABEL.match(label) for label in labels):
        problems.append("each label is 1-63 of a-z, 0-9 and '-', not starting or ending with '-'")
    elif not labels[-1].isalpha():
        problems.append("the top-level label must be letters only")
    if problems:
        raise schema_error(
            "invalid_domain",
            "is not a valid DNS domain name ({problems}); allowed: e.g. 'platform.example.com'",
            problems="; ".join(problems),
        )
    return name


def check_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise schema_error("retention", "is not a CloudWatch Logs retention period; allowed: {allowed}",
                    allowed=", ".join(map(str, LOG_RETENTION_DAYS)))
    return value


def check_account_id(value):
    if not isinstance(value, str) or not re.fullmatch(r"\d{12}", value):
        raise schema_error("account_id", "is not an AWS account id; allowed: 12 digits, quoted (e.g. '111122223333')")
    return value


Region = Annotated[str, AfterValidator(check_region)]
AccountId = Annotated[str, BeforeValidator(check_account_id)]
"""An AWS account id: 12 digits, as a string (YAML reads an unquoted one as a number)."""
Domain = Annotated[str, AfterValidator(check_domain)]
RetentionDays = Annotated[int, AfterValidator(check_retention)]
"""Days a CloudWatch Logs group keeps its events: one of the periods CloudWatch Logs accepts."""
