"""GitOps bootstrap of one cluster: namespaces, network policies, Git credentials, ArgoCD and Flux."""

from __future__ import annotations

from typing import Any

from cdktf import Fn
from constructs import Construct

from environments.schema import GitopsConfig
from modules.gitops import addons
from modules.gitops.engines import Role, reconciling
from modules.providers import aws, kubernetes

ARGOCD_NAMESPACE = "argocd"
FLUX_NAMESPACE = "flux-system"
# The user name each host expects with a token over HTTPS.
GIT_USERNAMES = {"github": "x-access-token", "gitlab": "oauth2"}


class GitopsBootstrap(Construct):
    """Installs ArgoCD (HA) and Flux into one cluster, both knowing both Git hosts.

    Which engine reconciles comes from ``engines.reconciling`` for this region's
    role: the other is installed but idle (ArgoCD with automated sync off, Flux
    with its Kustomizations suspended), so a failover is one value in YAML.
    Git tokens are read from Secrets Manager at apply time: the synthesized JSON
    holds only the data-source reference.
    """

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str, role: Role, config: GitopsConfig,
                 vpc_cidr: str, helm_provider, kubernetes_provider, aws_provider):
        super().__init__(scope, construct_id)
        self._kubernetes = kubernetes_provider
        namespaces = {name: self._namespace(name) for name in (ARGOCD_NAMESPACE, FLUX_NAMESPACE)}
        for name, namespace in namespaces.items():
            self._network_policies(name, namespace, vpc_cidr)
        credentials = self._credentials(env_name, config, aws_provider, namespaces)

        argocd_on = reconciling(config.active, "argocd", role)
        flux_on = reconciling(config.active, "flux", role)
        self.argocd_automated = argocd_on
        self.flux_suspended = not flux_on
        argocd = addons.argocd(config.argocd_chart_version, ARGOCD_NAMESPACE).install(
            self, provider=helm_provider, depends_on=[namespaces[ARGOCD_NAMESPACE], *credentials])
        addons.argocd_applications(config.argocd_apps_chart_version, ARGOCD_NAMESPACE, config.sources,
                                   config.git_host, automated=argocd_on).install(
            self, provider=helm_provider, depends_on=[argocd])
        flux = addons.flux(config.flux_chart_version, FLUX_NAMESPACE).install(
            self, provider=helm_provider, depends_on=[namespaces[FLUX_NAMESPACE], *credentials])
        for source in config.sources:
            for host in ("github", "gitlab"):
                # Only the chosen host's Kustomization may ever run; the other is the mirror.
                suspended = not (flux_on and host == config.git_host)
                addons.flux_sync(config.flux_sync_chart_version, FLUX_NAMESPACE, source, host,
                                 f"git-{host}", suspended).install(self, provider=helm_provider, depends_on=[flux])

    def _namespace(self, name: str):
        module = kubernetes("namespace_v1")
        return module.NamespaceV1(
            self, f"ns-{name}", provider=self._kubernetes,
            metadata=module.NamespaceV1Metadata(name=name, labels={"app.kubernetes.io/managed-by": "spofless"}))

    def _network_policies(self, name: str, namespace, vpc_cidr: str) -> None:
        """Default deny in and out, then: within the namespace, DNS, HTTPS out, and in from the VPC."""
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
        # Webhooks and UI reach the controllers through the VPC's load balancers only.
        np.NetworkPolicyV1(
            self, f"{name}-allow-vpc", provider=self._kubernetes, metadata=meta("allow-from-vpc"),
            spec=np.NetworkPolicyV1Spec(
                pod_selector=everything, policy_types=["Ingress"],
                ingress=[np.NetworkPolicyV1SpecIngress(from_=[np.NetworkPolicyV1SpecIngressFrom(
                    ip_block=np.NetworkPolicyV1SpecIngressFromIpBlock(cidr=vpc_cidr))])]))

    def _credentials(self, env_name: str, config: GitopsConfig, aws_provider, namespaces) -> list[Any]:
        """Repository credentials for both hosts, in both engines' namespaces, values by reference."""
        secret = kubernetes("secret_v1")
        created = []
        for host, secret_name in (("github", config.github_token_secret), ("gitlab", config.gitlab_token_secret)):
            token = aws("data_aws_secretsmanager_secret_version").DataAwsSecretsmanagerSecretVersion(
                self, f"{host}-token", provider=aws_provider, secret_id=f"{env_name}/{secret_name}")
            for index, source in enumerate(config.sources):
                created.append(secret.SecretV1(
                    self, f"argocd-repo-{source.name}-{host}", provider=self._kubernetes,
                    metadata=secret.SecretV1Metadata(
                        name=f"repo-{source.name}-{host}", namespace=namespaces[ARGOCD_NAMESPACE].metadata.name,
                        labels={"argocd.argoproj.io/secret-type": "repository"}),
                    data={"type": "git", "url": getattr(source, host), "username": GIT_USERNAMES[host],
                          "password": token.secret_string}))
            created.append(secret.SecretV1(
                self, f"flux-{host}", provider=self._kubernetes,
                metadata=secret.SecretV1Metadata(name=f"git-{host}", namespace=namespaces[FLUX_NAMESPACE].metadata.name),
                data={"username": GIT_USERNAMES[host], "password": token.secret_string}))
        return created
