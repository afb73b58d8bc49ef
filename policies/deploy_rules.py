"""Deploy rules: what real AWS, EKS and Cloudflare enforce at apply time and no local tool sees.

``terraform validate``, checkov and the emulator (moto) all pass output that a real
account rejects on first apply, or that applies and then fails over to load
balancers with nothing behind them. Each rule here encodes one such fact, cites the
document it comes from, and reads only ``cdktf.out`` (through
:mod:`policies.deploy_model`, which follows references across stacks).
``tests/policies/test_deploy_rules.py`` shows every rule failing on a fixture of
the shape that was wrong and passing on the fixed shape. ``make check`` runs them
after checkov (``python -m tooling.checkov``).

Ids are ``SPOF_DEPLOY_<n>``; a rule yields one result per thing it judged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import yaml

from modules.stacks import names
from policies.deploy_model import Output, Ref, as_list, policy_statements


@dataclass(frozen=True)
class Result:
    rule: str
    stack: str
    subject: str
    passed: bool
    message: str = ""

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.rule} {verdict} on {self.stack}: {self.subject}{': ' + self.message if self.message else ''}"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    source: str
    check: Callable[[Output], Iterator[Result]]


RULES: list[Rule] = []


def rule(number: int, title: str, source: str):
    def register(function):
        rule_id = f"SPOF_DEPLOY_{number}"

        def run(output: Output) -> Iterator[Result]:
            for stack, subject, passed, message in function(output):
                yield Result(rule_id, stack, subject, passed, "" if passed else message)
        # kept in id order, whichever module registered first: reports list the rules by number
        RULES.append(Rule(rule_id, title, source, run))
        RULES.sort(key=lambda r: int(r.id.rsplit("_", 1)[1]))
        return function
    return register


def run_rules(output: Output, only: Optional[set[str]] = None) -> list[Result]:
    results = []
    for item in RULES:
        if only is None or item.id in only:
            results.extend(item.check(output))
    return results


def _principals(statement: dict) -> list[str]:
    principal = statement.get("Principal", {})
    if principal == "*":
        return ["*"]
    values = []
    for key in ("AWS", "Service"):
        values += as_list(principal.get(key)) if isinstance(principal, dict) else []
    return values


def _actions(statement: dict) -> list[str]:
    return as_list(statement.get("Action"))


def _covers(actions: list[str], wanted: str) -> bool:
    return any(a == wanted or a == "*" or a == "kms:*" or (a.endswith("*") and wanted.startswith(a[:-1]))
               for a in actions)


# -- 1: load balancer access logs ------------------------------------------------------------

@rule(1, "Load balancer access logs: the bucket policy grants the LB's prefix, and the LB waits for it",
      "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html")
def lb_access_logs(output: Output):
    for stack, name, lb in output.every("aws_lb"):
        logs = as_list(lb.get("access_logs"))
        logs = logs[0] if logs else {}
        if not logs or logs.get("enabled") is False:
            continue
        prefix = (logs.get("prefix") or "").strip("/")
        bucket = next(iter(output.refs(stack, logs.get("bucket"))), None)
        subject = f"aws_lb.{name}"
        policies = [(pname, policy) for pname, policy in output.resources(stack, "aws_s3_bucket_policy").items()
                    if bucket is not None and any(r.address == bucket.address
                                                  for r in output.refs(stack, policy.get("bucket")))]
        if not policies:
            yield stack, subject, False, "no aws_s3_bucket_policy on its access-log bucket"
            continue
        wanted = f"/{prefix}/AWSLogs/" if prefix else "/AWSLogs/"
        for pname, policy in policies:
            granted = [s for s in policy_statements(policy.get("policy"))
                       if s.get("Effect") == "Allow" and _covers(_actions(s), "s3:PutObject")
                       and any(wanted in r for r in as_list(s.get("Resource")))]
            if not granted:
                yield stack, subject, False, (f"aws_s3_bucket_policy.{pname} grants s3:PutObject on no "
                                              f"'<bucket>{wanted}<account>/*': ELB's test write at create is denied")
            elif f"aws_s3_bucket_policy.{pname}" not in output.depends_on(stack, lb):
                yield stack, subject, False, (f"does not depend_on aws_s3_bucket_policy.{pname}: the LB can be "
                                              "created before the policy exists, and its test write is denied")
            else:
                yield stack, subject, True, ""


# -- 2: Auto Scaling service-linked role on keys for node volumes -----------------------------

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
                              and any(_is_autoscaling_role(output, key.stack, p) for p in _principals(s))]
                use = any(all(_covers(_actions(s), a) for a in ("kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext",
                                                                   "kms:ReEncryptFrom", "kms:Encrypt"))
                          for s in statements)
                grant = any(_covers(_actions(s), "kms:CreateGrant")
                            and str(s.get("Condition", {}).get("Bool", {}).get("kms:GrantIsForAWSResource")).lower()
                            == "true" for s in statements)
                if use and grant:
                    yield stack, subject, True, ""
                else:
                    yield stack, subject, False, (
                        f"{key.address} in {key.stack}: its policy does not let {AUTOSCALING_ROLE} "
                        f"{'use the key' if not use else 'create grants (kms:GrantIsForAWSResource)'}; "
                        "instances terminate at launch and the node group fails")


# -- 4: Route53 aliases to names of the same zone ---------------------------------------------

@rule(4, "A Route53 alias to a name in its own zone depends on the records that create that name",
      "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-values-alias.html")
def alias_order(output: Output):
    for stack in output.stacks:
        records = output.resources(stack, "aws_route53_record")
        by_name: dict[tuple[str, str], set[str]] = {}
        for name, conf in records.items():
            by_name.setdefault((str(conf.get("zone_id")), str(conf.get("name", "")).rstrip(".")), set()).add(name)
        for name, conf in records.items():
            alias = as_list(conf.get("alias"))
            if not alias:
                continue
            alias = alias[0]
            if str(alias.get("zone_id")) != str(conf.get("zone_id")):
                continue
            target = str(alias.get("name", "")).rstrip(".")
            makers = by_name.get((str(conf.get("zone_id")), target), set())
            subject = f"aws_route53_record.{name} -> {target}"
            if not makers:
                yield stack, subject, False, "aliases a name of its own zone that no record of this stack creates"
                continue
            missing = {f"aws_route53_record.{m}" for m in makers} - output.depends_on(stack, conf)
            yield stack, subject, not missing, (
                f"does not depend_on {', '.join(sorted(missing))}: Route53 rejects the alias when its target "
                "does not exist yet (InvalidChangeBatch)")


# -- 13: certificates cover every name served ---------------------------------------------------

def _served_names(output: Output, env: str) -> set[str]:
    """Names that reach the LBs: alias records to load balancers (through the tree) and CNAMEs to them."""
    served: set[str] = set()
    for stack in output.stacks_of(env):
        records = output.resources(stack, "aws_route53_record")
        tree = {str(c.get("name", "")).rstrip(".") for c in records.values() if as_list(c.get("alias"))}
        intermediate = {n for n in tree if ".failover." in f".{n}"}
        served |= tree - intermediate
        cnames = {str(c.get("name", "")).rstrip("."): [str(v).rstrip(".") for v in as_list(c.get("records"))]
                  for c in records.values() if c.get("type") == "CNAME" and "${" not in str(c.get("name"))}
        changed = True
        while changed:
            changed = False
            for cname, targets in cnames.items():
                if cname not in served and any(t in served for t in targets):
                    served.add(cname)
                    changed = True
    return served


def _covered(name: str, patterns: set[str]) -> bool:
    return name in patterns or any(p.startswith("*.") and name.count(".") == p.count(".")
                                   and name.endswith(p[1:]) for p in patterns)


@rule(13, "Every host name the DNS serves through the load balancers is on their TLS certificate",
      "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/https-listener-certificates.html")
def certificates_cover_names(output: Output):
    for env in output.environments:
        certificates = [(s, n, c) for s in output.stacks_of(env) for n, c in output.resources(s, "aws_acm_certificate").items()]
        for name in sorted(_served_names(output, env)):
            for stack, cname, cert in certificates:
                names = {cert.get("domain_name"), *as_list(cert.get("subject_alternative_names"))}
                yield stack, f"aws_acm_certificate.{cname} for {name}", _covered(name, names), (
                    f"does not cover {name}, which DNS sends to the load balancers: clients get a "
                    "certificate name mismatch")


# -- 14: NetworkPolicies are enforced --------------------------------------------------------

def _cluster_of_provider(output: Output, stack: str) -> Optional[Ref]:
    for ptype in ("kubernetes", "helm"):
        for provider in output.providers(stack, ptype):
            host = provider.get("host") or (as_list(provider.get("kubernetes")) or [{}])[0].get("host")
            ref = next(iter(output.refs(stack, host)), None) if host else None
            if ref is not None and ref.type == "aws_eks_cluster":
                return ref
    return None


def _addon(output: Output, cluster: Ref, addon_name: str) -> Optional[dict]:
    for name, conf in output.resources(cluster.stack, "aws_eks_addon").items():
        refs = output.refs(cluster.stack, conf.get("cluster_name"))
        if conf.get("addon_name") == addon_name and any(r.address == cluster.address for r in refs):
            return conf
    return None


@rule(14, "NetworkPolicies in a cluster are enforced: the VPC CNI's network policy agent is on",
      "https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html")
def network_policies_enforced(output: Output):
    for stack in output.stacks:
        policies = [n for t in ("kubernetes_network_policy_v1", "kubernetes_network_policy")
                    for n in output.resources(stack, t)]
        if not policies:
            continue
        cluster = _cluster_of_provider(output, stack)
        if cluster is None:
            yield stack, "network policies", False, "their cluster cannot be found from the kubernetes provider"
            continue
        cni = _addon(output, cluster, "vpc-cni")
        try:
            config = json.loads((cni or {}).get("configuration_values") or "{}")
        except json.JSONDecodeError:
            config = {}
        on = str(config.get("enableNetworkPolicy", "")).lower() == "true"
        yield stack, f"{len(policies)} network policies on {cluster.address} ({cluster.stack})", on, (
            "the vpc-cni add-on does not set enableNetworkPolicy: the policies are accepted and not enforced")


# -- 3: the gitops stacks can reach and authenticate to their cluster --------------------------

CLUSTER_ADMIN = "AmazonEKSClusterAdminPolicy"


def _refers_to(output: Output, stack: str, value, target: Ref, attribute: Optional[str] = None) -> bool:
    return any(r.address == target.address and r.stack == target.stack
               and (attribute is None or r.attribute.startswith(attribute)) for r in output.refs(stack, value))


@rule(3, "A cluster that a stack installs into admits that stack's Terraform: an access entry and a network path",
      "https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html")
def gitops_reaches_cluster(output: Output):
    for stack in output.stacks:
        cluster = _cluster_of_provider(output, stack)
        if cluster is None:
            continue
        conf = output.get(cluster) or {}
        subject = f"{cluster.address} ({cluster.stack}) from {stack}"
        access = (as_list(conf.get("access_config")) or [{}])[0]
        admins = set()
        if access.get("bootstrap_cluster_creator_admin_permissions") is True:
            admins.add("the cluster creator")
        entries = {c.get("principal_arn") for c in output.resources(cluster.stack, "aws_eks_access_entry").values()
                   if _refers_to(output, cluster.stack, c.get("cluster_name"), cluster)}
        for association in output.resources(cluster.stack, "aws_eks_access_policy_association").values():
            if (association.get("principal_arn") in entries and str(association.get("policy_arn", "")).endswith(CLUSTER_ADMIN)
                    and _refers_to(output, cluster.stack, association.get("cluster_name"), cluster)):
                admins.add(association.get("principal_arn"))
        if not admins:
            yield stack, subject, False, ("no access entry with cluster-admin and creator admin off: every call "
                                          "from the gitops stack gets 401 (authentication_mode API)")
            continue
        vpc = (as_list(conf.get("vpc_config")) or [{}])[0]
        cidrs = as_list(vpc.get("public_access_cidrs"))
        public = vpc.get("endpoint_public_access") is True and cidrs and "0.0.0.0/0" not in cidrs
        private = False
        for rtype in ("aws_vpc_security_group_ingress_rule", "aws_security_group_rule"):
            for rule_conf in output.resources(cluster.stack, rtype).values():
                if rtype == "aws_security_group_rule" and rule_conf.get("type") != "ingress":
                    continue
                low, high = rule_conf.get("from_port", -1), rule_conf.get("to_port", -1)
                if (_refers_to(output, cluster.stack, rule_conf.get("security_group_id"), cluster, "vpc_config")
                        and isinstance(low, int) and isinstance(high, int) and low <= 443 <= high):
                    private = True
        yield stack, subject, bool(public or private), (
            "no network path to the API: the public endpoint is off (or open to all) and no ingress rule on "
            "the cluster security group admits 443 to the private endpoint")


# -- 10: the standby region is operable without the primary ------------------------------------

def _region_of_alias(output: Output, env: str, alias: str) -> Optional[str]:
    for provider in output.providers(names.security(env), "aws"):
        if provider.get("alias") == alias:
            return provider.get("region")
    return None


@rule(10, "A standby-region stack keeps and reads state in the standby region",
      "https://developer.hashicorp.com/terraform/language/backend/s3")
def standby_state(output: Output):
    for env in output.environments:
        standby = _region_of_alias(output, env, "standby")
        if standby is None:
            continue
        in_standby = {stack for stack in output.stacks_of(env)
                      if {p.get("region") for p in output.providers(stack, "aws")} == {standby}}
        # a stack that only talks to a standby cluster (the gitops stack) belongs to that region too
        in_standby |= {stack for stack in output.stacks_of(env) if not output.providers(stack, "aws")
                       and (cluster := _cluster_of_provider(output, stack)) is not None and cluster.stack in in_standby}
        for stack in sorted(in_standby):
            terraform = output.stacks[stack].get("terraform", {})
            backend = terraform.get("backend", {})
            if "local" in backend:
                yield stack, "state", True, ""
                continue
            s3 = backend.get("s3", {})
            if s3.get("region") != standby:
                yield stack, "backend", False, (f"state lives in {s3.get('region')}: a primary-region outage "
                                                f"blocks every change to the standby region ({standby})")
                continue
            reads = output.stacks[stack].get("data", {}).get("terraform_remote_state", {})
            elsewhere = sorted(n for n, r in reads.items() if r.get("backend") == "s3"
                               and r.get("config", {}).get("region") != standby)
            yield stack, "backend and remote state", not elsewhere, (
                f"reads {', '.join(elsewhere)} from another region: planning the standby needs the primary region")


# -- helm release values ------------------------------------------------------------------------

def _releases(output: Output, stack: str) -> dict[str, dict]:
    """``{release name: {"conf": resource, "values": merged values}}`` of a stack's helm releases."""
    found = {}
    for conf in output.resources(stack, "helm_release").values():
        values: dict = {}
        for document in as_list(conf.get("values")):
            try:
                loaded = yaml.safe_load(document) if isinstance(document, str) else None
            except yaml.YAMLError:
                loaded = None
            if isinstance(loaded, dict):
                values.update(loaded)
        found[conf.get("name")] = {"conf": conf, "values": values}
    return found


