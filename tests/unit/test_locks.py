"""Provider lock: every provider the stacks pin has its checksums committed, and terraform init is held to them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from modules import engine
from tooling.terraform import locks
from tooling.terraform.mirror import pinned_providers

AWS = "registry.terraform.io/hashicorp/aws"
CLOUDFLARE = "registry.terraform.io/cloudflare/cloudflare"
H1 = "h1:" + "A" * 43 + "="
ZH = "zh:" + "0" * 64


def _entry(address: str, version: str, *hashes: str) -> locks.Entry:
    return locks.Entry(address, version, version, hashes or (H1, ZH))


def _document(**providers: tuple[str, str]) -> dict:
    return {"terraform": {"required_providers": {name: {"source": source, "version": version}
                                                  for name, (source, version) in providers.items()}}}


def test_the_committed_lock_covers_every_provider_the_stacks_pin(synth_dir):
    if engine.selected().name != engine.DEFAULT:
        pytest.skip("the lock holds the default engine's provider versions; CDK Terrain pins newer majors")
    pinned = pinned_providers(synth_dir)
    assert locks.problems(locks.load(), pinned) == []
    # what is pending is pinned and not locked, so the list only shrinks
    assert all(v in pinned[a] and a not in locks.load() for a, v in locks.PENDING)
    assert set(locks.load()) | {a for a, _ in locks.PENDING} == set(pinned)


def test_the_committed_lock_is_in_terraforms_own_layout():
    text = locks.LOCK_FILE.read_text()
    entries = locks.parse(text)
    assert locks.render(entries) == text
    assert all(any(h.startswith("h1:") for h in e.hashes) and any(h.startswith("zh:") for h in e.hashes)
               for e in entries.values())


@pytest.mark.parametrize("entries, pinned, pending, expected", [
    ({}, {AWS: {"5.100.0"}}, {}, "pinned by the stacks, not in .terraform.lock.hcl"),
    ({AWS: _entry(AWS, "5.99.0")}, {AWS: {"5.100.0"}}, {}, "locks 5.99.0, the stacks pin 5.100.0"),
    ({AWS: _entry(AWS, "5.100.0", ZH)}, {AWS: {"5.100.0"}}, {}, "no h1: hash"),
    ({AWS: _entry(AWS, "5.100.0", H1)}, {AWS: {"5.100.0"}}, {}, "no zh: hash"),
    ({AWS: _entry(AWS, "5.100.0")}, {}, {}, "no stack pins it"),
    ({}, {AWS: {"5.100.0", "6.0.0"}}, {}, "one lock holds one version"),
    ({AWS: _entry(AWS, "5.100.0")}, {AWS: {"5.100.0"}}, {(AWS, "5.100.0"): "x"}, "still listed as pending"),
    ({}, {CLOUDFLARE: {"5.15.0"}}, {(CLOUDFLARE, "5.14.0"): "x"}, "5.15.0: pinned by the stacks, not in"),
])
def test_each_way_a_lock_fails_its_pins_is_named(entries, pinned, pending, expected):
    found = locks.problems(entries, pinned, pending)
    assert any(expected in line for line in found), found


def test_a_lock_that_holds_its_pins_passes_and_pending_is_scoped_to_the_version():
    assert locks.problems({AWS: _entry(AWS, "5.100.0")}, {AWS: {"5.100.0"}}, {}) == []
    assert locks.problems({}, {CLOUDFLARE: {"5.14.0"}}, {(CLOUDFLARE, "5.14.0"): "why"}) == []


@pytest.mark.parametrize("text, where", [
    ('provider "registry.terraform.io/hashicorp/aws" {\n  version = "1"\n  hashes = [\n    "md5:abc",\n  ]\n}\n',
     """.terraform.lock.hcl:4: '"md5:abc",' in registry.terraform.io/hashicorp/aws's hashes"""),
    ('provider "aws" {\n  version = "1"\n}\n', ".terraform.lock.hcl:1: provider 'aws'; allowed: a full address"),
    ('terraform {}\nprovider "registry.terraform.io/hashicorp/aws" {\n  version = "1"\n}\n',
     ".terraform.lock.hcl:1: 'terraform {}' is outside a provider block"),
    ('provider "registry.terraform.io/hashicorp/aws" {\n  hashes = [\n  ]\n}\n', "has no version"),
    ('provider "registry.terraform.io/hashicorp/aws" {\n  version = "1"\n  source = "x"\n}\n',
     ".terraform.lock.hcl:3: 'source = \"x\"'"),
])
def test_a_malformed_lock_is_one_error_with_its_line(text, where):
    with pytest.raises(locks.LockError) as raised:
        locks.parse(text)
    assert where in str(raised.value), str(raised.value)


