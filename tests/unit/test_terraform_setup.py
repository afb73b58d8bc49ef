"""Provider mirror discovery and the Terraform CLI config written from it."""

from pathlib import Path

import pytest

from tooling.terraform.runner import (
    SetupError, discover_mirror, mirror_providers, render_cli_config, stack_providers,
)


def _fake_mirror(root: Path, provider: str = "hashicorp/aws", version: str = "5.100.0") -> Path:
    binary = root / "registry.terraform.io" / provider / version / "linux_amd64" / f"terraform-provider-{provider.split('/')[1]}_v{version}_x5"
    binary.parent.mkdir(parents=True)
    binary.write_text("")
    return root


def test_discovers_a_mirror_in_a_known_root(tmp_path):
    mirror = _fake_mirror(tmp_path / "plugins")
    assert discover_mirror({}, known_roots=[str(tmp_path / "missing"), str(mirror)], search_roots=[]) == mirror


def test_discovers_a_mirror_by_bounded_search(tmp_path):
    mirror = _fake_mirror(tmp_path / "vendor" / "terraform")
    assert discover_mirror({}, known_roots=[], search_roots=[str(tmp_path)]) == mirror


def test_env_var_overrides_discovery(tmp_path):
    chosen = _fake_mirror(tmp_path / "chosen")
    other = _fake_mirror(tmp_path / "other")
    found = discover_mirror({"SPOFLESS_TF_MIRROR": str(chosen)}, known_roots=[str(other)], search_roots=[])
    assert found == chosen


def test_env_var_pointing_at_no_mirror_is_an_error(tmp_path):
    with pytest.raises(SetupError, match="SPOFLESS_TF_MIRROR=.*no providers there"):
        discover_mirror({"SPOFLESS_TF_MIRROR": str(tmp_path)}, known_roots=[], search_roots=[])


def test_no_mirror_means_registry(tmp_path):
    assert discover_mirror({}, known_roots=[str(tmp_path)], search_roots=[str(tmp_path)]) is None
    config = render_cli_config(None, [], tmp_path / "cache")
    assert "direct {}" in config and "filesystem_mirror" not in config
    assert f'plugin_cache_dir = "{tmp_path / "cache"}"' in config


def test_mirror_config_installs_mirrored_providers_from_the_mirror_only(tmp_path):
    mirror = _fake_mirror(tmp_path)
    providers = mirror_providers(mirror)
    assert providers == ["registry.terraform.io/hashicorp/aws"]
    config = render_cli_config(mirror, providers)
    assert f'path    = "{mirror}"' in config
    assert 'include = ["registry.terraform.io/hashicorp/aws"]' in config
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in config


def test_stack_providers_reads_required_and_configured_providers(tmp_path):
    (tmp_path / "cdk.tf.json").write_text(
        '{"terraform": {"required_providers": {"aws": {}}}, "provider": {"helm": [{}]}}')
    assert stack_providers(tmp_path) == {"aws", "helm"}


def test_validate_says_in_one_line_when_the_mirror_lacks_the_pinned_provider(tmp_path, monkeypatch, capsys):
    """GIVEN an output pinning a hashicorp/aws the mirror does not hold (CDK Terrain's 6.x)
    WHEN validate runs THEN it says so in one line and does not fail."""
    import json

    from tooling.terraform import runner as terraform

    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0").mkdir(parents=True)
    monkeypatch.setattr(terraform, "discover_mirror", lambda *a, **k: mirror)
    stack = tmp_path / "out" / "stacks" / "x"
    stack.mkdir(parents=True)
    (stack / "cdk.tf.json").write_text(json.dumps({"terraform": {"required_providers": {
        "aws": {"source": "hashicorp/aws", "version": "6.58.0"}}}}))
    assert terraform.main(["validate", "--outdir", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "lacks hashicorp/aws 6.58.0 (it holds 5.100.0)" in printed[0]
    assert printed[0].endswith("terraform validate: not run")
