"""Synthesis under faults: kills at several points, two synths at once, an unwritable location.

Each runs the real entry point (main.py) in its own process against an output folder that holds
an earlier synthesis, and checks that the output is always whole: the old one or the new one.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.conftest import PROJECT, run_main, tree_digest


@pytest.fixture(scope="module")
def names(environments):
    """Two environments from the configuration: the earlier output's, and another one to write over it."""
    ordered = sorted(environments, key=lambda name: (len(environments[name].regions.all), name))
    return ordered[0], ordered[-1]


@pytest.fixture
def earlier(tmp_path, synth_dir, names):
    """An output folder holding one environment's synthesis (the output every fault must keep)."""
    outdir = tmp_path / "cdktf.out"
    result = run_main(env={"CDKTF_OUTDIR": str(outdir), "SPOFLESS_ENVS": names[0]})
    assert result.returncode == 0, result.stderr
    return outdir


def _leftovers(outdir):
    return sorted(p.name for p in outdir.parent.glob(f".{outdir.name}.*") if p.name != f".{outdir.name}.lock")


@pytest.mark.parametrize("point", ["staged", "mid-swap"])
def test_a_kill_at_the_swap_keeps_a_whole_output_and_the_next_run_cleans_up(earlier, names, point):
    before = tree_digest(earlier)
    killed = run_main(env={"CDKTF_OUTDIR": str(earlier), "SPOFLESS_ENVS": names[1], "SPOFLESS_FAULT": point})
    assert killed.returncode == -9
    if point == "staged":
        assert tree_digest(earlier) == before  # the old output, untouched
    else:
        assert not earlier.exists()  # the fallback swap's middle: the old output is set aside ...
    again = run_main(env={"CDKTF_OUTDIR": str(earlier), "SPOFLESS_ENVS": names[0]})
    assert again.returncode == 0, again.stderr
    assert tree_digest(earlier) == before  # ... and the next run is whole again
    assert _leftovers(earlier) == [], "killed runs' folders must be reclaimed"
    if point == "mid-swap":
        assert "restored" in again.stdout


@pytest.mark.parametrize("after", [0.5, 2.5])
def test_a_kill_at_any_moment_keeps_the_earlier_output(earlier, names, after):
    before = tree_digest(earlier)
    process = subprocess.Popen([sys.executable, "-O", str(PROJECT / "main.py")], cwd=PROJECT,
                               env={"PATH": "/usr/bin:/bin", "CDKTF_OUTDIR": str(earlier), "SPOFLESS_ENVS": names[1],
                                    "HOME": str(earlier.parent)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after)
    process.kill()
    process.wait()
    assert tree_digest(earlier) == before
    scratch = earlier.parent / f".cdktf.out.scratch-{process.pid}"
    if after > 2:  # by now jsii has unpacked its runtime: into the run's own folder, not the system's temp
        assert scratch.is_dir() and any(scratch.iterdir())
    assert run_main(env={"CDKTF_OUTDIR": str(earlier), "SPOFLESS_ENVS": names[0]}).returncode == 0
    assert _leftovers(earlier) == []


def test_two_synths_at_once_each_leave_a_whole_output(tmp_path, synth_dir, names):
    outdir = tmp_path / "cdktf.out"
    environ = {"CDKTF_OUTDIR": str(outdir)}
    first = subprocess.Popen([sys.executable, "-O", str(PROJECT / "main.py")], cwd=PROJECT,
                             env=dict(__import__("os").environ, **environ), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    second = run_main(env={**environ, "SPOFLESS_ENVS": names[1]})
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, err + second.stderr
    # whoever wrote last, the output is one whole synthesis: every environment, or that one alone (with its
    # account's baseline)
    from tests.topology import ENVIRONMENTS, synthesized_stacks

    stacks = sorted(p.name for p in (outdir / "stacks").iterdir())
    every = sorted(p.name for p in (synth_dir / "stacks").iterdir())
    assert stacks in (every, synthesized_stacks(ENVIRONMENTS[names[1]]))
    for name in stacks:
        assert (outdir / "stacks" / name / "cdk.tf.json").read_bytes() == \
               (synth_dir / "stacks" / name / "cdk.tf.json").read_bytes()
    assert "waiting for it" in out + second.stdout  # one of them waited for the other's lock
    assert _leftovers(outdir) == []


def test_an_unwritable_location_is_one_line_and_changes_nothing(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output's parent folder should be")
    result = run_main(env={"CDKTF_OUTDIR": str(blocker / "cdktf.out")})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    (line, kept) = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot create the output's lock file") and "not-a-folder: " in line, line
    assert line.endswith(")") and "(E" in line  # the cause, with its errno name
    assert kept.endswith("was left as it was")
    assert blocker.read_text().startswith("a file")


def test_kills_of_whole_process_groups_at_several_moments_then_one_synth_leave_nothing(earlier, names):
    """Synths killed with their jsii node child (the process group) at several moments in a row, not yet
    reaped by whoever killed them (zombies), then one normal synth: no folder of any run is left."""
    import os
    import signal

    killed = []
    for after in (1.0, 2.0, 3.0):
        process = subprocess.Popen([sys.executable, "-O", str(PROJECT / "main.py")], cwd=PROJECT,
                                   env={"PATH": "/usr/bin:/bin", "CDKTF_OUTDIR": str(earlier),
                                        "SPOFLESS_ENVS": names[1], "HOME": str(earlier.parent)},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(after)
        os.killpg(process.pid, signal.SIGKILL)
        killed.append(process)  # not waited for yet: a zombie until the end of the test
    try:
        assert run_main(env={"CDKTF_OUTDIR": str(earlier), "SPOFLESS_ENVS": names[0]}).returncode == 0
        assert _leftovers(earlier) == []
    finally:
        for process in killed:
            process.wait()
