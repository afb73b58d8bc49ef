"""The Mermaid diagrams drawn from the session's synthesized output, checked against the configuration."""

from __future__ import annotations

import re

import pytest

from policies.model.output import Output
from tooling.analysis import diagram


@pytest.fixture(scope="module")
def output(synth_dir):
    return Output.load(synth_dir)


def test_the_stacks_diagram_has_every_stack_and_every_dependency(output, environments):
    for env in environments:
        text = diagram.stacks_diagram(output, env)
        assert text.startswith("flowchart LR")
        for stack in output.deployment_of(env):
            assert f'{diagram._id(stack)}["{stack}<br/>' in text
            for dependency in output.dependencies(stack):
                assert f"  {diagram._id(dependency)} --> {diagram._id(stack)}" in text


def test_the_request_path_follows_each_providers_failover_order_primary_region_first(output, environments):
    for name, env in environments.items():
        text = diagram.request_path_diagram(output, name)
        regions = [r.name for r in env.regions.all]
        for position, region in enumerate(regions):
            assert f'["{region} ({"primary" if position == 0 else "standby"})"]' in text
        for provider in ("route53", "cloudflare"):
            order = re.findall(rf"^  {provider} -[-.]+>\|\"(\d+)\"\| (\S+)$", text, re.MULTILINE)
            lbs_per_region = len(re.findall(r'_(?:alb_primary|alb_secondary|nlb)\["', text)) // len(regions)
            assert [int(n) for n, _ in order] == list(range(1, len(regions) * lbs_per_region + 1)), provider
            # the primary region's primary ALB first, every LB of a region before the next region's
            assert order[0][1] == diagram._id(f"{name}_{regions[0]}_alb-primary")
            seen = [next(r for r in regions if node.startswith(diagram._id(f"{name}_{r}_"))) for _, node in order]
            assert seen == sorted(seen, key=regions.index)


def test_spofless_diagram_writes_one_file_per_environment(synth_dir, environments, tmp_path):
    assert diagram.main(["--out", str(synth_dir), "--reports", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"diagram-{e}.md" for e in environments)
    assert diagram.main(["--out", str(synth_dir), "--reports", str(tmp_path), "-e", "nosuch"]) == 2
