"""One record set, two providers: the plan both DNS stacks are generated from."""

from __future__ import annotations

from dataclasses import dataclass

from environments.record_values import Host, RecordValue
from environments.schema import EnvironmentConfig, record_fqdn

FAILOVER_LABEL = "failover"


@dataclass(frozen=True)
class StaticRecord:
    """A record with fixed values, served identically by both providers."""

    fqdn: str
    type: str
    ttl: int
    values: tuple[RecordValue, ...]  # typed (environments/record_values.py), sorted by their text


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
            static.append(StaticRecord(fqdn, record.type, record.ttl,
                                       tuple(sorted(record.parsed, key=lambda value: value.text()))))
    return sorted(static, key=lambda r: (r.fqdn, r.type)), sorted(platform, key=lambda r: r.fqdn)


def require_supported(provider: str, supports: frozenset[str], record: StaticRecord) -> None:
    """Refuse a record type a provider construct does not render (octoDNS's SUPPORTS check).

    The schema accepts only types every provider supports (tests/unit/test_record_values.py), so
    this fires only when a provider is added or a type is added to the schema without it."""
    if record.type not in supports:
        raise ValueError(f"{provider} does not serve {record.type} records ({record.fqdn}); "
                         f"it supports {', '.join(sorted(supports))}")


def region_name(fqdn: str, region: str) -> str:
    """Intermediate Route53 name of one region's branch of ``fqdn``'s failover tree."""
    return f"{region}.{FAILOVER_LABEL}.{fqdn}"


def backup_name(fqdn: str, region: str) -> str:
    """Intermediate name inside a region: the secondary ALB, then the NLB."""
    return f"backup.{region_name(fqdn, region)}"


def load_balanced_names(env: EnvironmentConfig) -> tuple[str, ...]:
    """Every FQDN whose HTTPS requests arrive at the load balancers, sorted.

    The platform names, every in-zone CNAME that leads to one of them (a browser
    sends the CNAME's own name as SNI and Host, so the certificate must cover it),
    and the extra ``load_balancing.certificate_names``.
    """
    static, platform = plan_records(env)
    served = {record.fqdn for record in platform}
    cnames = {r.fqdn: r.values[0].host.rstrip(".") for r in static if isinstance(r.values[0], Host)}
    changed = True
    while changed:  # follow chains of CNAMEs (www -> web -> app)
        changed = False
        for name, target in cnames.items():
            if target in served and name not in served:
                served.add(name)
                changed = True
    served.update(record_fqdn(n, env.domain) for n in env.load_balancing.certificate_names)
    return tuple(sorted(served))
