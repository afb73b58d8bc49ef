"""Deploy rules, second pack: what a production account rejects or regrets (issue 15).

Registered into :data:`policies.deploy_rules.RULES` on import (``deploy_rules``
imports this module last); same protocol as the first pack: each rule reads only
``cdktf.out`` through :class:`policies.deploy_model.Output`, cites its document,
and yields ``(stack, subject, passed, message)``.
"""

from __future__ import annotations

import json
import re
from typing import Optional

from modules.stacks import names
from modules.tags import CAPACITY_TYPE_LABEL
from policies.deploy_model import Output, Ref, as_list, policy_statements
from policies.deploy_rules import (_addon, _releases, installers, node_groups_of, rule,
                                   target_group_bindings)

# -- 17: WAF logs keep no credentials and only what WAF acted on ------------------------------

CREDENTIAL_HEADERS = ("authorization", "cookie")


@rule(17, "WAF logs redact the credential headers and keep only the requests WAF acted on",
      "https://docs.aws.amazon.com/waf/latest/developerguide/logging-management.html")
def waf_logging(output: Output):
    for stack, name, conf in output.every("aws_wafv2_web_acl_logging_configuration"):
        redacted = {str(header.get("name", "")).lower()
                    for field in as_list(conf.get("redacted_fields"))
                    for header in as_list(field.get("single_header"))}
        missing = [h for h in CREDENTIAL_HEADERS if h not in redacted]
        subject = f"aws_wafv2_web_acl_logging_configuration.{name}"
        yield stack, f"{subject} redacted_fields", not missing, (
            f"does not redact the {', '.join(missing)} header(s): credentials and session cookies land in the "
            "log group for its whole retention")
        filters = as_list(conf.get("logging_filter"))
        dropping = any(f.get("default_behavior") == "DROP" and as_list(f.get("filter")) for f in filters)
        yield stack, f"{subject} logging_filter", dropping, (
            "has no logging_filter that drops by default: every allowed request is logged (and paid for) as well")


# -- 18: each AZ's nodes work without that AZ's NAT gateway --------------------------------------

NODE_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "sts", "eks-auth", "ec2", "logs")


def _subnets(output: Output, stack: str, value) -> list[tuple[Ref, dict]]:
    return [(ref, output.get(ref) or {}) for ref in output.refs(stack, value) if ref.type == "aws_subnet"]


def _same(a: Ref, b: Ref) -> bool:
    return a.address == b.address and a.stack == b.stack


def _ingress_443(output: Output, stack: str, group: Ref) -> bool:
    for conf in output.resources(stack, "aws_vpc_security_group_ingress_rule").values():
        if any(_same(r, group) for r in output.refs(stack, conf.get("security_group_id"))) \
                and conf.get("ip_protocol") in ("tcp", "-1") \
                and (conf.get("ip_protocol") == "-1" or int(conf.get("from_port", 0)) <= 443 <= int(conf.get("to_port", 0))):
            return True
    group_conf = output.get(group) or {}
    return any(int(i.get("from_port", 0)) <= 443 <= int(i.get("to_port", 0)) for i in as_list(group_conf.get("ingress")))


@rule(18, "Nodes reach ECR, S3, STS, EKS Pod Identity, EC2 and Logs through VPC endpoints in their own AZ",
      "https://docs.aws.amazon.com/eks/latest/userguide/private-clusters.html")
