"""Deploy, diff, plan and destroy the synthesized stacks of the selected environments.

    spofless deploy  -e dev [--emulator] [--auto-approve] [--jobs 2] [--quiet]
    spofless diff    [-e dev] [--emulator]
    spofless plan    [-e prod]            (diff, plus the review: reports/pr/<env>.md)
    spofless destroy -e dev [--emulator] [--auto-approve]
    spofless emulator start|stop|status [-e dev]

Terraform runs in each stack's folder of ``cdktf.out`` (``stacks/<stack>``), as
``cdktf deploy`` does, with this project's CLI config (the provider mirror when
there is one), so either tool can pick up where the other left off. The stacks
run in dependency order (the manifest's, through :mod:`graphlib`), a stack as
soon as everything it reads from is done, ``--jobs`` at a time; destroy runs the
order backwards.

- deploy and destroy stop at the first failure: what is running finishes (an
  interrupted apply leaves resources in no state), nothing new starts, and the
  summary says which stacks were not run.
- diff and plan go on past a failure; a stack whose upstream has no state yet
  (a brand-new environment) or lacks an output the upstream's pending change
  adds is reported as "waits for <stack>", and so are the stacks after it.
- a stack whose providers cannot be installed here (no mirror entry, no registry)
  is reported as such and is no failure of diff or plan.
- ``--emulator`` runs against the local AWS emulator instead of an account: the
  AWS-only stacks are rewritten for it the way the rehearsal does it
  (:func:`tooling.terraform.emulated.rehearsal_document`), state is kept in
  ``.spofless/emulator``, and the emulator keeps running between commands until
  ``spofless emulator stop`` (or its lifetime, 2 h by default, runs out).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import graphlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from tooling.terraform import locks
from tooling.terraform.local_emulator import (EMULATOR_ROOT, DeployError, emulator_info, seed_parent_zones,
                                              start_emulator)
from tooling.terraform.runner import CLI_CONFIG, setup, terraform_env

ACTIONS = ("deploy", "diff", "plan", "destroy")
HEARTBEAT = 30  # seconds between "still running" lines when the output is not a terminal
TERRAFORM_TIMEOUT = 3600  # seconds per terraform command (a cluster and its node groups take ~15 min on AWS)

# A plan that cannot read its upstream yet: no state at all, or not the output a pending change adds.
_WAITS = re.compile(r"Unable to find remote state|No stored state was found|"
                    r'does not have an attribute named "cross-stack-output-')
# terraform init that could not get a provider: no mirror entry and no registry.
_NO_PROVIDER = re.compile(r"Failed to query available provider packages|Failed to install provider|"
                          r"could not connect to registry|Invalid provider registry host")
_PROVIDER_SOURCE = re.compile(r"provider (registry\.terraform\.io/)?([\w.-]+/[\w.-]+)")




@dataclass
class Outcome:
    stack: str
    action: str
    status: str = "not run"  # applied | destroyed | no changes | changes | failed | waits | unavailable | not run
    seconds: float = 0.0
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    dangerous: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status == "failed"


# -- where terraform runs ------------------------------------------------------------------------

@dataclass
class Target:
    """How terraform runs for the stacks: in ``cdktf.out``, or on emulator copies of them."""

    outdir: Path
    endpoint: Optional[str] = None  # the emulator, when set
    root: Path = EMULATOR_ROOT
    left_out: dict[str, dict[str, int]] = field(default_factory=dict)  # stack -> types the emulator cannot create
    timeout: float = TERRAFORM_TIMEOUT  # seconds per terraform command

    @property
    def emulated(self) -> bool:
        return self.endpoint is not None

    def env(self) -> dict[str, str]:
        if self.emulated:
            from tooling.terraform.emulated import rehearsal_env
            return rehearsal_env(self.endpoint)
        return terraform_env()

    def workdir(self, stack: str) -> Path:
        source = self.outdir / "stacks" / stack
        if not self.emulated:
            return source
        from tooling.terraform.emulated import rehearsal_document

        document = json.loads((source / "cdk.tf.json").read_text())
        state = self.root / "state"
        state.mkdir(parents=True, exist_ok=True)
        rewritten, left_out = rehearsal_document(document, stack, self.endpoint, state)
        self.left_out[stack] = dict(left_out)
        work = self.root / "stacks" / stack
        work.mkdir(parents=True, exist_ok=True)
        if (source / "assets").is_dir():
            shutil.copytree(source / "assets", work / "assets", dirs_exist_ok=True)
        text = json.dumps(rewritten, indent=2, sort_keys=True)
        target = work / "cdk.tf.json"
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
        return work


def select_stacks(output, envs: Sequence[str], emulated: bool, action: str = "deploy"
                  ) -> tuple[list[str], dict[str, str]]:
    """The stacks of ``envs`` to run, and those left out with the reason. Deploy, plan and diff take the
    account baseline the environments depend on along (first); destroy leaves it to the account's other
    environments."""
    unknown = sorted(set(envs) - set(output.environments))
    if unknown:
        raise DeployError(f"-e {','.join(unknown)}: not in the synthesized output; it holds "
                          f"{', '.join(output.environments) or 'nothing'} (run `make synth` after adding one)")
    pick = output.stacks_of if action == "destroy" else output.deployment_of
    chosen = sorted({s for env in envs for s in pick(env)})
    if not emulated:
        return sorted(chosen), {}
    aws_only = set(output.aws_only())
    left = {s: "not emulated: needs " + ", ".join(sorted(output.providers_of(s) - {"aws"}))
            for s in chosen if s not in aws_only}
    return sorted(s for s in chosen if s in aws_only), left


# -- terraform -----------------------------------------------------------------------------------

_RUNNING: set[subprocess.Popen] = set()
_LOCK = threading.Lock()
# On SIGINT Terraform stops starting operations, waits for those in flight and writes state; killed
# before that, what AWS created is in no state (a named resource then fails the next apply, an
# unnamed one is created twice: README "Recovering from an interrupted apply").
INTERRUPT_GRACE = 180  # seconds; a load balancer or a cluster operation in flight takes minutes


def terraform(args: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float = TERRAFORM_TIMEOUT
              ) -> subprocess.CompletedProcess:
    """``terraform <args>`` in ``cwd``, in its own process group (so :func:`interrupt_all` reaches its
    plugins); its output is kept in ``cwd/<command>.log`` as well."""
    command = ["terraform", *args]
    process = subprocess.Popen(command, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    with _LOCK:
        _RUNNING.add(process)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        code = process.returncode
    except subprocess.TimeoutExpired:
        interrupt(process)
        stdout, stderr = process.communicate()
        code, stderr = 124, stderr + f"\nterraform {args[0]} timed out after {timeout:.0f} s"
    finally:
        with _LOCK:
            _RUNNING.discard(process)
    try:
        (cwd / f"{args[0]}.log").write_text(stdout + stderr)
    except OSError:
        pass  # the folder went away (a synthesis swapped cdktf.out); the result is still returned
    return subprocess.CompletedProcess(command, code, stdout, stderr)


def interrupt(process: subprocess.Popen) -> None:
    """SIGINT, and time to save state; SIGKILL only if Terraform hangs."""
    for sig, grace in ((signal.SIGINT, INTERRUPT_GRACE), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=grace)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def interrupt_all() -> None:
    with _LOCK:
        running = list(_RUNNING)
    for process in running:
        interrupt(process)


def tail(run: subprocess.CompletedProcess, lines: int = 12) -> str:
    """The last ``lines`` of a command's stderr (or stdout when stderr is empty)."""
    text = (run.stderr or "").strip() or (run.stdout or "").strip()
    return "\n".join(text.splitlines()[-lines:])


