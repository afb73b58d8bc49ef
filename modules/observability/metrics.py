"""One region's managed Prometheus: a workspace, a managed collector on the region's cluster, the cluster's
alert rules, and an alert manager publishing to the region's own topic (no home region for alerts).

What real AWS enforces here, and the emulator does not:
- the collector's ENIs go in at least two subnets of two AZs, with the cluster's security group, and the
  cluster's endpoint must include private access; with the cluster in ``API`` authentication mode AMP
  creates the collector's access entry itself
  (https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-collector-how-to.html);
- the alert manager publishes only to a Standard topic whose policy admits ``aps.amazonaws.com`` for the
  workspace (else "no resource-based policy allows the SNS:Publish action"), and whose key lets AMP use it
  (https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-alertmanager-receiver-AMPpermission.html);
- the workspace's log group ARN ends in ``:*`` and the log group exists first
  (https://docs.aws.amazon.com/prometheus/latest/APIReference/API_CreateLoggingConfiguration.html).

The workspace is encrypted with an AWS-owned key, not the region's CMK: a workspace under a customer managed
key takes the managed collector only through a pair of IAM roles AMP's own pages disagree about, and a
collector that cannot write loses every alert rule's input silently
(https://docs.aws.amazon.com/prometheus/latest/userguide/encryption-at-rest-Amazon-Service-Prometheus.html).
"""

from __future__ import annotations

import yaml
from constructs import Construct

from environments.schema import ObservabilityConfig
from modules.gitops import addons
from modules.providers import aws

# AMP's smallest scrape interval; a rule's "for" counts in these
SCRAPE_INTERVAL_SECONDS = 30
# The tag AMP puts on a workspace a managed collector writes to (the provider's prometheus_scraper docs)
COLLECTOR_TAG = "AMPAgentlessScraper"
WIDTH = 10_000  # no folded lines: an expression or an ARN stays on one line


def scrape_configuration() -> str:
    """The collector's Prometheus configuration: kube-state-metrics' endpoints, every 30 s."""
    return yaml.safe_dump({
        "global": {"scrape_interval": f"{SCRAPE_INTERVAL_SECONDS}s"},
        "scrape_configs": [{
            "job_name": addons.KSM_SERVICE,
            "kubernetes_sd_configs": [{"role": "endpoints", "namespaces": {"names": [addons.METRICS_NAMESPACE]}}],
            "relabel_configs": [{
                "source_labels": ["__meta_kubernetes_service_name", "__meta_kubernetes_endpoint_port_name"],
                "action": "keep", "regex": f"{addons.KSM_SERVICE};{addons.KSM_PORT_NAME}"}],
        }],
    }, sort_keys=True, width=WIDTH)


def _alert(name: str, expr: str, minutes: int, summary: str) -> dict:
    return {"alert": name, "expr": expr, "for": f"{minutes}m", "labels": {"severity": "page"},
            "annotations": {"summary": summary}}


SPOT_REPLACEMENT_MINUTES = 10
READY = 'max by (node) (kube_node_status_condition{condition="Ready",status="true"})'


def cluster_rules(*, cluster: str, node_groups: dict[str, tuple[int, bool]], engines: str,
                  config: ObservabilityConfig) -> str:
    """The alert rules of one cluster, as the workspace's rule groups namespace holds them.

    ``node_groups``: each node group's name, its minimum size and whether it is spot capacity; ``engines``: a
    regular expression of the engines' namespaces. Every expression takes the max over
    kube-state-metrics' replicas first, so two copies of a series never double a count.
    """
    label = "label_" + "".join(c if c.isalnum() else "_" for c in addons.NODEGROUP_LABEL)
    rules = [
        _alert("KubeStateMetricsDown", f'absent(up{{job="{addons.KSM_SERVICE}"}} == 1)', config.crash_loop_minutes,
               f"{cluster}: no kube-state-metrics answers the collector; every other cluster alert is blind"),
        _alert("NodeNotReady", f"{READY} == 0", config.node_not_ready_minutes,
               f"{cluster}: node {{{{ $labels.node }}}} is not Ready"),
        # a reclaimed spot node's replacement takes minutes to launch and join: not a page before that
        *(_alert("NodeGroupBelowMinimum",
                 f'(count(max by (node) (kube_node_labels{{{label}="{group}"}}) and on (node) ({READY} == 1))'
                 f" or vector(0)) < {minimum}",
                 max(config.node_not_ready_minutes, SPOT_REPLACEMENT_MINUTES) if spot else config.node_not_ready_minutes,
                 f"{cluster}: node group {group} has fewer Ready nodes than its minimum of {minimum}")
          for group, (minimum, spot) in sorted(node_groups.items()) if minimum > 0),
        _alert("ContainerCrashLooping",
               'max by (namespace, pod, container) '
               '(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}) == 1',
               config.crash_loop_minutes,
               f"{cluster}: {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}} ({{{{ $labels.container }}}}) "
               "is crash-looping"),
    ]
    # Both engines' rules everywhere: each alerts only on what is meant to be reconciled (an Argo CD
    # Application that syncs itself, a Flux object that is not suspended), so switching the engine of a
    # cluster (the gitops stacks only) moves the alerts with it.
    rules += [
        _alert("ArgoCDApplicationOutOfSync",
               f'max by (namespace, name) ({addons.ARGOCD_APP_METRIC}_sync{{status="Synced",self_heal="true"}}) == 0',
               config.sync_failure_minutes, f"{cluster}: Argo CD has not synced application {{{{ $labels.name }}}}"),
        _alert("ArgoCDApplicationDegraded",
               f'max by (namespace, name) ({addons.ARGOCD_APP_METRIC}_health{{status="Degraded",self_heal="true"}})'
               " == 1", config.sync_failure_minutes,
               f"{cluster}: Argo CD application {{{{ $labels.name }}}} is degraded"),
        # a source of either Git host counts: a mirror that fails is one the cluster cannot fail over to
        _alert("FluxNotReady",
               f'max by (kind, namespace, name) ({{__name__=~"{addons.FLUX_RESOURCE_METRIC}_.+_info",'
               'ready!="True",suspended!="true"}) == 1', config.sync_failure_minutes,
               f"{cluster}: Flux {{{{ $labels.kind }}}} {{{{ $labels.name }}}} is not Ready"),
        # the engines' status is written by their controllers: one that is down leaves it stale, not failed
        *(_alert(f"GitopsControllerUnavailable{kind}",
                 f'max by (namespace, {metric}) (kube_{metric}_spec_replicas{{namespace=~"{engines}"}}) > '
                 f'max by (namespace, {metric}) (kube_{metric}_status_replicas_{state}{{namespace=~"{engines}"}})',
                 config.sync_failure_minutes,
                 f"{cluster}: {{{{ $labels.namespace }}}}/{{{{ $labels.{metric} }}}} has fewer {state} replicas "
                 "than it asks for")
          for kind, metric, state in (("Deployment", "deployment", "available"),
                                      ("StatefulSet", "statefulset", "ready"))),
    ]
    return yaml.safe_dump({"groups": [{"name": "cluster", "rules": rules}]}, sort_keys=False, width=WIDTH)


