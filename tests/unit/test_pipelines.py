"""Both Git hosts run the same pipeline: GitHub's commands are checked against the definition
(tooling/review/pipelines.py), GitLab's file is rendered from it; a step one side gains or loses fails."""

from __future__ import annotations

import copy
import json

import yaml

from tooling.review import pipelines
from tooling.review.drift import verdicts


def _files():
    return (yaml.safe_load(pipelines.GITHUB_WORKFLOW.read_text()),
            yaml.safe_load(pipelines.GITLAB_PIPELINE.read_text()))


def test_both_hosts_run_what_the_definition_says_and_gitlab_is_its_rendering():
    github, gitlab = _files()
    assert pipelines.parity(github, gitlab) == []
    assert pipelines.GITLAB_PIPELINE.read_text() == pipelines.gitlab_pipeline()
    assert pipelines.main(["check"]) == 0


def test_a_step_removed_from_one_side_or_added_to_the_other_fails_the_check():
    github, gitlab = _files()
    fewer = copy.deepcopy(github)
    fewer["jobs"]["check"]["steps"] = [s for s in fewer["jobs"]["check"]["steps"] if s.get("run") != "make dns-check"]
    assert any("github job check" in p for p in pipelines.parity(fewer, gitlab))
    more = copy.deepcopy(gitlab)
    more["test"]["script"].append("make test-fast")
    assert any("gitlab job test" in p for p in pipelines.parity(github, more))
    extra = copy.deepcopy(gitlab)
    extra["deploy"] = {"stage": "deploy", "script": ["make deploy"]}
    assert any("gitlab job deploy" in p for p in pipelines.parity(github, extra))


def test_a_failed_diff_still_publishes_the_drift_and_fails_the_job_on_both_hosts():
    """A stack that could not be planned is drift too: the issue step runs after `make diff` failed."""
    github, gitlab = _files()
    script = gitlab["drift"]["script"]
    assert script[-1] == pipelines.FAILED_AT_THE_END
    assert script.index("make diff STACK_FLAGS=--quiet || STEP_FAILED=1") < next(
        i for i, c in enumerate(script) if "tooling.review.drift" in c)
    stopping = copy.deepcopy(gitlab)
    stopping["drift"]["script"] = [c.removesuffix(pipelines.TOLERATED) for c in script]
    assert any("gitlab job drift" in p for p in pipelines.parity(github, stopping))
    skipping = copy.deepcopy(github)
    for step in skipping["jobs"]["drift"]["steps"]:
        if "tooling.review.drift" in step.get("run", ""):
            step["if"] = "${{ success() }}"
    assert any("github job drift" in p for p in pipelines.parity(skipping, gitlab))


def test_gitlab_plans_by_oidc_from_the_protected_environment_and_comments_from_the_default_branch():
    _, gitlab = _files()
    for name in ("plan", "drift"):
        job = gitlab[name]
        assert job["environment"]["name"] == "plan" and job["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "sts.amazonaws.com"
        assert job["variables"]["AWS_ROLE_ARN"] == "$AWS_PLAN_ROLE_ARN"
    comment = gitlab["comment"]
    assert comment["variables"]["GIT_STRATEGY"] == "none" and "id_tokens" not in comment
    assert any('--branch "$CI_DEFAULT_BRANCH"' in line for line in comment["before_script"])
    assert comment["needs"] == [{"job": "plan", "artifacts": True}]


def test_drift_names_each_environment_and_fails_on_a_change_or_an_unplanned_stack(tmp_path):
    report = {"environments": ["dev", "prod", "staging"], "stacks": [
        {"stack": "dev-us-east-1", "status": "no changes"},
        {"stack": "prod-us-east-1", "status": "changes", "counts": {"create": 0, "update": 2, "replace": 0,
                                                                     "destroy": 0}},
        {"stack": "staging-security", "status": "failed", "detail": "no valid credential sources"}]}
    found = verdicts(report)
    assert found["dev"] == ("matches main", [])
    assert found["prod"] == ("DRIFTED", ["prod-us-east-1 +0 ~2 -/+0 -0"])
    assert found["staging"][0] == "UNKNOWN"
    path = tmp_path / "diff.json"
    path.write_text(json.dumps(report))
    from tooling.review import drift
    assert drift.main([str(path)]) == 1
    path.write_text(json.dumps({"environments": ["dev"], "stacks": [{"stack": "dev-security", "status": "no changes"}]}))
    assert drift.main([str(path)]) == 0


def test_the_gitlab_poster_reads_notes_in_the_shape_the_upsert_matches(monkeypatch):
    from tooling.review import pr_review

    client = pr_review.GitLab("token", "https://gitlab.example/api/v4", "group/project", 7)
    calls = []

    def call(method, path, body=None):
        calls.append((method, path))
        if method == "GET" and path == "/user":
            return {"username": "project_1_bot"}
        if method == "GET":
            return [{"id": 3, "body": "<!-- spofless-plan: prod -->\nplanted", "author": {"username": "someone"}},
                    {"id": 4, "body": "<!-- spofless-plan: prod -->\nold", "author": {"username": "project_1_bot"}}]
        return {"id": 4}
    monkeypatch.setattr(client, "_call", call)
    body = "<!-- spofless-plan: prod -->\nnew"
    assert pr_review.upsert(client, "group/project", 7, body, client.login()) == "updated 4"
    assert ("PUT", "/projects/group%2Fproject/merge_requests/7/notes/4") in calls


class FakeIssues:
    def __init__(self, issues):
        self.issues, self.calls = issues, []

    def open_issues(self):
        return list(self.issues)

    def create(self, title, body):
        self.calls.append(("create", title))

    def update(self, number, body):
        self.calls.append(("update", number))

    def close(self, number, body):
        self.calls.append(("close", number))


def test_drift_keeps_one_issue_per_environment_and_closes_it_when_main_matches_again():
    from tooling.review.drift import publish

    bot = "github-actions[bot]"
    found = {"dev": ("matches main", []), "prod": ("DRIFTED", ["prod-us-east-1 +0 ~2 -/+0 -0"]),
             "staging": ("UNKNOWN", ["staging-security failed: no credentials"])}
    host = FakeIssues([{"id": 11, "title": "spofless drift: dev", "author": bot},
                       {"id": 12, "title": "spofless drift: prod", "author": bot},
                       {"id": 13, "title": "spofless drift: staging", "author": "someone"}])  # not ours: left alone
    assert publish(host, bot, found) == ["dev: closed #11", "prod: updated #12", "staging: opened"]
    assert host.calls == [("close", 11), ("update", 12), ("create", "spofless drift: staging")]
