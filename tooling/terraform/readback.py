"""What real APIs read back, applied to a state before the second plan.

The emulator echoes what it was sent, so a plan right after an apply against it is clean even where a
real account's second plan is not: real services normalise, default and reorder what they store, and
the provider writes what it reads into the state. Each :class:`Normalisation` here is one such fact,
with its source. :func:`normalise_state` applies them to a state document (``terraform state pull``),
so the rehearsal's read-back plan (``terraform plan -refresh=false`` on that state) shows the
difference a real second plan would, and tests/integration/test_readback.py shows the Global Datastore
member's replacement with the real provider binary before its fix, and none after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Normalisation:
    """One attribute of one resource type, as the real API returns it."""

    type: str
    attribute: str
    applies: Callable[[dict], bool]
    read_back: Callable[[Any, dict], Any]
    why: str
    source: str


def _reordered_policy(value: Any, _attributes: dict) -> Any:
    """IAM, KMS and S3 return a policy with its keys in their own order and one-element lists as strings."""
    if not isinstance(value, str) or not value.strip().startswith("{"):
        return value
    try:
        document = json.loads(value)
    except json.JSONDecodeError:
        return value

    def shuffle(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: shuffle(node[k]) for k in sorted(node, reverse=True)}
        if isinstance(node, list):
            return shuffle(node[0]) if len(node) == 1 else [shuffle(item) for item in node]
        return node
    return json.dumps(shuffle(document), separators=(",", ":"))


_POLICY_SOURCE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html"

NORMALISATIONS: tuple[Normalisation, ...] = (
    Normalisation(
        "aws_elasticache_replication_group", "engine",
        lambda a: bool(a.get("global_replication_group_id")),
        lambda value, a: "valkey",
        "a Global Datastore member is built with the datastore's engine (valkey) whatever the provider's default "
        "('redis'); the provider reads the member's engine back",
        "https://github.com/hashicorp/terraform-provider-aws/issues/40786"),
    Normalisation(
        "cloudflare_dns_record", "content",
        lambda a: a.get("type") in ("CNAME", "MX", "NS", "SRV", "PTR") and isinstance(a.get("content"), str),
        lambda value, a: value.rstrip(".") if isinstance(value, str) else value,
        "Cloudflare stores a name without its trailing dot, and the v5 provider does not normalise content",
        "https://github.com/cloudflare/terraform-provider-cloudflare/issues/7286"),
    Normalisation(
        "aws_route53_zone", "name", lambda a: isinstance(a.get("name"), str),
        lambda value, a: value.lower().rstrip("."),
        "Route53 answers names in lower case; the provider stores the zone name without the trailing dot",
        "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html"),
    *(Normalisation(rtype, attribute, lambda a, attribute=attribute: isinstance(a.get(attribute), str),
                    _reordered_policy,
                    "the service returns the policy in its own key order, one-element lists as strings; the "
                    "provider keeps an equivalent policy as configured only when it compares them as equal",
                    _POLICY_SOURCE)
      for rtype, attribute in (("aws_iam_role", "assume_role_policy"), ("aws_iam_role_policy", "policy"),
                               ("aws_kms_key", "policy"), ("aws_kms_replica_key", "policy"),
                               ("aws_s3_bucket_policy", "policy"), ("aws_secretsmanager_secret", "policy"))),
)


def normalise_state(state: dict, normalisations: tuple[Normalisation, ...] = NORMALISATIONS) -> list[str]:
    """Apply every normalisation to a state document in place; ``["<address>.<attribute>: <why>"]`` of what
    changed (an empty list: the state already reads as the APIs would return it)."""
    changed = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed":
            continue
        for normalisation in normalisations:
            if normalisation.type != resource.get("type"):
                continue
            for index, instance in enumerate(resource.get("instances", [])):
                attributes = instance.get("attributes") or {}
                if normalisation.attribute not in attributes or not normalisation.applies(attributes):
                    continue
                before = attributes[normalisation.attribute]
                after = normalisation.read_back(before, attributes)
                if after != before:
                    attributes[normalisation.attribute] = after
                    key = f"[{index}]" if len(resource["instances"]) > 1 else ""
                    changed.append(f"{resource['type']}.{resource['name']}{key}.{normalisation.attribute}: "
                                   f"{normalisation.why}")
    if changed:
        state["serial"] = int(state.get("serial", 0)) + 1
    return changed


def state_from_plan(plan: dict, schemas: dict, placeholder: str = "read-back") -> dict:
    """A state holding what a plan (``terraform show -json``, from an empty state) would create: its planned
    values, with every value known only after apply filled in by its type (``schemas``: ``terraform providers
    schema -json``). What the first apply would store, before the API's read-back is applied to it."""
    resources = []
    for change in plan.get("resource_changes", []):
        if change.get("mode") != "managed" or change["change"].get("actions") != ["create"]:
            continue
        schema = schemas["provider_schemas"][change["provider_name"]]["resource_schemas"][change["type"]]
        types = {name: spec.get("type") for name, spec in schema["block"].get("attributes", {}).items()}
        after, unknown = change["change"].get("after") or {}, change["change"].get("after_unknown") or {}
        attributes = {name: (_placeholder(types.get(name), placeholder) if unknown.get(name) is True
                             else after.get(name)) for name in sorted(set(after) | set(unknown))}
        attributes["id"] = attributes.get("id") or placeholder
        # the sensitivity marks a real apply stores too: without them the next plan updates them in place
        sensitive = [[{"type": "get_attr", "value": name}]
                     for name, marked in sorted((change["change"].get("after_sensitive") or {}).items())
                     if marked is True]
        resources.append({"mode": "managed", "type": change["type"], "name": change["name"],
                          "provider": f'provider["{change["provider_name"]}"]',
                          "instances": [{"schema_version": schema.get("version", 0), "attributes": attributes,
                                         "sensitive_attributes": sensitive}]})
    return {"version": 4, "terraform_version": plan.get("terraform_version", "1.11.0"), "serial": 1,
            "lineage": "spofless-read-back", "outputs": {}, "resources": resources}


def _placeholder(kind: Any, text: str) -> Any:
    """A value of a Terraform type (``"string"``, ``"number"``, ``"bool"``, ``["list", ...]``, ...)."""
    if kind == "number":
        return 0
    if kind == "bool":
        return False
    if isinstance(kind, list):
        return {} if kind[0] in ("map", "object") else []
    return text

