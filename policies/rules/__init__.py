"""The deploy rules, one module per domain, and the registry they share.

Importing this package loads every domain module (:data:`DOMAINS`), which registers its rules in
:data:`policies.rules.registry.RULES`. A domain module imports the read model (:mod:`policies.model`)
and the registry only: never another domain, never a tool. A new tier adds its module here.
"""

from __future__ import annotations

import importlib

from policies.rules.registry import RULES, Result, Rule, run_rules

DOMAINS = ("network", "loadbalancing", "eks", "gitops", "dns", "security", "state", "data", "account", "privilege",
           "observability", "failover")
for _domain in DOMAINS:
    importlib.import_module(f"policies.rules.{_domain}")

__all__ = ["DOMAINS", "RULES", "Result", "Rule", "rules_with_fixture", "run_rules"]


def rules_with_fixture(fixture: str) -> tuple[str, ...]:
    """The ids of the rules shown failing on ``fixture`` (:data:`policies.rules.registry.FIXTURES`)."""
    return tuple(r.id for r in RULES if r.fixture == fixture)
