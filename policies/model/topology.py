"""What the stacks mean, read from :class:`policies.model.output.Output`: regions of stacks and
provider aliases, the releases a GitOps stack installs and which engines reconcile, node groups,
TargetGroupBindings and the target groups behind a load balancer, the data stacks by region and the
apply order between stacks. Shared by the deploy rules and the platform model; imports neither.
"""

from __future__ import annotations

import json

from dataclasses import dataclass
from typing import Optional

import yaml

from modules.stacks import names
from policies.model.output import Output, Ref, as_list


def cluster_of_provider(output: Output, stack: str) -> Optional[Ref]:
    for ptype in ("kubernetes", "helm"):
        for provider in output.providers(stack, ptype):
            host = provider.get("host") or (as_list(provider.get("kubernetes")) or [{}])[0].get("host")
            ref = next(iter(output.refs(stack, host)), None) if host else None
            if ref is not None and ref.type == "aws_eks_cluster":
                return ref
    return None


def cluster_addon(output: Output, cluster: Ref, addon_name: str) -> Optional[dict]:
    for name, conf in output.resources(cluster.stack, "aws_eks_addon").items():
        refs = output.refs(cluster.stack, conf.get("cluster_name"))
        if conf.get("addon_name") == addon_name and any(r.address == cluster.address for r in refs):
            return conf
    return None


def region_of_alias(output: Output, env: str, alias: str) -> Optional[str]:
    for provider in output.providers(names.security(env), "aws"):
        if provider.get("alias") == alias:
            return provider.get("region")
    return None


def installed_releases(output: Output, stack: str) -> dict[str, dict]:
    """``{release name: {"conf": resource, "values": merged values}}`` of a stack's helm releases."""
    found = {}
    for conf in output.resources(stack, "helm_release").values():
        values: dict = {}
        for document in as_list(conf.get("values")):
            try:
                loaded = yaml.safe_load(document) if isinstance(document, str) else None
            except yaml.YAMLError:
                loaded = None
            if isinstance(loaded, dict):
                values.update(loaded)
        found[conf.get("name")] = {"conf": conf, "values": values}
    return found


def handover_config(releases: dict) -> Optional[dict]:
    """The handover loop's settings (modules/gitops/handover_objects.py) from spofless's own chart, when the
    cluster runs it with both lease policies; None otherwise."""
    for release in releases.values():
        if release["conf"].get("repository"):
            continue
        found = release["values"].get("objects") or []
        bound = {o.get("metadata", {}).get("name") for o in found if o.get("kind") == "ValidatingAdmissionPolicyBinding"
                 and ((o.get("spec") or {}).get("paramRef") or {}).get("name")}
        if not {"spofless-gitops-lease-argocd", "spofless-gitops-lease-flux"} <= bound:
            continue
        for item in found:
            if item.get("kind") == "Deployment" and item.get("metadata", {}).get("name") == "spofless-handover":
                for container in item["spec"]["template"]["spec"].get("containers", []):
                    for variable in container.get("env", []):
                        if variable.get("name") == "HANDOVER_CONFIG":
                            return json.loads(variable["value"])
    return None


def engines_reconciling(output: Output, stack: str) -> dict[str, bool]:
    """Which GitOps engines reconcile the cluster a stack installs into: with the handover loop, the engine it
    prefers (it unfences the lease's holder; the charts install both fenced); otherwise from the Helm values."""
    releases = installed_releases(output, stack)
    handover = handover_config(releases)
    if handover is not None:
        return {engine: engine == handover.get("preferred") for engine in ("argocd", "flux")}
    argocd = any("automated" in (app.get("syncPolicy") or {})
                 for r in releases.values() if r["conf"].get("chart") == "argocd-apps"
                 for app in (r["values"].get("applications") or {}).values())
    flux = any(not ((r["values"].get("kustomization") or {}).get("spec") or {}).get("suspend", False)
               for r in releases.values() if r["conf"].get("chart") == "flux2-sync")
    return {"argocd": argocd, "flux": flux}


def installers(output: Output) -> dict[str, str]:
    """``{"aws_eks_cluster.<name>@<stack>": stack}`` for every stack that installs charts into a cluster."""
    found = {}
    for stack in output.stacks:
        cluster = cluster_of_provider(output, stack)
        if cluster is not None and installed_releases(output, stack):
            found[f"{cluster.address}@{cluster.stack}"] = stack
    return found