_ERROR_LINE = re.compile(r"^Error: (.*)$", re.MULTILINE)


def _first_error(run: subprocess.CompletedProcess) -> str:
    found = _ERROR_LINE.search(run.stderr + "\n" + run.stdout)
    return found.group(1).strip() if found else tail(run, 1)
_ALREADY_GONE = re.compile(r"^deleting .*(NotFound|does not exist)")


def already_gone_only(output: str) -> list[str]:
    """The errors of a failed destroy when every one is a delete that found its resource gone, else []."""
    errors = _ERROR_LINE.findall(output)
    return errors if errors and all(_ALREADY_GONE.match(e) for e in errors) else []


# the detail of a plan whose only changes are attributes the emulator reads back differently
QUIRKS_ONLY = "emulator quirks only: "

_PLAN_LINE = re.compile(r"^Plan: (\d+) to add, (\d+) to change, (\d+) to destroy", re.MULTILINE)


def _init(outcome: Outcome, work: Path, env: Mapping[str, str], timeout: float = TERRAFORM_TIMEOUT) -> bool:
    """``terraform init`` held to the committed provider lock (:mod:`tooling.terraform.locks`)."""
    config = work / "cdk.tf.json"
    lock_flags, unlocked = locks.place(work, json.loads(config.read_text())) if config.exists() else ([], "")
    if unlocked:
        outcome.notes.append(unlocked)
    run = terraform(["init", "-input=false", "-no-color", *lock_flags], work, env, timeout)
    if run.returncode == 0:
        return True
    text = run.stderr + run.stdout
    if locks.checksum_refused(text):
        outcome.status = "failed"
        outcome.detail = (f"terraform init: a provider package matches no checksum in {locks.LOCK_NAME} "
                          f"(a tampered mirror or cache, or a lock to refresh with `make lock`): {_first_error(run)}")
    elif _NO_PROVIDER.search(text):
        providers = sorted({m.group(2) for m in _PROVIDER_SOURCE.finditer(text)}) or ["a provider"]
        outcome.status = "unavailable"
        outcome.detail = f"{', '.join(providers)} cannot be installed here (not in the mirror, no registry)"
    else:
        outcome.status, outcome.detail = "failed", f"terraform init: {_first_error(run)}"
    return False


