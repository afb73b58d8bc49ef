"""The failure drill: every environment survives what it claims to, and each kind of defect is caught.

The defects are today's synthesized output with one thing broken, so a message must name the
scenario and the part; the expectations follow the environments (regions, engines, hosts) rather
than prod's current values.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from tooling.analysis import drill
from policies.model.output import Output
from policies.model.platform import build


@pytest.fixture(scope="module")
def output(synth_dir):
    return Output.load(synth_dir)


@pytest.fixture(scope="module")
def results(output):
    return drill.drill(output)


def _two_region(environments):
    return sorted(e for e, c in environments.items() if c.regions.standby)


def test_every_environment_survives_every_claimed_failure_within_target(results, environments):
    assert sorted(results) == sorted(environments)
    for env, played in results.items():
        bad = [f"{' + '.join(s.failed)}: {s.problems}" for s in played if s.verdict not in ("survived", "declared")]
        assert not bad, f"{env}: {bad}"
        declared = [s for s in played if s.verdict == "declared"]
        if environments[env].regions.standby:
            assert not declared
        else:  # the declared single-region exception shows as declared, and only for its region
            assert declared and all(any(f.startswith("region:") for f in s.failed) for s in declared)


def test_every_single_part_is_played(results, environments):
    for env, played in results.items():
        config = environments[env]
        singles = {s.failed[0] for s in played if len(s.failed) == 1}
        for region in config.regions.all:
            assert f"region:{region.name}" in singles
            assert f"control-plane:{region.name}" in singles
            assert {f"az:{region.name}:{zone}" for zone in region.zones} <= singles
            assert {f"lb:{region.name}:{key}" for key in ("alb-primary", "alb-secondary", "nlb")} <= singles
            assert {f"capacity:{region.name}:{c}" for c in ("ON_DEMAND", "SPOT")} <= singles
            assert {f"engine:{region.name}:{e}" for e in ("argocd", "flux")} <= singles
        assert {"dns:route53", "git:github", "git:gitlab"} <= singles
        assert ("dns:cloudflare" in singles) is bool(config.dns.cloudflare)


def test_a_region_failure_moves_traffic_to_the_standby_within_target(results, environments):
    for env in _two_region(environments):
        config = environments[env]
        (scenario,) = [s for s in results[env] if s.failed == [f"region:{config.regions.primary.name}"]]
        for pair in scenario.answers.values():
            assert {a.lb.split()[0] for a in pair} == {config.regions.standby.name}
        assert 0 < scenario.detect <= scenario.bounds["detect"]
        assert scenario.downtime <= scenario.bounds["downtime"]
        standby = next(d for d in scenario.deploy if d.region == config.regions.standby.name)
        assert standby.ok and standby.knob == ""  # the standby's own engine was already reconciling


def test_both_providers_reach_the_same_answer_in_every_scenario(results):
    for played in results.values():
        for scenario in (s for s in played if s.verdict == "survived"):
            for name, pair in scenario.answers.items():
                answered = {a.lb for a in pair if a.lb and a.why not in ("Route53 is down", "Cloudflare is down")}
                assert len(answered) <= 1, (scenario.failed, name, answered)


def test_a_git_host_failure_is_absorbed_by_switching_the_host_knob(results, environments):
    for env, played in results.items():
        host = environments[env].gitops.git_host
        (scenario,) = [s for s in played if s.failed == [f"git:{host}"]]
        assert all(d.ok and "gitops.git_host" in d.knob for d in scenario.deploy)


def test_the_cli_prints_the_table_writes_reports_and_fails_on_a_missed_target(synth_dir, tmp_path, capsys):
    assert drill.main(["--outdir", str(synth_dir), "--reports", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "region:" in printed and "not survived or late" in printed
    report = json.loads((tmp_path / "drill.json").read_text())
    assert sorted(report) == sorted(Output.load(synth_dir).environments)
    assert (tmp_path / "drill.md").read_text().startswith("# Failure drill")
    # targets are configuration: a tighter region target than the health checks allow fails the drill
    targets = yaml.safe_load(drill.TARGETS.read_text())
    targets["classes"]["region"]["detect"] = 10
    tight = tmp_path / "targets.yaml"
    tight.write_text(yaml.safe_dump(targets))
    missed = drill.run(synth_dir, targets_path=tight)
    assert any(s.verdict == "MISSED TARGET" and "detect" in " ".join(s.problems)
               for played in missed.values() for s in played if s.failed[0].startswith("region:"))


# -- each kind of defect, on a copy of today's output --------------------------------------------------

def _env_with_standby(output):
    return next(e for e in output.environments
                if len([s for s in output.stacks_of(e) if output.resources(s, "aws_eks_cluster")]) > 1)


def _regions(output, env):
    model = build(output, env)
    primary, standby = list(model.regions)[:2]
    return primary, standby


def _releases(stacks, stack):
    return stacks[stack]["resource"]["helm_release"]


def _edit_values(release, change):
    values = yaml.safe_load(release["values"][0])
    change(values)
    release["values"] = [yaml.safe_dump(values)]


def _standby_without_workloads(stacks, env, primary, standby):
    for release in _releases(stacks, f"{env}-{standby}-gitops").values():
        if release["chart"] == "argocd-apps":
            _edit_values(release, lambda v: [a["syncPolicy"].pop("automated", None) for a in v["applications"].values()])
        if release["chart"] == "flux2-sync":
            _edit_values(release, lambda v: v["kustomization"]["spec"].update(suspend=True))
        if not release.get("repository"):  # and no handover loop to unfence either
            _edit_values(release, lambda v: v.update(objects=[o for o in v.get("objects") or []
                                                              if o["metadata"]["name"] != "spofless-handover"]))
    return f"region:{primary}", "no GitOps engine ever deployed the workloads"


def _leaf_without_health_check(stacks, env, primary, standby):
    for record in stacks[f"{env}-dns-route53"]["resource"]["aws_route53_record"].values():
        if record.get("set_identifier") == f"{primary}-alb-primary":
            record.pop("health_check_id")
    return f"lb:{primary}:alb-primary", "route53"


def _ttl_over_the_rto(stacks, env, primary, standby):
    for balancer in stacks[f"{env}-dns-cloudflare"]["resource"]["cloudflare_load_balancer"].values():
        balancer["ttl"] = 3600
    return f"region:{primary}", "downtime"


def _pool_order_unlike_route53(stacks, env, primary, standby):
    for balancer in stacks[f"{env}-dns-cloudflare"]["resource"]["cloudflare_load_balancer"].values():
        pools = balancer["default_pools"]
        pools[0], pools[1] = pools[1], pools[0]
    return f"lb:{standby}:nlb", "Route53 answers"


def _nothing_registers_targets(stacks, env, primary, standby):
    for release in _releases(stacks, f"{env}-{standby}-gitops").values():
        if release["chart"].endswith("spofless-cluster") or not release.get("repository"):
            _edit_values(release, lambda v: v.update(targetGroups=[]))
    return f"region:{primary}", "nothing registers targets"


def _state_only_in_the_primary(stacks, env, primary, standby):
    # an engine that stops is handed over in the cluster (no apply); a Git host that stops needs the
    # git_host knob applied, which needs the gitops stack's state
    stacks[f"{env}-{standby}-gitops"]["terraform"]["backend"]["s3"]["region"] = primary
    return f"region:{primary} + git:", f"state is in {primary}"


def _no_second_git_host(stacks, env, primary, standby):
    for region in (primary, standby):
        releases = _releases(stacks, f"{env}-{region}-gitops")
        for name in [n for n, r in releases.items() if r["chart"] == "flux2-sync" and r["name"].endswith("-gitlab")]:
            del releases[name]
        for release in releases.values():
            if not release.get("repository"):
                _edit_values(release, lambda v: v.update(repositories=[
                    r for r in v["repositories"] if not r["secretName"].endswith("gitlab")]))
    return "git:github", "no installed engine with a reachable Git host"


DEFECTS = [_standby_without_workloads, _leaf_without_health_check, _ttl_over_the_rto, _pool_order_unlike_route53,
           _nothing_registers_targets, _state_only_in_the_primary, _no_second_git_host]


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda f: f.__name__.strip("_"))
def test_the_drill_names_the_scenario_and_the_part_of_each_defect(output, defect):
    env = _env_with_standby(output)
    primary, standby = _regions(output, env)
    stacks = copy.deepcopy(output.stacks)
    scenario_prefix, fragment = defect(stacks, env, primary, standby)
    played = drill.drill(Output(stacks), [env])[env]
    caught = [s for s in played if " + ".join(s.failed).startswith(scenario_prefix)
              and s.verdict in ("NOT SURVIVED", "MISSED TARGET") and fragment in " ".join(s.problems)]
    assert caught, f"{defect.__name__}: no failed scenario {scenario_prefix!r} mentioning {fragment!r}"
    assert drill.failures({env: played})


def _alarms(stacks, stack: str) -> dict:
    return stacks[stack]["resource"].get("aws_cloudwatch_metric_alarm", {})


def _regional_stack(output, env, region) -> str:
    return build(output, env).regions[region].stack


def test_an_az_alert_comes_from_the_synthesized_alarm_periods_and_changes_with_them(output):
    """The alert column is the target-group checks plus the zone alarm's periods x datapoints: lengthen
    the period of one region's no-healthy alarms and that region's AZ scenarios alert later by as much."""
    env = _env_with_standby(output)
    primary, _ = _regions(output, env)
    stack = _regional_stack(output, env, primary)
    model = build(output, env)
    zone = sorted(model.regions[primary].lbs["nlb"].zones)[0]
    before = {s.failed[0]: s for s in drill.drill(output, [env])[env] if len(s.failed) == 1}[f"az:{primary}:{zone}"]
    members = [a for a in _alarms(output.stacks, stack).values() if "-no-healthy-" in a["alarm_name"]
               and a["alarm_name"].endswith(zone)]
    assert members and before.alert is not None
    spanning = min(lb.detect for lb in model.regions[primary].lbs.values() if zone in lb.zones)
    assert before.alert == spanning + min(a["period"] * a["datapoints_to_alarm"] for a in members)
    stacks = copy.deepcopy(output.stacks)
    for alarm in _alarms(stacks, stack).values():
        if "-no-healthy-" in alarm["alarm_name"]:
            alarm["period"] = alarm["period"] * 5
    after = {s.failed[0]: s for s in drill.drill(Output(stacks), [env])[env]
             if len(s.failed) == 1}[f"az:{primary}:{zone}"]
    assert after.alert == spanning + min(a["period"] * 5 * a["datapoints_to_alarm"] for a in members)
    assert after.alert > before.alert and after.detect == before.detect  # traffic moves on the target checks


def test_route53_takes_a_region_out_on_its_canary_alarm_after_the_alarm_periods(output, environments):
    """A load balancer whose record lost its health check still answers DNS: only the region's canary
    (its requests through the region's failover name fail) takes the region out, after the alarm's
    datapoints plus one run; a longer alarm period delays the failover by as much."""
    env = next((e for e in _two_region(environments) if environments[e].observability.canary_minutes), None)
    if env is None:
        pytest.skip("no environment with a standby region runs canaries")
    primary, standby = _regions(output, env)
    stacks = copy.deepcopy(output.stacks)
    _leaf_without_health_check(stacks, env, primary, standby)

    def scenario(stacks):
        played = drill.drill(Output(stacks), [env])[env]
        return next(s for s in played if s.failed == [f"lb:{primary}:alb-primary"])

    canary = next(a for a in _alarms(stacks, _regional_stack(output, env, primary)).values()
                  if a.get("namespace") == "CloudWatchSynthetics")
    every = environments[env].observability.canary_minutes * 60
    first = scenario(stacks)
    route53 = next(a for a in first.answers[next(iter(first.answers))] if a.provider == "route53")
    assert route53.lb.startswith(standby) and route53.serving
    assert route53.detect == canary["period"] * canary["datapoints_to_alarm"] + every
    canary["period"] *= 3
    later = next(a for a in scenario(stacks).answers[next(iter(first.answers))] if a.provider == "route53")
    assert later.detect == canary["period"] * canary["datapoints_to_alarm"] + every > route53.detect
