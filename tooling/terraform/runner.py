"""Terraform CLI set-up and validation of the synthesized stacks.

    python -m tooling.terraform.runner setup      write .spofless/terraform.rc
    python -m tooling.terraform.runner validate   init + validate every AWS-only stack

No provider registry is reachable on the build machines, so ``setup`` finds a
local filesystem mirror of providers and writes a CLI config that installs
those providers from it (and anything else from the registry). The mirror is:

1. ``SPOFLESS_TF_MIRROR`` when set (an error if it holds no providers), else
2. the first of the usual plugin directories that holds providers, else
3. the first directory named ``registry.terraform.io`` found under /opt,
   /usr/local and /usr/share (bounded search), else
4. none: the config then installs everything from the registry, as on any
   machine with network access.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence

from tooling.terraform import locks
from tooling.terraform.mirror import mirror_gap

PROJECT = Path(__file__).resolve().parents[2]
CLI_CONFIG = PROJECT / ".spofless" / "terraform.rc"
PLUGIN_CACHE = PROJECT / ".spofless" / "plugin-cache"
MIRROR_ENV_VAR = "SPOFLESS_TF_MIRROR"
REGISTRY_HOST = "registry.terraform.io"
PLUGIN_GOGC = "400"

# Where Terraform itself looks for plugins, plus common image locations.
_KNOWN_ROOTS = (
    "/opt/tf-plugins",
    "/usr/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
)
_SEARCH_ROOTS = ("/opt", "/usr/local", "/usr/share")
_SEARCH_DEPTH = 4


class SetupError(Exception):
    """The Terraform set-up cannot proceed; the message says why and what to do."""


def mirror_providers(root: Path) -> list[str]:
    """``hostname/namespace/type`` of every provider in a filesystem mirror at ``root``."""
    found = []
    for host in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for namespace in sorted(p for p in host.iterdir() if p.is_dir()):
            for provider in sorted(p for p in namespace.iterdir() if p.is_dir()):
                # unpacked layout: <version>/<os_arch>/terraform-provider-*; packed: *.zip
                if any(provider.glob("*/*/terraform-provider-*")) or any(provider.glob("*.zip")):
                    found.append(f"{host.name}/{namespace.name}/{provider.name}")
    return found


def _search(roots: Iterable[str], depth: int) -> Optional[Path]:
    """Breadth-first, depth-bounded search for a ``registry.terraform.io`` directory."""
    frontier = [Path(r) for r in roots if Path(r).is_dir()]
    for _ in range(depth):
        next_frontier = []
        for directory in frontier:
            try:
                children = sorted(p for p in directory.iterdir() if p.is_dir() and not p.is_symlink())
            except OSError:
                continue
            for child in children:
                if child.name == REGISTRY_HOST and mirror_providers(directory):
                    return directory
                next_frontier.append(child)
        frontier = next_frontier
    return None


def discover_mirror(environ: Mapping[str, str] = os.environ,
                    known_roots: Sequence[str] = _KNOWN_ROOTS,
                    search_roots: Sequence[str] = _SEARCH_ROOTS) -> Optional[Path]:
    """The provider mirror to use, or None when this machine has none."""
    override = environ.get(MIRROR_ENV_VAR, "").strip()
    if override:
        path = Path(override).expanduser()
        if not mirror_providers(path):
            raise SetupError(f"{MIRROR_ENV_VAR}={override}: no providers there; allowed: a directory "
                             f"holding {REGISTRY_HOST}/<namespace>/<type>/<version>/<os_arch>/")
        return path.resolve()
    for root in known_roots:
        path = Path(root).expanduser()
        if mirror_providers(path):
            return path.resolve()
    return _search(search_roots, _SEARCH_DEPTH)


def render_cli_config(mirror: Optional[Path], providers: Sequence[str],
                      plugin_cache: Optional[Path] = None) -> str:
    """A Terraform CLI config: mirrored providers from the mirror, the rest from the registry."""
    lines = ["# Written by `make setup` (tooling/terraform/runner.py); do not edit.", ""]
    if plugin_cache is not None:
        lines += [f'plugin_cache_dir = "{plugin_cache}"', ""]
    lines.append("provider_installation {")
    if mirror is not None and providers:
        quoted = ", ".join(f'"{p}"' for p in providers)
        lines += [
            "  filesystem_mirror {",
            f'    path    = "{mirror}"',
            f"    include = [{quoted}]",
            "  }",
            "  direct {",
            f"    exclude = [{quoted}]",
            "  }",
        ]
    else:
        lines += ["  direct {}"]
    lines += ["}", ""]
    return "\n".join(lines)


def setup(environ: Mapping[str, str] = os.environ, target: Path = CLI_CONFIG) -> str:
    """Write the CLI config; returns a one-line summary for the user."""
    mirror = discover_mirror(environ)
    providers = mirror_providers(mirror) if mirror else []
    # A mirror is linked into each stack's .terraform as it is; a cache only pays off
    # for registry downloads, where every stack would otherwise fetch its own copy.
    cache = None if providers else PLUGIN_CACHE
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    text = render_cli_config(mirror, providers, cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    if mirror:
        return f"terraform: providers from mirror {mirror} ({', '.join(providers)}); config {target}"
    return f"terraform: no local provider mirror found; providers come from the registry; config {target}"


# -- validation ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ValidateResult:
    stack: str
    ok: bool
    seconds: float
    detail: str


def stack_providers(stack_dir: Path) -> set[str]:
    """Provider local names a synthesized stack configures or requires."""
    from policies.model.output import Output  # the one reader of cdktf.out

    return Output({stack_dir.name: json.loads((stack_dir / "cdk.tf.json").read_text())}).providers_of(stack_dir.name)


def aws_only_stacks(outdir: Path) -> list[Path]:
    """Stacks that use the AWS provider and nothing else: those can be validated offline."""
    from policies.model.output import Output  # the one reader of cdktf.out

    return [outdir / "stacks" / name for name in Output.load(outdir).aws_only()]


def terraform_env(base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment Terraform runs with: our CLI config, no telemetry, no prompts."""
    env = dict(base)
    env["TF_CLI_CONFIG_FILE"] = str(CLI_CONFIG)
    env.setdefault("CHECKPOINT_DISABLE", "1")
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    # The AWS provider plugin spends most of each start building its schema (measured here: a
    # `terraform plan` of a 17-resource stack took 9.5 s of CPU, 6.3 s with GOGC=400, for 310 ->
    # 460 MB peak); every terraform command starts it again, so validate, plan and the rehearsal
    # are CPU-bound on two cores. Plugins inherit Terraform's environment; a GOGC of the caller's wins.
    env.setdefault("GOGC", PLUGIN_GOGC)
    return env


