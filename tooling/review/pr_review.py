"""The pull-request review of a plan, like Atlantis or tfcmt: one comment per environment.

    spofless plan -e prod            writes reports/pr/<env>.md and reports/infracost-<env>.yml
    python -m tooling.review.pr_review post --repo owner/name --pr 12 reports/pr/*.md   (the workflow)

Each comment starts with a hidden marker (``<!-- spofless-plan: <env> -->``), so
``post`` updates the comment it wrote before instead of adding one per push.
It holds:

- a table per stack: adds, changes, replaces, destroys, and the stacks that wait
  for an upstream apply or whose providers are not available where the plan ran;
- every replacement or destruction of a stateful resource, first and in bold, with
  the reason from the plan (``replace_paths``: the attributes that cannot change in
  place, or ``action_reason``);
- the plan text of each stack with changes, collapsed (``<details>``), cut to fit
  GitHub's 65,536-character limit for a comment;
- the cost diff when Infracost ran (``reports/infracost-<env>.json``, from
  ``infracost diff --format json``), else how to run it with the usage file this
  module writes from the topology.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

from tooling.review import hosts
from tooling.review.plan_review import dangerous_change, dependents_in_place

MARKER = "<!-- spofless-plan: {env} -->"
COMMENT_LIMIT = 65536  # characters GitHub accepts in an issue comment body
_KEEP_FOR_TABLES = 12000  # characters kept for everything but the plan texts


def _reason(change: Mapping[str, Any]) -> str:
    paths = change.get("change", {}).get("replace_paths") or []
    if paths:
        names = [".".join(str(p) for p in path) for path in paths]
        return f"`{'`, `'.join(names)}` cannot change in place"
    reason = change.get("action_reason") or ""
    return {"replace_because_tainted": "the resource is tainted",
            "replace_by_request": "replacement was requested (-replace)",
            "replace_by_triggers": "a replace_triggered_by reference changed",
            "delete_because_no_resource_config": "its configuration was removed",
            "delete_because_no_module": "its module was removed",
            "delete_because_wrong_repetition": "its count/for_each changed",
            "delete_because_count_index": "its count index is gone",
            "delete_because_each_key": "its for_each key is gone"}.get(reason, reason or "no reason in the plan")


def stateful_changes(plan: Mapping[str, Any]) -> list[str]:
    """Every dangerous change (plan_review.dangerous_change), with the reason from the plan."""
    found = []
    dependents = dependents_in_place(dict(plan))
    for change in plan.get("resource_changes", []):
        danger = dangerous_change(change, dependents)
        if danger is None:
            continue
        if danger.startswith("DETACH"):
            found.append(f"{danger}: it stops replicating; the other region keeps a copy that no longer follows it")
        elif danger.startswith(("REPLACE", "DESTROY")):
            found.append(f"{danger}: {_reason(change)}")
        else:
            found.append(danger)
    return found


def _money(value: Any, currency: str) -> str:
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return "-"
    sign = "+" if amount > 0 else ("-" if amount < 0 else "")
    return f"{sign}{abs(amount):,.2f} {currency}"


def cost_section(env: str, infracost: Optional[Mapping[str, Any]]) -> list[str]:
    if not infracost:
        return ["<details><summary>Cost: Infracost did not run</summary>", "",
                "Run it on the plans this review was made from, with the usage file written from the topology:", "",
                "```sh", f"infracost diff --config-file reports/infracost-{env}.yml "
                f"--compare-to infracost-base-{env}.json --format json --out-file reports/infracost-{env}.json",
                "```", "</details>"]
    currency = infracost.get("currency", "USD")
    lines = ["**Cost** (Infracost, monthly): "
             f"{_money(infracost.get('pastTotalMonthlyCost'), currency).lstrip('+')} -> "
             f"{_money(infracost.get('totalMonthlyCost'), currency).lstrip('+')} "
             f"({_money(infracost.get('diffTotalMonthlyCost'), currency)})", "",
             "| project | before | after | change |", "| --- | ---: | ---: | ---: |"]
    for project in infracost.get("projects", []):
        lines.append(f"| {project.get('name', '?')} | "
                     f"{_money((project.get('pastBreakdown') or {}).get('totalMonthlyCost'), currency).lstrip('+')} | "
                     f"{_money((project.get('breakdown') or {}).get('totalMonthlyCost'), currency).lstrip('+')} | "
                     f"{_money((project.get('diff') or {}).get('totalMonthlyCost'), currency)} |")
    return lines


RESULT_CELL = 160  # characters of a result in the summary table; the full text follows the table


def render(env: str, outcomes: Sequence[Any], plans: Mapping[str, Mapping[str, Any]],
           texts: Mapping[str, str], infracost: Optional[Mapping[str, Any]] = None,
           generated: Sequence[str] = ()) -> str:
    """The markdown comment of one environment (``outcomes``: :class:`tooling.terraform.deploy.Outcome`)."""
    lines = [MARKER.format(env=env), f"## spofless plan: `{env}`", ""]
    dangerous = [(stack, item) for stack in sorted(plans) for item in stateful_changes(plans[stack])]
    unplanned = [o.stack for o in outcomes if getattr(o, "failed", False)]
    if unplanned:  # never a reassuring headline over stacks nobody could plan
        lines += [f"**The plan failed for {', '.join(unplanned)}: what {'they' if len(unplanned) > 1 else 'it'} "
                  "would change is unknown, and nothing below speaks for "
                  f"{'them' if len(unplanned) > 1 else 'it'}.**", ""]
    if dangerous:
        lines += ["**Stateful resources would be replaced or destroyed, or lose a protection; the plan job fails "
                  "until `--allow-destructive` says it is intended:**", ""]
        lines += [f"- **{stack}: {item}**" for stack, item in dangerous]
    elif not unplanned:
        lines.append("No stateful resource is replaced or destroyed.")
    lines += ["", "| stack | add | change | replace | destroy | result |", "| --- | ---: | ---: | ---: | ---: | --- |"]
    folded: list[str] = []
    for o in outcomes:
        c = o.counts or {}
        cells = [str(c.get(k, 0)) if c else "" for k in ("create", "update", "replace", "destroy")]
        result = o.detail if o.detail.startswith(o.status) else o.status + (f": {o.detail}" if o.detail else "")
        result = " ".join(result.replace("|", "/").split())
        if len(result) > RESULT_CELL:  # a readable table: the rest of a long result goes below it
            folded.append(f"- **{o.stack}**: {result}")
            result = result[:RESULT_CELL].rsplit(" ", 1)[0] + " ... (below)"
        lines.append(f"| {o.stack} | " + " | ".join(cells) + f" | {result} |")
    if folded:
        lines += ["", "<details><summary>Results in full</summary>", "", *folded, "", "</details>"]
    lines += [""] + cost_section(env, infracost) + [""] + list(generated)
    budget = COMMENT_LIMIT - _KEEP_FOR_TABLES - sum(len(line) + 1 for line in lines)
    changed = [o.stack for o in outcomes if o.status == "changes" and o.stack in texts]
    for stack in changed:
        share = max(1000, budget // max(1, len(changed)))
        text = texts[stack].strip()
        if len(text) > share:
            text = text[:share] + f"\n... cut: {len(texts[stack]) - share} more characters in the plan job's artifact"
        c = next(o.counts for o in outcomes if o.stack == stack)
        lines += [f"<details><summary>{stack}: +{c['create']} ~{c['update']} -/+{c['replace']} "
                  f"-{c['destroy']}</summary>", "", "```", text.replace("```", "'''"), "```", "</details>", ""]
    body = "\n".join(lines)
    return body[:COMMENT_LIMIT]


# -- Infracost usage, from the topology ----------------------------------------------------------

# What the platform is assumed to carry per month; a team edits these figures, not the file.
TRAFFIC = {"requests_per_second": 200, "gb_served": 500, "gb_through_nat": 200, "gb_logged": 50,
           "gb_replicated": 20}


def usage(output, env: str, traffic: Mapping[str, float] = TRAFFIC) -> dict[str, Any]:
    """An Infracost usage file for ``env``: the primary region carries the traffic, the standby
    only what keeps it ready (health checks, replication in, GitOps pulls), so the standby's
    cost is its fixed capacity, and the replication between regions is data transfer.

    Keys follow Infracost's usage schema (aws_lb: new_connections, active_connections,
    processed_bytes_gb, rule_evaluations; aws_nat_gateway: monthly_data_processed_gb;
    aws_cloudwatch_log_group: monthly_data_ingested_gb; aws_data_transfer per region).
    """
    from modules.stacks import names
    from policies.model import platform

    region_of = {s: parsed.region for s in output.stacks_of(env)
                 if (parsed := names.parse(s)) and parsed.kind == "regional"}
    regional = sorted(region_of)
    primary_region = platform.primary_region(output, env)
    primary = next((s for s in regional if region_of[s] == primary_region), regional[0] if regional else None)
    resource_usage: dict[str, Any] = {}
    for stack in regional:
        share = 1.0 if stack == primary else 0.0
        resource_usage[stack] = {}
        for name, conf in output.resources(stack, "aws_lb").items():
            # the failover tree sends traffic to the primary ALB; the secondary ALB and the NLB
            # (and the standby region) answer only when it fails
            carries = share if (conf.get("tags") or {}).get("Role") == "alb-primary" else 0.0
            resource_usage[stack][f"aws_lb.{name}"] = {
                "new_connections": round(traffic["requests_per_second"] * carries, 2),
                "active_connections": round(traffic["requests_per_second"] * 10 * carries, 2),
                "processed_bytes_gb": round(traffic["gb_served"] / 730 * carries, 4),
                **({"rule_evaluations": round(traffic["requests_per_second"] * carries, 2)}
                   if conf.get("load_balancer_type", "application") == "application" else {})}
        nats = output.resources(stack, "aws_nat_gateway")
        for name in nats:
            resource_usage[stack][f"aws_nat_gateway.{name}"] = {
                "monthly_data_processed_gb": round(traffic["gb_through_nat"] * (share or 0.05) / len(nats), 2)}
        for name in output.resources(stack, "aws_cloudwatch_log_group"):
            resource_usage[stack][f"aws_cloudwatch_log_group.{name}"] = {
                "monthly_data_ingested_gb": round(traffic["gb_logged"] * (share or 0.1), 2)}
        resource_usage[stack][f"aws_data_transfer.{region_of[stack]}"] = {
            "region": region_of[stack],
            "outbound_internet_gb": round(traffic["gb_served"] * share, 2),
            "outbound_other_regions_gb": traffic["gb_replicated"] if share and len(regional) > 1 else 0}
    return {stack: {"version": "0.1", "resource_usage": dict(sorted(found.items()))}
            for stack, found in sorted(resource_usage.items())}


def write_usage(output, env: str, reports: Path) -> Path:
    """A usage file per regional stack and an Infracost config file naming each stack's plan and
    usage file (``infracost diff --config-file reports/infracost-<env>.yml``); returns the config."""
    import yaml

    header = (f"# Infracost usage, written by `spofless plan` from {env}'s topology (tooling/review/pr_review.py):\n"
              "# the primary region carries the traffic, the standby only what keeps it ready.\n")
    folder = reports / "infracost"
    folder.mkdir(parents=True, exist_ok=True)
    projects = []
    for stack, data in usage(output, env).items():
        (folder / f"{stack}.usage.yml").write_text(header + yaml.safe_dump(data, sort_keys=False))
    for stack in output.stacks_of(env):
        project = {"path": f"{reports}/plans/{stack}.json", "name": stack}
        if (folder / f"{stack}.usage.yml").is_file():
            project["usage_file"] = f"{folder}/{stack}.usage.yml"
        projects.append(project)
    config = reports / f"infracost-{env}.yml"
    config.write_text(f"# Infracost config for {env}: every stack's plan JSON, with its usage file\n"
                      + yaml.safe_dump({"version": "0.1", "projects": projects}, sort_keys=False))
    return config


def synth_diff_section(env: str, synth_diff: Optional[Path]) -> list[str]:
    """The environment's part of ``spofless diff --against`` (``synth-diff.json`` and the ref in
    ``synth-diff.md`` beside it): a table per stack, the resources collapsed below."""
    if synth_diff is None or not synth_diff.is_file():
        return []
    heading = synth_diff.with_suffix(".md")
    found = re.search(r"against `([^`]+)`", heading.read_text()) if heading.is_file() else None
    ref = found.group(1) if found else "the base"
    mine = {stack: changes for stack, changes in json.loads(synth_diff.read_text()).items()
            if stack.startswith(f"{env}-")}
    if not mine:
        return [f"**Generated Terraform** against `{ref}`: no stack of `{env}` changes.", ""]
    lines = [f"<details><summary>Generated Terraform against <code>{ref}</code>: {len(mine)} stack(s) of "
             f"{env} change</summary>", "", "| stack | added | removed | changed |", "| --- | ---: | ---: | ---: |"]
    for stack, changes in sorted(mine.items()):
        counts = {k: sum(1 for c in changes if c["kind"] == k) for k in ("added", "removed", "changed")}
        lines.append(f"| {stack} | {counts['added']} | {counts['removed']} | {counts['changed']} |")
    shown = [f"- {c['kind']}: `{stack}` `{c['address']}`" for stack, changes in sorted(mine.items())
             for c in changes]
    lines += ["", *shown[:SYNTH_DIFF_LINES]]
    if len(shown) > SYNTH_DIFF_LINES:
        lines.append(f"- and {len(shown) - SYNTH_DIFF_LINES} more (reports/synth-diff.md in the job's artifact)")
    return lines + ["", "</details>", ""]


SYNTH_DIFF_LINES = 40  # resource lines of the generated-Terraform section in a comment


def write(output, envs: Iterable[str], outcomes: Sequence[Any], plans_dir: Optional[Path], out_dir: Path, *,
          allow_destructive: bool = False, synth_diff: Optional[Path] = None) -> int:
    """Write ``<out_dir>/<env>.md`` per environment and the usage files; 1 when a stateful change is
    not allowed. ``synth_diff``: ``spofless plan --against``'s diff of the generated Terraform."""
    out_dir.mkdir(parents=True, exist_ok=True)
    blocked = False
    for env in envs:
        mine = [o for o in outcomes if output.environment_of(o.stack) == env]
        plans, texts = {}, {}
        for o in mine:
            if plans_dir and (plans_dir / f"{o.stack}.json").is_file() and o.status == "changes":
                plans[o.stack] = json.loads((plans_dir / f"{o.stack}.json").read_text())
                texts[o.stack] = (plans_dir / f"{o.stack}.txt").read_text()
        cost_file = out_dir.parent / f"infracost-{env}.json"  # infracost diff --format json, when it ran
        infracost = json.loads(cost_file.read_text()) if cost_file.is_file() else None
        (out_dir / f"{env}.md").write_text(render(env, mine, plans, texts, infracost,
                                                  generated=synth_diff_section(env, synth_diff)))
        write_usage(output, env, out_dir.parent)
        blocked |= any(stateful_changes(p) for p in plans.values())
    if blocked and not allow_destructive:
        print("plan review: a stateful resource would be replaced or destroyed; rerun with --allow-destructive "
              "(or SPOFLESS_ALLOW_DESTRUCTIVE=1) if it is intended", file=sys.stderr)
        return 1
    return 0


