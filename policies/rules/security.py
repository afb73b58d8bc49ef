"""Security: keys usable by the service roles that encrypt with them, rotation that can run, no secret value in state.

One rule, one place: each cites the document it encodes; its failing and passing fixtures are named
in the registry (:mod:`policies.rules.registry`)."""

from __future__ import annotations



from policies.model.output import Output, actions, as_list, covers, policy_statements, principals
from policies.rules.registry import rule


AUTOSCALING_ROLE = "AWSServiceRoleForAutoScaling"


def _is_autoscaling_role(output: Output, stack: str, principal: str) -> bool:
    if AUTOSCALING_ROLE in principal:
        return True
    for ref in output.refs(stack, principal):
        conf = output.get(ref) or {}
        if ref.type == "aws_iam_service_linked_role" and conf.get("aws_service_name") == "autoscaling.amazonaws.com":
            return True
        if ref.type == "aws_iam_role" and ref.data and conf.get("name") == AUTOSCALING_ROLE:
            return True
    return False


@rule(2, "A KMS key that encrypts node volumes lets the Auto Scaling service-linked role use it",
      "https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html")
def node_volume_key(output: Output):
    for stack, name, template in output.every("aws_launch_template"):
        for mapping in as_list(template.get("block_device_mappings")):
            for ebs in as_list(mapping.get("ebs")):
                key_expr = ebs.get("kms_key_id")
                if not key_expr:
                    continue
                subject = f"aws_launch_template.{name} ({mapping.get('device_name')})"
                key = next(iter(output.refs(stack, key_expr)), None)
                conf = output.get(key) if key else None
                if conf is None or key.type not in ("aws_kms_key", "aws_kms_replica_key"):
                    yield stack, subject, False, f"its kms_key_id {key_expr!r} leads to no key in the output"
                    continue
                statements = [s for s in policy_statements(conf.get("policy")) if s.get("Effect") == "Allow"
                              and any(_is_autoscaling_role(output, key.stack, p) for p in principals(s))]
                use = any(all(covers(actions(s), a) for a in ("kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext",
                                                                   "kms:ReEncryptFrom", "kms:Encrypt"))
                          for s in statements)
                grant = any(covers(actions(s), "kms:CreateGrant")
                            and str(s.get("Condition", {}).get("Bool", {}).get("kms:GrantIsForAWSResource")).lower()
                            == "true" for s in statements)
                if use and grant:
                    yield stack, subject, True, ""
                else:
                    yield stack, subject, False, (
                        f"{key.address} in {key.stack}: its policy does not let {AUTOSCALING_ROLE} "
                        f"{'use the key' if not use else 'create grants (kms:GrantIsForAWSResource)'}; "
                        "instances terminate at launch and the node group fails")


@rule(12, "No Secrets Manager value passes through Terraform (state would keep it, and it never refreshes)",
      "https://developer.hashicorp.com/terraform/language/state/sensitive-data")
def no_secret_values_in_state(output: Output):
    for stack in output.stacks:
        leaks = [f"data.aws_secretsmanager_secret_version.{n}"
                 for n in output.resources(stack, "aws_secretsmanager_secret_version", data=True)]
        leaks += [f"aws_secretsmanager_secret_version.{n}"
                  for n, c in output.resources(stack, "aws_secretsmanager_secret_version").items()
                  if c.get("secret_string") or c.get("secret_binary")]
        yield stack, "secret values", not leaks, (
            f"{', '.join(sorted(leaks))}: the value lands in Terraform state; sync it inside the cluster "
            "(External Secrets Operator) instead")


@rule(7, "A secret's rotation has a function in the output that Secrets Manager may invoke, and only "
         "secrets AWS can mint rotate", "https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets.html")
def rotation_runs(output: Output):
    for stack, name, rotation in output.every("aws_secretsmanager_secret_rotation"):
        subject = f"aws_secretsmanager_secret_rotation.{name}"
        secret = next((output.get(r) for r in output.refs(stack, rotation.get("secret_id"))
                       if r.type == "aws_secretsmanager_secret"), None) or {}
        if (secret.get("tags") or {}).get("Value") == "external":
            yield stack, subject, False, ("rotates a secret whose value is set outside AWS (a Git token): no "
                                          "function can mint it, and AWS runs the rotation at once")
            continue
        function = next((r for r in output.refs(stack, rotation.get("rotation_lambda_arn"))
                         if r.type == "aws_lambda_function" and not r.data), None)
        if function is None:
            yield stack, subject, False, ("its function is not created by the output; Secrets Manager invokes it "
                                          "when the rotation is applied and the apply fails if it is missing")
            continue
        permissions = [f"aws_lambda_permission.{n}" for n, p in output.resources(function.stack, "aws_lambda_permission").items()
                       if p.get("principal") == "secretsmanager.amazonaws.com"
                       and any(r.address == function.address for r in output.refs(function.stack, p.get("function_name")))]
        if not permissions:
            yield stack, subject, False, "Secrets Manager is not allowed to invoke its function (aws_lambda_permission)"
        elif function.stack == stack and not set(permissions) & output.depends_on(stack, rotation):
            yield stack, subject, False, f"does not depend_on {permissions[0]}: the first rotation can run before it"
        else:
            yield stack, subject, True, ""
