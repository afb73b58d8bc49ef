"""spofless deploy / diff / plan / destroy: order, parallelism, stopping, waiting, selection.

Terraform itself is replaced by a fake here (the rehearsal and `spofless deploy --emulator`
run the real one); what is tested is the schedule and how Terraform's answers are read.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from policies.model.output import Output
from tooling.terraform import deploy
from tooling.terraform.deploy import Outcome, Target


@pytest.fixture(scope="module")
def output(synth_dir):
    return Output.load(synth_dir)


class FakeTerraform:
    """run_stack's stand-in: records when each stack ran, answers from ``results``."""

    def __init__(self, results=None, seconds=0.05):
        self.results, self.seconds = results or {}, seconds
        self.spans: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def __call__(self, action, stack, target, **_):
        started = time.monotonic()
        time.sleep(self.seconds)
        with self.lock:
            self.spans[stack] = (started, time.monotonic())
        status = self.results.get(stack, {"deploy": "applied", "destroy": "destroyed"}.get(action, "no changes"))
        return Outcome(stack, action, status)


def _before(spans, first, then):
    return spans[first][1] <= spans[then][0]


@pytest.mark.parametrize("jobs", [1, 3])
def test_every_stack_runs_after_the_stacks_it_reads(output, environments, monkeypatch, jobs):
    fake = FakeTerraform()
    monkeypatch.setattr(deploy, "run_stack", fake)
    for env in environments:
        stacks = output.deployment_of(env)  # the account baseline first, then the environment
        assert not set(output.dependencies(stacks[-1])) - set(stacks) - set(output.stacks), "an unknown dependency"
        outcomes = deploy.run("deploy", output, stacks, Target(Path("unused")), jobs=jobs, quiet=True)
        assert sorted(o.stack for o in outcomes) == sorted(stacks)
        assert all(o.status == "applied" for o in outcomes)
        for stack in stacks:
            for dependency in output.dependencies(stack):
                assert _before(fake.spans, dependency, stack), f"{stack} ran before {dependency}"


def test_stacks_that_do_not_depend_on_each_other_run_side_by_side(output, environments, monkeypatch):
    multi = [e for e in environments.values() if len(e.regions.all) > 1]
    if not multi:
        pytest.skip("no environment has two regions")
    env = multi[0]
    fake = FakeTerraform(seconds=0.3)
    monkeypatch.setattr(deploy, "run_stack", fake)
    deploy.run("deploy", output, output.stacks_of(env.name), Target(Path("unused")), jobs=2, quiet=True)
    first, second = (f"{env.name}-{r.name}" for r in env.regions.all[:2])
    (a0, a1), (b0, b1) = fake.spans[first], fake.spans[second]
    assert a0 < b1 and b0 < a1, "the regions of one environment were applied one after the other"


def test_destroy_runs_dependents_first(output, environments, monkeypatch):
    fake = FakeTerraform()
    monkeypatch.setattr(deploy, "run_stack", fake)
    for env in environments:
        stacks = output.stacks_of(env)
        deploy.run("destroy", output, stacks, Target(Path("unused")), jobs=2, quiet=True)
        assert not set(fake.spans) & set(output.account_stacks()), "destroying an environment took its account's"
        for stack in stacks:
            for dependency in output.dependencies(stack):
                if dependency in stacks:  # the account baseline stays for the account's other environments
                    assert _before(fake.spans, stack, dependency), f"{dependency} destroyed before {stack}"


def _with_dependents(output, stacks):
    """A stack that others read from, and everything downstream of it."""
    failing = next(s for s in stacks if any(s in output.dependencies(t) for t in stacks))
    downstream, frontier = set(), {failing}
    while frontier:
        frontier = {t for t in stacks if set(output.dependencies(t)) & frontier} - downstream
        downstream |= frontier
    return failing, downstream


def _one_stack_answers(output, environments, monkeypatch, action, status, jobs):
    """Run ``action`` over the first environment with its first upstream stack answering ``status``:
    (that stack, the stacks downstream of it, the stacks, the outcomes by stack)."""
    stacks = output.stacks_of(sorted(environments)[0])
    first, downstream = _with_dependents(output, stacks)
    monkeypatch.setattr(deploy, "run_stack", FakeTerraform({first: status}))
    outcomes = deploy.run(action, output, stacks, Target(Path("unused")), jobs=jobs, quiet=True)
    return first, downstream, stacks, {o.stack: o for o in outcomes}


