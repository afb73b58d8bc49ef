"""spofless GitOps handover: exactly one engine reconciles this cluster, and the other takes over when it stops.

A Lease (``<namespace>/<lease>``) names the engine that may reconcile. The cluster enforces it: admission
policies refuse an Argo CD Application that syncs automatically, or a Flux Kustomization that is not
suspended, unless that engine holds the lease (modules/gitops/handover_objects.py). The charts install both
engines fenced; this loop unfences the holder and moves the lease:

- the holder's controllers have no ready replica for ``detect_seconds`` and the other engine's do: fence the
  holder (Argo CD: automated sync off; Flux: suspend), wait for its sync in flight to end, give the lease to
  the other engine (compare-and-swap on the lease's resourceVersion), unfence it;
- the preferred engine (the environment's ``gitops.active``) is back and healthy for ``return_seconds``: the
  same, the other way;
- every turn, the holder is unfenced and the other fenced (an apply may have reset either).

Two replicas elect a leader with a second Lease; only the leader acts. Standard library only: it talks to the
API server with the pod's service account token.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Callable, Optional

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
ENGINES = ("argocd", "flux")


class Conflict(Exception):
    """The object changed since it was read (HTTP 409)."""


class Api:
    """The few calls the loop makes, against the in-cluster API server."""

    def __init__(self, base: str = "https://kubernetes.default.svc", token: Optional[str] = None,
                 context: Optional[ssl.SSLContext] = None):
        self.base = base
        self._token = token
        self.context = context or ssl.create_default_context(cafile=f"{SERVICE_ACCOUNT}/ca.crt")

    @property
    def token(self) -> str:
        """Read again for every call: the kubelet rotates the projected token, and EKS refuses one older than
        90 days. https://docs.aws.amazon.com/eks/latest/userguide/service-accounts.html#service-account-tokens"""
        if self._token is not None:
            return self._token
        with open(f"{SERVICE_ACCOUNT}/token") as handle:
            return handle.read().strip()

    def call(self, method: str, path: str, body: Optional[dict] = None,
             content: str = "application/json") -> Optional[dict]:
        request = urllib.request.Request(self.base + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"Bearer {self.token}", "Content-Type": content})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=10) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            if error.code == 409:
                raise Conflict(path) from None
            raise RuntimeError(f"{method} {path}: HTTP {error.code}") from None

    def get(self, path: str) -> Optional[dict]:
        return self.call("GET", path)

    def create(self, path: str, body: dict) -> Optional[dict]:
        return self.call("POST", path, body)

    def replace(self, path: str, body: dict) -> Optional[dict]:
        return self.call("PUT", path, body)

    def patch(self, path: str, body: dict) -> Optional[dict]:
        return self.call("PATCH", path, body, "application/merge-patch+json")