def node_endpoints(output: Output):
    judged: set[str] = set()
    for stack, name, group in output.every("aws_eks_node_group"):
        subnets = _subnets(output, stack, group.get("subnet_ids"))
        vpcs = {r.address: r for _, conf in subnets for r in output.refs(stack, conf.get("vpc_id"))
                if r.type == "aws_vpc"}
        for vpc in vpcs.values():
            key = f"{vpc.address}@{vpc.stack}"
            if key in judged:
                continue
            judged.add(key)
            subject = f"{vpc.address} (nodes of aws_eks_node_group.{name})"
            problems = []
            vpc_conf = output.get(vpc) or {}
            if not (vpc_conf.get("enable_dns_support", True) and vpc_conf.get("enable_dns_hostnames")):
                problems.append("the VPC has DNS support or hostnames off, so endpoint private DNS cannot work")
            endpoints = [(n, c) for n, c in output.resources(vpc.stack, "aws_vpc_endpoint").items()
                         if any(_same(r, vpc) for r in output.refs(vpc.stack, c.get("vpc_id")))]
            # S3: a gateway endpoint on the route table of every node subnet
            tables = {}
            for subnet, _ in subnets:
                for assoc in output.resources(vpc.stack, "aws_route_table_association").values():
                    if any(_same(r, subnet) for r in output.refs(vpc.stack, assoc.get("subnet_id"))):
                        for table in output.refs(vpc.stack, assoc.get("route_table_id")):
                            tables[table.address] = subnet.address
            gateway = [c for _, c in endpoints if str(c.get("service_name", "")).endswith(".s3")
                       and c.get("vpc_endpoint_type") == "Gateway"]
            on_tables = {r.address for c in gateway for r in output.refs(vpc.stack, c.get("route_table_ids"))}
            uncovered = sorted(set(tables) - on_tables)
            if not gateway:
                problems.append("no S3 gateway endpoint (ECR image layers are served from S3)")
            elif uncovered:
                problems.append(f"the S3 gateway endpoint is not on {', '.join(uncovered)}")
            zones = {conf.get("availability_zone") for _, conf in subnets}
            for service in NODE_ENDPOINT_SERVICES:
                found = [c for _, c in endpoints if str(c.get("service_name", "")).endswith(f".{service}")
                         and c.get("vpc_endpoint_type") == "Interface"]
                if not found:
                    problems.append(f"no {service} interface endpoint")
                    continue
                conf = found[0]
                in_zones = {s.get("availability_zone") for _, s in _subnets(output, vpc.stack, conf.get("subnet_ids"))}
                if zones - in_zones:
                    problems.append(f"the {service} endpoint has no subnet in {', '.join(sorted(zones - in_zones))}")
                if not conf.get("private_dns_enabled"):
                    problems.append(f"the {service} endpoint has private DNS off: SDKs keep using the NAT path")
                groups = output.refs(vpc.stack, conf.get("security_group_ids"))
                if not any(_ingress_443(output, vpc.stack, g) for g in groups):
                    problems.append(f"the {service} endpoint's security groups admit no HTTPS")
            yield vpc.stack, subject, not problems, "; ".join(problems)


# -- 22: what a node's launch template starts carries the environment's tags ----------------------

LAUNCHED = ("instance", "volume", "network-interface")


def _default_tags(output: Output, stack: str, conf: dict) -> dict[str, str]:
    provider = output.provider_of(stack, conf) or {}
    return {k: v for block in as_list(provider.get("default_tags")) for k, v in (block.get("tags") or {}).items()}


@rule(22, "Instances, volumes and network interfaces a launch template starts carry the environment's tags",
      "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchTemplateTagSpecificationRequest.html")
def launch_template_tags(output: Output):
    for stack, name, template in output.every("aws_launch_template"):
        wanted = _default_tags(output, stack, template)
        specs = {s.get("resource_type"): s.get("tags") or {} for s in as_list(template.get("tag_specifications"))}
        for kind in LAUNCHED:
            tags = specs.get(kind)
            missing = sorted(set(wanted) - set(tags or {}))
            yield stack, f"aws_launch_template.{name} ({kind})", tags is not None and not missing, (
                f"no tag_specifications for {kind}: provider default_tags do not reach what the template launches"
                if tags is None else f"its {kind} tags miss {', '.join(missing)} (provider default_tags)")


# -- 23: a Terraform version floor and an account guard ---------------------------------------------

LOCKFILE_FLOOR = (1, 11)


