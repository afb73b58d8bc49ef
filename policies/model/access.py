"""Who can do what inside one environment, read from the output: who can read the Git tokens, who can change
a load balancer, who can write to a cluster.

Only what the output declares is counted: principals of the account with IAM rights of their own (an
administrator's user, an SSO role) are outside it. The SPOF report prints this as its ``security`` section.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator, Optional

from policies.model.output import Output, actions, as_list, covers, policy_statements
from policies.model.topology import cluster_of_provider, installed_releases

# calls that change a load balancer, its listeners, targets, security groups or protection
LB_WRITE_PREFIXES = ("elasticloadbalancing:", "wafv2:Associate", "wafv2:Disassociate", "shield:",
                     "ec2:AuthorizeSecurityGroup", "ec2:RevokeSecurityGroup", "ec2:CreateSecurityGroup",
                     "ec2:DeleteSecurityGroup")


@dataclass(frozen=True)
class Grant:
    who: str    # a role, a principal, a namespace, a Git repository
    how: str    # how it gets there: Pod Identity, a service, an access entry, a secret store, a project
    reach: str  # what exactly it reaches

    def __str__(self) -> str:
        return f"{self.who} ({self.how}): {self.reach}"


@dataclass
class Access:
    git_tokens: list[Grant] = field(default_factory=list)
    load_balancers: list[Grant] = field(default_factory=list)
    clusters: list[Grant] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"git_tokens": [asdict(g) for g in self.git_tokens],
                "load_balancers": [asdict(g) for g in self.load_balancers],
                "clusters": [asdict(g) for g in self.clusters]}


def _changes_load_balancers(action: str) -> bool:
    verb = action.split(":", 1)[-1]
    return action == "*" or (action.startswith(LB_WRITE_PREFIXES) and not verb.startswith(("Describe", "Get", "List")))


def roles_with_policies(output: Output, stack: str) -> Iterator[tuple[str, dict, list[dict]]]:
    """``(role name, role, statements of its inline policies)`` for every role of a stack."""
    roles = output.resources(stack, "aws_iam_role")
    statements: dict[str, list[dict]] = {}
    for conf in output.resources(stack, "aws_iam_role_policy").values():
        for ref in output.refs(stack, conf.get("role")):
            if ref.type == "aws_iam_role":
                statements.setdefault(ref.name, []).extend(policy_statements(conf.get("policy")))
    for name in sorted(roles):
        yield name, roles[name], statements.get(name, [])


def pod_identities(output: Output, stack: str) -> dict[str, tuple[str, str]]:
    """``{role name: (namespace, service account)}`` of the stack's EKS Pod Identity associations."""
    found = {}
    for conf in output.resources(stack, "aws_eks_pod_identity_association").values():
        for ref in output.refs(stack, conf.get("role_arn")):
            if ref.type == "aws_iam_role":
                found[ref.name] = (str(conf.get("namespace")), str(conf.get("service_account")))
    return found


def trusted_services(role: dict) -> Iterator[tuple[str, dict]]:
    """``(service principal, statement)`` of every Allow statement of a role's trust that names a service."""
    for statement in policy_statements(role.get("assume_role_policy")):
        principal = statement.get("Principal")
        if statement.get("Effect") == "Allow" and isinstance(principal, dict):
            for service in as_list(principal.get("Service")):
                yield str(service), statement


