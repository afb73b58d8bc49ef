"""``spofless failover -e <env> --to <region> [--practice | --dry-run]``: the environment's Region switch plan as
one action.

    spofless failover -e prod --to us-west-2 --dry-run    the steps, in order, with their expected times
    spofless failover -e prod --to us-west-2 --practice   a graceful run: switchover (no data lost), then DNS
    spofless failover -e prod --to us-west-2              a real one: the writer moves even if the region left
                                                          does not answer (the last seconds may be lost)

It reads the plan from ``cdktf.out`` (the same model that generates it). With ``--via plan`` (the default when
the plan is deployed and this boto3 knows ARC Region switch) it starts the plan in the region being activated
and follows its steps; with ``--via steps`` (or ``--emulator``) it makes the same calls itself, in the same
order: the Aurora global database's switchover or failover, the cache promotion and the DNS step (the plan's
own functions' code, modules/failover/handler). It asks for the environment's name before it changes
anything (``--yes`` for a pipeline), and when a step fails it stops and says what to do.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

from tooling.analysis.drill_data import DATA_FIGURES  # noqa: E402

HANDLER = PROJECT / "modules" / "failover" / "handler" / "handler.py"

# What to do when a step fails, per step (the plan pauses there; so does this command).
REMEDIES = {
    "approve": "approve the step in the ARC console or with `aws arc-region-switch approve-plan-execution-step`, "
               "as the approver role",
    "aurora": "read the global database's events (`aws rds describe-events --source-type db-cluster`); a "
              "switchover refused because the region left does not answer needs the real run (no --practice), "
              "which fails over and may lose the last seconds",
    "cache": "read the replication group's events (`aws elasticache describe-events`); when the primary's region "
             "does not answer, the real run detaches this region's member and makes it a standalone primary",
    "dns": "check the Cloudflare token secret in the region activated and that the RegionInactive alarms exist; "
           "traffic still fails over on the health checks alone (about 90 s) if the region left is down",
}


@dataclass
class PlannedStep:
    name: str
    kind: str
    what: str
    seconds: float  # the time AWS documents for it (DATA_FIGURES), or the DNS step's own bound

    def eta(self) -> str:
        return f"~{self.seconds:.0f}s"


def steps_of(plan, target: str, *, dns_seconds: float) -> list[list[PlannedStep]]:
    """The plan's steps toward ``target`` as waves (a parallel block is one wave)."""
    waves: dict[int, list[PlannedStep]] = {}
    for step in plan.workflows.get(target, []):
        if step.kind == "ManualApproval":
            item = PlannedStep(step.name, step.kind, "a person approves", 0.0)
        elif step.kind == "AuroraGlobalDatabase":
            item = PlannedStep(step.name, step.kind, f"the writer of {step.config.get('GlobalClusterIdentifier')} "
                               f"moves to {target}", float(DATA_FIGURES["aurora-global"][0]))
        elif step.action == "promote-cache":
            item = PlannedStep(step.name, step.kind, f"{target}'s cache member becomes the datastore's primary",
                               float(DATA_FIGURES["cache-global"][0]))
        elif step.action == "dns":
            item = PlannedStep(step.name, step.kind, f"Route53 and Cloudflare answer {target}", dns_seconds)
        else:
            item = PlannedStep(step.name, step.kind, step.kind, 60.0)
        waves.setdefault(step.position, []).append(item)
    return [waves[k] for k in sorted(waves)]