def _plan(outcome: Outcome, work: Path, env: Mapping[str, str], *, destroy: bool = False,
          reports: Optional[Path] = None, emulated: bool = False, parallelism: int = 10,
          timeout: float = TERRAFORM_TIMEOUT, read_only: bool = False) -> None:
    """``terraform plan -out`` (and ``show -json`` when it changes something) into ``outcome``: status,
    counts, the stateful changes; with ``reports``, the plan JSON and its text are kept there.
    ``read_only`` (diff, plan): no state lock, so a role that can only read the state bucket plans.

    A destroy plan is not inspected (everything in it goes): its counts come from the plan's summary line.
    """
    lock = "-lock=false" if read_only else "-lock-timeout=60s"
    args = ["plan", "-input=false", "-no-color", "-detailed-exitcode", lock, "-out=spofless.tfplan",
            f"-parallelism={parallelism}"]
    run = terraform(args + (["-destroy"] if destroy else []), work, env, timeout)
    if run.returncode == 0:
        outcome.status = "no changes"
        return
    if run.returncode != 2:
        text = run.stderr + run.stdout
        if _WAITS.search(text):
            outcome.status, outcome.detail = "waits", "its upstream has no state (or not this output) yet"
        else:
            outcome.status, outcome.detail = "failed", f"terraform plan: {_first_error(run)}"
        return
    if destroy:
        line = _PLAN_LINE.search(run.stdout)
        outcome.status = "changes"
        outcome.counts = {"create": 0, "update": 0, "replace": 0, "destroy": int(line.group(3)) if line else 0}
        return
    shown = terraform(["show", "-json", "spofless.tfplan"], work, env, timeout)
    if shown.returncode != 0:
        outcome.status, outcome.detail = "failed", f"terraform show: {_first_error(shown)}"
        return
    from tooling.review.plan_review import summarize_plan

    plan = json.loads(shown.stdout)
    if emulated:
        from tooling.terraform.emulated import judge_plan

        problems, tolerated = judge_plan(plan)
        if not problems:  # only attributes the emulator reads back differently (emulated.PLAN_QUIRKS)
            outcome.status = "no changes"
            outcome.detail = f"{QUIRKS_ONLY}{', '.join(tolerated)}" + (
                f"; {outcome.detail}" if outcome.detail else "")
            return
        outcome.detail = "; ".join(problems)
    summary = summarize_plan(outcome.stack, plan)
    outcome.status, outcome.counts, outcome.dangerous = "changes", summary.counts, summary.dangerous
    if reports is not None:
        reports.mkdir(parents=True, exist_ok=True)
        (reports / f"{outcome.stack}.json").write_text(shown.stdout)
        (reports / f"{outcome.stack}.txt").write_text(plan_text(run.stdout))


_PLAN_START = re.compile(r"^(Terraform used the selected providers|Terraform will perform)", re.MULTILINE)


def plan_text(stdout: str) -> str:
    """The part of ``terraform plan``'s output a reviewer reads: from the legend on (the refresh
    lines before it are noise)."""
    start = _PLAN_START.search(stdout)
    return stdout[start.start():] if start else stdout


