"""GitOps add-ons share one small protocol: a pinned Helm chart installed into a namespace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

import yaml
from constructs import Construct

from modules.loadbalancing.waf import WAF_BODY_LIMIT_KIB
from modules.providers import helm
from modules.tags import CAPACITY_TYPE_LABEL

ARGO_HELM = "https://argoproj.github.io/argo-helm"
FLUX_HELM = "https://fluxcd-community.github.io/helm-charts"
EKS_HELM = "https://aws.github.io/eks-charts"
ESO_HELM = "https://charts.external-secrets.io"
TRAEFIK_HELM = "https://traefik.github.io/charts"
AUTOSCALER_HELM = "https://kubernetes.github.io/autoscaler"
PROMETHEUS_HELM = "https://prometheus-community.github.io/helm-charts"

# Pinned charts of the in-cluster platform pieces (chart version = what `helm search` shows).
LBC_CHART_VERSION = "3.5.0"        # AWS Load Balancer Controller v3.5.0 (Pod Identity since v2.7.0)
ESO_CHART_VERSION = "2.9.0"        # External Secrets Operator v2.9.0 (external-secrets.io/v1 API)
TRAEFIK_CHART_VERSION = "41.3.0"   # Traefik v3.7.11
KSM_CHART_VERSION = "8.4.0"        # kube-state-metrics v2.20.0

CLUSTER_CHART_VERSION = "1.1.0"    # modules/gitops/charts/spofless-cluster/Chart.yaml
LBC_SERVICE_ACCOUNT = ("kube-system", "aws-load-balancer-controller")
ESO_SERVICE_ACCOUNT = ("external-secrets", "external-secrets")
AUTOSCALER_SERVICE_ACCOUNT = ("kube-system", "cluster-autoscaler")
# How often the engines poll Git, and how long a Flux fetch may take (the drill's GitOps detection).
GIT_POLL_SECONDS = 20
GIT_FETCH_TIMEOUT = 10
INGRESS_NAMESPACE = "ingress"
# kube-state-metrics: what the region's managed Prometheus collector scrapes (modules/observability/metrics.py)
METRICS_NAMESPACE = "monitoring"
KSM_SERVICE = "kube-state-metrics"
KSM_PORT = 8080
KSM_PORT_NAME = "http"
# The node label EKS sets on every node of a managed node group, exported on kube_node_labels
NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
# Metrics kube-state-metrics derives from the engines' own objects (custom resource state)
ARGOCD_APP_METRIC = "spofless_argocd_application"
FLUX_RESOURCE_METRIC = "spofless_flux"  # spofless_flux_<kind>_info: one name per kind (kube-state-metrics#2386)
FLUX_KINDS = (("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories"),
              ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations"),
              ("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases"))
INGRESS_SERVICE = "traefik"


# Platform add-ons run on on-demand capacity only: the spot group is tainted, and a spot
# reclaim wave must never take a quorum (ArgoCD's Redis HA), the controllers and the ingress
# down together. EKS labels every managed node with its capacity type (CAPACITY_TYPE_LABEL).


def on_demand() -> dict:
    """A nodeSelector for on-demand nodes (a fresh dict each time: YAML would otherwise write anchors)."""
    return {CAPACITY_TYPE_LABEL: "ON_DEMAND"}


def _spread(name: str, instance: str, zones_required: bool = True) -> list[dict]:
    """Spread pods over zones (and hosts): losing one AZ never takes every replica."""
    def selector() -> dict:  # a fresh dict each time: YAML would otherwise write anchors
        return {"matchLabels": _labels(name, instance)}
    return [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
         "whenUnsatisfiable": "DoNotSchedule" if zones_required else "ScheduleAnyway", "labelSelector": selector()},
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": selector()},
    ]


class Addon(Protocol):
    """Anything installable into a cluster by the bootstrap."""

    name: str
    namespace: str

    def install(self, scope: Construct, *, provider, depends_on: Sequence[Any] = ()) -> Any:
        """Create the resources that install the add-on; returns the main one."""


@dataclass(frozen=True)
class HelmAddon:
    """A Helm chart at a pinned version with values rendered deterministically."""

    name: str
    namespace: str
    repository: str
    chart: str
    version: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def install(self, scope: Construct, *, provider, depends_on: Sequence[Any] = ()) -> Any:
        return helm("release").Release(
            scope, self.name,
            provider=provider,
            name=self.name,
            namespace=self.namespace,
            create_namespace=False,
            repository=self.repository or None,
            chart=self.chart,
            version=self.version,
            values=[yaml.safe_dump(dict(self.values), sort_keys=True)],
            atomic=True,
            cleanup_on_fail=True,
            wait=True,
            timeout=900,
            depends_on=list(depends_on) or None,
        )


def argocd(version: str, namespace: str, signing_keys: Mapping[str, Sequence[str]] = {}) -> HelmAddon:
    """ArgoCD in HA mode: two of every stateless component and Redis HA (three replicas with Sentinel).

    On on-demand nodes: ``global.nodeSelector`` does not reach the redis-ha subchart, which
    has its own (argo-helm argo-cd 7.7.11 values.yaml; redis-ha 4.29.4).
    ``signing_keys`` (armored key -> its key IDs, primary first) go into Argo CD's GnuPG keyring
    (argocd-gpg-keys-cm, by primary key ID); the project names which of them it requires.
    https://argo-cd.readthedocs.io/en/stable/user-guide/gpg-verification/
    """
    gpg = {"gpg": {"keys": {ids[0]: key for key, ids in signing_keys.items()}}} if signing_keys else {}
    return HelmAddon(
        name="argocd", namespace=namespace, repository=ARGO_HELM, chart="argo-cd", version=version,
        values={
            "global": {"nodeSelector": on_demand()},
            "redis-ha": {"enabled": True, "nodeSelector": on_demand()},
            "controller": {"replicas": 2},
            "server": {"replicas": 2},
            "repoServer": {"replicas": 2},
            "applicationSet": {"replicas": 2},
            # Git is polled every 20 s, without jitter: a failed Git host shows in the Applications'
            # status within the failover table's 30 s (make drill); webhooks still bring changes at once.
            # https://argo-cd.readthedocs.io/en/stable/operator-manual/argocd-cm-yaml/
            "configs": {"params": {"application.namespaces": namespace},
                        "cm": {"timeout.reconciliation": f"{GIT_POLL_SECONDS}s",
                               "timeout.reconciliation.jitter": "0s"}, **gpg},
        },
    )


def kube_state_metrics(replicas: int) -> HelmAddon:
    """kube-state-metrics: the cluster's objects as metrics, for the alert rules of the region's workspace.

    Besides the built-in collectors it exports the node group of each node (kube_node_labels with
    ``eks.amazonaws.com/nodegroup``) and, as custom resource state, the sync and health of Argo CD's
    Applications and the Ready condition (with ``spec.suspend``) of Flux's sources, Kustomizations and
    HelmReleases: what tells whether the engine that reconciles the cluster keeps up. ``replicas`` copies
    (each exports everything; the rules take the max over them), spread over the zones, one disrupted at a
    time, on on-demand nodes: losing an AZ or a node never leaves the alert rules blind.
    https://github.com/kubernetes/kube-state-metrics/blob/main/docs/metrics/extend/customresourcestate-metrics.md
    https://fluxcd.io/flux/monitoring/custom-metrics/
    """
    labels = {"name": ["metadata", "name"], "namespace": ["metadata", "namespace"]}
    resources = [{
        "groupVersionKind": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Application"},
        # ``self_heal``: "true" only on the Applications Argo CD syncs itself (the engine that reconciles)
        "metricNamePrefix": ARGOCD_APP_METRIC,
        "labelsFromPath": {**labels, "self_heal": ["spec", "syncPolicy", "automated", "selfHeal"]},
        "metrics": [
            {"name": "sync", "help": "The Application's sync status",
             "each": {"type": "StateSet", "stateSet": {"labelName": "status", "path": ["status", "sync", "status"],
                                                        "list": ["Synced", "OutOfSync", "Unknown"]}}},
            {"name": "health", "help": "The Application's health",
             "each": {"type": "StateSet", "stateSet": {"labelName": "status", "path": ["status", "health", "status"],
                                                        "list": ["Healthy", "Progressing", "Degraded", "Suspended",
                                                                 "Missing", "Unknown"]}}}]}]
    # an Info metric writes a series only when one of its own labels resolves: the uid always does, so an
    # object that never got a status (its controller never ran) still shows, with no ready label
    resources += [{
        "groupVersionKind": {"group": group, "version": version, "kind": kind},
        "metricNamePrefix": f"{FLUX_RESOURCE_METRIC}_{kind.lower()}", "labelsFromPath": {**labels, "kind": ["kind"]},
        "metrics": [{"name": "info", "help": "The Ready condition of a Flux object, and whether it is suspended",
                     "each": {"type": "Info", "info": {"labelsFromPath": {
                         "uid": ["metadata", "uid"],
                         "ready": ["status", "conditions", "[type=Ready]", "status"],
                         "suspended": ["spec", "suspend"]}}}}]}
        for group, version, kind, _ in FLUX_KINDS]
    rules = [{"apiGroups": ["argoproj.io"], "resources": ["applications"], "verbs": ["list", "watch"]},
             *({"apiGroups": [group], "resources": [plural], "verbs": ["list", "watch"]}
               for group, _, _, plural in FLUX_KINDS)]
    return HelmAddon(
        name=KSM_SERVICE, namespace=METRICS_NAMESPACE, repository=PROMETHEUS_HELM, chart="kube-state-metrics",
        version=KSM_CHART_VERSION,
        values={"fullnameOverride": KSM_SERVICE, "replicas": replicas, "nodeSelector": on_demand(),
                "topologySpreadConstraints": _spread(KSM_SERVICE, KSM_SERVICE),
                "podDisruptionBudget": {"maxUnavailable": 1},
                "service": {"port": KSM_PORT},
                # the collector finds the endpoints itself; no scrape annotations for anyone else
                "prometheusScrape": False,
                "metricLabelsAllowlist": [f"nodes=[{NODEGROUP_LABEL}]"],
                "rbac": {"extraRules": rules},
                "customResourceState": {"enabled": True, "config": {
                    "kind": "CustomResourceStateMetrics", "spec": {"resources": resources}}}},
    )


# What a Git push may change: the workload namespace, nothing cluster-wide. Argo CD applies through
# the AppProject (destinations, no cluster-scoped kinds); Flux impersonates GITOPS_DEPLOYER, bound
# to the namespace's admin role only (modules/gitops/guards.py).
WORKLOAD_NAMESPACE = "default"
IN_CLUSTER = "https://kubernetes.default.svc"
GITOPS_PROJECT = "workloads"
GITOPS_DEPLOYER = "gitops-deployer"
# The Secret (in Flux's namespace) holding the public keys a GitRepository verifies commits with.
SIGNING_KEYS_SECRET = "git-signing-keys"


def argocd_applications(version: str, namespace: str, sources, git_host: str, automated: bool,
                        signature_key_ids: Sequence[str] = ()) -> HelmAddon:
    """One ArgoCD Application per source, pulling from the chosen Git host, in the ``workloads`` project.

    With ``automated`` false the Applications still fetch and show drift, but
    nothing is applied until someone syncs by hand or the knob names this ArgoCD.
    The project (not ``default``, which allows every repository, destination and kind) admits the
    sources' repositories on both hosts, the workload namespace of this cluster and no
    cluster-scoped kind (an empty whitelist), so a push cannot bind cluster-admin or reach
    the platform's namespaces. With ``signature_key_ids`` it syncs only commits signed by one of them.
    https://argo-cd.readthedocs.io/en/stable/user-guide/projects/
    """
    sync = {"automated": {"prune": True, "selfHeal": True}} if automated else {}
    applications = {
        source.name: {
            "namespace": namespace,
            "project": GITOPS_PROJECT,
            "source": {"repoURL": getattr(source, git_host), "targetRevision": source.revision,
                       "path": source.path},
            "destination": {"server": IN_CLUSTER, "namespace": WORKLOAD_NAMESPACE},
            "syncPolicy": {**sync},
        }
        for source in sources
    }
    project = {
        "namespace": namespace,
        # the chart writes the description unquoted (argocd-apps 2.0.2 templates/projects.yaml): no ": "
        "description": "What the GitOps repositories may change - the workload namespace only",
        "sourceRepos": sorted({getattr(s, host) for s in sources for host in ("github", "gitlab")}),
        "destinations": [{"server": IN_CLUSTER, "namespace": WORKLOAD_NAMESPACE}],
        "clusterResourceWhitelist": [],
        **({"signatureKeys": [{"keyID": key} for key in signature_key_ids]} if signature_key_ids else {}),
    }
    return HelmAddon(name="argocd-apps", namespace=namespace, repository=ARGO_HELM, chart="argocd-apps",
                     version=version, values={"applications": applications, "projects": {GITOPS_PROJECT: project}})


FLUX_CONTROLLERS = ("sourceController", "kustomizeController", "helmController", "notificationController")


def flux(version: str, namespace: str) -> HelmAddon:
    """The Flux controllers (source, kustomize, helm, notification), on on-demand nodes (the flux2
    chart has no global placement: each controller has its own nodeSelector)."""
    # Multi-tenancy lockdown: every Kustomization applies as a service account (GITOPS_DEPLOYER unless
    # it names another), may not read sources in other namespaces, and the controllers' own binding is
    # the impersonator role instead of cluster-admin.
    # https://fluxcd.io/flux/installation/configuration/multitenancy/
    return HelmAddon(name="flux", namespace=namespace, repository=FLUX_HELM, chart="flux2", version=version,
                     values={"multitenancy": {"enabled": True, "defaultServiceAccount": GITOPS_DEPLOYER,
                                              # the controllers impersonate, and hold no cluster-admin themselves
                                              "privileged": False},
                             "imageAutomationController": {"create": False},
                             "imageReflectionController": {"create": False},
                             **{controller: {"nodeSelector": on_demand()} for controller in FLUX_CONTROLLERS}})


def flux_sync(version: str, namespace: str, source, host: str, secret_name: str, suspended: bool,
              verify: bool = False) -> HelmAddon:
    """A GitRepository on one host and its Kustomization, suspended unless Flux is active on that host.
    With ``verify`` the source refuses a HEAD commit not signed by a key of SIGNING_KEYS_SECRET.
    https://fluxcd.io/flux/components/source/gitrepositories/#verification"""
    verification = {"verify": {"mode": "HEAD", "secretRef": {"name": SIGNING_KEYS_SECRET}}} if verify else {}
    return HelmAddon(
        name=f"flux-{source.name}-{host}", namespace=namespace, repository=FLUX_HELM, chart="flux2-sync",
        version=version,
        values={
            # polled every 20 s with a 10 s fetch timeout: a failed Git host shows in the
            # GitRepository's Ready condition within the failover table's 30 s (make drill)
            "gitRepository": {"spec": {"url": getattr(source, host), "ref": {"branch": source.revision},
                                       "interval": f"{GIT_POLL_SECONDS}s", "timeout": f"{GIT_FETCH_TIMEOUT}s",
                                       "secretRef": {"name": secret_name}, **verification}},
            # applied as GITOPS_DEPLOYER into the workload namespace: what a push can reach
            "kustomization": {"spec": {"path": source.path, "prune": True, "interval": "10m",
                                       "suspend": suspended, "serviceAccountName": GITOPS_DEPLOYER,
                                       "targetNamespace": WORKLOAD_NAMESPACE}},
        },
    )


