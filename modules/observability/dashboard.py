"""One region's dashboard: its failover state, its per-AZ health and its replication, from its own region only.

CloudWatch dashboards have account-wide names (``<env>-<region>`` here, so two regions never collide), and
every widget names the region its data comes from. Each region's dashboard reads only its own region, and
shows the other region as this region's peer canary sees it: with either region lost, the other's
dashboard still has everything it needs to say where traffic goes and why. Nothing in it is required for
the failover itself (Route53 reads the alarms, not the dashboard).
Widget and body structure: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
"""

from __future__ import annotations

import json
from typing import Optional

from constructs import Construct

from modules.observability.naming import canary_name, peer_canary_name
from modules.providers import aws

WIDTH = 24  # the dashboard grid's width
PERIOD = 60


class RegionalDashboard(Construct):
    """``<stack>``: the region's alarms that decide the failover, the canaries, each load balancer's healthy
    targets per AZ, errors and latency, the web ACL's blocks, and the data tier's replication.

    ``alarm_arns``: the alarms whose state is the failover picture (region, per AZ, canaries);
    ``aurora_lag_cluster``: the standby's Aurora cluster (its lag is published only there);
    ``cache_lag_members``: the standby cache group's members (the lag comes from whichever is its primary);
    ``incoming_replication``: (source bucket, destination bucket, rule id) of the copies this region receives.
    """

    def __init__(self, scope: Construct, construct_id: str, *, stack: str, region: str, load_balancers: dict,
                 alarm_arns: list[str], canaries: bool, peers: list[str], web_acl_name: str,
                 aurora_lag_cluster: Optional[str] = None, cache_lag_members: tuple[str, ...] = (),
                 incoming_replication: Optional[tuple[str, str, str]] = None):
        super().__init__(scope, construct_id)
        self._widgets: list[dict] = []
        self._y = 0
        others = ", ".join(peers) or "none (a single-region environment)"
        self._add(3, {"type": "text", "properties": {"markdown": (
            f"## {stack}\n"
            f"Failover state and health of **{region}**, read from {region} only. "
            "Route53 takes this region out when its canary alarm fails; the peer canary shows the other "
            f"region as seen from here. The other region's dashboard: {others}.")}})
        self._add(4, {"type": "alarm", "properties": {
            "title": "Failover state: the region, each AZ, the canaries", "alarms": list(alarm_arns)}})
        if canaries:
            watched = [(canary_name(stack), "this region")] + ([(peer_canary_name(stack), "the other region")]
                                                              if peers else [])
            self._metric("Canaries: this region's names, and the other region's from here (% of runs passing)",
                         region, [["CloudWatchSynthetics", "SuccessPercent", "CanaryName", name, {"label": label}]
                                  for name, label in watched], stat="Average")
        for key, lb in sorted(load_balancers.items()):
            namespace = "AWS/NetworkELB" if key == "nlb" else "AWS/ApplicationELB"
            self._metric(f"{key}: healthy targets per AZ", region, [
                [namespace, "HealthyHostCount", "LoadBalancer", lb.arn_suffix, "TargetGroup",
                 lb.target_group_arn_suffix, "AvailabilityZone", zone, {"label": zone}] for zone in lb.zones],
                stat="Minimum", width=12)
            if key == "nlb":
                continue
            self._metric(f"{key}: 5xx answers and p99 response time", region, [
                [namespace, "HTTPCode_ELB_5XX_Count", "LoadBalancer", lb.arn_suffix, {"stat": "Sum", "label": "5xx (LB)"}],
                [namespace, "HTTPCode_Target_5XX_Count", "LoadBalancer", lb.arn_suffix,
                 {"stat": "Sum", "label": "5xx (targets)"}],
                [namespace, "TargetResponseTime", "LoadBalancer", lb.arn_suffix,
                 {"stat": "p99", "label": "p99 (s)", "yAxis": "right"}]], stat="Sum", width=12)
        self._metric("Web ACL: requests blocked", region, [
            ["AWS/WAFV2", "BlockedRequests", "WebACL", web_acl_name, "Rule", "ALL", "Region", region]], stat="Sum")
        if aurora_lag_cluster:
            self._metric("Aurora: how far this standby is behind (ms)", region, [
                ["AWS/RDS", "AuroraGlobalDBReplicationLag", "DBClusterIdentifier", aurora_lag_cluster]],
                stat="Maximum")
        if cache_lag_members:
            self._metric("Cache: how far this standby is behind (s)", region, [
                ["AWS/ElastiCache", "GlobalDatastoreReplicationLag", "CacheClusterId", member]
                for member in cache_lag_members], stat="Maximum")
        if incoming_replication:
            source, destination, rule_id = incoming_replication
            self._metric("S3: replication latency of the copies this region receives (s)", region, [
                ["AWS/S3", "ReplicationLatency", "SourceBucket", source, "DestinationBucket", destination,
                 "RuleId", rule_id]], stat="Maximum")
        self.dashboard = aws("cloudwatch_dashboard").CloudwatchDashboard(
            self, "dashboard", dashboard_name=stack,
            dashboard_body=json.dumps({"widgets": self._widgets}, sort_keys=True, separators=(",", ":")))

    def _add(self, height: int, widget: dict, width: int = WIDTH) -> None:
        """Place widgets left to right, rows of the grid's width."""
        row = sum(w["width"] for w in self._widgets if w["y"] == self._y)
        if row + width > WIDTH:
            self._y = max(w["y"] + w["height"] for w in self._widgets)
            row = 0
        self._widgets.append({**widget, "x": row, "y": self._y, "width": width, "height": height})

    def _metric(self, title: str, region: str, metrics: list, *, stat: str, width: int = WIDTH) -> None:
        self._add(6, {"type": "metric", "properties": {
            "title": title, "region": region, "metrics": metrics, "stat": stat, "period": PERIOD,
            "view": "timeSeries", "stacked": False}}, width)
