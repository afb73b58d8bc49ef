"""The rehearsal's emulator: moto, fixed where it departs from the AWS API reference."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from tooling.terraform import emulator

POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "Replica", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
     "Action": "kms:*", "Resource": "*"}]})


def _client(service: str, region: str = "us-east-1"):
    return boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")


def _subnet() -> str:
    """A subnet in a new VPC (inside mock_aws)."""
    ec2 = _client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]


@pytest.fixture
def kms():
    emulator.apply_fixes()
    with mock_aws():
        yield {r: boto3.client("kms", region_name=r, aws_access_key_id="x", aws_secret_access_key="x")
               for r in ("us-east-1", "us-west-2")}


def test_replicate_key_keeps_primary_and_replica_apart(kms):
    primary = kms["us-east-1"].create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    kms["us-east-1"].create_alias(AliasName="alias/test/eks", TargetKeyId=primary["KeyId"])
    replica = kms["us-east-1"].replicate_key(KeyId=primary["KeyId"], ReplicaRegion="us-west-2", Policy=POLICY,
                                             Description="replica", Tags=[{"TagKey": "Role", "TagValue": "r"}])
    assert replica["ReplicaPolicy"] == POLICY

    seen_primary = kms["us-east-1"].describe_key(KeyId=primary["KeyId"])["KeyMetadata"]
    seen_replica = kms["us-west-2"].describe_key(KeyId=primary["KeyId"])["KeyMetadata"]
    # reading the replica must not turn the primary into one (moto's shared dict did)
    seen_primary = kms["us-east-1"].describe_key(KeyId=primary["KeyId"])["KeyMetadata"]
    assert seen_primary["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    assert seen_replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert seen_replica["MultiRegionConfiguration"]["PrimaryKey"]["Arn"] == seen_primary["Arn"]
    assert [r["Region"] for r in seen_primary["MultiRegionConfiguration"]["ReplicaKeys"]] == ["us-west-2"]
    assert seen_replica["Arn"].startswith("arn:aws:kms:us-west-2:")
    assert seen_replica["Description"] == "replica" and seen_primary["Description"] == "primary"
    assert kms["us-west-2"].get_key_policy(KeyId=primary["KeyId"], PolicyName="default")["Policy"] == POLICY
    assert kms["us-west-2"].list_resource_tags(KeyId=primary["KeyId"])["Tags"] == [{"TagKey": "Role",
                                                                                     "TagValue": "r"}]

    # aliases are per region: the replica region gets its own, and deleting it leaves the primary's
    kms["us-west-2"].create_alias(AliasName="alias/test/eks", TargetKeyId=primary["KeyId"])
    kms["us-west-2"].delete_alias(AliasName="alias/test/eks")
    assert kms["us-east-1"].describe_key(KeyId="alias/test/eks")["KeyMetadata"]["KeyId"] == primary["KeyId"]


def test_every_fix_is_described():
    assert emulator.FIXES and all(len(why) > 40 for why in emulator.FIXES.values())


def test_secret_replica_keeps_the_key_it_was_given():
    emulator.apply_fixes()
    with mock_aws():
        clients = {r: boto3.client("secretsmanager", region_name=r, aws_access_key_id="x", aws_secret_access_key="x")
                   for r in ("us-east-1", "us-west-2")}
        replica_key = "arn:aws:kms:us-west-2:123456789012:key/mrk-1234"
        clients["us-east-1"].create_secret(Name="env/token", KmsKeyId="arn:aws:kms:us-east-1:123456789012:key/mrk-1234",
                                           AddReplicaRegions=[{"Region": "us-west-2", "KmsKeyId": replica_key}])
        primary = clients["us-east-1"].describe_secret(SecretId="env/token")
        assert [(r["Region"], r["KmsKeyId"]) for r in primary["ReplicationStatus"]] == [("us-west-2", replica_key)]
        assert clients["us-west-2"].describe_secret(SecretId="env/token")["KmsKeyId"] == replica_key


def test_cluster_keeps_the_upgrade_policy_it_was_given():
    emulator.apply_fixes()
    with mock_aws():
        subnet = _subnet()
        eks = _client("eks")
        for name, policy in (("standard", {"supportType": "STANDARD"}), ("default", None)):
            eks.create_cluster(name=name, roleArn="arn:aws:iam::123456789012:role/r",
                               resourcesVpcConfig={"subnetIds": [subnet]},
                               **({"upgradePolicy": policy} if policy else {}))
        assert eks.describe_cluster(name="standard")["cluster"]["upgradePolicy"] == {"supportType": "STANDARD"}
        # EKS's own default when the request names none
        assert eks.describe_cluster(name="default")["cluster"]["upgradePolicy"] == {"supportType": "EXTENDED"}


def test_requests_are_handled_one_at_a_time():
    """Terraform calls in parallel; moto's backends are unlocked dicts, so the emulator serializes calls."""
    import threading
    import time

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    emulator.apply_fixes()
    inside, most = [0], [0]
    guard = threading.Lock()

    def backend(environ, start_response):
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.02)
        with guard:
            inside[0] -= 1
        return [b"ok"]

    app = DomainDispatcherApplication.__new__(DomainDispatcherApplication)
    app.get_application = lambda environ: backend
    threads = [threading.Thread(target=app, args=({}, None)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1


def test_a_certificate_reports_the_key_algorithm_it_was_requested_with():
    emulator.apply_fixes()
    with mock_aws():
        acm = _client("acm")
        arn = acm.request_certificate(DomainName="example.com", ValidationMethod="DNS",
                                      KeyAlgorithm="EC_prime256v1")["CertificateArn"]
        assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["KeyAlgorithm"] == "EC_prime256v1"
        plain = acm.request_certificate(DomainName="other.example.com", ValidationMethod="DNS")["CertificateArn"]
        assert acm.describe_certificate(CertificateArn=plain)["Certificate"]["KeyAlgorithm"] == "RSA_2048"


def test_a_cluster_keeps_its_access_config_and_a_node_group_gets_no_ssh_key_it_did_not_ask_for():
    emulator.apply_fixes()
    with mock_aws():
        subnet = _subnet()
        eks = _client("eks")
        eks.create_cluster(name="c", roleArn="arn:aws:iam::123456789012:role/r",
                           resourcesVpcConfig={"subnetIds": [subnet]},
                           accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False})
        assert eks.describe_cluster(name="c")["cluster"]["accessConfig"]["authenticationMode"] == "API"
        eks.create_nodegroup(clusterName="c", nodegroupName="n", subnets=[subnet],
                             nodeRole="arn:aws:iam::123456789012:role/n")
        assert "remoteAccess" not in eks.describe_nodegroup(clusterName="c", nodegroupName="n")["nodegroup"]


def test_deleting_a_nat_gateway_deletes_its_network_interface():
    emulator.apply_fixes()
    with mock_aws():
        ec2, subnet = _client("ec2"), _subnet()
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        gateway = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
        assert ec2.describe_network_interfaces()["NetworkInterfaces"]
        ec2.delete_nat_gateway(NatGatewayId=gateway)
        assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []


def test_a_launch_template_version_keeps_the_tag_specifications_it_was_sent_and_a_node_group_its_update_config():
    emulator.apply_fixes()
    with mock_aws():
        ec2 = _client("ec2")
        ec2.create_launch_template(
            LaunchTemplateName="nodes", TagSpecifications=[{"ResourceType": "launch-template",
                                                        "Tags": [{"Key": "Owner", "Value": "platform"}]}],
            LaunchTemplateData={"TagSpecifications": [{"ResourceType": "instance",
                                                       "Tags": [{"Key": "Owner", "Value": "platform"}]}]})
        data = ec2.describe_launch_template_versions(LaunchTemplateName="nodes")["LaunchTemplateVersions"][0]
        assert [s["ResourceType"] for s in data["LaunchTemplateData"]["TagSpecifications"]] == ["instance"]
        subnet, eks = _subnet(), _client("eks")
        eks.create_cluster(name="c", roleArn="arn:aws:iam::123456789012:role/r", resourcesVpcConfig={"subnetIds": [subnet]})
        eks.create_nodegroup(clusterName="c", nodegroupName="n", subnets=[subnet], nodeRole="arn:aws:iam::123456789012:role/n",
                             updateConfig={"maxUnavailablePercentage": 33})
        assert eks.describe_nodegroup(clusterName="c", nodegroupName="n")["nodegroup"]["updateConfig"] == {
            "maxUnavailablePercentage": 33}


def test_a_retry_of_a_completed_write_gets_the_lost_answer_instead_of_running_again():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    emulator.apply_fixes()
    calls = []

    def backend(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [f"<created n='{len(calls)}'/>".encode()]

    app = DomainDispatcherApplication.__new__(DomainDispatcherApplication)
    app.get_application = lambda environ: backend
    statuses = []

    def request(attempt, invocation="inv-1", method="POST"):
        environ = {"REQUEST_METHOD": method, "PATH_INFO": "/rrset", "HTTP_AMZ_SDK_INVOCATION_ID": invocation,
                   "HTTP_AMZ_SDK_REQUEST": f"attempt={attempt}; max=25"}
        return b"".join(app(environ, lambda status, headers: statuses.append(status)))

    first = request(1)
    assert request(2) == first and calls == ["/rrset"]  # the retry is answered, not carried out again
    assert request(1, invocation="inv-2") != first and len(calls) == 2  # another call runs
    request(2, invocation="inv-3")  # a retry of a call never completed here runs
    request(1, invocation="inv-4", method="GET")
    request(2, invocation="inv-4", method="GET")  # reads always run
    assert len(calls) == 5 and statuses == ["200 OK"] * 6


def test_a_global_cluster_keeps_the_database_name_it_was_created_with():
    emulator.apply_fixes()
    with mock_aws():
        rds = _client("rds")
        rds.create_global_cluster(GlobalClusterIdentifier="named", Engine="aurora-postgresql", EngineVersion="16.6",
                                  DatabaseName="platform", StorageEncrypted=True)
        rds.create_global_cluster(GlobalClusterIdentifier="unnamed", Engine="aurora-postgresql", EngineVersion="16.6")
        found = {g["GlobalClusterIdentifier"]: g.get("DatabaseName")
                 for g in rds.describe_global_clusters()["GlobalClusters"]}
        assert found == {"named": "platform", "unnamed": None}


def test_backup_tags_are_read_back_with_or_without_a_trailing_slash():
    """The Go SDK asks GET /tags/<arn> (no trailing slash); boto3 adds one."""
    emulator.apply_fixes()
    from moto.backup.responses import BackupResponse

    with mock_aws():
        backup = _client("backup")
        arn = backup.create_backup_vault(BackupVaultName="v", BackupVaultTags={"Environment": "prod"})["BackupVaultArn"]
        assert backup.list_tags(ResourceArn=arn)["Tags"] == {"Environment": "prod"}
        class Echo(BackupResponse):  # the backend answers with the ARN it was asked for
            backup_backend = type("Backend", (), {"list_tags": lambda self, resource_arn: {"arn": resource_arn}})()

        for path in (f"/tags/{arn}", f"/tags/{arn}/"):
            response = Echo.__new__(Echo)
            response.path = path
            assert json.loads(response.list_tags())["Tags"] == {"arn": arn}


def test_a_member_in_another_region_leaves_the_global_cluster_when_it_is_removed_or_deleted():
    """moto keeps global clusters in us-east-1's backend; a us-west-2 member was never dropped."""
    emulator.apply_fixes()
    with mock_aws():
        east, west = _client("rds"), _client("rds", "us-west-2")
        east.create_global_cluster(GlobalClusterIdentifier="g", Engine="aurora-postgresql", EngineVersion="16.6")
        east.create_db_cluster(DBClusterIdentifier="p", Engine="aurora-postgresql", EngineVersion="16.6",
                               MasterUsername="u", MasterUserPassword="p" * 12, GlobalClusterIdentifier="g")
        for name in ("s1", "s2"):
            west.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql", EngineVersion="16.6",
                                   GlobalClusterIdentifier="g")

        def members():
            return sorted(m["DBClusterArn"].rsplit(":", 1)[-1]
                          for m in east.describe_global_clusters()["GlobalClusters"][0]["GlobalClusterMembers"])

        assert members() == ["p", "s1", "s2"]
        s1 = west.describe_db_clusters(DBClusterIdentifier="s1")["DBClusters"][0]["DBClusterArn"]
        west.remove_from_global_cluster(GlobalClusterIdentifier="g", DbClusterIdentifier=s1)
        assert members() == ["p", "s2"]
        west.delete_db_cluster(DBClusterIdentifier="s2", SkipFinalSnapshot=True)
        assert members() == ["p"]


def test_updating_one_guardduty_feature_keeps_the_others():
    """GuardDuty's UpdateDetector changes only the features it names (each aws_guardduty_detector_feature
    sends one); plain moto replaced the whole list, so all but the last feature read back as missing."""
    emulator.apply_fixes()
    with mock_aws():
        guardduty = _client("guardduty")
        detector = guardduty.create_detector(Enable=True)["DetectorId"]
        for name in ("S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "S3_DATA_EVENTS"):
            guardduty.update_detector(DetectorId=detector, Features=[{"Name": name, "Status": "ENABLED"}])
        guardduty.update_detector(DetectorId=detector, Features=[{"Name": "EKS_AUDIT_LOGS", "Status": "DISABLED"}])
        features = {f["Name"]: f["Status"] for f in guardduty.get_detector(DetectorId=detector)["Features"]}
        assert features == {"S3_DATA_EVENTS": "ENABLED", "EKS_AUDIT_LOGS": "DISABLED"}


def test_a_trail_is_deleted_by_its_arn_as_by_its_name():
    """The provider deletes a trail by its id, the ARN; plain moto looked the ARN up as a name, found
    nothing and answered success, so the destroyed trail stayed."""
    emulator.apply_fixes()
    with mock_aws():
        _client("s3").create_bucket(Bucket="trail-logs")
        cloudtrail = _client("cloudtrail")
        for name in ("by-arn", "by-name"):
            cloudtrail.create_trail(Name=name, S3BucketName="trail-logs", IsMultiRegionTrail=True)
        arn = cloudtrail.get_trail(Name="by-arn")["Trail"]["TrailARN"]
        cloudtrail.delete_trail(Name=arn)
        cloudtrail.delete_trail(Name="by-name")
        assert cloudtrail.describe_trails(includeShadowTrails=False)["trailList"] == []


def test_the_emulator_inherits_no_aws_credentials_and_serves_no_cross_origin_request():
    from tooling.terraform.emulator import emulator_environment

    env = emulator_environment({"PATH": "/usr/bin", "AWS_ACCESS_KEY_ID": "AKIAREAL", "AWS_SECRET_ACCESS_KEY": "s",
                                "AWS_SESSION_TOKEN": "t", "AWS_PROFILE": "prod-admin",
                                "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token"})
    assert not [k for k in env if k.startswith("AWS_")] and env["PATH"] == "/usr/bin"
    assert env["MOTO_DISABLE_GLOBAL_CORS"] == "true"


def test_stop_signals_only_a_process_that_is_the_emulator(tmp_path, monkeypatch):
    """A recorded pid the system gave to another process since (here: a sleep in its own group) is not signalled."""
    import json
    import os
    import signal
    import subprocess

    from tooling.terraform import local_emulator
    from tooling.terraform.emulator import is_emulator

    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        (tmp_path / "emulator.json").write_text(json.dumps({"pid": other.pid, "endpoint": "http://127.0.0.1:9"}))
        assert not is_emulator(other.pid)
        signalled = []
        monkeypatch.setattr(os, "killpg", lambda pid, sig: signalled.append((pid, sig)))
        assert local_emulator.stop_emulator(tmp_path) is not None
        assert signalled == [] and other.poll() is None
        assert local_emulator.emulator_info(tmp_path) is None  # nor is it taken for a running emulator
    finally:
        os.killpg(other.pid, signal.SIGKILL)
        other.wait()