# The load balancer controller's jobs spofless does not use, switched off: its Service controller
# (LoadBalancer Services), the Gateway API controllers, and the IngressClass it would create. The
# Ingress controller has no switch (v3.5.0 main.go always starts it); with no IngressClass, no
# rights to create a load balancer and the admission policy refusing class ``alb``, it has nothing
# to act on. https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v3.5.0/docs/deploy/configurations.md
LBC_FEATURE_GATES = {"EnableServiceController": False, "NLBGatewayAPI": False, "ALBGatewayAPI": False}
LBC_INGRESS_CLASS = "alb"


def load_balancer_controller(cluster_name: str, region: str, vpc_id: str) -> HelmAddon:
    """AWS Load Balancer Controller: registers pod IPs in the Terraform-made target groups (TargetGroupBinding),
    and does nothing else (LBC_FEATURE_GATES; its AWS role can only register targets in this region's
    three target groups).

    Region and VPC are given so the controller needs no instance metadata (IMDS hop limit 1);
    the Service mutator webhook is off: spofless never asks it to create load balancers.
    Its AWS role comes from EKS Pod Identity (the regional stack's association).
    https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/targetgroupbinding/targetgroupbinding/
    """
    namespace, account = LBC_SERVICE_ACCOUNT
    return HelmAddon(
        name="aws-load-balancer-controller", namespace=namespace, repository=EKS_HELM,
        chart="aws-load-balancer-controller", version=LBC_CHART_VERSION,
        values={"clusterName": cluster_name, "region": region, "vpcId": vpc_id,
                "serviceAccount": {"create": True, "name": account},
                "replicaCount": 2, "podDisruptionBudget": {"maxUnavailable": 1}, "nodeSelector": on_demand(),
                "topologySpreadConstraints": _spread("aws-load-balancer-controller", "aws-load-balancer-controller",
                                                     zones_required=False),
                "enableServiceMutatorWebhook": False, "keepTLSSecret": True,
                "controllerConfig": {"featureGates": dict(LBC_FEATURE_GATES)},
                "createIngressClassResource": False, "ingressClass": LBC_INGRESS_CLASS})


