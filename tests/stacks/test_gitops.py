"""GitOps stacks: exec-plugin auth, pinned charts, both Git hosts, and engine exclusivity."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from modules.gitops.engines import reconciling
from tests.conftest import resources, tree_digest

GITOPS = ["prod-us-east-1-gitops", "prod-us-west-2-gitops", "staging-us-east-1-gitops",
          "staging-us-west-2-gitops", "dev-us-east-1-gitops"]


def _releases(stack: dict) -> dict[str, dict]:
    return {r["name"]: {**r, "_values": yaml.safe_load(r["values"][0])} for r in resources(stack, "helm_release").values()}


def _state(stack: dict) -> dict[str, bool]:
    """Which engines reconcile in this cluster, read from the synthesized Helm values."""
    releases = _releases(stack)
    apps = releases["argocd-apps"]["_values"]["applications"].values()
    return {
        "argocd": any("automated" in app["syncPolicy"] for app in apps),
        "flux": any(not r["_values"]["kustomization"]["spec"]["suspend"]
                    for name, r in releases.items() if name.startswith("flux-")),
    }


@pytest.mark.parametrize("stack_name", GITOPS)
def test_providers_authenticate_with_the_exec_plugin_against_this_regions_cluster(stacks, stack_name):
    stack = stacks[stack_name]
    region = stack_name.split("-", 1)[1].rsplit("-", 1)[0]
    (helm,) = stack["provider"]["helm"]
    (k8s,) = stack["provider"]["kubernetes"]
    for config, exec_ in ((helm["kubernetes"], helm["kubernetes"]["exec"]), (k8s, k8s["exec"][0])):
        assert exec_["command"] == "aws" and exec_["args"][:2] == ["eks", "get-token"]
        assert exec_["args"][-2:] == ["--region", region]
        assert not {"token", "config_path", "config_paths", "client_key", "password"} & set(config)
        upstream = stack_name.removesuffix("-gitops")
        assert f"cross-stack-reference-input-{upstream}." in config["host"]


@pytest.mark.parametrize("stack_name", GITOPS)
def test_every_chart_is_pinned_to_an_exact_version(stacks, stack_name):
    releases = _releases(stacks[stack_name])
    assert sorted(releases) == ["argocd", "argocd-apps", "flux", "flux-platform-github", "flux-platform-gitlab"]
    for release in releases.values():
        assert re.fullmatch(r"\d+\.\d+\.\d+", release["version"]), release["name"]
        assert release["repository"].startswith("https://")


def test_argocd_runs_highly_available(stacks):
    values = _releases(stacks["prod-us-east-1-gitops"])["argocd"]["_values"]
    assert values["redis-ha"] == {"enabled": True}
    assert all(values[c]["replicas"] >= 2 for c in ("controller", "server", "repoServer", "applicationSet"))


@pytest.mark.parametrize("stack_name", GITOPS)
def test_both_git_hosts_reach_both_engines_with_credentials_by_reference(stacks, stack_name):
    stack = stacks[stack_name]
    secrets = {s["metadata"]["name"]: s for s in resources(stack, "kubernetes_secret_v1").values()}
    assert sorted(secrets) == ["git-github", "git-gitlab", "repo-platform-github", "repo-platform-gitlab"]
    assert secrets["repo-platform-github"]["data"]["url"].startswith("https://github.com/")
    assert secrets["repo-platform-gitlab"]["data"]["url"].startswith("https://gitlab.com/")
    for secret in secrets.values():
        assert re.fullmatch(r"\$\{data\.aws_secretsmanager_secret_version\.[^.]+\.secret_string\}",
                            secret["data"]["password"])
    tokens = {d["secret_id"] for d in stack["data"]["aws_secretsmanager_secret_version"].values()}
    env_name = stack_name.split("-")[0]
    assert tokens == {f"{env_name}/gitops/github-token", f"{env_name}/gitops/gitlab-token"}
    releases = _releases(stack)
    assert releases["flux-platform-github"]["_values"]["gitRepository"]["spec"]["url"].startswith("https://github.com/")
    assert releases["flux-platform-gitlab"]["_values"]["gitRepository"]["spec"]["url"].startswith("https://gitlab.com/")


@pytest.mark.parametrize("stack_name", GITOPS)
def test_controller_namespaces_default_deny_with_explicit_allows(stacks, stack_name):
    stack = stacks[stack_name]
    namespaces = {n["metadata"]["name"] for n in resources(stack, "kubernetes_namespace_v1").values()}
    assert namespaces == {"argocd", "flux-system"}
    policies = resources(stack, "kubernetes_network_policy_v1").values()
    for namespace in ("argocd", "flux-system"):
        mine = {p["metadata"]["name"]: p["spec"] for p in policies if namespace in p["metadata"]["namespace"]}
        deny = mine["default-deny"]
        assert deny["policy_types"] == ["Ingress", "Egress"] and "ingress" not in deny and "egress" not in deny
        assert {"allow-same-namespace", "allow-dns", "allow-https-egress", "allow-from-vpc"} <= set(mine)


def test_with_argocd_primary_active_only_the_primary_argocd_reconciles(stacks):
    assert _state(stacks["prod-us-east-1-gitops"]) == {"argocd": True, "flux": False}
    assert _state(stacks["prod-us-west-2-gitops"]) == {"argocd": False, "flux": False}


@pytest.fixture(scope="module")
def per_knob(environments, tmp_path_factory):
    """prod synthesized once for every value of gitops.active."""
    from modules.app import synthesize

    prod = environments["prod"]
    results = {}
    for active in ("argocd-primary", "argocd-standby", "flux"):
        env = prod.model_copy(update={"gitops": prod.gitops.model_copy(update={"active": active})})
        outdir = tmp_path_factory.mktemp(active) / "cdktf.out"
        synthesize([env], outdir)
        results[active] = outdir
    return results


def _load(outdir: Path, stack: str) -> dict:
    return json.loads((outdir / "stacks" / stack / "cdk.tf.json").read_text())


@pytest.mark.parametrize("active", ["argocd-primary", "argocd-standby", "flux"])
def test_argocd_and_flux_never_reconcile_the_same_cluster_at_once(per_knob, active):
    for role, stack in (("primary", "prod-us-east-1-gitops"), ("standby", "prod-us-west-2-gitops")):
        state = _state(_load(per_knob[active], stack))
        assert not (state["argocd"] and state["flux"]), (active, stack)
        assert state == {"argocd": reconciling(active, "argocd", role), "flux": reconciling(active, "flux", role)}
    engines = [_state(_load(per_knob[active], s)) for s in ("prod-us-east-1-gitops", "prod-us-west-2-gitops")]
    assert sum(e["argocd"] for e in engines) == (0 if active == "flux" else 1)
    assert sum(e["flux"] for e in engines) == (2 if active == "flux" else 0)


def test_flux_reconciles_only_from_the_chosen_git_host(per_knob):
    releases = _releases(_load(per_knob["flux"], "prod-us-east-1-gitops"))
    assert releases["flux-platform-github"]["_values"]["kustomization"]["spec"]["suspend"] is False
    assert releases["flux-platform-gitlab"]["_values"]["kustomization"]["spec"]["suspend"] is True


def test_switching_the_knob_changes_only_the_gitops_engine_values(per_knob, synth_dir):
    baseline = {k: v for k, v in tree_digest(synth_dir).items() if k.startswith("stacks/prod-")}
    for active in ("argocd-standby", "flux"):
        changed = tree_digest(per_knob[active])
        different = sorted(k for k in baseline if baseline[k] != changed[k])
        assert different == ["stacks/prod-us-east-1-gitops/cdk.tf.json", "stacks/prod-us-west-2-gitops/cdk.tf.json"]
        for path in different:
            before = json.loads(baseline[path])["resource"]
            after = json.loads(changed[path])["resource"]
            assert before.keys() == after.keys()
            changed_resources = sorted(
                r["name"] for name, r in after["helm_release"].items() if r != before["helm_release"][name])
            assert set(changed_resources) <= {"argocd-apps", "flux-platform-github"}
            for rtype in after:
                if rtype != "helm_release":
                    assert after[rtype] == before[rtype]
