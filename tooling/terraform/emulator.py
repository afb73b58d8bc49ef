"""moto's server, with fixes to the few moto behaviours the rehearsal trips over.

    python -m tooling.terraform.emulator -H 127.0.0.1 -p 5000      (the rehearsal starts it)

Each fix makes moto do what the AWS API reference says; none of them changes
what the stacks ask for. :data:`FIXES` is printed in the rehearsal report.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import OrderedDict
from copy import deepcopy
from pathlib import Path
from typing import Optional

PROJECT = Path(__file__).resolve().parents[2]

FIXES: dict[str, str] = {
    "rds:CreateGlobalCluster (DatabaseName)":
        "moto drops the request's DatabaseName and describes the global cluster without one, so a plan after "
        "apply replaces the global database (database_name forces replacement); the fix keeps and returns it",
    "rds:RemoveFromGlobalCluster, rds:DeleteDBCluster (a member in another region)":
        "moto keeps global clusters in us-east-1's backend but looks them up in the member's own region, so "
        "removing or deleting a member outside us-east-1 leaves it listed; the global cluster then never "
        "empties and its delete is refused until Terraform times out; the fix drops the member wherever it is",
    "rds:SwitchoverGlobalCluster, rds:FailoverGlobalCluster":
        "moto has neither call (Aurora's managed switchover and failover of a global database, which "
        "`spofless failover` makes); the fix makes the named member the writer and every other a reader, "
        "as the API reference describes the result",
    "backup:ListTags (resource ARN)":
        "moto takes the ARN from the second-to-last path segment, which holds only with a trailing slash the "
        "Go SDK does not send, so every vault and plan reads back untagged; the fix takes the ARN after /tags/",
    "every request (one at a time)":
        "moto's backends are plain dicts that werkzeug's request threads read and change without a lock "
        "(getmoto/moto#372), where AWS applies each call atomically; with Terraform's parallel calls a "
        "delete could race another call; the fix handles one request at a time",
    "every retried call (amz-sdk-invocation-id)":
        "on a loaded machine the SDK sometimes loses the answer to a call moto has already carried out and "
        "retries it (same amz-sdk-invocation-id, attempt 2), which moto carries out again: a second "
        "CreateRecord fails 'already exists', a second DeleteListener 'not found'; the fix answers a retry "
        "of a completed write with the answer the client lost, and logs it",
    "kms:ReplicateKey":
        "moto shares one MultiRegionConfiguration between a primary key and its replicas (the primary then "
        "reads as a REPLICA, and deleting one alias drops the other's) and ignores the Policy, Description "
        "and Tags of the request; the fix gives the replica its own copy and applies the three",
    "secretsmanager:CreateSecret (AddReplicaRegions)":
        "moto records every replica as encrypted with aws/secretsmanager, whatever KmsKeyId the request "
        "names for it; the fix keeps the requested key, in the primary's ReplicationStatus and in the replica",
    "eks:CreateCluster (clusterSecurityGroupId)":
        "moto returns resourcesVpcConfig as sent, without the cluster security group EKS creates in the "
        "cluster's VPC; the fix creates that group with the cluster, reports its id and the VPC id, and "
        "deletes it with the cluster",
    "acm:RequestCertificate (KeyAlgorithm)":
        "moto issues every certificate with an RSA_2048 key whatever KeyAlgorithm the request names, so a "
        "plan after apply replaces each EC_prime256v1 certificate; the fix reports the requested algorithm",
    "eks:CreateCluster (accessConfig)":
        "moto drops the request's accessConfig and returns none, so a plan after apply replaces the cluster "
        "(bootstrap_cluster_creator_admin_permissions); the fix keeps it and returns the authentication mode",
    "eks:CreateNodegroup (remoteAccess, updateConfig)":
        "moto gives a node group without remoteAccess a default SSH key (eksKeypair) and drops the request's "
        "updateConfig, so a plan after apply replaces every node group; the fix leaves remoteAccess out, as "
        "EKS does, and keeps updateConfig",
    "ec2:CreateLaunchTemplate (TagSpecifications)":
        "moto copies the launch template's own tags into its version's TagSpecifications as a "
        "'launch-template' entry, which EC2 does not accept there, so a plan after apply makes a new version "
        "(and moves every node group to it); the fix keeps the version's tag specifications as sent",
    "ec2:DeleteNatGateway":
        "moto keeps the network interface it created for a NAT gateway after the gateway is deleted, where "
        "EC2 deletes it with the gateway; the fix deletes it, so the leftovers check sees only real leftovers",
    "guardduty:UpdateDetector (Features)":
        "moto replaces the detector's whole feature list with the request's, where GuardDuty updates only the "
        "features named (aws_guardduty_detector_feature sends one each), so every feature but the last applied "
        "reads back as missing and is created again on every plan; the fix updates the named features only",
    "cloudtrail:DeleteTrail (trail ARN)":
        "moto deletes a trail only by its name and answers success for its ARN, which the provider sends (the "
        "trail's id), so a destroyed trail stays; AWS accepts the name or the ARN; the fix deletes by either",
    "eks:CreateCluster (upgradePolicy)":
        "moto ignores the request's upgradePolicy and returns none, where EKS returns the support type it "
        "was given (EXTENDED when none is given); the fix keeps and returns it, so the cluster's state "
        "matches its configuration after apply",
    "eks:CreateCluster (zonalShiftConfig)":
        "moto ignores the request's zonalShiftConfig and returns none, where EKS returns whether zonal shift "
        "is on; the fix keeps and returns it, so the plan after apply is clean",
}


def _fix_replicate_key() -> None:
    from moto.kms import models, responses

    def replicate_key(self, key_id: str, replica_region: str):
        primary = self.keys[self.get_key_id(key_id)]
        replica = models.Key.__new__(models.Key)
        for name, value in primary.__dict__.items():  # nothing shared: aliases, policy, configuration
            try:
                replica.__dict__[name] = deepcopy(value)
            except TypeError:  # e.g. the crypto backend handle moto keeps; immutable for our use
                replica.__dict__[name] = value
        replica.region = replica_region
        replica.aliases = {}  # aliases are per region; AWS does not replicate them
        replica.arn = primary.arn.replace(f":{self.region_name}:", f":{replica_region}:")
        configuration = deepcopy(primary.multi_region_configuration)
        configuration["ReplicaKeys"] = [r for r in configuration["ReplicaKeys"] if r["Region"] != replica_region]
        configuration["ReplicaKeys"].append({"Arn": replica.arn, "Region": replica_region})
        configuration["MultiRegionKeyType"] = "PRIMARY"
        primary.multi_region_configuration = configuration
        replica.multi_region_configuration = dict(deepcopy(configuration), MultiRegionKeyType="REPLICA")
        models.kms_backends[self.account_id][replica_region].keys[replica.id] = replica
        return replica

    def respond(self) -> str:
        key_id = self._get_param("KeyId")
        self._validate_key_id(key_id)
        replica_region = self._get_param("ReplicaRegion")
        replica = self.kms_backend.replicate_key(key_id, replica_region)
        target = models.kms_backends[self.current_account][replica_region]
        if self._get_param("Policy"):
            replica.policy = self._get_param("Policy")
        if self._get_param("Description") is not None:
            replica.description = self._get_param("Description")
        if self._get_param("Tags"):
            target.tag_resource(replica.id, {t["TagKey"]: t.get("TagValue") for t in self._get_param("Tags")})
        return json.dumps({"ReplicaKeyMetadata": replica.to_dict()["KeyMetadata"], "ReplicaPolicy": replica.policy})

    models.KmsBackend.replicate_key = replicate_key
    responses.KmsResponse.replicate_key = respond


def _fix_secret_replicas() -> None:
    from moto.secretsmanager import models

    create_replicas = models.FakeSecret.create_replicas
    replica_to_dict = models.ReplicaSecret.to_dict
    default_key = models.SecretsManagerBackend.DEFAULT_KMS_KEY_ALIAS

    def create_with_keys(self, replica_regions, force_overwrite):
        replicas = create_replicas(self, replica_regions, force_overwrite)
        for replica, requested in zip(replicas, replica_regions or []):
            if requested.get("KmsKeyId"):
                replica.config["KmsKeyId"] = requested["KmsKeyId"]
        return replicas

    def to_dict(self):
        described = replica_to_dict(self)
        described.pop("KmsKeyId", None)
        if self.config["KmsKeyId"] != default_key:
            described["KmsKeyId"] = self.config["KmsKeyId"]
        return described

    models.FakeSecret.create_replicas = create_with_keys
    models.ReplicaSecret.to_dict = to_dict


def _fix_cluster_security_group() -> None:
    from moto.ec2.models import ec2_backends
    from moto.eks import models

    create_cluster = models.EKSBackend.create_cluster
    delete_cluster = models.EKSBackend.delete_cluster

    def create(self, name, role_arn, resources_vpc_config, *args, **kwargs):
        cluster = create_cluster(self, name, role_arn, resources_vpc_config, *args, **kwargs)
        ec2 = ec2_backends[self.account_id][self.region_name]
        subnets = cluster.resources_vpc_config.get("subnetIds") or []
        if subnets:
            vpc_id = ec2.get_subnet(subnets[0]).vpc_id
            group = ec2.create_security_group(f"eks-cluster-sg-{name}", "EKS created security group",
                                              vpc_id=vpc_id, tags={"aws:eks:cluster-name": name})
            cluster.resources_vpc_config = dict(cluster.resources_vpc_config, vpcId=vpc_id,
                                                clusterSecurityGroupId=group.id)
        return cluster

    def delete(self, name):
        cluster = delete_cluster(self, name)
        group_id = (cluster.resources_vpc_config or {}).get("clusterSecurityGroupId")
        if group_id:
            ec2_backends[self.account_id][self.region_name].delete_security_group(group_id=group_id)
        return cluster

    models.EKSBackend.create_cluster = create
    models.EKSBackend.delete_cluster = delete


def _fix_cluster_request_fields() -> None:
    """The upgradePolicy, accessConfig and zonalShiftConfig a CreateCluster request sends, kept and returned."""
    from moto.eks import models, responses

    create_cluster = responses.EKSResponse.create_cluster

    def create(self):
        result = create_cluster(self)
        cluster = self.eks_backend.clusters[self._get_param("name")]
        # https://docs.aws.amazon.com/eks/latest/APIReference/API_UpgradePolicyRequest.html
        cluster.upgrade_policy = {"supportType": (self._get_param("upgradePolicy") or {}).get("supportType",
                                                                                             "EXTENDED")}
        requested = self._get_param("accessConfig") or {}
        # https://docs.aws.amazon.com/eks/latest/APIReference/API_AccessConfigResponse.html
        cluster.access_config = {"authenticationMode": requested.get("authenticationMode", "CONFIG_MAP"),
                                 **({"bootstrapClusterCreatorAdminPermissions":
                                     requested["bootstrapClusterCreatorAdminPermissions"]}
                                    if "bootstrapClusterCreatorAdminPermissions" in requested else {})}
        # https://docs.aws.amazon.com/eks/latest/APIReference/API_ZonalShiftConfigResponse.html
        cluster.zonal_shift_config = {"enabled": bool((self._get_param("zonalShiftConfig") or {}).get("enabled"))}
        return result

    responses.EKSResponse.create_cluster = create
    models.Cluster.upgrade_policy = None
    models.Cluster.access_config = None
    models.Cluster.zonal_shift_config = None


RETRY_MEMORY_CALLS = 4096  # writes remembered for a retry; bounded, oldest forgotten first
RETRY_MEMORY_BYTES = 1 << 20


def _attempt(environ) -> int:
    """The SDK's attempt number (header ``amz-sdk-request: attempt=2; max=25``); 1 when absent."""
    for part in (environ.get("HTTP_AMZ_SDK_REQUEST") or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "attempt" and value.isdigit():
            return int(value)
    return 1


def _serialize_requests() -> None:
    """Every request one at a time, and a retried write answered from memory (FIXES explains both)."""
    from moto.moto_server import werkzeug_app

    if getattr(werkzeug_app.DomainDispatcherApplication, "serialized", False):
        return
    call = werkzeug_app.DomainDispatcherApplication.__call__
    lock = threading.Lock()
    answered: "OrderedDict[str, tuple[str, list, bytes]]" = OrderedDict()

    def one_at_a_time(self, environ, start_response):
        # moto's apps return the whole body (no streaming), so the lock covers all of the work
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        write = environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD")
        with lock:
            if invocation and write and invocation in answered and _attempt(environ) > 1:
                status, headers, body = answered[invocation]
                print(f"emulator: {environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')} retried "
                      f"(attempt {_attempt(environ)} of invocation {invocation}): answered as before",
                      file=sys.stderr, flush=True)
                start_response(status, headers)
                return [body]
            seen = {}

            def keep(status, headers, exc_info=None):
                seen["status"], seen["headers"] = status, list(headers)
                return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

            body = b"".join(call(self, environ, keep))
            if invocation and write and len(body) < RETRY_MEMORY_BYTES:
                answered[invocation] = (seen["status"], seen["headers"], body)
                while len(answered) > RETRY_MEMORY_CALLS:
                    answered.popitem(last=False)
            return [body]

    werkzeug_app.DomainDispatcherApplication.__call__ = one_at_a_time
    werkzeug_app.DomainDispatcherApplication.serialized = True


def _fix_certificate_key_algorithm() -> None:
    from moto.acm import models, responses

    request = responses.AWSCertificateManagerResponse.request_certificate
    describe = models.CertBundle.describe

    def request_keeping_algorithm(self):
        result = request(self)
        algorithm = self._get_param("KeyAlgorithm")
        if algorithm:
            arn = result.result["CertificateArn"]  # moto 5's ActionResult
            self.acm_backend._certificates[arn].requested_key_algorithm = algorithm  # noqa: SLF001
        return result

    def describe_with_algorithm(self):
        described = describe(self)
        algorithm = getattr(self, "requested_key_algorithm", None)
        if algorithm:
            described["Certificate"]["KeyAlgorithm"] = algorithm
        return described

    responses.AWSCertificateManagerResponse.request_certificate = request_keeping_algorithm
    models.CertBundle.describe = describe_with_algorithm


def _fix_nodegroup_remote_access() -> None:
    from moto.eks import responses

    create_nodegroup = responses.EKSResponse.create_nodegroup

    def create(self):
        result = create_nodegroup(self)
        nodegroup = self.eks_backend.clusters[self._get_param("name")].nodegroups[self._get_param("nodegroupName")]
        if not self._get_param("remoteAccess"):
            nodegroup.remote_access = None
        if self._get_param("updateConfig"):
            nodegroup.update_config = self._get_param("updateConfig")
        return result

    responses.EKSResponse.create_nodegroup = create


def _fix_nat_gateway_interface() -> None:
    from moto.ec2.models import nat_gateways

    delete = nat_gateways.NatGatewayBackend.delete_nat_gateway

    def delete_with_interface(self, nat_gateway_id):
        gateway = delete(self, nat_gateway_id)
        interface = getattr(gateway, "_eni", None)
        if interface is not None:
            self.enis.pop(interface.id, None)
        return gateway

    nat_gateways.NatGatewayBackend.delete_nat_gateway = delete_with_interface


def _fix_launch_template_tags() -> None:
    from moto.ec2.models import launch_templates

    create = launch_templates.LaunchTemplateBackend.create_launch_template

    def create_as_sent(self, name, description, template_data, tag_spec):
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchTemplateTagSpecificationRequest.html
        specs = template_data.get("TagSpecifications")
        if specs:
            template_data = dict(template_data, TagSpecifications=[
                s for s in specs if s.get("ResourceType") != "launch-template"])
        return create(self, name, description, template_data, tag_spec)

    launch_templates.LaunchTemplateBackend.create_launch_template = create_as_sent


def _fix_global_cluster_database_name() -> None:
    from moto.rds import models, responses

    create = responses.RDSResponse.create_global_cluster

    def create_with_name(self):
        result = create(self)
        name = self.params.get("DatabaseName")
        if name:
            cluster = self.global_backend.describe_global_clusters()
            for found in cluster:
                if found.global_cluster_identifier == self.params["GlobalClusterIdentifier"].lower():
                    found.database_name = name
        return result

    models.GlobalCluster.database_name = None  # described as absent unless a request set it
    responses.RDSResponse.create_global_cluster = create_with_name


def _fix_global_cluster_members() -> None:
    from moto.rds import models

    remove = models.RDSBackend.remove_from_global_cluster
    delete = models.RDSBackend.delete_db_cluster

    def forget(backend, arn: str) -> None:
        for regional in models.rds_backends[backend.account_id].values():
            for global_cluster in regional.global_clusters.values():
                global_cluster.members = [m for m in global_cluster.members if m.db_cluster_arn != arn]

    def remove_anywhere(self, global_cluster_identifier, db_cluster_identifier):
        cluster = next(iter(self.describe_db_clusters(db_cluster_identifier=db_cluster_identifier)), None)
        result = remove(self, global_cluster_identifier, db_cluster_identifier)
        if cluster is not None:
            forget(self, cluster.db_cluster_arn)
            cluster.global_cluster_identifier = None
        return result

    def delete_anywhere(self, cluster_identifier, *args, **kwargs):
        cluster = delete(self, cluster_identifier, *args, **kwargs)
        if cluster is not None:
            forget(self, cluster.db_cluster_arn)
        return cluster

    models.RDSBackend.remove_from_global_cluster = remove_anywhere
    models.RDSBackend.delete_db_cluster = delete_anywhere


def _fix_global_cluster_switchover() -> None:
    from moto.core.responses import ActionResult
    from moto.rds import models, responses

    def move_writer(self) -> ActionResult:
        identifier = self.params["GlobalClusterIdentifier"].lower()
        target = self.params["TargetDbClusterIdentifier"]
        for global_cluster in self.global_backend.describe_global_clusters():
            if global_cluster.global_cluster_identifier != identifier:
                continue
            arns = [m.db_cluster_arn for m in global_cluster.members]
            if target not in arns:
                from moto.rds.exceptions import RDSClientError
                raise RDSClientError("InvalidParameterValue", f"{target} is not a member of {identifier}")
            for member in global_cluster.members:
                member.is_writer = member.db_cluster_arn == target
            return ActionResult({"GlobalCluster": global_cluster})
        from moto.rds.exceptions import RDSClientError
        raise RDSClientError("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found")

    responses.RDSResponse.switchover_global_cluster = move_writer
    responses.RDSResponse.failover_global_cluster = move_writer
    del models  # the members' writer flag is what DescribeGlobalClusters reports


def _fix_backup_list_tags() -> None:
    import json as _json
    from urllib.parse import unquote

    from moto.backup import responses

    def list_tags(self) -> str:
        arn = unquote(self.path.split("/tags/", 1)[-1]).rstrip("/")
        return _json.dumps({"Tags": self.backup_backend.list_tags(resource_arn=arn)})

    responses.BackupResponse.list_tags = list_tags


def _fix_guardduty_features() -> None:
    from moto.guardduty import models

    original = models.Detector.update

    def update_named_features(self, enable, finding_publishing_frequency, data_sources, features):
        if features is not None:
            named = {feature.get("name"): feature for feature in features}
            kept = [feature for feature in self.features if feature.get("name") not in named]
            features = kept + list(named.values())
        original(self, enable, finding_publishing_frequency, data_sources, features)

    models.Detector.update = update_named_features


def _fix_trail_delete_by_arn() -> None:
    from moto.cloudtrail import models

    def delete_trail(self, name: str) -> None:
        found = next((key for key, trail in self.trails.items() if name in (key, trail.arn)), None)
        if found is not None:
            del self.trails[found]

    models.CloudTrailBackend.delete_trail = delete_trail


def apply_fixes() -> None:
    """Patch moto in this process (idempotent)."""
    if getattr(apply_fixes, "applied", False):
        return
    _serialize_requests()
    _fix_replicate_key()
    _fix_secret_replicas()
    _fix_cluster_security_group()
    _fix_cluster_request_fields()
    _fix_certificate_key_algorithm()
    _fix_nodegroup_remote_access()
    _fix_nat_gateway_interface()
    _fix_launch_template_tags()
    _fix_global_cluster_database_name()
    _fix_backup_list_tags()
    _fix_global_cluster_members()
    _fix_global_cluster_switchover()
    _fix_guardduty_features()
    _fix_trail_delete_by_arn()
    apply_fixes.applied = True


def main(argv=None) -> int:
    from moto.server import main as serve

    apply_fixes()
    serve(argv if argv is not None else sys.argv[1:])
    return 0


# -- the emulator server: moto on loopback, with the fixes above ---------------------------------

# Every AWS service the stacks call, pointed at the emulator. A service missing here
# would be called on real AWS with fake credentials and fail loudly, never silently.
SERVICES = ("accessanalyzer", "acm", "amp", "backup", "cloudtrail", "cloudwatch", "cloudwatchlogs", "configservice", "ec2",
            "ecr", "eks", "elasticache", "elbv2", "events", "guardduty", "iam", "kms", "lambda", "rds", "route53", "s3",
            "s3control", "secretsmanager", "securityhub", "servicequotas", "sns", "sts", "wafv2")


FAKE_CREDENTIAL = "rehearsal"


EMULATOR_LIFETIME = 3600  # seconds; the emulator is killed after this even if we are not


class RehearsalError(Exception):
    """The rehearsal cannot go on; the message says where and why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


EMULATOR_MODULE = "tooling.terraform.emulator"


def emulator_environment(environ) -> dict[str, str]:
    """The emulator's environment: the caller's without any ``AWS_*`` variable (real credentials, a profile,
    a web identity) and with moto's global CORS off, so a web page the user opens cannot call it."""
    env = {k: v for k, v in environ.items() if not k.startswith("AWS_")}
    env["MOTO_DISABLE_GLOBAL_CORS"] = "true"
    return env


def is_emulator(pid: int) -> bool:
    """True when ``pid`` is an emulator this project started (its command line names the module), so a
    recorded pid that the system has since given to another process is never signalled."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return EMULATOR_MODULE.encode() in command


class Emulator:
    """moto's server on 127.0.0.1, stopped on exit, on a signal, or when its lifetime runs out."""

    def __init__(self, *, lifetime: float = EMULATOR_LIFETIME, log: Optional[Path] = None,
                 account_id: Optional[str] = None):
        self.port = free_port()
        self.account_id = account_id
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.lifetime = lifetime
        self.log = log
        self._process: Optional[subprocess.Popen] = None
        self._timer: Optional[threading.Timer] = None

    def __enter__(self) -> "Emulator":
        env = emulator_environment(os.environ)
        env["MOTO_ACM_VALIDATION_WAIT"] = "0"  # certificates are issued as soon as they are read
        env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # AmazonEKSClusterPolicy & co. exist, as in AWS
        if self.account_id:
            # the environment's account, so the providers' allowed_account_ids check passes as in AWS
            env["MOTO_ACCOUNT_ID"] = self.account_id
        command = [sys.executable, "-m", "tooling.terraform.emulator", "-H", "127.0.0.1", "-p", str(self.port)]
        if shutil.which("timeout"):
            # bounded even if this process is killed outright and never gets to stop() it
            command = ["timeout", "--kill-after=10", str(int(self.lifetime)), *command]
        else:  # no coreutils timeout: bounded as long as this process lives
            self._timer = threading.Timer(self.lifetime, self.stop)
            self._timer.daemon = True
            self._timer.start()
        out = open(self.log, "w") if self.log else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=PROJECT,
                                             start_new_session=True)
        finally:
            if self.log:
                out.close()  # the emulator has its own copy of the file
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RehearsalError(f"the emulator (moto) exited at start (code {self._process.returncode}); "
                                     f"see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RehearsalError(f"the emulator (moto) did not answer on {self.endpoint} within 30 s")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        process = self._process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __exit__(self, *exc) -> None:
        self.stop()


def seed_parent_zone(endpoint: str, domain: str) -> None:
    """Create the parent zone a child environment delegates from, as the parent environment would."""
    import boto3

    client = boto3.client("route53", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=FAKE_CREDENTIAL, aws_secret_access_key=FAKE_CREDENTIAL)
    client.create_hosted_zone(Name=domain, CallerReference=f"rehearsal-parent-{domain}")

if __name__ == "__main__":
    sys.exit(main())
