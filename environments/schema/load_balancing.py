"""The load balancers: ports, health checks, limits, WAF, access logs, certificates."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from environments.schema.common import Frozen, RetentionDays, DNS_LABEL, schema_error


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
            raise schema_error("health_path", "is not a URL path; allowed: a path starting with '/', at most 1024 characters")
        return value

    @model_validator(mode="after")
    def _timing(self) -> "HealthCheckConfig":
        if self.timeout_seconds >= self.interval_seconds:
            raise schema_error("health_timing", "must be shorter than interval_seconds ({interval}); allowed: 2 to {max}",
                        field="timeout_seconds", value=self.timeout_seconds,
                        interval=self.interval_seconds, max=self.interval_seconds - 1)
        return self


class NlbInspectionConfig(Frozen):
    """The web application firewall on the NLB's path (ModSecurity with the OWASP Core Rule Set, in
    the cluster), because AWS WAF cannot be associated with an NLB."""

    paranoia_level: int = Field(1, ge=1, le=4)
    """CRS blocking paranoia level, 1-4: higher levels add rules and false positives. Left out: 1,
    the level CRS recommends for every site and the closest to AWS WAF's managed rule groups."""

    anomaly_threshold: int = Field(5, ge=1, le=100)
    """Inbound anomaly score at which a request is refused (403), 1-100: a critical rule match scores
    5, an error 4, a warning 3, a notice 2. Left out: 5 (one critical match blocks), CRS's default."""

    inspected_port: int = Field(8445, ge=1024, le=65535)
    """Port of the gateway's internal entrypoint the firewall forwards inspected requests to; only
    pods of the gateway's namespace reach it. Left out: 8445; must differ from ``app_port`` and
    ``nlb_target_port``."""


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

    nlb_inspection: NlbInspectionConfig = Field(default_factory=NlbInspectionConfig)
    """The firewall on the NLB's path: OWASP CRS paranoia level and anomaly threshold. Left out:
    paranoia 1, threshold 5 (CRS's defaults)."""

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
            raise schema_error("nlb_target_port", "is app_port too; allowed: another port (the NLB's path speaks proxy "
                                           "protocol, the ALBs' does not)", field="nlb_target_port",
                        value=self.nlb_target_port)
        inspected = self.nlb_inspection.inspected_port
        if inspected in (self.app_port, self.nlb_target_port):
            raise schema_error("inspected_port", "is app_port or nlb_target_port too; allowed: another port (the "
                                                 "firewall's internal entrypoint is reached from the namespace only)",
                               field="nlb_inspection.inspected_port", value=inspected)
        return self

    @field_validator("certificate_names")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, name in enumerate(value):
            if not all(DNS_LABEL.match(label) for label in name.split(".")):
                raise schema_error("certificate_name", "is not a host name below the domain; allowed: labels of "
                                                "a-z, 0-9 and '-', no wildcards", field=str(index), value=name)
        return value
