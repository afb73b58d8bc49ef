"""Which AZs each load balancer spans: plain Python, usable without cdktf (the rehearsal checks it)."""

from __future__ import annotations


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
