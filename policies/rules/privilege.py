"""Privilege inside the platform: what a controller's role, a namespace editor, a pod or a Git push can reach.

Every environment of an account shares it, so a right that is too wide in dev reaches prod. Each rule
cites the document it encodes; its failing fixture is prod's output from before the narrowing
(``tests/fixtures/deploy/privilege-before``)."""

from __future__ import annotations

import ipaddress
from typing import Iterator

from policies.model.access import pod_identities, roles_with_policies, trusted_services
from policies.model.output import Output, Ref, actions, as_list
from policies.model.topology import cluster_of_provider, installed_releases, values_at
from modules.tags import LB_DISCOVERY_TAGS
from policies.rules.registry import rule

LBC_ACCOUNT = ("kube-system", "aws-load-balancer-controller")
# what the controller calls to bind pods to existing target groups (v3.5.0, ip targets, vpcId set)
LBC_READS = {"ec2:DescribeSecurityGroups", "ec2:DescribeVpcs",
             "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"}
LBC_WRITES = {"elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"}
POD_IDENTITY = "pods.eks.amazonaws.com"
POD_IDENTITY_TAGS = ("kubernetes-namespace", "kubernetes-service-account")
# service principals whose documentation gives aws:SourceAccount/aws:SourceArn for the role's trust
CONFUSED_DEPUTY_DOCUMENTED = {
    "monitoring.rds.amazonaws.com": "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html",
    "vpc-flow-logs.amazonaws.com": "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html",
    "config.amazonaws.com": "https://docs.aws.amazon.com/config/latest/developerguide/iamrole-permissions.html",
}


@rule(36, "The load balancer controller's role registers targets in its own region's target groups and does "
          "nothing else: no security group, listener, target group, WAF, Shield or load balancer change",
      "https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v3.5.0/docs/deploy/installation.md")
def load_balancer_controller_role(output: Output):
    for stack in sorted(output.stacks):
        role = next((n for n, account in pod_identities(output, stack).items() if account == LBC_ACCOUNT), None)
        if role is None:
            continue
        statements = dict((n, s) for n, _, s in roles_with_policies(output, stack))[role]
        problems = []
        own_groups = {f"aws_lb_target_group.{n}" for n in output.resources(stack, "aws_lb_target_group")}
        for statement in statements:
            if statement.get("Effect") != "Allow":
                continue
            granted = set(actions(statement))
            extra = sorted(granted - LBC_READS - LBC_WRITES)
            if extra:
                problems.append(f"allows {', '.join(extra[:6])}{' ...' if len(extra) > 6 else ''}")
            if granted & LBC_WRITES:
                for resource in as_list(statement.get("Resource")):
                    refs = output.refs(stack, resource)
                    if not refs or any(r.address not in own_groups for r in refs):
                        problems.append(f"changes targets of {resource!r}, not of a target group of {stack}")
        yield stack, f"aws_iam_role.{role}", not problems, "; ".join(problems)


@rule(37, "Nothing in a cluster can make a load balancer: no subnet discovery tags, the controller's Service "
          "controller off, and admission policies refusing LoadBalancer Services, its Ingress class and "
          "TargetGroupBindings outside the ingress namespace",
      "https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/")
