"""GitOps add-ons share one small protocol: a pinned Helm chart installed into a namespace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

import yaml
from constructs import Construct

from modules.providers import helm

ARGO_HELM = "https://argoproj.github.io/argo-helm"
FLUX_HELM = "https://fluxcd-community.github.io/helm-charts"


class Addon(Protocol):
    """Anything installable into a cluster by the bootstrap."""

    name: str
    namespace: str

    def install(self, scope: Construct, *, provider, depends_on: Sequence[Any] = ()) -> Any:
        """Create the resources that install the add-on; returns the main one."""


@dataclass(frozen=True)
class HelmAddon:
    """A Helm chart at a pinned version with values rendered deterministically."""

    name: str
    namespace: str
    repository: str
    chart: str
    version: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def install(self, scope: Construct, *, provider, depends_on: Sequence[Any] = ()) -> Any:
        return helm("release").Release(
            scope, self.name,
            provider=provider,
            name=self.name,
            namespace=self.namespace,
            create_namespace=False,
            repository=self.repository,
            chart=self.chart,
            version=self.version,
            values=[yaml.safe_dump(dict(self.values), sort_keys=True)],
            atomic=True,
            cleanup_on_fail=True,
            wait=True,
            timeout=900,
            depends_on=list(depends_on) or None,
        )


def argocd(version: str, namespace: str) -> HelmAddon:
    """ArgoCD in HA mode: two of every stateless component and Redis HA (three replicas with Sentinel)."""
    return HelmAddon(
        name="argocd", namespace=namespace, repository=ARGO_HELM, chart="argo-cd", version=version,
        values={
            "redis-ha": {"enabled": True},
            "controller": {"replicas": 2},
            "server": {"replicas": 2},
            "repoServer": {"replicas": 2},
            "applicationSet": {"replicas": 2},
            "configs": {"params": {"application.namespaces": namespace}},
        },
    )


def argocd_applications(version: str, namespace: str, sources, git_host: str, automated: bool) -> HelmAddon:
    """One ArgoCD Application per source, pulling from the chosen Git host.

    With ``automated`` false the Applications still fetch and show drift, but
    nothing is applied until someone syncs by hand or the knob names this ArgoCD.
    """
    sync = {"automated": {"prune": True, "selfHeal": True}} if automated else {}
    applications = {
        source.name: {
            "namespace": namespace,
            "project": "default",
            "source": {"repoURL": getattr(source, git_host), "targetRevision": source.revision,
                       "path": source.path},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
            "syncPolicy": {**sync, "syncOptions": ["CreateNamespace=true"]},
        }
        for source in sources
    }
    return HelmAddon(name="argocd-apps", namespace=namespace, repository=ARGO_HELM, chart="argocd-apps",
                     version=version, values={"applications": applications})


def flux(version: str, namespace: str) -> HelmAddon:
    """The Flux controllers (source, kustomize, helm, notification)."""
    return HelmAddon(name="flux", namespace=namespace, repository=FLUX_HELM, chart="flux2", version=version,
                     values={"imageAutomationController": {"create": False},
                             "imageReflectionController": {"create": False}})


def flux_sync(version: str, namespace: str, source, host: str, secret_name: str, suspended: bool) -> HelmAddon:
    """A GitRepository on one host and its Kustomization, suspended unless Flux is active on that host."""
    return HelmAddon(
        name=f"flux-{source.name}-{host}", namespace=namespace, repository=FLUX_HELM, chart="flux2-sync",
        version=version,
        values={
            "gitRepository": {"spec": {"url": getattr(source, host), "ref": {"branch": source.revision},
                                       "interval": "1m", "secretRef": {"name": secret_name}}},
            "kustomization": {"spec": {"path": source.path, "prune": True, "interval": "10m",
                                       "suspend": suspended}},
        },
    )
