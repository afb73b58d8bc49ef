"""The regions (primary, standby, AZs, VPC CIDRs) and the network tier's knobs."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal, Optional

from pydantic import field_validator, model_validator

from environments.regions import REGION_ZONES, zone_count
from environments.schema.common import Frozen, MAX_VPC_PREFIX, MIN_VPC_PREFIX, Region, RetentionDays, schema_error


class RegionConfig(Frozen):
    """One AWS region of an environment: where it is and how its network is sized."""

    name: Region
    """AWS region name, e.g. ``us-east-1``. Required."""

    vpc_cidr: str
    """IPv4 CIDR of the region's VPC, /16 to /22. Required. Must not overlap the
    environment's other region, so the two VPCs can be peered or routed later."""

    az_count: Optional[int] = None
    """How many AZs to spread over (2 or more, at most what the region offers).
    Left out: 3, or the length of ``availability_zones`` when that is given."""

    availability_zones: Optional[tuple[str, ...]] = None
    """Zone letters to use, e.g. ``[a, b, c]``. Left out: the region's first
    ``az_count`` letters. Give it when your account sees other letters."""

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            raise schema_error(
                "malformed_cidr",
                "is not a valid IPv4 network ({reason}); allowed: e.g. '10.0.0.0/16'",
                reason=str(exc),
            ) from None
        if network.version != 4:
            raise schema_error("malformed_cidr", "must be an IPv4 network; allowed: e.g. '10.0.0.0/16'")
        if network.prefixlen < MIN_VPC_PREFIX:
            raise schema_error(
                "cidr_too_large",
                "is larger than AWS allows for a VPC; allowed: a prefix from /{low} to /{high}",
                low=MIN_VPC_PREFIX, high=MAX_VPC_PREFIX,
            )
        if network.prefixlen > MAX_VPC_PREFIX:
            raise schema_error(
                "cidr_too_small",
                "is too small for the subnets (public, private and database in up to 8 AZs, the "
                "smallest at prefix +6 and no smaller than /28); allowed: a prefix from /{low} to /{high}",
                low=MIN_VPC_PREFIX, high=MAX_VPC_PREFIX,
            )
        return str(network)

    @model_validator(mode="after")
    def _zones(self) -> "RegionConfig":
        offered = REGION_ZONES[self.name]
        usable = zone_count(self.name)
        if self.availability_zones is not None:
            bad = [z for z in self.availability_zones if z not in offered]
            if bad:
                raise schema_error(
                    "unknown_zone",
                    "zone letters {bad} are not offered in {region}; allowed: {allowed}",
                    field="availability_zones", value=list(self.availability_zones),
                    bad=bad, region=self.name, allowed=", ".join(offered),
                )
            if len(set(self.availability_zones)) != len(self.availability_zones):
                raise schema_error("duplicate_zone", "lists a zone twice; allowed: distinct zone letters",
                            field="availability_zones", value=list(self.availability_zones))
            if self.az_count is not None and self.az_count != len(self.availability_zones):
                raise schema_error(
                    "az_mismatch",
                    "differs from the {n} zones in availability_zones; allowed: give one of the two, "
                    "or make them agree",
                    field="az_count", value=self.az_count, n=len(self.availability_zones),
                )
        count = self.az_count if self.az_count is not None else (
            len(self.availability_zones) if self.availability_zones is not None else 3)
        if count < 2 or count > usable:
            raise schema_error(
                "az_count",
                "is out of range for {region}; allowed: 2 to {usable} (one AZ is a single point "
                "of failure, and {region} offers {usable})",
                field="az_count", value=count, region=self.name, usable=usable,
            )
        return self

    @property
    def zones(self) -> tuple[str, ...]:
        """Full AZ names in order, e.g. ``('us-east-1a', 'us-east-1b', 'us-east-1c')``."""
        letters = self.availability_zones or REGION_ZONES[self.name][: self.az_count or 3]
        return tuple(f"{self.name}{letter}" for letter in letters)


class RegionsConfig(Frozen):
    """Where an environment runs: always a primary region, optionally a standby."""

    primary: RegionConfig
    """The active region. Required."""

    standby: Optional[RegionConfig] = None
    """The warm standby region. Left out: the environment runs in one region and
    a region outage takes it down (acceptable for dev, declared as such)."""

    single_region_reason: Optional[str] = None
    """Why an environment without a standby region accepts that. It is written
    on the keys and secrets as the tag ``spofless:single-region``; without it the
    zero-SPOF policies fail every single-region key and secret."""

    @field_validator("single_region_reason")
    @classmethod
    def _reason(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9 +\-=._:/@,]{10,200}", value):
            raise schema_error("reason", "is not a usable reason; allowed: 10-200 characters of letters, digits, spaces "
                                  "and + - = . _ : / @ , (it becomes an AWS tag value)")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> "RegionsConfig":
        if self.standby is None:
            return self
        if self.single_region_reason is not None:
            raise schema_error("reason", "applies only without a standby region; allowed: leave it out",
                        field="single_region_reason", value=self.single_region_reason)
        if self.standby.name == self.primary.name:
            raise schema_error(
                "same_region",
                "must differ from regions.primary.name (a standby in the same region shares "
                "its failures); allowed: any other region",
                field="standby.name", value=self.standby.name,
            )
        a = ipaddress.ip_network(self.primary.vpc_cidr)
        b = ipaddress.ip_network(self.standby.vpc_cidr)
        if a.overlaps(b):
            raise schema_error(
                "cidr_overlap",
                "overlaps regions.primary.vpc_cidr '{a}'; allowed: a network disjoint from it, "
                "e.g. '10.1.0.0/16' beside '10.0.0.0/16'",
                field="standby.vpc_cidr", value=str(b), a=str(a),
            )
        return self

    @property
    def all(self) -> tuple[RegionConfig, ...]:
        """Primary first, then the standby when there is one."""
        return (self.primary,) if self.standby is None else (self.primary, self.standby)


class NetworkConfig(Frozen):
    """Knobs of the network tier, shared by every region of the environment."""

    nat_gateway_per_az: bool = True
    """True (default): a NAT gateway and private route table per AZ. False: one
    NAT gateway serves every AZ, cheaper, and its AZ's outage cuts egress for all."""

    flow_logs_retention_days: RetentionDays = 365
    """Days VPC flow logs are kept in CloudWatch Logs. Left out: 365."""

    flow_logs_traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = "ALL"
    """Which traffic flow logs record. Left out: ALL."""
