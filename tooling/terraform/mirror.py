"""Can Terraform get the providers an output pins? The provider mirror against ``required_providers``.

A CDK Terrain output pins hashicorp/aws 6.x, which the offline mirror here lacks: validate, plan and
the rehearsal then say so in one line instead of failing in ``terraform init``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Mapping, Optional


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


def required(document: Mapping) -> dict[str, str]:
    """``{registry address: version}`` one synthesized stack requires ("" where it pins none)."""
    return {provider_address(spec.get("source", name)): spec.get("version", "")
            for name, spec in document.get("terraform", {}).get("required_providers", {}).items()
            if isinstance(spec, dict)}


def pinned_providers(outdir: Path) -> dict[str, set[str]]:
    """``{registry address: {versions}}`` the stacks of ``outdir`` pin in ``required_providers``."""
    pinned: dict[str, set[str]] = {}
    for path in sorted(outdir.glob("stacks/*/cdk.tf.json")):
        for address, version in required(json.loads(path.read_text())).items():
            if version:
                pinned.setdefault(address, set()).add(version)
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


