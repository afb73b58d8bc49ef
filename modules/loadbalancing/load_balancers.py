"""Three load balancers per region: primary ALB (AZs a/b), secondary ALB (b/c), backup NLB (all)."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from environments.schema import LoadBalancingConfig
from modules.iam import AccountContext
from modules.loadbalancing.access_logs import AccessLogBucket
from modules.loadbalancing.placement import LB_ORDER, alb_zones, lb_name
from modules.loadbalancing.waf import WebAcl
from modules.network.network import Network
from modules.outputs import stack_output
from modules.providers import aws
from modules.security.keys import RegionalKey

# TLS 1.3 preferred, TLS 1.2 as the floor, forward-secret ciphers only.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class LoadBalancerInfo:
    """What the DNS tier and users need to know about one load balancer."""

    key: str
    arn: str
    dns_name: str
    zone_id: str
    zones: tuple[str, ...]
    target_group_arn: str
    target_port: int
    """The port of the in-cluster gateway the target group sends to."""
    arn_suffix: str = ""
    """``app/<name>/<id>`` / ``net/...``: the ``LoadBalancer`` dimension of its CloudWatch metrics."""
    target_group_arn_suffix: str = ""
    """``targetgroup/<name>/<id>``: the ``TargetGroup`` dimension."""


class LoadBalancing(Construct):
    """Dual ALB + NLB with TLS, WAF, access logs, and the security groups of the three tiers."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, region: str, network: Network,
                 config: LoadBalancingConfig, certificate_arn: str, logs_key: RegionalKey, nodes_sg,
                 account: AccountContext, server_log_sources: tuple[str, ...] = ()):
        super().__init__(scope, construct_id)
        self.name = name
        self.config = config
        self.network = network
        self.nodes_sg = nodes_sg  # the EKS construct's; the load balancers open their ports into it
        self.logs = AccessLogBucket(self, "access-logs", name=f"{name}-lb-logs-{account.account_id}",
                                    region=region, expiry_days=config.access_log_expiry_days, account=account,
                                    prefixes=LB_ORDER, server_log_sources=server_log_sources)
        self.waf = WebAcl(self, "waf", name=name, region=region, rate_limit=config.waf_rate_limit,
                          body_limit_kib=config.request_body_limit_kib,
                          log_retention_days=config.waf_log_retention_days,
                          logs_key=logs_key, account=account)
        self._security_groups()
        primary_zones, secondary_zones = alb_zones(network.zones)
        self.load_balancers: dict[str, LoadBalancerInfo] = {}
        for key, zones in (("alb-primary", primary_zones), ("alb-secondary", secondary_zones)):
            self.load_balancers[key] = self._alb(key, zones, certificate_arn)
        self.load_balancers["nlb"] = self._nlb(network.zones, certificate_arn)
        self._outputs()

    # -- security groups: internet -> load balancers -> nodes, nothing else -------------------

    def _security_group(self, key: str, description: str):
        return aws("security_group").SecurityGroup(
            self, f"{key}-sg", name=f"{self.name}-{key}", description=description,
            vpc_id=self.network.vpc_id, tags={"Name": f"{self.name}-{key}"})

    def _ingress(self, rule_id: str, group, description: str, port: int, *, cidr: str = None, source=None):
        aws("vpc_security_group_ingress_rule").VpcSecurityGroupIngressRule(
            self, rule_id, security_group_id=group.id, description=description, ip_protocol="tcp",
            from_port=port, to_port=port, cidr_ipv4=cidr,
            referenced_security_group_id=source.id if source is not None else None)

    def _egress_to_nodes(self, rule_id: str, group, port: int) -> None:
        aws("vpc_security_group_egress_rule").VpcSecurityGroupEgressRule(
            self, rule_id, security_group_id=group.id, description=f"to workloads on {port}",
            ip_protocol="tcp", from_port=port, to_port=port, referenced_security_group_id=self.nodes_sg.id)

    def _security_groups(self) -> None:
        port, nlb_port = self.config.app_port, self.config.nlb_target_port
        self.alb_sg = self._security_group("alb", "ALBs: HTTPS (and HTTP to redirect) from the internet")
        self.nlb_sg = self._security_group("nlb", "NLB: TLS from the internet")
        self._ingress("alb-in-https", self.alb_sg, "HTTPS from the internet", 443, cidr=ANYWHERE)
        self._ingress("alb-in-http", self.alb_sg, "HTTP from the internet, redirected to HTTPS", 80, cidr=ANYWHERE)
        self._ingress("nlb-in-tls", self.nlb_sg, "TLS from the internet", 443, cidr=ANYWHERE)
        self._egress_to_nodes("alb-to-nodes", self.alb_sg, port)
        self._egress_to_nodes("nlb-to-nodes", self.nlb_sg, nlb_port)
        self._ingress("nodes-from-alb", self.nodes_sg, f"{port} from the ALBs", port, source=self.alb_sg)
        self._ingress("nodes-from-nlb", self.nodes_sg, f"{nlb_port} from the NLB", nlb_port, source=self.nlb_sg)

    # -- load balancers -----------------------------------------------------------------------

    def _target_group(self, key: str, protocol: str, port: int, **specific):
        health = self.config.health_check
        return aws("lb_target_group").LbTargetGroup(
            self, f"{key}-targets",
            name=lb_name(self.name, key),
            target_type="ip",
            protocol=protocol,
            port=port,
            vpc_id=self.network.vpc_id,
            deregistration_delay=str(self.config.deregistration_delay_seconds),
            health_check={
                "enabled": True, "protocol": "HTTPS", "port": "traffic-port", "path": health.path,
                "interval": health.interval_seconds, "timeout": health.timeout_seconds,
                "healthy_threshold": health.healthy_threshold,
                "unhealthy_threshold": health.unhealthy_threshold, "matcher": health.matcher,
            },
            tags={"Name": f"{self.name}-{key}"},
            **specific,
        )

    def _subnets(self, zones: tuple[str, ...]) -> list[str]:
        by_zone = self.network.subnet_ids_by_zone("public")
        return [by_zone[zone] for zone in zones]

    def _load_balancer(self, key: str, lb_type: str, zones: tuple[str, ...], security_group, **specific):
        """What every load balancer shares: internet-facing, protected, logged, named by its role."""
        return aws("lb").Lb(
            self, key,
            name=lb_name(self.name, key),
            load_balancer_type=lb_type,
            internal=False,
            security_groups=[security_group.id],
            subnets=self._subnets(zones),
            enable_deletion_protection=True,
            # Zonal shift (ARC) may move traffic away from one AZ of this load balancer: an operator's
            # shift, FIS's experiments and zonal autoshift all need it on (it is off by default).
            # https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-shift.resource-types.html
            enable_zonal_shift=True,
            access_logs={"bucket": self.logs.bucket.id, "prefix": key, "enabled": True},
            tags={"Name": f"{self.name}-{key}", "Role": key},
            # ELB test-writes to the bucket at create time: the policy must exist first.
            depends_on=[self.logs.policy],
            **specific,
        )

    def _alb(self, key: str, zones: tuple[str, ...], certificate_arn: str) -> LoadBalancerInfo:
        lb = self._load_balancer(key, "application", zones, self.alb_sg, drop_invalid_header_fields=True,
                                 enable_http2=True, idle_timeout=self.config.idle_timeout_seconds)
        targets = self._target_group(key, "HTTPS", self.config.app_port)
        listener = aws("lb_listener")
        listener.LbListener(
            self, f"{key}-https", load_balancer_arn=lb.arn, port=443, protocol="HTTPS",
            ssl_policy=TLS_POLICY, certificate_arn=certificate_arn,
            default_action=[listener.LbListenerDefaultAction(type="forward", target_group_arn=targets.arn)])
        listener.LbListener(
            self, f"{key}-http", load_balancer_arn=lb.arn, port=80, protocol="HTTP",
            default_action=[listener.LbListenerDefaultAction(
                type="redirect",
                redirect={"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"})])
        self.waf.protect(f"{key}-waf", lb.arn)
        return LoadBalancerInfo(key, lb.arn, lb.dns_name, lb.zone_id, zones, targets.arn, self.config.app_port,
                                lb.arn_suffix, targets.arn_suffix)

    def _nlb(self, zones: tuple[str, ...], certificate_arn: str) -> LoadBalancerInfo:
        lb = self._load_balancer("nlb", "network", zones, self.nlb_sg, enable_cross_zone_load_balancing=True)
        # WAF cannot be associated with an NLB, so this path is filtered in the cluster: the NLB
        # prepends a proxy protocol v2 header (the client's address; the source of the packets
        # is the NLB itself, preserve_client_ip off) and the gateway's entrypoint on this port
        # applies per-client rate and concurrency limits and the body limit.
        # https://docs.aws.amazon.com/waf/latest/developerguide/waf-chapter.html (ALB, not NLB)
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#proxy-protocol
        # Zonal shift on an NLB with cross-zone load balancing needs its target groups to keep connections to
        # unhealthy targets (AWS refuses the shift otherwise); they drain within the deregistration delay.
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/network/zonal-shift.html
        targets = self._target_group("nlb", "TLS", self.config.nlb_target_port,
                                     proxy_protocol_v2=True, preserve_client_ip="false",
                                     target_health_state=[{"enableUnhealthyConnectionTermination": False}])
        listener = aws("lb_listener")
        listener.LbListener(
            self, "nlb-tls", load_balancer_arn=lb.arn, port=443, protocol="TLS", ssl_policy=TLS_POLICY,
            certificate_arn=certificate_arn, alpn_policy="HTTP2Preferred",
            default_action=[listener.LbListenerDefaultAction(type="forward", target_group_arn=targets.arn)])
        return LoadBalancerInfo("nlb", lb.arn, lb.dns_name, lb.zone_id, zones, targets.arn,
                                self.config.nlb_target_port, lb.arn_suffix, targets.arn_suffix)

    def _outputs(self) -> None:
        for key, info in self.load_balancers.items():
            name = key.replace("-", "_")
            stack_output(self, f"{name}_dns_name", info.dns_name, f"{key} DNS name")
            stack_output(self, f"{name}_zone_id", info.zone_id, f"{key} hosted zone id (for alias records)")
            stack_output(self, f"{name}_target_group_arn", info.target_group_arn, f"{key} target group (type ip)")