def no_undeclared_load_balancers(output: Output):
    for stack, name, subnet in output.every("aws_subnet"):
        tags = sorted(t for t in LB_DISCOVERY_TAGS if t in (subnet.get("tags") or {}))
        if tags:
            yield stack, f"aws_subnet.{name}", False, (
                f"carries {', '.join(tags)}: any LoadBalancer Service or Ingress gets a load balancer here")
    for stack in sorted(output.stacks):
        releases = installed_releases(output, stack)
        controller = releases.get("aws-load-balancer-controller")
        if controller is None:
            continue
        values, problems = controller["values"], []
        gates = values_at(values, ("controllerConfig", "featureGates")) or {}
        if gates.get("EnableServiceController") is not False:
            problems.append("the controller's Service controller is on (featureGates.EnableServiceController)")
        if values.get("createIngressClassResource") is not False:
            problems.append("the chart creates the controller's IngressClass (createIngressClassResource)")
        objects = (releases.get("spofless-cluster") or {}).get("values", {}).get("objects") or []
        policies = {o["metadata"]["name"]: o for o in objects if isinstance(o, dict)
                    and o.get("kind") == "ValidatingAdmissionPolicy"}
        bound = {o["spec"].get("policyName") for o in objects if isinstance(o, dict)
                 and o.get("kind") == "ValidatingAdmissionPolicyBinding"
                 and "Deny" in (o.get("spec", {}).get("validationActions") or [])}
        wanted = {"services": "'LoadBalancer'", "ingresses": "ingressClassName",
                  "targetgroupbindings": "request.namespace"}
        for resource, needle in wanted.items():
            found = [n for n, p in policies.items() if n in bound and p["spec"].get("failurePolicy") == "Fail"
                     and any(resource in r.get("resources", [])
                             for r in values_at(p["spec"], ("matchConstraints",)).get("resourceRules", []))
                     and any(needle in v.get("expression", "") for v in p["spec"].get("validations", []))]
            if not found:
                problems.append(f"no admission policy (bound, Deny, failurePolicy Fail) guards {resource}")
        yield stack, "aws-load-balancer-controller", not problems, "; ".join(problems)


@rule(38, "The secret store serves the GitOps engines' namespaces only, and namespace editors cannot create "
          "ExternalSecrets or SecretStores",
      "https://external-secrets.io/latest/api/clustersecretstore/")
def secret_store_scope(output: Output):
    for stack in sorted(output.stacks):
        releases = installed_releases(output, stack)
        objects = releases.get("spofless-cluster")
        if objects is None or "external-secrets" not in releases:
            continue
        values, problems = objects["values"], []
        readers = {r.get("namespace") for r in values.get("repositories") or []}
        served = set(values.get("secretStoreNamespaces") or [])
        if not served:
            problems.append("the ClusterSecretStore has no conditions: every namespace's ExternalSecrets read "
                            "the Git tokens")
        elif served - readers:
            problems.append(f"the ClusterSecretStore serves {', '.join(sorted(served - readers))}, which hold no "
                            "Git credentials")
        rbac = releases["external-secrets"]["values"].get("rbac") or {}
        for role in ("aggregateToEdit", "aggregateToAdmin"):
            if rbac.get(role) is not False:
                problems.append(f"the operator's chart aggregates its kinds into the built-in roles (rbac.{role})")
        yield stack, "spofless-cluster", not problems, "; ".join(problems)


def _pod_subnets(output: Output, cluster: Ref) -> list:
    conf = output.get(cluster) or {}
    cidrs = []
    for vpc_config in as_list(conf.get("vpc_config")):
        for subnet in as_list(vpc_config.get("subnet_ids")):
            for ref in output.refs(cluster.stack, subnet):
                block = (output.get(ref) or {}).get("cidr_block")
                if ref.type == "aws_subnet" and block:
                    cidrs.append(ipaddress.ip_network(block))
    return cidrs


@rule(39, "No NetworkPolicy or trusted-proxy range admits the cluster's pod addresses from outside a namespace: "
          "with the VPC CNI, pods have VPC addresses",
      "https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html")
def network_policies_exclude_pods(output: Output):
    for stack in sorted(output.stacks):
        cluster = cluster_of_provider(output, stack)
        if cluster is None:
            continue
        pods = _pod_subnets(output, cluster)
        if not pods:
            continue
        problems = []

        def overlapping(cidr: str) -> bool:
            try:
                block = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                return True
            return any(block.overlaps(p) for p in pods)

        for name, policy in sorted(output.resources(stack, "kubernetes_network_policy_v1").items()):
            meta = dict((as_list(policy.get("metadata")) or [{}])[0])
            for ref in output.refs(stack, meta.get("namespace")):  # the namespace resource's own name
                meta["namespace"] = ((as_list((output.get(ref) or {}).get("metadata")) or [{}])[0].get("name")
                                     or meta.get("namespace"))
            for spec in as_list(policy.get("spec")):
                for ingress in as_list(spec.get("ingress")):
                    for source in as_list(ingress.get("from")):
                        for block in as_list(source.get("ip_block")):
                            if overlapping(str(block.get("cidr"))):
                                problems.append(f"{meta.get('namespace')}/{meta.get('name')} admits "
                                                f"{block.get('cidr')}, where pods get their addresses")
        for release, found in sorted(installed_releases(output, stack).items()):
            for port, conf in sorted((found["values"].get("ports") or {}).items()):
                if not isinstance(conf, dict):
                    continue
                for key in ("forwardedHeaders", "proxyProtocol"):
                    trusted = (conf.get(key) or {}).get("trustedIPs") or []
                    if any(overlapping(str(c)) for c in trusted):
                        problems.append(f"{release} entrypoint {port} trusts {key} from pod addresses "
                                        f"({', '.join(map(str, trusted))}): a pod can claim any client address")
        yield stack, f"{cluster.address} of {cluster.stack}", not problems, "; ".join(problems)