def run_stack(action: str, stack: str, target: Target, *, approve: Callable[[Outcome], bool],
              allow_destructive: bool, reports: Optional[Path], parallelism: int) -> Outcome:
    outcome = Outcome(stack, action)
    started = time.perf_counter()
    try:
        work = target.workdir(stack)
        env = target.env()
        skipped = target.left_out.get(stack)
        if skipped:
            outcome.detail = "emulator skips " + ", ".join(f"{t} x{n}" for t, n in sorted(skipped.items()))
        if not _init(outcome, work, env, target.timeout):
            return outcome
        # on the emulator, a diff discounts the attributes it is known to read back differently
        _plan(outcome, work, env, destroy=action == "destroy", reports=reports,
              emulated=target.emulated and action in ("diff", "plan"), parallelism=parallelism,
              timeout=target.timeout, read_only=action in ("diff", "plan"))
        if action in ("diff", "plan") or outcome.status != "changes":
            return outcome
        if outcome.dangerous and action == "deploy" and not allow_destructive:
            outcome.status = "failed"
            outcome.detail = ("stateful change, not applied: " + "; ".join(outcome.dangerous)
                              + " (rerun with --allow-destructive if it is intended)")
            return outcome
        if not approve(outcome):
            outcome.status, outcome.detail = "not run", "not approved"
            return outcome
        apply = ["apply", "-input=false", "-no-color", "-lock-timeout=60s", f"-parallelism={parallelism}",
                 "spofless.tfplan"]
        applied = terraform(apply, work, env, target.timeout)
        gone = already_gone_only(applied.stdout + applied.stderr) if applied.returncode and action == "destroy" else []
        if gone:
            # A delete that finds its resource gone has reached what destroy wants (the AWS provider does
            # not accept that for aws_lb_listener). The next plan drops it from state, so one more destroy
            # finishes the job, and the outcome says so. Any other failure (a dependency still in use, a
            # permission) is a real destroy problem and is never retried.
            outcome.notes.append("destroy ran twice; the first stopped on: " + "; ".join(e[:400] for e in gone))
            _plan(outcome, work, env, destroy=True, parallelism=parallelism, timeout=target.timeout)
            if outcome.status == "changes":
                applied = terraform(apply, work, env, target.timeout)
            elif outcome.status == "no changes":  # the second plan found nothing left to destroy
                applied = subprocess.CompletedProcess(apply, 0, "", "")
        if applied.returncode != 0:
            outcome.status, outcome.detail = "failed", f"terraform apply: {_first_error(applied)}"
        else:
            outcome.status = "destroyed" if action == "destroy" else "applied"
        return outcome
    finally:
        outcome.seconds = time.perf_counter() - started


# -- the schedule --------------------------------------------------------------------------------

class Progress:
    """What is running, for how long: a tqdm bar on a terminal, else a line per finished stack and
    a "still running" line every :data:`HEARTBEAT` seconds; nothing but the summary when quiet."""

    def __init__(self, total: int, action: str, quiet: bool, stream=sys.stderr, bar: bool = True):
        self.action, self.quiet, self.stream = action, quiet, stream
        self.running: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.bar = None
        if bar and not quiet and stream.isatty():
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, desc=f"{action}", unit="stack", file=stream, leave=False)
            except ImportError:
                pass
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    def _running_text(self) -> str:
        now = time.monotonic()
        return ", ".join(f"{s} {now - t:.0f}s" for s, t in sorted(self.running.items()))

    def _tick(self) -> None:
        interval = 1 if self.bar is not None else HEARTBEAT
        while not self.stop.wait(interval):
            with self.lock:
                if not self.running or self.quiet:
                    continue
                if self.bar is not None:
                    self.bar.set_postfix_str(self._running_text())
                else:
                    print(f"  ... {self.action}: still running {self._running_text()}", file=self.stream, flush=True)

    def started(self, stack: str) -> None:
        with self.lock:
            self.running[stack] = time.monotonic()
            if not self.quiet and self.bar is None:
                print(f"  {self.action:<7} {stack} ...", file=self.stream, flush=True)

    def finished(self, outcome: Outcome) -> None:
        with self.lock:
            self.running.pop(outcome.stack, None)
            if self.quiet:
                return
            line = f"  {self.action:<7} {outcome.stack:<28} {outcome.status:<11} {outcome.seconds:6.1f}s  {_counts(outcome)}"
            if self.bar is not None:
                self.bar.write(line, file=self.stream)
                self.bar.update(1)
            else:
                print(line, file=self.stream, flush=True)

    def close(self) -> None:
        self.stop.set()
        if self.bar is not None:
            self.bar.close()


