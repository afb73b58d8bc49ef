"""GitOps: which engines reconcile the clusters, from which Git hosts."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from environments.schema.common import Frozen, schema_error
from environments.schema.openpgp import NotAPublicKey, key_ids


GITOPS_ENGINES = ("argocd", "flux")
GIT_URL = re.compile(r"^https://[a-z0-9.-]+(:\d+)?/[A-Za-z0-9._/-]+?(\.git)?$")


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
            raise schema_error("source_name", "is not a valid name; allowed: 1-40 of a-z, 0-9 and '-'")
        return value

    @field_validator("github", "gitlab")
    @classmethod
    def _url(cls, value: str, info) -> str:
        host = "github.com" if info.field_name == "github" else "gitlab"
        if not GIT_URL.match(value) or host not in value:
            raise schema_error("git_url", "is not an HTTPS {host} repository URL; allowed: e.g. https://{example}/org/repo.git",
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

    handover: bool = True
    """Hand each cluster to the other engine by itself: when the reconciling engine's controllers have no
    ready replica for ``handover_seconds``, the other engine takes over, and control returns once the
    preferred one (``active``) has been healthy for ``handback_seconds``. A Lease and admission policies in the
    cluster keep two engines from ever reconciling at once. Left out: on."""

    handover_seconds: int = Field(default=20, ge=10, le=600)
    """How long the reconciling engine may have no ready controller before the other takes over. Left out: 20
    (with the loop's 5 s, within the design's 30 s)."""

    handback_seconds: int = Field(default=60, ge=10, le=3600)
    """How long the preferred engine must be healthy again before control returns to it. Left out: 60."""

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

    signing_keys: tuple[str, ...] = ()
    """ASCII-armored OpenPGP public keys (``gpg --export --armor <key>``) whose signatures the engines
    require: Flux verifies the signature of the commit it applies, Argo CD syncs only commits signed
    by one of them (the primary key or a subkey). A push by someone without a key, or a compromised
    Git host, then changes nothing. Left out: commits are applied unsigned."""

    @property
    def signing_key_ids(self) -> dict[str, tuple[str, ...]]:
        """``{armored key: (primary key ID, subkey IDs...)}``, in the file's order."""
        return {key: key_ids(key) for key in self.signing_keys}

    @field_validator("signing_keys")
    @classmethod
    def _keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen: dict[str, int] = {}
        for index, key in enumerate(value):
            try:
                primary = key_ids(key)[0]
            except NotAPublicKey as error:
                raise schema_error("signing_key", f"{error}; allowed: an ASCII-armored OpenPGP public key "
                                                  "(gpg --export --armor <key ID>)", field=str(index),
                                   value=(key.strip().splitlines() or [""])[0][:60]) from None
            if primary in seen:
                raise schema_error("signing_key", "is the key of entry {first} again; allowed: each key once",
                                   field=str(index), value=primary, first=seen[primary])
            seen[primary] = index
        return value

    @field_validator("argocd_chart_version", "argocd_apps_chart_version", "flux_chart_version",
                     "flux_sync_chart_version")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not re.fullmatch(r"\d+\.\d+\.\d+", value):
            raise schema_error("chart_version", "is not a pinned chart version; allowed: an exact version like 7.7.11")
        return value

    @model_validator(mode="after")
    def _unique(self) -> "GitopsConfig":
        names = [s.name for s in self.sources]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise schema_error("duplicate_source", "is already the name of another source; allowed: unique names",
                            field=f"sources.{index}.name", value=name)
        return self