def alert_manager_definition(*, topic_arn: str, region: str, stack: str) -> str:
    """Every alert of the workspace to the region's topic, grouped per alert name, re-sent every 4 hours while
    it holds. ``sigv4.region`` is required by AMP's SNS receiver."""
    config = {
        "route": {"receiver": "region-topic", "group_by": ["alertname"], "group_wait": "30s",
                  "group_interval": "5m", "repeat_interval": "4h"},
        "receivers": [{"name": "region-topic", "sns_configs": [{
            "topic_arn": topic_arn, "sigv4": {"region": region},
            "subject": f"{stack}: {{{{ .GroupLabels.alertname }}}}"}]}],
    }
    body = yaml.safe_dump(config, sort_keys=True, width=WIDTH)
    return "alertmanager_config: |\n" + "".join(f"  {line}\n" for line in body.splitlines())


class RegionalMetrics(Construct):
    """The region's workspace (logged, retention from the schema), and once the cluster and the topic exist,
    the collector, the rules and the alert manager (:meth:`watch`)."""

    def __init__(self, scope: Construct, construct_id: str, *, stack: str, config: ObservabilityConfig,
                 logs_key_arn: str):
        super().__init__(scope, construct_id)
        self.stack = stack
        self.config = config
        # vended logs of the workspace (rule evaluation and alert manager errors): created first, encrypted
        self.log_group = aws("cloudwatch_log_group").CloudwatchLogGroup(
            self, "logs", name=f"/aws/vendedlogs/prometheus/{stack}", retention_in_days=config.log_retention_days,
            kms_key_id=logs_key_arn)
        workspace = aws("prometheus_workspace")
        self.workspace = workspace.PrometheusWorkspace(
            self, "workspace", alias=stack,
            logging_configuration=workspace.PrometheusWorkspaceLoggingConfiguration(
                log_group_arn=f"{self.log_group.arn}:*"),
            # AMP tags the workspace its collector writes to; without this every plan would remove the tag
            lifecycle={"ignore_changes": [f'tags["{COLLECTOR_TAG}"]']})
        aws("prometheus_workspace_configuration").PrometheusWorkspaceConfiguration(
            self, "retention", workspace_id=self.workspace.id, retention_period_in_days=config.metrics_retention_days)

    @property
    def workspace_arn(self) -> str:
        return self.workspace.arn

    def watch(self, *, cluster_arn: str, cluster: str, subnet_ids: list[str], security_group_id: str,
              node_groups: dict[str, tuple[int, bool]], engines: str, region: str, topic_arn: str,
              topic_policy) -> None:
        scraper = aws("prometheus_scraper")
        scraper.PrometheusScraper(
            self, "collector", alias=self.stack, scrape_configuration=scrape_configuration(),
            source=[scraper.PrometheusScraperSource(eks=[scraper.PrometheusScraperSourceEks(
                cluster_arn=cluster_arn, subnet_ids=subnet_ids, security_group_ids=[security_group_id])])],
            destination=[scraper.PrometheusScraperDestination(amp=[scraper.PrometheusScraperDestinationAmp(
                workspace_arn=self.workspace.arn)])])
        aws("prometheus_rule_group_namespace").PrometheusRuleGroupNamespace(
            self, "rules", name="cluster", workspace_id=self.workspace.id,
            data=cluster_rules(cluster=cluster, node_groups=node_groups, engines=engines, config=self.config))
        aws("prometheus_alert_manager_definition").PrometheusAlertManagerDefinition(
            self, "alert-manager", workspace_id=self.workspace.id,
            definition=alert_manager_definition(topic_arn=topic_arn, region=region, stack=self.stack),
            depends_on=[topic_policy])
