"""Cloudflare, the backup DNS provider: the same records, and a load balancer for failover.

What differs from Route53, on purpose and by necessity:
- Cloudflare's plain DNS records have no health checks or failover routing;
  failover for platform names comes from a Cloudflare Load Balancer (an add-on
  product) with HTTPS monitors, one pool per AWS load balancer and steering
  ``off``, which tries pools strictly in order: the same order as Route53's tree
  (primary ALB, secondary ALB, NLB; primary region, then standby).
- Records are DNS-only (not proxied): both providers must give the same kind of
  answer, and TLS terminates at the ALBs, not at Cloudflare.
- Cloudflare answers a platform name with the load balancers' DNS names (CNAME
  flattening at the apex); Route53 answers with alias A records.
- The zone is adopted (it exists in the account), and when it is the
  environment's own it is marked multi-provider so Cloudflare accepts being one
  of two authoritative providers listed at the registrar. An environment on a
  subdomain writes its records into the parent zone.
"""

from __future__ import annotations

import hashlib

from cdktf import Fn, TerraformLocal, TerraformStack
from constructs import Construct

from environments.schema import CloudflareConfig, HealthCheckDnsConfig
from modules.dns.records import PlatformRecord, StaticRecord, require_supported
from modules.loadbalancing.load_balancers import LoadBalancerInfo
from modules.loadbalancing.placement import LB_ORDER
from modules.providers import cloudflare
from modules.stacks.names import physical