def _floor(constraint: str) -> Optional[tuple[int, int]]:
    match = re.search(r">=\s*(\d+)\.(\d+)", constraint or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


@rule(23, "Every stack states the Terraform it needs, and every AWS provider is limited to the environment's account",
      "https://developer.hashicorp.com/terraform/language/backend/s3#state-locking")
def version_and_account(output: Output):
    owners = [(env, output.stacks_of(env), names.security(env)) for env in output.environments]
    owners += [(f"account {account}", stacks, stacks[0]) for account in output.accounts
               if (stacks := output.account_stacks(account))]
    for env, stacks, anchor in owners:
        accounts: set[str] = set()
        for stack in stacks:
            terraform = output.stacks[stack].get("terraform", {})
            s3 = (terraform.get("backend") or {}).get("s3") or {}
            floor = _floor(str(terraform.get("required_version", "")))
            needed = LOCKFILE_FLOOR if s3.get("use_lockfile") else (1, 0)
            yield stack, "terraform.required_version", floor is not None and floor >= needed, (
                "has no required_version floor" if floor is None else
                f"allows Terraform {floor[0]}.{floor[1]}, but use_lockfile (S3-native locking) is generally "
                f"available from {needed[0]}.{needed[1]}")
            for provider in output.providers(stack, "aws"):
                allowed = [str(a) for a in as_list(provider.get("allowed_account_ids"))]
                accounts.update(allowed)
                label = f"provider aws{'.' + provider['alias'] if provider.get('alias') else ''}"
                yield stack, label, bool(allowed), (
                    "has no allowed_account_ids: credentials for any account are used as they come")
        if len(accounts) > 1:
            yield anchor, f"environment {env}", False, (
                f"its stacks are limited to different accounts ({', '.join(sorted(accounts))})")


# -- 24: a versioned bucket's lifecycle also removes what expiry leaves behind ----------------------

@rule(24, "A versioned bucket that expires objects also expires noncurrent versions and removes expired delete markers",
      "https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configuration-examples.html")
def delete_markers(output: Output):
    for stack, name, lifecycle in output.every("aws_s3_bucket_lifecycle_configuration"):
        buckets = {r.address for r in output.refs(stack, lifecycle.get("bucket"))}
        versioned = any(
            {r.address for r in output.refs(stack, v.get("bucket"))} & buckets
            and any(c.get("status") == "Enabled" for c in as_list(v.get("versioning_configuration")))
            for v in output.resources(stack, "aws_s3_bucket_versioning").values())
        rules = [r for r in as_list(lifecycle.get("rule")) if r.get("status") == "Enabled"]
        expires = any(e.get("days") or e.get("date") for r in rules for e in as_list(r.get("expiration")))
        if not (versioned and expires):
            continue
        markers = any(e.get("expired_object_delete_marker") for r in rules for e in as_list(r.get("expiration")))
        noncurrent = any(as_list(r.get("noncurrent_version_expiration")) for r in rules)
        problems = ([] if markers else ["no rule removes expired delete markers (they pile up forever)"]) + \
                   ([] if noncurrent else ["noncurrent versions never expire (expiry only hides the data)"])
        yield stack, f"aws_s3_bucket_lifecycle_configuration.{name}", not problems, "; ".join(problems)


# -- shared: which in-cluster entrypoint a target group's traffic reaches --------------------------

def _middlewares(values: dict) -> dict[str, dict]:
    """``{"<namespace>-<name>@kubernetescrd": spec}`` of the Middlewares a chart's extraObjects create."""
    found = {}
    for item in values.get("extraObjects") or []:
        if isinstance(item, dict) and item.get("kind") == "Middleware":
            meta = item.get("metadata") or {}
            found[f"{meta.get('namespace')}-{meta.get('name')}@kubernetescrd"] = item.get("spec") or {}
    return found


def _entrypoint(output: Output, bindings, stack: str, tg_name: str) -> tuple[Optional[dict], list[dict], str]:
    """The gateway port entry a target group's traffic reaches, the specs of its middlewares, or why not."""
    found = bindings.get(f"aws_lb_target_group.{tg_name}@{stack}")
    if not found:
        return None, [], "no TargetGroupBinding sends its traffic into a cluster"
    gitops, binding = found[0]
    release = _releases(output, gitops).get(binding.get("serviceName"))
    if release is None:
        return None, [], f"the bound service {binding.get('serviceName')!r} comes from no release of {gitops}"
    values = release["values"]
    port = binding.get("servicePort")
    entries = [e for e in (values.get("ports") or {}).values()
               if isinstance(e, dict) and port in (e.get("exposedPort"), e.get("port"))]
    if not entries:
        return None, [], f"the gateway release {binding.get('serviceName')!r} has no entrypoint on port {port}"
    entry = entries[0]
    known = _middlewares(values)
    specs = [known.get(ref, {"missing": ref}) for ref in ((entry.get("http") or {}).get("middlewares") or [])]
    return entry, specs, ""


def _lbs_behind(output: Output, stack: str, acl_name: str) -> list[tuple[str, dict]]:
    """The load balancers a web ACL is associated with."""
    found = []
    for association in output.resources(stack, "aws_wafv2_web_acl_association").values():
        if any(r.address == f"aws_wafv2_web_acl.{acl_name}" for r in output.refs(stack, association.get("web_acl_arn"))):
            found += [(r.name, output.get(r) or {}) for r in output.refs(stack, association.get("resource_arn"))
                      if r.type == "aws_lb"]
    return found


def _target_groups_of(output: Output, stack: str, lb_name: str) -> list[str]:
    names = []
    for listener in output.resources(stack, "aws_lb_listener").values():
        if any(r.address == f"aws_lb.{lb_name}" for r in output.refs(stack, listener.get("load_balancer_arn"))):
            for action in as_list(listener.get("default_action")):
                names += [r.name for r in output.refs(stack, action.get("target_group_arn"))
                          if r.type == "aws_lb_target_group"]
    return names


# -- 16: every path in is filtered ---------------------------------------------------------------

@rule(16, "Every path in is filtered: WAF on each ALB; on the NLB (no WAF), proxy protocol v2 into a rate-limited "
          "entrypoint",
      "https://docs.aws.amazon.com/waf/latest/developerguide/waf-chapter.html")
def every_path_filtered(output: Output):
    bindings = target_group_bindings(output)
    for stack, name, lb in output.every("aws_lb"):
        subject = f"aws_lb.{name}"
        if lb.get("load_balancer_type", "application") == "application":
            protected = any(any(r.address == subject for r in output.refs(stack, a.get("resource_arn")))
                            for a in output.resources(stack, "aws_wafv2_web_acl_association").values())
            yield stack, subject, protected, "no web ACL is associated: requests reach the pods unfiltered"
            continue
        for tg_name in _target_groups_of(output, stack, name) or [None]:
            if tg_name is None:
                yield stack, subject, False, "forwards to no target group"
                continue
            tg = output.resources(stack, "aws_lb_target_group")[tg_name]
            problems = []
            if not tg.get("proxy_protocol_v2"):
                problems.append("its target group sends no proxy protocol v2 header: the pods see the NLB's "
                                "address, so no per-client limit is possible")
            entry, specs, why = _entrypoint(output, bindings, stack, tg_name)
            if entry is None:
                problems.append(why)
            else:
                proxy = entry.get("proxyProtocol") or {}
                if not proxy.get("trustedIPs") or proxy.get("insecure"):
                    problems.append("the entrypoint does not take the proxy protocol header from the NLB only "
                                    "(proxyProtocol.trustedIPs)")
                if not any((s.get("rateLimit") or {}).get("average") for s in specs):
                    problems.append("the entrypoint applies no rate limit: WAF cannot be associated with an NLB, "
                                    "so nothing limits a client on this path")
                missing = [s["missing"] for s in specs if "missing" in s]
                if missing:
                    problems.append(f"middlewares {', '.join(missing)} are not created by the gateway release")
            yield stack, f"{subject} -> aws_lb_target_group.{tg_name}", not problems, "; ".join(problems)


# -- 21: WAF rule groups pinned, and one body-size policy on every path -----------------------------

UNVERSIONED_GROUPS = ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesAnonymousIpList")
ALB_BODY_INSPECTION = 8192


@rule(21, "WAF managed rule groups are pinned, and the request-body limit is the same on every path in",
      "https://docs.aws.amazon.com/waf/latest/developerguide/waf-managed-rule-groups-deployments.html")
def waf_versions_and_body(output: Output):
    bindings = target_group_bindings(output)
    for stack, name, acl in output.every("aws_wafv2_web_acl"):
        body_rule_blocks = False
        for waf_rule in as_list(acl.get("rule")):
            statement = (waf_rule.get("statement") or {}).get("managed_rule_group_statement")
            if not statement or statement.get("vendor_name") != "AWS":
                continue
            group = statement.get("name")
            unversioned = group in UNVERSIONED_GROUPS
            pinned = bool(statement.get("version"))
            yield stack, f"aws_wafv2_web_acl.{name} {group}", pinned != unversioned, (
                "sets a version on a group AWS does not version (the IP reputation lists)" if unversioned else
                "is not pinned to a static version: AWS's default version changes what is blocked without review")
            if group == "AWSManagedRulesCommonRuleSet":
                counted = {o.get("name") for o in as_list(statement.get("rule_action_override"))
                           if "count" in (o.get("action_to_use") or {})}
                body_rule_blocks = "SizeRestrictions_BODY" not in counted
        # the body limit each path in holds: the smaller of the gateway's (buffering) and, behind
        # this web ACL, WAF's 8 KB while SizeRestrictions_BODY blocks; None when neither holds
        behind_waf = {tg for lb_name, _ in _lbs_behind(output, stack, name)
                      for tg in _target_groups_of(output, stack, lb_name)}
        limits = {}
        for tg_name in output.resources(stack, "aws_lb_target_group"):
            entry, specs, why = _entrypoint(output, bindings, stack, tg_name)
            if entry is None:
                continue
            held = [(s.get("buffering") or {}).get("maxRequestBodyBytes") for s in specs if s.get("buffering")]
            if tg_name in behind_waf and body_rule_blocks:
                held.append(ALB_BODY_INSPECTION)
            limits[tg_name] = min(held) if held else None
        if not limits:
            continue
        problems = []
        unlimited = sorted(k for k, v in limits.items() if v is None)
        if unlimited:
            problems.append(f"nothing limits request bodies on the path through {', '.join(unlimited)}")
        values = {v for v in limits.values() if v is not None}
        if len(values) > 1:
            problems.append("the paths in allow different body sizes ("
                            + ", ".join(f"{k}: {v}" for k, v in sorted(limits.items())) + " bytes)")
        yield stack, f"aws_wafv2_web_acl.{name} request body limit", not problems, "; ".join(problems)


# -- 15: a Kubernetes version in support, with add-ons of that version -------------------------------

@rule(15, "Each cluster runs a Kubernetes version in support at an explicit support type, with that version's add-ons",
      "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html")
def kubernetes_version(output: Output):
    from environments import eks_versions

    for stack, name, cluster in output.every("aws_eks_cluster"):
        version = str(cluster.get("version"))
        subject = f"aws_eks_cluster.{name} (Kubernetes {version})"
        policy = as_list(cluster.get("upgrade_policy"))
        support = (policy[0] if policy else {}).get("support_type")
        if support not in ("STANDARD", "EXTENDED"):
            yield stack, subject, False, ("sets no upgrade_policy.support_type: EKS defaults to EXTENDED (billed at the "
                                          "higher rate), then upgrades the control plane itself")
            continue
        problem = eks_versions.refusal(version, support)
        yield stack, subject, problem is None, f"{problem or ''}; table: environments/eks_versions.py"
        row = eks_versions.VERSIONS.get(version)
        if row is None or not row.addons:
            continue
        for addon, build in sorted(row.addons.items()):
            found = (_addon(output, Ref(stack, "aws_eks_cluster", name, ""), addon) or {}).get("addon_version")
            yield stack, f"{subject} add-on {addon}", found == build, (
                "is not installed as a managed add-on" if found is None else
                f"is {found}, not the build pinned for {version} ({build}): add-ons stay on another version's builds")


# -- 19: something scales the node groups -----------------------------------------------------------

def _role_statements(output: Output, stack: str, role: Ref) -> list[dict]:
    statements = []
    for conf in output.resources(stack, "aws_iam_role_policy").values():
        if any(r.address == role.address for r in output.refs(stack, conf.get("role"))):
            statements += policy_statements(conf.get("policy"))
    return statements


@rule(19, "Node groups that may grow are sized by an autoscaler, with a role scoped to this cluster's groups",
      "https://docs.aws.amazon.com/eks/latest/best-practices/cas.html")
def node_autoscaling(output: Output):
    installed = installers(output)
    for stack, name, cluster in output.every("aws_eks_cluster"):
        groups = node_groups_of(output, stack, name)
        elastic = [g for g in groups for s in as_list(g.get("scaling_config"))
                   if int(s.get("min_size", 0)) < int(s.get("max_size", 0))]
        if not elastic:
            continue
        subject = f"aws_eks_cluster.{name} ({len(elastic)} node groups with min < max)"
        gitops = installed.get(f"aws_eks_cluster.{name}@{stack}")
        releases = _releases(output, gitops) if gitops else {}
        autoscaler = next((r for r in releases.values() if r["conf"].get("chart") == "cluster-autoscaler"), None)
        if autoscaler is None:
            yield stack, subject, False, "no Cluster Autoscaler is installed: the groups stay at their first size"
            continue
        values, problems = autoscaler["values"], []
        discovered = output.refs(gitops, (values.get("autoDiscovery") or {}).get("clusterName"))
        if not any(r.address == f"aws_eks_cluster.{name}" and r.stack == stack for r in discovered):
            problems.append("its autoDiscovery.clusterName is not this cluster")
        minor = ".".join(str((values.get("image") or {}).get("tag", "")).lstrip("v").split(".")[:2])
        if minor != str(cluster.get("version")):
            problems.append(f"its image {values.get('image')} is not for Kubernetes {cluster.get('version')}")
        if int(values.get("replicaCount", 1)) < 2 or not any(
                c.get("topologyKey") == "topology.kubernetes.io/zone" for c in values.get("topologySpreadConstraints") or []):
            problems.append("it runs fewer than two replicas, or not spread over the zones")
        if (values.get("podDisruptionBudget") or {}).get("enabled") is False:
            problems.append("its PodDisruptionBudget is turned off")
        namespace = autoscaler["conf"].get("namespace")
        account = ((values.get("rbac") or {}).get("serviceAccount") or {}).get("name")
        associations = [c for c in output.resources(stack, "aws_eks_pod_identity_association").values()
                        if c.get("namespace") == namespace and c.get("service_account") == account]
        if not associations:
            problems.append(f"its service account {namespace}/{account} has no AWS role (Pod Identity)")
        for association in associations:
            for role in output.refs(stack, association.get("role_arn")):
                resize = [s for s in _role_statements(output, stack, role)
                          if s.get("Effect") == "Allow" and "autoscaling:SetDesiredCapacity" in as_list(s.get("Action"))]
                if not resize:
                    problems.append("its role may not call autoscaling:SetDesiredCapacity")
                elif any(not any("aws:ResourceTag/k8s.io/cluster-autoscaler/" in key
                                 for block in (s.get("Condition") or {}).values() for key in block) for s in resize):
                    problems.append("its role may resize every Auto Scaling group of the account, not only this "
                                    "cluster's (no aws:ResourceTag/k8s.io/cluster-autoscaler/<cluster> condition)")
        yield stack, subject, not problems, "; ".join(problems)


# -- 20: spot capacity is tainted, and the platform runs on on-demand --------------------------------

ON_DEMAND_LABEL = (CAPACITY_TYPE_LABEL, "ON_DEMAND")
# Where each platform chart puts its pods: paths to the pod specs' nodeSelector (siblings: tolerations).
PLACEMENT = {
    "traefik": [()],
    "aws-load-balancer-controller": [()],
    "external-secrets": [(), ("webhook",), ("certController",)],
    "argo-cd": [("global",), ("redis-ha",)],
    "flux2": [("sourceController",), ("kustomizeController",), ("helmController",), ("notificationController",),
              ("imageAutomationController",), ("imageReflectionController",)],
    "cluster-autoscaler": [()],
}
NO_PODS = ("argocd-apps", "flux2-sync")
ADDON_PLACEMENT = {"coredns": (), "aws-ebs-csi-driver": ("controller",)}


def _dig(values: dict, path: tuple) -> Optional[dict]:
    for key in path:
        values = values.get(key) if isinstance(values, dict) else None
    return values if isinstance(values, dict) else None


def _on_demand_only(spec: Optional[dict], spot_taints: list[dict]) -> Optional[str]:
    if spec is None:
        return "is not configured"
    if (spec.get("nodeSelector") or {}).get(ON_DEMAND_LABEL[0]) != ON_DEMAND_LABEL[1]:
        return f"has no nodeSelector {ON_DEMAND_LABEL[0]}: {ON_DEMAND_LABEL[1]}"
    for toleration in spec.get("tolerations") or []:
        if toleration.get("operator") == "Exists" and not toleration.get("key") or any(
                toleration.get("key") == t.get("key") for t in spot_taints):
            return "tolerates the spot taint"
    return None


@rule(20, "Spot node groups are tainted, and the platform's own pods run on on-demand capacity",
      "https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html#managed-node-group-capacity-types")
def spot_isolation(output: Output):
    installed = installers(output)
    for stack, name, cluster in output.every("aws_eks_cluster"):
        groups = node_groups_of(output, stack, name)
        spot = [g for g in groups if g.get("capacity_type") == "SPOT"]
        if not spot:
            continue
        taints = [t for g in spot for t in as_list(g.get("taint"))]
        for group in spot:
            tainted = any(t.get("effect") in ("NO_SCHEDULE", "NO_EXECUTE") for t in as_list(group.get("taint")))
            yield stack, f"aws_eks_node_group {group.get('node_group_name')}", tainted, (
                "is not tainted: critical pods (quorums, controllers, CoreDNS) land on spot and are reclaimed together")
        for addon_name, path in ADDON_PLACEMENT.items():
            addon = _addon(output, Ref(stack, "aws_eks_cluster", name, ""), addon_name)
            if addon is None:
                continue
            try:
                config = json.loads(addon.get("configuration_values") or "{}")
            except ValueError:
                config = {}
            problem = _on_demand_only(_dig(config, path), taints)
            yield stack, f"add-on {addon.get('addon_name')}", problem is None, f"its configuration {problem}"
        gitops = installed.get(f"aws_eks_cluster.{name}@{stack}")
        for release_name, release in sorted(_releases(output, gitops).items() if gitops else []):
            chart = str(release["conf"].get("chart"))
            if chart in NO_PODS or not release["conf"].get("repository"):
                continue  # custom resources only (the apps charts, spofless's own chart)
            if chart not in PLACEMENT:
                yield gitops, f"helm_release {release_name}", False, (
                    f"chart {chart} has no known placement: add it to PLACEMENT in this rule with its nodeSelector paths")
                continue
            problems = []
            for path in PLACEMENT[chart]:
                spec = _dig(release["values"], path)
                if spec is not None and spec.get("create") is False:
                    continue
                problem = _on_demand_only(spec, taints)
                if problem:
                    problems.append(f"{'.'.join(path) or 'the chart'} {problem}")
            yield gitops, f"helm_release {release_name} ({chart})", not problems, "; ".join(problems)
