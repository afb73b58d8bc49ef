"""docs/reference.md: every field of the environment and account files, generated from their JSON Schemas.

    python -m tooling.dev.reference            # write docs/reference.md
    python -m tooling.dev.reference --check    # exit 1 when it differs from what the schemas give (make test)

The schemas come from environments/schema/ (``spofless schema``), so the reference says what the loader
accepts: type, allowed values or range, the default, and the field's own documentation.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

PROJECT = Path(__file__).resolve().parents[2]
OUT = PROJECT / "docs" / "reference.md"
SCHEMAS = (("Environment files (`environments/<name>.yaml`)", PROJECT / "environments" / "schema.json"),
           ("Account files (`environments/accounts/<name>.yaml`)", PROJECT / "environments" / "account.schema.json"))


def _resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    if ref:
        return schema["$defs"][ref.rsplit("/", 1)[-1]]
    for key in ("anyOf", "allOf"):
        for option in node.get(key) or []:
            if "$ref" in option:
                return _resolve(schema, option)
    return node


def _type(schema: dict, node: dict) -> str:
    if "$ref" in node:
        return "mapping"
    if "anyOf" in node:
        return " or ".join(sorted({_type(schema, o) for o in node["anyOf"]}))
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema, node.get('items') or {})}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map of {_type(schema, node['additionalProperties'])}"
    return {"null": "none"}.get(kind, kind)


def _allowed(node: dict) -> str:
    if "enum" in node:
        return ", ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    low, high = node.get("minimum"), node.get("maximum")
    above = node.get("exclusiveMinimum")
    if above is not None:
        return f"over {above}" + ("" if high is None else f", at most {high}")
    if low is not None or high is not None:
        return f"{'' if low is None else low}-{'' if high is None else high}"
    for option in node.get("anyOf") or []:
        found = _allowed(option)
        if found:
            return found
    return ""


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|").replace("``", "`")


def _rows(schema: dict, model: dict, path: str, seen: tuple = ()) -> list[tuple[str, dict, bool]]:
    rows = []
    required = set(model.get("required") or [])
    for name, node in sorted((model.get("properties") or {}).items()):
        where = f"{path}.{name}" if path else name
        rows.append((where, node, name in required))
        target = _resolve(schema, node if "$ref" in node or "anyOf" in node else node.get("items") or {})
        if target.get("properties") and id(target) not in seen:
            rows += _rows(schema, target, where + ("[]" if node.get("type") == "array" else ""), seen + (id(target),))
    return rows


def render() -> str:
    out = ["# Configuration reference", "",
           "Generated from the JSON Schemas (`python -m tooling.dev.reference`); `make test` fails when it is stale.",
           "Each field: type, allowed values, the default when left out, and what it does. `[]` marks a list",
           "of mappings. Editors check the files against the same schemas (`yaml-language-server` line).", ""]
    for title, path in SCHEMAS:
        schema = json.loads(path.read_text())
        out += [f"## {title}", "", _cell(schema.get("description", "")), "",
                "| field | type | allowed | default | required | description |", "| --- | --- | --- | --- | --- | --- |"]
        for where, node, required in _rows(schema, schema, ""):
            resolved = _resolve(schema, node)
            description = node.get("description") or resolved.get("description", "")
            default = f"`{json.dumps(node['default'])}`" if "default" in node else ""
            out.append(f"| `{where}` | {_type(schema, node)} | {_cell(_allowed(node))} | {_cell(default)} | "
                       f"{'yes' if required else ''} | {_cell(description)} |")
        out.append("")
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.dev.reference")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.relative_to(PROJECT)} is stale: run `python -m tooling.dev.reference`", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(PROJECT)}: {text.count(chr(10)) + 1} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
