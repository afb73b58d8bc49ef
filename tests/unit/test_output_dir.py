"""The output folder's lock, swap and clean-up (modules/output_dir.py), one piece at a time."""

from __future__ import annotations

import errno
import threading
import time

import pytest

from modules import output_dir
from modules.output_dir import OutputError


def _output(path, marker: str):
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(marker)
    return path


def test_the_swap_exchanges_atomically_and_removes_the_old_output(tmp_path):
    target = _output(tmp_path / "cdktf.out", "old")
    new = _output(tmp_path / ".cdktf.out.tmp-1", "new")
    output_dir.replace(new, target)
    assert (target / "manifest.json").read_text() == "new" and not new.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out"]


def test_the_output_never_goes_missing_during_swaps(tmp_path):
    """A reader polling the output while swaps happen always finds it (renameat2 RENAME_EXCHANGE)."""
    target = _output(tmp_path / "cdktf.out", "0")
    missing, done = [], threading.Event()

    def reader():
        while not done.is_set():
            if not (target / "manifest.json").is_file():
                missing.append(time.monotonic())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(1, 200):
            output_dir.replace(_output(tmp_path / f".cdktf.out.tmp-{n}", str(n)), target)
    finally:
        done.set()
        thread.join()
    assert not missing and (target / "manifest.json").read_text() == "199"


def test_without_an_atomic_exchange_the_fallback_still_replaces(tmp_path):
    target = _output(tmp_path / "cdktf.out", "old")
    output_dir.replace(_output(tmp_path / ".cdktf.out.tmp-1", "new"), target, exchange=lambda a, b: False)
    assert (target / "manifest.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out"]


def test_reclaim_restores_an_output_left_aside_and_removes_killed_runs_folders(tmp_path, capsys):
    target = tmp_path / "cdktf.out"
    _output(tmp_path / ".cdktf.out.old-41", "older")
    aside = _output(tmp_path / ".cdktf.out.old-42", "aside")
    time.sleep(0.01)
    aside.touch()
    _output(tmp_path / ".cdktf.out.tmp-43", "half written")
    output_dir.reclaim(target)
    assert (target / "manifest.json").read_text() == "aside"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out"]
    assert "restored" in capsys.readouterr().out


def test_a_second_writer_waits_for_the_first_and_gives_up_with_a_message(tmp_path):
    target = tmp_path / "cdktf.out"
    said = []
    with output_dir.locked(target):
        # flock is per open file description: a second open in this process contends like another process
        with pytest.raises(OutputError, match=r"another synthesis has held .*\.cdktf\.out\.lock for over 0 s"):
            with output_dir.locked(target, wait=0.3, say=said.append):
                pass
    assert said and "waiting for it" in said[0]
    with output_dir.locked(target, wait=0.3):  # released: the next one gets it at once
        pass


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.EACCES, errno.EBUSY])
def test_a_filesystem_failure_is_one_line_naming_the_path_and_the_cause(tmp_path, monkeypatch, code):
    from modules.app import synthesize

    target = _output(tmp_path / "cdktf.out", "kept")
    real_mkdir = type(target).mkdir

    def failing_mkdir(self, *args, **kwargs):
        if self.name.startswith(".cdktf.out.tmp-"):
            raise OSError(code, __import__("os").strerror(code), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(type(target), "mkdir", failing_mkdir)
    with pytest.raises(OutputError) as raised:
        synthesize([], target)
    message = str(raised.value)
    assert "\n" not in message and ".cdktf.out.tmp-" in message and errno.errorcode[code] in message
    assert (target / "manifest.json").read_text() == "kept"


def test_node_filesystem_errors_become_one_line():
    error = RuntimeError("Error: EROFS: read-only file system, mkdir '/ro/.cdktf.out.tmp-7/stacks'\n    at Object.mkdirSync")
    assert output_dir.from_node(error) == "/ro/.cdktf.out.tmp-7/stacks: read-only file system (EROFS)"
    assert output_dir.from_node(RuntimeError("TypeError: x is undefined")) is None


def test_reclaim_removes_the_scratch_folder_of_a_run_that_is_gone_and_keeps_live_ones(tmp_path):
    import os
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = _output(tmp_path / f".cdktf.out.scratch-{gone.pid}", "jsii runtime")
    live = _output(tmp_path / f".cdktf.out.scratch-{os.getpid()}", "in use")
    removed = output_dir.reclaim(tmp_path / "cdktf.out", say=lambda line: None)
    assert removed == [dead] and not dead.exists() and live.exists()
