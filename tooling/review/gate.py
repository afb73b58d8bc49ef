"""One checkov run over every synthesized stack, and the gate's verdict on it.

    python -m tooling.review.gate [--outdir cdktf.out] [--reports reports]

checkov can fail silently on ``cdk.tf.json`` (a parse error reports zero
checks and exits 0; see checkov #7454), so the gate does not trust its exit
code alone: it fails on any failed check, any parsing error, and any
synthesized stack that produced no check result at all.

The trigger of #7454 is ``terraform.required_version`` (checkov 3.3.x reads a
``cdk.tf.json`` that has it as unparseable and scans nothing), which every
stack sets. checkov therefore scans a copy of the stacks without that one key
(:func:`scan_copy`): nothing it checks is removed, and the deploy rules check
the version floor itself (SPOF_DEPLOY_23).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

PROJECT = Path(__file__).resolve().parents[2]
CONFIG = PROJECT / ".checkov.yaml"
SKIPS = PROJECT / "policies" / "checkov_skips.yaml"


@dataclass(frozen=True)
class Skip:
    """One scoped skip (policies/checkov_skips.yaml): a check, the resources it is justified for, why."""

    check: str
    resources: tuple[str, ...]
    why: str

    def matches(self, check_id: str, resource: str) -> bool:
        """``resource`` as checkov reports it: ``<type>.<name>``, or ``resource.<name>`` for some types."""
        if check_id != self.check:
            return False
        kind, _, name = resource.partition(".")
        for pattern in self.resources:
            want_kind, _, want_name = pattern.partition(".")
            if fnmatch.fnmatchcase(name, want_name) and (want_kind in ("*", kind) or kind == "resource"):
                return True
        return False


def load_skips(path: Path = SKIPS) -> tuple[Skip, ...]:
    """The scoped skips; each must name a check, at least one resource pattern and a one-line reason."""
    import yaml

    entries = yaml.safe_load(path.read_text()) or []
    skips = []
    for index, entry in enumerate(entries):
        check, resources, why = entry.get("check"), entry.get("resources"), entry.get("why")
        if not (isinstance(check, str) and resources and isinstance(why, str) and len(why) >= 20
                and "\n" not in why.strip() and all(isinstance(r, str) and "." in r for r in resources)):
            raise ValueError(f"{path.name} entry {index + 1}: needs check, resources (<type>.<name pattern>) "
                             "and a one-line why")
        skips.append(Skip(check, tuple(resources), why.strip()))
    return tuple(skips)


@dataclass(frozen=True)
class CheckovRun:
    """What one checkov run found."""

    passed: int
    failed: int
    skipped: int
    parsing_errors: int
    failures: tuple[str, ...]
    stacks_checked: frozenset[str]
    stacks_expected: frozenset[str]
    raw: dict = field(repr=False, default_factory=dict)
    unused_skips: tuple[str, ...] = ()

    @property
    def problems(self) -> list[str]:
        """Why the gate fails; empty when it passes."""
        problems = [f"failed: {f}" for f in self.failures]
        problems += [f"scoped skip matches nothing (remove it from {SKIPS.name} or fix its pattern): {s}"
                     for s in self.unused_skips]
        if self.parsing_errors:
            problems.append(f"checkov could not parse {self.parsing_errors} file(s)")
        missing = sorted(self.stacks_expected - self.stacks_checked)
        if missing:
            problems.append(f"no check ran on stack(s) {', '.join(missing)}: checkov did not scan them")
        if not self.stacks_expected:
            problems.append("no synthesized stacks to scan")
        return problems


def _stack_of(result: dict) -> str:
    # file_path is like /<stack>/cdk.tf.json relative to the scanned directory
    return Path(result["file_path"]).parent.name


REPORT_FORMATS = ("cli", "sarif", "junitxml")


def scan_copy(stacks_dir: Path, into: Path) -> Path:
    """``into/<stack>/cdk.tf.json`` for every stack, without the two things checkov's ``terraform_json``
    parser cannot read, so it scans nothing in such a file: ``terraform.required_version`` (checkov
    #7454), and ``moved`` and ``removed`` blocks (state moves and forgets: no resource, nothing a check
    could judge).

    Only the ``cdk.tf.json`` files: the gate's one framework is ``terraform_json``.
    """
    for source in sorted(stacks_dir.glob("*/cdk.tf.json")):
        target = into / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text()
        try:
            document = json.loads(text)
        except json.JSONDecodeError:  # copied as it is: checkov reports it, and the gate fails on it
            target.write_text(text)
            continue
        if isinstance(document.get("terraform"), dict):
            document["terraform"].pop("required_version", None)
        document.pop("moved", None)
        document.pop("removed", None)
        target.write_text(json.dumps(document, indent=2))
    return into


def run_checkov(stacks_dir: Path, config: Path = CONFIG, extra_args: Sequence[str] = (),
                reports_dir: Optional[Path] = None, skips: Optional[Sequence[Skip]] = None) -> CheckovRun:
    """Run checkov once over ``stacks_dir`` and summarize its JSON report.

    With ``reports_dir``, the same run also writes ``results_cli.txt``,
    ``results_sarif.sarif`` and ``results_junitxml.xml`` there (and the JSON).
    """
    with tempfile.TemporaryDirectory(prefix="spofless-checkov-") as scratch:
        # the copy keeps the stack folder names, so results map back to the stacks one to one
        return _run_checkov(scan_copy(stacks_dir.resolve(), Path(scratch) / "stacks"), config, extra_args,
                            reports_dir, load_skips() if skips is None else tuple(skips))


def _run_checkov(stacks_dir: Path, config: Path, extra_args: Sequence[str],
                 reports_dir: Optional[Path], skips: Sequence[Skip] = ()) -> CheckovRun:
    expected = frozenset(p.parent.name for p in stacks_dir.glob("*/cdk.tf.json"))
    command = [sys.executable, "-m", "checkov.main", "--config-file", str(config),
               "-d", str(stacks_dir), "-o", "json", *extra_args]
    if reports_dir is not None:
        reports_dir = reports_dir.resolve()
        reports_dir.mkdir(parents=True, exist_ok=True)
        for kind in REPORT_FORMATS:
            command += ["-o", kind]
        command += ["--output-file-path", str(reports_dir)]
    # cwd: the config names policies/ relative to the project root
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT)
    raw = (reports_dir / "results_json.json").read_text() if reports_dir is not None else completed.stdout
    try:
        report = json.loads(raw)
    except (json.JSONDecodeError, FileNotFoundError):
        raise RuntimeError(f"checkov gave no JSON report (exit {completed.returncode}):\n"
                           f"{completed.stderr[-2000:]}") from None
    reports = report if isinstance(report, list) else [report]
    if not reports or "summary" not in reports[0]:
        # checkov prints a bare summary when nothing at all was scanned
        reports = [{"summary": report.get("summary", report) if isinstance(report, dict) else {},
                    "results": {}}]
    passed = failed = skipped = parsing = 0
    failures: list[str] = []
    checked: set[str] = set()
    used: set[Skip] = set()
    accepted: dict[tuple[str, str, int], str] = {}  # (check, stack, first line) -> the skip's why
    for part in reports:
        summary = part.get("summary", {})
        passed += summary.get("passed", 0)
        failed += summary.get("failed", 0)
        skipped += summary.get("skipped", 0)
        parsing += summary.get("parsing_errors", 0)
        results = part.get("results", {})
        for kind in ("passed_checks", "failed_checks", "skipped_checks"):
            checked.update(_stack_of(r) for r in results.get(kind, []))
        for r in results.get("failed_checks", []):
            skip = next((s for s in skips if s.matches(r["check_id"], r["resource"])), None)
            if skip is not None:
                used.add(skip)
                failed -= 1
                skipped += 1
                accepted[(r["check_id"], _stack_of(r), int((r.get("file_line_range") or [0])[0]))] = skip.why
                continue
            failures.append(f"{r['check_id']} {r['check_name']} on {_stack_of(r)}: {r['resource']}")
    unused = tuple(f"{s.check} on {', '.join(s.resources)}" for s in skips if s not in used)
    if reports_dir is not None:
        agree_with_the_gate(reports_dir, accepted)
    return CheckovRun(passed, failed, skipped, parsing, tuple(sorted(failures)),
                      frozenset(checked), expected, reports[0], unused)


def agree_with_the_gate(reports_dir: Path, accepted: dict[tuple[str, str, int], str]) -> None:
    """checkov writes every finding the scoped skip list accepts as failed (the list is applied after the
    scan). Rewrite its CLI, JUnit and SARIF reports so they say what the gate decided: each accepted finding
    skipped (JUnit ``<skipped>``, CLI ``SKIPPED``, SARIF ``suppressions``) with the skip's reason, and the
    totals to match. ``accepted``: ``(check id, stack, first line) -> why``."""
    import re
    import xml.etree.ElementTree as ET

    def key(check: str, file: str, line: int) -> tuple[str, str, int]:
        return check, Path(file).parent.name, line

    junit = reports_dir / "results_junitxml.xml"
    if junit.exists() and accepted:
        tree = ET.parse(junit)
        moved = 0
        for suite in tree.getroot().iter("testsuite"):
            count = 0
            for case in suite.iter("testcase"):
                failure = case.find("failure")
                check = re.search(r"\[(CKV[\w]*_\d+)\]", case.get("name", ""))
                line = re.search(r"cdk\.tf\.json: (\d+)-", (failure.text or "") if failure is not None else "")
                why = accepted.get(key(check.group(1), case.get("file", ""), int(line.group(1)))) \
                    if failure is not None and check and line else None
                if why is not None:
                    case.remove(failure)
                    ET.SubElement(case, "skipped", {"type": "skip", "message": f"scoped skip: {why}"})
                    count += 1
            suite.set("failures", str(int(suite.get("failures", 0)) - count))
            suite.set("skipped", str(int(suite.get("skipped", 0)) + count))
            moved += count
        root = tree.getroot()
        if root.tag == "testsuites":
            root.set("failures", str(int(root.get("failures", 0)) - moved))
        tree.write(junit, encoding="unicode")
    cli = reports_dir / "results_cli.txt"
    if cli.exists() and accepted:
        lines = cli.read_text().split("\n")
        check, moved = "", 0
        for index, line in enumerate(lines):
            found = re.match(r"Check: (CKV\w*_\d+):", line)
            if found:
                check = found.group(1)
            if line.startswith("\tFAILED for resource:"):
                place = next((re.match(r"\tFile: (\S+cdk\.tf\.json):(\d+)-", x) for x in lines[index + 1:index + 4]
                              if x.startswith("\tFile: ")), None)
                why = accepted.get(key(check, place.group(1), int(place.group(2)))) if place else None
                if why is not None:
                    lines[index] = line.replace("\tFAILED", "\tSKIPPED (scoped skip: " + why + ")", 1)
                    moved += 1
        text = "\n".join(lines)
        text = re.sub(r"Failed checks: (\d+), Skipped checks: (\d+)",
                      lambda m: f"Failed checks: {int(m.group(1)) - moved}, Skipped checks: {int(m.group(2)) + moved}",
                      text, count=1)
        cli.write_text(text)
    sarif = reports_dir / "results_sarif.sarif"
    if sarif.exists() and accepted:
        document = json.loads(sarif.read_text())
        for run in document.get("runs", []):
            for result in run.get("results", []):
                location = ((result.get("locations") or [{}])[0]).get("physicalLocation", {})
                why = accepted.get(key(result.get("ruleId", ""), location.get("artifactLocation", {}).get("uri", ""),
                                       int(location.get("region", {}).get("startLine", 0))))
                if why is not None:
                    result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": why}]
        sarif.write_text(json.dumps(document, indent=2))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.review.gate")
    parser.add_argument("--outdir", default="cdktf.out")
    parser.add_argument("--reports", help="also write CLI, SARIF and JUnit XML reports into this folder")
    args = parser.parse_args(argv)
    stacks = Path(args.outdir) / "stacks"
    if not stacks.is_dir():
        print(f"error: {stacks} does not exist; run `make synth` first", file=sys.stderr)
        return 2
    run = run_checkov(stacks, reports_dir=Path(args.reports) if args.reports else None)
    print(f"checkov: {run.passed} passed, {run.failed} failed, {run.skipped} skipped, "
          f"{run.parsing_errors} parsing errors, {len(run.stacks_checked)}/{len(run.stacks_expected)} stacks scanned")
    for problem in run.problems:
        print(f"  {problem}")
    if args.reports:
        print(f"reports: {', '.join(f'{args.reports}/results_{k}' for k in ('cli.txt', 'sarif.sarif', 'junitxml.xml'))}")
    deploy_problems = deploy_gate(Path(args.outdir), Path(args.reports) if args.reports else None)
    lock_problems = lock_gate(Path(args.outdir))
    return 1 if run.problems or deploy_problems or lock_problems else 0


def lock_gate(outdir: Path) -> list[str]:
    """Every provider the stacks pin has its checksums in the committed lock (tooling/terraform/locks.py)."""
    from tooling.terraform import locks
    from tooling.terraform.mirror import pinned_providers

    try:
        problems = locks.problems(locks.load(), pinned_providers(outdir))
    except locks.LockError as error:
        problems = [str(error)]
    pending = sorted(f"{a.removeprefix(locks.REGISTRY + '/')} {v}" for a, v in locks.PENDING)
    print(f"provider lock: {len(problems)} problem(s)" + (f"; pending: {', '.join(pending)}" if pending else ""))
    for problem in problems:
        print(f"  {problem}")
    return problems


def deploy_gate(outdir: Path, reports_dir: Optional[Path] = None) -> list[str]:
    """Run the deploy-rules pack (policies/rules/) over ``outdir``; print and return its failures."""
    sys.path.insert(0, str(PROJECT))
    from policies.model.output import Output
    from policies.rules import RULES, run_rules

    output = Output.load(outdir)
    results = run_rules(output)
    failed = [r for r in results if not r.passed]
    judged = {r.rule for r in results}
    print(f"deploy rules: {len(RULES)} rules, {len(results) - len(failed)} passed, {len(failed)} failed, "
          f"{len(output.environments)} environment(s)")
    for result in failed:
        print(f"  {result}")
    problems = [str(r) for r in failed]
    idle = [r.id for r in RULES if r.id not in judged]
    if output.environments and idle:
        # every rule judges something in a full output; one that found nothing lost its subject
        print(f"  rules that found nothing to judge: {', '.join(idle)}")
    if reports_dir is not None:
        reports_dir.mkdir(parents=True, exist_ok=True)
        (reports_dir / "deploy_rules.json").write_text(json.dumps(
            [{"rule": r.rule, "stack": r.stack, "subject": r.subject, "passed": r.passed, "message": r.message}
             for r in results], indent=1, sort_keys=True) + "\n")
    return problems


if __name__ == "__main__":
    sys.exit(main())
