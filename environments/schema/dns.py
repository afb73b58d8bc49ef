"""DNS: the one record set both providers serve, health checks, Cloudflare and query logs."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from environments import record_values
from environments.schema.common import Frozen, RetentionDays, schema_error


def record_fqdn(name: str, domain: str) -> Optional[str]:
    """The FQDN (no trailing dot) of a record name in ``domain``'s zone, or None when outside it."""
    if name == "@":
        return domain
    if name.endswith("."):
        absolute = name[:-1]
        return absolute if absolute == domain or absolute.endswith(f".{domain}") else None
    if name == domain or name.endswith(f".{domain}"):
        return name
    return f"{name}.{domain}"


RECORD_TYPES = record_values.RECORD_TYPES
RECORD_TARGETS = ("platform",)


class RecordConfig(Frozen):
    """One DNS record, declared once and served by both Route53 and Cloudflare."""

    name: str
    """``@`` for the apex, a name relative to the domain (``www``), or an FQDN
    inside the zone ending in a dot (``www.platform.example.com.``). Required."""

    type: Literal["A", "AAAA", "CNAME", "TXT", "MX", "CAA"] = "A"
    """Record type. Left out: A (what a ``target`` record always is)."""

    ttl: int = 300
    """Seconds, 60 to 86400 (the range both providers accept). Left out: 300."""

    values: tuple[str, ...] = ()
    """Static values (MX: ``"10 mail.example.com"``; CAA: ``'0 issue "amazon.com"'``)."""

    target: Optional[Literal["platform"]] = None
    """``platform``: the load-balanced service, with health-checked failover
    (primary ALB, secondary ALB, NLB; primary region, then standby). Give either
    ``values`` or ``target``."""

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: int) -> int:
        if not 60 <= value <= 86400:
            raise schema_error("ttl", "is out of range; allowed: 60 to 86400 seconds (what Route53 and Cloudflare both accept)")
        return value

    @model_validator(mode="after")
    def _values(self) -> "RecordConfig":
        if (self.target is None) == (not self.values):
            raise schema_error("record_values", "needs exactly one of values and target; allowed: values: [...] or "
                                         "target: platform", field="values", value=list(self.values))
        if self.target is not None and self.type != "A":
            raise schema_error("record_type", "must be A for a target record (an alias to the load balancers)",
                        field="type", value=self.type)
        for index, value in enumerate(self.values):
            try:
                record_values.parse(self.type, value)
            except record_values.InvalidValue as invalid:
                raise schema_error("record_value", "is not a valid {type} value; allowed: {problem}",
                            field=f"values.{index}", value=value, type=self.type, problem=invalid.allowed)
        if self.type == "CNAME" and len(self.values) != 1:
            raise schema_error("record_values", "a CNAME has exactly one value", field="values", value=list(self.values))
        return self

    @property
    def parsed(self) -> tuple[record_values.RecordValue, ...]:
        """The values, typed (environments/record_values.py), in the order given."""
        return tuple(record_values.parse(self.type, value) for value in self.values)


class HealthCheckDnsConfig(Frozen):
    """Route53 health checks and Cloudflare monitors on every load balancer."""

    path: str = "/health/ready"
    """HTTPS path probed. Left out: /health/ready."""

    interval_seconds: Literal[10, 30] = 30
    """Seconds between checks (Route53 offers 10 or 30). Left out: 30."""

    failure_threshold: int = Field(3, ge=1, le=10)
    """Consecutive failures before an endpoint is unhealthy. Left out: 3."""


class CloudflareConfig(Frozen):
    """The backup DNS provider."""

    account_id: str
    """Cloudflare account id (32 hex characters; an identifier, not a secret). Required.
    The API token comes from CLOUDFLARE_API_TOKEN at deploy time, never from here."""

    zone_id: str
    """Id of the existing Cloudflare zone the records go into (adopted, never created here).
    Required. A zone is added once in the Cloudflare dashboard (any plan; Load Balancing is a
    paid add-on on top); spofless does not create zones because a zone for a subdomain needs
    Cloudflare's Enterprise subdomain entitlement."""

    zone_name: Optional[str] = None
    """Apex of that zone: the environment's domain, or a parent of it (an environment on
    ``dev.example.com`` keeps its records in the ``example.com`` zone). Left out: the domain."""

    name_servers: tuple[str, ...]
    """The name servers Cloudflare assigned to the zone (dashboard, DNS > Records). Required:
    Route53's copy of the zone lists them beside its own at the apex (and in a delegation), so
    either provider's answers lead resolvers to both."""

    @field_validator("account_id", "zone_id")
    @classmethod
    def _hex(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.fullmatch(r"[0-9a-f]{32}", value):
            raise schema_error("cloudflare_id", "is not a Cloudflare id; allowed: 32 lower-case hex characters")
        return value

    @field_validator("name_servers")
    @classmethod
    def _servers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) < 2 or any(not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", v.rstrip(".")) for v in value):
            raise schema_error("name_servers", "is not a list of two or more host names; allowed: e.g. "
                                        "[ada.ns.cloudflare.com, bob.ns.cloudflare.com]")
        return tuple(v.rstrip(".") for v in value)


class DnsConfig(Frozen):
    """The environment's DNS: one record set served by Route53 (primary) and Cloudflare (backup)."""

    query_log_retention_days: RetentionDays = 365
    """Days Route53 query logs are kept in CloudWatch Logs (us-east-1). Left out: 365."""

    existing_route53_zone_id: Optional[str] = None
    """Use this Route53 hosted zone instead of creating one."""

    parent_domain: Optional[str] = None
    """The Route53 zone (same AWS account) that delegates this environment's domain, e.g.
    ``platform.example.com`` for ``dev.platform.example.com``. The dns-zone stack then writes
    the delegation (NS records listing Route53's and Cloudflare's name servers) into that zone
    before certificates are validated, so it must be applied after the parent's dns-zone stack.
    Left out: the domain is delegated at the registrar (README: "Deploy to a real account")."""

    dnssec: bool = False
    """Sign the Route53 zone with DNSSEC (KMS key in us-east-1). Left out: off,
    because Cloudflare co-serves the zone and Route53 cannot take part in
    multi-signer DNSSEC: signing one provider's copy breaks validation of the other."""

    health_check: HealthCheckDnsConfig = Field(default_factory=HealthCheckDnsConfig)
    """Health checks on every load balancer. Left out: HTTPS /health/ready every 30 s, 3 failures."""

    cloudflare: Optional[CloudflareConfig] = None
    """The backup provider. Left out: no Cloudflare stack, and Route53 is a single point of failure."""

    records: tuple[RecordConfig, ...] = ()
    """The records both providers serve."""

    @field_validator("existing_route53_zone_id")
    @classmethod
    def _zone(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.fullmatch(r"Z[A-Z0-9]{1,31}", value):
            raise schema_error("zone_id", "is not a Route53 hosted zone id; allowed: e.g. Z0123456789ABCDEFGHIJ")
        return value
