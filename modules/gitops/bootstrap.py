"""Bootstrap of one cluster: ingress bound to the load balancers, Git credentials, ArgoCD and Flux."""

from __future__ import annotations

from constructs import Construct

from environments.schema import EksConfig, GitopsConfig, LoadBalancingConfig
from modules.gitops import addons, guards, handover_objects
from modules.gitops.engines import active_engine, reconciling
from modules.providers import kubernetes

ARGOCD_NAMESPACE = "argocd"
FLUX_NAMESPACE = "flux-system"
# The user name each host expects with a token over HTTPS.
GIT_USERNAMES = {"github": "x-access-token", "gitlab": "oauth2"}


class GitopsBootstrap(Construct):
    """Everything one cluster needs to serve traffic and keep its workloads in sync.

    - the Cluster Autoscaler, which sizes the node groups between their bounds;
    - the AWS Load Balancer Controller and an in-cluster ingress (Traefik) spread over
      every AZ, bound to all three target groups of the region (TargetGroupBindings), so
      the region's ALBs and NLB have healthy targets whether or not it is active;
    - the External Secrets Operator and the Git credentials as ExternalSecrets, so the
      tokens live in Secrets Manager (this region's replica) and never in Terraform state;
    - ArgoCD (HA) and Flux, both knowing both Git hosts; exactly one of them reconciles
      this cluster (``engines.reconciling`` for this region), the other is installed
      and idle (ArgoCD with automated sync off, Flux suspended).
    """

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str, region: str, config: GitopsConfig,
                 load_balancer_cidrs: tuple[str, ...], pod_cidrs: tuple[str, ...], vpc_id: str, cluster_name: str, replicas: int,
                 eks: EksConfig,
                 load_balancing: LoadBalancingConfig, target_groups: dict[str, tuple[str, int]], chart_path: str,
                 helm_provider, kubernetes_provider, collector_cidrs: tuple[str, ...] = ()):
        super().__init__(scope, construct_id)
        self._kubernetes = kubernetes_provider
        guarded = (ARGOCD_NAMESPACE, FLUX_NAMESPACE, addons.INGRESS_NAMESPACE,
                   *((addons.METRICS_NAMESPACE,) if collector_cidrs else ()),
                   *((handover_objects.NAMESPACE,) if config.handover else ()))
        namespaces = {name: self._namespace(name) for name in (*guarded, addons.ESO_SERVICE_ACCOUNT[0])}
        for name in guarded:
            self._network_policies(name, namespaces[name])
        self._ingress_to_workloads(namespaces[addons.INGRESS_NAMESPACE])
        self._admit(namespaces[addons.INGRESS_NAMESPACE], load_balancer_cidrs,
                    (load_balancing.app_port, load_balancing.nlb_target_port))

        controller = addons.load_balancer_controller(cluster_name, region, vpc_id).install(
            self, provider=helm_provider)
        autoscaler = eks.release.autoscaler
        addons.cluster_autoscaler(cluster_name, region, autoscaler.chart, autoscaler.reference).install(
            self, provider=helm_provider)
        eso = addons.external_secrets().install(
            self, provider=helm_provider, depends_on=[namespaces[addons.ESO_SERVICE_ACCOUNT[0]]])
        gateway = addons.ingress_gateway(
            replicas=replicas, app_port=load_balancing.app_port, nlb_port=load_balancing.nlb_target_port,
            health_path=load_balancing.health_check.path, load_balancer_cidrs=load_balancer_cidrs,
            pod_cidrs=pod_cidrs, rate_limit=load_balancing.waf_rate_limit,
            body_limit_kib=load_balancing.request_body_limit_kib,
            inspection=load_balancing.nlb_inspection).install(
            self, provider=helm_provider, depends_on=[namespaces[addons.INGRESS_NAMESPACE]])
        signing_keys = config.signing_key_ids  # parsed once: armored key -> its key IDs
        objects = addons.cluster_objects(
            chart_path, region=region,
            repositories=self._repositories(env_name, config),
            target_groups=[{"name": f"{addons.INGRESS_SERVICE}-{key}", "namespace": addons.INGRESS_NAMESPACE,
                            "targetGroupARN": arn, "serviceName": addons.INGRESS_SERVICE, "servicePort": port}
                           for key, (arn, port) in target_groups.items()],
            store_namespaces=(ARGOCD_NAMESPACE, FLUX_NAMESPACE),
            objects=[*guards.admission_policies(ingress_namespace=addons.INGRESS_NAMESPACE,
                                                target_group_arns=[arn for arn, _ in target_groups.values()],
                                                ingress_class=addons.LBC_INGRESS_CLASS,
                                                firewalled_entrypoint=addons.NLB_ENTRYPOINT),
                     *guards.gitops_deployer(name=addons.GITOPS_DEPLOYER, namespace=FLUX_NAMESPACE,
                                             workload_namespace=addons.WORKLOAD_NAMESPACE),
                     *guards.signing_keys(name=addons.SIGNING_KEYS_SECRET, namespace=FLUX_NAMESPACE,
                                          keys=signing_keys),
                     *(handover_objects.objects(settings=self._handover(config, region), on_demand=addons.on_demand())
                       if config.handover else [])],
        ).install(self, provider=helm_provider,
                  depends_on=[controller, eso, gateway, namespaces[ARGOCD_NAMESPACE], namespaces[FLUX_NAMESPACE],
                              *([namespaces[handover_objects.NAMESPACE]] if config.handover else [])])

        argocd_on = reconciling(config, "argocd", region)
        flux_on = reconciling(config, "flux", region)
        # With the handover, the charts install both engines fenced and the loop unfences the lease's holder
        # (the preferred engine while it is healthy): an apply then never writes what the lease policies guard.
        rendered = {"argocd": argocd_on and not config.handover, "flux": flux_on and not config.handover}
        self.argocd_automated = argocd_on
        self.flux_suspended = not flux_on
        argocd = addons.argocd(config.argocd_chart_version, ARGOCD_NAMESPACE, signing_keys).install(
            self, provider=helm_provider, depends_on=[namespaces[ARGOCD_NAMESPACE], objects])
        addons.argocd_applications(config.argocd_apps_chart_version, ARGOCD_NAMESPACE, config.sources,
                                   config.git_host, automated=rendered["argocd"],
                                   signature_key_ids=[i for ids in signing_keys.values() for i in ids]).install(
            self, provider=helm_provider, depends_on=[argocd])
        flux = addons.flux(config.flux_chart_version, FLUX_NAMESPACE).install(
            self, provider=helm_provider, depends_on=[namespaces[FLUX_NAMESPACE], objects])
        if collector_cidrs:
            # The region's managed collector scrapes from its ENIs in the collector subnets, where no pod
            # lives, on the metrics port only: no pod of the cluster reads these metrics.
            self._admit(namespaces[addons.METRICS_NAMESPACE], collector_cidrs, (addons.KSM_PORT,),
                        policy="allow-from-collector", construct_id="ingress-allow-from-collector")
            # after the engines: their custom resources are what it reads besides the built-in objects
            addons.kube_state_metrics(replicas=2).install(
                self, provider=helm_provider, depends_on=[namespaces[addons.METRICS_NAMESPACE], argocd, flux])
        for source in config.sources:
            for host in ("github", "gitlab"):
                # Only the chosen host's Kustomization may ever run; the other is the mirror.
                suspended = not (rendered["flux"] and host == config.git_host)
                addons.flux_sync(config.flux_sync_chart_version, FLUX_NAMESPACE, source, host,
                                 f"git-{host}", suspended, verify=bool(signing_keys)).install(
                    self, provider=helm_provider, depends_on=[flux])

    @staticmethod
    def _handover(config: GitopsConfig, region: str) -> dict:
        """What the handover loop watches and moves: the engine preferred here, Argo CD's Applications and the
        Flux Kustomizations of the chosen Git host (the mirror's stay suspended)."""
        return handover_objects.config(
            preferred=active_engine(config, region), argocd_namespace=ARGOCD_NAMESPACE, flux_namespace=FLUX_NAMESPACE,
            applications=[source.name for source in config.sources],
            kustomizations=[f"flux-{source.name}-{config.git_host}" for source in config.sources],
            detect_seconds=config.handover_seconds, return_seconds=config.handback_seconds)

    @staticmethod
    def _repositories(env_name: str, config: GitopsConfig) -> list[dict]:
        """The Git credentials both engines use, as ExternalSecrets of Secrets Manager secrets."""
        found = []
        for host, secret_name in (("github", config.github_token_secret), ("gitlab", config.gitlab_token_secret)):
            remote = f"{env_name}/{secret_name}"
            for source in config.sources:
                found.append({"name": f"repo-{source.name}-{host}", "namespace": ARGOCD_NAMESPACE,
                              "secretName": f"repo-{source.name}-{host}", "remoteKey": remote,
                              "url": getattr(source, host), "username": GIT_USERNAMES[host], "argocd": True})
            found.append({"name": f"git-{host}", "namespace": FLUX_NAMESPACE, "secretName": f"git-{host}",
                          "remoteKey": remote, "url": "", "username": GIT_USERNAMES[host], "argocd": False})
        return found

    def _ingress_to_workloads(self, namespace) -> None:
        """The ingress forwards to workloads in any namespace of the cluster."""
        np = kubernetes("network_policy_v1")
        np.NetworkPolicyV1(
            self, "ingress-to-workloads", provider=self._kubernetes,
            metadata=np.NetworkPolicyV1Metadata(name="allow-egress-to-workloads", namespace=namespace.metadata.name),
            spec=np.NetworkPolicyV1Spec(
                pod_selector=np.NetworkPolicyV1SpecPodSelector(), policy_types=["Egress"],
                egress=[np.NetworkPolicyV1SpecEgress(to=[np.NetworkPolicyV1SpecEgressTo(
                    namespace_selector=np.NetworkPolicyV1SpecEgressToNamespaceSelector())])]))

    def _namespace(self, name: str):
        module = kubernetes("namespace_v1")
        return module.NamespaceV1(
            self, f"ns-{name}", provider=self._kubernetes,
            metadata=module.NamespaceV1Metadata(name=name, labels={"app.kubernetes.io/managed-by": "spofless"}))

    def _admit(self, namespace, cidrs: tuple[str, ...], ports: tuple[int, ...],
               policy: str = "allow-from-load-balancers", construct_id: str = "ingress-from-load-balancers") -> None:
        """``namespace`` admits ``cidrs`` on ``ports``, and nothing else from outside it: the gateway the load
        balancers' subnets on its two entrypoints, kube-state-metrics the collector's subnets. Not the VPC: with
        the VPC CNI every pod has a VPC address. Kubelet probes need no rule: the VPC CNI's policy agent always
        admits the node's own address (https://github.com/aws/aws-network-policy-agent/pull/65)."""
        np = kubernetes("network_policy_v1")
        np.NetworkPolicyV1(
            self, construct_id, provider=self._kubernetes,
            metadata=np.NetworkPolicyV1Metadata(name=policy, namespace=namespace.metadata.name),
            spec=np.NetworkPolicyV1Spec(
                pod_selector=np.NetworkPolicyV1SpecPodSelector(), policy_types=["Ingress"],
                ingress=[np.NetworkPolicyV1SpecIngress(
                    from_=[np.NetworkPolicyV1SpecIngressFrom(ip_block=np.NetworkPolicyV1SpecIngressFromIpBlock(cidr=c))
                           for c in cidrs],
                    ports=[np.NetworkPolicyV1SpecIngressPorts(port=str(p), protocol="TCP") for p in ports])]))

    def _network_policies(self, name: str, namespace) -> None:
        """Default deny in and out, then: within the namespace, DNS and HTTPS out. Nothing comes in from
        outside the namespace: the engines serve no one (the UI is reached by port-forward)."""
        np = kubernetes("network_policy_v1")
        namespace_name = namespace.metadata.name  # one call into node, not one per policy
        meta = lambda policy: np.NetworkPolicyV1Metadata(name=policy, namespace=namespace_name)  # noqa: E731
        everything = np.NetworkPolicyV1SpecPodSelector()
        np.NetworkPolicyV1(self, f"{name}-default-deny", provider=self._kubernetes, metadata=meta("default-deny"),
                           spec=np.NetworkPolicyV1Spec(pod_selector=everything, policy_types=["Ingress", "Egress"]))
        np.NetworkPolicyV1(
            self, f"{name}-allow-namespace", provider=self._kubernetes, metadata=meta("allow-same-namespace"),
            spec=np.NetworkPolicyV1Spec(
                pod_selector=everything, policy_types=["Ingress", "Egress"],
                ingress=[np.NetworkPolicyV1SpecIngress(from_=[np.NetworkPolicyV1SpecIngressFrom(
                    pod_selector=np.NetworkPolicyV1SpecIngressFromPodSelector())])],
                egress=[np.NetworkPolicyV1SpecEgress(to=[np.NetworkPolicyV1SpecEgressTo(
                    pod_selector=np.NetworkPolicyV1SpecEgressToPodSelector())])]))
        np.NetworkPolicyV1(
            self, f"{name}-allow-dns", provider=self._kubernetes, metadata=meta("allow-dns"),
            spec=np.NetworkPolicyV1Spec(
                pod_selector=everything, policy_types=["Egress"],
                egress=[np.NetworkPolicyV1SpecEgress(
                    to=[np.NetworkPolicyV1SpecEgressTo(
                        namespace_selector=np.NetworkPolicyV1SpecEgressToNamespaceSelector(
                            match_labels={"kubernetes.io/metadata.name": "kube-system"}),
                        pod_selector=np.NetworkPolicyV1SpecEgressToPodSelector(match_labels={"k8s-app": "kube-dns"}))],
                    ports=[np.NetworkPolicyV1SpecEgressPorts(port="53", protocol=p) for p in ("UDP", "TCP")])]))
        # Git hosts, Helm repositories and the Kubernetes API all speak HTTPS.
        np.NetworkPolicyV1(
            self, f"{name}-allow-https", provider=self._kubernetes, metadata=meta("allow-https-egress"),
            spec=np.NetworkPolicyV1Spec(
                pod_selector=everything, policy_types=["Egress"],
                egress=[np.NetworkPolicyV1SpecEgress(
                    ports=[np.NetworkPolicyV1SpecEgressPorts(port="443", protocol="TCP")])]))