def test_deploy_stops_at_the_first_failure_and_says_what_did_not_run(output, environments, monkeypatch):
    failing, downstream, _, outcomes = _one_stack_answers(output, environments, monkeypatch, "deploy", "failed", 1)
    assert outcomes[failing].status == "failed"
    assert downstream and all(outcomes[s].status == "not run" for s in downstream)
    assert deploy.exit_status("deploy", list(outcomes.values())) == 1
    assert "not run" in deploy.summary("deploy", list(outcomes.values()))


def test_diff_goes_on_past_a_stack_that_waits_and_marks_what_follows(output, environments, monkeypatch):
    waiting, downstream, stacks, outcomes = _one_stack_answers(output, environments, monkeypatch, "diff", "waits", 2)
    assert all(outcomes[s].status == "waits" and "waits for" in outcomes[s].detail for s in downstream)
    others = set(stacks) - downstream - {waiting}
    assert all(outcomes[s].status == "no changes" for s in others)
    assert deploy.exit_status("diff", list(outcomes.values())) == 0


def test_the_emulator_runs_only_aws_stacks_and_says_why_the_others_are_left(output, environments):
    for env in environments:
        chosen, left = deploy.select_stacks(output, [env], emulated=True)
        assert set(chosen) == set(output.deployment_of(env)) & set(output.aws_only())
        assert set(left) == set(output.deployment_of(env)) - set(chosen)
        assert all(why.startswith("not emulated: needs ") for why in left.values())
        chosen, left = deploy.select_stacks(output, [env], emulated=False)
        assert sorted(chosen) == sorted(output.deployment_of(env)) and not left
        assert set(output.account_stacks()) & set(chosen), "deploying an environment leaves its account baseline"
        chosen, _ = deploy.select_stacks(output, [env], emulated=False, action="destroy")
        assert sorted(chosen) == sorted(output.stacks_of(env)), "destroying an environment takes its account's"


def test_an_unknown_environment_is_one_clear_error(output):
    with pytest.raises(deploy.DeployError, match="nosuch: not in the synthesized output"):
        deploy.select_stacks(output, ["nosuch"], emulated=False)