def engines_reconciling(output: Output, stack: str) -> dict[str, bool]:
    """Which GitOps engines reconcile the cluster a stack installs into, from the Helm values."""
    releases = _releases(output, stack)
    argocd = any("automated" in (app.get("syncPolicy") or {})
                 for r in releases.values() if r["conf"].get("chart") == "argocd-apps"
                 for app in (r["values"].get("applications") or {}).values())
    flux = any(not ((r["values"].get("kustomization") or {}).get("spec") or {}).get("suspend", False)
               for r in releases.values() if r["conf"].get("chart") == "flux2-sync")
    return {"argocd": argocd, "flux": flux}


def installers(output: Output) -> dict[str, str]:
    """``{"aws_eks_cluster.<name>@<stack>": stack}`` for every stack that installs charts into a cluster."""
    found = {}
    for stack in output.stacks:
        cluster = _cluster_of_provider(output, stack)
        if cluster is not None and _releases(output, stack):
            found[f"{cluster.address}@{cluster.stack}"] = stack
    return found


def node_groups_of(output: Output, stack: str, cluster_name: str) -> list[dict]:
    """The managed node groups of ``aws_eks_cluster.<cluster_name>`` in ``stack``."""
    return [g for g in output.resources(stack, "aws_eks_node_group").values()
            if any(r.address == f"aws_eks_cluster.{cluster_name}" for r in output.refs(stack, g.get("cluster_name")))]


