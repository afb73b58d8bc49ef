"""Synthesis benchmark: wall time and peak memory, printed and written as JSON.

    python -m tooling.dev.bench [--repeat 3] [--json reports/bench.json] [--growth 1,3,10]   (make bench)

Each workload runs in a fresh process; its peak memory is the largest sum of
RSS over the process and all its descendants (Python and the jsii node child),
sampled from /proc every 20 ms.

    floor   load cdktf and the four providers' jsii assemblies, nothing else, the way
            jsii loads them (node compiles every submodule of every provider)
    lazy    the same load with spofless' node loader (modules/node/lazy-providers.js),
            which compiles a submodule on first use: what synth starts from
    synth   `python -O main.py` for every environment, as `make synth` runs it
    cdktn   the same synth with CDK Terrain (`make synth CDK=cdktn`: its own venv, the same
            constructs; modules/engine.py), beside cdktf's; skipped when .venv-cdktn is not set up
    stock   the same synth with the providers imported the stock way (Python and node)
    growth  synth of 1, 3 and 10 generated copies of prod
    setup   a fresh clone of this checkout: `make synth` from nothing (set-up and the first
            synthesis), and the size of the venv it makes (skip with --no-setup)

Beside those, the figures other runs recorded: the last `make test` (reports/test-session.json)
and the last rehearsal of each environment (reports/rehearsal-<env>.json). Every figure is
printed beside its target (:data:`TARGETS`) with the ratio; timed tests would only be flaky.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

PROJECT = Path(__file__).resolve().parents[2]

# figure -> (target, unit): what a platform engineer waits for, and what synthesis may cost
TARGETS: dict[str, tuple[float, str]] = {
    "setup + first synth (fresh clone)": (30, "s"),
    "venv for synthesis": (400, "MiB"),
    "synth, every environment (median)": (3.5, "s"),
    "synth peak memory (median)": (400, "MiB"),
    "synth growth per environment": (0.6, "s"),
    # fixed start-up apart (the growth run's slope): must not grow as tiers are added
    "synth cost per resource": (4.0, "ms"),
    "make test (last run)": (180, "s"),
    "rehearsal dev (last run)": (120, "s"),
    "rehearsal prod (last run)": (180, "s"),
    # wall time against its floor: the critical path of the stack graph with each stack's measured time
    "rehearsal dev / its floor": (1.2, "x"),
}
FLOOR = ("import modules.providers as p, cdktf; p.load_all_assemblies()")


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    return found


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(pid: int) -> int:
    """RSS of ``pid`` and all its descendants."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += _rss_kib(current)
        stack += _children(current)
    return total


