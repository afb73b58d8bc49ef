"""The requirement files' hashes: every pin carries the sha256 of each file PyPI publishes for it.

    python -m tooling.dev.pins            # add or refresh the hashes of every pin (needs PyPI)
    python -m tooling.dev.pins --check    # offline: every pin has hashes (what `make test` checks)

With a hash on every line, pip and uv install in hash-checking mode: a file whose content differs
from what was pinned (a compromised mirror, a replaced upload) stops the set-up. The hashes cover
every wheel and the sdist of the pinned version, so any platform installs.
https://pip.pypa.io/en/stable/topics/secure-installs/#hash-checking-mode
https://packaging.python.org/en/latest/specifications/simple-repository-api/ (the JSON form)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from pathlib import Path
from typing import Callable, Optional, Sequence

PROJECT = Path(__file__).resolve().parents[2]
FILES = ("requirements.txt", "requirements-tooling.txt", "requirements-cdktn.txt", "tooling/dev/uv.txt")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
SIMPLE = "https://pypi.org/simple/{name}/"
TIMEOUT = 30


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _release_of(filename: str) -> tuple[str, str]:
    """``(normalized project name, version)`` of a wheel or sdist file name."""
    if filename.endswith(".whl"):
        dist, version = filename[:-4].split("-")[:2]
    else:
        dist, _, version = re.sub(r"\.(tar\.gz|zip|tar\.bz2)$", "", filename).rpartition("-")
    return _normalized(dist), version.lower()


def pypi_hashes(name: str, version: str) -> list[str]:
    """The sha256 of every file of ``name==version`` on PyPI, sorted."""
    request = urllib.request.Request(SIMPLE.format(name=_normalized(name)),
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 (a fixed https URL)
        files = json.load(response).get("files", [])
    found = sorted({f["hashes"]["sha256"] for f in files
                    if _release_of(f["filename"]) == (_normalized(name), version.lower())
                    and "sha256" in f.get("hashes", {}) and not f.get("yanked")})
    if not found:
        raise LookupError(f"{name}=={version}: PyPI lists no file")
    return found


def entries(text: str) -> list[tuple[str, Optional[tuple[str, str]], list[str]]]:
    """The file as ``(text of the entry, (name, version) or None, its hashes)``, continuation lines joined."""
    found, current = [], ""
    for line in text.splitlines():
        current = f"{current}\n{line}" if current else line
        if line.rstrip().endswith("\\"):
            continue
        match = PIN.match(current)
        found.append((current, (match.group(1), match.group(2)) if match else None,
                      re.findall(r"--hash=sha256:([0-9a-f]{64})", current)))
        current = ""
    return found


def render(text: str, hashes: Callable[[str, str], list[str]]) -> str:
    out = []
    for entry, pin, _ in entries(text):
        if pin is None:
            out.append(entry)
            continue
        name, version = pin
        out.append(" \\\n".join([f"{name}=={version}", *(f"    --hash=sha256:{h}" for h in hashes(name, version))]))
    return "\n".join(out) + "\n"


def unhashed(text: str) -> list[str]:
    """The pins of a requirement file that carry no hash."""
    return [f"{pin[0]}=={pin[1]}" for _, pin, found in entries(text) if pin is not None and not found]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.dev.pins")
    parser.add_argument("--check", action="store_true", help="only check that every pin has hashes")
    args = parser.parse_args(argv)
    problems = 0
    for name in FILES:
        path = PROJECT / name
        if args.check:
            missing = unhashed(path.read_text())
            for pin in missing:
                print(f"{name}: {pin} has no --hash", file=sys.stderr)
            problems += len(missing)
            continue
        path.write_text(render(path.read_text(), pypi_hashes))
        print(f"{name}: {sum(1 for _, pin, _ in entries(path.read_text()) if pin)} pins hashed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
