"""The rehearsal's destroy: run again only when every error is a delete that found its resource gone."""

from __future__ import annotations

import subprocess

from tooling import rehearse

GONE = ("Error: deleting ELBv2 Listener (arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/app/x/1/2): "
        "operation error Elastic Load Balancing v2: DeleteListener, https response error StatusCode: 400, "
        "RequestID: r, ListenerNotFound: The specified listener does not exist.\n")
IN_USE = ("Error: deleting EC2 Security Group (sg-1): operation error EC2: DeleteSecurityGroup, https response "
          "error StatusCode: 400, DependencyViolation: resource sg-1 has a dependent object\n")


def test_only_already_gone_errors_qualify():
    assert rehearse.already_gone_only("aws_lb_listener.x: Destroying...\n" + GONE)
    assert rehearse.already_gone_only(GONE + GONE)
    assert not rehearse.already_gone_only(GONE + IN_USE)  # one real failure: no second run
    assert not rehearse.already_gone_only(IN_USE)
    assert not rehearse.already_gone_only("Error: creating EC2 VPC: NotFound\n")  # not a delete
    assert not rehearse.already_gone_only("terraform crashed\n")  # no error line at all


def _fake_terraform(monkeypatch, outputs):
    calls = []

    def run(args, cwd, env):
        calls.append(args[0])
        if args[0] == "state":
            return subprocess.CompletedProcess(args, 0, "", "")  # nothing left in state
        code, text = outputs.pop(0)
        return subprocess.CompletedProcess(args, code, text, "")

    monkeypatch.setattr(rehearse, "_terraform", run)
    return calls


def test_destroy_runs_again_after_an_already_gone_error_and_says_so(monkeypatch, tmp_path):
    calls = _fake_terraform(monkeypatch, [(1, GONE), (0, "Destroy complete!")])
    result = rehearse.StackResult("dev-us-east-1")
    assert rehearse.destroy_stack(result, tmp_path, {})
    assert calls == ["destroy", "destroy", "state"] and not result.error
    assert "ListenerNotFound" in result.notes[0]
    assert "note: destroy ran twice" in rehearse.format_report(rehearse.Rehearsal("dev", stacks=[result]))


def test_any_other_destroy_failure_is_reported_not_retried(monkeypatch, tmp_path):
    calls = _fake_terraform(monkeypatch, [(1, GONE + IN_USE)])
    result = rehearse.StackResult("dev-us-east-1")
    assert not rehearse.destroy_stack(result, tmp_path, {})
    assert calls == ["destroy", "state"] and "DependencyViolation" in result.error and not result.notes
