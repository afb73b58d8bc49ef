"""Tag keys spofless sets and reads, spelled once."""

KEY_PURPOSE = "KeyPurpose"
"""On a KMS key: its purpose (eks, secrets, logs, storage). On a secret: the purpose of the key that
encrypts it."""

SINGLE_REGION = "spofless:single-region"
"""On the keys and secrets of an environment declared single-region: the declared reason. The SPOF
report, the failure drill and the checkov pack read it to show the exception as declared."""
