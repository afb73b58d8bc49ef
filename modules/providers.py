"""Fast, lazy access to the prebuilt CDKTF (or CDK Terrain) provider packages.

Importing ``cdktf_cdktf_provider_aws`` the usual way runs a package ``__init__``
that imports all ~2,200 generated submodules (30-40 s, 0.6 GB on a 2-core
machine). Every submodule needs only two things from its parent package: the
jsii assembly (``<pkg>._jsii``) and ``cdktf`` itself. So this module registers
each provider package in ``sys.modules`` *without* executing its ``__init__``,
loads the jsii assembly, and lets Python import only the submodules the code
actually asks for, e.g. ``aws("vpc").Vpc``. The node side gets the same
treatment from ``modules/node/lazy-providers.js`` (see :func:`lazy_node_loader`).

The output is identical to the stock import (``tests/stacks/test_synthesis.py``
proves it by synthesizing both ways). Set ``SPOFLESS_STOCK_IMPORTS=1`` to use
the stock import path, for that comparison and for the benchmark. Under CDK Terrain
(``SPOFLESS_ENGINE=cdktn``, modules/engine.py) the same holds for ``cdktn_provider_<p>``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

from modules import engine


def silence_node_banner(environ=os.environ) -> None:
    """Stop jsii printing its Node.js end-of-life banner on every start.

    jsii checks one variable while a Node release is deprecated and another,
    a comma-separated list of major versions, once it is past end of life.
    """
    environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20,22,24")


LAZY_NODE_LOADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node", "lazy-providers.js")


def lazy_node_loader(environ=os.environ) -> None:
    """Make node load a provider's submodules on first use, as Python does here.

    Adds ``--require modules/node/lazy-providers.js`` to ``NODE_OPTIONS``, which the
    jsii node process inherits when cdktf starts it. Without it, loading the AWS
    assembly compiles all 2,100 submodules' JavaScript (about 4 s and 1 GB); with it,
    only the ~60 a synthesis uses. Skipped for the stock import path, so that path
    stays the untouched reference the output is compared against, and when
    ``SPOFLESS_LAZY_NODE=0`` (the benchmark's floor: assemblies loaded as jsii does).
    """
    path = f'"{LAZY_NODE_LOADER}"' if any(c.isspace() for c in LAZY_NODE_LOADER) else LAZY_NODE_LOADER
    option = f"--require {path}"
    # inherited from a parent process that set it (tests, the benchmark): take it out first
    options = " ".join(environ.get("NODE_OPTIONS", "").replace(option, " ").split())
    if not stock_imports(environ) and _flag(environ, "SPOFLESS_LAZY_NODE", default=True):
        options = f"{options} {option}".strip()
    if options:
        environ["NODE_OPTIONS"] = options
    else:
        environ.pop("NODE_OPTIONS", None)


silence_node_banner()

PROVIDERS = ("aws", "kubernetes", "helm", "cloudflare")


def package(provider: str) -> str:
    """The Python package of ``provider``'s prebuilt bindings under the selected engine
    (``cdktf_cdktf_provider_aws``, or ``cdktn_provider_aws`` under CDK Terrain: modules/engine.py)."""
    return engine.selected().providers[provider]


def _flag(environ, name: str, *, default: bool) -> bool:
    """An on/off environment variable: unset or empty is ``default``; 0 and false are off."""
    value = environ.get(name, "")
    return default if value == "" else value not in ("0", "false")


def stock_imports(environ=os.environ) -> bool:
    """True when the stock (slow) import path was asked for."""
    return _flag(environ, "SPOFLESS_STOCK_IMPORTS", default=False)


lazy_node_loader()


def _register(package: str) -> None:
    """Put ``package`` in sys.modules with its jsii assembly loaded, skipping ``__init__``."""
    if package in sys.modules:
        return
    if stock_imports():
        importlib.import_module(package)
        return
    spec = importlib.util.find_spec(package)
    if spec is None or spec.submodule_search_locations is None:
        selected = engine.selected()
        setup = "make setup" if selected.name == engine.DEFAULT else f"make synth CDK={selected.name}"
        raise ModuleNotFoundError(
            f"{package} is not installed in this interpreter ({sys.executable}); run `{setup}`"
        )
    module = importlib.util.module_from_spec(spec)  # sets __path__, runs nothing
    sys.modules[package] = module
    try:
        # Loads the assembly into the jsii kernel; submodules do `from .._jsii import *`.
        importlib.import_module(f"{package}._jsii")
    except BaseException:
        del sys.modules[package]
        raise


def submodule(provider: str, name: str) -> ModuleType:
    """Import one generated submodule of a provider, e.g. ``submodule("aws", "vpc")``."""
    bindings = package(provider)
    _register(bindings)
    return importlib.import_module(f"{bindings}.{name}")


def aws(name: str) -> ModuleType:
    """One submodule of the AWS provider bindings (hashicorp/aws 5.100.0; 6.x under cdktn)."""
    return submodule("aws", name)


def kubernetes(name: str) -> ModuleType:
    """One submodule of the kubernetes provider bindings."""
    return submodule("kubernetes", name)


def helm(name: str) -> ModuleType:
    """One submodule of the helm provider bindings."""
    return submodule("helm", name)


def cloudflare(name: str) -> ModuleType:
    """One submodule of the cloudflare provider bindings."""
    return submodule("cloudflare", name)


def load_all_assemblies() -> None:
    """Load the four providers' jsii assemblies and nothing else (the benchmark's floor)."""
    for provider in PROVIDERS:
        _register(package(provider))
