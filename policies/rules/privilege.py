"""Privilege inside the platform: what a controller's role, a namespace editor, a pod or a Git push can reach.

Every environment of an account shares it, so a right that is too wide in dev reaches prod. Each rule
cites the document it encodes; its failing fixture is prod's output from before the narrowing
(``tests/fixtures/deploy/privilege-before``)."""

from __future__ import annotations

import ipaddress
from typing import Iterator, Optional

from policies.model.access import commit_verification, pod_identities, roles_with_policies, trusted_services
from policies.model.output import Output, Ref, actions, as_list
from policies.model.platform import placements
from policies.model.topology import (Entrypoint, cluster_of_provider, gateway_entrypoint, installed_releases,
                                     target_group_bindings, target_groups_of, values_at)
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


def _denying_policies(objects) -> list[tuple[dict, set, list[str]]]:
    """``(spec, resources it matches, its validation expressions)`` of every ValidatingAdmissionPolicy among
    ``objects`` that a binding enforces with Deny."""
    objects = [o for o in objects or [] if isinstance(o, dict)]
    denied = {(o.get("spec") or {}).get("policyName") for o in objects
              if o.get("kind") == "ValidatingAdmissionPolicyBinding"
              and "Deny" in ((o.get("spec") or {}).get("validationActions") or [])}
    found = []
    for policy in objects:
        if policy.get("kind") != "ValidatingAdmissionPolicy" or (policy.get("metadata") or {}).get("name") not in denied:
            continue
        spec = policy.get("spec") or {}
        resources = {r for rule_ in (values_at(spec, ("matchConstraints",)) or {}).get("resourceRules") or []
                     for r in rule_.get("resources") or []}
        found.append((spec, resources, [str(v.get("expression", "")) for v in spec.get("validations") or []]))
    return found


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
        policies = _denying_policies((releases.get("spofless-cluster") or {}).get("values", {}).get("objects"))
        wanted = {"services": "'LoadBalancer'", "ingresses": "ingressClassName",
                  "targetgroupbindings": "request.namespace"}
        for resource, needle in wanted.items():
            found = [spec for spec, resources, expressions in policies if spec.get("failurePolicy") == "Fail"
                     and resource in resources and any(needle in e for e in expressions)]
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


def _namespace_of(output: Output, stack: str, meta: dict) -> str:
    for ref in output.refs(stack, meta.get("namespace")):  # the namespace resource's own name
        return str((as_list((output.get(ref) or {}).get("metadata")) or [{}])[0].get("name") or meta.get("namespace"))
    return str(meta.get("namespace"))


def _admitted_from_outside(output: Output, stack: str) -> dict[str, tuple[bool, Optional[set]]]:
    """``{namespace: (default deny of ingress, ports admitted from outside the namespace or None for all)}``
    from the stack's NetworkPolicies. A source with an ipBlock or a namespaceSelector, or no source at all,
    is outside; a podSelector alone is the namespace's own pods."""
    found: dict[str, tuple[bool, Optional[set]]] = {}
    for policy in output.resources(stack, "kubernetes_network_policy_v1").values():
        meta = (as_list(policy.get("metadata")) or [{}])[0]
        namespace = _namespace_of(output, stack, meta)
        deny, ports = found.get(namespace, (False, set()))
        for spec in as_list(policy.get("spec")):
            rules = as_list(spec.get("ingress"))
            if "Ingress" in (spec.get("policy_types") or []) and not rules and not any(
                    (as_list(spec.get("pod_selector")) or [{}])[0].values()):
                deny = True
            for ingress in rules:
                sources = as_list(ingress.get("from"))
                if sources and not any(s.get("ip_block") or s.get("namespace_selector") for s in sources):
                    continue
                listed = {str(p.get("port")) for p in as_list(ingress.get("ports"))}
                ports = None if ports is None or not listed else ports | listed
        found[namespace] = (deny, ports)
    return found


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
            meta["namespace"] = _namespace_of(output, stack, meta)
            for spec in as_list(policy.get("spec")):
                for ingress in as_list(spec.get("ingress")):
                    for source in as_list(ingress.get("from")):
                        for block in as_list(source.get("ip_block")):
                            if overlapping(str(block.get("cidr"))):
                                problems.append(f"{meta.get('namespace')}/{meta.get('name')} admits "
                                                f"{block.get('cidr')}, where pods get their addresses")
        admission = _admitted_from_outside(output, stack)
        for release, found in sorted(installed_releases(output, stack).items()):
            # trusting pod addresses is safe only on a port that pods of other namespaces cannot reach
            deny, outside = admission.get(str(found["conf"].get("namespace")), (False, None))
            for port, conf in sorted((found["values"].get("ports") or {}).items()):
                if not isinstance(conf, dict):
                    continue
                own_namespace_only = deny and outside is not None and str(conf.get("port")) not in outside
                for key in ("forwardedHeaders", "proxyProtocol"):
                    trusted = (conf.get(key) or {}).get("trustedIPs") or []
                    if (conf.get(key) or {}).get("insecure"):
                        trusted = ["0.0.0.0/0"]
                    if any(overlapping(str(c)) for c in trusted) and not own_namespace_only:
                        problems.append(f"{release} entrypoint {port} trusts {key} from pod addresses "
                                        f"({', '.join(map(str, trusted))}) and pods of other namespaces reach it: "
                                        "a pod can claim any client address")
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
            elif key == "image" and isinstance(value, str):  # a container of a whole object
                reference, at, digest = value.partition("@")
                repository, _, tag = reference.rpartition(":") if ":" in reference.rsplit("/", 1)[-1] else (
                    reference, "", "latest")
                yield where, {"repository": repository, "tag": f"{tag}@{digest}" if at else tag}
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


