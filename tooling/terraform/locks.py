"""Provider lock: the checksums of every provider the stacks pin, committed in ``.terraform.lock.hcl``.

    python -m tooling.terraform.locks check    the lock covers what cdktf.out pins (exit 1 and one line each if not)
    python -m tooling.terraform.locks update   refresh it from the registry (every platform) and the mirror

The file is Terraform's own dependency lock format, at the project root where Renovate and Dependabot
look for it. Every ``terraform init`` spofless runs (validate, plan, diff, deploy, destroy, the
rehearsal) first writes, next to the stack, the entries of the providers that stack requires and runs
with ``-lockfile=readonly``: Terraform then installs a provider only when its package matches a
recorded checksum and never rewrites the record
(https://developer.hashicorp.com/terraform/language/files/dependency-lock#checksum-verification).

What Terraform checks, measured here with Terraform 1.11 and the filesystem mirror:

* ``zh:`` hashes are the SHA-256 of the release zips the registry lists in its signed SHA256SUMS; an
  install from the registry (any platform) is checked against them.
* ``h1:`` hashes are of a package's unpacked contents; an install from an unpacked mirror is checked
  against them only. A wrong ``h1:`` is refused ("doesn't match any of the checksums previously
  recorded"); an entry with no ``h1:`` at all lets an unpacked package through unchecked. So every
  entry must carry both kinds (:func:`problems`).

Providers whose checksums could not be had yet are in :data:`PENDING`, by version, with the reason:
``init`` of a stack that needs one records it on first use (the registry's signature) and says so.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

from tooling.terraform.mirror import REGISTRY, pinned_providers, provider_address, required

PROJECT = Path(__file__).resolve().parents[2]
LOCK_FILE = PROJECT / ".terraform.lock.hcl"
LOCK_NAME = ".terraform.lock.hcl"

# The platforms `update` records (Terraform's release platforms that CI runners and laptops use).
PLATFORMS = ("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64")

# Providers pinned by the stacks whose checksums are not in the lock yet: (address, version) -> why.
# Scoped to the version: a new pin is not covered by an old reason.
PENDING: dict[tuple[str, str], str] = {
    (f"{REGISTRY}/cloudflare/cloudflare", "5.14.0"):
        "no machine that built this lock could reach the registry and no published lock records 5.14.0; "
        "`make lock` on a machine with registry access records it",
}

HEADER = ('# This file is maintained automatically by "terraform init".\n'
          "# Manual edits may be lost in future updates.\n")

_H1 = re.compile(r"^h1:[A-Za-z0-9+/]{43}=$")
_ZH = re.compile(r"^zh:[0-9a-f]{64}$")
_BLOCK = re.compile(r'^provider "([^"]+)" \{\n((?:[^\n]*\n)*?)\}\n', re.MULTILINE)
_ATTR = re.compile(r'^  (version|constraints)\s+= "([^"]*)"$')
_HASH = re.compile(r'^    "([^"]+)",$')


class LockError(Exception):
    """The lock file cannot be read: the message names the file, the line and what is allowed."""


@dataclass(frozen=True)
class Entry:
    address: str
    version: str
    constraints: str
    hashes: tuple[str, ...]

    def render(self) -> str:
        lines = [f'provider "{self.address}" {{', f'  version     = "{self.version}"']
        if self.constraints:
            lines.append(f'  constraints = "{self.constraints}"')
        lines.append("  hashes = [")
        lines += [f'    "{h}",' for h in sorted(set(self.hashes))]
        lines += ["  ]", "}"]
        return "\n".join(lines) + "\n"


def parse(text: str, name: str = LOCK_NAME) -> dict[str, Entry]:
    """The entries of a lock file in Terraform's format, by address; anything else is a :class:`LockError`."""
    entries: dict[str, Entry] = {}
    position = 0
    for block in _BLOCK.finditer(text):
        between = text[position:block.start()]
        stray = [line for line in between.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if stray:
            line = text[:position].count("\n") + between.splitlines().index(stray[0]) + 1
            raise LockError(f"{name}:{line}: {stray[0].strip()!r} is outside a provider block; "
                            'allowed: provider "<address>" { version, constraints, hashes = [...] }')
        address, body = block.group(1), block.group(2)
        line = text[:block.start()].count("\n") + 1
        attrs: dict[str, str] = {}
        hashes: list[str] = []
        in_hashes = False
        for offset, raw in enumerate(body.splitlines(), start=1):
            if in_hashes:
                if raw == "  ]":
                    in_hashes = False
                elif (found := _HASH.match(raw)) and (_H1.match(found.group(1)) or _ZH.match(found.group(1))):
                    hashes.append(found.group(1))
                else:
                    raise LockError(f"{name}:{line + offset}: {raw.strip()!r} in {address}'s hashes; allowed: "
                                    '"h1:<base64 SHA-256>=" or "zh:<64 hex digits>"')
            elif raw == "  hashes = [":
                in_hashes = True
            elif found := _ATTR.match(raw):
                attrs[found.group(1)] = found.group(2)
            elif raw.strip():
                raise LockError(f"{name}:{line + offset}: {raw.strip()!r} in {address}; allowed: version, "
                                "constraints, hashes")
        if provider_address(address) != address:
            raise LockError(f"{name}:{line}: provider {address!r}; allowed: a full address "
                            f"({provider_address(address)})")
        if "version" not in attrs:
            raise LockError(f"{name}:{line}: {address} has no version")
        if address in entries:
            raise LockError(f"{name}:{line}: {address} is locked twice")
        entries[address] = Entry(address, attrs["version"], attrs.get("constraints", ""), tuple(hashes))
        position = block.end()
    rest = [line for line in text[position:].splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if rest:
        raise LockError(f"{name}: {rest[0].strip()!r} after the last provider block; allowed: provider blocks")
    return entries


def render(entries: Mapping[str, Entry]) -> str:
    """Terraform's layout: the header, then the entries by address, a blank line between."""
    return HEADER + "".join("\n" + entries[a].render() for a in sorted(entries))


def load(path: Optional[Path] = None) -> dict[str, Entry]:
    """The committed lock (or ``path``); {} when there is none."""
    path = LOCK_FILE if path is None else path
    return parse(path.read_text(), path.name) if path.exists() else {}


def problems(entries: Mapping[str, Entry], pinned: Mapping[str, set[str]],
             pending: Mapping[tuple[str, str], str] = PENDING) -> list[str]:
    """One line per way the lock fails the pins: a pinned provider not locked (and not pending) or
    locked at another version, an entry without both kinds of hash, an entry or a pending reason for a
    provider no stack pins."""
    found = []
    for address, versions in sorted(pinned.items()):
        if len(versions) > 1:
            found.append(f"{address}: the stacks pin {', '.join(sorted(versions))}; one lock holds one version")
            continue
        version = next(iter(versions))
        entry = entries.get(address)
        if entry is None:
            if (address, version) not in pending:
                found.append(f"{address} {version}: pinned by the stacks, not in {LOCK_NAME} (run `make lock`)")
            continue
        if (address, version) in pending:
            found.append(f"{address} {version}: locked and still listed as pending; remove it from PENDING")
        if entry.version != version:
            found.append(f"{address}: {LOCK_NAME} locks {entry.version}, the stacks pin {version} (run `make lock`)")
        kinds = {h.split(":", 1)[0] for h in entry.hashes}
        for kind, what in (("zh", "the registry's release zips"), ("h1", "an unpacked package (mirror)")):
            if kind not in kinds:
                found.append(f"{address} {entry.version}: no {kind}: hash, so an install from {what} is not checked")
    for address in sorted(set(entries) - set(pinned)):
        found.append(f"{address}: in {LOCK_NAME} but no stack pins it; remove the entry")
    for address, version in sorted(pending):
        if version not in pinned.get(address, set()):
            found.append(f"{address} {version}: pending in the lock tool but not pinned by the stacks; remove it")
    return found


def place(work: Path, document: Mapping, entries: Optional[Mapping[str, Entry]] = None) -> tuple[list[str], str]:
    """Write the lock entries a stack needs into its working directory; the ``terraform init`` flags that
    hold Terraform to them, and a line naming what is not locked ('' when everything is).

    Every provider locked at the pinned version: ``-lockfile=readonly``. Otherwise the stack's own entries
    are still written (they are checked) and Terraform records the rest on first use."""
    entries = load() if entries is None else entries
    needs = required(document)
    locked = {a: e for a, e in entries.items() if a in needs and e.version == needs[a]}
    target = work / LOCK_NAME
    text = render(locked) if locked else ""
    if text:
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
    elif target.exists():
        target.unlink()
    unlocked = sorted(f"{a.removeprefix(REGISTRY + '/')} {v}" for a, v in needs.items() if a not in locked)
    if not unlocked:
        return ["-lockfile=readonly"], ""
    return [], f"not in {LOCK_NAME}, checked against the registry's signature only: {', '.join(unlocked)}"


_CHECKSUM = re.compile(r"doesn't match any of the checksums previously recorded|checksum list has no|"
                       r"does not match any of the checksums")


def checksum_refused(output: str) -> bool:
    """Did ``terraform init`` refuse a package because it matches no recorded checksum?"""
    return bool(_CHECKSUM.search(" ".join(output.split())))


def _providers_config(pinned: Mapping[str, set[str]]) -> str:
    import json

    return json.dumps({"terraform": {"required_providers": {
        address.rsplit("/", 1)[1]: {"source": address, "version": next(iter(versions))}
        for address, versions in sorted(pinned.items())}}}, indent=2, sort_keys=True)


def update(outdir: Path, lock: Optional[Path] = None, mirror: Optional[Path] = None,
           platforms: Sequence[str] = PLATFORMS, run=subprocess.run) -> list[str]:
    """Refresh ``lock`` for what ``outdir`` pins: the registry's checksums for ``platforms`` (where it is
    reachable), then the ``h1:`` of the packages in ``mirror`` for the providers it holds. Entries are
    merged (Terraform keeps the hashes it already has); an entry for a provider no stack pins is dropped.
    Returns one line per provider the registry could not give."""
    lock = LOCK_FILE if lock is None else lock
    pinned = {a: v for a, v in pinned_providers(outdir).items() if len(v) == 1}
    unreached: list[str] = []
    env = {k: v for k, v in os.environ.items() if k != "TF_CLI_CONFIG_FILE"}
    env["CHECKPOINT_DISABLE"] = "1"
    with tempfile.TemporaryDirectory(prefix="spofless-lock-") as scratch:
        work = Path(scratch)
        current = {a: e for a, e in load(lock).items() if a in pinned and e.version in pinned[a]}
        if current:
            (work / LOCK_NAME).write_text(render(current))
        (work / "providers.tf.json").write_text(_providers_config(pinned))
        plats = [f"-platform={p}" for p in platforms]
        for address in sorted(pinned):
            done = run(["terraform", "providers", "lock", "-no-color", *plats, address], cwd=work, env=env,
                       capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                unreached.append(f"{address}: the registry did not answer ({_last_error(done)})")
        if mirror is not None:
            from tooling.terraform.mirror import mirror_versions

            held = [a for a in sorted(pinned) if set(mirror_versions(mirror, a)) & pinned[a]]
            if held:
                done = run(["terraform", "providers", "lock", "-no-color", f"-fs-mirror={mirror}",
                            f"-platform={_this_platform()}", *held], cwd=work, env=env, capture_output=True,
                           text=True, timeout=600)
                if done.returncode != 0:
                    unreached.append(f"mirror {mirror}: {_last_error(done)}")
        merged = load(work / LOCK_NAME)
    merged = {a: e for a, e in merged.items() if a in pinned}
    if merged:
        lock.write_text(render(merged))
    return unreached


def _last_error(run: subprocess.CompletedProcess) -> str:
    lines = [line.strip(" │╷╵") for line in (run.stderr or run.stdout or "").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else f"exit {run.returncode}"


def _this_platform() -> str:
    import platform

    machine = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower())
    return f"{sys.platform.replace('win32', 'windows')}_{machine}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.terraform.locks")
    parser.add_argument("command", choices=("check", "update"))
    parser.add_argument("--outdir", default="cdktf.out")
    parser.add_argument("--mirror", help="update: also record the h1: hashes of this filesystem mirror's packages")
    args = parser.parse_args(argv)
    outdir = Path(args.outdir)
    unreached: list[str] = []
    if not (outdir / "stacks").is_dir():
        print(f"error: {outdir}/stacks does not exist; run `make synth` first", file=sys.stderr)
        return 2
    try:
        if args.command == "update":
            if shutil.which("terraform") is None:
                print("error: terraform is not on PATH; `make lock` needs Terraform 1.11", file=sys.stderr)
                return 2
            unreached = update(outdir, mirror=Path(args.mirror) if args.mirror else None)
            for line in unreached:
                print(f"lock: {line}", file=sys.stderr)
        found = problems(load(), pinned_providers(outdir))
    except LockError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line in found:
        print(f"lock: {line}")
    for (address, version), why in sorted(PENDING.items()):
        print(f"lock: pending {address.removeprefix(REGISTRY + '/')} {version}: {why}")
    if found or (args.command == "update" and unreached):
        return 1
    locked = load()
    print(f"lock: {LOCK_NAME} holds {len(locked)} providers, {sum(len(e.hashes) for e in locked.values())} "
          f"checksums; {len(PENDING)} pinned provider(s) pending")
    return 0


if __name__ == "__main__":
    sys.exit(main())
