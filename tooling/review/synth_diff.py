"""What a change does to the generated Terraform, with no credentials: the synthesized output of another
revision against this one, by stack, resource address and attribute.

    spofless diff --against main [-e prod] [--reports reports]

The other revision is checked out in a temporary git worktree and synthesized there with this
checkout's Python (its requirement files must match; a warning says when they do not); this
checkout's output is ``--out`` (synthesized first when missing). A reviewer sees which stacks gain,
lose or change which resources, and which attributes change from what to what, before anyone plans
against an account. Written to ``reports/synth-diff.md`` and ``synth-diff.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

PROJECT = Path(__file__).resolve().parents[2]
SECTIONS = ("resource", "data", "output", "provider", "module")
SHOWN_VALUE_CHARS = 80
SHOWN_PATHS = 12  # changed attributes listed per resource (the JSON report has them all)
BLOCK = "(block)"  # a whole block present on one side only


class DiffError(Exception):
    """A reason the comparison cannot run, said in one line."""


@dataclass
class Change:
    address: str
    kind: str  # "added", "removed", "changed"
    attributes: list = field(default_factory=list)  # (path, before, after)


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        if not value:
            yield path, {}
        for key in sorted(value):
            if key != "//":  # construct metadata: paths and ids, not configuration
                yield from _leaves(value[key], f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        if not value:
            yield path, []
        named = all(isinstance(i, dict) and i.get("kind") and (i.get("metadata") or {}).get("name") for i in value)
        for index, item in enumerate(value):
            # Kubernetes objects by kind and name, so one inserted object does not shift the others
            key = (f"{item['kind']}/{item['metadata'].get('namespace', '')}/{item['metadata']['name']}"
                   if named else index)
            yield from _leaves(item, f"{path}[{key}]")
    else:
        # a policy document (JSON) or a chart's values (YAML) held as a string: compared by their fields
        inner = _embedded(value, path) if isinstance(value, str) else None
        if inner is not None:
            yield from _leaves(inner, path)
        else:
            yield path, value


def _embedded(value: str, path: str) -> Any:
    """The structure a JSON or YAML string attribute holds, or None."""
    text = value.strip()
    try:
        if text[:1] in "{[" and text[-1:] in "}]":
            parsed = json.loads(text)
        elif re.search(r"(^|\.)values\[\d+\]$", path) and "\n" in text:
            import yaml

            parsed = yaml.safe_load(text)
        else:
            return None
    except ValueError:
        return None
    return parsed if isinstance(parsed, (dict, list)) and parsed else None


def _blocks(document: dict) -> dict[str, Any]:
    """``{address: configuration}`` of a stack's resources, data sources, outputs, providers and modules."""
    found = {}
    for section in SECTIONS:
        for kind, group in (document.get(section) or {}).items():
            if section == "output":
                found[f"output.{kind}"] = group
            elif section == "provider":
                for index, conf in enumerate(group if isinstance(group, list) else [group]):
                    found[f"provider.{kind}[{(conf or {}).get('alias', index)}]"] = conf
            else:
                for name, conf in (group or {}).items():
                    found[f"{'data.' if section == 'data' else ''}{kind}.{name}"] = conf
    return found


def _prefixes(path: str) -> list[str]:
    """``a.b[x].c`` -> ``[a, a.b, a.b[x], a.b[x].c]``: every block the attribute sits in, outermost first."""
    cuts = [m.start() for m in re.finditer(r"[.\[]", path) if m.start() > 0]
    return [path[:c] for c in cuts] + [path]


def _collapsed(attributes: list, was: dict, now: dict) -> list:
    """A block present on one side only becomes one line (``(added)``/``(removed)``), not one per field."""
    inside = {side: {p for path in leaves for p in _prefixes(path)} for side, leaves in (("was", was), ("now", now))}
    found, seen = [], set()
    for path, before, after in attributes:
        block = next((p for p in _prefixes(path)[1:] if (p in inside["now"]) != (p in inside["was"])), None)
        if block is None or block == path:
            found.append((path, before, after))
        elif block not in seen:
            seen.add(block)
            found.append((block, None if block in inside["now"] else BLOCK, BLOCK if block in inside["now"] else None))
    return found


def compare(before: dict[str, dict], after: dict[str, dict]) -> dict[str, list[Change]]:
    """``{stack: [Change]}`` for every stack that differs (a stack only on one side: all added or removed)."""
    result: dict[str, list[Change]] = {}
    for stack in sorted(set(before) | set(after)):
        old, new = _blocks(before.get(stack) or {}), _blocks(after.get(stack) or {})
        changes = [Change(a, "added") for a in sorted(set(new) - set(old))]
        changes += [Change(a, "removed") for a in sorted(set(old) - set(new))]
        for address in sorted(set(old) & set(new)):
            was, now = dict(_leaves(old[address])), dict(_leaves(new[address]))
            attributes = _collapsed([(p, was.get(p), now.get(p)) for p in sorted(set(was) | set(now))
                                     if was.get(p) != now.get(p)], was, now)
            if attributes:
                changes.append(Change(address, "changed", attributes))
        if changes:
            result[stack] = changes
    return result


