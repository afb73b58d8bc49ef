"""Shared fixtures: synthesize every environment ONCE per test session.

Provider bindings and the jsii runtime load once; every stack test reads the
JSON of that one synthesis. Tests that need a separate process (bad input,
determinism, stock imports) run main.py as a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

import modules  # noqa: E402,F401  (silences the jsii Node banner before cdktf loads)
from tests.topology import ENVIRONMENTS  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: runs terraform or checkov on synthesized output")
    config.addinivalue_line("markers", "slow: takes more than ~20 s (stock provider imports)")
    config.addinivalue_line("markers", "rehearsal: applies and destroys an environment against the AWS emulator "
                                       "(select with -m rehearsal)")


# -- the deploy rehearsal runs beside the rest of the suite --------------------------------
# It spends minutes waiting on Terraform's polling, not on CPU, so it starts as soon as
# collection shows a rehearsal test is selected and the test collects its report at the end.

REHEARSALS: dict[str, tuple[subprocess.Popen, Path]] = {}


def pytest_collection_modifyitems(session, config, items):
    """Rehearsal tests last: everything else runs while the rehearsal applies."""
    items.sort(key=lambda item: item.get_closest_marker("rehearsal") is not None)


def pytest_collection_finish(session):
    wanted = sorted({mark.args[0] for item in session.items for mark in item.iter_markers("rehearsal")
                     if mark.args})
    if not wanted or session.config.option.collectonly:
        return
    root = Path(session.config._tmp_path_factory.mktemp("rehearsal"))  # noqa: SLF001
    for env_name in wanted:
        report = root / f"{env_name}.json"
        log = open(root / f"{env_name}.log", "w")
        REHEARSALS[env_name] = (subprocess.Popen(
            [sys.executable, "-m", "tooling.terraform.rehearse", "--env", env_name, "--report", str(report)],
            cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}), report)  # its progress reaches the log as it happens


STARTED: list[float] = []


def pytest_sessionstart(session):
    import time
    STARTED.append(time.time())


def pytest_sessionfinish(session, exitstatus):
    import time

    from tooling.terraform.deploy import INTERRUPT_GRACE

    for process, _ in REHEARSALS.values():
        if process.poll() is None:
            process.terminate()  # the rehearsal interrupts Terraform, waits for its state, stops its emulator
            try:
                process.wait(timeout=INTERRUPT_GRACE + 30)
            except subprocess.TimeoutExpired:
                process.kill()
    # the suite's wall time and the rehearsals' reports, for `make bench` (measured by a run, never asserted)
    if STARTED and not session.config.option.collectonly:
        reports = PROJECT / "reports"
        reports.mkdir(exist_ok=True)
        for env_name, (_, report) in REHEARSALS.items():
            if report.is_file():
                (reports / f"rehearsal-{env_name}.json").write_text(report.read_text())
        (reports / "test-session.json").write_text(json.dumps({
            "seconds": round(time.time() - STARTED[0], 1), "tests": session.testscollected,
            "failed": session.testsfailed, "exitstatus": int(exitstatus), "args": list(session.config.args),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=2) + "\n")


# what the rehearsal's log says that a person waiting on `make test` wants to see
PROGRESS = re.compile(r"^\s*(rehearse |apply |destroy |plan |deploy |\.\.\. |error)")


@pytest.fixture(scope="session")
def rehearsal(pytestconfig):
    """``rehearsal(env)`` -> (exit code, report dict, console output) of that environment's rehearsal.
    While it waits, the rehearsal's progress (each stack applied, planned again, destroyed) goes to the
    terminal, and a line every minute when nothing moved: the rehearsal is the suite's last minutes."""
    import time

    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")

    def say(line: str) -> None:
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():  # past the test's output capture, to the terminal
            reporter.write_line(line)
            reporter.flush()

    def collect(env_name: str, timeout: int = 1800):
        process, report = REHEARSALS[env_name]
        log, shown, started = report.with_suffix(".log"), 0, time.monotonic()
        quiet_since = started
        say(f"rehearsal {env_name}: waiting for it to finish (it has run beside the suite)")
        while process.poll() is None and time.monotonic() - started < timeout:
            time.sleep(5)
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            news = [line.strip() for line in lines[shown:] if PROGRESS.match(line)]
            shown = len(lines)
            for line in news:
                say(f"rehearsal {env_name}: {line}")
            if news:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= 60:
                say(f"rehearsal {env_name}: still running ({int(time.monotonic() - started)} s)")
                quiet_since = time.monotonic()
        process.wait(timeout=max(1, timeout - (time.monotonic() - started)))
        output = report.with_suffix(".log").read_text()
        return process.returncode, (json.loads(report.read_text()) if report.exists() else None), output
    return collect


@pytest.fixture(scope="session")
def environments():
    """Every environment config from environments/*.yaml (tests/topology.py derives the expectations)."""
    return dict(ENVIRONMENTS)


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory, environments) -> Path:
    """One synthesis of every environment, the way `make synth` does it."""
    from modules.app import synthesize

    outdir = tmp_path_factory.mktemp("synth") / "cdktf.out"
    synthesize(list(environments.values()), outdir)
    return outdir


@pytest.fixture(scope="session")
def stacks(synth_dir) -> dict[str, dict]:
    """``{stack name: parsed cdk.tf.json}`` of the session synthesis."""
    return {p.parent.name: json.loads(p.read_text())
            for p in sorted((synth_dir / "stacks").glob("*/cdk.tf.json"))}


def resources(stack: dict, resource_type: str) -> dict[str, dict]:
    """``{name: config}`` of every resource of one type in a synthesized stack."""
    return stack.get("resource", {}).get(resource_type, {})


def run_main(*, env: dict | None = None, cwd: Path = PROJECT, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``python -O main.py`` in a fresh process, as `make synth` does.

    The session synthesis runs in-process without -O, so comparing the two also
    proves -O (no runtime type checks in the bindings) changes nothing.
    """
    # the session's engine stays (`make test-cdktn` runs this suite with CDK Terrain synthesizing)
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("SPOFLESS_", "CDKTF_")) or k == "SPOFLESS_ENGINE"}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-O", str(PROJECT / "main.py")], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=timeout)


def tree_digest(root: Path) -> dict[str, bytes]:
    """``{relative path: bytes}`` of every file under ``root``."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
