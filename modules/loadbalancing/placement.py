"""The load balancers of a region, their failover order, names and AZs.

Plain Python, usable without cdktf: the stacks build from it and the deploy
rehearsal checks what exists against it.
"""

from __future__ import annotations

from modules.stacks.names import physical

# Roles in failover order: primary ALB, then secondary ALB, then the NLB as backup.
LB_ORDER = ("alb-primary", "alb-secondary", "nlb")


def lb_name(stack: str, role: str) -> str:
    """AWS name of a role's load balancer (and of its target group): stack and role, within the
    32 characters AWS allows for either, distinct for every role (names.physical)."""
    return physical(f"{stack}-{role}", 32)


def alb_zones(zones: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """AZs of the primary and secondary ALB.

    Three or more AZs: primary on the first two (a, b), secondary on the second
    and third (b, c), so losing any one AZ leaves at least one ALB in two
    healthy AZs. With only two AZs there is no third to spread to: both ALBs
    use both AZs, and the pair still protects against the loss of one ALB.
    """
    if len(zones) >= 3:
        return zones[0:2], zones[1:3]
    return zones[0:2], zones[0:2]
