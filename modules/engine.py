"""Which CDK engine synthesizes: CDKTF (the default) or CDK Terrain, its maintained fork.

    SPOFLESS_ENGINE=cdktn python main.py     (or `make synth CDK=cdktn`, `spofless synth --engine cdktn`)

CDKTF was archived upstream in December 2025; CDK Terrain (``cdktn``) is a rename-only fork:
the same classes under another package name, and prebuilt providers named
``cdktn_provider_<p>`` instead of ``cdktf_cdktf_provider_<p>``. The constructs keep writing
``from cdktf import Fn``: :func:`install` makes that name resolve to the selected engine's core
package, in this one place, so no construct (and no construct added later) has a code path per
engine. The provider packages are named by :data:`ENGINES` and loaded by ``modules/providers.py``.

Each engine has its own pins and its own virtual environment (``requirements.txt`` in ``.venv``,
``requirements-cdktn.txt`` in ``.venv-cdktn``): cdktn 0.24 needs ``constructs<10.8`` and its
providers bring hashicorp/aws 6.x, so the two cannot share one set of pins. Selecting an engine
whose packages this interpreter lacks is one clear error (:func:`require`); ``main.py`` first
hands over to the engine's own interpreter when it exists.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Mapping, Optional

ENV_VAR = "SPOFLESS_ENGINE"
DEFAULT = "cdktf"
PROJECT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Engine:
    """One CDK engine: its core Python package, its provider packages, and where it is installed."""

    name: str
    core: str
    """The Python package the constructs' ``cdktf`` name resolves to."""
    providers: Mapping[str, str]
    """Provider -> Python package of its prebuilt bindings."""
    venv: str
    """The project's virtual environment for this engine (relative to the project)."""
    requirements: str
    """Its exact pins."""

    def installed(self) -> bool:
        """True when this interpreter can import the engine's core package."""
        return importlib.util.find_spec(self.core) is not None

    def interpreter(self, project: Path = PROJECT) -> Path:
        """The Python of this engine's virtual environment (it may not exist yet)."""
        return project / self.venv / "bin" / "python"


ENGINES: dict[str, Engine] = {
    "cdktf": Engine(
        name="cdktf", core="cdktf", venv=".venv", requirements="requirements.txt",
        providers={"aws": "cdktf_cdktf_provider_aws", "kubernetes": "cdktf_cdktf_provider_kubernetes",
                   "helm": "cdktf_cdktf_provider_helm", "cloudflare": "cdktf_cdktf_provider_cloudflare"}),
    "cdktn": Engine(
        name="cdktn", core="cdktn", venv=".venv-cdktn", requirements="requirements-cdktn.txt",
        providers={"aws": "cdktn_provider_aws", "kubernetes": "cdktn_provider_kubernetes",
                   "helm": "cdktn_provider_helm", "cloudflare": "cdktn_provider_cloudflare"}),
}


class EngineError(ValueError):
    """The engine asked for is unknown or not installed; the message says what to do."""


def selected(environ: Mapping[str, str] = os.environ) -> Engine:
    """The engine ``SPOFLESS_ENGINE`` names (unset or empty: cdktf)."""
    value = environ.get(ENV_VAR, "").strip() or DEFAULT
    if value not in ENGINES:
        allowed = ", ".join(f"{name} (the default)" if name == DEFAULT else name for name in ENGINES)
        raise EngineError(f"{ENV_VAR}: {value!r} is not an engine; allowed: {allowed}")
    return ENGINES[value]


def require(engine: Engine) -> None:
    """Raise :class:`EngineError` unless this interpreter has ``engine``'s packages."""
    if not engine.installed():
        raise EngineError(
            f"{ENV_VAR}={engine.name}: {engine.core} is not installed in this interpreter ({sys.executable}); "
            f"use {engine.venv}/bin/python (`make synth CDK={engine.name}` sets it up from {engine.requirements})")


def handover(engine: Engine, executable: str = sys.executable) -> Optional[Path]:
    """The interpreter to re-run under for ``engine``: its venv's Python when this one lacks the engine
    and that one exists; None when this interpreter will do (or no other one can)."""
    if engine.installed():
        return None
    other = engine.interpreter()
    if other.exists() and Path(executable).absolute() != other.absolute():
        return other
    return None


def semver_range(constraint: str) -> str:
    """Terraform's ``>= 1.11.0, < 2.0.0`` as the npm semver range cdktn reads (``>=1.11.0 <2.0.0``)."""
    if "~>" in constraint:
        raise EngineError(f"{constraint!r}: write the Terraform version range with >=, <, = (no ~>)")
    return " ".join(part.replace(" ", "") for part in constraint.split(",") if part.strip())


def app_options(engine: Engine, terraform_versions: str) -> dict:
    """Keyword arguments of ``App`` that ``engine`` needs beyond CDKTF's (none for CDKTF itself).

    cdktn checks every feature a stack uses against the Terraform versions the project targets,
    and assumes ``>=1.5.7`` unless told: the write-only arguments the data tier uses (Terraform
    1.11+) then fail synthesis. The stacks require ``terraform_versions`` already
    (``terraform.required_version``), so that is what cdktn is told. A ``targetVersions`` context of
    the cdktn CLI (cdktf.json, through CDKTF_CONTEXT_JSON) still wins over this default.
    """
    if engine.name == DEFAULT:
        return {}
    return {"context": {"targetVersions": {"terraform": semver_range(terraform_versions)}}}


class _CoreAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import cdktf`` (and ``cdktf.<sub>``) -> the selected engine's core package, when that is not cdktf.

    Consulted only for those names; with the default engine it finds nothing and the normal
    import runs, so the cdktf path is untouched. The engine is read when ``cdktf`` is first
    imported, i.e. after ``main.py`` has checked it: nothing is loaded before that.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != DEFAULT and not fullname.startswith(DEFAULT + "."):
            return None
        engine = selected()
        if engine.core == DEFAULT:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec) -> ModuleType:
        # the same module object under both names: cdktn's classes are the ones jsii registered
        return importlib.import_module(selected().core + spec.name[len(DEFAULT):])

    def exec_module(self, module: ModuleType) -> None:
        pass  # create_module returned the imported package


_ALIAS = _CoreAlias()


def install() -> None:
    """Let ``import cdktf`` resolve to the selected engine (once per process; see :class:`_CoreAlias`)."""
    if _ALIAS not in sys.meta_path:
        sys.meta_path.insert(0, _ALIAS)
