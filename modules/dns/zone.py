"""The environment's public hosted zone and the regional TLS certificates validated in it."""

from __future__ import annotations

from typing import Optional

from cdktf import Fn, Token
from constructs import Construct

from modules.iam import AccountContext, policy_document
from modules.providers import aws
from modules.security.keys import RegionalKey, dnssec_signing_key


class HostedZone(Construct):
    """A public Route53 hosted zone for the environment's domain, with query logging.

    Route53 delivers query logs only to CloudWatch Logs in us-east-1, under
    ``/aws/route53/``, so the log group and its resource policy use a us-east-1
    provider whatever the environment's regions.
    """

    def __init__(self, scope: Construct, construct_id: str, *, domain: str, env_name: str, provider,
                 us_east_1_provider, query_log_key: RegionalKey, query_log_retention_days: int,
                 account: AccountContext, existing_zone_id: Optional[str] = None, dnssec: bool = False,
                 parent_domain: Optional[str] = None, other_name_servers: tuple[str, ...] = ()):
        super().__init__(scope, construct_id)
        self.domain = domain
        self.delegation = None
        if existing_zone_id:
            self.zone = aws("data_aws_route53_zone").DataAwsRoute53Zone(
                self, "zone", provider=provider, zone_id=existing_zone_id)
        else:
            self.zone = aws("route53_zone").Route53Zone(
                self, "zone", provider=provider, name=domain,
                comment=f"spofless {env_name}: primary DNS provider (Cloudflare serves the same records as backup)",
                lifecycle={"prevent_destroy": True},
                tags={"spofless:delegation": f"parent:{parent_domain}" if parent_domain else "registrar"},
            )
        self.zone_id: str = self.zone.zone_id
        self.name_servers = self.zone.name_servers
        both = (Token.as_list(Fn.concat([self.name_servers, list(other_name_servers)])) if other_name_servers
                else self.name_servers)
        if not existing_zone_id and other_name_servers:
            # Parity: the apex NS set names both providers, so a resolver that reached either learns
            # both (Route53 creates the set with its own four servers only).
            aws("route53_record").Route53Record(
                self, "apex-ns", provider=provider, zone_id=self.zone_id, name=domain, type="NS", ttl=172800,
                records=both, allow_overwrite=True)
        if parent_domain:
            # The parent zone delegates this domain; without it nothing resolves and ACM waits for
            # validation records nobody can see. https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/CreatingNewSubdomain.html
            parent = aws("data_aws_route53_zone").DataAwsRoute53Zone(
                self, "parent", provider=provider, name=parent_domain, private_zone=False)
            self.delegation = aws("route53_record").Route53Record(
                self, "delegation", provider=provider, zone_id=parent.zone_id, name=domain, type="NS", ttl=3600,
                records=both, allow_overwrite=True)
        if dnssec:
            self._dnssec(us_east_1_provider, account, env_name)
        group = aws("cloudwatch_log_group").CloudwatchLogGroup(
            self, "query-logs", provider=us_east_1_provider, name=f"/aws/route53/{domain}",
            retention_in_days=query_log_retention_days, kms_key_id=query_log_key.arn)
        policy = aws("cloudwatch_log_resource_policy").CloudwatchLogResourcePolicy(
            self, "query-log-delivery", provider=us_east_1_provider,
            policy_name=f"{env_name}-route53-query-logs",
            policy_document=policy_document([{
                "Sid": "Route53QueryLogs", "Effect": "Allow", "Principal": {"Service": "route53.amazonaws.com"},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{group.arn}:*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}},
            }]))
        aws("route53_query_log").Route53QueryLog(
            self, "query-log", provider=provider, zone_id=self.zone.zone_id,
            cloudwatch_log_group_arn=group.arn, depends_on=[policy])


    def _dnssec(self, us_east_1_provider, account: AccountContext, env_name: str) -> None:
        """DNSSEC signing with an asymmetric KMS key in us-east-1 (where Route53 requires it)."""
        key = dnssec_signing_key(self, "dnssec-key", provider=us_east_1_provider, env_name=env_name, account=account)
        signing = aws("route53_key_signing_key").Route53KeySigningKey(
            self, "ksk", provider=us_east_1_provider, hosted_zone_id=self.zone_id, key_management_service_arn=key.arn,
            name=f"{env_name}-ksk")
        aws("route53_hosted_zone_dnssec").Route53HostedZoneDnssec(
            self, "dnssec", provider=us_east_1_provider, hosted_zone_id=self.zone_id, depends_on=[signing])


def _validation_option(options: str, name: str, attribute: str) -> str:
    """``attribute`` of the validation option for ``name``, from the ``options`` set's address."""
    return "${{ for o in " + options + " : o.domain_name => o." + attribute + ' }["' + name + '"]}'


class RegionalCertificates(Construct):
    """An ACM certificate for ``domain`` (and named hosts below it) in each region, DNS-validated.

    ACM gives every certificate of one domain in one account the same
    validation CNAME, whatever the region, so the records are created once
    (from the primary region's certificate) and both validations wait on them.
    Consumers get the ARN *after* validation, so no listener is ever created
    with a certificate that is not yet issued.
    """

    def __init__(self, scope: Construct, construct_id: str, *, domain: str, names: tuple[str, ...],
                 zone: HostedZone, providers: dict[str, object], zone_provider):
        """``names``: FQDNs below ``domain`` the certificate also covers."""
        super().__init__(scope, construct_id)
        self._arns: dict[str, str] = {}
        certificates = {}
        for region, provider in providers.items():
            certificates[region] = aws("acm_certificate").AcmCertificate(
                self, f"certificate-{region}",
                provider=provider,
                domain_name=domain,
                subject_alternative_names=list(names) or None,
                validation_method="DNS",
                key_algorithm="EC_prime256v1",
                lifecycle={"create_before_destroy": True},
                tags={"Name": domain},
            )
        # One record per name, addressed by the name: the names are known when planning, the
        # record values only once ACM answers. (A for_each over domain_validation_options has
        # keys Terraform cannot know before apply, and the first apply fails.)
        first = next(iter(certificates.values()))
        self.validation_records: dict[str, object] = {}
        options = f"{first.terraform_resource_type}.{first.friendly_unique_id}.domain_validation_options"
        fqdns = []
        for name in [domain, *names]:
            record = aws("route53_record").Route53Record(
                self, f"validation-{name}",
                provider=zone_provider,
                zone_id=zone.zone_id,
                name=_validation_option(options, name, "resource_record_name"),
                type=_validation_option(options, name, "resource_record_type"),
                records=[_validation_option(options, name, "resource_record_value")],
                ttl=300,
                # records written by an earlier certificate for the same names are taken over, not duplicated
                allow_overwrite=True,
            )
            self.validation_records[name] = record
            fqdns.append(record.fqdn)
        for region, certificate in certificates.items():
            validation = aws("acm_certificate_validation").AcmCertificateValidation(
                self, f"validation-{region}",
                provider=providers[region],
                certificate_arn=certificate.arn,
                validation_record_fqdns=fqdns,
                # ACM resolves the records through public DNS: the zone must be delegated first
                depends_on=[zone.delegation] if zone.delegation is not None else None,
            )
            self._arns[region] = validation.certificate_arn

    def certificate_arn(self, region: str) -> str:
        """The issued certificate's ARN in ``region``."""
        return self._arns[region]