@rule(40, "A Git push reaches the workload namespace only: Argo CD applies through a project without "
          "cluster-scoped kinds, Flux applies as a namespaced service account",
      "https://fluxcd.io/flux/installation/configuration/multitenancy/")
def gitops_push_scope(output: Output):
    for stack in sorted(output.stacks):
        releases = installed_releases(output, stack)
        apps = [r for r in releases.values() if r["conf"].get("chart") == "argocd-apps"]
        syncs = [r for r in releases.values() if r["conf"].get("chart") == "flux2-sync"]
        if not apps and not syncs:
            continue
        problems = []
        for release in apps:
            projects = release["values"].get("projects") or {}
            for name, app in sorted((release["values"].get("applications") or {}).items()):
                project = projects.get(app.get("project"))
                if app.get("project") in (None, "default") or project is None:
                    problems.append(f"Application {name} uses project {app.get('project')!r}, which allows every "
                                    "repository, destination and kind")
                    continue
                if project.get("clusterResourceWhitelist"):
                    problems.append(f"project {app.get('project')} allows cluster-scoped kinds")
                if any(d.get("namespace") in ("*", None) or d.get("server") == "*"
                       for d in project.get("destinations") or []):
                    problems.append(f"project {app.get('project')} allows every namespace or cluster")
        flux = next((r for r in releases.values() if r["conf"].get("chart") == "flux2"), None)
        tenancy = (flux or {}).get("values", {}).get("multitenancy") or {}
        if syncs and not tenancy.get("enabled"):
            problems.append("Flux runs without multitenancy: a Kustomization naming no service account applies "
                            "as the controller (cluster-admin)")
        elif syncs and tenancy.get("privileged") is not False:
            problems.append("Flux's controllers keep cluster-admin (multitenancy.privileged is not false)")
        for release in syncs:
            spec = values_at(release["values"], ("kustomization", "spec")) or {}
            if not spec.get("serviceAccountName"):
                problems.append(f"{release['conf'].get('name')} applies as the controller (no serviceAccountName)")
        yield stack, "gitops", not problems, "; ".join(problems)


@rule(41, "A role a service assumes names who may use it: Pod Identity roles their cluster, namespace and "
          "service account; roles of services that document it aws:SourceAccount",
      "https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html")
def service_trust_conditions(output: Output):
    for stack in sorted(output.stacks):
        for name, role, _ in roles_with_policies(output, stack):
            for service, statement in trusted_services(role):
                condition = statement.get("Condition") or {}
                equals = condition.get("StringEquals") or {}
                if service == POD_IDENTITY:
                    missing = [t for t in ("eks-cluster-arn", *POD_IDENTITY_TAGS) if f"aws:RequestTag/{t}" not in equals
                               and not (t == "eks-cluster-arn" and "aws:RequestTag/eks-cluster-name" in equals)]
                    yield stack, f"aws_iam_role.{name}", not missing, (
                        f"trusts {POD_IDENTITY} without aws:RequestTag/{', aws:RequestTag/'.join(missing)}: any Pod "
                        "Identity association in the account (another environment's cluster too) can use it")
                elif service in CONFUSED_DEPUTY_DOCUMENTED:
                    keys = {k.lower() for test in condition.values() if isinstance(test, dict) for k in test}
                    yield stack, f"aws_iam_role.{name}", "aws:sourceaccount" in keys, (
                        f"trusts {service} without aws:SourceAccount (confused deputy; "
                        f"{CONFUSED_DEPUTY_DOCUMENTED[service]})")