class CloudflareRecords(Construct):
    """Zone (or an existing one), static records, monitors, pools and load balancers."""

    # the static record types this construct serves, each value rendered by RecordValue.cloudflare()
    # https://developers.cloudflare.com/dns/manage-dns-records/reference/dns-record-types/
    SUPPORTS = frozenset({"A", "AAAA", "CNAME", "TXT", "MX", "CAA"})

    def __init__(self, scope: Construct, construct_id: str, *, domain: str, env_name: str,
                 config: CloudflareConfig, static: list[StaticRecord], platform: list[PlatformRecord],
                 load_balancers: dict[str, dict[str, LoadBalancerInfo]], health: HealthCheckDnsConfig,
                 provider, route53_name_servers, validation_records: dict[str, tuple[str, str]]):
        super().__init__(scope, construct_id)
        self._provider = provider
        # An existing zone, adopted: creating one for a subdomain needs Cloudflare's Enterprise
        # subdomain entitlement (https://developers.cloudflare.com/dns/zone-setups/subdomain-setup/),
        # and an adopted zone exists before any pool names a host in it.
        self.zone_id = config.zone_id
        record = cloudflare("dns_record").DnsRecord
        if (config.zone_name or domain) == domain:
            # The zone is the environment's own: it co-serves with Route53 (multi-provider) and
            # lists Route53's four name servers at the apex beside its own (parity with Route53's copy).
            # https://developers.cloudflare.com/dns/nameservers/nameserver-options/#multi-provider-dns
            settings = cloudflare("zone_dns_settings").ZoneDnsSettings(
                self, "dns-settings", provider=provider, zone_id=self.zone_id, multi_provider=True)
            for index in range(4):  # Route53 assigns every public hosted zone exactly four
                # apex NS records are accepted only once multi-provider DNS is on
                record(self, f"apex-ns-{index}", provider=provider, zone_id=self.zone_id, name=domain, type="NS",
                       ttl=86400, proxied=False, content=Fn.element(route53_name_servers, index),
                       depends_on=[settings])
        # ACM renews by looking the validation CNAMEs up in public DNS, which may ask Cloudflare.
        for name, (record_name, value) in validation_records.items():
            record(self, f"acm-validation-{name}", provider=provider, zone_id=self.zone_id, name=record_name,
                   type="CNAME", ttl=300, proxied=False,
                   # Route53 keeps ACM's trailing dot; Cloudflare stores the name without it and the
                   # v5 provider does not normalise `content`, so a dotted value differs on every plan.
                   # https://github.com/cloudflare/terraform-provider-cloudflare/issues/7286
                   content=Fn.trimsuffix(value, "."))
        for item in static:
            require_supported("Cloudflare", self.SUPPORTS, item)
            for index, value in enumerate(item.values):
                fields = value.cloudflare()
                data = fields.pop("data", None)
                # One resource per value, addressed by the value (Cloudflare keeps each value of a
                # record set as its own record): adding or removing one value creates or deletes
                # that record only, where an address by position shifted every value after it.
                resource = record(self, f"static-{item.type}-{item.fqdn}-{value_key(value.text())}",
                                  provider=provider, zone_id=self.zone_id, name=item.fqdn, type=item.type,
                                  ttl=item.ttl, proxied=False, **fields)
                # Until 2026-11 the address was the value's position in the sorted list: the moved
                # block keeps those records (no-op on a fresh zone; values are sorted, so position
                # `index` held this value).
                resource.move_from_id(f"cloudflare_dns_record.{self._logical_id(f'static-{item.type}-{item.fqdn}-{index}')}")
                if data is not None:
                    # CAA `data.flags` is a dynamic value in provider v5 that the bindings type as a
                    # map; an override writes the number the provider expects.
                    resource.add_override("data", data)
        for item in platform:
            self._load_balancer(item, env_name, config.account_id, load_balancers, health)

    def _logical_id(self, construct_id: str) -> str:
        """The logical id a resource with ``construct_id`` directly in this construct gets (a probe
        element is placed there for the computation and removed again)."""
        probe = TerraformLocal(self, construct_id, 0)
        try:
            return TerraformStack.of(self).get_logical_id(probe)
        finally:
            self.node.try_remove_child(construct_id)

    def _load_balancer(self, item: PlatformRecord, env_name: str, account_id: str,
                       load_balancers: dict[str, dict[str, LoadBalancerInfo]], health: HealthCheckDnsConfig):
        interval = max(60, health.interval_seconds)  # the monitors' floor below the Enterprise plan
        monitor = cloudflare("load_balancer_monitor").LoadBalancerMonitor(
            self, f"monitor-{item.fqdn}", provider=self._provider, account_id=account_id, type="https",
            method="GET", path=health.path, expected_codes="200", port=443,
            interval=interval, retries=2, timeout=5,
            # the same detection budget as Route53's checks (interval x threshold): with the 60 s
            # floor of a monitor's interval, fewer consecutive failures (retries absorb a blip)
            # https://developers.cloudflare.com/load-balancing/monitors/
            consecutive_down=max(1, health.interval_seconds * health.failure_threshold // interval),
            consecutive_up=2,
            header={"Host": [item.fqdn]}, description=f"{env_name} {item.fqdn} readiness")
        pool_module = cloudflare("load_balancer_pool")
        pools = []
        for region, lbs in load_balancers.items():
            for key in LB_ORDER:
                pools.append(pool_module.LoadBalancerPool(
                    self, f"pool-{item.fqdn}-{region}-{key}", provider=self._provider, account_id=account_id,
                    name=pool_name(env_name, region, key, item.fqdn),
                    origins=[pool_module.LoadBalancerPoolOrigins(
                        name=key, address=lbs[key].dns_name, enabled=True,
                        header=pool_module.LoadBalancerPoolOriginsHeader(host=[item.fqdn]))],
                    monitor=monitor.id, minimum_origins=1, enabled=True,
                    # the Region switch plan's DNS step turns a region's pools off and on (modules/failover):
                    # an apply must not bring a region back that the plan took out
                    lifecycle={"ignore_changes": ["enabled"]} if len(load_balancers) > 1 else None))
        cloudflare("load_balancer").LoadBalancer(
            self, f"lb-{item.fqdn}", provider=self._provider, zone_id=self.zone_id, name=item.fqdn,
            default_pools=[pool.id for pool in pools], fallback_pool=pools[-1].id,
            steering_policy="off", proxied=False, ttl=item.ttl, session_affinity="none")


def pool_name(env_name: str, region: str, key: str, fqdn: str) -> str:
    """The Cloudflare pool of one load balancer for one platform name (the failover plan's DNS step finds
    the pools by these names)."""
    return physical(f"{env_name}-{region}-{key}-{fqdn.replace('.', '-')}", 64)


def value_key(text: str) -> str:
    """A short, stable key for one record value (its text as Route53 and the drift check read it)."""
    return hashlib.sha256(text.encode()).hexdigest()[:10]
