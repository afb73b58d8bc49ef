"""The AWS commercial regions spofless knows, with the zone letters each one offers.

Kept as data so that validation is offline and synthesis is deterministic: the
subnets of an environment are pinned to named zones, not to whatever an
``aws_availability_zones`` lookup returns at plan time. Zone *letters* map to
different physical zones per account; an environment whose account sees other
letters lists them in ``availability_zones``.
"""

from __future__ import annotations

# region -> zone letters generally available to new accounts (opt-in regions included).
REGION_ZONES: dict[str, tuple[str, ...]] = {
    "us-east-1": ("a", "b", "c", "d", "e", "f"),
    "us-east-2": ("a", "b", "c"),
    "us-west-1": ("a", "b", "c"),  # new accounts see two of the three
    "us-west-2": ("a", "b", "c", "d"),
    "ca-central-1": ("a", "b", "d"),
    "ca-west-1": ("a", "b", "c"),
    "sa-east-1": ("a", "b", "c"),
    "eu-west-1": ("a", "b", "c"),
    "eu-west-2": ("a", "b", "c"),
    "eu-west-3": ("a", "b", "c"),
    "eu-central-1": ("a", "b", "c"),
    "eu-central-2": ("a", "b", "c"),
    "eu-north-1": ("a", "b", "c"),
    "eu-south-1": ("a", "b", "c"),
    "eu-south-2": ("a", "b", "c"),
    "ap-east-1": ("a", "b", "c"),
    "ap-south-1": ("a", "b", "c"),
    "ap-south-2": ("a", "b", "c"),
    "ap-northeast-1": ("a", "c", "d"),
    "ap-northeast-2": ("a", "b", "c", "d"),
    "ap-northeast-3": ("a", "b", "c"),
    "ap-southeast-1": ("a", "b", "c"),
    "ap-southeast-2": ("a", "b", "c"),
    "ap-southeast-3": ("a", "b", "c"),
    "ap-southeast-4": ("a", "b", "c"),
    "me-south-1": ("a", "b", "c"),
    "me-central-1": ("a", "b", "c"),
    "il-central-1": ("a", "b", "c"),
    "af-south-1": ("a", "b", "c"),
}

# us-west-1 is listed with three letters, but an account only ever gets two of them.
USABLE_ZONE_COUNT: dict[str, int] = {"us-west-1": 2}


def zone_count(region: str) -> int:
    """How many AZs an account can use in ``region``."""
    return USABLE_ZONE_COUNT.get(region, len(REGION_ZONES[region]))
