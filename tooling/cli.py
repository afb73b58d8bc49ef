"""``spofless``: one command line for what the Makefile does.

    spofless synth [-e prod] [--out cdktf.out] [--engine cdktn]
    spofless check | validate | drill | report | dns-check | diagram   (judge cdktf.out)
    spofless deploy | diff | plan | destroy -e dev [--emulator]        (drive Terraform)
    spofless rehearse -e prod | emulator start|stop | bench | mutation | schema [--out schema.json]
    spofless failover -e prod --to us-west-2 [--practice | --dry-run]   (the Region switch plan as one action)

Every subcommand takes ``--help``. ``-e/--env`` may be repeated or comma-separated.
The commands that judge ``cdktf.out`` (check, validate, drill, report, dns-check)
always judge every environment: when the output holds only some of them (an
``ENVS=dev`` synthesis, say) they synthesize every environment first, so a gate
can never pass on part of the platform. The tools themselves live beside this
module (``tooling/``), apart from the constructs in ``modules/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))


def _envs(values: Optional[Sequence[str]]) -> list[str]:
    """``-e a -e b,c`` -> ``[a, b, c]``."""
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def synthesize(envs: Sequence[str], out: Path) -> int:
    """The project's synthesis (``python -O main.py``) of ``envs`` (all when empty) into ``out``."""
    env = dict(os.environ, CDKTF_OUTDIR=str(out))
    env.pop("SPOFLESS_ENVS", None)
    if envs:
        env["SPOFLESS_ENVS"] = ",".join(envs)
    return subprocess.run([sys.executable, "-O", str(PROJECT / "main.py")], cwd=PROJECT, env=env).returncode


def declared_environments() -> list[str]:
    """The environments the project declares (``environments/<name>.yaml``)."""
    from environments.loader import ENVIRONMENTS_DIR, available

    return available(Path(os.environ.get("SPOFLESS_ENV_DIR") or ENVIRONMENTS_DIR))


def ensure_complete(out: Path) -> int:
    """Synthesize every environment when ``out`` is missing or holds only some; 0 when complete."""
    from policies.model.output import Output

    declared = declared_environments()
    present = Output.load(out).environments if (out / "stacks").is_dir() else []
    missing = sorted(set(declared) - set(present))
    if not missing:
        return 0
    what = f"holds {', '.join(present)} only" if present else "holds no synthesized stacks"
    print(f"{out} {what}; the gate judges every environment: synthesizing {', '.join(declared)} first",
          file=sys.stderr, flush=True)
    return synthesize([], out)


