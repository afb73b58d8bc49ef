"""Destroy (spofless destroy, and the rehearsal's): run again only when every error is a delete that
found its resource gone."""

from __future__ import annotations

import subprocess

from tooling.terraform import deploy


from tooling.terraform import rehearse
GONE = ("Error: deleting ELBv2 Listener (arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/app/x/1/2): "
        "operation error Elastic Load Balancing v2: DeleteListener, https response error StatusCode: 400, "
        "RequestID: r, ListenerNotFound: The specified listener does not exist.\n")
IN_USE = ("Error: deleting EC2 Security Group (sg-1): operation error EC2: DeleteSecurityGroup, https response "
          "error StatusCode: 400, DependencyViolation: resource sg-1 has a dependent object\n")
DESTROY_PLAN = "Plan: 0 to add, 0 to change, 3 to destroy.\n"


def test_only_already_gone_errors_qualify():
    assert deploy.already_gone_only("aws_lb_listener.x: Destroying...\n" + GONE)
    assert deploy.already_gone_only(GONE + GONE)
    assert not deploy.already_gone_only(GONE + IN_USE)  # one real failure: no second run
    assert not deploy.already_gone_only(IN_USE)
    assert not deploy.already_gone_only("Error: creating EC2 VPC: NotFound\n")  # not a delete
    assert not deploy.already_gone_only("terraform crashed\n")  # no error line at all


def _fake_terraform(monkeypatch, outputs):
    calls = []

    def run(args, cwd, env, timeout=None):
        calls.append(args[0])
        code, text = outputs[args[0]].pop(0)
        return subprocess.CompletedProcess(args, code, text, "")

    monkeypatch.setattr(deploy, "terraform", run)
    return calls


class Here(deploy.Target):
    def workdir(self, stack):
        return self.outdir


def _destroy(tmp_path):
    return deploy.run_stack("destroy", "dev-us-east-1", Here(tmp_path), approve=lambda o: True,
                            allow_destructive=False, reports=None, parallelism=10)


def test_destroy_runs_again_after_an_already_gone_error_and_says_so(monkeypatch, tmp_path):
    calls = _fake_terraform(monkeypatch, {"init": [(0, "")], "plan": [(2, DESTROY_PLAN), (2, DESTROY_PLAN)],
                                          "apply": [(1, GONE), (0, "Destroy complete!")]})
    outcome = _destroy(tmp_path)
    assert calls == ["init", "plan", "apply", "plan", "apply"]
    assert outcome.status == "destroyed" and outcome.counts["destroy"] == 3
    assert "ListenerNotFound" in outcome.notes[0]
    result = rehearse.StackResult("dev-us-east-1", notes=outcome.notes)
    assert "note: destroy ran twice" in rehearse.format_report(rehearse.Rehearsal("dev", stacks=[result]))


def test_any_other_destroy_failure_is_reported_not_retried(monkeypatch, tmp_path):
    calls = _fake_terraform(monkeypatch, {"init": [(0, "")], "plan": [(2, DESTROY_PLAN)],
                                          "apply": [(1, GONE + IN_USE)]})
    outcome = _destroy(tmp_path)
    assert calls == ["init", "plan", "apply"] and outcome.status == "failed" and not outcome.notes
    assert "deleting" in outcome.detail