def _shown(value: Any) -> str:
    text = "(absent)" if value is None else json.dumps(value)
    return text if len(text) <= SHOWN_VALUE_CHARS else text[:SHOWN_VALUE_CHARS - 3] + "..."


def markdown(diff: dict[str, list[Change]], ref: str) -> str:
    if not diff:
        return f"## Generated Terraform against `{ref}`\n\nNo stack changes.\n"
    lines = [f"## Generated Terraform against `{ref}`", "",
             "| stack | added | removed | changed |", "| --- | ---: | ---: | ---: |"]
    for stack, changes in diff.items():
        counts = {k: sum(1 for c in changes if c.kind == k) for k in ("added", "removed", "changed")}
        lines.append(f"| `{stack}` | {counts['added']} | {counts['removed']} | {counts['changed']} |")
    for stack, changes in diff.items():
        lines += ["", f"### `{stack}`", ""]
        for change in changes:
            if change.kind != "changed":
                lines.append(f"- {change.kind}: `{change.address}`")
                continue
            lines.append(f"- changed: `{change.address}`")
            for path, was, now in change.attributes[:SHOWN_PATHS]:
                if BLOCK in (was, now):
                    lines.append(f"  - {'added' if now == BLOCK else 'removed'}: `{path}`")
                else:
                    lines.append(f"  - `{path}`: `{_shown(was)}` -> `{_shown(now)}`")
            if len(change.attributes) > SHOWN_PATHS:
                lines.append(f"  - and {len(change.attributes) - SHOWN_PATHS} more attributes (synth-diff.json)")
    return "\n".join(lines) + "\n"


def _stacks(outdir: Path, envs: Sequence[str]) -> dict[str, dict]:
    from policies.model.output import Output

    output = Output.load(outdir)
    return {name: doc for name, doc in output.stacks.items() if not envs or output.environment_of(name) in envs}


def synthesize_revision(ref: str, scratch: Path) -> Path:
    """The output of ``ref``, synthesized in a worktree under ``scratch`` with this Python."""
    tree, out = scratch / "tree", scratch / "out"
    found = subprocess.run(["git", "-C", str(PROJECT), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise DiffError(f"--against {ref}: not a commit, branch or tag of this repository")
    subprocess.run(["git", "-C", str(PROJECT), "worktree", "add", "--detach", "--quiet", str(tree),
                    found.stdout.strip()], check=True, capture_output=True)
    try:
        for name in ("requirements.txt",):
            if (tree / name).read_text() != (PROJECT / name).read_text():
                print(f"warning: {name} differs at {ref}: its output is synthesized with this checkout's packages",
                      file=sys.stderr)
        env = dict(os.environ, CDKTF_OUTDIR=str(out))
        env.pop("SPOFLESS_ENVS", None)
        result = subprocess.run([sys.executable, "-O", str(tree / "main.py")], cwd=tree, env=env,
                                capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise DiffError(f"--against {ref}: its synthesis failed ({last})")
        return out
    finally:
        subprocess.run(["git", "-C", str(PROJECT), "worktree", "remove", "--force", str(tree)], capture_output=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="spofless diff --against")
    parser.add_argument("--against", required=True, help="a commit, branch or tag to compare with")
    parser.add_argument("--out", default="cdktf.out", type=Path)
    parser.add_argument("--reports", default="reports", type=Path)
    parser.add_argument("--env", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="spofless-against-") as scratch:
            before = _stacks(synthesize_revision(args.against, Path(scratch)), args.env)
        after = _stacks(args.out, args.env)
    except DiffError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    diff = compare(before, after)
    args.reports.mkdir(parents=True, exist_ok=True)
    (args.reports / "synth-diff.md").write_text(markdown(diff, args.against))
    (args.reports / "synth-diff.json").write_text(json.dumps(
        {stack: [{"address": c.address, "kind": c.kind,
                  "attributes": [{"path": p, "before": b, "after": a} for p, b, a in c.attributes]}
                 for c in changes] for stack, changes in diff.items()}, indent=1, sort_keys=True) + "\n")
    for stack, changes in diff.items():
        counts = {k: sum(1 for c in changes if c.kind == k) for k in ("added", "removed", "changed")}
        print(f"  {stack:<32} +{counts['added']} -{counts['removed']} ~{counts['changed']}")
    print(f"synth diff against {args.against}: {len(diff)} stack(s) differ; "
          f"reports: {args.reports / 'synth-diff.md'}, {args.reports / 'synth-diff.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
