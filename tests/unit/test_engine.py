"""The engine switch (modules/engine.py): CDKTF by default, CDK Terrain by name, one error otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modules import engine, providers
from modules.stacks.base import TERRAFORM_VERSION
from tests.conftest import PROJECT, run_main


def test_cdktf_is_the_default_whether_the_variable_is_unset_or_empty():
    assert engine.selected({}).name == "cdktf"
    assert engine.selected({"SPOFLESS_ENGINE": " "}).name == "cdktf"


def test_cdktn_is_selected_by_name_with_its_own_packages_venv_and_pins():
    chosen = engine.selected({"SPOFLESS_ENGINE": "cdktn"})
    assert (chosen.core, chosen.venv, chosen.requirements) == ("cdktn", ".venv-cdktn", "requirements-cdktn.txt")
    assert set(chosen.providers) == set(providers.PROVIDERS) == set(engine.ENGINES["cdktf"].providers)
    assert (PROJECT / chosen.requirements).is_file()


def test_the_provider_packages_follow_the_engine(monkeypatch):
    monkeypatch.setenv("SPOFLESS_ENGINE", "cdktn")
    assert [providers.package(p) for p in providers.PROVIDERS] == [
        "cdktn_provider_aws", "cdktn_provider_kubernetes", "cdktn_provider_helm", "cdktn_provider_cloudflare"]
    monkeypatch.delenv("SPOFLESS_ENGINE")
    assert providers.package("aws") == "cdktf_cdktf_provider_aws"


def test_rejects_an_unknown_engine_naming_what_is_allowed():
    with pytest.raises(engine.EngineError) as error:
        engine.selected({"SPOFLESS_ENGINE": "cdktx"})
    assert str(error.value) == "SPOFLESS_ENGINE: 'cdktx' is not an engine; allowed: cdktf (the default), cdktn"


def test_rejects_an_unknown_engine_with_exit_2_before_anything_is_written(tmp_path):
    outdir = tmp_path / "cdktf.out"
    result = run_main(env={"SPOFLESS_ENGINE": "cdktx", "CDKTF_OUTDIR": str(outdir)}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: SPOFLESS_ENGINE: 'cdktx' is not an engine; allowed: cdktf (the default), cdktn",
        "nothing was synthesized; fix the above and run again"]
    assert not outdir.exists()


def test_an_engine_this_interpreter_lacks_is_one_error_saying_how_to_set_it_up(tmp_path):
    missing = engine.Engine(name="cdktn", core="spofless_no_such_engine", providers={}, venv=str(tmp_path / "none"),
                            requirements="requirements-cdktn.txt")
    with pytest.raises(engine.EngineError, match=r"^SPOFLESS_ENGINE=cdktn: spofless_no_such_engine is not "
                                                 r"installed in this interpreter .*`make synth CDK=cdktn`"):
        engine.require(missing)
    assert engine.handover(missing) is None  # no venv of its own either: nothing to hand over to


def test_main_hands_over_to_the_engines_own_interpreter(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    absent = engine.Engine(name="cdktn", core="spofless_no_such_engine", providers={}, venv=str(venv),
                           requirements="requirements-cdktn.txt")
    assert engine.handover(absent, executable="/usr/bin/python3") == venv / "bin" / "python"
    # already there, or the engine is importable here: no hand-over
    assert engine.handover(absent, executable=str(venv / "bin" / "python")) is None
    this_session = next(e for e in engine.ENGINES.values() if e.installed())
    assert engine.handover(this_session) is None


def test_cdktf_resolves_to_the_selected_engines_core_package(tmp_path):
    # a stand-in `cdktn` ahead of anything installed: the alias must hand out that very module
    (tmp_path / "cdktn").mkdir()
    (tmp_path / "cdktn" / "__init__.py").write_text("MARK = 'stand-in cdktn'\n")
    script = ("import sys, json, modules, cdktf; "
              "print(json.dumps([cdktf.MARK, sys.modules['cdktf'] is sys.modules['cdktn']]))")
    env = {"PYTHONPATH": f"{tmp_path}:{PROJECT}", "SPOFLESS_ENGINE": "cdktn", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["stand-in cdktn", True]


def test_cdktn_is_told_the_terraform_versions_the_stacks_require():
    assert engine.app_options(engine.ENGINES["cdktf"], TERRAFORM_VERSION) == {}
    options = engine.app_options(engine.ENGINES["cdktn"], TERRAFORM_VERSION)
    # the same range as terraform.required_version, written as npm semver (cdktn's targetVersions)
    low, high = [part.replace(" ", "") for part in TERRAFORM_VERSION.split(",")]
    assert options == {"context": {"targetVersions": {"terraform": f"{low} {high}"}}}
    with pytest.raises(engine.EngineError, match="no ~>"):
        engine.semver_range("~> 1.11")


def test_the_cdktn_pins_differ_from_cdktfs_only_in_the_engine_and_its_packages():
    def pins(name: str) -> dict[str, str]:
        from tooling.dev.pins import entries

        return {pin[0].lower().replace("_", "-"): pin[1] for _, pin, _ in entries((PROJECT / name).read_text()) if pin}

    cdktf, cdktn = pins("requirements.txt"), pins("requirements-cdktn.txt")
    engine_packages = {"constructs"} | {p for p in cdktf | cdktn if p.startswith(("cdktf", "cdktn"))}
    assert {p: v for p, v in cdktf.items() if p not in engine_packages} == \
        {p: v for p, v in cdktn.items() if p not in engine_packages}
    assert {p for p in cdktn if p.startswith("cdktn")} == {
        "cdktn", *(package.replace("_", "-") for package in engine.ENGINES["cdktn"].providers.values())}


def test_the_makefile_and_the_module_agree_on_the_venv():
    makefile = (PROJECT / "Makefile").read_text()
    assert f"VENV_CDKTN := {engine.ENGINES['cdktn'].venv}" in makefile
    assert f"/{engine.ENGINES['cdktn'].venv}/" in (PROJECT / ".gitignore").read_text()
    assert Path(engine.ENGINES["cdktf"].venv).name == ".venv"