def _load_handler():
    spec = importlib.util.spec_from_file_location("spofless_failover_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


class StepRunner:
    """The plan's steps made directly with boto3 (``--via steps``): the same calls the plan makes."""

    def __init__(self, env: str, target: str, regions: list[str], functions: dict, *, practice: bool,
                 client: Callable, out=print, sleep=time.sleep, clock=time.monotonic, timeout: float = 1800,
                 emulated: bool = False, cloudflare_request: Optional[Callable] = None):
        # ``emulated``: against the local emulator, where neither Cloudflare nor a global datastore exists
        self.env, self.target, self.regions, self.functions = env, target, regions, functions
        self.practice, self.client, self.out, self.sleep, self.clock = practice, client, out, sleep, clock
        self.timeout, self.emulated, self.cloudflare_request = timeout, emulated, cloudflare_request

    def run(self, step: PlannedStep, plan_step) -> str:
        if step.kind == "ManualApproval":
            return "approved by running this command"
        if step.kind == "AuroraGlobalDatabase":
            return self._aurora(plan_step.config)
        handler = _load_handler()
        handler.REGION = self.target
        config = self.functions.get(self.target) or {}
        if (step.name == "cache" or plan_step.action == "promote-cache") and self.emulated:
            # against the emulator (which has no Global Datastore API) the step is named, not made
            return "the emulator has no ElastiCache Global Datastore API: promotion skipped"
        if step.name == "cache" or plan_step.action == "promote-cache":
            result = handler.promote_cache(config, ungraceful=not self.practice,
                                           client=self.client("elasticache", self.target),
                                           sleep=self.sleep, clock=self.clock)
            return result["result"]
        if plan_step.action == "dns":
            cloudflare = bool(config.get("cloudflare_pools")) and not self.emulated
            if not cloudflare:
                config = {k: v for k, v in config.items() if k != "cloudflare_pools"}
            result = handler.dns(config, cloudwatch=lambda r: self.client("cloudwatch", r),
                                 secrets=self.client("secretsmanager", self.target) if cloudflare else None,
                                 request=self.cloudflare_request)
            return result["result"] + ("; Cloudflare is not emulated: its pools were left alone" if self.emulated
                                       else "")
        raise RuntimeError(f"no direct way to run a {step.kind} step; use --via plan")

    def _aurora(self, config: dict) -> str:
        rds = self.client("rds", self.target)
        identifier = config["GlobalClusterIdentifier"]
        arns = config.get("DatabaseClusterArns", [])
        target_arn = next((a for a in arns if a.split(":")[3] == self.target), None)
        if target_arn is None:
            raise RuntimeError(f"the plan names no cluster of {identifier} in {self.target}")
        members = rds.describe_global_clusters(GlobalClusterIdentifier=identifier)["GlobalClusters"][0][
            "GlobalClusterMembers"]
        arn_in_region = next((m["DBClusterArn"] for m in members if m["DBClusterArn"].split(":")[3] == self.target),
                             None)
        if arn_in_region is None:
            raise RuntimeError(f"{identifier} has no member in {self.target}")
        if any(m.get("IsWriter") and m["DBClusterArn"] == arn_in_region for m in members):
            return f"{identifier}'s writer is already in {self.target}"
        if self.practice:
            rds.switchover_global_cluster(GlobalClusterIdentifier=identifier, TargetDbClusterIdentifier=arn_in_region)
            how = "switched over (no data lost)"
        else:
            rds.failover_global_cluster(GlobalClusterIdentifier=identifier, TargetDbClusterIdentifier=arn_in_region,
                                        AllowDataLoss=True)
            how = "failed over (the last seconds may be lost)"
        started = self.clock()
        while self.clock() - started < self.timeout:
            members = rds.describe_global_clusters(GlobalClusterIdentifier=identifier)["GlobalClusters"][0][
                "GlobalClusterMembers"]
            if any(m.get("IsWriter") and m["DBClusterArn"] == arn_in_region for m in members):
                return f"{identifier} {how}: the writer is in {self.target}"
            self.sleep(10)
        raise TimeoutError(f"{identifier}'s writer is not in {self.target} after {self.timeout:.0f}s")


def run_steps(waves: list[list[PlannedStep]], plan_steps: dict, runner: StepRunner, out=print,
              clock=time.monotonic) -> int:
    total = sum(max(s.seconds for s in wave) for wave in waves)
    started = clock()
    count = sum(len(w) for w in waves)
    done = 0
    for wave in waves:
        for step in wave:  # a parallel block's steps, one after the other here (each waits for its own result)
            done += 1
            remaining = total - (clock() - started)
            out(f"[{done}/{count}] {step.name}: {step.what} (expected {step.eta()}; ETA {max(remaining, 0):.0f}s)")
            begun = clock()
            try:
                result = runner.run(step, plan_steps[step.name])
            except Exception as error:  # noqa: BLE001 - any step failure stops the run with what to do
                out(f"      FAILED after {clock() - begun:.0f}s: {type(error).__name__}: {error}")
                out(f"      what to do: {REMEDIES.get(step.name, 'read the step in the ARC console')}")
                out("      the steps after it were not run; run the command again once it is fixed "
                    "(every step is idempotent)")
                return 1
            out(f"      done in {clock() - begun:.0f}s: {result}")
    out(f"failover to {runner.target}: {count} step(s) done in {clock() - started:.0f}s")
    return 0


def run_plan(client, plan_arn: str, target: str, *, practice: bool, out=print, sleep=time.sleep,
             clock=time.monotonic, timeout: float = 3600, mode: Optional[str] = None) -> int:
    """Start the deployed plan in ``target`` (``arc-region-switch`` client of that region) and follow it."""
    mode = mode or ("graceful" if practice else "ungraceful")
    started = client.start_plan_execution(planArn=plan_arn, targetRegion=target, action="activate", mode=mode,
                                          comment="spofless failover" + (" --practice" if practice else ""))
    execution = started["executionId"]
    out(f"started {plan_arn} execution {execution} toward {target}")
    seen: dict[str, str] = {}
    begun = clock()
    while clock() - begun < timeout:
        state = client.get_plan_execution(planArn=plan_arn, executionId=execution)
        for step in state.get("stepStates", []):
            status = step.get("status", "")
            if seen.get(step.get("name")) != status:
                seen[step.get("name")] = status
                out(f"  {step.get('name')}: {status} ({clock() - begun:.0f}s)")
                if status == "failed":
                    out(f"      what to do: {REMEDIES.get(step.get('name'), 'read the step in the ARC console')}")
        overall = state.get("executionState", "")
        if overall in ("completed", "completedWithExceptions", "completedMonitoringApplicationHealth"):
            out(f"plan {overall} in {clock() - begun:.0f}s")
            return 0
        if overall in ("failed", "canceled", "planExecutionTimedOut", "pausedByFailedStep"):
            out(f"plan {overall}; resume it in the ARC console once the failed step is fixed")
            return 1
        sleep(10)
    out(f"the plan is still running after {timeout:.0f}s; follow it in the ARC console")
    return 1


def main(argv: Optional[Sequence[str]] = None, *, client_factory: Optional[Callable] = None,
         read=input, out=print, sleep=time.sleep, clock=time.monotonic,
         cloudflare_request: Optional[Callable] = None) -> int:
    parser = argparse.ArgumentParser(prog="spofless failover", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args, client_factory=client_factory, read=read, out=out, sleep=sleep, clock=clock,
               cloudflare_request=cloudflare_request)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (also what `spofless failover --help` shows)."""
    parser.add_argument("-e", "--env", required=True, help="the environment")
    parser.add_argument("--to", required=True, help="the region to activate")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--practice", action="store_true", help="a graceful run: switchover, nothing lost")
    mode.add_argument("--dry-run", action="store_true", help="print the steps and their times; change nothing")
    parser.add_argument("--via", choices=("plan", "steps"), help="start the deployed plan, or make its calls "
                        "directly (default: plan where this boto3 knows ARC Region switch, else steps)")
    parser.add_argument("--yes", action="store_true", help="do not ask for the environment's name (pipelines)")
    parser.add_argument("--emulator", action="store_true", help="against the local emulator (`spofless emulator start`)")
    parser.add_argument("--out", default=os.environ.get("CDKTF_OUTDIR", "cdktf.out"),
                        help="the synthesized output (default: cdktf.out)")


def run(args: argparse.Namespace, *, client_factory: Optional[Callable] = None, read=input, out=print,
        sleep=time.sleep, clock=time.monotonic, cloudflare_request: Optional[Callable] = None) -> int:
    if isinstance(args.env, list):  # `spofless -e a,b` selects environments; a failover moves exactly one
        if len(args.env) != 1:
            out(f"error: -e {','.join(args.env)}: a failover moves one environment; allowed: one name")
            return 2
        args.env = args.env[0]

    from policies.model.failover import failover_functions, region_switch_plan
    from policies.model.output import Output

    outdir = Path(args.out)
    if not (outdir / "stacks").is_dir():
        out(f"error: {outdir / 'stacks'} does not exist; run `make synth` first")
        return 2
    output = Output.load(outdir)
    if args.env not in output.environments:
        out(f"error: -e {args.env}: no such environment in {outdir}; allowed: {', '.join(output.environments)}")
        return 2
    plan = region_switch_plan(output, args.env)
    if plan is None:
        out(f"error: -e {args.env} has no Region switch plan (one region: there is nowhere to fail over to)")
        return 2
    regions = list(plan.properties.get("Regions") or [])
    if args.to not in regions:
        out(f"error: --to {args.to}: not a region of {args.env}; allowed: {', '.join(regions)}")
        return 2
    from policies.model.platform import build

    env_model = build(output, args.env)
    dns_seconds = 60.0 + max((float(c.get("request_interval", 30)) * int(c.get("failure_threshold", 3))
                              for c in env_model.health_checks.values() if c.get("type") == "HTTPS"), default=90.0)
    waves = steps_of(plan, args.to, dns_seconds=dns_seconds)
    total = sum(max(s.seconds for s in wave) for wave in waves)
    kind = "practice (graceful: switchover, nothing lost)" if args.practice else (
        "dry run" if args.dry_run else "REAL failover (ungraceful: the last seconds of writes may be lost)")
    out(f"{args.env}: activate {args.to} [{kind}], {sum(len(w) for w in waves)} steps, expected ~{total:.0f}s")
    for number, wave in enumerate(waves, 1):
        together = " (together)" if len(wave) > 1 else ""
        for step in wave:
            out(f"  {number}. {step.name}{together}: {step.what} ({step.eta()})")
    if args.dry_run:
        return 0
    if not args.yes:
        try:
            typed = read(f"type {args.env} to go on: ")
        except EOFError:
            typed = ""
        if typed.strip() != args.env:
            out("refused: the environment's name was not typed; nothing was changed")
            return 2
    environ = {}
    if args.emulator:
        from tooling.terraform.emulator import FAKE_CREDENTIAL
        from tooling.terraform.local_emulator import emulator_info

        info = emulator_info()
        if info is None:
            out("error: --emulator: no emulator is running; start it with `spofless emulator start -e "
                f"{args.env}` and deploy with `spofless deploy -e {args.env} --emulator`")
            return 2
        environ = {"endpoint_url": info["endpoint"], "aws_access_key_id": FAKE_CREDENTIAL,
                   "aws_secret_access_key": FAKE_CREDENTIAL}
    if client_factory is None:
        import boto3

        def client_factory(service: str, region: str):
            return boto3.client(service, region_name=region, **environ)
    aurora = next((st for st in plan.workflows.get(args.to, []) if st.kind == "AuroraGlobalDatabase"), None)
    fails_over = aurora is not None and aurora.config.get("Behavior") == "failover"
    via = args.via or ("steps" if args.emulator else "plan")
    if args.practice and fails_over and via == "plan":
        # an automatic plan fails Aurora over in every run (its trigger's run must finish with the region gone):
        # a practice switches over instead, with the same calls made here
        out("the plan fails Aurora over in every run (failover.automatic): practising with its calls made here, "
            "as a switchover")
        via = "steps"
    if via == "plan":
        try:
            arc = client_factory("arc-region-switch", args.to)
        except Exception:  # noqa: BLE001 - an older botocore without the service
            if args.via == "plan":
                out("error: --via plan: this boto3 has no ARC Region switch client (botocore 1.40.1 or later); "
                    "use --via steps")
                return 2
            out("this boto3 has no ARC Region switch client: making the plan's calls directly")
            via = "steps"
        else:
            plans = [p for p in arc.list_plans().get("plans", []) if p.get("name") == plan.properties.get("Name")]
            if not plans:
                out(f"the plan {plan.properties.get('Name')} is not deployed: making its calls directly")
                via = "steps"
            else:
                # a real run of a plan that switches over gracefully is ungraceful (the region left may be
                # gone); an automatic plan's graceful run already fails over and keeps its custom steps
                mode = "graceful" if args.practice or fails_over else "ungraceful"
                status = run_plan(arc, plans[0]["arn"], args.to, practice=args.practice, out=out, sleep=sleep,
                                  clock=clock, mode=mode)
                if status or mode == "graceful":
                    return status
                # Region switch skipped the Lambda steps of the ungraceful run: make them here
                out("Region switch skips custom steps in an ungraceful run: making them here")
                waves = [[st for st in wave if st.kind == "CustomActionLambda"] for wave in waves]
                waves = [wave for wave in waves if wave]
    plan_steps = {s.name: s for s in plan.workflows.get(args.to, [])}
    runner = StepRunner(args.env, args.to, regions, failover_functions(output, args.env), practice=args.practice,
                        client=client_factory, out=out, sleep=sleep, clock=clock, emulated=args.emulator,
                        cloudflare_request=cloudflare_request)
    return run_steps(waves, plan_steps, runner, out=out, clock=clock)


if __name__ == "__main__":
    sys.exit(main())
