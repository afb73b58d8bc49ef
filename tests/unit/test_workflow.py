"""The GitHub workflow and the pre-commit hooks: pinned, least privilege, and running what the README says."""

from __future__ import annotations

import re

import yaml

from tests.conftest import PROJECT

WORKFLOW = PROJECT / ".github" / "workflows" / "check.yml"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(workflow: dict):
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield name, job, step


def test_every_action_is_pinned_to_a_commit_with_its_tag_beside_it():
    text = WORKFLOW.read_text()
    uses = re.findall(r"uses: (\S+)(.*)$", text, re.MULTILINE)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"\s+# v\d+(\.\d+)*", comment), f"{action}: no version comment"


def test_checkouts_keep_no_credentials_and_jobs_get_only_what_they_use():
    workflow = _workflow()
    assert workflow["permissions"] == {"contents": "read"}
    for name, job, step in _steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, name
    writers = {name: job.get("permissions", {}) for name, job in workflow["jobs"].items()}
    assert [n for n, p in writers.items() if p.get("security-events") == "write"] == ["code-scanning"]
    # the job that runs the pull request's code with cloud credentials cannot comment, and the one that
    # comments has no cloud credentials and runs the base branch's code
    assert [n for n, p in writers.items() if p.get("pull-requests") == "write"] == ["comment"]
    assert sorted(n for n, p in writers.items() if p.get("id-token") == "write") == ["drift", "plan"]
    jobs = workflow["jobs"]
    assert jobs["plan"]["environment"] == jobs["drift"]["environment"] == "plan"
    (checkout,) = [s for s in jobs["comment"]["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"


def test_sarif_is_uploaded_only_where_code_scanning_exists_and_never_for_a_fork():
    job = _workflow()["jobs"]["code-scanning"]
    assert "vars.CODE_SCANNING == 'true'" in job["if"] and "head.repo.full_name == github.repository" in job["if"]
    (upload,) = [s for s in job["steps"] if "upload-sarif" in s.get("uses", "")]
    assert "hashFiles('reports/spofless.sarif')" in upload["if"]
    assert upload["with"]["sarif_file"] == "reports/spofless.sarif"


def test_every_pull_request_runs_the_readme_test_command_and_the_plan_comment_is_updated_in_place():
    workflow = _workflow()
    assert workflow["concurrency"]["group"]
    assert any(step.get("run") == "bash .ci/run" for _, _, step in _steps({"jobs": {"t": workflow["jobs"]["test"]}}))
    assert "make test" in (PROJECT / ".ci" / "run").read_text()
    plan, comment = workflow["jobs"]["plan"], workflow["jobs"]["comment"]
    post = [s for s in comment["steps"] if "tooling.review.pr_review post" in s.get("run", "")]
    assert len(post) == 1 and "hashFiles('reports/pr/*.md')" in post[0]["if"]
    assert "head.repo.full_name == github.repository" in plan["if"] and comment["needs"] == "plan"


def test_pre_commit_runs_ruff_the_schema_check_and_the_gate():
    config = yaml.safe_load((PROJECT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: (repo["repo"], repo.get("rev"), hook) for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "check-jsonschema", "spofless-check", "spofless-schema"} <= set(hooks)
    assert all(rev for repo, rev, _ in hooks.values() if repo != "local")
    assert hooks["check-jsonschema"][2]["args"] == ["--schemafile", "environments/schema.json"]


def test_remote_hooks_are_pinned_to_a_commit_with_the_tag_beside_it():
    text = (PROJECT / ".pre-commit-config.yaml").read_text()
    revs = re.findall(r"^\s+rev: (.*)$", text, re.MULTILINE)
    assert revs
    for rev in revs:
        assert re.fullmatch(r"[0-9a-f]{40}  # frozen: v?\d+(\.\d+)*", rev), rev
