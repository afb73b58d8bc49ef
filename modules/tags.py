"""Tag and label keys spofless sets and reads, spelled once."""

KEY_PURPOSE = "KeyPurpose"
"""On a KMS key: its purpose (eks, secrets, logs, storage). On a secret: the purpose of the key that
encrypts it."""

CAPACITY_TYPE_LABEL = "eks.amazonaws.com/capacityType"
"""The node label EKS puts on every managed node (ON_DEMAND or SPOT); the platform's pods select
ON_DEMAND with it. https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html#managed-node-group-capacity-types"""

SINGLE_REGION = "spofless:single-region"
"""On the keys and secrets of an environment declared single-region: the declared reason. The SPOF
report, the failure drill and the checkov pack read it to show the exception as declared."""

LB_DISCOVERY_TAGS = ("kubernetes.io/role/elb", "kubernetes.io/role/internal-elb")
"""Subnet tags the AWS load balancer controller (and EKS's cloud provider) look for to place load
balancers no one declared; spofless sets neither (modules/network), and the gate fails a subnet that has one.
https://docs.aws.amazon.com/eks/latest/userguide/network-load-balancing.html"""
