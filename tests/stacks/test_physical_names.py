"""Physical names stay within AWS's and Cloudflare's limits and never collide, for the longest
names the schema allows (a 20-character environment in the longest-named regions)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from environments.regions import REGION_ZONES
from modules.stacks.names import physical
from policies.model.output import Output
from tests.topology import multi_region, widest

# resource type -> (name attribute, limit)
LIMITS = {
    "aws_lb": ("name", 32), "aws_lb_target_group": ("name", 32), "aws_iam_role": ("name", 64),
    "aws_eks_node_group": ("node_group_name", 63), "aws_eks_cluster": ("name", 100),
    "aws_s3_bucket": ("bucket", 63), "aws_lambda_function": ("function_name", 64),
    "aws_launch_template": ("name", 128), "aws_security_group": ("name", 255),
    "aws_wafv2_web_acl": ("name", 128), "cloudflare_load_balancer_pool": ("name", 64),
}


def test_physical_keeps_short_names_and_separates_long_ones():
    assert physical("prod-us-east-1-alb-primary", 32) == "prod-us-east-1-alb-primary"
    long = [physical(f"{'e' * 20}-ap-southeast-4-{role}", 32) for role in ("alb-primary", "alb-secondary", "nlb")]
    assert len(set(long)) == 3 and all(len(n) <= 32 and not n.startswith("-") for n in long)
    assert physical("x" * 40, 32) == physical("x" * 40, 32)  # stable


@pytest.fixture(scope="module")
def longest(tmp_path_factory):
    """A two-region environment of the configuration renamed to the longest name, in the longest-named regions."""
    from environments.schema import RegionsConfig
    from modules.app import synthesize

    regions = sorted(REGION_ZONES, key=lambda r: (-len(r), r))[:2]
    base = widest(multi_region)
    if base is None:
        pytest.skip("no environment has a standby region to rename")
    data = base.regions.model_dump()
    data["primary"] = {**data["primary"], "name": regions[0], "availability_zones": None}
    data["standby"] = {**data["standby"], "name": regions[1], "availability_zones": None}
    name = "n" * 20
    env = base.model_copy(update={"name": name, "regions": RegionsConfig.model_validate(data)})
    outdir = tmp_path_factory.mktemp("longest") / "cdktf.out"
    synthesize([env], outdir)
    return Output.load(outdir)


def test_the_longest_names_fit_and_are_unique(longest):
    checked = 0
    for rtype, (attribute, limit) in LIMITS.items():
        # an account id read at plan time is 12 digits
        names = [(stack, re.sub(r"\$\{[^}]*account_id\}", "0" * 12, conf.get(attribute)))
                 for stack, _, conf in longest.every(rtype) if conf.get(attribute)]
        for stack, value in names:
            assert len(value) <= limit, f"{rtype} in {stack}: {value!r} is {len(value)} > {limit}"
        counts = Counter(value for _, value in names)
        assert not [v for v, n in counts.items() if n > 1], f"{rtype}: names collide: {counts.most_common(3)}"
        checked += len(names)
    assert checked > 50