# -- 8: every cluster runs the workloads, reconciled by exactly one engine ----------------------

@rule(8, "Every cluster, standby included, is reconciled by exactly one GitOps engine (warm standby)",
      "https://docs.aws.amazon.com/whitepapers/latest/disaster-recovery-workloads-on-aws/disaster-recovery-options-in-the-cloud.html")
def warm_standby(output: Output):
    installed = installers(output)
    for env in output.environments:
        for stack in output.stacks_of(env):
            for name in output.resources(stack, "aws_eks_cluster"):
                key = f"aws_eks_cluster.{name}@{stack}"
                gitops = installed.get(key)
                if gitops is None:
                    yield stack, f"aws_eks_cluster.{name}", False, "no stack installs a GitOps engine into it"
                    continue
                state = engines_reconciling(output, gitops)
                count = sum(state.values())
                yield gitops, f"aws_eks_cluster.{name} ({stack})", count == 1, (
                    "no engine reconciles it: its load balancers get traffic on failover and have nothing to "
                    "serve" if count == 0 else "ArgoCD and Flux both reconcile it and fight over every object")


# -- 9: something registers targets in every ip target group ------------------------------------

def target_group_bindings(output: Output) -> dict[str, list[tuple[str, dict]]]:
    """``{"aws_lb_target_group.<name>@<stack>": [(gitops stack, TargetGroupBinding values)]}``."""
    found: dict[str, list[tuple[str, dict]]] = {}
    for stack in output.stacks:
        for release in _releases(output, stack).values():
            for binding in release["values"].get("targetGroups") or []:
                for ref in output.refs(stack, binding.get("targetGroupARN")):
                    found.setdefault(f"{ref.address}@{ref.stack}", []).append((stack, binding))
    return found


