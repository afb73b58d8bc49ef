"""Load balancing: access logs the ELB service can write, targets registered by in-cluster pods in every AZ, every path in filtered (WAF on the ALBs, proxy protocol into a rate-limited entrypoint on the NLB), WAF logging and pinned rule groups.

One rule, one place: each cites the document it encodes; its failing and passing fixtures are named
in the registry (:mod:`policies.rules.registry`)."""

from __future__ import annotations

from typing import Optional


from policies.model.output import Output, actions, as_list, covers, policy_statements
from policies.model.topology import (cluster_of_provider, gateway_entrypoint, installed_releases,
                                     target_group_bindings, target_groups_of)
from policies.rules.registry import rule


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
                       if s.get("Effect") == "Allow" and covers(actions(s), "s3:PutObject")
                       and any(wanted in r for r in as_list(s.get("Resource")))]
            if not granted:
                yield stack, subject, False, (f"aws_s3_bucket_policy.{pname} grants s3:PutObject on no "
                                              f"'<bucket>{wanted}<account>/*': ELB's test write at create is denied")
            elif f"aws_s3_bucket_policy.{pname}" not in output.depends_on(stack, lb):
                yield stack, subject, False, (f"does not depend_on aws_s3_bucket_policy.{pname}: the LB can be "
                                              "created before the policy exists, and its test write is denied")
            else:
                yield stack, subject, True, ""


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
        releases = installed_releases(output, gitops)
        problems = []
        controller = next((r for r in releases.values()
                           if r["conf"].get("chart") == "aws-load-balancer-controller"), None)
        if controller is None:
            problems.append("no AWS Load Balancer Controller is installed to act on the binding")
        else:
            account = (controller["values"].get("serviceAccount") or {}).get("name")
            namespace = controller["conf"].get("namespace")
            cluster = cluster_of_provider(output, gitops)
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
    found, why = gateway_entrypoint(output, bindings, stack, tg_name)
    if found is None:
        return None, [], why
    known = _middlewares(found.values)
    specs = [known.get(ref, {"missing": ref}) for ref in ((found.conf.get("http") or {}).get("middlewares") or [])]
    return found.conf, specs, ""


def _lbs_behind(output: Output, stack: str, acl_name: str) -> list[tuple[str, dict]]:
    """The load balancers a web ACL is associated with."""
    found = []
    for association in output.resources(stack, "aws_wafv2_web_acl_association").values():
        if any(r.address == f"aws_wafv2_web_acl.{acl_name}" for r in output.refs(stack, association.get("web_acl_arn"))):
            found += [(r.name, output.get(r) or {}) for r in output.refs(stack, association.get("resource_arn"))
                      if r.type == "aws_lb"]
    return found


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
        for tg_name in target_groups_of(output, stack, name) or [None]:
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
                      for tg in target_groups_of(output, stack, lb_name)}
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
