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



def test_argocd_runs_highly_available(stacks):
    values = _releases(stacks["prod-us-east-1-gitops"])["argocd"]["_values"]
    assert values["redis-ha"]["enabled"] is True
    assert all(values[c]["replicas"] >= 2 for c in ("controller", "server", "repoServer", "applicationSet"))





@pytest.fixture(scope="module")
def per_knob(environments, tmp_path_factory):
    """prod synthesized once for every value of gitops.active (from the schema), and with the
    standby region alone switched to the other engine."""
    from environments.schema import GITOPS_ENGINES, GitopsConfig
    from modules.app import synthesize

    prod = environments["prod"]
    standby = prod.regions.standby.name
    knobs = {active: {"active": active} for active in GITOPS_ENGINES}
    knobs["standby-override"] = {"active": prod.gitops.active, "active_by_region": {
        standby: next(e for e in GITOPS_ENGINES if e != prod.gitops.active)}}
    results = {}
    for label, update in knobs.items():
        # validated like YAML would be, not model_copy'd past the schema
        gitops = GitopsConfig.model_validate({**prod.gitops.model_dump(), **update})
        env = prod.model_copy(update={"gitops": gitops})
        outdir = tmp_path_factory.mktemp(label) / "cdktf.out"
        synthesize([env], outdir)
        results[label] = outdir
    return results


def _load(outdir: Path, stack: str) -> dict:
    return json.loads((outdir / "stacks" / stack / "cdk.tf.json").read_text())



def test_flux_reconciles_only_from_the_chosen_git_host(per_knob):
    releases = _releases(_load(per_knob["flux"], "prod-us-east-1-gitops"))
    assert releases["flux-platform-github"]["_values"]["kustomization"]["spec"]["suspend"] is False
    assert releases["flux-platform-gitlab"]["_values"]["kustomization"]["spec"]["suspend"] is True


def test_switching_the_knob_changes_only_the_gitops_engine_values(per_knob, synth_dir, environments):
    baseline = {k: v for k, v in tree_digest(synth_dir).items() if k.startswith("stacks/prod-")}
    current = environments["prod"].gitops.active
    for label in per_knob:
        changed = tree_digest(per_knob[label])
        different = sorted(k for k in baseline if baseline[k] != changed[k])
        if label == current:
            assert not different  # the value prod already has changes nothing
            continue
        # any other value (another engine, or the standby region's override) must change something
        assert different, f"{label}: the knob changed nothing in the output"
        gitops = sorted(k for k in baseline if k.endswith("-gitops/cdk.tf.json"))
        # a per-region override changes that region's gitops stack only
        assert different == (gitops if label != "standby-override" else
                             [f"stacks/prod-{environments['prod'].regions.standby.name}-gitops/cdk.tf.json"])
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


@pytest.mark.parametrize("stack_name", GITOPS)
def test_every_chart_is_pinned_and_the_platform_pieces_are_installed(stacks, stack_name):
    releases = _releases(stacks[stack_name])
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", r["version"]) for r in releases.values())
    charts = {r["chart"].split("/")[0] for r in releases.values()}
    assert {"aws-load-balancer-controller", "external-secrets", "traefik", "argo-cd", "flux2",
            "cluster-autoscaler"} <= charts


@pytest.mark.parametrize("stack_name", GITOPS)
def test_git_tokens_are_synced_in_cluster_and_never_read_by_terraform(stacks, stack_name):
    stack = stacks[stack_name]
    assert not stack.get("data", {}).get("aws_secretsmanager_secret_version")
    assert not resources(stack, "kubernetes_secret_v1")
    objects = next(r for r in _releases(stack).values() if r["name"] == "spofless-cluster")["_values"]
    hosts = {r["secretName"].rsplit("-", 1)[1] for r in objects["repositories"]}
    assert hosts == {"github", "gitlab"}
    assert len(objects["targetGroups"]) == 3  # alb-primary, alb-secondary, nlb


@pytest.mark.parametrize("stack_name", GITOPS)
def test_exactly_the_configured_engine_reconciles_each_cluster(stacks, environments, stack_name):
    from policies.deploy_rules import engines_reconciling
    from policies.deploy_model import Output

    env = environments[stack_name.split("-")[0]]
    region = stack_name.split("-", 1)[1].rsplit("-", 1)[0]
    state = engines_reconciling(Output(stacks), stack_name)
    assert state == {"argocd": reconciling(env.gitops, "argocd", region),
                     "flux": reconciling(env.gitops, "flux", region)}
    assert sum(state.values()) == 1  # warm standby: every cluster, standby included, is reconciled



