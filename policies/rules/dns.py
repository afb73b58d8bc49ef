"""DNS: alias targets exist first, zones delegated before ACM validates in them, Cloudflare entitlements and ordering, parity between the two providers, certificates covering the served names, record content as Cloudflare stores it.

One rule, one place: each cites the document it encodes; its failing and passing fixtures are named
in the registry (:mod:`policies.rules.registry`)."""

from __future__ import annotations

import json
import re
from typing import Optional


from modules.stacks import names
from policies.model.output import Output, as_list
from policies.rules.registry import rule


@rule(4, "A Route53 alias to a name in its own zone depends on the records that create that name",
      "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-values-alias.html")
def alias_order(output: Output):
    for stack in output.stacks:
        records = output.resources(stack, "aws_route53_record")
        by_name: dict[tuple[str, str], set[str]] = {}
        for name, conf in records.items():
            by_name.setdefault((str(conf.get("zone_id")), str(conf.get("name", "")).rstrip(".")), set()).add(name)
        for name, conf in records.items():
            alias = as_list(conf.get("alias"))
            if not alias:
                continue
            alias = alias[0]
            if str(alias.get("zone_id")) != str(conf.get("zone_id")):
                continue
            target = str(alias.get("name", "")).rstrip(".")
            makers = by_name.get((str(conf.get("zone_id")), target), set())
            subject = f"aws_route53_record.{name} -> {target}"
            if not makers:
                yield stack, subject, False, "aliases a name of its own zone that no record of this stack creates"
                continue
            missing = {f"aws_route53_record.{m}" for m in makers} - output.depends_on(stack, conf)
            yield stack, subject, not missing, (
                f"does not depend_on {', '.join(sorted(missing))}: Route53 rejects the alias when its target "
                "does not exist yet (InvalidChangeBatch)")


def _served_names(output: Output, env: str) -> set[str]:
    """Names that reach the LBs: alias records to load balancers (through the tree) and CNAMEs to them."""
    served: set[str] = set()
    for stack in output.stacks_of(env):
        records = output.resources(stack, "aws_route53_record")
        tree = {str(c.get("name", "")).rstrip(".") for c in records.values() if as_list(c.get("alias"))}
        intermediate = {n for n in tree if ".failover." in f".{n}"}
        served |= tree - intermediate
        cnames = {str(c.get("name", "")).rstrip("."): [str(v).rstrip(".") for v in as_list(c.get("records"))]
                  for c in records.values() if c.get("type") == "CNAME" and "${" not in str(c.get("name"))}
        changed = True
        while changed:
            changed = False
            for cname, targets in cnames.items():
                if cname not in served and any(t in served for t in targets):
                    served.add(cname)
                    changed = True
    return served


def _covered(name: str, patterns: set[str]) -> bool:
    return name in patterns or any(p.startswith("*.") and name.count(".") == p.count(".")
                                   and name.endswith(p[1:]) for p in patterns)


@rule(13, "Every host name the DNS serves through the load balancers is on their TLS certificate",
      "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/https-listener-certificates.html")
def certificates_cover_names(output: Output):
    for env in output.environments:
        certificates = [(s, n, c) for s in output.stacks_of(env) for n, c in output.resources(s, "aws_acm_certificate").items()]
        for name in sorted(_served_names(output, env)):
            for stack, cname, cert in certificates:
                names = {cert.get("domain_name"), *as_list(cert.get("subject_alternative_names"))}
                yield stack, f"aws_acm_certificate.{cname} for {name}", _covered(name, names), (
                    f"does not cover {name}, which DNS sends to the load balancers: clients get a "
                    "certificate name mismatch")


@rule(5, "A Route53 zone under another zone of the output is delegated by NS records before ACM validates in it",
      "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/CreatingNewSubdomain.html")