def _role_user(stack: str, name: str, role: dict, identities: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """``(who, how)`` of a role: its name, and the service account (``identities``) or service that assumes it."""
    who = str(role.get("name") or name)
    identity = identities.get(name)
    if identity:
        return who, f"Pod Identity {identity[0]}/{identity[1]} in {stack}"
    services = sorted({service for service, _ in trusted_services(role)})
    return who, f"assumed by {', '.join(services) or 'principals of the account'} in {stack}"


def _reach(output: Output, stack: str, resources: list) -> str:
    named = []
    for resource in resources:
        refs = output.refs(stack, resource)
        named += [r.address for r in refs] if refs else [str(resource)]
    return ", ".join(sorted(set(named)))


def _reads_secret(statement: dict, env: str, key: str) -> bool:
    if not covers(actions(statement), "secretsmanager:GetSecretValue"):
        return False
    for resource in as_list(statement.get("Resource")):
        text = str(resource)
        tail = text.split(":secret:", 1)[1] if ":secret:" in text else None
        if text == "*" or tail in ("*", f"{env}/*") or (tail or "").startswith(f"{key}-"):
            return True
    return False


def access(output: Output, env: str) -> Access:
    found = Access()
    stacks = output.stacks_of(env)
    token_keys = sorted({str(r.get("remoteKey")) for s in stacks
                         for release in installed_releases(output, s).values()
                         for r in release["values"].get("repositories") or [] if r.get("remoteKey")})
    for stack in stacks:
        identities = pod_identities(output, stack)
        for name, role, statements in roles_with_policies(output, stack):
            statements = [s for s in statements if s.get("Effect") == "Allow"]
            who, how = _role_user(stack, name, role, identities)
            tokens = [k for k in token_keys if any(_reads_secret(s, env, k) for s in statements)]
            if tokens:
                found.git_tokens.append(Grant(who, how, ", ".join(tokens)))
            writes = [s for s in statements if any(_changes_load_balancers(a) for a in actions(s))]
            if writes:
                calls = sorted({a for s in writes for a in actions(s) if _changes_load_balancers(a)})
                resources = [r for s in writes for r in as_list(s.get("Resource"))]
                found.load_balancers.append(Grant(who, how, f"{len(calls)} calls "
                                                  f"({', '.join(c.split(':', 1)[1] for c in calls[:4])}"
                                                  f"{', ...' if len(calls) > 4 else ''}) on "
                                                  f"{_reach(output, stack, resources)}"))
        for conf in sorted(output.resources(stack, "aws_eks_access_policy_association").values(),
                           key=lambda c: str(c.get("principal_arn"))):
            scope = conf.get("access_scope") or {}
            scope = (as_list(scope) or [{}])[0] if not isinstance(scope, dict) else scope
            where = ("the whole cluster" if scope.get("type") == "cluster"
                     else f"namespaces {', '.join(as_list(scope.get('namespaces')))}")
            found.clusters.append(Grant(str(conf.get("principal_arn")), f"EKS access entry in {stack}",
                                        f"{str(conf.get('policy_arn')).rsplit('/', 1)[-1]} on {where}"))
        _in_cluster(output, stack, found)
    return found


def commit_verification(output: Output, stack: str, releases: Optional[dict] = None) -> Optional[dict]:
    """What the GitOps engines of a stack require of a commit, for rule 46 and the access report:
    ``{"argocd": {application: key IDs}, "argocd_keyring": IDs, "flux": {sync: (mode, secret)},
    "flux_keys": {secret: IDs}}``; None without engines. ``releases``: the stack's, when already read."""
    releases = installed_releases(output, stack) if releases is None else releases
    apps = [r for r in releases.values() if r["conf"].get("chart") == "argocd-apps"]
    syncs = {name: r for name, r in releases.items() if r["conf"].get("chart") == "flux2-sync"}
    if not apps and not syncs:
        return None
    found: dict = {"argocd": {}, "argocd_keyring": set(), "flux": {}, "flux_keys": {}}
    for release in releases.values():
        if release["conf"].get("chart") == "argo-cd":
            found["argocd_keyring"] |= set((((release["values"].get("configs") or {}).get("gpg") or {})
                                             .get("keys") or {}))
        for item in release["values"].get("objects") or []:
            if isinstance(item, dict) and item.get("kind") == "Secret":
                name = (item.get("metadata") or {}).get("name")
                found["flux_keys"][name] = {k.removesuffix(".asc") for k in (item.get("stringData") or {})}
    for release in apps:
        projects = release["values"].get("projects") or {}
        for name, app in sorted((release["values"].get("applications") or {}).items()):
            project = projects.get(app.get("project")) or {}
            found["argocd"][name] = {k.get("keyID") for k in project.get("signatureKeys") or []}
    for name, release in sorted(syncs.items()):
        verify = (((release["values"].get("gitRepository") or {}).get("spec") or {}).get("verify") or {})
        found["flux"][name] = (verify.get("mode"), (verify.get("secretRef") or {}).get("name"))
    return found


def _signed(keys) -> str:
    return f" signed by key {', '.join(keys)}" if keys else " (any commit: no signature required)"


def _in_cluster(output: Output, stack: str, found: Access) -> None:
    """What the cluster's own objects grant: the secret store's namespaces, who binds target groups,
    what a Git push applies."""
    cluster = cluster_of_provider(output, stack)
    releases = installed_releases(output, stack)
    if cluster is None or not releases:
        return
    objects_release = releases.get("spofless-cluster") or {"values": {}}
    values = objects_release["values"]
    objects = [o for o in values.get("objects") or [] if isinstance(o, dict)]
    if "external-secrets" in releases and values.get("repositories"):
        served = values.get("secretStoreNamespaces") or []
        edit = (releases["external-secrets"]["values"].get("rbac") or {}).get("aggregateToEdit") is not False
        who = f"namespaces {', '.join(served)}" if served else "every namespace"
        found.git_tokens.append(Grant(who + (", and any namespace editor (ExternalSecret creation)" if edit else ""),
                                      f"ClusterSecretStore in {stack}", "the tokens as ExternalSecrets"))
    if "aws-load-balancer-controller" in releases:
        guarded = [o for o in objects if o.get("kind") == "ValidatingAdmissionPolicy"
                   and "targetgroupbindings" in str(o.get("spec", {}).get("matchConstraints"))]
        who = ("namespace " + next((e.split("'")[1] for o in guarded for v in o["spec"].get("validations", [])
                                    for e in [v.get("expression", "")] if "request.namespace ==" in e), "?")
               if guarded else "any namespace editor")
        found.load_balancers.append(Grant(who, f"TargetGroupBinding in {stack}",
                                          "registers pods in this region's target groups" if guarded else
                                          "registers any pod in any target group the controller may change"))
    verification = commit_verification(output, stack, releases) or {"argocd": {}, "flux": {}, "flux_keys": {}}
    for release in releases.values():
        chart = release["conf"].get("chart")
        if chart == "argocd-apps":
            projects = release["values"].get("projects") or {}
            for name, app in sorted((release["values"].get("applications") or {}).items()):
                project = projects.get(app.get("project"))
                reach = ("anything, cluster-wide (project default)" if project is None else
                         "namespaces " + ", ".join(str(d.get("namespace")) for d in project.get("destinations") or [])
                         + (", no cluster-scoped kind" if not project.get("clusterResourceWhitelist")
                            else ", and cluster-scoped kinds"))
                keys = sorted(verification["argocd"].get(name) or ())
                found.clusters.append(Grant(f"a push to {(app.get('source') or {}).get('repoURL')}{_signed(keys)}",
                                            f"Argo CD application {name} in {stack}", reach))
        if chart == "flux2-sync":
            spec = ((release["values"].get("kustomization") or {}).get("spec") or {})
            account = spec.get("serviceAccountName")
            source = (release["values"].get("gitRepository") or {}).get("spec") or {}
            url = source.get("url")
            _, secret = verification["flux"].get(release["conf"].get("name"), (None, None))
            keys = sorted(verification["flux_keys"].get(secret) or ())
            bound = [o for o in objects if o.get("kind") in ("RoleBinding", "ClusterRoleBinding")
                     and any(s.get("name") == account for s in o.get("subjects") or [])]
            reach = ("anything, cluster-wide (the controller's own rights)" if not account else
                     "; ".join(f"{o['roleRef']['name']} of "
                               f"{'the cluster' if o['kind'] == 'ClusterRoleBinding' else 'namespace ' + o['metadata']['namespace']}"
                               for o in bound) or f"what {account} is granted")
            found.clusters.append(Grant(f"a push to {url}{_signed(keys)}", f"Flux {release['conf'].get('name')} in {stack}",
                                        reach))