@rule(42, "The rotation function reaches the secrets it rotates and no other: its role names them, and Secrets "
          "Manager may invoke it for those secrets only",
      "https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets-required-permissions-function.html")
def rotation_function_scope(output: Output):
    for stack in sorted(output.stacks):
        functions = {}
        for conf in output.resources(stack, "aws_secretsmanager_secret_rotation").values():
            for ref in output.refs(stack, conf.get("rotation_lambda_arn")):
                if ref.type == "aws_lambda_function":
                    functions[ref.name] = output.get(ref) or {}
        roles = {n: s for n, _, s in roles_with_policies(output, stack)}
        for name, function in sorted(functions.items()):
            problems = []
            role = next((r.name for r in output.refs(stack, function.get("role")) if r.type == "aws_iam_role"), None)
            for statement in roles.get(role, []):
                if any(a.startswith("secretsmanager:") and a != "secretsmanager:GetRandomPassword"
                       for a in actions(statement)):
                    wide = [r for r in as_list(statement.get("Resource")) if str(r).endswith("/*") or r == "*"]
                    if wide:
                        problems.append(f"its role reaches {', '.join(map(str, wide))}: every secret there, the "
                                        "database password and the Git tokens included")
            permissions = [p for p in output.resources(stack, "aws_lambda_permission").values()
                           if p.get("principal") == "secretsmanager.amazonaws.com"
                           and any(r.name == name for r in output.refs(stack, p.get("function_name")))]
            if not permissions:
                problems.append("Secrets Manager has no permission to invoke it")
            for permission in permissions:
                if not permission.get("source_arn"):
                    problems.append(f"permission {permission.get('statement_id')} has no source_arn: any secret "
                                    "of the account can be rotated with it")
            if not ((function.get("environment") or {}).get("variables") or {}).get("SECRET_NAMES"):
                problems.append("the function is not told which secrets it may rotate (SECRET_NAMES)")
            yield stack, f"aws_lambda_function.{name}", not problems, "; ".join(problems)


@rule(43, "Aurora PostgreSQL refuses plaintext connections (rds.force_ssl = 1 in the cluster parameter group)",
      "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Security.html")
def aurora_requires_tls(output: Output):
    for stack, name, cluster in output.every("aws_rds_cluster"):
        if not str(cluster.get("engine", "")).startswith("aurora-postgresql"):
            continue
        group = next((output.get(r) for r in output.refs(stack, cluster.get("db_cluster_parameter_group_name"))
                      if r.type == "aws_rds_cluster_parameter_group"), None)
        forced = any(p.get("name") == "rds.force_ssl" and str(p.get("value")) == "1"
                     for p in as_list((group or {}).get("parameter")))
        yield stack, f"aws_rds_cluster.{name}", forced, (
            "its cluster parameter group does not set rds.force_ssl = 1: clients may connect in plaintext")


def _images(values, path: str = "") -> Iterator[tuple[str, dict]]:
    if isinstance(values, dict):
        for key, value in sorted(values.items()):
            where = f"{path}.{key}" if path else str(key)
            if key == "image" and isinstance(value, dict) and ("tag" in value or "digest" in value):
                yield where, value
            else:
                yield from _images(value, where)
    elif isinstance(values, list):
        for index, value in enumerate(values):
            yield from _images(value, f"{path}[{index}]")


@rule(44, "Every image spofless chooses for a chart is pulled by digest: a tag can be moved to other content",
      "https://kubernetes.io/docs/concepts/containers/images/#image-names")
def images_by_digest(output: Output):
    for stack in sorted(output.stacks):
        for release, found in sorted(installed_releases(output, stack).items()):
            for where, image in _images(found["values"]):
                pinned = "@sha256:" in str(image.get("tag", "")) or str(image.get("digest", "")).startswith("sha256:")
                yield stack, f"{release} {where}", pinned, (
                    f"pulls {image.get('repository', 'the chart default repository')}:{image.get('tag')} by tag only")
