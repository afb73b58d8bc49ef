"""Regional failover as one action: the names the plan, its steps and the tools share.

Pure Python (no construct imported here): the stacks name their pieces with it, and the deploy rules,
the drill and ``spofless failover`` read them back with it.
"""

from __future__ import annotations

# The metric the DNS step publishes in each region: 1 while the region is being left (inactive), 0 once
# it is active again. The region's alarm on it is a child of its Route53 health check.
METRIC_NAMESPACE = "Spofless/Failover"
METRIC_NAME = "RegionInactive"
# What the plan passes each Lambda step (CustomActionLambda Payload)
ACTIONS = ("promote-cache", "dns")


def plan_name(env: str) -> str:
    """The Region switch plan: 1-32 characters of letters, digits and inner hyphens (its schema's pattern)."""
    name = f"{env}-region-switch"
    return name if len(name) <= 32 else f"{env[:18].rstrip('-')}-region-switch"


def plan_stack_name(env: str) -> str:
    """The CloudFormation stack that carries the plan."""
    return f"{env}-region-switch"


def function_name(env: str, region: str) -> str:
    """The Lambda that runs the plan's custom steps in ``region`` (the region being activated)."""
    return f"{env}-{region}-failover"


def inactive_alarm_name(regional_stack: str) -> str:
    """The alarm on :data:`METRIC_NAME` of one region, named like every alarm of its regional stack."""
    return f"{regional_stack}-region-inactive"
