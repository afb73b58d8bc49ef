"""Which GitOps engine reconciles each cluster, for each value of the knob.

One pure function decides it, so the Helm values of every engine, the deploy
rules and the tests read the same truth:

- every cluster runs the platform's workloads at all times (warm standby): a region
  that receives traffic after a failover already serves it;
- in every cluster exactly one engine reconciles, and it is that cluster's own, so
  no cluster depends on another region's control plane or engine;
- ``active`` (and a region's override in ``active_by_region``) picks ArgoCD or Flux.

What the values cover: the loss of one region (the other cluster's engine keeps
reconciling it; nothing to change), of one engine installation (switch that
region, or every region, to the other engine), and of one Git host
(``git_host``: both hosts are registered everywhere).
"""

from __future__ import annotations

from typing import Literal

Role = Literal["primary", "standby"]
Engine = Literal["argocd", "flux"]


def active_engine(config, region: str) -> Engine:
    """The engine that reconciles the cluster of ``region`` (``config`` is a GitopsConfig)."""
    return config.active_by_region.get(region, config.active)


def reconciling(config, engine: Engine, region: str) -> bool:
    """True when ``engine`` in ``region``'s cluster reconciles automatically."""
    return active_engine(config, region) == engine
