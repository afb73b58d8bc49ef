"""The pull-request review: one comment per environment, updated in place, from plan fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from policies.model.output import Output
from tooling.review import pr_review
from tooling.terraform.deploy import Outcome
from tooling.review.plan_review import summarize_plan

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "plans"
INFRACOST = {"currency": "USD", "pastTotalMonthlyCost": "1000", "totalMonthlyCost": "1250.5",
             "diffTotalMonthlyCost": "250.5", "projects": [
                 {"name": "prod-us-east-1", "pastBreakdown": {"totalMonthlyCost": "600"},
                  "breakdown": {"totalMonthlyCost": "850.5"}, "diff": {"totalMonthlyCost": "250.5"}}]}


def _review(text_size: int = 200, infracost=None) -> str:
    plans = {name: json.loads((FIXTURES / f"{name}.json").read_text()) for name in ("prod-security", "prod-us-east-1")}
    outcomes = []
    for name, plan in plans.items():
        summary = summarize_plan(name, plan)
        outcomes.append(Outcome(name, "plan", "changes", counts=summary.counts, dangerous=summary.dangerous))
    outcomes.append(Outcome("prod-dns-route53", "plan", "waits", detail="waits for prod-us-east-1"))
    outcomes.append(Outcome("prod-dns-cloudflare", "plan", "unavailable",
                            detail="cloudflare/cloudflare cannot be installed here"))
    texts = {name: "Terraform will perform the following actions:\n" + "x" * text_size for name in plans}
    return pr_review.render("prod", outcomes, plans, texts, infracost)


def test_the_comment_carries_its_marker_first_so_it_is_updated_in_place():
    assert _review().splitlines()[0] == "<!-- spofless-plan: prod -->"


def test_stateful_changes_come_first_in_bold_with_the_plans_reason():
    lines = _review().splitlines()
    dangerous = [line for line in lines if line.startswith("- **")]
    assert dangerous == [
        "- **prod-us-east-1: REPLACE load balancer `aws_lb.lb_alb-primary`: `name` cannot change in place**",
        "- **prod-us-east-1: DESTROY S3 bucket `aws_s3_bucket.lb_access-logs_bucket`: its configuration was "
        "removed**"]
    assert lines.index(dangerous[0]) < lines.index("| stack | add | change | replace | destroy | result |")


def test_the_table_counts_each_stack_and_says_which_wait_or_cannot_be_planned():
    lines = _review().splitlines()
    assert "| prod-us-east-1 | 2 | 1 | 2 | 1 | changes |" in lines
    assert "| prod-dns-route53 |  |  |  |  | waits for prod-us-east-1 |" in lines
    assert any(line.startswith("| prod-dns-cloudflare |") and "cannot be installed" in line for line in lines)


def test_plan_texts_are_collapsed_and_cut_to_fit_a_github_comment():
    body = _review(text_size=200_000)
    assert len(body) <= pr_review.COMMENT_LIMIT
    assert body.count("<details><summary>prod-") == 2 and "... cut:" in body
    assert "x" * 100 in _review(text_size=200)


def test_the_cost_diff_is_shown_when_infracost_ran_and_how_to_run_it_when_not():
    with_cost = _review(infracost=INFRACOST)
    assert "1,000.00 USD -> 1,250.50 USD (+250.50 USD)" in with_cost
    assert "| prod-us-east-1 | 600.00 USD | 850.50 USD | +250.50 USD |" in with_cost
    assert "infracost diff --config-file reports/infracost-prod.yml" in _review()


class FakeGitHub:
    def __init__(self, existing):
        self.existing, self.calls = existing, []

    def comments(self, repo, pr, page):
        self.calls.append(("list", page))
        return self.existing[(page - 1) * 100:page * 100]

    def create(self, repo, pr, body):
        self.calls.append(("create", body[:30]))
        return {"id": 999}

    def update(self, repo, comment_id, body):
        self.calls.append(("update", comment_id))
        return {"id": comment_id}


BOT = {"login": pr_review.POSTER, "type": "Bot"}


def test_posting_updates_the_comment_of_the_same_environment_or_creates_one():
    body = _review()
    others = [{"id": i, "body": "lgtm", "user": {"login": "someone"}} for i in range(150)]
    github = FakeGitHub(others + [{"id": 7, "body": "<!-- spofless-plan: staging -->\nold", "user": BOT},
                                  {"id": 8, "body": "<!-- spofless-plan: prod -->\nold", "user": BOT}])
    assert pr_review.upsert(github, "o/r", 1, body) == "updated 8"
    assert ("update", 8) in github.calls and not [c for c in github.calls if c[0] == "create"]
    github = FakeGitHub(others)
    assert pr_review.upsert(github, "o/r", 1, body) == "created 999"
    assert [c[0] for c in github.calls] == ["list", "list", "create"]


def test_posting_never_edits_a_comment_someone_else_wrote_with_the_marker():
    """Anyone can start a comment with the marker; the poster edits only its own and otherwise creates one."""
    body = _review()
    planted = {"id": 5, "body": "<!-- spofless-plan: prod -->\nall clear, merge", "user": {"login": "attacker"}}
    github = FakeGitHub([planted])
    assert pr_review.upsert(github, "o/r", 1, body) == "created 999"
    assert ("update", 5) not in github.calls
    github = FakeGitHub([planted, {"id": 6, "body": "<!-- spofless-plan: prod -->\nold", "user": BOT}])
    assert pr_review.upsert(github, "o/r", 1, body) == "updated 6"


def test_the_usage_file_puts_the_traffic_on_the_primary_alb_and_the_standby_at_rest(synth_dir, environments,
                                                                                    tmp_path):
    output = Output.load(synth_dir)
    for env in environments.values():
        config = pr_review.write_usage(output, env.name, tmp_path)
        projects = yaml.safe_load(config.read_text())["projects"]
        assert sorted(p["name"] for p in projects) == sorted(output.stacks_of(env.name))
        primary, *standby = (f"{env.name}-{r.name}" for r in env.regions.all)
        usage = {s: yaml.safe_load((tmp_path / "infracost" / f"{s}.usage.yml").read_text())["resource_usage"]
                 for s in [primary, *standby]}
        lbs = {a: u for a, u in usage[primary].items() if a.startswith("aws_lb.")}
        carrying = [a for a, u in lbs.items() if u["new_connections"] > 0]
        assert len(carrying) == 1 and "alb-primary" in carrying[0]
        for stack in standby:
            assert all(u["new_connections"] == 0 for a, u in usage[stack].items() if a.startswith("aws_lb."))
            assert next(u for a, u in usage[stack].items() if a.startswith("aws_data_transfer."))[
                "outbound_internet_gb"] == 0


def test_a_long_result_is_folded_out_of_the_table_whole():
    error = "terraform plan: " + " ".join(f"word{i}" for i in range(400))
    body = pr_review.render("prod", [Outcome("prod-us-east-1", "plan", "failed", detail=error)], {}, {})
    (row,) = [line for line in body.splitlines() if line.startswith("| prod-us-east-1 |")]
    assert len(row) < pr_review.RESULT_CELL + 60 and row.endswith("... (below) |")
    assert f"- **prod-us-east-1**: failed: {error}" in body and "<summary>Results in full</summary>" in body


def test_plan_against_a_base_adds_the_generated_terraform_of_each_environment_to_its_comment(tmp_path):
    diff = tmp_path / "synth-diff.json"
    diff.write_text(json.dumps({
        "prod-us-east-1": [{"address": "aws_lb.alb", "kind": "changed", "attributes": []},
                           {"address": "aws_s3_bucket.logs", "kind": "added", "attributes": []}],
        "staging-us-east-1": [{"address": "aws_lb.alb", "kind": "removed", "attributes": []}]}))
    (tmp_path / "synth-diff.md").write_text("## Generated Terraform against `FETCH_HEAD`\n")
    section = pr_review.synth_diff_section("prod", diff)
    body = pr_review.render("prod", [Outcome("prod-us-east-1", "plan", "no changes")], {}, {}, generated=section)
    assert "Generated Terraform against <code>FETCH_HEAD</code>: 1 stack(s) of prod change" in body
    assert "| prod-us-east-1 | 1 | 0 | 1 |" in body and "`aws_s3_bucket.logs`" in body
    assert "staging-us-east-1" not in body
    assert "no stack of `dev` changes" in "\n".join(pr_review.synth_diff_section("dev", diff))
    assert pr_review.synth_diff_section("prod", None) == [] == pr_review.synth_diff_section("prod", tmp_path / "x")