def _counts(outcome: Outcome) -> str:
    if not outcome.counts:
        return outcome.detail
    c = outcome.counts
    return f"+{c['create']} ~{c['update']} -/+{c['replace']} -{c['destroy']}" + (
        f"  {outcome.detail}" if outcome.detail else "")


def run(action: str, output, stacks: Sequence[str], target: Target, *, jobs: int = 2, quiet: bool = False,
        approve: Callable[[Outcome], bool] = lambda o: True, allow_destructive: bool = False,
        reports: Optional[Path] = None, parallelism: int = 10, ordered: bool = True) -> list[Outcome]:
    """Run ``action`` over ``stacks`` in dependency order (or all at once when not ``ordered``: a
    diff right after a deploy, every upstream state in place); the outcome of every stack, in order."""
    upstream = output.upstream(stacks)
    downstream = {s: sorted(d for d in upstream if s in upstream[d]) for s in upstream}
    # what must be done before a stack: its upstreams, or for destroy the stacks that read from it
    # (and, for the public names, every stack off the request path: destroy_order)
    before = destroy_order(stacks, downstream) if action == "destroy" else upstream
    sorter = graphlib.TopologicalSorter({s: before[s] if ordered else [] for s in before})
    sorter.prepare()
    outcomes: dict[str, Outcome] = {}
    order: list[str] = []
    stops_at_failure = action in ("deploy", "destroy")
    stopped = ""
    progress = Progress(len(stacks), action, quiet)

    def blocked_by(stack: str) -> list[str]:
        return [d for d in before[stack] if d in outcomes and outcomes[d].status in ("failed", "waits", "not run")]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs))
    futures: dict[concurrent.futures.Future, str] = {}
    try:
        while sorter.is_active():
            for stack in sorted(sorter.get_ready()):
                order.append(stack)
                blockers = blocked_by(stack)
                if stopped:
                    outcomes[stack] = Outcome(stack, action, "not run", detail=f"stopped after {stopped} failed")
                    sorter.done(stack)
                elif blockers:
                    status = "not run" if stops_at_failure else "waits"
                    outcomes[stack] = Outcome(stack, action, status, detail="waits for " + ", ".join(blockers))
                    progress.finished(outcomes[stack])
                    sorter.done(stack)
                else:
                    progress.started(stack)
                    futures[pool.submit(run_stack, action, stack, target, approve=approve,
                                        allow_destructive=allow_destructive, reports=reports,
                                        parallelism=parallelism)] = stack
            if not futures:
                continue
            done, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                stack = futures.pop(future)
                outcome = future.result()
                if outcome.status == "waits":
                    outcome.detail = "waits for " + (", ".join(upstream[stack]) or "an upstream stack") + \
                        f" ({outcome.detail})"
                outcomes[stack] = outcome
                progress.finished(outcome)
                if outcome.failed and stops_at_failure and not stopped:
                    stopped = stack
                sorter.done(stack)
    except BaseException:
        interrupt_all()
        raise
    finally:
        pool.shutdown(wait=True)
        progress.close()
    return [outcomes[s] for s in order]


# Stacks that answer the public names: destroyed after everything of their environment that is off
# the request path (GitOps, data), so the names keep resolving to serving load balancers longest.
PUBLIC_PATH_KINDS = ("dns-route53", "dns-cloudflare")
OFF_PATH_KINDS = ("gitops", "data")