# -- posting -------------------------------------------------------------------------------------

class GitHub:
    """The three REST calls ``upsert`` needs (tests pass a fake with the same methods)."""

    def __init__(self, token: str, api: str = hosts.ENVIRONMENT["github"][3]):
        self._call = hosts.github(token, api).call

    def comments(self, repo: str, pr: int, page: int) -> list[dict]:
        return self._call("GET", f"/repos/{repo}/issues/{pr}/comments?per_page=100&page={page}")

    def create(self, repo: str, pr: int, body: str) -> dict:
        return self._call("POST", f"/repos/{repo}/issues/{pr}/comments", {"body": body})

    def update(self, repo: str, comment_id: int, body: str) -> dict:
        return self._call("PATCH", f"/repos/{repo}/issues/comments/{comment_id}", {"body": body})


class GitLab:
    """A merge request's notes through GitLab's REST API, in the shape ``upsert`` reads (``user.login``)."""

    def __init__(self, token: str, api: str, project: str, mr: int):
        self._call = hosts.gitlab(token, api).call
        self.project, self.mr = hosts.project_path(project), mr

    def login(self) -> str:
        """The only author whose notes are edited."""
        return hosts.gitlab_login(self._call)

    def comments(self, repo: str, pr: int, page: int) -> list[dict]:
        notes = self._call("GET", f"/projects/{self.project}/merge_requests/{pr}/notes"
                                  f"?per_page=100&page={page}&sort=asc")
        return [{"id": n.get("id"), "body": n.get("body"), "user": {"login": (n.get("author") or {}).get("username")}}
                for n in notes]

    def create(self, repo: str, pr: int, body: str) -> dict:
        return self._call("POST", f"/projects/{self.project}/merge_requests/{pr}/notes", {"body": body})

    def update(self, repo: str, comment_id: int, body: str) -> dict:
        return self._call("PUT", f"/projects/{self.project}/merge_requests/{self.mr}/notes/{comment_id}",
                          {"body": body})


