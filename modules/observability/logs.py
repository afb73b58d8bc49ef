"""One cluster's container logs and traces: the CloudWatch Observability EKS add-on, into log groups created first.

The add-on runs Fluent Bit (container, data-plane and host logs) and the CloudWatch agent (Container Insights,
and the trace receivers: X-Ray on 2000 and OTLP on 4317/4318 of every node) as DaemonSets, with a role through
EKS Pod Identity on its ``cloudwatch-agent`` service account (the policy AWS documents for it). Its log
groups are created here, encrypted with the region's logs key and kept ``observability.log_retention_days``:
left to Fluent Bit, it would create them itself, unencrypted and kept forever (its retention setting only
applies to groups it creates, and an existing group is taken as it is).
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/install-CloudWatch-Observability-EKS-addon.html
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-reference.html
https://docs.aws.amazon.com/eks/latest/userguide/amazon-cloudwatch-observability.html

Traces land in X-Ray in the cluster's region. X-Ray's encryption setting is one per account and region, so it
belongs to the account, not to an environment; left at X-Ray's default, traces are encrypted with an AWS
owned key.
"""

from __future__ import annotations

import json

from constructs import Construct

from environments.schema import ObservabilityConfig
from modules.providers import aws

ADDON = "amazon-cloudwatch-observability"
NAMESPACE, SERVICE_ACCOUNT = "amazon-cloudwatch", "cloudwatch-agent"
POLICY = "CloudWatchAgentServerPolicy"
# what Fluent Bit (application, dataplane, host) and the agent (performance) write to, per cluster
LOG_KINDS = ("application", "dataplane", "host", "performance")
# the trace receivers the agent opens on every node (the operator adds the ports for what the config names)
XRAY_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT = 2000, 4317, 4318


def container_log_group(cluster: str, kind: str) -> str:
    return f"/aws/containerinsights/{cluster}/{kind}"


def addon_configuration(on_demand: dict) -> str:
    """The add-on's configuration values: container logs on, the agent's own configuration (Container Insights
    and the trace receivers, bound to every address of the node so pods reach them), the controller on
    on-demand nodes. The values replace the add-on's defaults as a whole, so what is not named is off
    (Application Signals among them)."""
    agent = {
        "logs": {"metrics_collected": {"kubernetes": {"enhanced_container_insights": True}}},
        "traces": {"traces_collected": {
            "xray": {"bind_address": f"0.0.0.0:{XRAY_PORT}", "tcp_proxy": {"bind_address": f"0.0.0.0:{XRAY_PORT}"}},
            "otlp": {"grpc_endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}", "http_endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"}}},
    }
    return json.dumps({"agent": {"config": agent}, "containerLogs": {"enabled": True},
                       "manager": {"nodeSelector": on_demand}}, sort_keys=True, separators=(",", ":"))


class ContainerLogs(Construct):
    """The add-on on ``cluster`` (a modules.eks.cluster.Cluster), its role and its log groups."""

    def __init__(self, scope: Construct, construct_id: str, *, cluster, version: str,
                 config: ObservabilityConfig, logs_key_arn: str, partition: str, on_demand: dict):
        super().__init__(scope, construct_id)
        self.log_groups = [
            aws("cloudwatch_log_group").CloudwatchLogGroup(
                self, kind, name=container_log_group(cluster.name, kind), retention_in_days=config.log_retention_days,
                kms_key_id=logs_key_arn)
            for kind in LOG_KINDS]
        role = cluster.pod_role("cloudwatch-observability", NAMESPACE, SERVICE_ACCOUNT)
        attachment = aws("iam_role_policy_attachment").IamRolePolicyAttachment(
            self, "policy", role=role.name, policy_arn=f"arn:{partition}:iam::aws:policy/{POLICY}")
        addon = aws("eks_addon")
        self.addon = addon.EksAddon(
            self, "addon", cluster_name=cluster.cluster.name, addon_name=ADDON, addon_version=version,
            configuration_values=addon_configuration(on_demand),
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            pod_identity_association=[addon.EksAddonPodIdentityAssociation(
                role_arn=role.arn, service_account=SERVICE_ACCOUNT)],
            # its pods need nodes, its groups must exist before Fluent Bit looks for them, its role its policy
            depends_on=[*cluster.node_groups.values(), *self.log_groups, attachment])