def test_init_is_held_to_the_lock_when_every_provider_of_the_stack_is_locked(tmp_path):
    entries = {AWS: _entry(AWS, "5.100.0"), CLOUDFLARE: _entry(CLOUDFLARE, "5.14.0")}
    flags, note = locks.place(tmp_path, _document(aws=("aws", "5.100.0")), entries)
    assert flags == ["-lockfile=readonly"] and note == ""
    # only the stack's own providers: Terraform drops (and readonly refuses to drop) the others
    assert set(locks.parse((tmp_path / locks.LOCK_NAME).read_text())) == {AWS}


def test_a_provider_not_locked_is_named_and_the_rest_still_checked(tmp_path):
    entries = {AWS: _entry(AWS, "5.100.0")}
    document = _document(aws=("aws", "5.100.0"), cloudflare=("cloudflare/cloudflare", "5.14.0"))
    flags, note = locks.place(tmp_path, document, entries)
    assert flags == [] and "cloudflare/cloudflare 5.14.0" in note
    assert set(locks.parse((tmp_path / locks.LOCK_NAME).read_text())) == {AWS}
    # a lock at another version is not the pin's lock: nothing written, nothing claimed
    flags, note = locks.place(tmp_path, _document(aws=("aws", "6.0.0")), entries)
    assert flags == [] and "hashicorp/aws 6.0.0" in note and not (tmp_path / locks.LOCK_NAME).exists()


def test_update_asks_the_registry_for_every_platform_then_the_mirror_and_merges(tmp_path, synth_dir):
    lock = tmp_path / "lock.hcl"
    lock.write_text(locks.render({AWS: _entry(AWS, "5.100.0", ZH),
                                  "registry.terraform.io/hashicorp/random": _entry("registry.terraform.io/hashicorp/random", "3.0.0")}))
    mirror = tmp_path / "mirror"
    (mirror / AWS / "5.100.0" / "linux_amd64").mkdir(parents=True)
    calls = []

    def fake(args, cwd, **_):
        calls.append(args)
        config = json.loads((Path(cwd) / "providers.tf.json").read_text())
        assert config["terraform"]["required_providers"]["aws"] == {"source": AWS, "version": "5.100.0"}
        if any(a.startswith("-fs-mirror=") for a in args):
            current = locks.load(Path(cwd) / locks.LOCK_NAME)
            current[AWS] = locks.Entry(AWS, "5.100.0", "5.100.0", current[AWS].hashes + (H1,))
            (Path(cwd) / locks.LOCK_NAME).write_text(locks.render(current))
            return subprocess.CompletedProcess(args, 0, "", "")
        return subprocess.CompletedProcess(args, 1, "", "Error: registry.terraform.io: no such host\n")

    unreached = locks.update(synth_dir, lock, mirror=mirror, run=fake)
    registry_calls = [c for c in calls if not any(a.startswith("-fs-mirror=") for a in c)]
    assert all(sum(a.startswith("-platform=") for a in c) == len(locks.PLATFORMS) for c in registry_calls)
    assert {c[-1] for c in registry_calls} == set(pinned_providers(synth_dir))
    assert len(unreached) == len(registry_calls) and all("did not answer" in u for u in unreached)
    assert calls[-1][-1] == AWS and "-fs-mirror=" + str(mirror) in calls[-1]
    merged = locks.load(lock)
    assert set(merged) == {AWS} and set(merged[AWS].hashes) == {H1, ZH}  # kept, added, unpinned dropped


@pytest.mark.integration
def test_terraform_refuses_a_mirror_package_whose_checksum_the_lock_does_not_hold(tmp_path, synth_dir, monkeypatch):
    """The real thing: validate one AWS stack with the committed lock (verified), then with its h1 altered."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    from tooling.terraform import runner

    if engine.selected().name != engine.DEFAULT:
        pytest.skip("the lock holds the default engine's provider versions")
    stack = runner.aws_only_stacks(synth_dir)[0]
    good = runner.validate_stack(stack, tmp_path / "good")
    assert good.ok, good.detail
    assert set(locks.parse((tmp_path / "good" / stack.name / locks.LOCK_NAME).read_text())) == {AWS}

    entries = locks.load()
    tampered = {**entries, AWS: locks.Entry(AWS, entries[AWS].version, entries[AWS].constraints,
                                            tuple(h if not h.startswith("h1:") else H1 for h in entries[AWS].hashes))}
    (tmp_path / "tampered.hcl").write_text(locks.render(tampered))
    monkeypatch.setattr(locks, "LOCK_FILE", tmp_path / "tampered.hcl")
    bad = runner.validate_stack(stack, tmp_path / "bad")
    assert not bad.ok and "matches no checksum in .terraform.lock.hcl" in bad.detail, bad.detail