def _judge(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def guarded(args: argparse.Namespace) -> int:
        status = ensure_complete(Path(args.out))
        return status if status else run(args)
    return guarded


def _schema(args: argparse.Namespace) -> int:
    from environments.schema import EnvironmentConfig
    from environments.schema.account import AccountConfig

    model = AccountConfig if args.account else EnvironmentConfig
    text = json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
    if args.out_file:
        Path(args.out_file).write_text(text)
        print(f"wrote {args.out_file}")
    else:
        sys.stdout.write(text)
    return 0


def _check(args: argparse.Namespace) -> int:
    from tooling.review import gate as checkov
    return checkov.main(["--outdir", args.out, "--reports", args.reports])


def _validate(args: argparse.Namespace) -> int:
    from tooling.terraform import runner as terraform
    return terraform.main(["validate", "--outdir", args.out])


def _lock(args: argparse.Namespace) -> int:
    from tooling.terraform import locks
    mirror: list[str] = []
    if args.update:  # the mirror the Terraform set-up uses on this machine, if any
        from tooling.terraform.runner import SetupError, discover_mirror
        try:
            found = discover_mirror()
        except SetupError:
            found = None
        mirror = ["--mirror", str(found)] if found else []
    return locks.main(["update" if args.update else "check", "--outdir", args.out, *mirror])


def _drill(args: argparse.Namespace) -> int:
    from tooling.analysis import drill
    return drill.main(["--outdir", args.out, "--reports", args.reports, "--format", args.format,
                       *(["--all"] if args.all else []), *sum((["--env", e] for e in _envs(args.env)), [])])


def _report(args: argparse.Namespace) -> int:
    from tooling.analysis import spof_report
    envs = _envs(args.env)
    if not envs:
        return spof_report.main(["--outdir", args.out, "--format", args.format])
    status = 0
    for env in envs:
        status = spof_report.main(["--outdir", args.out, "--format", args.format, "--env", env]) or status
    return status


def _dns_check(args: argparse.Namespace) -> int:
    from tooling.analysis import dns_check
    return dns_check.main(["--outdir", args.out, "--format", args.format])


def _synth_diff(args: argparse.Namespace) -> int:
    """``diff --against REF``: the generated Terraform of REF against this checkout's, no credentials."""
    from tooling.review import synth_diff
    status = ensure_complete(Path(args.out))
    return status or synth_diff.main(["--against", args.against, "--out", args.out, "--reports", args.reports,
                                      *sum((["--env", e] for e in _envs(args.env)), [])])


def _stacks(action: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        against = getattr(args, "against", None)
        if against and action == "diff":
            return _synth_diff(args)
        if against:  # plan: the generated Terraform's diff first (no credentials), then its comment section
            status = _synth_diff(args)
            if status:
                return status
        from tooling.terraform import deploy
        return deploy.main([action, "--out", args.out, "--reports", args.reports, "--jobs", str(args.jobs),
                            *(["--synth-diff", str(Path(args.reports) / "synth-diff.json")] if against else []),
                            *sum((["--env", e] for e in _envs(args.env)), []),
                            *(["--emulator"] if args.emulator else []), *(["--quiet"] if args.quiet else []),
                            *(["--auto-approve"] if getattr(args, "auto_approve", False) else []),
                            *(["--allow-destructive"] if args.allow_destructive else []),
                            *sum((["--confirm", e] for e in getattr(args, "confirm", None) or []), [])])
    return run


def _emulator(args: argparse.Namespace) -> int:
    from tooling.terraform import local_emulator
    return local_emulator.emulator_main([args.emulator_command, *(["--env", args.env] if args.env else [])])


def _diagram(args: argparse.Namespace) -> int:
    from tooling.analysis import diagram
    return diagram.main(["--out", args.out, "--reports", args.reports, *sum((["--env", e] for e in _envs(args.env)), [])])


def _bootstrap(args: argparse.Namespace) -> int:
    from environments.loader import ConfigError, load_environments
    from tooling.terraform import bootstrap

    names = _envs(args.env)
    if not names:
        print("error: -e ENV is required: the environment whose state buckets to write", file=sys.stderr)
        return 2
    try:
        configs = load_environments(names)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for config in configs:
        try:
            target = bootstrap.write(config, Path(args.bootstrap_out))
        except bootstrap.BootstrapError as error:
            print(f"bootstrap: {error}")
            continue
        print(f"bootstrap: wrote {target}; apply it once, before the stacks: "
              f"terraform -chdir={target.parent} init && terraform -chdir={target.parent} apply")
    return 0


def _deployer_policy(args: argparse.Namespace) -> int:
    from tooling.review import deployer_policy
    return deployer_policy.main(["--outdir", args.out, "--reports", args.reports,
                                 *sum((["--env", e] for e in _envs(args.env)), [])])


def _cost(args: argparse.Namespace) -> int:
    from tooling.analysis import cost
    return cost.main(["--outdir", args.out, "--format", args.format, "--reports", args.reports,
                      *sum((["--env", e] for e in _envs(args.env)), [])])


def _rehearse(args: argparse.Namespace) -> int:
    from tooling.terraform import rehearse
    envs = _envs(args.env) or ["dev"]
    status = 0
    for env in envs:
        status = rehearse.main(["--env", env, *(["--keep"] if args.keep else [])]) or status
    return status


def _failover(args: argparse.Namespace) -> int:
    from tooling import failover
    return failover.run(args)


def _bench(args: argparse.Namespace) -> int:
    from tooling.dev import bench
    return bench.main(["--repeat", str(args.repeat)])


def _mutation(args: argparse.Namespace) -> int:
    from tooling.dev import mutation
    return mutation.main([arg for only in args.only or [] for arg in ("--only", only)])


def _synth(args: argparse.Namespace) -> int:
    if args.engine:
        os.environ["SPOFLESS_ENGINE"] = args.engine  # main.py checks it and hands over to the engine's venv
    # -e, else ENVS / SPOFLESS_ENVS as `make synth` passes it, else every environment
    status = synthesize(_envs(args.env) or _envs([os.environ.get("SPOFLESS_ENVS", "")]), Path(args.out))
    if status == 0 and os.environ.get("SPOFLESS_ENGINE", "").strip() not in ("", "cdktf"):
        from tooling.terraform import runner  # another engine's providers may be versions the mirror lacks: say so

        line = runner.current_mirror_gap(Path(args.out))
        if line:
            print(line, flush=True)
    return status


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="spofless", description="One command line for what the Makefile does; "
                                                                 "--help on each command.")
    sub = root.add_subparsers(dest="command", required=True, metavar="command")

    def command(name: str, run, help_text: str, *, env: bool = False, out: bool = True, reports: bool = False,
                fmt: bool = False):
        p = sub.add_parser(name, help=help_text, description=help_text)
        if env:
            p.add_argument("-e", "--env", action="append", help="an environment (repeat, or comma-separate)")
        if out:
            p.add_argument("--out", default=os.environ.get("CDKTF_OUTDIR", "cdktf.out"),
                           help="the synthesized output (default: cdktf.out)")
        if reports:
            p.add_argument("--reports", default="reports", help="where reports are written (default: reports)")
        if fmt:
            p.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                           help="what is printed (the files in --reports hold every format)")
        p.set_defaults(run=run, command=name)
        return p

    command("synth", _synth, "synthesize every environment (or -e ...) into --out", env=True).add_argument(
        "--engine", help="cdktf (the default) or cdktn (CDK Terrain; set up by `make synth CDK=cdktn`); "
                         "default: SPOFLESS_ENGINE")
    command("check", _judge(_check), "the pre-merge gate: checkov and the deploy rules over every environment",
            reports=True)
    command("validate", _judge(_validate), "terraform init (offline mirror) + validate every AWS-only stack")
    command("lock", _judge(_lock), "does .terraform.lock.hcl hold the checksums of every provider the stacks "
            "pin? (--update: refresh it from the registry and the mirror)").add_argument(
        "--update", action="store_true", help="record the registry's checksums for every platform, then the "
                                              "mirror's packages (needs Terraform; registry access for the first)")
    for action, text in (
            ("deploy", "plan and apply the stacks of -e ENV in dependency order, stopping at the first failure"),
            ("diff", "terraform plan every stack of the environments, in dependency order: what deploy would change"),
            ("plan", "diff, plus the pull-request review: reports/pr/<env>.md, plans and Infracost files"),
            ("destroy", "destroy the stacks of -e ENV, dependents first")):
        p = command(action, _stacks(action), text, env=True, reports=True)
        p.add_argument("--emulator", action="store_true",
                       help="against the local AWS emulator (AWS-only stacks; `spofless emulator stop` ends it)")
        p.add_argument("--jobs", type=int, default=2, help="stacks at a time, where the dependencies allow")
        p.add_argument("--quiet", action="store_true", help="print the summary only (CI)")
        # SPOFLESS_ALLOW_DESTRUCTIVE=1 stands for it in deploy and plan (read by the deploy tool), never in destroy
        p.add_argument("--allow-destructive", action="store_true",
                       help="let a stateful resource be replaced or destroyed; destroy needs it always")
        if action == "diff":
            p.add_argument("--against", metavar="REF",
                           help="no plan: compare the generated Terraform with REF's (a commit, branch or tag), "
                                "by stack, resource and attribute; reports/synth-diff.md (no credentials)")
        if action == "plan":
            p.add_argument("--against", metavar="REF",
                           help="also compare the generated Terraform with REF's (the pull request's base): "
                                "each environment's comment gets that section; reports/synth-diff.md")
        if action in ("deploy", "destroy"):
            p.add_argument("--auto-approve", action="store_true", help="do not ask before each stack")
        if action == "destroy":
            p.add_argument("--confirm", action="append", metavar="ENV",
                           help="the environment's name, instead of typing it at the prompt (CI)")
    emulator = command("emulator", _emulator, "start, stop or show the local AWS emulator deploy --emulator uses",
                       out=False)
    emulator.add_argument("emulator_command", choices=("start", "stop", "status"))
    emulator.add_argument("-e", "--env", help="the environment whose account it serves (start; default dev)")
    command("diagram", _diagram, "Mermaid diagrams of the stacks and the request path: reports/diagram-<env>.md",
            env=True, reports=True)
    command("bootstrap", _bootstrap, "write the Terraform that creates -e ENV's state buckets (and their "
            "replication): bootstrap/<env>/main.tf.json, applied once before the stacks", env=True,
            out=False).add_argument("--out", dest="bootstrap_out", default="bootstrap",
                                    help="where to write it (default: bootstrap)")
    command("deployer-policy", _judge(_deployer_policy), "the deployer role's IAM policy, generated from what "
            "the environment's stacks create: reports/deployer-policy-<env>.json", env=True, reports=True)
    command("cost", _judge(_cost), "what each environment costs a month while idle, from the output and "
            "published on-demand prices; reports/cost.md", env=True, reports=True, fmt=True)
    command("rehearse", _rehearse, "apply, verify and destroy an environment's AWS stacks against the emulator",
            env=True, out=False).add_argument("--keep", action="store_true", help="keep the working folder")
    drill = command("drill", _judge(_drill), "play every failure scenario against the output", env=True,
                    reports=True, fmt=True)
    drill.add_argument("--all", action="store_true", help="print the pairs of failures too")
    command("report", _judge(_report), "the SPOF report: tiers against AZs, regions and providers", env=True,
            fmt=True)
    command("dns-check", _judge(_dns_check), "compare the Route53 and Cloudflare records of every environment",
            fmt=True)
    from tooling import failover
    failover.add_arguments(command(
        "failover", _failover, "activate another region of -e ENV with its Region switch plan: --to REGION "
        "[--practice | --dry-run] [--yes] [--emulator] (the data tier and both DNS providers)", out=False))
    command("bench", _bench, "synthesis time and memory (make bench)", out=False).add_argument(
        "--repeat", type=int, default=3)
    command("mutation", _mutation, "mutation testing: does the suite notice design-breaking one-line changes? "
            "(minutes; not part of make test)", out=False).add_argument(
        "--only", action="append", help="run only this mutant id (repeat)")
    schema = command("schema", _schema, "the environment files' JSON Schema (--account: the account files')",
                     out=False)
    schema.add_argument("--out", dest="out_file", help="write it here instead of printing it")
    schema.add_argument("--account", action="store_true", help="the schema of environments/accounts/<name>.yaml")
    return root