def zones_delegated(output: Output):
    zones = {(stack, name): conf for stack, name, conf in output.every("aws_route53_zone")}
    names = {conf.get("name", "").rstrip(".") for conf in zones.values()}
    for (stack, name), conf in zones.items():
        domain = conf.get("name", "").rstrip(".")
        parents = sorted((n for n in names if domain.endswith(f".{n}")), key=len, reverse=True)
        subject = f"aws_route53_zone.{name} ({domain})"
        if not parents:
            declared = (conf.get("tags") or {}).get("spofless:delegation") == "registrar"
            yield stack, subject, declared, "neither delegated by a parent zone nor declared registrar-delegated"
            continue
        delegations = []
        for rname, record in output.resources(stack, "aws_route53_record").items():
            if record.get("type") != "NS" or str(record.get("name", "")).rstrip(".") != domain:
                continue
            target = next(iter(output.refs(stack, record.get("zone_id"))), None)
            target_conf = output.get(target) if target else None
            if target_conf and str(target_conf.get("name", "")).rstrip(".") == parents[0]:
                delegations.append(f"aws_route53_record.{rname}")
        if not delegations:
            yield stack, subject, False, (f"{parents[0]} is its parent zone and holds no NS records for it: nothing "
                                          "resolves, and ACM validation waits for records nobody can see")
            continue
        waiting = [n for n, v in output.resources(stack, "aws_acm_certificate_validation").items()
                   if not set(delegations) & output.depends_on(stack, v)]
        yield stack, subject, not waiting, (
            f"certificate validation {', '.join(waiting)} does not depend_on the delegation: ACM can start "
            "before the parent zone answers")


@rule(6, "Cloudflare: no zone for a subdomain (Enterprise only), and pools with a Host override wait for their zone",
      "https://developers.cloudflare.com/dns/zone-setups/subdomain-setup/")
def cloudflare_account(output: Output):
    domains = {c.get("name", "").rstrip(".") for _, _, c in output.every("aws_route53_zone")}
    for stack, name, zone in output.every("cloudflare_zone"):
        zone_name = str(zone.get("name", "")).rstrip(".")
        parent = next((d for d in domains if zone_name.endswith(f".{d}")), None)
        yield stack, f"cloudflare_zone.{name} ({zone_name})", parent is None, (
            f"creates a zone for a subdomain of {parent}: that needs the Enterprise subdomain entitlement; "
            "adopt the parent zone (dns.cloudflare.zone_id/zone_name) instead")
    for stack, name, pool in output.every("cloudflare_load_balancer_pool"):
        hosts = [o for o in as_list(pool.get("origins")) if (o.get("header") or {}).get("host")]
        if not hosts:
            continue
        created = [f"cloudflare_zone.{n}" for n in output.resources(stack, "cloudflare_zone")]
        ok = not created or bool(set(created) & output.depends_on(stack, pool))
        yield stack, f"cloudflare_load_balancer_pool.{name}", ok, (
            "overrides the Host header with a name of a zone this stack creates, without waiting for it: "
            "Cloudflare rejects the pool while the zone does not exist")


@rule(11, "DNS parity: each provider lists the other's name servers, and ACM validation records exist at both",
      "https://developers.cloudflare.com/dns/nameservers/nameserver-options/#multi-provider-dns")
