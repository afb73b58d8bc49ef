"""What the cdktf CLI asks of the app beside plain synthesis."""

from __future__ import annotations

import re

from tests.conftest import run_main


def test_synth_hcl_writes_cdk_tf_and_counts_its_resources(tmp_path, environments):
    """`npx cdktf synth --hcl` sets SYNTH_HCL_OUTPUT: the stacks are cdk.tf, and the count line reads them."""
    env = sorted(environments)[0]
    outdir = tmp_path / "cdktf.out"
    result = run_main(env={"CDKTF_OUTDIR": str(outdir), "SPOFLESS_ENVS": env, "SYNTH_HCL_OUTPUT": "true"},
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    counted = dict(re.findall(r"^  (\S+)\s+(\d+) resources", result.stdout, re.MULTILINE))
    assert counted
    for stack, count in counted.items():
        hcl = (outdir / "stacks" / stack / "cdk.tf").read_text()
        assert not (outdir / "stacks" / stack / "cdk.tf.json").exists()
        assert len(re.findall(r'^resource "', hcl, re.MULTILINE)) == int(count) > 0
