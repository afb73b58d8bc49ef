"""The pipelines on both Git hosts, from one definition: what runs, in which job, with which rights.

    python -m tooling.review.pipelines gitlab > .gitlab-ci.yml     (the GitLab pipeline is generated)
    python -m tooling.review.pipelines check                       (both files against the definition)

GitHub Actions (``.github/workflows/check.yml``) carries what only GitHub has (pinned actions, caches,
code scanning's upload); every command it runs is checked against :data:`PIPELINE`, and GitLab CI
(``.gitlab-ci.yml``) is rendered from it. A job or step one host gains and the other lacks fails
``check`` (tests/unit/test_pipelines.py), so the two cannot drift.

Rights, the same on both hosts:
- ``plan`` plans with the read-only plan role (``-lock=false``: no state lock, no write to state), by
  OIDC from a protected environment named ``plan``; it has no right to comment.
- ``comment`` posts the plan job's reviews from its artifact with the host's comment right, runs the
  default branch's code (not the merge request's) and has no cloud credentials.
- ``drift`` runs on a schedule from the default branch with the same read-only role, and keeps one issue
  per environment (the host's issue right; GitLab: ``GITLAB_NOTE_TOKEN``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import yaml

PROJECT = Path(__file__).resolve().parents[2]
GITHUB_WORKFLOW = PROJECT / ".github" / "workflows" / "check.yml"
GITLAB_PIPELINE = PROJECT / ".gitlab-ci.yml"

# the host-specific words of a command: {pr} the change's number, {host} the host
# {base}: the branch the change merges into
HOSTS = {
    "github": {"pr": '"${{ github.event.pull_request.number }}"', "host": "github",
               "base": '"$BASE_REF"'},  # the step's env: BASE_REF: ${{ github.base_ref }} (no expression in a script)
    "gitlab": {"pr": '"$CI_MERGE_REQUEST_IID"', "host": "gitlab", "base": '"$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"'},
}


@dataclass(frozen=True)
class Job:
    name: str
    steps: tuple[str, ...]
    when: str = "change"          # "change" (every push and pull/merge request), "review" (pull/merge requests), "schedule"
    rights: str = "none"          # "none", "plan" (the read-only cloud role), "comment" (the host's comment right)
    needs: tuple[str, ...] = ()
    # a step whose failure must not skip the later ones (they report it); the job still fails at the end
    tolerated: str = ""

    def commands(self, host: str) -> list[str]:
        return [step.format(**HOSTS[host]) for step in self.steps]


PIPELINE: tuple[Job, ...] = (
    Job("check", ("make check", "make dns-check", "make diagram",
                  ".venv/bin/python -m tooling.review.sarif reports/results_sarif.sarif --out reports/spofless.sarif"
                  " --codequality reports/codequality.json")),
    Job("test", ("bash .ci/run",)),
    Job("engines", ("make test-cdktn",)),
    # the comment also shows what the change does to the generated Terraform against the base branch
    Job("plan", ("git fetch --no-tags --depth 1 origin {base}", 'make plan STACK_FLAGS="--quiet --against FETCH_HEAD"'),
        when="review", rights="plan", needs=("check",)),
    Job("comment", ("python3 -m tooling.review.pr_review post --host {host} --pr {pr} reports/pr/*.md",),
        when="review", rights="comment", needs=("plan",)),
    # a stack that could not be planned is drift too: the issue is written whatever `make diff` returned
    Job("drift", ("make diff STACK_FLAGS=--quiet",
                  ".venv/bin/python -m tooling.review.drift reports/diff.json --publish {host}"),
        when="schedule", rights="plan", tolerated="make diff STACK_FLAGS=--quiet"),
)

TERRAFORM_VERSION = "1.11.4"
# What the GitHub jobs get from actions/setup-*: Node (the CDKTF CLI), Terraform from HashiCorp's signed apt
# repository (the key over HTTPS, as setup-terraform trusts releases.hashicorp.com), unzip.
GITLAB_TOOLS = (
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm unzip gnupg > /dev/null",
    "curl -fsSL https://apt.releases.hashicorp.com/gpg | gpg --dearmor -o /usr/share/keyrings/hashicorp.gpg",
    'echo "deb [signed-by=/usr/share/keyrings/hashicorp.gpg] https://apt.releases.hashicorp.com bookworm main"'
    " > /etc/apt/sources.list.d/hashicorp.list",
    'apt-get update -qq && apt-get install -y -qq "terraform=${TERRAFORM_VERSION}-1" > /dev/null',
)

# GitLab runs a job's script lines in one shell and stops at the first failure: a tolerated step records
# its failure instead, and the last line fails the job. (GitHub: the later steps run `if: !cancelled()`.)
TOLERATED, FAILED_AT_THE_END = " || STEP_FAILED=1", 'test -z "${STEP_FAILED:-}"'


def _gitlab_script(job: Job) -> list[str]:
    script = [f"{c}{TOLERATED}" if c == job.tolerated else c for c in job.commands("gitlab")]
    return [*script, FAILED_AT_THE_END] if job.tolerated else script


_RULES = {
    "change": [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'},
               {"if": '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"'}],
    "review": [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event" && $AWS_PLAN_ROLE_ARN'}],
    "schedule": [{"if": '$CI_PIPELINE_SOURCE == "schedule" && $AWS_PLAN_ROLE_ARN'}],
}


def gitlab_pipeline() -> str:
    """``.gitlab-ci.yml``, rendered from :data:`PIPELINE` (deterministic)."""
    jobs: dict = {}
    for job in PIPELINE:
        conf: dict = {"stage": job.name, "rules": [dict(rule) for rule in _RULES[job.when]],
                      "script": _gitlab_script(job) if job.rights != "plan" else
                      ['printf %s "$AWS_ID_TOKEN" > "$CI_BUILDS_DIR/aws-web-identity"', *_gitlab_script(job)]}
        if job.needs:
            conf["needs"] = [{"job": n, "artifacts": n == "plan"} for n in job.needs]
        if job.rights == "plan":
            # OIDC: the role's trust names this project's protected environment (README)
            conf["environment"] = {"name": "plan", "action": "access"}
            conf["id_tokens"] = {"AWS_ID_TOKEN": {"aud": "sts.amazonaws.com"}}
            conf["variables"] = {"AWS_ROLE_ARN": "$AWS_PLAN_ROLE_ARN",
                                 "AWS_WEB_IDENTITY_TOKEN_FILE": "$CI_BUILDS_DIR/aws-web-identity"}
        if job.rights == "comment":
            # the default branch's code posts; the merge request's code never holds the note token
            conf["variables"] = {"GIT_STRATEGY": "none"}
            conf["before_script"] = ['git clone --depth 1 --branch "$CI_DEFAULT_BRANCH" "$CI_REPOSITORY_URL" .poster',
                                     "cd .poster && mkdir -p reports && cp -r ../reports/pr reports/"]
        if job.name in ("check", "plan", "drift"):
            conf["artifacts"] = {"when": "always", "paths": ["reports/"], "expire_in": "30 days"}
        if job.name == "check":
            # GitLab's code scanning in every tier: the gate's findings in the merge request (tooling/review/sarif.py)
            conf["artifacts"]["reports"] = {"codequality": "reports/codequality.json"}
        jobs[job.name] = conf
    document = {
        "default": {"image": "python:3.11-bookworm", "before_script": list(GITLAB_TOOLS)},
        "variables": {"TERRAFORM_VERSION": TERRAFORM_VERSION},
        "stages": [job.name for job in PIPELINE],
        **jobs,
    }
    return (f"# Generated by `python -m tooling.review.pipelines gitlab` from {Path(__file__).relative_to(PROJECT)}:\n"
            "# edit the definition there, not this file (`make test` fails when they differ).\n"
            + yaml.safe_dump(document, sort_keys=False, width=120))


def github_commands(workflow: dict) -> dict[str, list[str]]:
    """``{job: [run commands]}`` of the GitHub workflow."""
    return {name: [step["run"] for step in job.get("steps", []) if "run" in step]
            for name, job in (workflow.get("jobs") or {}).items()}


def gitlab_commands(pipeline: dict) -> dict[str, list[str]]:
    """``{job: [script commands]}`` of a GitLab pipeline (the identity-token line of plan jobs and the
    tolerated-step bookkeeping aside)."""
    return {name: [c.removesuffix(TOLERATED) for c in conf.get("script", [])
                   if "AWS_ID_TOKEN" not in c and c != FAILED_AT_THE_END]
            for name, conf in pipeline.items() if isinstance(conf, dict) and "script" in conf}


def _tolerance(github: dict, gitlab: dict) -> list[str]:
    """After a tolerated step, GitHub's later steps run unless cancelled and GitLab records and fails at the end."""
    problems = []
    for job in (j for j in PIPELINE if j.tolerated):
        steps = ((github.get("jobs") or {}).get(job.name) or {}).get("steps") or []
        runs = [step for step in steps if "run" in step]
        after = runs[[s["run"] for s in runs].index(job.tolerated) + 1:] if job.tolerated in [s["run"] for s in runs] else []
        if any("!cancelled()" not in str(step.get("if", "")) for step in after):
            problems.append(f"github job {job.name}: a step after {job.tolerated!r} does not run when it fails "
                            "(if: !cancelled())")
        script = (gitlab.get(job.name) or {}).get("script") or []
        if f"{job.tolerated}{TOLERATED}" not in script or script[-1:] != [FAILED_AT_THE_END]:
            problems.append(f"gitlab job {job.name}: a failure of {job.tolerated!r} stops the later lines")
    return problems


def parity(github: dict, gitlab: dict) -> list[str]:
    """Every job and command of :data:`PIPELINE` on each host, and nothing either host runs beside them."""
    problems = []
    for host, found in (("github", github_commands(github)), ("gitlab", gitlab_commands(gitlab))):
        wanted = {job.name: job.commands(host) for job in PIPELINE}
        for name in sorted(set(wanted) | {n for n in found if n != "code-scanning"}):
            if found.get(name, []) != wanted.get(name, []):
                problems.append(f"{host} job {name}: runs {found.get(name)}, the definition says {wanted.get(name)}")
    return problems + _tolerance(github, gitlab)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.review.pipelines")
    parser.add_argument("command", choices=("gitlab", "check"))
    args = parser.parse_args(argv)
    if args.command == "gitlab":
        sys.stdout.write(gitlab_pipeline())
        return 0
    problems = parity(yaml.safe_load(GITHUB_WORKFLOW.read_text()), yaml.safe_load(GITLAB_PIPELINE.read_text()))
    if GITLAB_PIPELINE.read_text() != gitlab_pipeline():
        problems.append(f"{GITLAB_PIPELINE.name} is not what the definition renders: regenerate it")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
