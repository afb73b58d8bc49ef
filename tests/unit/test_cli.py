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
    from tooling.dev.pins import entries

    return {name.lower().replace("_", "-"): version
            for _, pin, _ in entries(path.read_text()) if pin is not None for name, version in [pin]}


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


@pytest.mark.parametrize("argv", [["drill", "-e", "prd"], ["report", "-e", "prd"], ["diagram", "-e", "dev,prd"],
                                  ["plan", "-e", "prd"], ["rehearse", "-e", "prd"], ["emulator", "start", "-e", "prd"]])
def test_a_mistyped_environment_stops_every_command_with_one_line_and_exit_2(argv, capsys):
    from tooling import cli

    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "environment 'prd'" in err[0] and "did you mean 'prod'?" in err[0], err
    assert "allowed: " + ", ".join(cli.declared_environments()) in err[0]


def test_the_makefiles_environments_variable_reaches_every_command_and_is_checked(monkeypatch, capsys):
    from tooling import cli

    monkeypatch.setenv("SPOFLESS_ENVS", "stagin")
    assert cli.main(["drill"]) == 2
    assert "did you mean 'staging'?" in capsys.readouterr().err
    args = cli.parser().parse_args(["report"])
    monkeypatch.setenv("SPOFLESS_ENVS", "dev,prod")
    assert cli.selected_environments(args) == ["dev", "prod"]
    makefile = (PROJECT / "Makefile").read_text()
    # no target reads ENV (it only triggers the warning that names ENVS)
    assert [line for line in makefile.splitlines() if line.startswith("\t") and "$(ENV)" in line] == []
