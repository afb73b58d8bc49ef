"""The GitOps handover loop (modules/gitops/handover/handover.py) against a fake API server that keeps the
cluster's objects, versions them (409 on a stale write) and refuses what the lease admission policies refuse.
The failure is played through with a clock: an engine dies, the other takes over within the detection bound,
the first comes back, control returns; at no write are both engines reconciling.
"""

from __future__ import annotations

import copy
import importlib.util
import json

import pytest

from modules.gitops import handover_objects
from modules.gitops.handover_objects import LEASE, NAMESPACE

spec = importlib.util.spec_from_file_location("spofless_handover", handover_objects.SCRIPT)
handover = importlib.util.module_from_spec(spec)
spec.loader.exec_module(handover)

SETTINGS = handover_objects.config(preferred="argocd", argocd_namespace="argocd", flux_namespace="flux-system",
                                   applications=["platform"], kustomizations=["flux-platform-github"],
                                   detect_seconds=20, return_seconds=60)
APP = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/platform"
KUST = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/flux-platform-github"
ENGINE_LEASE = f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{LEASE}"


class Clock:
    def __init__(self):
        self.t = 1_800_000_000.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


def _merge(target: dict, patch: dict) -> dict:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            target[key] = _merge(dict(target.get(key) or {}), value)
        else:
            target[key] = value
    return target