CRS_IMAGES = ("modsecurity-crs", "coraza")


def _route_services(route: dict) -> list[str]:
    return [str(svc.get("name")) for r in (route.get("spec") or {}).get("routes") or []
            for svc in r.get("services") or []]


def _inspection_problems(output: Output, entry: Entrypoint) -> list[str]:
    objects = [o for o in entry.values.get("extraObjects") or [] if isinstance(o, dict)]
    problems = []
    routes = [o for o in objects if o.get("kind") == "IngressRoute"
              and entry.name in ((o.get("spec") or {}).get("entryPoints") or [])]
    catch_all = [r for r in routes if any(x.get("match") == "PathPrefix(`/`)"
                                          for x in (r.get("spec") or {}).get("routes") or [])]
    services = {str((o.get("metadata") or {}).get("name")): o for o in objects if o.get("kind") == "Service"}
    deployments = [o for o in objects if o.get("kind") == "Deployment"]
    firewalls = set()
    for route in catch_all:
        for name in _route_services(route):
            selector = ((services.get(name) or {}).get("spec") or {}).get("selector") or {}
            for deployment in deployments:
                labels = (((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
                if selector and selector.items() <= (labels or {}).items():
                    firewalls.add((name, id(deployment)))
                    problems += _firewall_problems(entry, deployment)
    if not firewalls:
        problems.append(f"no route sends every request of the entrypoint {entry.name} to a firewall Service "
                        "of the release: WAF cannot be associated with an NLB, so SQL injection and known bad "
                        "inputs reach the workloads")
    bypass = sorted({n for r in routes for n in _route_services(r)} - {n for n, _ in firewalls})
    if bypass:
        problems.append(f"routes on {entry.name} reach {', '.join(bypass)} without the firewall")
    health = ((entry.values.get("ingressRoute") or {}).get("healthcheck") or {})
    if health.get("enabled") and entry.name in (health.get("entryPoints") or []):
        problems.append(f"the health check route is on {entry.name}: the NLB's health checks skip the firewall, "
                        "so a region whose firewall is down still gets the NLB's traffic")
    ports = {k: v for k, v in (entry.values.get("ports") or {}).items() if isinstance(v, dict)}
    if entry.conf.get("asDefault") or not any(v.get("asDefault") for v in ports.values()):
        problems.append(f"{entry.name} is a default entrypoint: workload routes that name none attach to it "
                        "and skip the firewall")
    if not _routes_guarded(output, entry):
        problems.append(f"no admission policy refuses workload routes on {entry.name} outside the namespace "
                        f"{entry.namespace}")
    return problems


def _firewall_problems(entry: Entrypoint, deployment: dict) -> list[str]:
    problems = []
    name = (deployment.get("metadata") or {}).get("name")
    containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    engines = [c for c in containers if any(i in str(c.get("image", "")) for i in CRS_IMAGES)]
    if not engines:
        return [f"the Deployment {name} behind {entry.name} runs no OWASP CRS engine ({', '.join(CRS_IMAGES)})"]
    env = {e.get("name"): str(e.get("value", "")) for c in engines for e in c.get("env") or []}
    if env.get("MODSEC_RULE_ENGINE", "On").lower() != "on":
        problems.append(f"{name}'s rule engine is {env.get('MODSEC_RULE_ENGINE')}, not On: it detects and lets through")
    inspected = {str(v.get("port")) for k, v in (entry.values.get("ports") or {}).items()
                 if isinstance(v, dict) and k != entry.name}
    backend = env.get("BACKEND", "")
    host, _, port = backend.split("://", 1)[-1].rstrip("/").rpartition(":")
    if not host.startswith(f"{entry.release}.{entry.namespace}") or port not in inspected:
        problems.append(f"{name} forwards to {backend or 'nothing'}, not to another entrypoint of the gateway "
                        f"{entry.release}")
    placement = [p for p in placements(entry.release, entry.values) if p.component.endswith(f"Deployment/{name}")]
    if not placement or not placement[0].survives_an_az():
        problems.append(f"{name} does not survive an AZ (two replicas or more, spread over zones with "
                        "DoNotSchedule)")
    return problems


def _routes_guarded(output: Output, entry: Entrypoint) -> bool:
    return any({"ingressroutes", "ingressroutetcps"} <= resources
               and any(f"'{entry.name}'" in e and f"'{entry.namespace}'" in e for e in expressions)
               for found in installed_releases(output, entry.stack).values()
               for _, resources, expressions in _denying_policies(found["values"].get("objects")))


@rule(45, "The NLB's path is inspected by a web application firewall with the OWASP Core Rule Set before any "
          "workload route (WAF cannot be associated with an NLB), and its health checks take that path",
      "https://docs.aws.amazon.com/waf/latest/developerguide/waf-chapter.html")
def nlb_path_inspected(output: Output):
    bindings = target_group_bindings(output)
    for stack, name, lb in output.every("aws_lb"):
        if lb.get("load_balancer_type") != "network":
            continue
        for tg_name in target_groups_of(output, stack, name) or [None]:
            subject = f"aws_lb.{name} -> aws_lb_target_group.{tg_name}"
            if tg_name is None:
                yield stack, f"aws_lb.{name}", False, "forwards to no target group"
                continue
            entry, why = gateway_entrypoint(output, bindings, stack, tg_name)
            problems = [why] if entry is None else _inspection_problems(output, entry)
            yield stack, subject, not problems, "; ".join(problems)


@rule(46, "Where commits must be signed, both GitOps engines require it, with the same keys: a failover to the "
          "other engine never applies an unsigned commit",
      "https://fluxcd.io/flux/components/source/gitrepositories/#verification")
def signed_commits(output: Output):
    for stack in sorted(output.stacks):
        found = commit_verification(output, stack)
        if found is None or not (any(found["argocd"].values()) or any(s for _, s in found["flux"].values())):
            continue  # no engine requires signatures here (reported by make spof-report)
        problems = []
        unsigned = sorted(a for a, keys in found["argocd"].items() if not keys)
        if unsigned:
            problems.append(f"Argo CD applications {', '.join(unsigned)} sync unsigned commits")
        if any(found["argocd"].values()) and not found["argocd_keyring"]:
            problems.append("Argo CD's project requires keys its GnuPG keyring does not hold (configs.gpg.keys): "
                            "nothing would sync")
        flux_keys = set()
        for sync, (mode, secret) in sorted(found["flux"].items()):
            if mode not in ("HEAD", "TagAndHEAD") or not secret:
                problems.append(f"Flux {sync} applies commits without verifying their signature")
            elif secret not in found["flux_keys"]:
                problems.append(f"Flux {sync} verifies with Secret {secret}, which the platform does not create")
            else:
                flux_keys |= found["flux_keys"][secret]
        if found["flux"] and found["argocd"] and flux_keys != found["argocd_keyring"]:
            problems.append(f"the engines trust different keys (Argo CD {sorted(found['argocd_keyring'])}, "
                            f"Flux {sorted(flux_keys)})")
        yield stack, "GitOps commit verification", not problems, "; ".join(problems)