# The packages a command needs beyond synthesis's (requirements-tooling.txt, the `tooling` extra).
NEEDS_TOOLING = {"check": ("checkov",), "rehearse": ("moto", "boto3"), "failover": ("boto3",), "mutation": ("pytest", "checkov"),
                 "emulator": ("moto", "boto3")}


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def missing_tools(command: str) -> list[str]:
    """The tooling packages ``command`` needs that are not installed."""
    import importlib.util

    return [name for name in NEEDS_TOOLING.get(command, ()) if importlib.util.find_spec(name) is None]


def selected_environments(args: argparse.Namespace) -> list[str]:
    """The environments a command was given: ``-e`` (repeated or comma-separated), else ``SPOFLESS_ENVS``
    (what the Makefile's ``ENVS`` exports), else none (the command's default)."""
    given = getattr(args, "env", None)
    names = _envs(given if isinstance(given, list) else [given] if given else [])
    return names or _envs([os.environ.get("SPOFLESS_ENVS", "")])


def unknown_environment(names: Sequence[str]) -> Optional[str]:
    """One line naming the first name that is no declared environment, with the closest one; None if all exist."""
    import difflib

    declared = declared_environments()
    for name in names:
        if name not in declared:
            hint = difflib.get_close_matches(name, declared, n=1)
            return (f"error: environment {name!r}: environments/{name}.yaml does not exist"
                    + (f" (did you mean {hint[0]!r}?)" if hint else "") + f"; allowed: {', '.join(declared)}")
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    if hasattr(args, "env"):
        names = selected_environments(args)
        problem = unknown_environment(names)
        if problem:  # a typo never runs a command on no environment (or on every one)
            print(problem, file=sys.stderr)
            return 2
        if names and args.command != "emulator":
            args.env = names
    missing = missing_tools(args.command)
    if getattr(args, "emulator", False) is True:
        missing += [name for name in ("moto", "boto3") if name not in missing and not _installed(name)]
    if missing:
        print(f"error: spofless {args.command} needs {', '.join(missing)}, which a synthesis-only set-up does not "
              "install; run `make tooling` (or pip install -r requirements-tooling.txt)", file=sys.stderr)
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