@rule(9, "Every ip target group is bound to in-cluster pods spread over the AZs (TargetGroupBinding)",
      "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/targetgroupbinding/targetgroupbinding/")
def targets_registered(output: Output):
    bindings = target_group_bindings(output)
    for stack, name, group in output.every("aws_lb_target_group"):
        if group.get("target_type") != "ip":
            continue
        subject = f"aws_lb_target_group.{name}"
        found = bindings.get(f"aws_lb_target_group.{name}@{stack}", [])
        if not found:
            yield stack, subject, False, ("no TargetGroupBinding registers targets in it: its load balancer "
                                          "answers 503 with nothing healthy behind it")
            continue
        gitops, binding = found[0]
        releases = _releases(output, gitops)
        problems = []
        controller = next((r for r in releases.values()
                           if r["conf"].get("chart") == "aws-load-balancer-controller"), None)
        if controller is None:
            problems.append("no AWS Load Balancer Controller is installed to act on the binding")
        else:
            account = (controller["values"].get("serviceAccount") or {}).get("name")
            namespace = controller["conf"].get("namespace")
            cluster = _cluster_of_provider(output, gitops)
            identities = [c for c in (output.resources(cluster.stack, "aws_eks_pod_identity_association").values()
                                      if cluster else [])
                          if c.get("namespace") == namespace and c.get("service_account") == account]
            if not identities:
                problems.append(f"the controller's service account {namespace}/{account} has no AWS role "
                                "(Pod Identity association): it cannot register targets")
        service = releases.get(binding.get("serviceName"))
        if service is None:
            problems.append(f"the bound service {binding.get('serviceName')!r} comes from no release of {gitops}")
        else:
            values = service["values"]
            spread = [c for c in values.get("topologySpreadConstraints") or []
                      if c.get("topologyKey") == "topology.kubernetes.io/zone"]
            if not spread:
                problems.append("the ingress pods are not spread over the AZs (topologySpreadConstraints)")
            if not (values.get("podDisruptionBudget") or {}).get("enabled"):
                problems.append("the ingress pods have no PodDisruptionBudget")
        yield stack, subject, not problems, "; ".join(problems)


