"""Automatic GitOps handover inside one cluster: the lease, who enforces it, and the loop that moves it.

Exactly one engine reconciles a cluster: the one holding the Lease ``spofless-handover/gitops-engine``. The API
server enforces it (ValidatingAdmissionPolicies whose parameter is that Lease): an Argo CD Application with
automated sync, or a Flux Kustomization that is not suspended, is refused unless its engine holds the lease,
whoever asks (the handover loop, an apply, a person). The loop (modules/gitops/handover/handover.py, two
replicas, one leader) moves the lease when the holder's controllers have had no ready replica for
``gitops.handover_seconds``, and gives it back to the preferred engine (``gitops.active``) once that one has
been healthy for ``gitops.handback_seconds``; before moving it, it fences the holder and lets its sync in flight
end. Its rights: read and patch the engines' Applications and Kustomizations, read their workloads, and its
own leases, each in its namespace only.

No maintained controller hands a cluster between Argo CD and Flux, so this loop is spofless's own: about 250
lines of standard-library Python run by the official Python image, tested against a fake API server
(tests/stacks/test_handover.py).
https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/#parameter-resources
https://kubernetes.io/docs/concepts/architecture/leases/
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from modules.gitops.guards import ADMISSION_API

NAMESPACE = "spofless-handover"
LEASE = "gitops-engine"
LEADER_LEASE = "spofless-handover-leader"
NAME = "spofless-handover"
SCRIPT = Path(__file__).resolve().parent / "handover" / "handover.py"
# The official Python image (3.12 on Alpine), pinned by digest; the loop needs nothing but the standard library.
IMAGE = "docker.io/library/python:3.12-alpine@sha256:6d43704baacd1bfbe7c295d7f13079d5d8104ed33568873133f8fc69980419df"
LOOP_SECONDS = 5

# What each engine's health is read from, and what it reconciles with (see the charts' own names:
# argo-cd's nameOverride "argocd", flux2's controller Deployments).
ENGINE_WORKLOADS = {
    "argocd": [["statefulsets", "argocd-application-controller"], ["deployments", "argocd-repo-server"]],
    "flux": [["deployments", "source-controller"], ["deployments", "kustomize-controller"]],
}


def config(*, preferred: str, argocd_namespace: str, flux_namespace: str, applications: Sequence[str],
           kustomizations: Sequence[str], detect_seconds: int, return_seconds: int) -> dict:
    return {
        "namespace": NAMESPACE, "lease": LEASE, "leader_lease": LEADER_LEASE, "preferred": preferred,
        "detect_seconds": detect_seconds, "return_seconds": return_seconds, "every_seconds": LOOP_SECONDS,
        "engines": {
            "argocd": {"namespace": argocd_namespace, "workloads": ENGINE_WORKLOADS["argocd"],
                       "api": "argoproj.io/v1alpha1", "resource": "applications", "objects": sorted(applications)},
            "flux": {"namespace": flux_namespace, "workloads": ENGINE_WORKLOADS["flux"],
                     "api": "kustomize.toolkit.fluxcd.io/v1", "resource": "kustomizations",
                     "objects": sorted(kustomizations)},
        },
    }


def _lease_policy(name: str, group: str, resource: str, namespace: str, expression: str, message: str) -> list[dict]:
    return [
        {"apiVersion": ADMISSION_API, "kind": "ValidatingAdmissionPolicy", "metadata": {"name": name},
         "spec": {"failurePolicy": "Fail",
                  "paramKind": {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"},
                  "matchConstraints": {"resourceRules": [{"apiGroups": [group], "apiVersions": ["*"],
                                                          "operations": ["CREATE", "UPDATE"],
                                                          "resources": [resource]}]},
                  "validations": [{"expression": expression, "messageExpression": message}]}},
        # before the loop first writes the lease, nothing is refused: the apply's own state (the preferred
        # engine on, the other off) is what the loop then records
        {"apiVersion": ADMISSION_API, "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name},
         "spec": {"policyName": name, "validationActions": ["Deny"],
                  "paramRef": {"name": LEASE, "namespace": NAMESPACE, "parameterNotFoundAction": "Allow"},
                  "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}}},
    ]


def objects(*, settings: dict, on_demand: dict) -> list[dict]:
    """Every object of the handover, for spofless's own chart (the namespace is the bootstrap's)."""
    argocd, flux = settings["engines"]["argocd"], settings["engines"]["flux"]
    holder = "(has(params.spec.holderIdentity) ? params.spec.holderIdentity : 'nobody')"
    labels = {"app.kubernetes.io/name": NAME}
    # one replica per AZ where it can (losing an AZ leaves the other), and never both on one node
    spread = [{"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway",
               "labelSelector": {"matchLabels": dict(labels)}}
              for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")]
    found = [
        *_lease_policy("spofless-gitops-lease-argocd", "argoproj.io", "applications", argocd["namespace"],
                       f"!has(object.spec.syncPolicy) || !has(object.spec.syncPolicy.automated) || {holder} == 'argocd'",
                       f"'the GitOps lease {NAMESPACE}/{LEASE} is held by ' + {holder} + ': Argo CD syncs "
                       "automatically only while it holds it (spofless handover)'"),
        *_lease_policy("spofless-gitops-lease-flux", "kustomize.toolkit.fluxcd.io", "kustomizations", flux["namespace"],
                       f"(has(object.spec.suspend) && object.spec.suspend) || {holder} == 'flux'",
                       f"'the GitOps lease {NAMESPACE}/{LEASE} is held by ' + {holder} + ': a Flux Kustomization "
                       "runs only while Flux holds it (spofless handover)'"),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NAME, "namespace": NAMESPACE}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": NAME, "namespace": NAMESPACE},
         "data": {"handover.py": SCRIPT.read_text()}},
    ]
    rights = [
        (NAMESPACE, [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                      "verbs": ["get", "create", "update"]}]),
        (argocd["namespace"], [{"apiGroups": ["argoproj.io"], "resources": ["applications"],
                                "resourceNames": list(argocd["objects"]), "verbs": ["get", "patch"]},
                               {"apiGroups": ["apps"], "resources": ["statefulsets", "deployments"],
                                "resourceNames": [n for _, n in argocd["workloads"]], "verbs": ["get"]}]),
        (flux["namespace"], [{"apiGroups": ["kustomize.toolkit.fluxcd.io"], "resources": ["kustomizations"],
                              "resourceNames": list(flux["objects"]), "verbs": ["get", "patch"]},
                             {"apiGroups": ["apps"], "resources": ["deployments"],
                              "resourceNames": [n for _, n in flux["workloads"]], "verbs": ["get"]}]),
    ]
    for namespace, rules in rights:
        found += [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": {"name": NAME, "namespace": namespace}, "rules": rules},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": NAME, "namespace": namespace},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
             "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
        ]
    found += [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME, "namespace": NAMESPACE},
         "spec": {"replicas": 2, "selector": {"matchLabels": dict(labels)},
                  "template": {"metadata": {"labels": dict(labels)}, "spec": {
                      "serviceAccountName": NAME, "nodeSelector": on_demand, "topologySpreadConstraints": spread,
                      "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                          "seccompProfile": {"type": "RuntimeDefault"}},
                      "containers": [{
                          "name": "handover", "image": IMAGE,
                          "command": ["python", "-u", "/opt/handover/handover.py"],
                          "env": [{"name": "HANDOVER_CONFIG", "value": json.dumps(settings, sort_keys=True)},
                                  {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                  {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
                          "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                          "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                              "capabilities": {"drop": ["ALL"]}},
                          "volumeMounts": [{"name": "code", "mountPath": "/opt/handover", "readOnly": True}]}],
                      "volumes": [{"name": "code", "configMap": {"name": NAME}}]}}}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": NAME, "namespace": NAMESPACE},
         "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(labels)}}},
    ]
    return found