def destroy_order(stacks: Sequence[str], dependents: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """``{stack: stacks destroyed before it}``: its dependents, and for a public-name stack every stack of
    its environment off the request path (they never read the DNS stacks, so no cycle is possible)."""
    from modules.stacks import names

    parsed = {s: names.parse(s) for s in stacks}
    order = {s: list(dependents.get(s, [])) for s in stacks}
    for stack, name in parsed.items():
        if name is not None and name.kind in PUBLIC_PATH_KINDS:
            order[stack] = sorted(set(order[stack]) | {t for t, n in parsed.items() if n is not None
                                                       and n.env == name.env and n.kind in OFF_PATH_KINDS})
    return order


def destroy_consent(envs: Sequence[str], stacks: Sequence[str], output, *, allowed: bool,
                    confirmed: Sequence[str], ask: Optional[Callable[[str], str]]) -> None:
    """Destroying real infrastructure needs ``--allow-destructive`` and each environment's name, typed at
    the prompt (``ask``) or given as ``--confirm <env>``; no environment variable stands in for either.
    Raises :class:`DeployError` naming what would be removed."""
    missing = sorted(set(envs) - set(confirmed))
    if allowed and missing and ask is not None:
        typed = ask(f"destroy {', '.join(envs)}: {len(stacks)} stacks. Type the environment name"
                    f"{'s' if len(envs) > 1 else ''} to confirm: ")
        missing = sorted(set(envs) - set(typed.replace(",", " ").split()))
    if allowed and not missing:
        return
    counts = {s: sum(len(v) for v in output.stacks[s].get("resource", {}).values()) for s in stacks}
    listing = ", ".join(f"{s} ({counts[s]})" for s in stacks)
    why = ("it needs --allow-destructive" if not allowed else "the environment's name was not confirmed")
    raise DeployError(f"spofless destroy would remove {len(stacks)} stacks of {', '.join(envs)}, "
                      f"{sum(counts.values())} resources: {listing}; {why}, and each environment's name typed "
                      f"at the prompt or given as --confirm {' --confirm '.join(envs)} (no environment variable "
                      "replaces either)")


def quirk_kinds(detail: str) -> tuple[list[str], str]:
    """``(resource type.attribute kinds, the rest of the detail)`` of an outcome whose plan showed only
    emulator quirks (``emulator quirks only: <address>.<attribute>, ...[; more]``)."""
    first, _, rest = detail.partition("; ")
    addresses = [a for a in first[len(QUIRKS_ONLY):].split(", ") if a]
    return sorted({f"{a.split('.', 1)[0]}.{a.rsplit('.', 1)[1]}" for a in addresses}), rest


def summary(action: str, outcomes: Sequence[Outcome]) -> str:
    """The table after a run: one line per stack; the emulator quirks, which repeat from stack to stack,
    once each below it with the stacks that showed them and the reason."""
    lines = [f"{'stack':<30} {'result':<12} {'seconds':>7}  changes / detail"]
    quirks: dict[str, list[str]] = {}
    for o in outcomes:
        shown = _counts(o)
        if o.detail.startswith(QUIRKS_ONLY):
            kinds, rest = quirk_kinds(o.detail)
            for kind in kinds:
                quirks.setdefault(kind, []).append(o.stack)
            shown = f"emulator quirks only ({len(kinds)} kind{'s' if len(kinds) != 1 else ''}, below)" + (
                f"; {rest}" if rest else "")
        lines.append(f"{o.stack:<30} {o.status:<12} {o.seconds:>7.1f}  {shown}")
        lines += [f"{'':<30} note: {n}" for n in o.notes]
    if quirks:
        from tooling.terraform.emulated import PLAN_QUIRKS

        for kind, stacks in sorted(quirks.items()):
            rtype, attribute = kind.split(".", 1)
            why = PLAN_QUIRKS.get((rtype, attribute), "an attribute the emulator reads back differently")
            lines.append(f"emulator quirk {kind} ({len(stacks)} stack{'s' if len(stacks) != 1 else ''}): {why}")
    tally: dict[str, int] = {}
    for o in outcomes:
        tally[o.status] = tally.get(o.status, 0) + 1
    lines.append(f"{action}: " + ", ".join(f"{n} {status}" for status, n in sorted(tally.items())))
    return "\n".join(lines)


def exit_status(action: str, outcomes: Sequence[Outcome]) -> int:
    if any(o.failed for o in outcomes):
        return 1
    if action in ("deploy", "destroy") and any(o.status == "not run" for o in outcomes):
        return 1
    return 0


# -- the command line ----------------------------------------------------------------------------

def _approver(auto: bool) -> Callable[[Outcome], bool]:
    if auto:
        return lambda outcome: True
    lock = threading.Lock()

    def ask(outcome: Outcome) -> bool:
        with lock:
            answer = input(f"apply to {outcome.stack}: {_counts(outcome)}? [y/N] ")
        return answer.strip().lower() in ("y", "yes")
    return ask


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="spofless deploy|diff|plan|destroy")
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("-e", "--env", action="append", default=[])
    parser.add_argument("--out", default=os.environ.get("CDKTF_OUTDIR", "cdktf.out"))
    parser.add_argument("--emulator", action="store_true")
    parser.add_argument("--auto-approve", action="store_true")
    # SPOFLESS_ALLOW_DESTRUCTIVE=1 stands for the flag in deploy and plan, never in destroy
    parser.add_argument("--allow-destructive", action="store_true")
    parser.add_argument("--confirm", action="append", default=[], metavar="ENV",
                        help="destroy: the environment's name, instead of typing it at the prompt")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--reports", default="reports")
    parser.add_argument("--synth-diff", type=Path, help="plan: the generated Terraform's diff (synth-diff.json) "
                                                        "for the comments")
    args = parser.parse_args(argv)
    if args.action != "destroy" and os.environ.get("SPOFLESS_ALLOW_DESTRUCTIVE") == "1":
        args.allow_destructive = True
    envs = [e.strip() for value in args.env or [os.environ.get("SPOFLESS_ENVS", "")]
            for e in value.split(",") if e.strip()]
    try:
        return _main(args, envs)
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{args.action} interrupted; Terraform was given time to save its state", file=sys.stderr)
        return 130


