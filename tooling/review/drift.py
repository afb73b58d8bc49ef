"""Drift: does the real infrastructure still match main? Read from ``spofless diff``'s report.

    python -m tooling.review.drift reports/diff.json [--publish github|gitlab]

One line per environment (``matches main``, ``DRIFTED`` with the stacks and their counts, or ``UNKNOWN``
when a stack could not be planned); exit 1 when any environment drifted or could not be read, so the
scheduled pipeline run fails and its host notifies. With ``--publish`` it also keeps one issue per
environment on the Git host (label ``spofless-drift``, title ``spofless drift: <env>``): opened or updated
while the environment drifts, closed when it matches main again. Only issues the pipeline's own account
opened are touched.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from tooling.review import hosts

LABEL = "spofless-drift"
TITLE = "spofless drift: {env}"


def verdicts(report: dict) -> dict[str, tuple[str, list[str]]]:
    """``{environment: (verdict, [stack details])}`` from a diff report."""
    from modules.stacks import names

    found: dict[str, tuple[str, list[str]]] = {env: ("matches main", []) for env in report.get("environments", [])}
    for stack in report.get("stacks", []):
        parsed = names.parse(stack.get("stack", ""))
        env = parsed.env if parsed is not None else "?"
        verdict, details = found.get(env, ("matches main", []))
        status = stack.get("status")
        if status in ("changes", "failed", "waits"):
            counts = stack.get("counts") or {}
            what = (f"+{counts.get('create', 0)} ~{counts.get('update', 0)} -/+{counts.get('replace', 0)} "
                    f"-{counts.get('destroy', 0)}" if status == "changes" else f"{status}: {stack.get('detail', '')}")
            details.append(f"{stack['stack']} {what}")
            verdict = "UNKNOWN" if status != "changes" and verdict != "DRIFTED" else "DRIFTED"
        found[env] = (verdict, details)
    return found


class GitHubIssues:
    """Open issues with the drift label, and create/update/close, in the shape :func:`publish` reads."""

    def __init__(self, token: str, repo: str, api: str = hosts.ENVIRONMENT["github"][3]):
        self.call, self.repo = hosts.github(token, api).call, repo

    def open_issues(self) -> list[dict]:
        found = self.call("GET", f"/repos/{self.repo}/issues?state=open&labels={LABEL}&per_page=100")
        return [{"id": i["number"], "title": i.get("title"), "author": (i.get("user") or {}).get("login")}
                for i in found if "pull_request" not in i]

    def create(self, title: str, body: str) -> None:
        self.call("POST", f"/repos/{self.repo}/issues", {"title": title, "body": body, "labels": [LABEL]})

    def update(self, number: int, body: str) -> None:
        self.call("PATCH", f"/repos/{self.repo}/issues/{number}", {"body": body})

    def close(self, number: int, body: str) -> None:
        self.call("PATCH", f"/repos/{self.repo}/issues/{number}", {"body": body, "state": "closed"})


class GitLabIssues:
    def __init__(self, token: str, project: str, api: str = hosts.ENVIRONMENT["gitlab"][3]):
        self.call, self.project = hosts.gitlab(token, api).call, hosts.project_path(project)

    def login(self) -> str:
        return hosts.gitlab_login(self.call)

    def open_issues(self) -> list[dict]:
        found = self.call("GET", f"/projects/{self.project}/issues?state=opened&labels={LABEL}&per_page=100")
        return [{"id": i["iid"], "title": i.get("title"), "author": (i.get("author") or {}).get("username")}
                for i in found]

    def create(self, title: str, body: str) -> None:
        self.call("POST", f"/projects/{self.project}/issues", {"title": title, "description": body, "labels": LABEL})

    def update(self, number: int, body: str) -> None:
        self.call("PUT", f"/projects/{self.project}/issues/{number}", {"description": body})

    def close(self, number: int, body: str) -> None:
        self.call("PUT", f"/projects/{self.project}/issues/{number}", {"description": body, "state_event": "close"})


def publish(host, author: str, found: dict[str, tuple[str, list[str]]], run: str = "") -> list[str]:
    """One issue per environment: open/update while it drifts (or cannot be planned), close when it matches."""
    mine = {i["title"]: i for i in host.open_issues() if i.get("author") == author}
    done = []
    for env, (verdict, details) in sorted(found.items()):
        title = TITLE.format(env=env)
        issue = mine.get(title)
        if verdict == "matches main":
            if issue:
                host.close(issue["id"], f"`{env}` matches main again{f' ({run})' if run else ''}.")
                done.append(f"{env}: closed #{issue['id']}")
            continue
        body = "\n".join([f"`{env}`: {verdict}{f' ({run})' if run else ''}", "",
                          *[f"- {d}" for d in details], "",
                          f"`spofless diff -e {env}` shows the changes; apply main or change main to match."])
        if issue:
            host.update(issue["id"], body)
            done.append(f"{env}: updated #{issue['id']}")
        else:
            host.create(title, body)
            done.append(f"{env}: opened")
    return done


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.review.drift")
    parser.add_argument("report", type=Path, nargs="?", default=Path("reports/diff.json"))
    parser.add_argument("--publish", choices=("github", "gitlab"),
                        help="keep one issue per environment on this Git host (GITHUB_TOKEN or GITLAB_NOTE_TOKEN)")
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.report.read_text())
    except (OSError, ValueError) as error:
        print(f"error: {args.report}: {error}", file=sys.stderr)
        return 2
    found = verdicts(report)
    for env, (verdict, details) in sorted(found.items()):
        print(f"{env}: {verdict}" + (f" ({'; '.join(details)})" if details else ""))
    if args.publish:
        token, where, api = hosts.from_environment(args.publish)
        if not token or not where:
            variable, project_variable = hosts.ENVIRONMENT[args.publish][:2]
            print(f"error: --publish {args.publish} needs {variable} and {project_variable}", file=sys.stderr)
            return 2
        if args.publish == "github":
            host, author = GitHubIssues(token, where, api), hosts.GITHUB_ACTIONS
        else:
            host = GitLabIssues(token, where, api)
            author = host.login()
        run = os.environ.get("GITHUB_RUN_ID") or os.environ.get("CI_PIPELINE_URL") or ""
        for line in publish(host, author, found, f"run {run}" if run else ""):
            print(line)
    return 1 if any(v != "matches main" for v, _ in found.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
