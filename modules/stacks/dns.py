"""``<env>-dns-route53`` and ``<env>-dns-cloudflare``: one record set, two independent providers.

Separate stacks so an outage of one provider's API never blocks a change at the
other; both read the zone's records from the same plan and the load balancers
from the regional stacks.
"""

from __future__ import annotations

from cdktf import Fn
from constructs import Construct

from environments.schema import EnvironmentConfig
from modules.dns.cloudflare import CloudflareRecords
from modules.dns.records import plan_records
from modules.dns.route53 import Route53Records
from modules.loadbalancing.load_balancers import LoadBalancerInfo
from modules.failover import inactive_alarm_name
from modules.observability.naming import canary_alarm_name, canary_alarm_trigger
from modules.providers import cloudflare
from modules.stacks import names
from modules.stacks.base import SpoflessStack

LoadBalancers = dict[str, dict[str, LoadBalancerInfo]]


class Route53DnsStack(SpoflessStack):
    """Static records and the health-checked failover tree in the Route53 zone."""

    def __init__(self, scope: Construct, stack_id: str, *, env: EnvironmentConfig, zone_id: str,
                 load_balancers: LoadBalancers):
        super().__init__(scope, stack_id, env=env)
        self.aws_provider(env.regions.primary.name)
        multi_region = env.regions.standby is not None
        static, platform = plan_records(env)
        # each region's canary alarm (in that region: no home region), when the environment runs canaries
        observed = env.observability
        canaries = {region: (canary_alarm_name(names.regional(env.name, region)),
                             canary_alarm_trigger(observed.canary_minutes, observed.evaluation_minutes))
                    for region in load_balancers} if observed.canary_minutes else {}
        self.records = Route53Records(self, "records", zone_id=zone_id, static=static, platform=platform,
                                      load_balancers=load_balancers, health=env.dns.health_check, name=env.name,
                                      canary_alarms=canaries,
                                      inactive_alarms={r.name: inactive_alarm_name(names.regional(env.name, r.name))
                                                       for r in env.regions.all} if multi_region else None)


class CloudflareDnsStack(SpoflessStack):
    """The same records at Cloudflare, with a Cloudflare load balancer for platform names."""

    def __init__(self, scope: Construct, stack_id: str, *, env: EnvironmentConfig, load_balancers: LoadBalancers,
                 zone, certificates):
        super().__init__(scope, stack_id, env=env)
        # Credentials come from CLOUDFLARE_API_TOKEN at deploy time; none are synthesized.
        provider = cloudflare("provider").CloudflareProvider(self, "cloudflare")
        static, platform = plan_records(env)
        self.records = CloudflareRecords(self, "records", domain=env.domain, env_name=env.name,
                                         config=env.dns.cloudflare, static=static, platform=platform,
                                         load_balancers=load_balancers, health=env.dns.health_check,
                                         provider=provider, route53_name_servers=zone.name_servers,
                                         validation_records={
                                             name: (record.name, Fn.element(record.records, 0))
                                             for name, record in certificates.validation_records.items()})
