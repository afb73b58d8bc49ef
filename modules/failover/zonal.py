"""Zonal autoshift on one region's load balancers and cluster, with weekly practice runs.

With zonal autoshift, AWS shifts each resource's traffic away from an Availability Zone when it sees that AZ
impaired (a gray failure health checks pass can be one), and once a week it shifts away for about 30 minutes
to prove the rest can carry the load: a practice run. A practice run fails when its outcome alarm goes into
ALARM (a CloudWatch alarm in the resource's region): here the region's canary alarm, every platform name
requested through this region's own load balancers. No blocking alarm: one that is also the outcome alarm
would turn a failed run into an interrupted, inconclusive one.
https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.how-it-works.html
https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.start-cancel.html

hashicorp/aws 5.100.0 has no zonal autoshift resource, so the configurations travel as one CloudFormation stack
(``AWS::ARCZonalShift::ZonalAutoshiftConfiguration``), validated against AWS's published resource schema in
the tests. Each resource needs zonal shift enabled first (modules/loadbalancing, modules/eks). The first
configuration creates the practice runs' service-linked role (AWSServiceRoleForZonalAutoshiftPracticeRun).
"""

from __future__ import annotations

import json
from typing import Sequence

from constructs import Construct

from modules.providers import aws

CONFIG_TYPE = "AWS::ARCZonalShift::ZonalAutoshiftConfiguration"


def stack_name(regional_stack: str) -> str:
    return f"{regional_stack}-zonal-autoshift"


def template(resources: dict[str, str], alarm_arn: str) -> str:
    """``resources``: logical id -> ARN. One configuration per resource, autoshift on, practice runs judged by
    ``alarm_arn``."""
    condition = [{"Type": "CLOUDWATCH", "AlarmIdentifier": alarm_arn}]
    return json.dumps({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "spofless: zonal autoshift and its practice runs for one region's load balancers and cluster",
        "Resources": {logical: {"Type": CONFIG_TYPE, "Properties": {
            "ResourceIdentifier": arn, "ZonalAutoshiftStatus": "ENABLED",
            # the canary judges the outcome only: as a blocking alarm too, a run that hurts it would be
            # recorded as interrupted (inconclusive), never as failed
            "PracticeRunConfiguration": {"OutcomeAlarms": condition}}}
            for logical, arn in sorted(resources.items())},
    }, sort_keys=True, separators=(",", ":"))


class ZonalAutoshift(Construct):
    """The region's autoshift configurations, after the alarm that judges them (ARC reads it at creation)."""

    def __init__(self, scope: Construct, construct_id: str, *, regional_stack: str, resources: dict[str, str],
                 alarm_arn: str, depends_on: Sequence = ()):
        super().__init__(scope, construct_id)
        self.stack = aws("cloudformation_stack").CloudformationStack(
            self, "configurations", name=stack_name(regional_stack), template_body=template(resources, alarm_arn),
            on_failure="ROLLBACK", depends_on=list(depends_on))
