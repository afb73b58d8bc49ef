"""Synthesis as users run it: progress, determinism, selection, fast imports."""

from __future__ import annotations

import json
import sys

import pytest

from modules import providers
from tests.conftest import run_main, tree_digest
from tests.topology import ALL_STACKS, ENVIRONMENTS, smallest, synthesized_stacks

# one environment alone (the cheapest to synthesize), and another one for the cdktf context
ONE = smallest()
OTHER = max(ENVIRONMENTS.values(), key=lambda env: (len(env.regions.all), env.name))


@pytest.fixture(scope="module")
def second_run(tmp_path_factory):
    """`python main.py` for every environment, in its own process."""
    outdir = tmp_path_factory.mktemp("second") / "cdktf.out"
    result = run_main(env={"CDKTF_OUTDIR": str(outdir)}, cwd=outdir.parent)
    assert result.returncode == 0, result.stderr
    return result, outdir


def test_two_syntheses_are_byte_identical(synth_dir, second_run):
    _, outdir = second_run
    first, second = tree_digest(synth_dir), tree_digest(outdir)
    assert sorted(first) == sorted(second)
    different = [name for name in first if first[name] != second[name]]
    assert not different


def test_synth_prints_per_stack_progress_and_total_time(second_run):
    result, _ = second_run
    lines = result.stdout.splitlines()
    # every environment of environments/, in name order, and every stack the configuration asks for
    assert lines[0] == f"synthesizing {', '.join(sorted(ENVIRONMENTS))} into {second_run[1]}/stacks"
    for stack in ALL_STACKS:
        assert any(line.split()[0:1] == [stack] and "resources" in line for line in lines), stack
    assert lines[-1].startswith(f"synthesized {len(ALL_STACKS)} stacks, ") and lines[-1].endswith("s")


def test_users_see_no_node_banner_or_warnings(second_run):
    result, _ = second_run
    assert result.stderr == ""


def test_one_environment_can_be_selected(tmp_path):
    outdir = tmp_path / "cdktf.out"
    result = run_main(env={"CDKTF_OUTDIR": str(outdir), "SPOFLESS_ENVS": ONE.name}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (outdir / "stacks").iterdir()) == synthesized_stacks(ONE)
    # only the output and its lock file (kept: removing a flock file races the next writer)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".cdktf.out.lock", "cdktf.out"], "temporary output left behind"


def test_output_directory_may_not_exist_yet(tmp_path):
    outdir = tmp_path / "build" / "nested" / "cdktf.out"
    result = run_main(env={"CDKTF_OUTDIR": str(outdir), "SPOFLESS_ENVS": ONE.name}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (outdir / "manifest.json").is_file()


def test_cdktf_context_selects_environments_too(tmp_path):
    outdir = tmp_path / "cdktf.out"
    result = run_main(env={"CDKTF_OUTDIR": str(outdir),
                           "CDKTF_CONTEXT_JSON": json.dumps({"environments": OTHER.name})}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (outdir / "stacks").iterdir()) == synthesized_stacks(OTHER)


def test_only_the_provider_submodules_in_use_are_imported(synth_dir, stacks):
    """Exactly the submodules of the resource and data types the output holds, and the package's own: a
    new tier adds its types, never an eager import of the ~2,100."""
    aws = providers.package("aws")  # the selected engine's bindings (modules/engine.py)
    loaded = {name.split(".")[1] for name in sys.modules if name.startswith(f"{aws}.")}
    used = {t.removeprefix("aws_") for stack in stacks.values() for t in stack.get("resource", {})
            if t.startswith("aws_")}
    used |= {f"data_{t}" for stack in stacks.values() for t in stack.get("data", {}) if t.startswith("aws_")}
    assert "vpc" in loaded
    assert loaded - used == {"_jsii", "provider"}, sorted(loaded - used)


@pytest.mark.slow
def test_fast_imports_synthesize_exactly_what_stock_imports_do(synth_dir, tmp_path):
    outdir = tmp_path / "cdktf.out"
    result = run_main(env={"CDKTF_OUTDIR": str(outdir), "SPOFLESS_STOCK_IMPORTS": "1"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert tree_digest(outdir) == tree_digest(synth_dir)


def test_synthesis_needs_none_of_the_tooling_dependencies(tmp_path, synth_dir):
    """Who only synthesizes needs cdktf, the providers, pydantic and PyYAML: not moto, boto3,
    checkov or the tooling package (tooling/ stays apart from the constructs)."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "BLOCKED = ('moto', 'boto3', 'botocore', 'checkov', 'tooling', 'pytest')\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'{name} is not installed (blocked by the test)')\n"
        "        return None\n"
        "sys.meta_path.insert(0, Block())\n")
    out = tmp_path / "cdktf.out"
    result = run_main(env={"PYTHONPATH": str(blocker), "CDKTF_OUTDIR": str(out), "SPOFLESS_ENVS": ONE.name},
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    for stack in (out / "stacks").iterdir():
        assert (stack / "cdk.tf.json").read_bytes() == (synth_dir / "stacks" / stack.name / "cdk.tf.json").read_bytes()
