"""Observability: where each region's alarms go, and the thresholds they fire at."""

from __future__ import annotations

import re
from typing import Optional

from pydantic import Field, field_validator

from environments.schema.common import Frozen, RetentionDays, schema_error

EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
PATH = re.compile(r"^/[A-Za-z0-9\-._~/?=&%]*$")
RUNTIME = re.compile(r"^syn-python-selenium-\d+\.\d+$")


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
    this is how long an AZ may stay impaired before its alarm says so. The canary's alarm counts runs
    the same way (failed runs in a row). Left out: 2."""

    database_lag_seconds: int = Field(default=60, ge=1, le=3600)
    """How far the standby region's Aurora cluster may fall behind the primary
    (``AuroraGlobalDBReplicationLag``) before the standby region alerts: the data a region failover
    would lose. Left out: 60 (the global database is typically under a second behind)."""

    cache_lag_seconds: int = Field(default=60, ge=1, le=3600)
    """How far the standby region's cache may fall behind the primary's (``GlobalDatastoreReplicationLag``)
    before the standby region alerts: the sessions and cached data a region failover would lose or reload.
    Left out: 60."""

    waf_blocked_per_minute: int = Field(default=1000, ge=1, le=10_000_000)
    """Requests a region's web ACL may block in a minute (every rule, the rate limit included) before
    the region alerts: an attack, or a rule that started refusing real traffic. Left out: 1000."""

    replication_latency_seconds: int = Field(default=900, ge=60, le=86_400)
    """How long an object may take to reach the other region's bucket (``ReplicationLatency``, with
    Replication Time Control) before the receiving region alerts; failed replications alert at once.
    Left out: 900 (the 15 minutes Replication Time Control is built for)."""

    canary_minutes: int = Field(default=1, ge=0, le=59)
    """How often each region's canary (CloudWatch Synthetics) requests every load-balanced name through
    that region's own load balancers, with the name's certificate checked. Its alarm is what Route53
    reads to take a region out that answers its health checks but fails the canary. 0: no canary
    (Route53 then decides on the load balancers' health checks alone). Left out: every minute."""

    canary_path: Optional[str] = Field(default=None, min_length=1, max_length=255)
    """Path the canaries request on every load-balanced name; an answer from 200 to 399 passes. Set it
    to a path your workloads answer, so a region whose workloads fail is taken out. Left out: the
    DNS health-check path (``dns.health_check.path``), which the ingress gateway answers itself."""

    canary_runtime: str = "syn-python-selenium-14.0"
    """CloudWatch Synthetics runtime of the canaries (a Python runtime: the canary's script is Python).
    AWS stops creating canaries on deprecated runtimes, so raise it with the runtime policy:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Runtime_Support_Policy.html
    Left out: syn-python-selenium-14.0."""

    cluster_metrics: bool = True
    """Amazon Managed Service for Prometheus in each region: a workspace, a managed collector scraping
    the region's cluster (kube-state-metrics, installed by the gitops stack), alert rules for the
    cluster (nodes not ready, node groups below their minimum, crash loops, the reconciling engine's
    sync failures) and the workspace's alert manager publishing to the region's own topic. Off: the
    clusters are watched through their load balancers and canaries only. Left out: on."""

    container_logs: bool = True
    """Container logs and traces from every cluster, through the CloudWatch Observability EKS add-on: Fluent
    Bit ships the containers', the data plane's and the hosts' logs, the CloudWatch agent collects Container
    Insights and receives traces (X-Ray on port 2000, OTLP on 4317 and 4318 of every node) for X-Ray in the
    cluster's region. The log groups are created first, encrypted with the region's logs key and kept
    ``log_retention_days``. Off: no logs leave the nodes. Left out: on."""

    metrics_retention_days: int = Field(default=150, ge=1, le=1095)
    """How long each region's workspace keeps its samples (AMP allows 1 to 1095 days). Left out: 150,
    AMP's own default."""

    log_retention_days: RetentionDays = 365
    """How long each region keeps the logs of its observability pieces (the clusters' container, data-plane,
    host and performance logs; the Prometheus workspace's rule and alert manager logs) in CloudWatch Logs,
    encrypted with the region's logs key. One of CloudWatch Logs' retention periods. Left out: 365."""

    node_not_ready_minutes: int = Field(default=2, ge=1, le=60)
    """How long a node may report not Ready, or a node group fewer Ready nodes than its minimum,
    before the region alerts. Left out: 2."""

    crash_loop_minutes: int = Field(default=5, ge=1, le=60)
    """How long a container may wait in CrashLoopBackOff before the region alerts. Left out: 5."""

    sync_failure_minutes: int = Field(default=10, ge=1, le=120)
    """How long the engine that reconciles a cluster may leave a source or an application not Ready
    (Flux) or out of sync or degraded (Argo CD) before the region alerts. Left out: 10."""

    @field_validator("canary_path")
    @classmethod
    def _canary_path(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not PATH.match(value):
            raise schema_error("observability", "is not an absolute URL path; allowed: /path "
                               "(letters, digits, - . _ ~ / ? = &)", value=value)
        return value

    @field_validator("canary_runtime")
    @classmethod
    def _runtime(cls, value: str) -> str:
        if not RUNTIME.match(value):
            raise schema_error("observability", "is not a Python Synthetics runtime; allowed: "
                               "syn-python-selenium-<major>.<minor>", value=value)
        return value

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not EMAIL.match(address):
                raise schema_error("observability", "is not an email address; allowed: name@domain", value=address)
        if len(set(value)) != len(value):
            raise schema_error("observability", "repeats an address; allowed: each once", value=list(value))
        return value