# The chart aggregates ExternalSecret/SecretStore creation into the built-in edit and admin roles
# (values rbac.aggregateToEdit/aggregateToAdmin, default true): any namespace editor could then point
# an ExternalSecret at the cluster store, or a SecretStore without auth at the controller's own Pod
# Identity, and read the Git tokens. Off: only cluster administrators create them.
# https://github.com/external-secrets/external-secrets/blob/helm-chart-2.9.0/deploy/charts/external-secrets/values.yaml
ESO_RBAC = {"aggregateToEdit": False, "aggregateToAdmin": False}


def external_secrets() -> HelmAddon:
    """External Secrets Operator: keeps Kubernetes Secrets in sync with Secrets Manager (Pod Identity)."""
    namespace, account = ESO_SERVICE_ACCOUNT
    return HelmAddon(
        name="external-secrets", namespace=namespace, repository=ESO_HELM, chart="external-secrets",
        version=ESO_CHART_VERSION,
        values={"installCRDs": True, "replicaCount": 2, "leaderElect": True,
                "serviceAccount": {"create": True, "name": account}, "rbac": dict(ESO_RBAC),
                "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1}, "nodeSelector": on_demand(),
                "topologySpreadConstraints": _spread("external-secrets", "external-secrets", zones_required=False),
                "webhook": {"replicaCount": 2, "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
                            "nodeSelector": on_demand()},
                "certController": {"replicaCount": 2, "nodeSelector": on_demand(),
                                   "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1}}})


def cluster_autoscaler(cluster_name: str, region: str, chart_version: str, image: str) -> HelmAddon:
    """Cluster Autoscaler: grows a node group when pods are pending, shrinks it when nodes sit idle.

    Why Cluster Autoscaler, not Karpenter: it drives the EKS managed node groups this
    project defines (their Auto Scaling groups carry the auto-discovery tags EKS sets),
    so the node groups, their launch template, taint and update policy stay the one
    definition of capacity; Karpenter would replace them with its own NodePools, its own
    node role and an interruption queue per region, a second model of capacity beside them.
    The image's minor matches the cluster's (environments/eks_versions.py); ``image`` is its tag and
    digest (``v1.35.0@sha256:...``), which the chart renders after ``<repository>:``.
    Two replicas (leader election), spread over zones, one down at a time (the chart's PDB),
    on on-demand nodes; its AWS role comes from EKS Pod Identity (the regional stack).
    https://docs.aws.amazon.com/eks/latest/best-practices/cas.html
    https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md
    """
    namespace, account = AUTOSCALER_SERVICE_ACCOUNT
    return HelmAddon(
        name="cluster-autoscaler", namespace=namespace, repository=AUTOSCALER_HELM, chart="cluster-autoscaler",
        version=chart_version,
        values={"cloudProvider": "aws", "awsRegion": region, "autoDiscovery": {"clusterName": cluster_name},
                "nameOverride": "cluster-autoscaler", "fullnameOverride": "cluster-autoscaler",
                "image": {"tag": image},
                "rbac": {"serviceAccount": {"create": True, "name": account}},
                "replicaCount": 2, "nodeSelector": on_demand(),
                "topologySpreadConstraints": _spread("cluster-autoscaler", "cluster-autoscaler",
                                                     zones_required=False),
                # each node group spans every AZ (one group per capacity type), so the autoscaler
                # cannot pick a zone: zone-pinned pending pods may wait for a node in their zone
                # (README, Capacity). least-waste between the two groups; 10 idle minutes before
                # a node is removed.
                "extraArgs": {"expander": "least-waste", "scale-down-unneeded-time": "10m"}})


# The web application firewall on the NLB's path: ModSecurity v3 (maintained by OWASP since Trustwave's
# end of support in 2024) with the OWASP Core Rule Set, in the CRS project's own nginx image
# (https://github.com/coreruleset/modsecurity-crs-docker; environment variables: its README).
# CRS 4.29.0, pinned by the tag's image index digest.
NLB_FIREWALL = "nlb-firewall"
NLB_FIREWALL_PORT = 8080  # the image's plain-HTTP port (the gateway's TLS ends before it)
NLB_FIREWALL_IMAGE = ("docker.io/owasp/modsecurity-crs:4.29.0-nginx-202609301109"
                      "@sha256:ac057618e2c42e8192c000cb918ae1dff11446cf12beb6b23d4fa0065b0fe5be")
INSPECTED_ENTRYPOINT = "inspected"
# CRS rules a load balancer's health check matches by its nature: no Accept (920300) or User-Agent
# (920320) header, the target's address as Host (920350). Removed for the health path only; the
# request is still inspected by every other rule.
HEALTH_CHECK_RULES = (920300, 920320, 920350)
FIREWALL_EXCLUSIONS = "/etc/modsecurity.d/owasp-crs/rules/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf"
# Audit log parts: A (header), H (the rules that matched), Z (end). Not B/I/J (request headers and
# body: tokens and cookies would reach the logs) nor E/F (the response).
FIREWALL_AUDIT_PARTS = "AHZ"

# Middlewares of the gateway's entrypoints (namespace "ingress"; referenced as <ns>-<name>@kubernetescrd).
BODY_LIMIT, RATE_LIMIT, IN_FLIGHT_LIMIT = "request-body-limit", "client-rate-limit", "client-in-flight-limit"
NLB_ENTRYPOINT = "nlb"
# Concurrent requests one client address may have open on the NLB's path.
IN_FLIGHT_PER_CLIENT = 100


def middleware_ref(name: str) -> str:
    return f"{INGRESS_NAMESPACE}-{name}@kubernetescrd"


def _middleware(name: str, spec: dict) -> dict:
    return {"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
            "metadata": {"name": name, "namespace": INGRESS_NAMESPACE}, "spec": spec}


def _labels(name: str, instance: str = "") -> dict:
    """The recommended name and instance labels (instance: the name when not given), a fresh dict each call."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance or name}


def firewall_exclusions(health_path: str) -> str:
    """The rules file the image reads before CRS (its README: mount REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf)."""
    removals = ",".join(f"ctl:ruleRemoveById={rule}" for rule in HEALTH_CHECK_RULES)
    return ("# the load balancers' health checks carry no Accept or User-Agent header and an address as Host\n"
            f'SecRule REQUEST_FILENAME "@streq {health_path}" "id:1000,phase:1,pass,nolog,{removals}"\n')


def nlb_firewall(*, replicas: int, backend_port: int, pod_cidrs: Sequence[str], inspection,
                 body_limit_kib: int, health_path: str) -> list[dict]:
    """The firewall on the NLB's path, as whole objects of the gateway's release: a Deployment of
    ModSecurity + CRS spread over the zones like the gateway, its Service, a PodDisruptionBudget,
    and the route that sends every request of the NLB's entrypoint to it.

    The gateway's NLB entrypoint ends TLS, reads the proxy protocol header and applies the limits,
    then routes everything to this Service; the firewall inspects the request (headers, arguments
    and the whole body up to the body limit, which AWS WAF caps at 8 KB on an ALB) and forwards what
    passes to the gateway's ``inspected`` entrypoint, where the workloads' routes are. The client's
    address arrives as X-Real-Ip, trusted from the pod subnets: only pods of the gateway's
    namespace reach the firewall's port (default deny, allow-same-namespace).
    """
    name = NLB_FIREWALL
    body = body_limit_kib * 1024
    env = {
        "BACKEND": f"https://{INGRESS_SERVICE}.{INGRESS_NAMESPACE}.svc.cluster.local:{backend_port}",
        "MODSEC_RULE_ENGINE": "On",
        "BLOCKING_PARANOIA": str(inspection.paranoia_level),
        "ANOMALY_INBOUND": str(inspection.anomaly_threshold),
        # the whole accepted body is inspected (the gateway refused larger ones with 413 already)
        "MODSEC_REQ_BODY_LIMIT": str(body), "MODSEC_REQ_BODY_NOFILES_LIMIT": str(body),
        # requests only, as AWS WAF on an ALB: no response buffering, so streaming still works
        "MODSEC_RESP_BODY_ACCESS": "Off",
        "MODSEC_AUDIT_LOG_PARTS": FIREWALL_AUDIT_PARTS,
        "SET_REAL_IP_FROM": ",".join(pod_cidrs),
        "REAL_IP_HEADER": "X-Real-Ip",
        "SERVER_HEADER": "",
    }
    probe = {"httpGet": {"path": "/healthz", "port": NLB_FIREWALL_PORT}}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": INGRESS_NAMESPACE, "labels": _labels(name)},
         "spec": {"replicas": replicas, "selector": {"matchLabels": _labels(name)},
                  "template": {
                      "metadata": {"labels": _labels(name)},
                      "spec": {
                          "automountServiceAccountToken": False,
                          "securityContext": {"runAsNonRoot": True, "runAsUser": 101, "runAsGroup": 101,
                                              "seccompProfile": {"type": "RuntimeDefault"}},
                          "nodeSelector": on_demand(),
                          "topologySpreadConstraints": _spread(name, name),
                          "volumes": [{"name": "exclusions", "configMap": {"name": f"{name}-exclusions"}}],
                          "containers": [{
                              "name": "modsecurity", "image": NLB_FIREWALL_IMAGE,
                              "volumeMounts": [{"name": "exclusions", "mountPath": FIREWALL_EXCLUSIONS,
                                                "subPath": "exclusions.conf", "readOnly": True}],
                              "ports": [{"name": "http", "containerPort": NLB_FIREWALL_PORT}],
                              "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
                              "readinessProbe": {**probe, "periodSeconds": 5},
                              "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
                              "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                                            "limits": {"memory": "512Mi"}},
                              "securityContext": {"allowPrivilegeEscalation": False,
                                                  "capabilities": {"drop": ["ALL"]}}}]}}}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"{name}-exclusions", "namespace": INGRESS_NAMESPACE},
         "data": {"exclusions.conf": firewall_exclusions(health_path)}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": INGRESS_NAMESPACE, "labels": _labels(name)},
         "spec": {"type": "ClusterIP", "selector": _labels(name),
                  "ports": [{"name": "http", "port": NLB_FIREWALL_PORT, "targetPort": NLB_FIREWALL_PORT}]}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": {"name": name, "namespace": INGRESS_NAMESPACE},
         "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _labels(name)}}},
        {"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
         "metadata": {"name": name, "namespace": INGRESS_NAMESPACE},
         "spec": {"entryPoints": [NLB_ENTRYPOINT],
                  "routes": [{"kind": "Rule", "match": "PathPrefix(`/`)",
                              "services": [{"name": name, "port": NLB_FIREWALL_PORT}]}]}},
    ]


def ingress_gateway(*, replicas: int, app_port: int, nlb_port: int, health_path: str,
                    load_balancer_cidrs: Sequence[str], pod_cidrs: Sequence[str], rate_limit: int,
                    body_limit_kib: int, inspection) -> HelmAddon:
    """Traefik, the in-cluster ingress every load balancer of the region sends traffic to.

    Why Traefik: maintained (ingress-nginx is retired since March 2026,
    https://kubernetes.io/blog/2025/11/11/ingress-nginx-retirement/), one Deployment with a
    ClusterIP Service the target groups bind to, TLS on the app port with its own certificate
    (the LBs re-encrypt; they do not verify targets), and a readiness route to ``ping@internal``
    on that port, which answers 200 on any path, for the target groups' health checks.
    Spread: zones required (DoNotSchedule), at most one pod down at a time (PDB), on-demand nodes.

    Two entrypoints, because WAF protects the ALBs and cannot be associated with an NLB:
    - ``websecure`` (``app_port``): the ALBs' path, behind WAF; X-Forwarded-For is trusted
      from the load balancers' subnets only (not the VPC: pod addresses are VPC addresses, and a
      pod could otherwise claim any client address).
    - ``nlb`` (``nlb_port``): the NLB's path. The NLB sends a proxy protocol v2 header,
      trusted from the load balancers' subnets only, so the client's address is the connection's; the entrypoint
      applies a per-client rate limit (the WAF rule's figure, per 5 minutes; counted per
      gateway pod) and a per-client concurrency limit, which WAF would otherwise have applied,
      then sends every request to the firewall (``nlb_firewall``): no workload route is on it.
    - ``inspected`` (``inspection.inspected_port``): what the firewall passes. Reached from the
      namespace only; X-Forwarded-For and X-Real-Ip are trusted from the pod subnets (the firewall).
    The workloads' routes attach to the default entrypoints, ``websecure`` and ``inspected``:
    a route on ``nlb`` would skip the firewall, and the admission policies refuse one outside
    the gateway's namespace (modules/gitops/guards.py).
    The body-size knob holds on both paths: WAF enforces 8 KiB on the ALBs' path; the gateway
    enforces the knob where WAF does not (the NLB's path always, the ALBs' path when the knob
    is above 8 KiB). The gateway's only body limit is the buffering middleware, which also
    buffers responses (no streaming through it), so it is used only where it is needed.
    https://doc.traefik.io/traefik/reference/install-configuration/entrypoints/ (proxyProtocol)
    https://doc.traefik.io/traefik/middlewares/http/ratelimit/
    """
    trusted = list(load_balancer_cidrs)
    body = middleware_ref(BODY_LIMIT)
    inspected_port = inspection.inspected_port
    alb_chain = [body] if body_limit_kib > WAF_BODY_LIMIT_KIB else []
    return HelmAddon(
        name=INGRESS_SERVICE, namespace=INGRESS_NAMESPACE, repository=TRAEFIK_HELM, chart="traefik",
        version=TRAEFIK_CHART_VERSION,
        values={
            "deployment": {"kind": "Deployment", "replicas": replicas},
            "service": {"spec": {"type": "ClusterIP"}},
            "ports": {"web": None,
                      "websecure": {"port": app_port, "exposedPort": app_port, "expose": {"default": True},
                                    "asDefault": True,
                                    "forwardedHeaders": {"trustedIPs": list(trusted)},
                                    "http": {"tls": {"enabled": True}, **({"middlewares": alb_chain}
                                                                          if alb_chain else {})}},
                      NLB_ENTRYPOINT: {"port": nlb_port, "exposedPort": nlb_port, "expose": {"default": True},
                                       "protocol": "TCP", "proxyProtocol": {"trustedIPs": list(trusted)},
                                       "http": {"tls": {"enabled": True},
                                                "middlewares": [middleware_ref(RATE_LIMIT),
                                                                middleware_ref(IN_FLIGHT_LIMIT), body]}},
                      INSPECTED_ENTRYPOINT: {"port": inspected_port, "exposedPort": inspected_port,
                                             "expose": {"default": True}, "asDefault": True,
                                             "forwardedHeaders": {"trustedIPs": list(pod_cidrs)},
                                             "http": {"tls": {"enabled": True}}}},
            "extraObjects": [
                _middleware(BODY_LIMIT, {"buffering": {"maxRequestBodyBytes": body_limit_kib * 1024}}),
                # depth 0: the connection's address, which the trusted proxy protocol header set
                _middleware(RATE_LIMIT, {"rateLimit": {"average": rate_limit, "period": "5m", "burst": rate_limit,
                                                       "sourceCriterion": {"ipStrategy": {"depth": 0}}}}),
                _middleware(IN_FLIGHT_LIMIT, {"inFlightReq": {"amount": IN_FLIGHT_PER_CLIENT,
                                                              "sourceCriterion": {"ipStrategy": {"depth": 0}}}}),
                *nlb_firewall(replicas=replicas, backend_port=inspected_port, pod_cidrs=pod_cidrs,
                              inspection=inspection, body_limit_kib=body_limit_kib, health_path=health_path),
            ],
            # not on the NLB's entrypoint: the NLB's health checks take the firewall's path, so a
            # region whose firewall is down is not sent the NLB's traffic
            "ingressRoute": {"healthcheck": {"enabled": True, "entryPoints": ["websecure", INSPECTED_ENTRYPOINT],
                                             "matchRule": f"Path(`{health_path}`)"}},
            "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
            "nodeSelector": on_demand(),
            "topologySpreadConstraints": _spread("traefik", f"{INGRESS_SERVICE}-{INGRESS_NAMESPACE}"),
        })


def cluster_objects(path: str, *, region: str, repositories: list[dict], target_groups: list[dict],
                    store_namespaces: Sequence[str], objects: Sequence[dict]) -> HelmAddon:
    """spofless's own chart (modules/gitops/charts/spofless-cluster, shipped as a Terraform asset):
    the secret store (serving ``store_namespaces`` only), the Git credentials as ExternalSecrets,
    the TargetGroupBindings, and whole ``objects`` (modules/gitops/guards.py).

    A Helm release, not kubernetes_manifest: these kinds only exist once the controllers'
    charts are installed, and kubernetes_manifest needs the CRDs at plan time."""
    return HelmAddon(name="spofless-cluster", namespace="kube-system", repository="", chart=path,
                     version=CLUSTER_CHART_VERSION,
                     values={"region": region, "repositories": repositories, "targetGroups": target_groups,
                             "refreshInterval": "15m", "secretStoreNamespaces": sorted(store_namespaces),
                             "objects": list(objects)})