def now_micro(clock: Callable[[], float]) -> str:
    return datetime.fromtimestamp(clock(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro(text: Optional[str]) -> float:
    """A Lease's MicroTime (``2026-12-08T01:02:03.123456Z``) as seconds since the epoch."""
    if not text:
        return 0.0
    text = text.rstrip("Z")
    layout = "%Y-%m-%dT%H:%M:%S.%f" if "." in text else "%Y-%m-%dT%H:%M:%S"
    return datetime.strptime(text[:26], layout).replace(tzinfo=timezone.utc).timestamp()


def decide(holder: str, preferred: str, healthy: dict, unhealthy_for: dict, healthy_for: dict,
           detect: float, back: float) -> Optional[str]:
    """The engine that should hold the lease now, or None to keep it. Pure: the tests play it through."""
    other = "flux" if holder == "argocd" else "argocd"
    if not healthy[holder] and unhealthy_for[holder] >= detect and healthy[other]:
        return other
    if holder != preferred and healthy[preferred] and healthy_for[preferred] >= back:
        return preferred
    return None


class Handover:
    def __init__(self, api: Api, config: dict, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, log: Callable[[str], None] = print):
        self.api, self.config, self.clock, self.sleep, self.log = api, config, clock, sleep, log
        self.namespace = config["namespace"]
        self.identity = config.get("identity") or os.environ.get("POD_NAME", "handover")
        self.changed = {engine: clock() for engine in ENGINES}  # when each engine's health last flipped
        self.health = {engine: True for engine in ENGINES}
        # an engine whose controllers were never ready (still being installed) has not failed: no handover
        self.seen = {engine: False for engine in ENGINES}

    # -- the engines -----------------------------------------------------------------------------
    def healthy(self, engine: str) -> bool:
        spec = self.config["engines"][engine]
        for kind, name in spec["workloads"]:
            found = self.api.get(f"/apis/apps/v1/namespaces/{spec['namespace']}/{kind}/{name}") or {}
            status = found.get("status") or {}
            if int(status.get("readyReplicas" if kind == "statefulsets" else "availableReplicas", 0) or 0) < 1:
                return False
        return True

    def _objects(self, engine: str) -> list[tuple[str, dict]]:
        spec = self.config["engines"][engine]
        base = f"/apis/{spec['api']}/namespaces/{spec['namespace']}/{spec['resource']}"
        return [(f"{base}/{name}", self.api.get(f"{base}/{name}") or {}) for name in spec["objects"]]

    def active(self, engine: str, found: dict) -> bool:
        spec = found.get("spec") or {}
        if engine == "argocd":
            return bool((spec.get("syncPolicy") or {}).get("automated"))
        return not spec.get("suspend", False)

    def set_active(self, engine: str, on: bool) -> int:
        """Fence (``on`` False) or unfence the engine's objects; the number changed."""
        changed = 0
        for path, found in self._objects(engine):
            if not found or self.active(engine, found) == on:
                continue
            if engine == "argocd":
                body = {"spec": {"syncPolicy": {"automated": {"prune": True, "selfHeal": True} if on else None}}}
            else:
                body = {"spec": {"suspend": not on}}
            self.api.patch(path, body)
            changed += 1
        return changed

    def in_flight(self, engine: str) -> bool:
        """A sync the engine started is still applying (Argo CD's operation, Flux's reconciliation)."""
        for _, found in self._objects(engine):
            status = found.get("status") or {}
            if engine == "argocd" and (status.get("operationState") or {}).get("phase") == "Running":
                return True
            if engine == "flux" and any(c.get("type") == "Reconciling" and c.get("status") == "True"
                                        for c in status.get("conditions") or []):
                return True
        return False

    # -- the leases ------------------------------------------------------------------------------
    def _lease_path(self, name: str) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases/{name}"

    def lead(self) -> bool:
        """Hold (or take over an expired) leader lease; True while this replica leads."""
        path, duration = self._lease_path(self.config["leader_lease"]), int(self.config.get("leader_seconds", 15))
        lease = self.api.get(path)
        stamp = now_micro(self.clock)
        if lease is None:
            try:
                self.api.create(path.rsplit("/", 1)[0], {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.config["leader_lease"], "namespace": self.namespace},
                    "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": duration,
                             "acquireTime": stamp, "renewTime": stamp}})
                return True
            except Conflict:
                return False
        spec = lease.get("spec") or {}
        mine = spec.get("holderIdentity") == self.identity
        expired = parse_micro(spec.get("renewTime")) + float(spec.get("leaseDurationSeconds", duration)) < self.clock()
        if not (mine or expired):
            return False
        spec.update(holderIdentity=self.identity, renewTime=stamp, leaseDurationSeconds=duration,
                    **({} if mine else {"acquireTime": stamp}))
        try:
            self.api.replace(path, {**lease, "spec": spec})
            return True
        except Conflict:
            return False

    def holder(self) -> tuple[str, dict]:
        """The engine lease and its holder; created for the preferred engine when absent."""
        path = self._lease_path(self.config["lease"])
        lease = self.api.get(path)
        if lease is None:
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": self.config["lease"], "namespace": self.namespace},
                     "spec": {"holderIdentity": self.config["preferred"], "acquireTime": now_micro(self.clock)}}
            lease = self.api.create(path.rsplit("/", 1)[0], lease) or lease
        return (lease.get("spec") or {}).get("holderIdentity") or self.config["preferred"], lease

    def transfer(self, lease: dict, source: str, target: str, reason: str) -> bool:
        """Fence ``source``, let its sync in flight end, move the lease, unfence ``target``."""
        self.set_active(source, False)
        waited = 0.0
        # a live engine may be mid-sync: let it finish (a dead one applies nothing, whatever its status says)
        while self.health.get(source) and self.in_flight(source) and waited < float(self.config.get("drain_seconds", 30)):
            self.sleep(2)
            waited += 2
        spec = dict(lease.get("spec") or {}, holderIdentity=target, acquireTime=now_micro(self.clock))
        metadata = dict(lease.get("metadata") or {})
        metadata["annotations"] = dict(metadata.get("annotations") or {}, **{"spofless.io/handover": reason})
        try:
            self.api.replace(self._lease_path(self.config["lease"]), {**lease, "metadata": metadata, "spec": spec})
        except Conflict:
            return False  # someone else moved it: read it again next turn
        self.set_active(target, True)
        self.log(f"handover: {source} -> {target}: {reason}")
        return True

    # -- one turn --------------------------------------------------------------------------------
    def turn(self) -> Optional[str]:
        if not self.lead():
            return None
        now = self.clock()
        for engine in ENGINES:
            ok = self.healthy(engine)
            self.seen[engine] = self.seen[engine] or ok
            ok = ok or not self.seen[engine]
            if ok != self.health[engine]:
                self.health[engine], self.changed[engine] = ok, now
        holder, lease = self.holder()
        since = {e: now - self.changed[e] for e in ENGINES}
        target = decide(holder, self.config["preferred"], self.health,
                        {e: since[e] if not self.health[e] else 0.0 for e in ENGINES},
                        {e: since[e] if self.health[e] else 0.0 for e in ENGINES},
                        float(self.config["detect_seconds"]), float(self.config["return_seconds"]))
        if target is not None:
            reason = ("its controllers have no ready replica" if not self.health[holder]
                      else f"{target} is the preferred engine and healthy again")
            if self.transfer(lease, holder, target, f"{holder} -> {target}: {reason}"):
                return target
            return None
        # keep the cluster as the lease says (an apply may have reset an object)
        other = "flux" if holder == "argocd" else "argocd"
        self.set_active(other, False)
        self.set_active(holder, True)
        return holder


FAILED_TURNS = 12  # a minute of failed turns: exit, so the pod restarts and the crash-loop alert sees it


def main() -> int:
    config = json.loads(os.environ["HANDOVER_CONFIG"])
    loop = Handover(Api(), config, log=lambda line: print(line, flush=True))
    every = float(config.get("every_seconds", 5))
    failed = 0
    while True:
        try:
            loop.turn()
            failed = 0
        except Exception as error:  # noqa: BLE001 - one failed turn is retried; a run of them ends the process
            failed += 1
            print(f"handover: turn failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            if failed >= FAILED_TURNS:
                return 1
        time.sleep(every)


if __name__ == "__main__":
    sys.exit(main())
