"""The schema of ``environments/<env>.yaml``: one place that says what is allowed.

Every model is frozen and forbids unknown fields, so a typo is an error, not a
silently ignored key. Defaults are the highly available choice; an environment
overrides only what differs (and the knob's name says what it gives up).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Optional

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from environments import eks_versions, record_values
from environments.regions import REGION_ZONES, zone_count

# The subnet layout (modules/network/layout.py) carves the smallest subnets at
# VPC prefix + 6, and AWS's smallest subnet is a /28; AWS VPCs are /16 to /28.
MIN_VPC_PREFIX = 16
MAX_VPC_PREFIX = 22

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                      1096, 1827, 2192, 2557, 2922, 3288, 3653)

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


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


class Frozen(BaseModel):
    """Base of every config object: immutable, and unknown fields are errors."""

    # field docstrings become descriptions in the JSON Schema (spofless schema), for editors
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, use_attribute_docstrings=True)


def _fail(kind: str, message: str, *, field: str | None = None, **context) -> PydanticCustomError:
    """An error whose message says what is allowed.

    ``field`` names the sub-field a model-level rule is about (pydantic reports
    those at the model's own location), and ``value`` the offending value, so the
    loader can print the exact path, e.g. ``regions.standby.name``.
    """
    if field is not None:
        context["field"] = field
    return PydanticCustomError(kind, message, context)


def _check_region(value: str) -> str:
    if value not in REGION_ZONES:
        raise _fail(
            "unknown_region",
            "is not a known AWS region; allowed: {allowed}",
            allowed=", ".join(sorted(REGION_ZONES)),
        )
    return value


def _check_domain(value: str) -> str:
    name = value.rstrip(".")
    labels = name.split(".")
    problems = []
    if name != name.lower():
        problems.append("must be lower case")
    if len(name) > 253:
        problems.append("is longer than 253 characters")
    if len(labels) < 2:
        problems.append("needs at least two labels (name.tld)")
    if any(not _LABEL.match(label) for label in labels):
        problems.append("each label is 1-63 of a-z, 0-9 and '-', not starting or ending with '-'")
    elif not labels[-1].isalpha():
        problems.append("the top-level label must be letters only")
    if problems:
        raise _fail(
            "invalid_domain",
            "is not a valid DNS domain name ({problems}); allowed: e.g. 'platform.example.com'",
            problems="; ".join(problems),
        )
    return name


def _check_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise _fail("retention", "is not a CloudWatch Logs retention period; allowed: {allowed}",
                    allowed=", ".join(map(str, LOG_RETENTION_DAYS)))
    return value


Region = Annotated[str, AfterValidator(_check_region)]
Domain = Annotated[str, AfterValidator(_check_domain)]
RetentionDays = Annotated[int, AfterValidator(_check_retention)]
"""Days a CloudWatch Logs group keeps its events: one of the periods CloudWatch Logs accepts."""


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
            raise _fail(
                "malformed_cidr",
                "is not a valid IPv4 network ({reason}); allowed: e.g. '10.0.0.0/16'",
                reason=str(exc),
            ) from None
        if network.version != 4:
            raise _fail("malformed_cidr", "must be an IPv4 network; allowed: e.g. '10.0.0.0/16'")
        if network.prefixlen < MIN_VPC_PREFIX:
            raise _fail(
                "cidr_too_large",
                "is larger than AWS allows for a VPC; allowed: a prefix from /{low} to /{high}",
                low=MIN_VPC_PREFIX, high=MAX_VPC_PREFIX,
            )
        if network.prefixlen > MAX_VPC_PREFIX:
            raise _fail(
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
                raise _fail(
                    "unknown_zone",
                    "zone letters {bad} are not offered in {region}; allowed: {allowed}",
                    field="availability_zones", value=list(self.availability_zones),
                    bad=bad, region=self.name, allowed=", ".join(offered),
                )
            if len(set(self.availability_zones)) != len(self.availability_zones):
                raise _fail("duplicate_zone", "lists a zone twice; allowed: distinct zone letters",
                            field="availability_zones", value=list(self.availability_zones))
            if self.az_count is not None and self.az_count != len(self.availability_zones):
                raise _fail(
                    "az_mismatch",
                    "differs from the {n} zones in availability_zones; allowed: give one of the two, "
                    "or make them agree",
                    field="az_count", value=self.az_count, n=len(self.availability_zones),
                )
        count = self.az_count if self.az_count is not None else (
            len(self.availability_zones) if self.availability_zones is not None else 3)
        if count < 2 or count > usable:
            raise _fail(
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
            raise _fail("reason", "is not a usable reason; allowed: 10-200 characters of letters, digits, spaces "
                                  "and + - = . _ : / @ , (it becomes an AWS tag value)")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> "RegionsConfig":
        if self.standby is None:
            return self
        if self.single_region_reason is not None:
            raise _fail("reason", "applies only without a standby region; allowed: leave it out",
                        field="single_region_reason", value=self.single_region_reason)
        if self.standby.name == self.primary.name:
            raise _fail(
                "same_region",
                "must differ from regions.primary.name (a standby in the same region shares "
                "its failures); allowed: any other region",
                field="standby.name", value=self.standby.name,
            )
        a = ipaddress.ip_network(self.primary.vpc_cidr)
        b = ipaddress.ip_network(self.standby.vpc_cidr)
        if a.overlaps(b):
            raise _fail(
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


class BackendConfig(Frozen):
    """Where Terraform keeps each stack's state."""

    type: Literal["local", "s3"] = "local"
    """``local`` (default): ``terraform.<stack>.tfstate`` at the project root.
    ``s3``: one object per stack in ``bucket``, encrypted, with locking."""

    bucket: Optional[str] = None
    """S3 bucket for state. Required when type is s3."""

    region: Optional[Region] = None
    """Region of the bucket. Left out: the environment's primary region."""

    key_prefix: str = "spofless"
    """Object key prefix; the key is ``<key_prefix>/<env>/<stack>.tfstate``."""

    kms_key_id: Optional[str] = None
    """KMS key ARN for state encryption. Left out: SSE-S3 (``encrypt = true``)."""

    lock: Literal["lockfile", "dynamodb"] = "lockfile"
    """``lockfile`` (default): S3-native locking (Terraform >= 1.10).
    ``dynamodb``: the legacy lock table named in ``dynamodb_table``."""

    dynamodb_table: Optional[str] = None
    """Lock table, required when lock is dynamodb."""

    standby_bucket: Optional[str] = None
    """S3 bucket in the standby region, for the stacks of the standby region. Required when
    type is s3 and the environment has a standby region: the standby region must be operable
    while the primary region is down, so its stacks keep their state there and read the
    upstream stacks' state (security, dns-zone) from this bucket, which holds a replica of
    ``bucket`` (S3 replication from ``bucket``, set up with the buckets; see the README)."""

    standby_kms_key_id: Optional[str] = None
    """KMS key ARN in the standby region for ``standby_bucket``. Left out: SSE-S3."""

    @model_validator(mode="after")
    def _s3_fields(self) -> "BackendConfig":
        if self.type == "s3" and not self.bucket:
            raise _fail("backend", "is required when type is 's3'; allowed: an S3 bucket name",
                        field="bucket", value=self.bucket)
        for name in ("bucket", "kms_key_id", "dynamodb_table", "standby_bucket", "standby_kms_key_id"):
            if self.type == "local" and getattr(self, name):
                raise _fail("backend", "applies only when type is 's3'; allowed: leave it out, or set type: s3",
                            field=name, value=getattr(self, name))
        if self.type == "s3" and self.lock == "dynamodb" and not self.dynamodb_table:
            raise _fail("backend", "is required when lock is 'dynamodb'; allowed: a DynamoDB table name",
                        field="dynamodb_table", value=self.dynamodb_table)
        return self


class HealthCheckConfig(Frozen):
    """How load balancers decide a target is healthy (the design's defaults)."""

    path: str = "/health/ready"
    """HTTP(S) path probed on each target. Left out: /health/ready."""

    interval_seconds: int = Field(10, ge=5, le=300)
    """Seconds between probes, 5-300. Left out: 10 (with 2 failures, a target in a lost AZ is out
    of rotation in 20 s: the failover table's "AZ failure detected in < 30 s"; make drill)."""

    timeout_seconds: int = Field(5, ge=2, le=120)
    """Seconds before a probe counts as failed, 2-120 and below the interval. Left out: 5."""

    healthy_threshold: int = Field(2, ge=2, le=10)
    """Consecutive successes to become healthy, 2-10. Left out: 2."""

    unhealthy_threshold: int = Field(2, ge=2, le=10)
    """Consecutive failures to become unhealthy, 2-10. Left out: 2."""

    matcher: str = "200"
    """HTTP codes that count as healthy, e.g. ``200`` or ``200-299``. Left out: 200."""

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or len(value) > 1024:
            raise _fail("health_path", "is not a URL path; allowed: a path starting with '/', at most 1024 characters")
        return value

    @model_validator(mode="after")
    def _timing(self) -> "HealthCheckConfig":
        if self.timeout_seconds >= self.interval_seconds:
            raise _fail("health_timing", "must be shorter than interval_seconds ({interval}); allowed: 2 to {max}",
                        field="timeout_seconds", value=self.timeout_seconds,
                        interval=self.interval_seconds, max=self.interval_seconds - 1)
        return self


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
            raise _fail("ttl", "is out of range; allowed: 60 to 86400 seconds (what Route53 and Cloudflare both accept)")
        return value

    @model_validator(mode="after")
    def _values(self) -> "RecordConfig":
        if (self.target is None) == (not self.values):
            raise _fail("record_values", "needs exactly one of values and target; allowed: values: [...] or "
                                         "target: platform", field="values", value=list(self.values))
        if self.target is not None and self.type != "A":
            raise _fail("record_type", "must be A for a target record (an alias to the load balancers)",
                        field="type", value=self.type)
        for index, value in enumerate(self.values):
            try:
                record_values.parse(self.type, value)
            except record_values.InvalidValue as invalid:
                raise _fail("record_value", "is not a valid {type} value; allowed: {problem}",
                            field=f"values.{index}", value=value, type=self.type, problem=invalid.allowed)
        if self.type == "CNAME" and len(self.values) != 1:
            raise _fail("record_values", "a CNAME has exactly one value", field="values", value=list(self.values))
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
            raise _fail("cloudflare_id", "is not a Cloudflare id; allowed: 32 lower-case hex characters")
        return value

    @field_validator("name_servers")
    @classmethod
    def _servers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) < 2 or any(not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", v.rstrip(".")) for v in value):
            raise _fail("name_servers", "is not a list of two or more host names; allowed: e.g. "
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
            raise _fail("zone_id", "is not a Route53 hosted zone id; allowed: e.g. Z0123456789ABCDEFGHIJ")
        return value


class LoadBalancingConfig(Frozen):
    """The three load balancers of every region: two ALBs and a backup NLB."""

    app_port: int = Field(8443, ge=1024, le=65535)
    """Port the workloads serve TLS on; targets are pod IPs. Left out: 8443."""

    nlb_target_port: int = Field(8444, ge=1024, le=65535)
    """Port the in-cluster gateway serves the NLB's traffic on: TLS after a proxy protocol v2
    header (the client's address), with the gateway's own rate and concurrency limits, because
    WAF cannot be associated with an NLB. Left out: 8444; must differ from ``app_port``."""

    request_body_limit_kib: int = Field(8, ge=1, le=1_048_576)
    """Largest request body accepted, in KiB, on every path in. The ALBs' path: WAF's common rule
    set blocks bodies over 8 KB (``SizeRestrictions_BODY``; an ALB's WAF inspects the first 8 KB
    of a body, a limit that cannot be raised). The NLB's path: the in-cluster gateway answers 413
    above the limit. Above 8, WAF's size rule only counts and the gateway holds the limit on
    both paths. The gateway's limit also buffers responses (no streaming through it).
    Left out: 8 (WAF's own limit)."""

    idle_timeout_seconds: int = Field(60, ge=1, le=4000)
    """ALB idle connection timeout, 1-4000. Left out: 60."""

    deregistration_delay_seconds: int = Field(30, ge=0, le=3600)
    """Connection draining time before a target leaves, 0-3600. Left out: 30."""

    health_check: HealthCheckConfig = Field(default_factory=HealthCheckConfig)
    """Target health checks. Left out: /health/ready every 30 s, 10 s timeout, 2 up, 3 down, 200."""

    waf_rate_limit: int = Field(2000, ge=100, le=2_000_000_000)
    """Requests per 5 minutes from one IP before it is refused: by WAF on the ALBs, by the in-cluster
    gateway on the NLB's path (WAF's minimum is 100). Left out: 2000."""

    access_log_expiry_days: int = Field(365, ge=1, le=3650)
    """Days load balancer access logs are kept in S3. Left out: 365."""

    waf_log_retention_days: RetentionDays = 365
    """Days WAF logs are kept in CloudWatch Logs. Left out: 365."""

    certificate_names: tuple[str, ...] = ()
    """Host names below the domain the TLS certificate also covers, e.g. ``[api, app]``.
    Left out: the domain itself only. No wildcards: one leaked key would cover every name."""

    @model_validator(mode="after")
    def _ports(self) -> "LoadBalancingConfig":
        if self.nlb_target_port == self.app_port:
            raise _fail("nlb_target_port", "is app_port too; allowed: another port (the NLB's path speaks proxy "
                                           "protocol, the ALBs' does not)", field="nlb_target_port",
                        value=self.nlb_target_port)
        return self

    @field_validator("certificate_names")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, name in enumerate(value):
            if not all(_LABEL.match(label) for label in name.split(".")):
                raise _fail("certificate_name", "is not a host name below the domain; allowed: labels of "
                                                "a-z, 0-9 and '-', no wildcards", field=str(index), value=name)
        return value


class NodeGroupSize(Frozen):
    """Size of one managed node group (per region)."""

    min: int = Field(ge=0, le=450)
    desired: int = Field(ge=0, le=450)
    max: int = Field(ge=1, le=450)

    @model_validator(mode="after")
    def _order(self) -> "NodeGroupSize":
        if self.min > self.max:
            raise _fail("node_size", "is larger than max ({max}); allowed: min <= desired <= max",
                        field="min", value=self.min, max=self.max)
        if not self.min <= self.desired <= self.max:
            raise _fail("node_size", "is outside min..max ({min}..{max}); allowed: min <= desired <= max",
                        field="desired", value=self.desired, min=self.min, max=self.max)
        return self


_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")


class EksConfig(Frozen):
    """The EKS cluster of every region: versions, endpoint access, node groups."""

    version: str = eks_versions.DEFAULT_VERSION
    """Kubernetes version, e.g. ``"1.35"``: one of the versions in environments/eks_versions.py
    that are supported, at ``support_type``, for at least 90 days after that table's date, and
    whose add-on builds are pinned there (the add-ons and the Cluster Autoscaler follow the
    version). Left out: 1.35."""

    support_type: eks_versions.SupportType = "STANDARD"
    """What EKS does when the version's standard support ends (``upgrade_policy``): ``STANDARD``
    upgrades the control plane to the next version then; ``EXTENDED`` keeps it, for 12 more
    months billed at the extended-support rate. Set on every cluster, because EKS's own
    default is EXTENDED. Left out: STANDARD."""

    public_endpoint_cidrs: tuple[str, ...] = ()
    """CIDRs allowed to reach the public API endpoint. Left out: public endpoint off
    (the API is reachable only from inside the VPC)."""

    admin_role_arns: tuple[str, ...] = ()
    """IAM roles granted cluster-admin through access entries. Left out: none."""

    deployer_role_arn: str
    """The IAM role Terraform runs as when it applies the stacks (the CI runner's role). Required.
    The clusters are created with ``authentication_mode = API`` and without creator admin, so
    this role gets an access entry with cluster-admin in every cluster; without one the gitops
    stacks are refused (401) by the clusters they install into."""

    deployer_access: Literal["in-vpc", "public"] = "in-vpc"
    """Where Terraform runs when it applies a region's gitops stack.
    ``in-vpc`` (default): a runner inside that region's VPC (one per region; the regions'
    VPCs are not connected, and a standby must be operable without the primary); the
    cluster security group admits HTTPS from the VPC to the private endpoint.
    ``public``: the public endpoint is opened, only to ``public_endpoint_cidrs`` (the
    runners' egress addresses), which is then required."""

    on_demand: NodeGroupSize = Field(default_factory=lambda: NodeGroupSize(min=3, desired=3, max=9))
    """ON_DEMAND node group size. Left out: 3/3/9 (60% of the default capacity)."""

    spot: NodeGroupSize = Field(default_factory=lambda: NodeGroupSize(min=2, desired=2, max=6))
    """SPOT node group size. Left out: 2/2/6 (40%)."""

    on_demand_instance_types: tuple[str, ...] = ("m6i.large",)
    """Instance types of the on-demand group. Left out: m6i.large."""

    spot_instance_types: tuple[str, ...] = ("m6i.large", "m6a.large", "m5.large", "m7i.large")
    """Instance types of the spot group; several, so one type's reclaim does not empty it."""

    node_disk_gib: int = Field(50, ge=20, le=16384)
    """Root volume size of every node (gp3, encrypted). Left out: 50."""

    control_plane_log_retention_days: RetentionDays = 365
    """Days control-plane logs are kept. Left out: 365."""

    @model_validator(mode="after")
    def _version(self) -> "EksConfig":
        problem = eks_versions.refusal(self.version, self.support_type)
        if problem:
            allowed = ", ".join(eks_versions.supported(self.support_type)) or "none"
            raise _fail("eks_version", "{problem}; allowed at support_type {support_type}: {allowed} (the table: "
                                       "environments/eks_versions.py, from {source})", field="version",
                        value=self.version, problem=problem, support_type=self.support_type, allowed=allowed,
                        source=eks_versions.CALENDAR_SOURCE)
        return self

    @property
    def release(self) -> eks_versions.EksVersion:
        """The version's row: support dates, add-on builds, the autoscaler."""
        return eks_versions.VERSIONS[self.version]

    @property
    def addons(self) -> dict[str, str]:
        """The EKS add-on builds pinned for this version, by add-on name."""
        return dict(sorted(self.release.addons.items()))

    @field_validator("deployer_role_arn")
    @classmethod
    def _deployer(cls, value: str) -> str:
        if not _ROLE_ARN.match(value):
            raise _fail("role_arn", "is not an IAM role ARN; allowed: arn:aws:iam::<account>:role/<name>")
        return value

    @field_validator("admin_role_arns")
    @classmethod
    def _admins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, arn in enumerate(value):
            if not _ROLE_ARN.match(arn):
                raise _fail("role_arn", "is not an IAM role ARN; allowed: arn:aws:iam::<account>:role/<name>",
                            field=str(index), value=arn)
        return value

    @model_validator(mode="after")
    def _deployer_path(self) -> "EksConfig":
        if self.deployer_access == "public" and not self.public_endpoint_cidrs:
            raise _fail("deployer_access", "is 'public' but public_endpoint_cidrs is empty, so nothing could reach "
                                           "the API; allowed: the runners' egress CIDRs in public_endpoint_cidrs, "
                                           "or deployer_access: in-vpc", field="deployer_access",
                        value=self.deployer_access)
        if self.deployer_role_arn in self.admin_role_arns:
            raise _fail("deployer_role", "is also in admin_role_arns (one access entry per principal); "
                                         "allowed: list it in one place", field="deployer_role_arn",
                        value=self.deployer_role_arn)
        return self

    @field_validator("public_endpoint_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, cidr in enumerate(value):
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise _fail("cidr", "is not a valid network ({reason}); allowed: e.g. '203.0.113.0/24'",
                            field=str(index), value=cidr, reason=str(exc)) from None
            if network.prefixlen == 0:
                raise _fail("cidr", "opens the API to the whole internet; allowed: specific networks",
                            field=str(index), value=cidr)
        return value

    @field_validator("on_demand_instance_types", "spot_instance_types")
    @classmethod
    def _instance_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise _fail("instance_types", "is empty; allowed: one or more EC2 instance types, e.g. m6i.large")
        for index, name in enumerate(value):
            # family[generation][attributes].size, e.g. m6i.large, c7gn.16xlarge, u-6tb1.metal
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,15}\.[a-z0-9]{1,16}", name):
                raise _fail("instance_type", "is not an EC2 instance type; allowed: e.g. m6i.large",
                            field=str(index), value=name)
        return value

    @field_validator("spot_instance_types")
    @classmethod
    def _spot(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) < 2:
            raise _fail("spot_types", "lists fewer than two instance types; allowed: two or more, so one "
                                      "type's capacity reclaim does not empty the group")
        return value


GITOPS_ENGINES = ("argocd", "flux")
_GIT_URL = re.compile(r"^https://[a-z0-9.-]+(:\d+)?/[A-Za-z0-9._/-]+?(\.git)?$")


class GitSourceConfig(Frozen):
    """One application source, declared once with both Git hosts."""

    name: str
    """Short name, used for Applications and Flux objects. Required."""

    github: str
    """HTTPS URL on GitHub. Required."""

    gitlab: str
    """HTTPS URL of the GitLab mirror. Required."""

    path: str = "."
    """Path in the repository to reconcile. Left out: the root."""

    revision: str = "main"
    """Branch or tag to follow. Left out: main."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?", value):
            raise _fail("source_name", "is not a valid name; allowed: 1-40 of a-z, 0-9 and '-'")
        return value

    @field_validator("github", "gitlab")
    @classmethod
    def _url(cls, value: str, info) -> str:
        host = "github.com" if info.field_name == "github" else "gitlab"
        if not _GIT_URL.match(value) or host not in value:
            raise _fail("git_url", "is not an HTTPS {host} repository URL; allowed: e.g. https://{example}/org/repo.git",
                        host=info.field_name, example="github.com" if info.field_name == "github" else "gitlab.com")
        return value


class GitopsConfig(Frozen):
    """GitOps bootstrap of every cluster: ArgoCD (primary, standby) and Flux (backup)."""

    active: Literal["argocd", "flux"] = "argocd"
    """Which engine reconciles. Every cluster runs the platform's workloads at all times (warm
    standby), each reconciled by exactly one engine of its OWN cluster, so losing a region or
    one engine installation never leaves another cluster unreconciled. ``argocd`` (default):
    each cluster's ArgoCD syncs automatically, Flux is installed with its Kustomizations
    suspended. ``flux``: each cluster's Flux reconciles, ArgoCD's automated sync is off.
    Flipping this value (or one region's, in ``active_by_region``) and applying the gitops
    stacks is the failover for an engine or its installation."""

    active_by_region: dict[str, Literal["argocd", "flux"]] = Field(default_factory=dict)
    """Per-region override of ``active``, e.g. ``{us-west-2: flux}`` when only that region's
    ArgoCD installation is broken. Left out: every region uses ``active``."""

    git_host: Literal["github", "gitlab"] = "github"
    """Which Git host the engines pull from; both are registered everywhere."""

    argocd_chart_version: str = "7.7.11"
    """argo-cd Helm chart version (pinned). Left out: 7.7.11."""

    argocd_apps_chart_version: str = "2.0.2"
    """argocd-apps Helm chart version (pinned). Left out: 2.0.2."""

    flux_chart_version: str = "2.14.1"
    """fluxcd-community flux2 chart version (pinned). Left out: 2.14.1."""

    flux_sync_chart_version: str = "1.10.0"
    """fluxcd-community flux2-sync chart version (pinned). Left out: 1.10.0."""

    sources: tuple[GitSourceConfig, ...] = ()
    """Application sources, each with a GitHub URL and a GitLab mirror URL."""

    github_token_secret: str = "gitops/github-token"
    """Name (in security.secrets) of the GitHub read token. Left out: gitops/github-token."""

    gitlab_token_secret: str = "gitops/gitlab-token"
    """Name (in security.secrets) of the GitLab read token. Left out: gitops/gitlab-token."""

    @field_validator("argocd_chart_version", "argocd_apps_chart_version", "flux_chart_version",
                     "flux_sync_chart_version")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not re.fullmatch(r"\d+\.\d+\.\d+", value):
            raise _fail("chart_version", "is not a pinned chart version; allowed: an exact version like 7.7.11")
        return value

    @model_validator(mode="after")
    def _unique(self) -> "GitopsConfig":
        names = [s.name for s in self.sources]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise _fail("duplicate_source", "is already the name of another source; allowed: unique names",
                            field=f"sources.{index}.name", value=name)
        return self


KEY_PURPOSES = ("eks", "secrets", "logs", "storage")
REQUIRED_KEY_PURPOSES = {"logs": "VPC flow logs are encrypted with it", "eks": "EKS secrets envelope encryption uses it",
                         "storage": "the EKS nodes' volumes are encrypted with it"}
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,256}$")
_LAMBDA_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$")


class SecretConfig(Frozen):
    """One Secrets Manager secret. Its value never appears in the configuration or the output."""

    name: str
    """Secret name below the environment, e.g. ``gitops/github-token`` (stored as
    ``<env>/gitops/github-token``). Required; letters, digits and ``/_+=.@-``."""

    description: str
    """What the secret is for and who sets it. Required."""

    key: str = "secrets"
    """Purpose of the KMS key that encrypts it. Left out: ``secrets``."""

    rotation_days: Optional[int] = None
    """Days between automatic rotations of a ``generated`` secret, 1 to 1000 (AWS's range).
    Left out: 30. Not allowed on an ``external`` secret (see ``value``)."""

    rotation_function_arn: Optional[str] = None
    """Lambda that rotates a ``generated`` secret, in the primary region. Left out:
    ``security.rotation_function_arn``, else the rotation function spofless deploys in the
    security stack (a new random value each rotation)."""

    value: Literal["external", "generated"] = "external"
    """``external`` (default): set out of band and rotated where it is issued, e.g. a Git
    host token, which no Lambda can mint; no rotation is configured (Secrets Manager would
    invoke the function at once, and it cannot rotate such a value). A new value put into the
    secret reaches the clusters through the External Secrets Operator's refresh.
    ``generated``: a random value born inside AWS: the rotation function creates the first
    value right after creation (rotate immediately) and a new one every ``rotation_days``."""

    @model_validator(mode="after")
    def _rotation_fits_value(self) -> "SecretConfig":
        if self.value == "external":
            for name in ("rotation_days", "rotation_function_arn"):
                if getattr(self, name) is not None:
                    raise _fail("external_rotation", "applies only to value: generated; an external secret (e.g. a "
                                                     "Git host token) is rotated where it is issued, and a Lambda "
                                                     "cannot mint it; allowed: leave it out, or value: generated",
                                field=name, value=getattr(self, name))
        return self

    @property
    def rotation_period(self) -> Optional[int]:
        """Days between rotations; None for an external secret (not rotated by AWS)."""
        return None if self.value == "external" else (self.rotation_days or 30)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _SECRET_NAME.match(value) or value.startswith("/"):
            raise _fail("secret_name", "is not a valid secret name; allowed: 1-256 of letters, digits "
                                       "and / _ + = . @ -, not starting with '/'")
        return value

    @field_validator("rotation_days")
    @classmethod
    def _rotation(cls, value: Optional[int]) -> Optional[int]:
        if value is not None and not 1 <= value <= 1000:
            raise _fail("rotation_days", "is out of AWS's range for automatic rotation; allowed: 1 to 1000")
        return value

    @field_validator("rotation_function_arn")
    @classmethod
    def _function(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _LAMBDA_ARN.match(value):
            raise _fail("lambda_arn", "is not a Lambda function ARN; allowed: "
                                      "arn:aws:lambda:<region>:<account>:function:<name>")
        return value


class SecurityConfig(Frozen):
    """KMS keys and Secrets Manager secrets of the environment (stack ``<env>-security``)."""

    keys: tuple[str, ...] = KEY_PURPOSES
    """Key purposes; one multi-region key each, replicated to the standby region.
    Left out: eks, secrets, logs, storage. logs, eks and storage are required."""

    key_deletion_window_days: int = 30
    """Days a deleted key waits before it is gone, 7 to 30. Left out: 30 (the longest)."""

    autoscaling_service_linked_role: Literal["create", "existing"] = "create"
    """The ``AWSServiceRoleForAutoScaling`` role, which the ``storage`` key policy names so node
    groups can launch instances with encrypted volumes (KMS rejects a policy naming a role that
    does not exist). ``create`` (default): the security stack creates it, for an account that has
    never used Auto Scaling. ``existing``: the account already has it (``aws iam get-role
    --role-name AWSServiceRoleForAutoScaling`` answers); it is looked up, and a plan fails
    clearly when it is missing. Only one of the two works in a given account."""

    rotation_function_arn: Optional[str] = None
    """Default rotation Lambda for generated secrets that name none, in the primary region.
    Left out: the rotation function spofless deploys."""

    secrets: tuple[SecretConfig, ...] = ()
    """Secrets to create. Left out: none."""

    @field_validator("rotation_function_arn")
    @classmethod
    def _function(cls, value: Optional[str]) -> Optional[str]:
        return SecretConfig._function(value)

    @field_validator("key_deletion_window_days")
    @classmethod
    def _window(cls, value: int) -> int:
        if not 7 <= value <= 30:
            raise _fail("deletion_window", "is out of range; allowed: 7 to 30 days")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "SecurityConfig":
        for index, purpose in enumerate(self.keys):
            if purpose not in KEY_PURPOSES:
                raise _fail("key_purpose", "is not a key purpose spofless knows; allowed: {allowed}",
                            field=f"keys.{index}", value=purpose, allowed=", ".join(KEY_PURPOSES))
            if purpose in self.keys[:index]:
                raise _fail("key_purpose", "is listed twice; allowed: each purpose once",
                            field=f"keys.{index}", value=purpose)
        for purpose, why in REQUIRED_KEY_PURPOSES.items():
            if purpose not in self.keys:
                raise _fail("key_purpose", "must include '{purpose}' ({why}); allowed: a list containing {required}",
                            field="keys", value=list(self.keys), purpose=purpose, why=why,
                            required=", ".join(REQUIRED_KEY_PURPOSES))
        seen: dict[str, int] = {}
        for index, secret in enumerate(self.secrets):
            if secret.name in seen:
                raise _fail("duplicate_secret", "is already the name of secrets.{first}; allowed: unique names",
                            field=f"secrets.{index}.name", value=secret.name, first=seen[secret.name])
            seen[secret.name] = index
            if secret.key not in self.keys:
                raise _fail("unknown_key", "is not one of the keys declared in security.keys; allowed: {allowed}",
                            field=f"secrets.{index}.key", value=secret.key, allowed=", ".join(self.keys))
        return self

    def rotation_function(self, secret: SecretConfig) -> Optional[str]:
        """The configured rotation Lambda ARN of ``secret``; None means spofless's own function."""
        return secret.rotation_function_arn or self.rotation_function_arn


class EnvironmentConfig(Frozen):
    """One environment, as read from ``environments/<name>.yaml``."""

    name: str
    """Environment name; must equal the file name without ``.yaml``."""

    regions: RegionsConfig
    """Primary and optional standby region. Required."""

    domain: Domain
    """DNS domain the environment serves, e.g. ``platform.example.com``. Required."""

    account_id: str
    """The AWS account (12 digits) the environment deploys into. Required. Every AWS provider
    is limited to it (``allowed_account_ids``): credentials for any other account make
    Terraform stop before it plans, so a wrong profile never touches another environment."""

    network: NetworkConfig = Field(default_factory=NetworkConfig)
    """Network tier knobs. Left out: every default (HA)."""

    tags: dict[str, str] = Field(default_factory=dict)
    """Tags on every AWS resource (provider default_tags); ``Environment`` and
    ``ManagedBy`` are added. Left out: only those two."""

    backend: BackendConfig = Field(default_factory=BackendConfig)
    """Terraform state backend. Left out: local."""

    security: SecurityConfig = Field(default_factory=SecurityConfig)
    """KMS keys and secrets. Left out: the four default keys and no secrets."""

    dns: DnsConfig = Field(default_factory=DnsConfig)
    """DNS zone settings. Left out: every default."""

    load_balancing: LoadBalancingConfig = Field(default_factory=LoadBalancingConfig)
    """ALBs, NLB, WAF and access logs in every region. Left out: every default."""

    eks: EksConfig
    """The cluster of every region. Required: at least ``deployer_role_arn``."""

    gitops: GitopsConfig = Field(default_factory=GitopsConfig)
    """GitOps bootstrap. Left out: ArgoCD primary active, no sources."""

    @model_validator(mode="after")
    def _records_consistent(self) -> "EnvironmentConfig":
        seen: dict[str, list[tuple[int, str]]] = {}
        for index, record in enumerate(self.dns.records):
            field = f"dns.records.{index}"
            fqdn = record_fqdn(record.name, self.domain)
            if fqdn is None:
                raise _fail("record_zone", "is outside the zone {domain}; allowed: '@', a name relative to the "
                                           "domain, or an FQDN ending in '.{domain}.'",
                            field=f"{field}.name", value=record.name, domain=self.domain)
            if record.type == "CNAME" and fqdn == self.domain:
                raise _fail("cname_apex", "cannot be a CNAME: the apex also holds SOA and NS records; allowed: "
                                          "A/AAAA values, or target: platform", field=f"{field}.name", value=record.name)
            for other_index, other_type in seen.get(fqdn, []):
                if other_type == record.type or "CNAME" in (other_type, record.type):
                    raise _fail("record_conflict", "conflicts with dns.records.{other} ({other_type} for the same "
                                                   "name); allowed: one record per name and type, and a CNAME alone",
                                field=f"{field}.name", value=record.name, other=other_index, other_type=other_type)
            seen.setdefault(fqdn, []).append((index, record.type))
        return self

    @model_validator(mode="after")
    def _dns_zones(self) -> "EnvironmentConfig":
        parent = self.dns.parent_domain
        if parent is not None and not self.domain.endswith(f".{parent}"):
            raise _fail("parent_domain", "is not a parent of the domain {domain}; allowed: a suffix of it, e.g. "
                                         "'{example}'", field="dns.parent_domain", value=parent, domain=self.domain,
                        example=self.domain.split(".", 1)[1])
        cloudflare = self.dns.cloudflare
        if cloudflare and cloudflare.zone_name and not (cloudflare.zone_name == self.domain
                                                        or self.domain.endswith(f".{cloudflare.zone_name}")):
            raise _fail("zone_name", "is neither the domain {domain} nor a parent of it; allowed: the apex of "
                                     "the Cloudflare zone that holds the records", field="dns.cloudflare.zone_name",
                        value=cloudflare.zone_name, domain=self.domain)
        return self

    @model_validator(mode="after")
    def _state_per_region(self) -> "EnvironmentConfig":
        backend = self.backend
        if backend.type != "s3" or self.regions.standby is None:
            if backend.standby_bucket:
                raise _fail("backend", "applies only to an s3 backend of an environment with a standby region; "
                                       "allowed: leave it out", field="backend.standby_bucket",
                            value=backend.standby_bucket)
            return self
        if not backend.standby_bucket:
            raise _fail("backend", "is required: the standby region's stacks keep their state in the standby "
                                   "region, so a primary-region outage never blocks operating the standby; "
                                   "allowed: an S3 bucket in {region} that receives a replica of backend.bucket",
                        field="backend.standby_bucket", value=None, region=self.regions.standby.name)
        if backend.standby_bucket == backend.bucket:
            raise _fail("backend", "is backend.bucket itself; allowed: a second bucket, in {region}",
                        field="backend.standby_bucket", value=backend.standby_bucket,
                        region=self.regions.standby.name)
        if backend.lock == "dynamodb":
            raise _fail("backend", "is 'dynamodb', but a lock table lives in one region and the standby's "
                                   "stacks must lock without the primary; allowed: lockfile (S3-native)",
                        field="backend.lock", value=backend.lock)
        return self

    @model_validator(mode="after")
    def _gitops_consistent(self) -> "EnvironmentConfig":
        regions = [r.name for r in self.regions.all]
        for region in self.gitops.active_by_region:
            if region not in regions:
                raise _fail("gitops_region", "is not a region of this environment; allowed: {allowed}",
                            field=f"gitops.active_by_region.{region}", value=region, allowed=", ".join(regions))
        secrets = {s.name for s in self.security.secrets}
        if self.gitops.sources:
            for field in ("github_token_secret", "gitlab_token_secret"):
                name = getattr(self.gitops, field)
                if name not in secrets:
                    raise _fail("gitops_secret", "is not a secret in security.secrets; allowed: {allowed}",
                                field=f"gitops.{field}", value=name, allowed=", ".join(sorted(secrets)) or "none")
        return self

    @model_validator(mode="after")
    def _rotation_in_primary_region(self) -> "EnvironmentConfig":
        arns = [("security.rotation_function_arn", self.security.rotation_function_arn)] + [
            (f"security.secrets.{i}.rotation_function_arn", s.rotation_function_arn)
            for i, s in enumerate(self.security.secrets)]
        for field, arn in arns:
            if arn and _LAMBDA_ARN.match(arn).group("region") != self.regions.primary.name:
                raise _fail("rotation_region", "is not in the primary region; allowed: a Lambda in {region} "
                                               "(rotation runs where the primary secret lives)",
                            field=field, value=arn, region=self.regions.primary.name)
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise _fail("name", "is not a valid environment name; allowed: 1-20 of a-z, 0-9 and '-', "
                                "starting with a letter")
        return value

    @field_validator("account_id", mode="before")
    @classmethod
    def _account(cls, value):
        if not isinstance(value, str) or not re.fullmatch(r"\d{12}", value):
            raise _fail("account_id", "is not an AWS account id; allowed: 12 digits, quoted (e.g. '111122223333')")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag in value.items():
            if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
                raise _fail("tag", "is not a valid tag key; allowed: 1-128 characters, not starting with 'aws:'",
                            field=key, value=key)
            if len(tag) > 256:
                raise _fail("tag", "is too long; allowed: at most 256 characters", field=key, value=tag)
        return value

    @property
    def all_tags(self) -> dict[str, str]:
        """The environment's tags plus the ones spofless always sets, sorted by key."""
        merged = {"Environment": self.name, "ManagedBy": "spofless", **self.tags}
        return dict(sorted(merged.items()))
