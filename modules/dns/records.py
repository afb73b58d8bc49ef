"""One record set, two providers: the plan both DNS stacks are generated from."""

from __future__ import annotations

from dataclasses import dataclass

from environments.schema import EnvironmentConfig, record_fqdn

FAILOVER_LABEL = "failover"


@dataclass(frozen=True)
class StaticRecord:
    """A record with fixed values, served identically by both providers."""

    fqdn: str
    type: str
    ttl: int
    values: tuple[str, ...]


@dataclass(frozen=True)
class PlatformRecord:
    """A name that resolves to the load-balanced service, with health-checked failover."""

    fqdn: str
    ttl: int


def plan_records(env: EnvironmentConfig) -> tuple[list[StaticRecord], list[PlatformRecord]]:
    """The environment's records as both providers must serve them, in a stable order."""
    static, platform = [], []
    for record in env.dns.records:
        fqdn = record_fqdn(record.name, env.domain)
        if record.target == "platform":
            platform.append(PlatformRecord(fqdn, record.ttl))
        else:
            static.append(StaticRecord(fqdn, record.type, record.ttl, tuple(sorted(record.values))))
    return sorted(static, key=lambda r: (r.fqdn, r.type)), sorted(platform, key=lambda r: r.fqdn)


def region_name(fqdn: str, region: str) -> str:
    """Intermediate Route53 name of one region's branch of ``fqdn``'s failover tree."""
    return f"{region}.{FAILOVER_LABEL}.{fqdn}"


def backup_name(fqdn: str, region: str) -> str:
    """Intermediate name inside a region: the secondary ALB, then the NLB."""
    return f"backup.{region_name(fqdn, region)}"