MAX_PAGES = 30  # 3,000 comments: a bound, not a limit anyone meets


# The account the workflow's GITHUB_TOKEN comments as. Only its comments are ever edited: anyone can
# write a comment that starts with the marker, and the poster must not overwrite (or be steered by) it.
POSTER = hosts.GITHUB_ACTIONS


def upsert(github, repo: str, pr: int, body: str, author: str = POSTER) -> str:
    """Update ``author``'s comment carrying ``body``'s marker, or create one: "updated <id>" / "created <id>".
    A comment with the marker written by anyone else is left alone."""
    marker = body.splitlines()[0]
    for page in range(1, MAX_PAGES + 1):
        comments = github.comments(repo, pr, page)
        for comment in comments:
            if ((comment.get("user") or {}).get("login") == author
                    and (comment.get("body") or "").startswith(marker)):
                github.update(repo, comment["id"], body)
                return f"updated {comment['id']}"
        if len(comments) < 100:
            break
    created = github.create(repo, pr, body)
    return f"created {created.get('id')}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.review.pr_review")
    sub = parser.add_subparsers(dest="command", required=True)
    post = sub.add_parser("post", help="create or update one comment per environment on a pull/merge request")
    post.add_argument("--host", choices=("github", "gitlab"), default="github")
    post.add_argument("--repo", help="owner/name, or the GitLab project (default: the pipeline job's)")
    post.add_argument("--pr", type=int, required=True, help="the pull request's number, or the merge request's iid")
    post.add_argument("--author", default=os.environ.get("SPOFLESS_COMMENT_AUTHOR"),
                      help=f"the account the token comments as; only its comments are edited (default: {POSTER} "
                           "on GitHub, the token's own user on GitLab)")
    post.add_argument("comments", nargs="+", type=Path)
    args = parser.parse_args(argv)
    token, project, api = hosts.from_environment(args.host)
    args.repo = args.repo or project
    if not token or not args.repo:
        variable, project_variable = hosts.ENVIRONMENT[args.host][:2]
        print(f"error: post needs {variable} and --repo (or {project_variable})", file=sys.stderr)
        return 2
    if args.host == "github":
        github = GitHub(token, api)
        args.author = args.author or POSTER
    else:
        github = GitLab(token, api, args.repo, args.pr)
        args.author = args.author or github.login()
    for path in args.comments:
        body = path.read_text()
        if not body.startswith("<!-- spofless-plan:"):
            print(f"error: {path}: not a spofless plan comment (no marker on its first line)", file=sys.stderr)
            return 2
        print(f"{path.name}: {upsert(github, args.repo, args.pr, body, args.author)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
