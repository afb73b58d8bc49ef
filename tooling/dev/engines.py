"""The same constructs under both engines (CDKTF and CDK Terrain): compare the outputs, and say
whether Terraform can get the providers an output pins.

    python -m tooling.dev.engines compare cdktf.out cdktf.out.cdktn   one line per stack; exit 1 on a difference
                                                                  outside the allow-list
    python -m tooling.dev.engines mirror [--out cdktf.out]           one line when the provider mirror lacks
                                                                  a provider version the output pins

Two syntheses agree when they have the same stacks, every stack the same resource, data source
and output addresses, and every other difference in their JSON is on :data:`ALLOWED`: the
engine's version in the metadata, the provider versions each engine's prebuilt providers pin,
and the provider ``source`` written short (``aws``) by one and long (``hashicorp/aws``) by the
other. Files that are not JSON (assets) must be byte-identical.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from tooling.terraform.mirror import provider_address
from tooling.terraform.runner import current_mirror_gap

JsonPath = tuple  # a path into a JSON document: keys and list indexes


def _engine_version(file: str, path: JsonPath, a: Any, b: Any) -> bool:
    return (file == "manifest.json" and path == ("version",)) or \
        (file.endswith("cdk.tf.json") and path == ("//", "metadata", "version"))


def _provider_version(file: str, path: JsonPath, a: Any, b: Any) -> bool:
    return len(path) == 4 and path[:2] == ("terraform", "required_providers") and path[3] == "version"


def _source_shorthand(file: str, path: JsonPath, a: Any, b: Any) -> bool:
    return (len(path) == 4 and path[:2] == ("terraform", "required_providers") and path[3] == "source"
            and isinstance(a, str) and isinstance(b, str) and provider_address(a) == provider_address(b))


ALLOWED: dict[str, Callable[[str, JsonPath, Any, Any], bool]] = {
    "engine version metadata": _engine_version,
    "provider versions": _provider_version,
    "provider source shorthand": _source_shorthand,
}


def differences(a: Any, b: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any, Any]]:
    """Every leaf where two JSON documents differ: (path, value in a, value in b); absent is ``...``."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                yield path + (key,), a.get(key, ...), b.get(key, ...)
            else:
                yield from differences(a[key], b[key], path + (key,))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b)):
            yield from differences(x, y, path + (index,))
    elif a != b or type(a) is not type(b):
        yield path, a, b


def addresses(document: dict) -> list[str]:
    """Resource, data source and output addresses of one ``cdk.tf.json``, sorted."""
    found = [f"{kind}.{name}" for kind, instances in document.get("resource", {}).items() for name in instances]
    found += [f"data.{kind}.{name}" for kind, instances in document.get("data", {}).items() for name in instances]
    found += [f"output.{name}" for name in document.get("output", {})]
    return sorted(found)


def _show(path: JsonPath) -> str:
    return ".".join(str(part) for part in path)


@dataclass
class Comparison:
    """What :func:`compare` found; ``ok`` when nothing is outside the allow-list."""

    stacks: list[str] = field(default_factory=list)
    addresses: dict[str, int] = field(default_factory=dict)
    allowed: Counter = field(default_factory=Counter)
    """allow-list entry -> how many leaves it excused"""
    allowed_examples: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        total = sum(self.addresses.values())
        lines = [f"{len(self.stacks)} stacks compared, {total} resource/data/output addresses identical"
                 if self.ok else f"{len(self.stacks)} stacks compared: {len(self.problems)} difference(s) "
                                 "outside the allow-list"]
        for name, count in sorted(self.allowed.items()):
            lines.append(f"  allowed: {name}: {count} (e.g. {self.allowed_examples[name]})")
        lines += [f"  DIFFERENT: {problem}" for problem in self.problems[:40]]
        if len(self.problems) > 40:
            lines.append(f"  ... and {len(self.problems) - 40} more")
        return "\n".join(lines)


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


def compare(a: Path, b: Path) -> Comparison:
    """Compare two synthesized output folders (``cdktf.out`` of each engine)."""
    result = Comparison()
    files_a, files_b = _files(a), _files(b)
    for name in sorted(set(files_a) ^ set(files_b)):
        result.problems.append(f"{name}: only in {a if name in files_a else b}")
    result.stacks = sorted(p.parent.name for p in a.glob("stacks/*/cdk.tf.json"))
    for name in sorted(set(files_a) & set(files_b)):
        if not name.endswith(".json"):
            if files_a[name].read_bytes() != files_b[name].read_bytes():
                result.problems.append(f"{name}: the bytes differ")
            continue
        doc_a, doc_b = json.loads(files_a[name].read_text()), json.loads(files_b[name].read_text())
        if name.endswith("cdk.tf.json"):
            stack = Path(name).parent.name
            if addresses(doc_a) != addresses(doc_b):
                only_a = sorted(set(addresses(doc_a)) - set(addresses(doc_b)))
                only_b = sorted(set(addresses(doc_b)) - set(addresses(doc_a)))
                result.problems.append(f"{stack}: addresses differ (only in {a.name}: {only_a[:5]}; "
                                       f"only in {b.name}: {only_b[:5]})")
            else:
                result.addresses[stack] = len(addresses(doc_a))
        for path, value_a, value_b in differences(doc_a, doc_b):
            rule = next((rule for rule, allows in ALLOWED.items() if allows(name, path, value_a, value_b)), None)
            shown = f"{name}: {_show(path)}: {json.dumps(value_a) if value_a is not ... else 'absent'} -> " \
                    f"{json.dumps(value_b) if value_b is not ... else 'absent'}"
            if rule is None:
                result.problems.append(shown)
            else:
                result.allowed[rule] += 1
                result.allowed_examples.setdefault(rule, shown)
    return result


# -- can Terraform get the providers this output pins? ------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.dev.engines")
    sub = parser.add_subparsers(dest="command", required=True)
    both = sub.add_parser("compare", help="compare two outputs: the same addresses, nothing off the allow-list")
    both.add_argument("a", type=Path)
    both.add_argument("b", type=Path)
    mirror = sub.add_parser("mirror", help="one line when the provider mirror lacks a version the output pins")
    mirror.add_argument("--out", type=Path, default=Path("cdktf.out"))
    args = parser.parse_args(argv)
    if args.command == "compare":
        for folder in (args.a, args.b):
            if not (folder / "stacks").is_dir():
                print(f"error: {folder}/stacks does not exist; synthesize into it first", file=sys.stderr)
                return 2
        result = compare(args.a, args.b)
        print(result.summary())
        return 0 if result.ok else 1
    line = current_mirror_gap(args.out)
    if line:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
