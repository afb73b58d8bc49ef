"""How a multi-region environment moves its stateful tier to the other region: the Region switch plan."""

from __future__ import annotations

from pydantic import Field

from environments.schema.common import Frozen


class FailoverConfig(Frozen):
    """Zonal autoshift in every region, and the generated ARC Region switch plan (multi-region environments).

    Traffic moves by itself (health-checked DNS in both providers); the plan moves what DNS cannot:
    the Aurora global database, the ElastiCache global datastore, and both DNS providers' choice of
    region when the region being left still answers (a switchover, or a failure DNS cannot see)."""

    zonal_autoshift: bool = True
    """Every environment, one region or two: AWS shifts the load balancers' and the cluster's traffic away from
    an AZ it sees impaired, and practises it weekly (about 30 minutes, judged by the region's canary alarm).
    Needs ``observability.canary_minutes`` above 0. Left out: on."""

    fault_injection: bool = True
    """AWS FIS experiment templates in every region: an AZ power interruption for each AZ and, with a standby,
    the loss of connectivity to the other region; each stops when the region's canary alarm does. Templates
    cost nothing until someone starts one. Needs ``observability.canary_minutes`` above 0. Left out: on."""

    automatic: bool = False
    """Start the plan when the standby region's canary of the primary's names is in alarm (a Region
    switch trigger), with no one approving. Left out: the plan waits for an approval first, and the
    drill adds ``human_reaction_seconds`` (policies/drill_targets.yaml) to the recovery time."""

    approval_timeout_minutes: int = Field(default=60, ge=1, le=1440)
    """How long the approval step waits before the run fails (without ``automatic``)."""

    recovery_time_objective_minutes: int = Field(default=5, ge=1, le=10080)
    """The plan's recovery time objective, which Region switch reports each run against."""

    min_minutes_between_runs: int = Field(default=60, ge=1, le=1440)
    """With ``automatic``: the least time between two runs the trigger starts (no flapping)."""

    cloudflare_token_secret: str = "dns/cloudflare-failover-token"
    """The secret in ``security.secrets`` holding a Cloudflare API token that may edit this account's
    load balancer pools (Account > Load Balancing: Monitors and Pools > Edit). The plan's DNS step
    reads it in the region being activated to turn off the other region's pools. Needed only with
    ``dns.cloudflare``."""
