"""The same constructs under both engines (CDKTF and CDK Terrain): compare the outputs, and say
whether Terraform can get the providers an output pins.

    python -m tooling.engines compare cdktf.out cdktf.out.cdktn   one line per stack; exit 1 on a difference
                                                                  outside the allow-list
    python -m tooling.engines mirror [--out cdktf.out]           one line when the provider mirror lacks
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
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

JsonPath = tuple  # a path into a JSON document: keys and list indexes

DEFAULT_NAMESPACE = "hashicorp"
REGISTRY = "registry.terraform.io"


def provider_address(source: str) -> str:
    """``aws`` / ``hashicorp/aws`` / ``registry.terraform.io/hashicorp/aws`` -> the last (Terraform's rule)."""
    parts = source.lower().split("/")
    if len(parts) == 1:
        parts = [DEFAULT_NAMESPACE, *parts]
    if len(parts) == 2:
        parts = [REGISTRY, *parts]
    return "/".join(parts)


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

def pinned_providers(outdir: Path) -> dict[str, set[str]]:
    """``{registry address: {versions}}`` the stacks of ``outdir`` pin in ``required_providers``."""
    pinned: dict[str, set[str]] = {}
    for path in sorted(outdir.glob("stacks/*/cdk.tf.json")):
        document = json.loads(path.read_text())
        for name, spec in document.get("terraform", {}).get("required_providers", {}).items():
            if isinstance(spec, dict) and spec.get("version"):
                pinned.setdefault(provider_address(spec.get("source", name)), set()).add(spec["version"])
    return pinned


def mirror_versions(mirror: Path, address: str) -> list[str]:
    """Versions of one provider a filesystem mirror holds (unpacked or packed layout)."""
    folder = mirror / address
    if not folder.is_dir():
        return []
    versions = {p.name for p in folder.iterdir() if p.is_dir()}
    versions |= {m.group(1) for p in folder.glob("*.zip")
                 if (m := re.match(r"terraform-provider-[^_]+_([^_]+)_", p.name))}
    return sorted(versions)


def mirror_gap(outdir: Path, mirror: Optional[Path]) -> Optional[str]:
    """One line when ``mirror`` (the set-up's provider mirror; None: the registry) holds a provider the
    output pins but not the pinned version: Terraform then cannot init those stacks on this machine
    (the CLI config routes that provider to the mirror only). None when nothing is missing."""
    if mirror is None:
        return None
    missing = []
    for address, versions in sorted(pinned_providers(outdir).items()):
        held = mirror_versions(mirror, address)
        if held and not versions <= set(held):
            short = address.removeprefix(f"{REGISTRY}/")
            missing.append(f"{short} {', '.join(sorted(versions - set(held)))} (it holds {', '.join(held)})")
    if not missing:
        return None
    return (f"terraform: the provider mirror {mirror} lacks {'; '.join(missing)}: validate, plan and the rehearsal "
            "of this output need that version in a mirror (SPOFLESS_TF_MIRROR) or registry access")


def current_mirror_gap(outdir: Path) -> Optional[str]:
    """:func:`mirror_gap` for the mirror the Terraform set-up uses on this machine (tooling/terraform.py)."""
    from tooling import terraform

    try:
        mirror = terraform.discover_mirror()
    except terraform.SetupError:
        return None  # the set-up reports a bad SPOFLESS_TF_MIRROR itself
    return mirror_gap(outdir, mirror)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.engines")
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