# -- 12: secret values never pass through Terraform ---------------------------------------------

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


# -- 7: a configured rotation can run ------------------------------------------------------------

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


# -- 5: every zone is delegated before certificates are validated in it -------------------------

@rule(5, "A Route53 zone under another zone of the output is delegated by NS records before ACM validates in it",
      "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/CreatingNewSubdomain.html")
def zones_delegated(output: Output):
    zones = {(stack, name): conf for stack, name, conf in output.every("aws_route53_zone")}
    names = {conf.get("name", "").rstrip(".") for conf in zones.values()}
    for (stack, name), conf in zones.items():
        domain = conf.get("name", "").rstrip(".")
        parents = sorted((n for n in names if domain.endswith(f".{n}")), key=len, reverse=True)
        subject = f"aws_route53_zone.{name} ({domain})"
        if not parents:
            declared = (conf.get("tags") or {}).get("spofless:delegation") == "registrar"
            yield stack, subject, declared, "neither delegated by a parent zone nor declared registrar-delegated"
            continue
        delegations = []
        for rname, record in output.resources(stack, "aws_route53_record").items():
            if record.get("type") != "NS" or str(record.get("name", "")).rstrip(".") != domain:
                continue
            target = next(iter(output.refs(stack, record.get("zone_id"))), None)
            target_conf = output.get(target) if target else None
            if target_conf and str(target_conf.get("name", "")).rstrip(".") == parents[0]:
                delegations.append(f"aws_route53_record.{rname}")
        if not delegations:
            yield stack, subject, False, (f"{parents[0]} is its parent zone and holds no NS records for it: nothing "
                                          "resolves, and ACM validation waits for records nobody can see")
            continue
        waiting = [n for n, v in output.resources(stack, "aws_acm_certificate_validation").items()
                   if not set(delegations) & output.depends_on(stack, v)]
        yield stack, subject, not waiting, (
            f"certificate validation {', '.join(waiting)} does not depend_on the delegation: ACM can start "
            "before the parent zone answers")