def _main(args: argparse.Namespace, envs: list[str]) -> int:
    from policies.model.output import Output

    outdir = Path(args.out)
    if not (outdir / "manifest.json").is_file():
        raise DeployError(f"{outdir}/manifest.json does not exist; run `make synth` (or spofless synth) first")
    output = Output.load(outdir)
    if args.action in ("deploy", "destroy") and not envs:
        raise DeployError(f"spofless {args.action} needs -e/--env (or ENVS=...): it never runs on every "
                          f"environment by default; synthesized: {', '.join(output.environments)}")
    envs = envs or output.environments
    if args.action in ("deploy", "destroy") and not args.auto_approve and not sys.stdin.isatty():
        raise DeployError(f"spofless {args.action} asks before each stack; without a terminal pass --auto-approve")
    # selected once, before any set-up: an unknown environment or a refused destroy changes nothing
    stacks, left_out = select_stacks(output, envs, args.emulator, args.action)
    if args.action == "destroy" and not args.emulator:  # the emulator's copy is local and disposable
        destroy_consent(envs, stacks, output, allowed=args.allow_destructive, confirmed=args.confirm,
                        ask=input if sys.stdin.isatty() else None)
    if not CLI_CONFIG.exists():
        setup()
    target = Target(outdir)
    if args.emulator:
        from environments.loader import load_environments

        configs = load_environments(envs)
        accounts = {c.account_id for c in configs}
        if len(accounts) != 1:
            raise DeployError(f"--emulator serves one account at a time; {', '.join(envs)} span {len(accounts)}")
        info = start_emulator(accounts.pop(), envs[0]) if args.action == "deploy" else emulator_info()
        if info is None:
            raise DeployError(f"no emulator is running; start one with `spofless emulator start -e {envs[0]}` "
                              "(empty: deploy into it first to have something to plan against)")
        target = Target(outdir, endpoint=info["endpoint"])
        if args.action == "deploy":
            seed_parent_zones(info["endpoint"], configs)
    if not args.quiet:
        where = f"the emulator on {target.endpoint}" if target.emulated else "the accounts in the stacks' providers"
        print(f"{args.action} {', '.join(envs)}: {len(stacks)} stacks against {where}", file=sys.stderr, flush=True)
    plans = Path(args.reports) / "plans" if args.action in ("diff", "plan") else None
    outcomes = run(args.action, output, stacks, target, jobs=args.jobs, quiet=args.quiet,
                   approve=_approver(args.auto_approve), allow_destructive=args.allow_destructive,
                   reports=plans, parallelism=args.parallelism)
    outcomes += [Outcome(s, args.action, "unavailable", detail=why) for s, why in sorted(left_out.items())]
    print(summary(args.action, outcomes))
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / f"{args.action}.json").write_text(json.dumps(
        {"action": args.action, "environments": envs, "endpoint": target.endpoint,
         "stacks": [asdict(o) for o in outcomes]}, indent=2, sort_keys=True) + "\n")
    status = exit_status(args.action, outcomes)
    if args.action == "plan":
        from tooling.review import pr_review
        status = max(status, pr_review.write(output, envs, outcomes, plans, reports / "pr",
                                             allow_destructive=args.allow_destructive, synth_diff=args.synth_diff))
    if target.emulated and args.action == "deploy" and not args.quiet:
        print(f"the emulator keeps running on {target.endpoint} (`spofless diff -e {envs[0]} --emulator` reads it; "
              "`spofless emulator stop` stops it)", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
