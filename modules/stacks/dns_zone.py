"""``<env>-dns-zone``: the hosted zone and the certificates every region's load balancers use.

It sits upstream of the regional stacks: an HTTPS listener needs an issued
certificate, and issuing one needs the zone, while the DNS record stacks sit
downstream because they point at the load balancers.
"""

from __future__ import annotations

from constructs import Construct

from environments.schema import EnvironmentConfig
from modules.dns.records import load_balanced_names
from modules.dns.zone import HostedZone, RegionalCertificates
from modules.iam import AccountContext
from modules.outputs import stack_output
from modules.security.keys import KeyRing, single_region_logs_key
from modules.stacks.base import SpoflessStack


QUERY_LOG_REGION = "us-east-1"


class DnsZoneStack(SpoflessStack):
    """Route53 hosted zone for the domain, and a validated ACM certificate per region."""

    def __init__(self, scope: Construct, stack_id: str, *, env: EnvironmentConfig, keys: KeyRing):
        super().__init__(scope, stack_id, env=env)
        providers = {env.regions.primary.name: self.aws_provider(env.regions.primary.name, alias="primary")}
        if env.regions.standby:
            providers[env.regions.standby.name] = self.aws_provider(env.regions.standby.name, alias="standby")
        primary_provider = providers[env.regions.primary.name]
        account = AccountContext(self, "account", provider=primary_provider)
        if QUERY_LOG_REGION in providers:
            log_provider = providers[QUERY_LOG_REGION]
            log_key = keys.key("logs", QUERY_LOG_REGION)
        else:
            # The environment has no region (and so no logs key) in us-east-1: bring both here.
            log_provider = self.aws_provider(QUERY_LOG_REGION, alias="query-logs")
            log_key = single_region_logs_key(
                self, "query-log-key", provider=log_provider, env_name=env.name, region=QUERY_LOG_REGION,
                description="Route53 query logs", deletion_window_days=env.security.key_deletion_window_days,
                account=account)
        self.zone = HostedZone(self, "zone", domain=env.domain, env_name=env.name, provider=primary_provider,
                               us_east_1_provider=log_provider, query_log_key=log_key,
                               query_log_retention_days=env.dns.query_log_retention_days, account=account,
                               existing_zone_id=env.dns.existing_route53_zone_id, dnssec=env.dns.dnssec,
                               parent_domain=env.dns.parent_domain,
                               other_name_servers=env.dns.cloudflare.name_servers if env.dns.cloudflare else ())
        # Every name served through the load balancers, so no hostname the DNS hands out
        # (a www CNAME included) ends in a certificate-name mismatch at the ALB or NLB.
        names = tuple(n for n in load_balanced_names(env) if n != env.domain)
        self.certificates = RegionalCertificates(self, "certificates", domain=env.domain,
                                                 names=names, zone=self.zone,
                                                 providers=providers, zone_provider=primary_provider)
        stack_output(self, "zone_id", self.zone.zone_id, "Route53 hosted zone id")
        stack_output(self, "route53_name_servers", self.zone.name_servers,
                     "List these at the registrar (with Cloudflare's)")
        stack_output(self, "certificate_arns",
                     {region: self.certificates.certificate_arn(region) for region in providers},
                     "Issued ACM certificate ARN by region")
