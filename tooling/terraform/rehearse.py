"""Deploy rehearsal: apply, verify and destroy one environment's AWS stacks against moto.

    python -m tooling.terraform.rehearse [--env dev] [--report reports/rehearsal-dev.json]

"It synthesizes and validates" is not "it deploys". The rehearsal

1. starts moto's server mode on a free loopback port, with a bounded lifetime,
   and always stops it at the end;
2. synthesizes the environment into a temporary folder, the project's way;
3. rewrites a copy of every AWS-only stack for the emulator (provider endpoints
   and fake credentials, local state, remote state read from those local
   files, ``prevent_destroy`` lifted, the :data:`SKIPPED_TYPES` removed): only
   that copy sees the emulator, never ``cdktf.out``;
4. applies the stacks in dependency waves with Terraform (the stacks of one
   wave, the regions, side by side), verifies with boto3
   that what exists matches the environment's design (:mod:`.rehearsal_checks`),
   destroys them in reverse order, and checks that nothing of ours is left;
5. prints a report per stack (resources applied, seconds, left after destroy),
   the skip list and every check; writes the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

from tooling.terraform import deploy
from tooling.terraform.emulator import (EMULATOR_LIFETIME, FIXES as EMULATOR_FIXES, Emulator,
                                        RehearsalError, seed_parent_zone)
from tooling.terraform.emulated import (PLAN_QUIRKS, SKIPPED_TYPES, judge_plan)
from tooling.terraform.runner import CLI_CONFIG, PROJECT, aws_only_stacks, setup


TERRAFORM_TIMEOUT = 1200  # seconds per terraform command
# Most of a rehearsal is the provider's own polling (Route53 changes, load balancers, KMS
# propagation), not work: more operations in flight than Terraform's default 10 cost nothing.
PARALLELISM = 30


# -- the emulator --------------------------------------------------------------------------


# -- the rehearsal copy of a stack ---------------------------------------------------------


def stack_waves(manifest: Mapping[str, Any], names: Iterable[str]) -> list[list[str]]:
    """``names`` in dependency waves: each stack comes one wave after its last dependency.

    The stacks of one wave do not depend on each other (the regions of an
    environment), so they are applied and destroyed side by side.
    """
    from policies.model.output import Output  # the one reader of cdktf.out

    try:
        return Output({}, dict(manifest)).waves(names, outside="not an AWS-only stack")
    except ValueError as exc:
        raise RehearsalError(f"{exc}; the rehearsal cannot apply it") from None


# -- terraform -----------------------------------------------------------------------------

@dataclass
class StackResult:
    stack: str
    resources: int = 0
    apply_seconds: float = 0.0
    destroy_seconds: float = 0.0
    left_after_destroy: int = -1
    skipped: dict[str, int] = field(default_factory=dict)
    error: str = ""
    notes: list[str] = field(default_factory=list)
    plan_seconds: float = 0.0
    # where the time went: the slowest resource operations of apply and destroy, from Terraform's log
    slowest: list[dict[str, Any]] = field(default_factory=list)


def _terraform(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess:
    """Run terraform in ``cwd`` (spofless deploy's runner); its output is also kept in ``cwd/<command>.log``."""
    return deploy.terraform([*args, "-no-color"], cwd, env, timeout=TERRAFORM_TIMEOUT)


def _state_count(work: Path, env: Mapping[str, str]) -> int:
    if not work.is_dir():
        return 0  # a stack deploy never reached (it waited on one that failed) has no folder, nor state
    listed = _terraform(["state", "list"], work, env)
    if listed.returncode != 0:
        return 0 if "No state file" in (listed.stderr + listed.stdout) else -1
    return sum(1 for line in listed.stdout.splitlines() if line.strip() and not line.startswith("data."))


_COMPLETE = re.compile(r"^(?P<address>\S+): (?P<verb>Creation|Destruction|Modifications) complete after "
                       r"(?:(?P<m>\d+)m)?(?P<s>\d+)s", re.MULTILINE)
PROFILE_TOP = 5


def slowest_operations(output: str, top: int = PROFILE_TOP) -> list[dict[str, Any]]:
    """The ``top`` slowest resource operations in a Terraform apply or destroy log, slowest first.

    Terraform prints "<address>: Creation complete after 1m2s" per resource; most of a rehearsal
    is the provider's fixed waits (a Route53 change waits 10-30 s before its first poll whatever
    the emulator answers), and this is where they show.
    """
    found = [{"address": m["address"], "operation": m["verb"].lower(),
              "seconds": int(m["m"] or 0) * 60 + int(m["s"])} for m in _COMPLETE.finditer(output)]
    return sorted(found, key=lambda op: (-op["seconds"], op["address"]))[:top]


def readback_plan(work: Path, env: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """The second plan as a real account would make it: the stack's state as real APIs read it back
    (:mod:`tooling.terraform.readback`), planned without a refresh (which would read the emulator's echo again).
    Returns ``(what was normalised, problems of the plan)``."""
    from tooling.terraform import readback

    pulled = deploy.terraform(["state", "pull"], work, env, timeout=TERRAFORM_TIMEOUT)
    if pulled.returncode != 0:
        return [], [f"state pull failed: {deploy.tail(pulled, 5)}"]
    state = json.loads(pulled.stdout or "{}")
    normalised = readback.normalise_state(state)
    if not normalised:
        return [], []
    path = work / "readback.tfstate"
    path.write_text(json.dumps(state))
    for args in (["state", "push", str(path)],
                 ["plan", "-refresh=false", "-input=false", "-lock=false", "-no-color", "-out=readback.tfplan"]):
        run = deploy.terraform(args, work, env, timeout=TERRAFORM_TIMEOUT)
        if run.returncode != 0:
            return normalised, [f"terraform {args[0]} {args[1] if args[0] == 'state' else ''}failed: "
                                f"{deploy.tail(run, 8)}"]
    shown = deploy.terraform(["show", "-json", "readback.tfplan"], work, env, timeout=TERRAFORM_TIMEOUT)
    problems, _ = judge_plan(json.loads(shown.stdout or "{}"))
    return normalised, problems


# -- the whole run -------------------------------------------------------------------------

def synthesize(env_name: str, outdir: Path) -> None:
    """The project's synthesis, for one environment, into ``outdir``."""
    # the jsii banner is already silenced in os.environ: importing modules does it
    env = dict(os.environ, CDKTF_OUTDIR=str(outdir), SPOFLESS_ENVS=env_name)
    run = subprocess.run([sys.executable, "-O", str(PROJECT / "main.py")], cwd=PROJECT, env=env,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise RehearsalError(f"synthesis of {env_name} failed:\n{deploy.tail(run, 25)}")


@dataclass
class Rehearsal:
    env: str
    endpoint: str = ""
    stacks: list[StackResult] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    skipped_types: dict[str, str] = field(default_factory=lambda: dict(SKIPPED_TYPES))
    emulator_fixes: dict[str, str] = field(default_factory=lambda: dict(EMULATOR_FIXES))
    plan_quirks: dict[str, str] = field(default_factory=lambda: {f"{t}.{a}": why for (t, a), why
                                                                in PLAN_QUIRKS.items()})
    seconds: float = 0.0
    error: str = ""
    not_run: str = ""  # why nothing was rehearsed (no mirror of the provider version the output pins)

    @property
    def ok(self) -> bool:
        return (not self.error and bool(self.stacks) and bool(self.checks)
                and all(not s.error and s.left_after_destroy == 0 for s in self.stacks)
                and all(c["ok"] for c in self.checks) and not self.leftovers)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def rehearse(env_name: str, work_root: Path, *, lifetime: float = EMULATOR_LIFETIME,
             log=print) -> Rehearsal:
    from environments.loader import load_environments
    from tooling.terraform import leftovers, probes, rehearsal_checks

    started = time.perf_counter()
    report = Rehearsal(env_name)
    config = load_environments([env_name])[0]
    if not CLI_CONFIG.exists():
        setup()
    synth_dir = work_root / "synth"
    log(f"rehearse {env_name}: synthesizing into {synth_dir}")
    synthesize(env_name, synth_dir)
    from tooling.terraform.runner import current_mirror_gap

    gap = current_mirror_gap(synth_dir)  # e.g. a CDK Terrain output pins hashicorp/aws 6.x
    if gap:
        log(f"{gap}; rehearsal: not run")
        report.not_run = gap
        return report
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    names = [p.name for p in aws_only_stacks(synth_dir)]
    waves = stack_waves(manifest, names)
    from policies.model.output import Output  # the one reader of cdktf.out

    output = Output.load(synth_dir)
    jobs = max(map(len, waves), default=1)

    with Emulator(lifetime=lifetime, log=work_root / "moto.log", account_id=config.account_id) as emulator:
        try:
            report.endpoint = emulator.endpoint
            # `spofless deploy / diff / destroy --emulator`, on this rehearsal's own emulator and folder
            target = deploy.Target(synth_dir, endpoint=emulator.endpoint, root=work_root, timeout=TERRAFORM_TIMEOUT)
            env = target.env()
            if config.dns.parent_domain:
                seed_parent_zone(emulator.endpoint, config.dns.parent_domain)
                log(f"rehearse {env_name}: seeded the parent zone {config.dns.parent_domain} (its own "
                    "environment's dns-zone stack creates it; this one writes the delegation into it)")
            log(f"rehearse {env_name}: emulator on {emulator.endpoint}; deploying "
                + " -> ".join(" + ".join(wave) for wave in waves))
            results = {name: StackResult(name) for wave in waves for name in wave}
            report.stacks = list(results.values())

            def stack_log(stack: str) -> str:
                path = work_root / "stacks" / stack / "apply.log"
                return path.read_text() if path.is_file() else ""

            for outcome in deploy.run("deploy", output, names, target, jobs=jobs, parallelism=PARALLELISM):
                result = results[outcome.stack]
                result.apply_seconds, result.skipped = outcome.seconds, target.left_out.get(outcome.stack, {})
                result.slowest = slowest_operations(stack_log(outcome.stack))
                result.resources = _state_count(work_root / "stacks" / outcome.stack, env)
                if outcome.status != "applied":
                    result.error = f"deploy {outcome.status}: {outcome.detail}"
                log(f"  apply   {result.stack:<24} {result.resources:4d} resources {result.apply_seconds:6.1f}s"
                    + ("" if not result.error else f"  {outcome.status.upper()}"))
            failed = [r.stack for r in report.stacks if r.error]
            if failed:
                report.error = "apply failed: " + ", ".join(failed)
            else:
                report.checks = [asdict(c) for c in rehearsal_checks.verify(config, emulator.endpoint)]
                failed = [c for c in report.checks if not c["ok"]]
                log(f"rehearse {env_name}: {len(report.checks) - len(failed)}/{len(report.checks)} "
                    "verification checks passed")
                # idempotency: `spofless diff` right after the deploy shows no change, or only an emulator
                # quirk (PLAN_QUIRKS); every stack at once, since nothing is applied any more
                for outcome in deploy.run("diff", output, names, target, jobs=len(names), parallelism=PARALLELISM,
                                          ordered=False):
                    result = results[outcome.stack]
                    result.plan_seconds = outcome.seconds
                    clean = outcome.status == "no changes"
                    quirks = outcome.detail.split("; ")[0][len(deploy.QUIRKS_ONLY):] \
                        if outcome.detail.startswith(deploy.QUIRKS_ONLY) else ""
                    detail = ("no changes" + (f" (emulator quirks: {quirks})" if quirks else "")) if clean else \
                        f"{outcome.status}: {outcome.detail}"
                    report.checks.append(asdict(probes.Check(f"plan after apply {result.stack}", clean,
                                                                       detail)))
                    log(f"  plan    {result.stack:<24} {'no changes' if clean else 'CHANGES'}"
                        f"{'':>10}{result.plan_seconds:6.1f}s")
                # the second plan against what real APIs read back (the emulator echoes what it was sent)
                for name in names:
                    normalised, problems = readback_plan(work_root / "stacks" / name, env)
                    detail = ("; ".join(problems) if problems else
                              f"no changes after {len(normalised)} read-back normalisation(s): "
                              + ", ".join(sorted({n.split(':')[0].rsplit('.', 1)[-1] for n in normalised}))
                              if normalised else "nothing the real APIs read back differently")
                    report.checks.append(asdict(probes.Check(f"plan after read-back {name}", not problems,
                                                                       detail)))
                    log(f"  readback {name:<23} {'CHANGES' if problems else 'no changes'} "
                        f"({len(normalised)} normalised)")
            for outcome in deploy.run("destroy", output, names, target, jobs=jobs, parallelism=PARALLELISM):
                result = results[outcome.stack]
                result.destroy_seconds = outcome.seconds
                result.notes += outcome.notes
                result.slowest = sorted(result.slowest + slowest_operations(stack_log(outcome.stack)),
                                        key=lambda op: (-op["seconds"], op["address"]))[:2 * PROFILE_TOP]
                result.left_after_destroy = _state_count(work_root / "stacks" / outcome.stack, env)
                if outcome.failed or outcome.status == "not run":
                    result.error = (result.error + "\n" if result.error else "") + \
                        f"destroy {outcome.status}: {outcome.detail}"
                log(f"  destroy {result.stack:<24} {result.left_after_destroy:4d} left      "
                    f"{result.destroy_seconds:6.1f}s" + ("  FAILED" if outcome.failed else ""))
            try:
                report.leftovers = leftovers.leftovers(config, emulator.endpoint)
            except Exception as error:  # noqa: BLE001 - an unlistable emulator is a failed rehearsal
                report.leftovers = [f"could not list what is left: {type(error).__name__}: {error}"]
        except BaseException:
            deploy.interrupt_all()  # before the emulator stops
            raise
    report.seconds = time.perf_counter() - started
    return report


def format_report(report: Rehearsal) -> str:
    lines = [f"Deploy rehearsal of {report.env} against moto ({report.endpoint or 'not started'})", "",
             f"  {'stack':<26} {'applied':>7} {'apply s':>8} {'destroy s':>9} {'left':>5}  skipped"]
    for s in report.stacks:
        skipped = ", ".join(f"{t} x{n}" for t, n in sorted(s.skipped.items())) or "-"
        lines.append(f"  {s.stack:<26} {s.resources:>7} {s.apply_seconds:>8.1f} {s.destroy_seconds:>9.1f} "
                     f"{s.left_after_destroy:>5}  {skipped}")
    total = sum(s.resources for s in report.stacks)
    lines.append(f"  {'total':<26} {total:>7} {sum(s.apply_seconds for s in report.stacks):>8.1f} "
                 f"{sum(s.destroy_seconds for s in report.stacks):>9.1f} "
                 f"{sum(max(s.left_after_destroy, 0) for s in report.stacks):>5}")
    lines += ["", "Skipped resource types (the emulator cannot create them; the stacks keep them):"]
    lines += [f"  {t}: {why}" for t, why in sorted(report.skipped_types.items())]
    lines += ["", "Emulator fixes (moto made to follow the AWS API reference; tooling/terraform/emulator.py):"]
    lines += [f"  {api}: {why}" for api, why in sorted(report.emulator_fixes.items())]
    lines += ["", "Plan after apply: attributes the emulator makes differ (tolerated; anything else fails):"]
    lines += [f"  {attribute}: {why}" for attribute, why in sorted(report.plan_quirks.items())] or ["  none"]
    lines += ["", "Where the time goes (slowest resource operations per stack, from Terraform's log):"]
    for s in report.stacks:
        ops = ", ".join(f"{op['address']} {op['operation']} {op['seconds']}s" for op in s.slowest[:PROFILE_TOP])
        lines.append(f"  {s.stack}: {ops or '-'}")
    lines += ["", "Verification after apply:"]
    lines += [f"  {'ok  ' if c['ok'] else 'FAIL'} {c['name']}: {c['detail']}" for c in report.checks]
    if not report.checks:
        lines.append("  not run")
    lines += ["", "Left after destroy: " + ("; ".join(report.leftovers) if report.leftovers else "nothing")]
    for s in report.stacks:
        if s.error or s.notes:
            lines += ["", f"{s.stack}:"] + [f"  note: {n}" for n in s.notes]
            lines += ["  " + s.error.replace("\n", "\n  ")] if s.error else []
    if report.error:
        lines += ["", f"error: {report.error}"]
    lines += ["", f"rehearsal {report.env}: {'PASSED' if report.ok else 'FAILED'} in {report.seconds:.0f} s"]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.terraform.rehearse")
    parser.add_argument("--env", default="dev")
    parser.add_argument("--report", help="JSON report path (default reports/rehearsal-<env>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (state, logs)")
    parser.add_argument("--lifetime", type=float, default=EMULATOR_LIFETIME,
                        help="seconds after which the emulator is stopped regardless")
    args = parser.parse_args(argv)
    from environments.loader import ConfigError, available
    if args.env not in available():
        print(f"error: --env {args.env}: no such environment; allowed: {', '.join(available())}", file=sys.stderr)
        return 2
    work_root = Path(tempfile.mkdtemp(prefix=f"spofless-rehearse-{args.env}-"))
    # SIGTERM (CI cancelling, a test runner's clean-up) unwinds like Ctrl-C, so the emulator stops.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    report = None
    try:
        report = rehearse(args.env, work_root, lifetime=args.lifetime)
    except (RehearsalError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rehearsal interrupted; the emulator was stopped", file=sys.stderr)
        return 130
    finally:
        # a failed rehearsal keeps its folder: Terraform logs per stack, state, moto.log
        if not args.keep and (report is None or report.ok or report.not_run):
            shutil.rmtree(work_root, ignore_errors=True)
    if report.not_run:
        return 0  # said in one line above: the provider version is not on this machine, not a failure
    print()
    print(format_report(report))
    path = Path(args.report or PROJECT / "reports" / f"rehearsal-{args.env}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    if args.keep or not report.ok:
        print(f"working folder kept: {work_root} (terraform logs per stack, state, moto.log)")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
