"""The state buckets' bootstrap: generated from each environment's backend, valid, and applied as AWS would hold it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from environments.loader import load_environments
from tooling.terraform import bootstrap, locks

S3_ENVS = [c for c in load_environments() if c.backend.type == "s3"]
LOCAL_ENVS = [c for c in load_environments() if c.backend.type != "s3"]


@pytest.mark.parametrize("config", S3_ENVS, ids=lambda c: c.name)
def test_every_bucket_the_backend_names_is_a_versioned_encrypted_private_state_bucket(config):
    document = bootstrap.configuration(config)
    resources = document["resource"]
    backend = config.backend
    names = {b["bucket"] for b in resources["aws_s3_bucket"].values()}
    assert names == {backend.bucket} | ({backend.standby_bucket} if backend.standby_bucket else set())
    for label, bucket in resources["aws_s3_bucket"].items():
        assert bucket["lifecycle"] == {"prevent_destroy": True} and bucket["force_destroy"] is False
        assert resources["aws_s3_bucket_versioning"][label]["versioning_configuration"] == {"status": "Enabled"}
        blocks = resources["aws_s3_bucket_public_access_block"][label]
        assert all(blocks[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                               "restrict_public_buckets"))
        policy = json.loads(resources["aws_s3_bucket_policy"][label]["policy"])
        assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        rule = resources["aws_s3_bucket_server_side_encryption_configuration"][label]["rule"][0]
        assert rule["bucket_key_enabled"] is True
    regions = {p["region"] for p in document["provider"]["aws"]}
    expected = {backend.region or config.regions.primary.name}
    if config.regions.standby is not None:
        expected.add(config.regions.standby.name)
    assert regions == expected
    assert all(p["allowed_account_ids"] == [config.account_id] for p in document["provider"]["aws"])


@pytest.mark.parametrize("config", [c for c in S3_ENVS if c.regions.standby is not None], ids=lambda c: c.name)
def test_the_primary_bucket_replicates_to_the_standby_with_a_role_that_reaches_only_the_two(config):
    resources = bootstrap.configuration(config)["resource"]
    (replication,) = resources["aws_s3_bucket_replication_configuration"].values()
    (rule,) = replication["rule"]
    assert rule["delete_marker_replication"] == {"status": "Enabled"} and rule["status"] == "Enabled"
    assert rule["destination"]["bucket"] == "${aws_s3_bucket.standby.arn}"
    # replication needs versioning on both sides first (S3 refuses the configuration otherwise)
    assert set(replication["depends_on"]) == {"aws_s3_bucket_versioning.state", "aws_s3_bucket_versioning.standby"}
    policy = json.loads(resources["aws_iam_role_policy"]["replication"]["policy"])
    reached = {r for s in policy["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    buckets = (config.backend.bucket, config.backend.standby_bucket)
    assert all(any(r.startswith(f"arn:aws:s3:::{b}") for b in buckets) or r.startswith("arn:aws:kms:") for r in reached)
    trust = json.loads(resources["aws_iam_role"]["replication"]["assume_role_policy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == config.account_id


@pytest.mark.parametrize("config", LOCAL_ENVS, ids=lambda c: c.name)
def test_a_local_backend_has_nothing_to_bootstrap(config, tmp_path):
    with pytest.raises(bootstrap.BootstrapError, match="nothing to bootstrap"):
        bootstrap.write(config, tmp_path)
    assert not (tmp_path / config.name).exists()


@pytest.mark.integration
@pytest.mark.parametrize("config", [c for c in S3_ENVS if c.regions.standby is not None][:1], ids=lambda c: c.name)
def test_the_bootstrap_validates_and_applies_on_the_emulator_with_replication_in_place(config, tmp_path):
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    import boto3

    from tooling.terraform.emulated import rehearsal_document, rehearsal_env
    from tooling.terraform.emulator import FAKE_CREDENTIAL, Emulator
    from tooling.terraform.runner import setup

    setup()
    target = bootstrap.write(config, tmp_path / "bootstrap")
    assert set(locks.parse((target.parent / locks.LOCK_NAME).read_text())) == {"registry.terraform.io/hashicorp/aws"}
    with Emulator(account_id=config.account_id, log=tmp_path / "moto.log") as emulator:
        document, left_out = rehearsal_document(json.loads(target.read_text()), f"{config.name}-bootstrap",
                                                emulator.endpoint, tmp_path / "state")
        assert not left_out
        work = tmp_path / "work"
        work.mkdir()
        (work / "main.tf.json").write_text(json.dumps(document))
        flags, _ = locks.place(work, document)
        env = rehearsal_env(emulator.endpoint)

        def terraform(*args: str) -> subprocess.CompletedProcess:
            done = subprocess.run(["terraform", *args, "-no-color"], cwd=work, env=env, capture_output=True,
                                  text=True, timeout=600)
            assert done.returncode == 0, done.stdout + done.stderr
            return done

        terraform("init", "-input=false", *flags)
        terraform("apply", "-input=false", "-auto-approve")
        s3 = boto3.client("s3", endpoint_url=emulator.endpoint, region_name="us-east-1",
                          aws_access_key_id=FAKE_CREDENTIAL, aws_secret_access_key=FAKE_CREDENTIAL)
        for bucket in (config.backend.bucket, config.backend.standby_bucket):
            assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
            assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
        (rule,) = s3.get_bucket_replication(Bucket=config.backend.bucket)["ReplicationConfiguration"]["Rules"]
        assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{config.backend.standby_bucket}"
        # the second plan is clean: what the APIs return matches what was asked, but for one emulator quirk
        terraform("plan", "-input=false", "-out=second.tfplan")
        changes = [c for c in json.loads(terraform("show", "-json", "second.tfplan").stdout)["resource_changes"]
                   if c["change"]["actions"] != ["no-op"]]
        assert [c["address"] for c in changes] in ([], ["aws_s3_bucket_replication_configuration.state"]), changes
        for change in changes:
            # moto's GetBucketReplication answers DeleteMarkerReplication "Disabled" whatever was put
            # (moto/s3/responses.py get_bucket_replication); S3 returns the rule as configured
            before, after = change["change"]["before"], change["change"]["after"]
            assert before["rule"][0].pop("delete_marker_replication") == [{"status": "Disabled"}]
            assert after["rule"][0].pop("delete_marker_replication") == [{"status": "Enabled"}]
            assert before == after, change
        terraform("destroy", "-input=false", "-auto-approve")
