"""Names of the observability pieces other stacks and the tools refer to (no construct imported here)."""

from __future__ import annotations

import hashlib
import re

CANARY_NAME_LIMIT = 21


def alarm_prefix(stack: str) -> str:
    """Every alarm of a regional stack is named ``<stack>-...``: the topic and key policies match on it."""
    return f"{stack}-"


def canary_name(stack: str) -> str:
    """The canary of regional stack ``stack``: its name when that fits, else a stable shortening. A canary
    name is lowercase letters, digits, ``-`` and ``_``; kept to 21 characters because the function AWS
    creates for it is ``cwsyn-<name>-<uuid>``, under Lambda's 64."""
    name = re.sub(r"[^0-9a-z_-]", "-", stack.lower())
    if len(name) <= CANARY_NAME_LIMIT:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[:CANARY_NAME_LIMIT - 7].rstrip('-')}-{digest}"


def canary_alarm_name(stack: str) -> str:
    """The alarm Route53 reads for the region of regional stack ``stack``."""
    return f"{alarm_prefix(stack)}canary"


def peer_canary_name(stack: str) -> str:
    """The canary of regional stack ``stack`` that watches the other region(s) from this one."""
    return canary_name(f"{stack}-peer")


def peer_canary_alarm_name(stack: str) -> str:
    """Its alarm: this region alerts when the other region's platform names fail (nobody there can)."""
    return f"{alarm_prefix(stack)}peer-canary"


def canary_alarm_settings(minutes: int, evaluation: int) -> dict:
    """The settings of a canary's alarm that Route53 copies when a check on it is created: one datapoint per
    run (the period is the rate; Route53 refuses "M out of N"), and any failed run breaches. The alarm is
    built from these, and the check's ``triggers`` carry them, so a change to them replaces the check."""
    return {"statistic": "Average", "period": minutes * 60, "threshold": 100,
            "evaluation_periods": evaluation, "datapoints_to_alarm": evaluation}


def canary_alarm_trigger(minutes: int, evaluation: int) -> str:
    """:func:`canary_alarm_settings` as the one string a health check's ``triggers`` holds."""
    settings = canary_alarm_settings(minutes, evaluation)
    return (f"period={settings['period']};datapoints={settings['datapoints_to_alarm']};"
            f"threshold={settings['threshold']};statistic={settings['statistic']}")