# -- 6: Cloudflare works on a normal account ------------------------------------------------------

@rule(6, "Cloudflare: no zone for a subdomain (Enterprise only), and pools with a Host override wait for their zone",
      "https://developers.cloudflare.com/dns/zone-setups/subdomain-setup/")
def cloudflare_account(output: Output):
    domains = {c.get("name", "").rstrip(".") for _, _, c in output.every("aws_route53_zone")}
    for stack, name, zone in output.every("cloudflare_zone"):
        zone_name = str(zone.get("name", "")).rstrip(".")
        parent = next((d for d in domains if zone_name.endswith(f".{d}")), None)
        yield stack, f"cloudflare_zone.{name} ({zone_name})", parent is None, (
            f"creates a zone for a subdomain of {parent}: that needs the Enterprise subdomain entitlement; "
            "adopt the parent zone (dns.cloudflare.zone_id/zone_name) instead")
    for stack, name, pool in output.every("cloudflare_load_balancer_pool"):
        hosts = [o for o in as_list(pool.get("origins")) if (o.get("header") or {}).get("host")]
        if not hosts:
            continue
        created = [f"cloudflare_zone.{n}" for n in output.resources(stack, "cloudflare_zone")]
        ok = not created or bool(set(created) & output.depends_on(stack, pool))
        yield stack, f"cloudflare_load_balancer_pool.{name}", ok, (
            "overrides the Host header with a name of a zone this stack creates, without waiting for it: "
            "Cloudflare rejects the pool while the zone does not exist")


