"""moto's server, with fixes to the few moto behaviours the rehearsal trips over.

    python -m tooling.emulator -H 127.0.0.1 -p 5000      (the rehearsal starts it)

Each fix makes moto do what the AWS API reference says; none of them changes
what the stacks ask for. :data:`FIXES` is printed in the rehearsal report.
"""

from __future__ import annotations

import json
import sys
import threading
from copy import deepcopy

FIXES: dict[str, str] = {
    "every request (one at a time)":
        "moto's backends are plain dicts that werkzeug's request threads read and change without a lock "
        "(getmoto/moto#372), where AWS applies each call atomically; with Terraform's parallel calls a "
        "delete could race another call; the fix handles one request at a time",
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
    "eks:CreateCluster (upgradePolicy)":
        "moto ignores the request's upgradePolicy and returns none, where EKS returns the support type it "
        "was given (EXTENDED when none is given); the fix keeps and returns it, so the cluster's state "
        "matches its configuration after apply",
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


def _fix_cluster_upgrade_policy() -> None:
    from moto.eks import models, responses

    create_cluster = responses.EKSResponse.create_cluster

    def create(self):
        result = create_cluster(self)
        cluster = self.eks_backend.clusters[self._get_param("name")]
        # https://docs.aws.amazon.com/eks/latest/APIReference/API_UpgradePolicyRequest.html
        cluster.upgrade_policy = {"supportType": (self._get_param("upgradePolicy") or {}).get("supportType",
                                                                                             "EXTENDED")}
        return result

    responses.EKSResponse.create_cluster = create
    models.Cluster.upgrade_policy = None


def _serialize_requests() -> None:
    from moto.moto_server import werkzeug_app

    if getattr(werkzeug_app.DomainDispatcherApplication, "serialized", False):
        return
    call = werkzeug_app.DomainDispatcherApplication.__call__
    lock = threading.Lock()

    def one_at_a_time(self, environ, start_response):
        # moto's apps return the whole body (no streaming), so the lock covers all of the work
        with lock:
            return call(self, environ, start_response)

    werkzeug_app.DomainDispatcherApplication.__call__ = one_at_a_time
    werkzeug_app.DomainDispatcherApplication.serialized = True


def apply_fixes() -> None:
    """Patch moto in this process (idempotent)."""
    if getattr(apply_fixes, "applied", False):
        return
    _serialize_requests()
    _fix_replicate_key()
    _fix_secret_replicas()
    _fix_cluster_security_group()
    _fix_cluster_upgrade_policy()
    apply_fixes.applied = True


def main(argv=None) -> int:
    from moto.server import main as serve

    apply_fixes()
    serve(argv if argv is not None else sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