def test_every_knob_value_leaves_every_cluster_reconciled_by_exactly_one_engine(per_knob):
    from policies.deploy_model import Output
    from policies.deploy_rules import RULES

    (warm_standby,) = [r for r in RULES if r.id == "SPOF_DEPLOY_8"]
    for label, outdir in per_knob.items():
        results = list(warm_standby.check(Output.load(outdir)))
        assert results and all(r.passed for r in results), (label, [str(r) for r in results if not r.passed])


def _region_of(environments, stack_name):
    env = environments[stack_name.split("-")[0]]
    return env, next(r for r in env.regions.all if f"-{r.name}-" in f"{stack_name}-")


@pytest.mark.parametrize("stack_name", GITOPS)
def test_each_load_balancer_path_reaches_its_own_entrypoint_with_its_protections(stacks, environments, stack_name):
    """ALBs -> websecure (WAF in front; X-Forwarded-For trusted from the VPC); NLB -> nlb (proxy protocol v2
    from the VPC, per-client rate and concurrency limits); one body limit on both."""
    env, region = _region_of(environments, stack_name)
    config = env.load_balancing
    releases = _releases(stacks[stack_name])
    values = releases["traefik"]["_values"]
    ports = values["ports"]
    middlewares = {f"{o['metadata']['namespace']}-{o['metadata']['name']}@kubernetescrd": o["spec"]
                   for o in values["extraObjects"] if o["kind"] == "Middleware"}
    websecure, nlb = ports["websecure"], ports["nlb"]
    assert websecure["port"] == config.app_port and nlb["port"] == config.nlb_target_port
    assert nlb["proxyProtocol"] == {"trustedIPs": [region.vpc_cidr]} and "proxyProtocol" not in websecure
    assert websecure["forwardedHeaders"] == {"trustedIPs": [region.vpc_cidr]}
    specs = {name: [middlewares[m] for m in entry["http"].get("middlewares", [])]
             for name, entry in ports.items() if entry}
    body = {"buffering": {"maxRequestBodyBytes": config.request_body_limit_kib * 1024}}
    assert body in specs["nlb"]  # no WAF on this path: the gateway holds the limit
    # on the ALBs' path WAF holds 8 KiB; the gateway adds its (response-buffering) limit only above that
    assert (body in specs["websecure"]) is (config.request_body_limit_kib > 8)
    rate = next(m["rateLimit"] for m in specs["nlb"] if "rateLimit" in m)
    assert rate["average"] == config.waf_rate_limit and rate["period"] == "5m"
    assert any("inFlightReq" in m for m in specs["nlb"])
    assert not any("rateLimit" in m for m in specs["websecure"])  # WAF limits the ALBs' path
    bindings = {b["name"].removeprefix("traefik-"): b["servicePort"]
                for b in releases["spofless-cluster"]["_values"]["targetGroups"]}
    assert bindings == {"alb-primary": config.app_port, "alb-secondary": config.app_port,
                        "nlb": config.nlb_target_port}


@pytest.mark.parametrize("stack_name", GITOPS)
def test_the_autoscaler_matches_the_cluster_version(stacks, environments, stack_name):
    env, region = _region_of(environments, stack_name)
    values = _releases(stacks[stack_name])["cluster-autoscaler"]["_values"]
    assert values["image"]["tag"] == env.eks.release.autoscaler.image
    assert values["image"]["tag"].lstrip("v").startswith(env.eks.version + ".")
    assert values["awsRegion"] == region.name and values["replicaCount"] >= 2
    assert "cross-stack-reference-input-" in values["autoDiscovery"]["clusterName"]


@pytest.mark.parametrize("stack_name", GITOPS)
def test_platform_pods_run_on_on_demand_nodes(stacks, stack_name):
    from policies.deploy_rules_production import NO_PODS, PLACEMENT, _dig

    for release in _releases(stacks[stack_name]).values():
        chart = release["chart"]
        if chart in NO_PODS or not release.get("repository"):
            continue
        for path in PLACEMENT[chart]:
            spec = _dig(release["_values"], path)
            if spec is not None and spec.get("create") is False:
                continue
            assert spec["nodeSelector"] == {"eks.amazonaws.com/capacityType": "ON_DEMAND"}, (chart, path)
            assert not spec.get("tolerations"), (chart, path)