class FakeApi:
    """Objects by path; the lease policies enforced on every write, and the invariant checked after it."""

    def __init__(self):
        self.objects = {
            APP: {"spec": {"syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}},
            KUST: {"spec": {"suspend": True}},
        }
        self.version = 0
        self.ready = {"argocd": True, "flux": True}
        self.writes = []

    def _admit(self, path, body):
        lease = self.objects.get(ENGINE_LEASE)
        holder = ((lease or {}).get("spec") or {}).get("holderIdentity") if lease else None
        if lease is None:
            return
        if path == APP and ((body.get("spec") or {}).get("syncPolicy") or {}).get("automated") and holder != "argocd":
            raise RuntimeError(f"denied: the lease is held by {holder}")
        if path == KUST and not (body.get("spec") or {}).get("suspend") and holder != "flux":
            raise RuntimeError(f"denied: the lease is held by {holder}")

    def _written(self, path):
        self.writes.append(path)
        argocd_on = bool(self.objects[APP]["spec"].get("syncPolicy", {}).get("automated"))
        flux_on = not self.objects[KUST]["spec"].get("suspend", False)
        assert not (argocd_on and flux_on), f"both engines reconcile after a write to {path}"

    def get(self, path):
        if "/apis/apps/v1/" in path:
            engine = "argocd" if "/argocd/" in path else "flux"
            kind = "readyReplicas" if "statefulsets" in path else "availableReplicas"
            return {"status": {kind: 1 if self.ready[engine] else 0}}
        found = self.objects.get(path)
        return copy.deepcopy(found) if found is not None else None

    def _store(self, path, body):
        self.version += 1
        body = copy.deepcopy(body)
        body["metadata"]["resourceVersion"] = str(self.version)
        self.objects[path] = body
        return copy.deepcopy(body)

    def create(self, collection, body):
        path = f"{collection}/{body['metadata']['name']}"
        if path in self.objects:
            raise handover.Conflict(path)
        return self._store(path, body)

    def replace(self, path, body):
        current = self.objects.get(path)
        if current is None or current["metadata"]["resourceVersion"] != body["metadata"].get("resourceVersion"):
            raise handover.Conflict(path)
        return self._store(path, body)

    def patch(self, path, body):
        merged = _merge(copy.deepcopy(self.objects[path]), body)
        self._admit(path, merged)
        self.objects[path] = merged
        self._written(path)
        return copy.deepcopy(merged)


def _holder(api):
    return api.objects[ENGINE_LEASE]["spec"]["holderIdentity"]


def _active(api):
    on = []
    if api.objects[APP]["spec"].get("syncPolicy", {}).get("automated"):
        on.append("argocd")
    if not api.objects[KUST]["spec"].get("suspend", False):
        on.append("flux")
    return on


def _run(loop, clock, seconds, every=5):
    end = clock.t + seconds
    while clock.t < end:
        loop.turn()
        clock.sleep(every)


def test_the_other_engine_takes_over_within_the_bound_and_control_returns():
    api, clock, log = FakeApi(), Clock(), []
    loop = handover.Handover(api, dict(SETTINGS, identity="a"), clock=clock, sleep=clock.sleep, log=log.append)
    _run(loop, clock, 30)
    assert _holder(api) == "argocd" and _active(api) == ["argocd"]
    api.ready["argocd"] = False  # Argo CD's controller dies
    died = clock.t
    while _active(api) != ["flux"]:
        loop.turn()
        clock.sleep(5)
        assert clock.t - died <= 30, "Flux did not take over within the 30 s detection bound"
    assert _holder(api) == "flux" and any("argocd -> flux" in line for line in log)
    _run(loop, clock, 120)  # Argo CD stays down: Flux keeps the cluster
    assert _active(api) == ["flux"]
    api.ready["argocd"] = True
    back = clock.t
    while _active(api) != ["argocd"]:
        loop.turn()
        clock.sleep(5)
        assert clock.t - back <= 60 + 10
    assert clock.t - back >= 60, "control went back before the preferred engine was healthy for return_seconds"
    assert _holder(api) == "argocd"


def test_nothing_moves_while_both_engines_are_down():
    api, clock = FakeApi(), Clock()
    loop = handover.Handover(api, dict(SETTINGS, identity="a"), clock=clock, sleep=clock.sleep, log=lambda _: None)
    loop.turn()
    api.ready = {"argocd": False, "flux": False}
    _run(loop, clock, 120)
    assert _holder(api) == "argocd" and _active(api) == ["argocd"]


def test_an_apply_that_resets_an_engine_is_corrected_or_refused():
    api, clock = FakeApi(), Clock()
    loop = handover.Handover(api, dict(SETTINGS, identity="a"), clock=clock, sleep=clock.sleep, log=lambda _: None)
    loop.turn()
    api.ready["argocd"] = False
    _run(loop, clock, 40)
    assert _active(api) == ["flux"]
    # a Terraform apply renders the preferred engine on again: the lease policy refuses it
    with pytest.raises(RuntimeError, match="held by flux"):
        api.patch(APP, {"spec": {"syncPolicy": {"automated": {"prune": True}}}})
    # an apply that suspends Flux (its chart renders the idle state): the next turn resumes it
    api.objects[KUST]["spec"]["suspend"] = True
    loop.turn()
    assert _active(api) == ["flux"]


def test_one_leader_among_the_replicas_and_a_new_one_after_it_stops():
    api, clock = FakeApi(), Clock()
    first = handover.Handover(api, dict(SETTINGS, identity="a"), clock=clock, sleep=clock.sleep, log=lambda _: None)
    second = handover.Handover(api, dict(SETTINGS, identity="b"), clock=clock, sleep=clock.sleep, log=lambda _: None)
    assert first.lead() and not second.lead()
    clock.sleep(5)
    assert first.lead() and not second.lead()
    clock.sleep(16)  # "a" stopped renewing: its lease expires
    assert second.lead() and not first.lead()


def test_a_stale_lease_write_is_retried_not_forced():
    api, clock = FakeApi(), Clock()
    loop = handover.Handover(api, dict(SETTINGS, identity="a"), clock=clock, sleep=clock.sleep, log=lambda _: None)
    loop.turn()
    holder, lease = loop.holder()
    api.objects[ENGINE_LEASE]["metadata"]["resourceVersion"] = "999"  # another writer got there first
    assert loop.transfer(lease, "argocd", "flux", "test") is False
    assert _holder(api) == "argocd"


def test_the_cluster_objects_enforce_the_lease_for_both_engines():
    found = handover_objects.objects(settings=SETTINGS, on_demand={"k": "v"})
    policies = {o["metadata"]["name"]: o for o in found if o["kind"] == "ValidatingAdmissionPolicy"}
    bindings = {o["metadata"]["name"]: o for o in found if o["kind"] == "ValidatingAdmissionPolicyBinding"}
    assert set(policies) == set(bindings) == {"spofless-gitops-lease-argocd", "spofless-gitops-lease-flux"}
    for name, binding in bindings.items():
        assert binding["spec"]["paramRef"]["name"] == LEASE and binding["spec"]["validationActions"] == ["Deny"]
        assert policies[name]["spec"]["paramKind"] == {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}
    deployment = next(o for o in found if o["kind"] == "Deployment")
    assert "@sha256:" in deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert json.loads(deployment["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"]) == SETTINGS
    # least privilege: named objects only, no cluster-wide role
    assert not [o for o in found if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    for role in (o for o in found if o["kind"] == "Role"):
        for rule in role["rules"]:
            assert rule["apiGroups"] == ["coordination.k8s.io"] or rule.get("resourceNames")


def test_the_drill_plays_an_engine_failure_with_the_handover_timings(synth_dir, environments):
    from policies.model.output import Output
    from policies.model.platform import build, handover_of
    from tooling.analysis import drill

    output = Output.load(synth_dir)
    targets = drill.load_targets()
    for name, config in environments.items():
        env = build(output, name)
        for region in env.regions.values():
            cluster = region.cluster
            if not config.gitops.handover:
                assert cluster.handover is None
                continue
            assert cluster.handover == config.gitops.handover_seconds + 2 * handover_objects.LOOP_SECONDS
            engine = next(e for e, on in cluster.reconciling.items() if on)
            baseline = {n: {a.provider: a.lb for a in (drill.route53_answer(env, n, drill.Failure([]), targets),
                                                        drill.cloudflare_answer(env, n, drill.Failure([])))}
                        for n in env.names}
            played = drill.play(env, [drill.Part("engine", region.name, engine)], targets, baseline)
            deploy = next(d for d in played.deploy if d.region == region.name)
            assert deploy.ok and not deploy.knob and "handover" in deploy.how
            assert played.detect == cluster.handover <= targets["classes"]["engine"]["detect"]
    # without both lease policies there is no automatic handover to count on
    assert handover_of([o for o in handover_objects.objects(settings=SETTINGS, on_demand={})
                        if o["metadata"]["name"] != "spofless-gitops-lease-flux"]) is None


def test_a_fresh_install_unfences_the_preferred_engine_and_waits_for_the_other_to_exist():
    api, clock = FakeApi(), Clock()
    api.objects[APP]["spec"]["syncPolicy"] = {}  # the charts install both engines fenced
    api.ready = {"argocd": False, "flux": True}  # Argo CD's HA install takes longer than Flux's
    loop = handover.Handover(api, dict(SETTINGS, identity="a"), clock=clock, sleep=clock.sleep, log=lambda _: None)
    _run(loop, clock, 120)
    # an engine never seen ready is being installed, not failed: the lease stays with the preferred engine
    assert _holder(api) == "argocd" and _active(api) == ["argocd"]
    api.ready["argocd"] = True
    _run(loop, clock, 30)
    api.ready["argocd"] = False  # now it fails: Flux takes over
    _run(loop, clock, 40)
    assert _holder(api) == "flux" and _active(api) == ["flux"]


def test_the_token_is_read_again_for_every_call(tmp_path, monkeypatch):
    token = tmp_path / "token"
    token.write_text("first")
    monkeypatch.setattr(handover, "SERVICE_ACCOUNT", str(tmp_path))
    api = handover.Api(context=object())
    assert api.token == "first"
    token.write_text("rotated")
    assert api.token == "rotated"
