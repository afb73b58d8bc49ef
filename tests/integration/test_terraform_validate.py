"""Every stack that uses only the AWS provider passes terraform init (offline mirror) + validate."""

from __future__ import annotations

import shutil

import pytest

from tests import topology
from tests.topology import ENVIRONMENTS
from tooling.terraform import runner as terraform

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def results(synth_dir, tmp_path_factory):
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH; it is required to validate the synthesized stacks")
    print(terraform.setup())
    return terraform.validate_all(synth_dir, tmp_path_factory.mktemp("validate"))


def test_every_aws_only_stack_is_validated(results, stacks):
    aws_only = sorted(name for name, doc in stacks.items()
                      if set(doc["terraform"]["required_providers"]) == {"aws"})
    assert sorted(r.stack for r in results) == aws_only
    # security, dns-zone and dns-route53 per environment, a stack per region (tests/topology.py), and the
    # accounts' baselines
    assert aws_only == sorted({s for env in ENVIRONMENTS.values()
                               for s in (*topology.aws_only_stacks(env), *topology.account_stacks(env))})


def test_every_aws_only_stack_is_valid(results):
    invalid = {r.stack: r.detail for r in results if not r.ok}
    assert not invalid


def test_validation_leaves_the_synthesized_output_untouched(results, synth_dir):
    assert not list(synth_dir.rglob(".terraform*"))
