"""Route53, the primary DNS provider: static records and the health-checked failover tree."""

from __future__ import annotations

from typing import Optional

from constructs import Construct

from environments.schema import HealthCheckDnsConfig
from modules.dns.records import PlatformRecord, StaticRecord, backup_name, region_name, require_supported
from modules.loadbalancing.load_balancers import LoadBalancerInfo
from modules.loadbalancing.placement import LB_ORDER
from modules.providers import aws


class Route53Records(Construct):
    """Every record of the environment in the Route53 zone.

    For a platform name F, Route53's failover routing (two slots per name) is
    chained through intermediate names, giving the design's order:

        F                                PRIMARY -> <primary region>.failover.F   (region health check)
                                         SECONDARY -> <standby region>.failover.F (region health check)
        <region>.failover.F              PRIMARY -> primary ALB                   (its health check)
                                         SECONDARY -> backup.<region>.failover.F
        backup.<region>.failover.F       PRIMARY -> secondary ALB                 (its health check)
                                         SECONDARY -> NLB                         (its health check)

    A region's health, with canaries (``canary_alarms``: region -> (alarm name, its settings)): the region's canary
    alarm, read by a CLOUDWATCH_METRIC check, and the region's branch through evaluate-target-health
    (an alias with both is healthy only when both are:
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-values-failover-alias.html).
    So a region is taken out when all three load balancers fail their checks, or when they answer but
    the canary's requests through them fail. Without canaries: a calculated check, healthy while any
    of its three load balancers is. (A calculated check cannot have a calculated child, which is why
    the canary is not one more child of it: https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/
    health-checks-creating-values.html#health-checks-creating-values-calculated.) Every alias also
    evaluates its target's health.
    """

    # the static record types this construct serves (Route53 serves more; these are the ones it renders)
    # https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/ResourceRecordTypes.html
    SUPPORTS = frozenset({"A", "AAAA", "CNAME", "TXT", "MX", "CAA"})

    def __init__(self, scope: Construct, construct_id: str, *, zone_id: str, static: list[StaticRecord],
                 platform: list[PlatformRecord], load_balancers: dict[str, dict[str, LoadBalancerInfo]],
                 health: HealthCheckDnsConfig, name: str, canary_alarms: Optional[dict[str, tuple[str, str]]] = None,
                 inactive_alarms: Optional[dict[str, str]] = None):
        super().__init__(scope, construct_id)
        self.zone_id = zone_id
        record = aws("route53_record")
        self._record = record
        for item in static:
            require_supported("Route53", self.SUPPORTS, item)
            record.Route53Record(self, f"static-{item.type}-{item.fqdn}", zone_id=zone_id, name=item.fqdn,
                                 type=item.type, ttl=item.ttl, records=[value.text() for value in item.values])
        self.health_checks: dict[tuple[str, str], str] = {}
        self.region_checks: dict[str, str] = {}
        check = aws("route53_health_check").Route53HealthCheck
        for region, lbs in load_balancers.items():
            for key in LB_ORDER:
                self.health_checks[(region, key)] = check(
                    self, f"hc-{region}-{key}", type="HTTPS", fqdn=lbs[key].dns_name, port=443,
                    resource_path=health.path, request_interval=health.interval_seconds,
                    failure_threshold=health.failure_threshold, enable_sni=True,
                    tags={"Name": f"{name}-{region}-{key}"}).id
            if canary_alarms and region in canary_alarms:
                # The alarm is in the region it watches. Route53 reads the alarm's data, not its state: with
                # no data (a canary that stopped, a region whose CloudWatch is gone) the check is unhealthy,
                # as the alarm's own missing data breaches. Route53 copies the alarm's settings when the
                # check is created, so `triggers` carries them: a changed alarm replaces the check.
                # https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-updating-cloudwatch-alarm-settings.html
                alarm, settings = canary_alarms[region]
                self.region_checks[region] = check(
                    self, f"hc-{region}-canary", type="CLOUDWATCH_METRIC",
                    cloudwatch_alarm_name=alarm, cloudwatch_alarm_region=region,
                    insufficient_data_health_status="Unhealthy", triggers={"alarm": settings},
                    tags={"Name": f"{name}-{region}-canary"}).id
            else:
                self.region_checks[region] = check(
                    self, f"hc-{region}", type="CALCULATED", child_health_threshold=1,
                    child_healthchecks=[self.health_checks[(region, key)] for key in LB_ORDER],
                    tags={"Name": f"{name}-{region}"}).id
            if inactive_alarms and region in inactive_alarms:
                # The failover plan's DNS step sets the region's RegionInactive alarm: healthy only while the region
                # serves and is not being left. Without data (no run yet, or none since) the check keeps its last
                # status; a new check starts healthy.
                # https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-creating-values.html
                inactive = check(
                    self, f"hc-{region}-not-inactive", type="CLOUDWATCH_METRIC",
                    cloudwatch_alarm_name=inactive_alarms[region], cloudwatch_alarm_region=region,
                    insufficient_data_health_status="LastKnownStatus", tags={"Name": f"{name}-{region}-not-inactive"}).id
                self.region_checks[region] = check(
                    self, f"hc-{region}-active", type="CALCULATED", child_health_threshold=2,
                    child_healthchecks=[self.region_checks[region], inactive],
                    tags={"Name": f"{name}-{region}-active"}).id
        regions = list(load_balancers)
        for item in platform:
            region_records = {}
            for region in regions:
                lbs = load_balancers[region]
                # Route53 rejects an alias to a name of the same zone that does not exist yet
                # (InvalidChangeBatch: "Tried to create an alias that targets ..., but it doesn't
                # exist"), so every alias to an intermediate name depends on the records that make
                # it: https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-choosing-alias-non-alias.html
                backup = [
                    self._failover(backup_name(item.fqdn, region), "PRIMARY", self._lb_alias(lbs["alb-secondary"]),
                                   self.health_checks[(region, "alb-secondary")], f"{region}-alb-secondary"),
                    self._failover(backup_name(item.fqdn, region), "SECONDARY", self._lb_alias(lbs["nlb"]),
                                   self.health_checks[(region, "nlb")], f"{region}-nlb"),
                ]
                region_records[region] = [
                    self._failover(region_name(item.fqdn, region), "PRIMARY", self._lb_alias(lbs["alb-primary"]),
                                   self.health_checks[(region, "alb-primary")], f"{region}-alb-primary"),
                    self._failover(region_name(item.fqdn, region), "SECONDARY",
                                   self._name_alias(backup_name(item.fqdn, region)), None, f"{region}-backup",
                                   depends_on=backup),
                ]
            if len(regions) == 1:
                # One region: the name points at the region's tree; there is nowhere to fail over to.
                record.Route53Record(self, f"platform-{item.fqdn}", zone_id=zone_id, name=item.fqdn, type="A",
                                     alias=self._name_alias(region_name(item.fqdn, regions[0])),
                                     depends_on=region_records[regions[0]])
                continue
            for role, region in zip(("PRIMARY", "SECONDARY"), regions):
                self._failover(item.fqdn, role, self._name_alias(region_name(item.fqdn, region)),
                               self.region_checks[region], region, depends_on=region_records[region])

    def _lb_alias(self, lb: LoadBalancerInfo) -> dict:
        return {"name": lb.dns_name, "zone_id": lb.zone_id, "evaluate_target_health": True}

    def _name_alias(self, fqdn: str) -> dict:
        return {"name": fqdn, "zone_id": self.zone_id, "evaluate_target_health": True}

    def _failover(self, fqdn: str, role: str, alias: dict, health_check_id: Optional[str], identifier: str,
                  depends_on: Optional[list] = None):
        return self._record.Route53Record(
            self, f"{role.lower()}-{fqdn}", zone_id=self.zone_id, name=fqdn, type="A", alias=alias,
            set_identifier=identifier, failover_routing_policy={"type": role}, health_check_id=health_check_id,
            depends_on=depends_on)