def _run(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, env=dict(env), capture_output=True, text=True)


def validate_stack(stack_dir: Path, work_root: Path) -> ValidateResult:
    """``terraform init -backend=false`` then ``terraform validate`` on a copy of one stack.

    The copy keeps ``.terraform`` and lock files out of ``cdktf.out``, so the
    synthesized output stays exactly what synthesis wrote.
    """
    started = time.perf_counter()
    work = work_root / stack_dir.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy2(stack_dir / "cdk.tf.json", work / "cdk.tf.json")
    env = terraform_env()
    lock_flags, _ = locks.place(work, json.loads((work / "cdk.tf.json").read_text()))
    init = _run(["terraform", "init", "-backend=false", "-input=false", "-no-color", *lock_flags], work, env)
    if init.returncode != 0:
        text = init.stderr or init.stdout
        if locks.checksum_refused(text):
            text = f"the provider package matches no checksum in {locks.LOCK_NAME}:\n{text}"
        return ValidateResult(stack_dir.name, False, time.perf_counter() - started,
                              "terraform init failed:\n" + text)
    check = _run(["terraform", "validate", "-json", "-no-color"], work, env)
    try:
        report = json.loads(check.stdout)
    except json.JSONDecodeError:
        report = {"valid": False, "diagnostics": [{"summary": check.stderr or check.stdout}]}
    diagnostics = report.get("diagnostics", [])
    detail = "\n".join(f"{d.get('severity', 'error')}: {d.get('summary')}: {d.get('detail', '')}"
                       for d in diagnostics)
    ok = bool(report.get("valid")) and check.returncode == 0
    return ValidateResult(stack_dir.name, ok, time.perf_counter() - started,
                          detail or f"{report.get('warning_count', 0)} warnings")


def validate_all(outdir: Path, work_root: Path, jobs: int = 2,
                 progress: Optional[Callable[[ValidateResult, int, int], None]] = None) -> list[ValidateResult]:
    """Validate every AWS-only stack of ``outdir``, ``jobs`` at a time; ``progress(result, done, total)``
    hears of each as it finishes. The results are in the stacks' order."""
    if not CLI_CONFIG.exists():
        setup()
    stacks = aws_only_stacks(outdir)
    results: dict[str, ValidateResult] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in concurrent.futures.as_completed([pool.submit(validate_stack, s, work_root) for s in stacks]):
            result = future.result()
            results[result.stack] = result
            if progress is not None:
                progress(result, len(results), len(stacks))
    return [results[s.name] for s in stacks]


def current_mirror_gap(outdir: Path) -> Optional[str]:
    """:func:`tooling.terraform.mirror.mirror_gap` for the mirror the Terraform set-up uses on this machine (:func:`discover_mirror`)."""

    try:
        mirror = discover_mirror()
    except SetupError:
        return None  # the set-up reports a bad SPOFLESS_TF_MIRROR itself
    return mirror_gap(outdir, mirror)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.terraform.runner")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="find the provider mirror and write the Terraform CLI config")
    check = sub.add_parser("validate", help="terraform validate every AWS-only synthesized stack")
    check.add_argument("--outdir", default="cdktf.out")
    check.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    try:
        if args.command == "setup":
            print(setup())
            return 0
        outdir = Path(args.outdir)
        if not (outdir / "stacks").is_dir():
            print(f"error: {outdir}/stacks does not exist; run `make synth` first", file=sys.stderr)
            return 2
        gap = current_mirror_gap(outdir)  # e.g. a CDK Terrain output pins hashicorp/aws 6.x
        if gap:
            print(f"{gap}; terraform validate: not run")
            return 0

        def report(r: ValidateResult, done: int, total: int) -> None:  # each stack as it finishes
            print(f"  [{done:>2}/{total}] {r.stack:<28} {'valid' if r.ok else 'INVALID'}  {r.seconds:5.1f}s",
                  flush=True)
            if not r.ok:
                print("    " + r.detail.replace("\n", "\n    "), flush=True)
        results = validate_all(outdir, PROJECT / ".spofless" / "validate", args.jobs, progress=report)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = [r for r in results if not r.ok]
    print(f"terraform validate: {len(results) - len(failed)}/{len(results)} AWS stacks valid")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
