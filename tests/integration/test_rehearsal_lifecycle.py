"""The emulator never outlives the rehearsal: stopped at the end, on SIGTERM, and after its lifetime."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from tooling.terraform.emulator import Emulator
from tests.conftest import PROJECT

pytestmark = pytest.mark.integration


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_emulator_stops_when_its_lifetime_runs_out_even_if_nobody_stops_it(tmp_path):
    emulator = Emulator(lifetime=4, log=tmp_path / "moto.log")
    emulator.__enter__()  # and never __exit__: the lifetime alone must end it
    try:
        assert _answers(emulator.port)
        deadline = time.monotonic() + 30
        while _answers(emulator.port) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _answers(emulator.port)
    finally:
        emulator.stop()


def test_sigterm_stops_the_rehearsal_and_its_emulator(tmp_path):
    from tests.topology import smallest

    process = subprocess.Popen([sys.executable, "-m", "tooling.terraform.rehearse", "--env", smallest().name,
                                "--report", str(tmp_path / "report.json")],
                               cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = None
    try:
        for line in process.stdout:
            if "emulator on http://127.0.0.1:" in line:
                port = int(line.split("127.0.0.1:")[1].split(";")[0])
                break
        assert port and _answers(port)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, output
    assert "interrupted; the emulator was stopped" in output
    assert not _answers(port)
    assert not (tmp_path / "report.json").exists()
