"""The `spofless` command: every subcommand answers --help, and the gate never judges part of the platform."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policies.model.output import Output
from tooling import cli

PROJECT = Path(__file__).resolve().parents[2]
SUBCOMMANDS = ("synth", "check", "validate", "plan", "rehearse", "drill", "report", "dns-check", "bench", "mutation",
               "schema")


def _run(*args: str, **env) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("spofless")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tooling.cli"]
    return subprocess.run([*command, *args], cwd=PROJECT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **env))


def test_the_installed_command_lists_every_subcommand():
    assert Path(sys.executable).with_name("spofless").exists(), "make setup installs the spofless command"
    result = _run("--help")
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_help(name):
    result = _run(name, "--help")
    assert result.returncode == 0 and f"spofless {name}" in result.stdout


def test_environments_repeat_or_comma_separate():
    assert cli._envs(["dev,prod", " staging "]) == ["dev", "prod", "staging"]  # noqa: SLF001
    assert cli._envs(None) == []  # noqa: SLF001


def test_schema_is_the_environment_files_json_schema(tmp_path):
    target = tmp_path / "schema.json"
    assert _run("schema", "--out", str(target)).returncode == 0
    schema = json.loads(target.read_text())
    assert {"name", "domain", "account_id", "regions", "eks"} <= set(schema["required"])
    assert "support_type" in json.dumps(schema)


def test_the_gate_synthesizes_every_environment_when_the_output_holds_only_some(tmp_path, environments):
    out = tmp_path / "cdktf.out"
    first = sorted(environments)[0]
    assert cli.synthesize([first], out) == 0
    assert Output.load(out).environments == [first]
    assert cli.ensure_complete(out) == 0
    assert Output.load(out).environments == sorted(environments)
    assert cli.ensure_complete(out) == 0  # complete: nothing to do


def test_the_published_schema_is_in_sync_and_the_environment_files_use_it():
    """environments/schema.json is what editors check the YAML files against (yaml-language-server)."""
    from environments.schema import EnvironmentConfig

    published = json.loads((PROJECT / "environments" / "schema.json").read_text())
    assert published == json.loads(json.dumps(EnvironmentConfig.model_json_schema())), (
        "environments/schema.json is stale: run `spofless schema --out environments/schema.json`")
    for path in sorted((PROJECT / "environments").glob("*.yaml")):
        assert path.read_text().startswith("# yaml-language-server: $schema=./schema.json\n"), path.name


def test_the_published_account_schema_is_in_sync_and_the_account_files_use_it():
    from environments.schema.account import AccountConfig

    published = json.loads((PROJECT / "environments" / "account.schema.json").read_text())
    assert published == json.loads(json.dumps(AccountConfig.model_json_schema())), (
        "environments/account.schema.json is stale: run `spofless schema --account --out "
        "environments/account.schema.json`")
    for path in sorted((PROJECT / "environments" / "accounts").glob("*.yaml")):
        assert path.read_text().startswith("# yaml-language-server: $schema=../account.schema.json\n"), path.name


@pytest.mark.parametrize("name", ["report", "dns-check", "drill"])
def test_every_report_prints_json_and_markdown(name, synth_dir, environments):
    result = _run(name, "--out", str(synth_dir), "--format", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    envs = data["compared"] if name == "dns-check" else list(data)
    assert sorted(envs) == sorted(e for e in environments if name != "dns-check" or environments[e].dns.cloudflare)
    result = _run(name, "--out", str(synth_dir), "--format", "markdown")
    assert result.returncode == 0 and result.stdout.startswith("# ")


def test_a_tool_command_without_the_tooling_set_up_says_how_to_get_it(tmp_path):
    """After a synthesis-only set-up `spofless check` names what is missing and the fix, exit 2."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name in ('checkov', 'moto', 'boto3') else real(name, *a)\n")
    for command, missing in (("check", "checkov"), ("rehearse", "moto, boto3")):
        result = _run(command, PYTHONPATH=str(blocker))
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert f"spofless {command} needs {missing}" in result.stderr and "make tooling" in result.stderr


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith(("#", "-r ")):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_synthesis_installs_only_what_synthesis_needs():
    """requirements.txt (make synth) holds no tool; the tooling file adds the tools on top of it,
    and pyproject.toml declares the same direct pins (its dependencies and its `tooling` extra)."""
    import tomllib

    synth, tools = _pins(PROJECT / "requirements.txt"), _pins(PROJECT / "requirements-tooling.txt")
    assert not {"checkov", "moto", "boto3", "botocore", "pytest", "cfn-lint", "flask"} & set(synth)
    assert not set(synth) & set(tools), "a package is pinned twice"
    assert (PROJECT / "requirements-tooling.txt").read_text().count("-r requirements.txt") == 1
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name, version = requirement.split("==")
        assert synth[name.lower()] == version, requirement
    for requirement in project["optional-dependencies"]["tooling"]:
        name, version = requirement.split("==")
        assert tools[name.split("[")[0].lower()] == version, requirement