def measure(command: Sequence[str], env: dict, cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak tree RSS in MiB) of one run of ``command``; raises on failure."""
    started = time.perf_counter()
    process = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss_kib(process.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    return seconds, peak / 1024


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOFLESS_", "CDKTF_"))}
    env.update(extra)
    return env


def _stats(samples: list[tuple[float, float]]) -> dict:
    seconds = [s for s, _ in samples]
    memory = [m for _, m in samples]
    return {"seconds_min": min(seconds), "seconds_median": statistics.median(seconds),
            "peak_mib_min": min(memory), "peak_mib_median": statistics.median(memory), "runs": len(samples)}


def prod_copies(count: int, directory: Path) -> None:
    """``count`` copies of prod named prod1..prodN, each in an account of its own (CIDRs unchanged:
    the loader refuses overlapping VPCs only within one account and region), with that account's file
    (a copy of prod's account file: each copy synthesizes its own account baseline too)."""
    import re

    from environments.loader import load_environments

    text = (PROJECT / "environments" / "prod.yaml").read_text()
    account = re.search(r'account_id: "?(\d{12})', text).group(1)
    owner = load_environments(["prod"])[0].account.name
    account_text = (PROJECT / "environments" / "accounts" / f"{owner}.yaml").read_text()
    (directory / "accounts").mkdir(exist_ok=True)
    for index in range(1, count + 1):
        name = f"prod{index}"
        (directory / "accounts" / f"{name}.yaml").write_text(
            account_text.replace(account, f"{900000000000 + index}").replace(f"name: {owner}\n", f"name: {name}\n"))
        body = text.replace(account, f"{900000000000 + index}")
        body = body.replace("name: prod\n", f"name: {name}\n")
        body = body.replace("domain: platform.example.com", f"domain: {name}.platform.example.com")
        body = body.replace("app.platform.example.com", f"app.{name}.platform.example.com")
        (directory / f"{name}.yaml").write_text(body)


def _du_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def fresh_setup(scratch: Path) -> dict:
    """`make synth` in a fresh clone of this checkout: wall seconds and the venv's size."""
    clone = scratch / "clone"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOFLESS_", "CDKTF_", "VIRTUAL_ENV"))}
    started = time.perf_counter()
    done = subprocess.run(["make", "synth"], cwd=clone, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"make synth in a fresh clone failed: {done.stderr[-2000:]}")
    return {"seconds": seconds, "venv_mib": _du_mib(clone / ".venv")}


def resource_count(outdir: Path) -> int:
    """Resources and data sources in every stack of a synthesized output."""
    count = 0
    for path in outdir.glob("stacks/*/cdk.tf.json"):
        document = json.loads(path.read_text())
        count += sum(len(items) for section in ("resource", "data") for items in (document.get(section) or {}).values())
    return count


def critical_path(weights: dict[str, float], after: dict[str, list[str]]) -> float:
    """The longest chain of ``weights`` where each stack waits for the stacks ``after`` names."""
    memo: dict[str, float] = {}

    def longest(stack: str) -> float:
        if stack not in memo:
            memo[stack] = weights.get(stack, 0.0) + max((longest(d) for d in after.get(stack, []) if d in weights),
                                                         default=0.0)
        return memo[stack]
    return max((longest(s) for s in weights), default=0.0)


def rehearsal_floor(report: dict, dependencies: dict[str, list[str]]) -> Optional[dict]:
    """The least wall time a rehearsal can take with its stacks' measured times: apply along the stack graph's
    critical path, then the plans after apply (every stack at once: the longest), then destroy along the
    reversed graph. Everything the rehearsal spends beyond it (synthesis, the emulator's start, verification,
    the read-back plans, waiting for a free job slot) is overhead the ratio shows."""
    stacks = {s["stack"]: s for s in report.get("stacks", [])}
    if not stacks or not report.get("seconds"):
        return None
    after = {name: [d for d in dependencies.get(name, []) if d in stacks] for name in stacks}
    before = {name: [d for d, ups in after.items() if name in ups] for name in stacks}
    apply = critical_path({n: s.get("apply_seconds", 0.0) for n, s in stacks.items()}, after)
    plan = max((s.get("plan_seconds", 0.0) for s in stacks.values()), default=0.0)
    destroy = critical_path({n: s.get("destroy_seconds", 0.0) for n, s in stacks.items()}, before)
    floor = apply + plan + destroy
    return {"seconds": round(floor, 1), "apply": round(apply, 1), "plan": round(plan, 1),
            "destroy": round(destroy, 1), "ratio": report["seconds"] / floor if floor else None}


def _dependencies() -> dict[str, list[str]]:
    manifest = PROJECT / "cdktf.out" / "manifest.json"
    if not manifest.is_file():
        return {}
    return {name: list(spec.get("dependencies", []))
            for name, spec in json.loads(manifest.read_text()).get("stacks", {}).items()}


def recorded() -> dict:
    """The figures other runs wrote: the last test session and the last rehearsal of each environment."""
    found: dict = {}
    session = PROJECT / "reports" / "test-session.json"
    if session.is_file():
        found["test"] = json.loads(session.read_text())
    for path in sorted((PROJECT / "reports").glob("rehearsal-*.json")):
        report = json.loads(path.read_text())
        found[f"rehearsal {report.get('env', path.stem)}"] = {
            "seconds": report.get("seconds"), "ok": report.get("ok"),
            # where the time went: the critical path is the stacks' apply and destroy one after another,
            # and inside each the provider's fixed waits on its slowest resources
            "stacks": {s["stack"]: {"apply": round(s.get("apply_seconds", 0), 1), "plan": round(s.get("plan_seconds", 0), 1),
                                    "destroy": round(s.get("destroy_seconds", 0), 1),
                                    "slowest": s.get("slowest", [])[:3]} for s in report.get("stacks", [])},
            "floor": rehearsal_floor(report, _dependencies())}
    return found


def against_targets(results: dict) -> list[dict]:
    """Each figure beside its target; a figure nothing measured yet says so."""
    synth = results.get("synth", {})
    setup = results.get("setup", {})
    other = results.get("recorded", {})
    test = other.get("test", {})
    figures = {
        "setup + first synth (fresh clone)": setup.get("seconds"),
        "venv for synthesis": setup.get("venv_mib"),
        "synth, every environment (median)": synth.get("seconds_median"),
        "synth peak memory (median)": synth.get("peak_mib_median"),
        "synth growth per environment": results.get("per_environment", {}).get("seconds"),
        "synth cost per resource": (results.get("per_resource", {}).get("seconds") or 0) * 1000 or None,
        "rehearsal dev / its floor": (other.get("rehearsal dev", {}).get("floor") or {}).get("ratio"),
        "make test (last run)": test.get("seconds") if test.get("args") == ["tests"] and not test.get("failed") else None,
        "rehearsal dev (last run)": other.get("rehearsal dev", {}).get("seconds"),
        "rehearsal prod (last run)": other.get("rehearsal prod", {}).get("seconds"),
    }
    rows = []
    for name, (target, unit) in TARGETS.items():
        figure = figures.get(name)
        rows.append({"figure": name, "value": figure, "target": target, "unit": unit,
                     "ratio": None if figure is None else figure / target,
                     "met": None if figure is None else figure <= target})
    return rows


def cdktn_python() -> Optional[Path]:
    """The Python of CDK Terrain's venv, when it is set up."""
    from modules import engine

    python = engine.ENGINES["cdktn"].interpreter(PROJECT)
    return python if python.exists() else None


def run(repeat: int, growth: Sequence[int], setup: bool = True) -> dict:
    python = sys.executable
    results: dict = {"repeat": repeat, "cpus": os.cpu_count()}
    cdktn = cdktn_python()
    with tempfile.TemporaryDirectory() as scratch:
        scratch_path = Path(scratch)
        workloads = {
            "floor": ([python, "-c", FLOOR], _env(SPOFLESS_LAZY_NODE="0")),
            "lazy": ([python, "-c", FLOOR], _env()),
            "synth": ([python, "-O", str(PROJECT / "main.py")], _env(CDKTF_OUTDIR=str(scratch_path / "synth"))),
            **({"cdktn": ([str(cdktn), "-O", str(PROJECT / "main.py")],
                          _env(CDKTF_OUTDIR=str(scratch_path / "cdktn"), SPOFLESS_ENGINE="cdktn"))} if cdktn else {}),
            "stock": ([python, "-O", str(PROJECT / "main.py")],
                      _env(CDKTF_OUTDIR=str(scratch_path / "stock"), SPOFLESS_STOCK_IMPORTS="1")),
        }
        for name, (command, env) in workloads.items():
            samples = [measure(command, env, PROJECT) for _ in range(repeat)]
            results[name] = _stats(samples)
            print(f"  {name:<6} {results[name]['seconds_min']:6.1f} s min  {results[name]['seconds_median']:6.1f} s median"
                  f"  {results[name]['peak_mib_min']:7.0f} MiB min  {results[name]['peak_mib_median']:7.0f} MiB median",
                  flush=True)
        if cdktn is None:
            print("  cdktn  not measured: .venv-cdktn is not set up (`make synth CDK=cdktn` sets it up)", flush=True)
        stacks = len(list((scratch_path / "synth" / "stacks").iterdir()))
        results["stacks_per_synth"] = stacks
        results["growth"] = []
        for count in growth:
            env_dir = scratch_path / f"envs-{count}"
            env_dir.mkdir()
            prod_copies(count, env_dir)
            outdir = scratch_path / f"growth-{count}"
            samples = [measure([python, "-O", str(PROJECT / "main.py")],
                               _env(SPOFLESS_ENV_DIR=str(env_dir), CDKTF_OUTDIR=str(outdir)), PROJECT)
                       for _ in range(repeat)]
            entry = {"environments": count, "stacks": len(list((outdir / "stacks").iterdir())),
                     "resources": resource_count(outdir), **_stats(samples)}
            results["growth"].append(entry)
            shutil.rmtree(outdir, ignore_errors=True)
        if setup and (PROJECT / ".git").exists():
            results["setup"] = fresh_setup(scratch_path)
            print(f"  setup  {results['setup']['seconds']:6.1f} s (fresh clone, make synth)  "
                  f"venv {results['setup']['venv_mib']:.0f} MiB", flush=True)
    floor, lazy, synth, stock = results["floor"], results["lazy"], results["synth"], results["stock"]
    results["ratio_synth_to_floor"] = synth["seconds_median"] / floor["seconds_median"]
    results["ratio_synth_to_lazy_floor"] = synth["seconds_median"] / lazy["seconds_median"]
    results["ratio_stock_to_synth"] = stock["seconds_median"] / synth["seconds_median"]
    if "cdktn" in results:
        results["ratio_cdktn_to_synth"] = results["cdktn"]["seconds_median"] / synth["seconds_median"]
    growth_rows = results["growth"]
    if len(growth_rows) >= 2:
        first, last = growth_rows[0], growth_rows[-1]
        extra_envs = last["environments"] - first["environments"]
        extra_stacks = last["stacks"] - first["stacks"]
        results["per_environment"] = {
            "seconds": (last["seconds_median"] - first["seconds_median"]) / extra_envs,
            "peak_mib": (last["peak_mib_median"] - first["peak_mib_median"]) / extra_envs}
        extra_resources = last["resources"] - first["resources"]
        results["per_resource"] = {"seconds": (last["seconds_median"] - first["seconds_median"]) / extra_resources,
                                   "peak_kib": (last["peak_mib_median"] - first["peak_mib_median"]) * 1024
                                   / extra_resources}
        results["per_stack"] = {
            "seconds": (last["seconds_median"] - first["seconds_median"]) / extra_stacks,
            "peak_mib": (last["peak_mib_median"] - first["peak_mib_median"]) / extra_stacks}
    results["recorded"] = recorded()
    results["targets"] = against_targets(results)
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.dev.bench")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default="reports/bench.json")
    parser.add_argument("--growth", default="1,3,10", help="environment counts for the growth run")
    parser.add_argument("--no-setup", action="store_true", help="skip the fresh-clone set-up run")
    args = parser.parse_args(argv)
    print(f"benchmark: {args.repeat} run(s) each on {os.cpu_count()} CPU(s)", flush=True)
    results = run(args.repeat, [int(n) for n in args.growth.split(",") if n], setup=not args.no_setup)
    print(f"  synth / floor = {results['ratio_synth_to_floor']:.2f}x   synth / lazy = "
          f"{results['ratio_synth_to_lazy_floor']:.2f}x   stock / synth = "
          f"{results['ratio_stock_to_synth']:.2f}x   ({results['stacks_per_synth']} stacks)"
          + (f"   cdktn / synth = {results['ratio_cdktn_to_synth']:.2f}x" if "ratio_cdktn_to_synth" in results else ""))
    for row in results["growth"]:
        print(f"  growth {row['environments']:>2} env(s) {row['stacks']:>3} stacks  {row['seconds_median']:6.1f} s  "
              f"{row['peak_mib_median']:7.0f} MiB")
    if "per_environment" in results:
        e, s = results["per_environment"], results["per_stack"]
        print(f"  per environment: +{e['seconds']:.2f} s, +{e['peak_mib']:.0f} MiB;  per stack: "
              f"+{s['seconds']:.3f} s, +{s['peak_mib']:.1f} MiB")
    if "per_resource" in results:
        r = results["per_resource"]
        print(f"  per resource (start-up apart): {r['seconds'] * 1000:.2f} ms, {r['peak_kib']:.0f} KiB")
    print(f"  {'figure':<36} {'value':>9} {'target':>9}  ratio  met")
    for row in results["targets"]:
        value = "-" if row["value"] is None else f"{row['value']:.1f} {row['unit']}"
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        met = "not measured yet" if row["met"] is None else ("yes" if row["met"] else "NO")
        print(f"  {row['figure']:<36} {value:>9} {row['target']:>6} {row['unit']:<3} {ratio:>5}  {met}")
    for name, figures in sorted(results["recorded"].items()):
        if not name.startswith("rehearsal ") or not figures.get("stacks"):
            continue
        floor = figures.get("floor")
        if floor:
            print(f"  {name}: {figures['seconds']:.0f} s wall, floor {floor['seconds']:.0f} s (critical path: apply "
                  f"{floor['apply']:.0f} + longest plan {floor['plan']:.0f} + destroy {floor['destroy']:.0f}), "
                  f"{floor['ratio']:.2f}x its floor")
        print(f"  where the {name} time goes (apply / plan / destroy s; slowest operations):")
        for stack, row in figures["stacks"].items():
            slowest = ", ".join(f"{op['address'].split('.')[0]} {op['operation']} {op['seconds']}s" for op in row["slowest"])
            print(f"    {stack:<24} {row['apply']:6.1f} {row['plan']:6.1f} {row['destroy']:6.1f}  {slowest or '-'}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"  written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