# -- 11: both providers answer alike ---------------------------------------------------------------

@rule(11, "DNS parity: each provider lists the other's name servers, and ACM validation records exist at both",
      "https://developers.cloudflare.com/dns/nameservers/nameserver-options/#multi-provider-dns")
def dns_parity(output: Output):
    for env in output.environments:
        cloudflare_stack = names.dns_cloudflare(env)
        if cloudflare_stack not in output.stacks:
            continue
        zone_stack = names.dns_zone(env)
        cf_records = output.resources(cloudflare_stack, "cloudflare_dns_record")
        for zname, zone in output.resources(zone_stack, "aws_route53_zone").items():
            domain = zone.get("name", "").rstrip(".")
            apex = [r for r in output.resources(zone_stack, "aws_route53_record").values()
                    if r.get("type") == "NS" and str(r.get("name")).rstrip(".") == domain
                    and any(ref.address == f"aws_route53_zone.{zname}" for ref in output.refs(zone_stack, r.get("zone_id")))]
            lists_cloudflare = any("cloudflare" in json.dumps(r.get("records")) for r in apex)
            yield zone_stack, f"Route53 apex NS of {domain}", lists_cloudflare, (
                "lists only Route53's own name servers: resolvers that reached Route53 never learn Cloudflare's")
            if apex:  # Route53 creates the apex NS set with the zone: replacing it needs allow_overwrite
                yield zone_stack, f"Route53 apex NS record of {domain}", all(r.get("allow_overwrite") for r in apex), (
                    "does not set allow_overwrite: the create fails because the zone already has its NS set")
            own_zone = any(str(c.get("name")).rstrip(".") == domain and c.get("type") == "NS" for c in cf_records.values())
            settings = output.resources(cloudflare_stack, "cloudflare_zone_dns_settings")
            if settings:  # the Cloudflare zone is the environment's own: its apex must list Route53's servers
                listed = [c for c in cf_records.values() if c.get("type") == "NS" and str(c.get("name")).rstrip(".") == domain
                          and f"cross-stack-reference-input-{zone_stack}" in str(c.get("content"))]
                yield cloudflare_stack, f"Cloudflare apex NS of {domain}", len(listed) >= 2, (
                    "lists only Cloudflare's own name servers: resolvers that reached Cloudflare never learn Route53's")
                waiting = {f"cloudflare_zone_dns_settings.{n}" for n in settings}
                early = [c for c in listed if not waiting & output.depends_on(cloudflare_stack, c)]
                yield cloudflare_stack, f"Cloudflare apex NS records of {domain}", bool(listed) and not early, (
                    "are created without waiting for the multi-provider setting, and Cloudflare refuses apex NS "
                    "records until it is on")
            elif own_zone:
                yield cloudflare_stack, f"NS of {domain}", False, (
                    "delegates the environment's own name away inside the shared Cloudflare zone")
        cf_names = {ref.address for c in cf_records.values() if c.get("type") == "CNAME"
                    for ref in output.refs(cloudflare_stack, c.get("name"))}
        for rname, record in output.resources(zone_stack, "aws_route53_record").items():
            if "domain_validation_options" not in str(record.get("name")):
                continue
            yield zone_stack, f"ACM validation record aws_route53_record.{rname}", \
                f"aws_route53_record.{rname}" in cf_names, (
                    "exists only in Route53: a renewal lookup answered by Cloudflare finds nothing")


# The second pack (issue 15) registers its rules into RULES on import.
from policies import deploy_rules_production  # noqa: E402,F401
from policies import deploy_rules_data  # noqa: E402,F401
from policies import deploy_rules_account  # noqa: E402,F401
