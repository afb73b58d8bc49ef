"""Observability: where each region's alarms go, and the thresholds they fire at."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from environments.schema.common import Frozen, schema_error

EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


class ObservabilityConfig(Frozen):
    """Alarms in every region, each region alerting through its own topic: no home region."""

    alert_emails: tuple[str, ...] = ()
    """Addresses every region's alert topic sends to (each confirms its subscription once). The
    topics are per region, so an alert never depends on the other region. Left out: none (the
    alarms still change state and feed the failover; add subscriptions to the topics by hand)."""

    lb_5xx_percent: float = Field(default=5.0, gt=0, le=100)
    """Share of a load balancer's requests answered 5xx (by the load balancer or its targets) over
    a minute that raises its alarm. Left out: 5."""

    p99_latency_seconds: float = Field(default=2.0, gt=0, le=60)
    """p99 target response time of an ALB over a minute that raises its alarm. Left out: 2."""

    evaluation_minutes: int = Field(default=2, ge=1, le=10)
    """Consecutive one-minute periods over a threshold before an alarm fires; with unhealthy hosts
    this is how long an AZ may stay impaired before its alarm says so. Left out: 2."""

    database_lag_seconds: int = Field(default=60, ge=1, le=3600)
    """How far the standby region's Aurora cluster may fall behind the primary
    (``AuroraGlobalDBReplicationLag``) before the standby region alerts: the data a region failover
    would lose. Left out: 60 (the global database is typically under a second behind)."""

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not EMAIL.match(address):
                raise schema_error("observability", "is not an email address; allowed: name@domain", value=address)
        if len(set(value)) != len(value):
            raise schema_error("observability", "repeats an address; allowed: each once", value=list(value))
        return value
