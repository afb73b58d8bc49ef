"""One environment file, whole: every domain's section and the rules that span them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from pydantic import Field, PrivateAttr, field_validator, model_validator

from environments.schema.backend import BackendConfig
from environments.schema.common import AccountId, Domain, Frozen, ENV_NAME, schema_error
from environments.schema.data import GLOBAL_CACHE_NODE, DataConfig
from environments.schema.dns import DnsConfig, record_fqdn
from environments.schema.eks import EksConfig
from environments.schema.failover import FailoverConfig
from environments.schema.gitops import GitopsConfig
from environments.schema.load_balancing import LoadBalancingConfig
from environments.schema.network import NetworkConfig, RegionsConfig
from environments.schema.observability import ObservabilityConfig
from environments.schema.security import SecurityConfig, LAMBDA_ARN

if TYPE_CHECKING:
    from environments.schema.account import AccountConfig


class EnvironmentConfig(Frozen):
    """One environment, as read from ``environments/<name>.yaml``."""

    name: str
    """Environment name; must equal the file name without ``.yaml``."""

    regions: RegionsConfig
    """Primary and optional standby region. Required."""

    domain: Domain
    """DNS domain the environment serves, e.g. ``platform.example.com``. Required."""

    account_id: AccountId
    """The AWS account (12 digits) the environment deploys into. Required. Every AWS provider
    is limited to it (``allowed_account_ids``): credentials for any other account make
    Terraform stop before it plans, so a wrong profile never touches another environment."""

    network: NetworkConfig = Field(default_factory=NetworkConfig)
    """Network tier knobs. Left out: every default (HA)."""

    tags: dict[str, str] = Field(default_factory=dict)
    """Tags on every AWS resource (provider default_tags); ``Environment`` and
    ``ManagedBy`` are added. Left out: only those two."""

    backend: BackendConfig = Field(default_factory=BackendConfig)
    """Terraform state backend. Left out: local."""

    security: SecurityConfig = Field(default_factory=SecurityConfig)
    """KMS keys and secrets. Left out: the four default keys and no secrets."""

    dns: DnsConfig = Field(default_factory=DnsConfig)
    """DNS zone settings. Left out: every default."""

    load_balancing: LoadBalancingConfig = Field(default_factory=LoadBalancingConfig)
    """ALBs, NLB, WAF and access logs in every region. Left out: every default."""

    eks: EksConfig
    """The cluster of every region. Required: at least ``deployer_role_arn``."""

    gitops: GitopsConfig = Field(default_factory=GitopsConfig)
    """GitOps bootstrap. Left out: ArgoCD primary active, no sources."""

    data: DataConfig = Field(default_factory=DataConfig)
    """The data tier: Aurora global database, ElastiCache global datastore, application buckets,
    ECR repositories and AWS Backup. Left out: every default (no ECR repositories)."""

    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    """Alarms on every load balancer and target group, per AZ and per region, each region alerting
    through its own encrypted topic. Left out: every default (no email subscriptions)."""

    failover: FailoverConfig = Field(default_factory=FailoverConfig)
    """Zonal autoshift with weekly practice runs in every region, and the Region switch plan that moves the
    data tier and both DNS providers to the other region (multi-region environments). Left out: autoshift on,
    a plan that waits for an approval."""

    _account_config: Optional["AccountConfig"] = PrivateAttr(default=None)

    @property
    def account(self) -> "AccountConfig":
        """The account this environment deploys into (``environments/accounts/<name>.yaml`` whose
        ``account_id`` is this one's), resolved by the loader."""
        if self._account_config is None:
            raise LookupError(f"{self.name}: no account resolved; load environments with environments.loader")
        return self._account_config

    @model_validator(mode="after")
    def _data_survives_an_az(self) -> "EnvironmentConfig":
        # With a standby region the environment claims zero SPOF: a writer alone in a region
        # fails over only by recreating the instance (minutes), not by promoting a reader (~30 s).
        if self.regions.standby is not None and self.data.aurora.instances < 2:
            raise schema_error("aurora_instances", "is below 2 in an environment with a standby region; a single "
                                            "instance per region has no in-region failover target; allowed: 2 to 15",
                        field="data.aurora.instances", value=self.data.aurora.instances)
        if self.regions.standby is not None and not self.data.aurora.instance_class.startswith("db.r"):
            raise schema_error("aurora_class", "is a burstable class, and an environment with a standby region joins its "
                                        "clusters in a global database, which needs memory-optimized instances; "
                                        "allowed: db.r5 and newer, e.g. db.r6g.large",
                        field="data.aurora.instance_class", value=self.data.aurora.instance_class)
        if self.regions.standby is not None and not GLOBAL_CACHE_NODE.match(self.data.cache.node_type):
            raise schema_error("cache_node", "is not a node type Global Datastore supports, and an environment with a "
                                      "standby region joins its caches in one; allowed: cache.m5, m6g, m7g, r5, r6g, "
                                      "r6gd or r7g sizes from large up, e.g. cache.r7g.large",
                        field="data.cache.node_type", value=self.data.cache.node_type)
        return self

    @model_validator(mode="after")
    def _records_consistent(self) -> "EnvironmentConfig":
        seen: dict[str, list[tuple[int, str]]] = {}
        for index, record in enumerate(self.dns.records):
            field = f"dns.records.{index}"
            fqdn = record_fqdn(record.name, self.domain)
            if fqdn is None:
                raise schema_error("record_zone", "is outside the zone {domain}; allowed: '@', a name relative to the "
                                           "domain, or an FQDN ending in '.{domain}.'",
                            field=f"{field}.name", value=record.name, domain=self.domain)
            if record.type == "CNAME" and fqdn == self.domain:
                raise schema_error("cname_apex", "cannot be a CNAME: the apex also holds SOA and NS records; allowed: "
                                          "A/AAAA values, or target: platform", field=f"{field}.name", value=record.name)
            for other_index, other_type in seen.get(fqdn, []):
                if other_type == record.type or "CNAME" in (other_type, record.type):
                    raise schema_error("record_conflict", "conflicts with dns.records.{other} ({other_type} for the same "
                                                   "name); allowed: one record per name and type, and a CNAME alone",
                                field=f"{field}.name", value=record.name, other=other_index, other_type=other_type)
            seen.setdefault(fqdn, []).append((index, record.type))
        return self

    @model_validator(mode="after")
    def _dns_zones(self) -> "EnvironmentConfig":
        parent = self.dns.parent_domain
        if parent is not None and not self.domain.endswith(f".{parent}"):
            raise schema_error("parent_domain", "is not a parent of the domain {domain}; allowed: a suffix of it, e.g. "
                                         "'{example}'", field="dns.parent_domain", value=parent, domain=self.domain,
                        example=self.domain.split(".", 1)[1])
        cloudflare = self.dns.cloudflare
        if cloudflare and cloudflare.zone_name and not (cloudflare.zone_name == self.domain
                                                        or self.domain.endswith(f".{cloudflare.zone_name}")):
            raise schema_error("zone_name", "is neither the domain {domain} nor a parent of it; allowed: the apex of "
                                     "the Cloudflare zone that holds the records", field="dns.cloudflare.zone_name",
                        value=cloudflare.zone_name, domain=self.domain)
        return self

    @model_validator(mode="after")
    def _state_per_region(self) -> "EnvironmentConfig":
        backend = self.backend
        if backend.type != "s3" or self.regions.standby is None:
            if backend.standby_bucket:
                raise schema_error("backend", "applies only to an s3 backend of an environment with a standby region; "
                                       "allowed: leave it out", field="backend.standby_bucket",
                            value=backend.standby_bucket)
            return self
        if not backend.standby_bucket:
            raise schema_error("backend", "is required: the standby region's stacks keep their state in the standby "
                                   "region, so a primary-region outage never blocks operating the standby; "
                                   "allowed: an S3 bucket in {region} that receives a replica of backend.bucket",
                        field="backend.standby_bucket", value=None, region=self.regions.standby.name)
        if backend.standby_bucket == backend.bucket:
            raise schema_error("backend", "is backend.bucket itself; allowed: a second bucket, in {region}",
                        field="backend.standby_bucket", value=backend.standby_bucket,
                        region=self.regions.standby.name)
        if backend.lock == "dynamodb":
            raise schema_error("backend", "is 'dynamodb', but a lock table lives in one region and the standby's "
                                   "stacks must lock without the primary; allowed: lockfile (S3-native)",
                        field="backend.lock", value=backend.lock)
        return self

    @model_validator(mode="after")
    def _gitops_consistent(self) -> "EnvironmentConfig":
        regions = [r.name for r in self.regions.all]
        for region in self.gitops.active_by_region:
            if region not in regions:
                raise schema_error("gitops_region", "is not a region of this environment; allowed: {allowed}",
                            field=f"gitops.active_by_region.{region}", value=region, allowed=", ".join(regions))
        secrets = {s.name for s in self.security.secrets}
        if self.gitops.sources:
            for field in ("github_token_secret", "gitlab_token_secret"):
                name = getattr(self.gitops, field)
                if name not in secrets:
                    raise schema_error("gitops_secret", "is not a secret in security.secrets; allowed: {allowed}",
                                field=f"gitops.{field}", value=name, allowed=", ".join(sorted(secrets)) or "none")
        if self.failover.zonal_autoshift and not self.observability.canary_minutes:
            raise schema_error("autoshift_alarm", "needs observability.canary_minutes above 0 (the region's canary "
                               "alarm judges the weekly practice runs); allowed: false, or canaries on",
                               field="failover.zonal_autoshift", value=True)
        if self.failover.fault_injection and not self.observability.canary_minutes:
            raise schema_error("fault_injection_alarm", "needs observability.canary_minutes above 0 (the region's "
                               "canary alarm stops every experiment); allowed: false, or canaries on",
                               field="failover.fault_injection", value=True)
        if self.regions.standby is not None and self.failover.automatic and not self.observability.canary_minutes:
            raise schema_error("failover_trigger", "needs observability.canary_minutes above 0 (the standby's canary "
                               "of the primary's names is what starts the plan); allowed: false, or canaries on",
                               field="failover.automatic", value=True)
        token = self.failover.cloudflare_token_secret
        if self.regions.standby is not None and self.dns.cloudflare is not None and token not in secrets:
            raise schema_error("failover_secret", "is not a secret in security.secrets (the Region switch plan's "
                               "DNS step reads it to turn Cloudflare's pools); allowed: {allowed}",
                               field="failover.cloudflare_token_secret", value=token,
                               allowed=", ".join(sorted(secrets)) or "none")
        return self

    @model_validator(mode="after")
    def _rotation_in_primary_region(self) -> "EnvironmentConfig":
        arns = [("security.rotation_function_arn", self.security.rotation_function_arn)] + [
            (f"security.secrets.{i}.rotation_function_arn", s.rotation_function_arn)
            for i, s in enumerate(self.security.secrets)]
        for field, arn in arns:
            if arn and LAMBDA_ARN.match(arn).group("region") != self.regions.primary.name:
                raise schema_error("rotation_region", "is not in the primary region; allowed: a Lambda in {region} "
                                               "(rotation runs where the primary secret lives)",
                            field=field, value=arn, region=self.regions.primary.name)
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not ENV_NAME.match(value) or value == "account" or value.startswith("account-"):
            raise schema_error("name", "is not a valid environment name; allowed: 1-20 of a-z, 0-9 and '-', "
                                "starting with a letter, not 'account' or 'account-...' (the account stacks' names)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag in value.items():
            if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
                raise schema_error("tag", "is not a valid tag key; allowed: 1-128 characters, not starting with 'aws:'",
                            field=key, value=key)
            if len(tag) > 256:
                raise schema_error("tag", "is too long; allowed: at most 256 characters", field=key, value=tag)
        return value

    @property
    def all_tags(self) -> dict[str, str]:
        """The environment's tags plus the ones spofless always sets, sorted by key."""
        merged = {"Environment": self.name, "ManagedBy": "spofless", **self.tags}
        return dict(sorted(merged.items()))