def node_groups_of(output: Output, stack: str, cluster_name: str) -> list[dict]:
    """The managed node groups of ``aws_eks_cluster.<cluster_name>`` in ``stack``."""
    return [g for g in output.resources(stack, "aws_eks_node_group").values()
            if any(r.address == f"aws_eks_cluster.{cluster_name}" for r in output.refs(stack, g.get("cluster_name")))]


def target_group_bindings(output: Output) -> dict[str, list[tuple[str, dict]]]:
    """``{"aws_lb_target_group.<name>@<stack>": [(gitops stack, TargetGroupBinding values)]}``."""
    found: dict[str, list[tuple[str, dict]]] = {}
    for stack in output.stacks:
        for release in installed_releases(output, stack).values():
            for binding in release["values"].get("targetGroups") or []:
                for ref in output.refs(stack, binding.get("targetGroupARN")):
                    found.setdefault(f"{ref.address}@{ref.stack}", []).append((stack, binding))
    return found


@dataclass(frozen=True)
class Entrypoint:
    """The in-cluster gateway's entrypoint a target group's traffic reaches."""

    stack: str  # the stack that installs the gateway
    release: str
    namespace: str
    name: str  # its key under the release's ``ports``
    conf: dict
    values: dict  # the whole release's values


def gateway_entrypoint(output: Output, bindings: dict, stack: str, tg_name: str) -> tuple[Optional[Entrypoint], str]:
    """The gateway entrypoint ``aws_lb_target_group.<tg_name>`` of ``stack`` sends to, or why there is none.
    ``bindings``: :func:`target_group_bindings`."""
    found = bindings.get(f"aws_lb_target_group.{tg_name}@{stack}")
    if not found:
        return None, "no TargetGroupBinding sends its traffic into a cluster"
    gitops, binding = found[0]
    service = binding.get("serviceName")
    release = installed_releases(output, gitops).get(service)
    if release is None:
        return None, f"the bound service {service!r} comes from no release of {gitops}"
    values = release["values"]
    port = binding.get("servicePort")
    entries = [(key, e) for key, e in sorted((values.get("ports") or {}).items())
               if isinstance(e, dict) and port in (e.get("exposedPort"), e.get("port"))]
    if not entries:
        return None, f"the gateway release {service!r} has no entrypoint on port {port}"
    key, entry = entries[0]
    return Entrypoint(gitops, str(service), str(release["conf"].get("namespace", "")), key, entry, values), ""


def target_groups_of(output: Output, stack: str, lb_name: str) -> list[str]:
    names = []
    for listener in output.resources(stack, "aws_lb_listener").values():
        if any(r.address == f"aws_lb.{lb_name}" for r in output.refs(stack, listener.get("load_balancer_arn"))):
            for action in as_list(listener.get("default_action")):
                names += [r.name for r in output.refs(stack, action.get("target_group_arn"))
                          if r.type == "aws_lb_target_group"]
    return names


def values_at(values: dict, path: tuple) -> Optional[dict]:
    for key in path:
        values = values.get(key) if isinstance(values, dict) else None
    return values if isinstance(values, dict) else None


def stack_region(output: Output, stack: str) -> Optional[str]:
    providers = output.providers(stack, "aws")
    return providers[0].get("region") if len(providers) == 1 else None


def stacks_by_region(output: Output, env: str, kind: str) -> dict[str, str]:
    """``{region: stack}`` of one environment's stacks of ``kind`` ("data", "regional")."""
    found = {}
    for stack in output.stacks_of(env):
        parsed = names.parse(stack)
        if parsed is not None and parsed.kind == kind and parsed.region:
            found[parsed.region] = stack
    return found


def data_stacks(output: Output, env: str) -> dict[str, str]:
    return stacks_by_region(output, env, "data")


def stack_after(output: Output, stack: str, upstream: str) -> bool:
    """True when ``stack`` is applied after ``upstream`` (directly or through others)."""
    seen, todo = set(), [stack]
    while todo:
        current = todo.pop()
        for dependency in output.dependencies(current):
            if dependency == upstream:
                return True
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return False
