"""Who may change what inside a cluster: the objects spofless's own chart adds beside the controllers.

- Admission policies (ValidatingAdmissionPolicy, the cluster's own API, GA since Kubernetes 1.30):
  no Service of type LoadBalancer (EKS's cloud provider would make a load balancer for it with no
  WAF), no Ingress of the load balancer controller's class, and TargetGroupBindings only in the
  ingress namespace, only for this region's target groups. The platform declares every load
  balancer in Terraform; these keep a namespace editor from adding or hijacking one.
  https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
- The identity a Flux Kustomization applies as: a service account bound to the admin role of the
  workload namespace only (Argo CD's equivalent is its AppProject, modules/gitops/addons.py).
  https://fluxcd.io/flux/installation/configuration/multitenancy/
- The public keys Flux verifies commits with (``gitops.signing_keys``).
"""

from __future__ import annotations

from typing import Mapping, Sequence

ADMISSION_API = "admissionregistration.k8s.io/v1"


def _policy(name: str, group: str, resource: str | Sequence[str], expression: str, message: str) -> list[dict]:
    """A ValidatingAdmissionPolicy on resources of one API group (create and update) and its cluster-wide
    binding."""
    resources = [resource] if isinstance(resource, str) else list(resource)
    return [
        {"apiVersion": ADMISSION_API, "kind": "ValidatingAdmissionPolicy", "metadata": {"name": name},
         "spec": {"failurePolicy": "Fail",
                  "matchConstraints": {"resourceRules": [{"apiGroups": [group], "apiVersions": ["*"],
                                                          "operations": ["CREATE", "UPDATE"],
                                                          "resources": resources}]},
                  "validations": [{"expression": expression, "message": message}]}},
        {"apiVersion": ADMISSION_API, "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name},
         "spec": {"policyName": name, "validationActions": ["Deny"]}},
    ]


def _cel_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def admission_policies(*, ingress_namespace: str, target_group_arns: Sequence[str], ingress_class: str,
                       firewalled_entrypoint: str) -> list[dict]:
    annotation = "kubernetes.io/ingress.class"
    entrypoints = "traefik.ingress.kubernetes.io/router.entrypoints"
    return [
        *_policy("spofless-no-load-balancer-services", "", "services",
                 "object.spec.type != 'LoadBalancer'",
                 "Services of type LoadBalancer are refused: the platform's load balancers are declared in "
                 "Terraform (route traffic through the ingress gateway)"),
        *_policy("spofless-no-load-balancer-ingresses", "networking.k8s.io", "ingresses",
                 f"!(has(object.spec.ingressClassName) && object.spec.ingressClassName == '{ingress_class}') && "
                 f"!(has(object.metadata.annotations) && '{annotation}' in object.metadata.annotations && "
                 f"object.metadata.annotations['{annotation}'] == '{ingress_class}')",
                 f"Ingresses of class {ingress_class} are refused: they would create a load balancer outside "
                 "the platform's (route traffic through the ingress gateway)"),
        *_policy("spofless-target-group-bindings", "elbv2.k8s.aws", "targetgroupbindings",
                 f"request.namespace == '{ingress_namespace}' && "
                 f"object.spec.targetGroupARN in {_cel_list(target_group_arns)}",
                 f"TargetGroupBindings are the platform's: namespace {ingress_namespace}, this region's "
                 "target groups only"),
        # The NLB's entrypoint sends everything to the firewall; a workload route on it would skip the
        # inspection (HTTP and TCP routes alike: a TCP route takes the connection before HTTP routing).
        *_policy("spofless-firewalled-entrypoint-routes", "traefik.io",
                 ["ingressroutes", "ingressroutetcps", "ingressrouteudps"],
                 f"request.namespace == '{ingress_namespace}' || !has(object.spec.entryPoints) || "
                 f"!('{firewalled_entrypoint}' in object.spec.entryPoints)",
                 f"Routes on the entrypoint {firewalled_entrypoint} are the platform's: it sends every request "
                 "through the web application firewall (leave entryPoints out, or name websecure/inspected)"),
        *_policy("spofless-firewalled-entrypoint-ingresses", "networking.k8s.io", "ingresses",
                 f"!(has(object.metadata.annotations) && '{entrypoints}' in object.metadata.annotations && "
                 f"object.metadata.annotations['{entrypoints}'].split(',').exists(e, e.trim() == "
                 f"'{firewalled_entrypoint}'))",
                 f"Ingresses on the entrypoint {firewalled_entrypoint} are refused: it sends every request "
                 "through the web application firewall"),
    ]


def signing_keys(*, name: str, namespace: str, keys: Mapping[str, Sequence[str]]) -> list[dict]:
    """The public keys Flux verifies commits with, as the Secret its GitRepositories name (public keys:
    nothing secret, but Flux reads them from a Secret only). None when no key is declared."""
    if not keys:
        return []
    return [{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
             "metadata": {"name": name, "namespace": namespace},
             "stringData": {f"{ids[0]}.asc": key for key, ids in keys.items()}}]


def gitops_deployer(*, name: str, namespace: str, workload_namespace: str) -> list[dict]:
    """The service account Flux applies as, admin of the workload namespace and nothing else."""
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": name, "namespace": workload_namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]},
    ]