def test_deploy_never_runs_on_every_environment_by_default(synth_dir, capsys, monkeypatch):
    monkeypatch.delenv("SPOFLESS_ENVS", raising=False)
    assert deploy.main(["deploy", "--out", str(synth_dir), "--auto-approve"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs -e/--env" in err


# -- reading Terraform's answers ---------------------------------------------------------------

def _fake_terraform(monkeypatch, answers):
    calls = []

    def fake(args, cwd, env, timeout=None):
        calls.append(args[0])
        code, stdout, stderr = answers[args[0]]
        return subprocess.CompletedProcess(["terraform", *args], code, stdout, stderr)
    monkeypatch.setattr(deploy, "terraform", fake)
    return calls


def test_a_plan_that_cannot_read_its_upstream_state_waits(monkeypatch, tmp_path):
    for message in ('Error: Unable to find remote state\n\n  with data.terraform_remote_state.x',
                    'Error: Unsupported attribute\n  This object does not have an attribute named '
                    '"cross-stack-output-aws_lbx.arn".'):
        _fake_terraform(monkeypatch, {"plan": (1, "", message)})
        outcome = Outcome("s", "diff")
        deploy._plan(outcome, tmp_path, {})
        assert outcome.status == "waits", message


def test_a_provider_that_cannot_be_installed_is_unavailable_not_failed(monkeypatch, tmp_path):
    _fake_terraform(monkeypatch, {"init": (1, "", "Error: Failed to query available provider packages\n\n"
                                             "Could not retrieve the list of available versions for provider "
                                             "cloudflare/cloudflare: could not connect to registry.terraform.io")})
    outcome = Outcome("s", "diff")
    assert not deploy._init(outcome, tmp_path, {})
    assert outcome.status == "unavailable" and "cloudflare/cloudflare" in outcome.detail


def _plan_json(*changes):
    return json.dumps({"resource_changes": [
        {"address": f"{t}.{n}", "type": t, "name": n,
         "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}}}
        for t, n, actions, before, after in changes]})


def test_on_the_emulator_a_plan_of_documented_quirks_only_is_no_change(monkeypatch, tmp_path):
    quirk = ("aws_vpc_security_group_ingress_rule", "r", ["update"], {"description": "x"}, {"description": None})
    _fake_terraform(monkeypatch, {"plan": (2, "", ""), "show": (0, _plan_json(quirk), "")})
    outcome = Outcome("s", "diff")
    deploy._plan(outcome, tmp_path, {}, emulated=True)
    assert outcome.status == "no changes" and "emulator quirks only" in outcome.detail
    real = ("aws_lb", "alb", ["update"], {"idle_timeout": 60}, {"idle_timeout": 30})
    _fake_terraform(monkeypatch, {"plan": (2, "", ""), "show": (0, _plan_json(quirk, real), "")})
    outcome = Outcome("s", "diff")
    deploy._plan(outcome, tmp_path, {}, emulated=True)
    assert outcome.status == "changes" and outcome.counts["update"] == 2


def test_deploy_refuses_a_stateful_replacement_unless_allowed(monkeypatch, tmp_path):
    zone = ("aws_route53_zone", "zone", ["delete", "create"], {"name": "a"}, {"name": "b"})
    calls = _fake_terraform(monkeypatch, {"init": (0, "", ""), "plan": (2, "", ""),
                                          "show": (0, _plan_json(zone), ""), "apply": (0, "", "")})

    class Here(Target):
        def workdir(self, stack):
            return tmp_path
    outcome = deploy.run_stack("deploy", "s", Here(tmp_path), approve=lambda o: True, allow_destructive=False,
                               reports=None, parallelism=10)
    assert outcome.status == "failed" and "hosted zone" in outcome.detail and "apply" not in calls
    outcome = deploy.run_stack("deploy", "s", Here(tmp_path), approve=lambda o: True, allow_destructive=True,
                               reports=None, parallelism=10)
    assert outcome.status == "applied" and calls[-1] == "apply"


def test_the_review_text_starts_at_the_plan_legend():
    stdout = ("data.aws_partition.p: Reading...\ndata.aws_partition.p: Read complete after 0s\n\n"
              "Terraform used the selected providers to generate the following execution plan.\n  + create\n")
    assert deploy.plan_text(stdout).startswith("Terraform used the selected providers")


def test_progress_says_what_is_still_running_and_quiet_says_nothing(monkeypatch):
    import io

    monkeypatch.setattr(deploy, "HEARTBEAT", 0.05)
    for quiet in (False, True):
        stream = io.StringIO()
        progress = deploy.Progress(1, "deploy", quiet, stream=stream)
        progress.started("dev-us-east-1")
        time.sleep(0.3)
        progress.finished(Outcome("dev-us-east-1", "deploy", "applied", 0.3))
        progress.close()
        text = stream.getvalue()
        if quiet:
            assert text == ""
        else:
            assert "still running dev-us-east-1" in text and "applied" in text.splitlines()[-1]


def test_a_diff_of_applied_stacks_can_run_them_all_at_once(output, environments, monkeypatch):
    fake = FakeTerraform(seconds=0.3)
    monkeypatch.setattr(deploy, "run_stack", fake)
    stacks = output.stacks_of(sorted(environments)[0])
    deploy.run("diff", output, stacks, Target(Path("unused")), jobs=len(stacks), quiet=True, ordered=False)
    latest_start = max(start for start, _ in fake.spans.values())
    earliest_end = min(end for _, end in fake.spans.values())
    assert latest_start < earliest_end, "a stack waited for another"


# -- destroy: consent, and the public path last --------------------------------------------------

def test_destroy_keeps_the_public_names_until_everything_off_the_request_path_is_gone(output, environments,
                                                                                      monkeypatch):
    from modules.stacks import names

    fake = FakeTerraform()
    monkeypatch.setattr(deploy, "run_stack", fake)
    for env in environments:
        stacks = output.stacks_of(env)
        deploy.run("destroy", output, stacks, Target(Path("unused")), jobs=2, quiet=True)
        kinds = {s: names.parse(s).kind for s in stacks}
        public = [s for s in stacks if kinds[s] in deploy.PUBLIC_PATH_KINDS]
        off_path = [s for s in stacks if kinds[s] in deploy.OFF_PATH_KINDS]
        assert public and off_path
        for name in public:
            for other in off_path:
                assert _before(fake.spans, other, name), f"{name} (public names) destroyed before {other}"


def _destroy(synth_dir, tmp_path, monkeypatch, env, *flags):
    fake = FakeTerraform()
    monkeypatch.setattr(deploy, "run_stack", fake)
    monkeypatch.setattr(deploy, "CLI_CONFIG", synth_dir / "manifest.json")  # no set-up
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    status = deploy.main(["destroy", "-e", env, "--auto-approve", "--out", str(synth_dir),
                          "--reports", str(tmp_path), "--quiet", *flags])
    return status, fake


@pytest.mark.parametrize("flags, why", [
    ((), "it needs --allow-destructive"),
    (("--allow-destructive",), "name was not confirmed"),
    (("--allow-destructive", "--confirm", "not-this-one"), "name was not confirmed"),
])
def test_destroy_refuses_without_consent_and_names_what_it_would_remove(synth_dir, tmp_path, monkeypatch, capsys,
                                                                         output, environments, flags, why):
    monkeypatch.setenv("SPOFLESS_ALLOW_DESTRUCTIVE", "1")  # never a stand-in for the flag in destroy
    for env in environments:
        status, fake = _destroy(synth_dir, tmp_path, monkeypatch, env, *flags)
        error = capsys.readouterr().err
        assert status == 2 and not fake.spans, "a stack was destroyed without consent"
        assert why in error and f"--confirm {env}" in error
        stacks = output.stacks_of(env)
        assert f"would remove {len(stacks)} stacks of {env}" in error
        assert all(f"{s} (" in error for s in stacks)


def test_destroy_runs_with_the_flag_and_the_environments_name(synth_dir, tmp_path, monkeypatch, output,
                                                              environments):
    env = sorted(environments)[0]
    status, fake = _destroy(synth_dir, tmp_path, monkeypatch, env, "--allow-destructive", "--confirm", env)
    assert status == 0 and sorted(fake.spans) == sorted(output.stacks_of(env))


def test_destroy_asks_for_the_name_at_a_terminal(output, environments):
    env = sorted(environments)[0]
    stacks = output.stacks_of(env)
    deploy.destroy_consent([env], stacks, output, allowed=True, confirmed=[], ask=lambda prompt: env)
    with pytest.raises(deploy.DeployError, match="not confirmed"):
        deploy.destroy_consent([env], stacks, output, allowed=True, confirmed=[], ask=lambda prompt: "yes")


def test_diff_and_plan_take_no_state_lock_and_deploy_does(monkeypatch, tmp_path):
    """A read-only plan role can plan: -lock=false writes no lock object into the state bucket."""
    seen = []

    def terraform(args, work, env, timeout):
        seen.append(args)
        return subprocess.CompletedProcess(args, 0, "", "")
    monkeypatch.setattr(deploy, "terraform", terraform)
    deploy._plan(Outcome("s", "plan"), tmp_path, {}, read_only=True)
    deploy._plan(Outcome("s", "deploy"), tmp_path, {})
    assert "-lock=false" in seen[0] and not any(a.startswith("-lock-timeout") for a in seen[0])
    assert "-lock-timeout=60s" in seen[1] and "-lock=false" not in seen[1]


def test_emulator_quirks_show_once_per_kind_with_their_reason_not_on_every_row():
    from tooling.terraform.emulated import PLAN_QUIRKS

    detail = ("emulator quirks only: aws_vpc_security_group_ingress_rule.a.description, "
              "aws_vpc_security_group_ingress_rule.b.description")
    outcomes = [deploy.Outcome(f"dev-stack-{i}", "diff", "no changes", detail=detail) for i in range(3)]
    text = deploy.summary("diff", outcomes)
    assert "ingress_rule.a.description" not in text
    assert text.count("emulator quirks only (1 kind, below)") == 3
    reason = PLAN_QUIRKS[("aws_vpc_security_group_ingress_rule", "description")]
    assert text.count(reason) == 1
    assert "emulator quirk aws_vpc_security_group_ingress_rule.description (3 stacks)" in text
