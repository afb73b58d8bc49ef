"""Drift: does the real infrastructure still match main? Read from ``spofless diff``'s report.

    python -m tooling.review.drift reports/diff.json

One line per environment (``matches main``, ``DRIFTED`` with the stacks and their counts, or ``UNKNOWN``
when a stack could not be planned); exit 1 when any environment drifted or could not be read, so the
scheduled pipeline run fails and its host notifies.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence


def verdicts(report: dict) -> dict[str, tuple[str, list[str]]]:
    """``{environment: (verdict, [stack details])}`` from a diff report."""
    from modules.stacks import names

    found: dict[str, tuple[str, list[str]]] = {env: ("matches main", []) for env in report.get("environments", [])}
    for stack in report.get("stacks", []):
        parsed = names.parse(stack.get("stack", ""))
        env = parsed.env if parsed is not None else "?"
        verdict, details = found.get(env, ("matches main", []))
        status = stack.get("status")
        if status in ("changes", "failed", "waits"):
            counts = stack.get("counts") or {}
            what = (f"+{counts.get('create', 0)} ~{counts.get('update', 0)} -/+{counts.get('replace', 0)} "
                    f"-{counts.get('destroy', 0)}" if status == "changes" else f"{status}: {stack.get('detail', '')}")
            details.append(f"{stack['stack']} {what}")
            verdict = "UNKNOWN" if status != "changes" and verdict != "DRIFTED" else "DRIFTED"
        found[env] = (verdict, details)
    return found


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.review.drift")
    parser.add_argument("report", type=Path, nargs="?", default=Path("reports/diff.json"))
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.report.read_text())
    except (OSError, ValueError) as error:
        print(f"error: {args.report}: {error}", file=sys.stderr)
        return 2
    found = verdicts(report)
    for env, (verdict, details) in sorted(found.items()):
        print(f"{env}: {verdict}" + (f" ({'; '.join(details)})" if details else ""))
    return 1 if any(v != "matches main" for v, _ in found.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