def dns_parity(output: Output):
    for env in output.environments:
        cloudflare_stack = names.dns_cloudflare(env)
        if cloudflare_stack not in output.stacks:
            continue
        zone_stack = names.dns_zone(env)
        cf_records = output.resources(cloudflare_stack, "cloudflare_dns_record")
        for zname, zone in output.resources(zone_stack, "aws_route53_zone").items():
            domain = zone.get("name", "").rstrip(".")
            apex = [r for r in output.resources(zone_stack, "aws_route53_record").values()
                    if r.get("type") == "NS" and str(r.get("name")).rstrip(".") == domain
                    and any(ref.address == f"aws_route53_zone.{zname}" for ref in output.refs(zone_stack, r.get("zone_id")))]
            lists_cloudflare = any("cloudflare" in json.dumps(r.get("records")) for r in apex)
            yield zone_stack, f"Route53 apex NS of {domain}", lists_cloudflare, (
                "lists only Route53's own name servers: resolvers that reached Route53 never learn Cloudflare's")
            if apex:  # Route53 creates the apex NS set with the zone: replacing it needs allow_overwrite
                yield zone_stack, f"Route53 apex NS record of {domain}", all(r.get("allow_overwrite") for r in apex), (
                    "does not set allow_overwrite: the create fails because the zone already has its NS set")
            own_zone = any(str(c.get("name")).rstrip(".") == domain and c.get("type") == "NS" for c in cf_records.values())
            settings = output.resources(cloudflare_stack, "cloudflare_zone_dns_settings")
            if settings:  # the Cloudflare zone is the environment's own: its apex must list Route53's servers
                listed = [c for c in cf_records.values() if c.get("type") == "NS" and str(c.get("name")).rstrip(".") == domain
                          and f"cross-stack-reference-input-{zone_stack}" in str(c.get("content"))]
                yield cloudflare_stack, f"Cloudflare apex NS of {domain}", len(listed) >= 2, (
                    "lists only Cloudflare's own name servers: resolvers that reached Cloudflare never learn Route53's")
                waiting = {f"cloudflare_zone_dns_settings.{n}" for n in settings}
                early = [c for c in listed if not waiting & output.depends_on(cloudflare_stack, c)]
                yield cloudflare_stack, f"Cloudflare apex NS records of {domain}", bool(listed) and not early, (
                    "are created without waiting for the multi-provider setting, and Cloudflare refuses apex NS "
                    "records until it is on")
            elif own_zone:
                yield cloudflare_stack, f"NS of {domain}", False, (
                    "delegates the environment's own name away inside the shared Cloudflare zone")
        cf_names = {ref.address for c in cf_records.values() if c.get("type") == "CNAME"
                    for ref in output.refs(cloudflare_stack, c.get("name"))}
        for rname, record in output.resources(zone_stack, "aws_route53_record").items():
            if "domain_validation_options" not in str(record.get("name")):
                continue
            yield zone_stack, f"ACM validation record aws_route53_record.{rname}", \
                f"aws_route53_record.{rname}" in cf_names, (
                    "exists only in Route53: a renewal lookup answered by Cloudflare finds nothing")


NAME_TYPES = ("CNAME", "MX", "NS", "SRV", "PTR")


_REFERENCE = re.compile(r"data\.terraform_remote_state\.[A-Za-z0-9_-]+\.outputs\.[A-Za-z0-9_-]+|"
                        r"\b(?:data\.)?aws_[a-z0-9_]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_]+")


def _dotted_source(output: Output, stack: str, content: str) -> Optional[str]:
    """Why ``content`` reaches Cloudflare with a trailing dot, or None."""
    if not content.startswith("${"):
        return "a literal ending in '.'" if content.rstrip().endswith(".") else None
    if "trimsuffix(" in content.replace(" ", ""):
        return None
    # the references inside the expression (function calls around them included)
    inner = [match.group(0) for match in _REFERENCE.finditer(content)]
    for ref in (r for expression in inner if (r := output.resolve(stack, expression))):
        # ACM's validation record names and values, and Route53 record values, end in a dot
        if ref.type in ("aws_acm_certificate", "aws_route53_record"):
            return f"{ref.address}.{ref.attribute or ''} of {ref.stack}".rstrip(".")
    return None


@rule(32, "Cloudflare record content has no trailing dot (Cloudflare stores it without, and the provider does not "
          "normalise it)", "https://github.com/cloudflare/terraform-provider-cloudflare/issues/7286")
def cloudflare_content(output: Output):
    for rtype in ("cloudflare_dns_record", "cloudflare_record"):
        for stack, name, conf in output.every(rtype):
            if conf.get("type") not in NAME_TYPES:
                continue
            content = str(conf.get("content") or conf.get("value") or "")
            source = _dotted_source(output, stack, content)
            yield stack, f"{rtype}.{name} ({conf.get('type')})", source is None, (
                f"content comes from {source}, which keeps the trailing dot: a difference on every plan "
                "(wrap it in trimsuffix(..., \".\"))")
