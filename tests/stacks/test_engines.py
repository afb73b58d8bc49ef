"""The same constructs under CDKTF and CDK Terrain (issue 22): the same stacks and addresses, and no
difference in the output beyond the allow-list of tooling/dev/engines.py.

The session's synthesis is one engine's (cdktf under `make test`, cdktn under `make test-cdktn`); the
other engine synthesizes once more here, through main.py's hand-over to its own venv. Every stack
test of the session therefore holds for both engines' output, apart from the allowed differences.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from modules import engine
from tests.conftest import run_main
from tests.topology import ALL_STACKS as STACKS
from tooling.dev import engines
from tooling.terraform import runner

THIS = engine.selected()
OTHER = next(e for e in engine.ENGINES.values() if e.name != THIS.name)


@pytest.fixture(scope="module")
def outputs(synth_dir, tmp_path_factory):
    """``{engine name: output folder}``: the session's synthesis and the other engine's."""
    if not OTHER.interpreter().exists():
        # built here, by the one test that needs it, not by every `make test`: `make` knows the steps
        print(f"\nsetting up {OTHER.venv} for the {OTHER.name} comparison (once, about a minute)", flush=True)
        built = subprocess.run(["make", "-s", f"{OTHER.venv}/.installed"], cwd=runner.PROJECT, capture_output=True,
                               text=True, timeout=1800)
        if built.returncode != 0 or not OTHER.interpreter().exists():
            reason = f"{OTHER.venv} could not be set up, so {OTHER.name} cannot synthesize here: " + (
                (built.stderr or built.stdout).strip().splitlines() or ["no output"])[-1]
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
    outdir = tmp_path_factory.mktemp(OTHER.name) / "cdktf.out"
    result = run_main(env={"CDKTF_OUTDIR": str(outdir), "SPOFLESS_ENGINE": OTHER.name}, cwd=outdir.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    return {THIS.name: synth_dir, OTHER.name: outdir}


@pytest.fixture(scope="module")
def comparison(outputs):
    result = engines.compare(outputs["cdktf"], outputs["cdktn"])
    print(result.summary())  # shown with -s / on failure: the summary the issue asks for
    return result


def test_both_engines_synthesize_every_stack_with_identical_addresses(comparison):
    assert comparison.stacks == sorted(STACKS)
    assert sorted(comparison.addresses) == sorted(STACKS)
    assert all(comparison.addresses.values())


def test_nothing_differs_outside_the_allow_list(comparison):
    assert comparison.problems == []


def test_the_other_engine_really_ran(comparison, outputs):
    # every stack and the manifest name their engine's version, and they differ
    assert comparison.allowed["engine version metadata"] == len(STACKS) + 1
    versions = {name: json.loads((out / "manifest.json").read_text())["version"] for name, out in outputs.items()}
    assert versions["cdktf"] != versions["cdktn"]
    assert set(comparison.allowed) <= set(engines.ALLOWED)


def test_a_difference_outside_the_allow_list_is_reported(outputs, tmp_path):
    """GIVEN the other engine's output with one attribute changed, one address renamed and one provider
    from another namespace, WHEN compared, THEN each is a difference and nothing hides it."""
    changed = tmp_path / "changed"
    shutil.copytree(outputs["cdktn"], changed)
    stack = sorted(STACKS)[0]
    path = changed / "stacks" / stack / "cdk.tf.json"
    document = json.loads(path.read_text())
    kind = sorted(document["resource"])[0]
    first, *_ = sorted(document["resource"][kind])
    document["resource"][kind][f"{first}_renamed"] = document["resource"][kind].pop(first)
    second_kind = sorted(document["resource"])[-1]
    second = sorted(document["resource"][second_kind])[-1]
    document["resource"][second_kind][second]["spofless_probe"] = "changed"
    provider = sorted(document["terraform"]["required_providers"])[0]
    document["terraform"]["required_providers"][provider]["source"] = f"someone-else/{provider}"
    path.write_text(json.dumps(document))
    result = engines.compare(outputs["cdktf"], changed)
    problems = "\n".join(result.problems)
    assert f"{stack}: addresses differ" in problems and f"{kind}.{first}_renamed" in problems
    assert f"resource.{second_kind}.{second}.spofless_probe" in problems
    assert f"required_providers.{provider}.source" in problems
    assert stack not in result.addresses


@pytest.mark.integration
def test_the_cdktn_output_is_valid_terraform_where_its_providers_can_be_had(outputs, tmp_path):
    """terraform validate of the cdktn output's AWS-only stacks: it needs the provider versions cdktn's
    prebuilt providers pin (hashicorp/aws 6.x). Where the machine's mirror lacks them (and routes that
    provider to the mirror only) this is said in one line and skipped, never failed."""
    from tooling.terraform import runner as terraform

    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    gap = runner.current_mirror_gap(outputs["cdktn"])
    if gap:
        pytest.skip(gap)
    results = terraform.validate_all(outputs["cdktn"], tmp_path)
    assert results and not {r.stack: r.detail for r in results if not r.ok}
