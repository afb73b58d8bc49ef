"""Which GitOps engine reconciles where, for each value of ``gitops.active``.

One pure function decides it, so the Helm values of every engine and the test
that proves exclusivity read the same truth: in every cluster, at most one
engine reconciles at any time.
"""

from __future__ import annotations

from typing import Literal

Role = Literal["primary", "standby"]
Engine = Literal["argocd", "flux"]


def reconciling(active: str, engine: Engine, role: Role) -> bool:
    """True when ``engine`` in the ``role`` region's cluster reconciles automatically.

    - ``argocd-primary``: ArgoCD in the primary region syncs; the standby's ArgoCD
      is installed and fetches the same repos with automated sync off; Flux is
      suspended everywhere.
    - ``argocd-standby``: the standby region's ArgoCD syncs; the primary's stops.
    - ``flux``: ArgoCD stops everywhere and Flux resumes in every cluster.
    """
    if engine == "flux":
        return active == "flux"
    return active == f"argocd-{role}"
