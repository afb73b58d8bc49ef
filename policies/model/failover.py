"""The Region switch plan of an environment as synthesized: its workflows and steps, and the functions,
alarms and health checks its steps rely on. Read by the plan's deploy rule, the drill and ``spofless failover``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Iterator, Optional

from modules.failover import METRIC_NAME, function_name, inactive_alarm_name
from modules.stacks import names
from policies.model.output import Output, as_list
from policies.model.topology import data_stacks, stacks_by_region

PLAN_TYPE = "AWS::ARCRegionSwitch::Plan"


@dataclass(frozen=True)
class Step:
    name: str
    kind: str  # ExecutionBlockType
    config: dict  # the block's configuration (the one value of ExecutionBlockConfiguration)
    position: int  # its place in the workflow: steps of one Parallel block share it

    @property
    def action(self) -> Optional[str]:
        """The action a CustomActionLambda step passes its functions (their Payload)."""
        payloads = {json.loads(lam.get("Payload") or "{}").get("action") for lam in self.config.get("Lambdas", [])}
        return payloads.pop() if len(payloads) == 1 else None

    def lambda_regions(self) -> set[str]:
        return {arn.split(":")[3] for arn in (lam.get("Arn", "") for lam in self.config.get("Lambdas", []))
                if arn.count(":") >= 6}


@dataclass
class SwitchPlan:
    env: str
    stack: str
    resource: str
    properties: dict
    workflows: dict = field(default_factory=dict)  # target region -> [Step]

    @property
    def automatic(self) -> bool:
        return bool(self.properties.get("Triggers"))

    def steps(self, region: str, kind: Optional[str] = None, action: Optional[str] = None) -> list[Step]:
        return [s for s in self.workflows.get(region, []) if (kind is None or s.kind == kind)
                and (action is None or s.action == action)]


def _flatten(steps: list) -> list[Step]:
    found = []
    for index, step in enumerate(steps):
        config = step.get("ExecutionBlockConfiguration") or {}
        block = next(iter(config.values()), {}) if len(config) == 1 else {}
        if step.get("ExecutionBlockType") == "Parallel":
            # the steps of a parallel block run together: they share one position
            found += [Step(inner.get("Name", ""), inner.get("ExecutionBlockType", ""),
                           next(iter((inner.get("ExecutionBlockConfiguration") or {}).values()), {}), index)
                      for inner in block.get("Steps", [])]
        else:
            found.append(Step(step.get("Name", ""), step.get("ExecutionBlockType", ""), block, index))
    return found


def cloudformation_resources(output: Output, stack: str, rtype: str) -> Iterator[tuple[str, dict]]:
    """``(CloudFormation stack's resource name, properties)`` of every ``rtype`` resource the templates of
    ``stack``'s ``aws_cloudformation_stack`` resources carry."""
    for name, conf in output.resources(stack, "aws_cloudformation_stack").items():
        try:
            body = json.loads(conf.get("template_body") or "{}")
        except ValueError:
            continue
        for resource in (body.get("Resources") or {}).values():
            if resource.get("Type") == rtype:
                yield name, resource.get("Properties") or {}


def region_switch_plan(output: Output, env: str) -> Optional[SwitchPlan]:
    """The environment's plan: the one CloudFormation stack of its stacks that carries a Region switch plan."""
    for stack in output.stacks_of(env):
        for name, properties in cloudformation_resources(output, stack, PLAN_TYPE):
            plan = SwitchPlan(env, stack, f"aws_cloudformation_stack.{name}", properties)
            for workflow in properties.get("Workflows") or []:
                if workflow.get("WorkflowTargetAction") == "activate" and workflow.get("WorkflowTargetRegion"):
                    plan.workflows[workflow["WorkflowTargetRegion"]] = _flatten(workflow.get("Steps") or [])
            return plan
    return None


def failover_functions(output: Output, env: str) -> dict[str, dict]:
    """``{region: the FAILOVER_CONFIG of that region's failover function}`` as the data stacks synthesize them."""
    found = {}
    for region, stack in data_stacks(output, env).items():
        for conf in output.resources(stack, "aws_lambda_function").values():
            if conf.get("function_name") == function_name(env, region):
                variables = ((as_list(conf.get("environment")) or [{}])[0] or {}).get("variables") or {}
                try:
                    found[region] = json.loads(variables.get("FAILOVER_CONFIG") or "{}")
                except ValueError:
                    found[region] = {}
    return found


def inactive_alarms(output: Output, env: str) -> dict[str, dict]:
    """``{region: the RegionInactive alarm of that region's regional stack}``."""
    found = {}
    for region, stack in stacks_by_region(output, env, "regional").items():
        for conf in output.resources(stack, "aws_cloudwatch_metric_alarm").values():
            if conf.get("alarm_name") == inactive_alarm_name(stack) and conf.get("metric_name") == METRIC_NAME:
                found[region] = conf
    return found


def route53_region_checks(output: Output, env: str) -> dict[str, list[dict]]:
    """``{region: [the health checks the top-level failover records of that region carry, children included]}``."""
    stack = names.dns_route53(env)
    checks = output.resources(stack, "aws_route53_health_check")
    found: dict[str, list[dict]] = {}

    def tree(expression) -> list[dict]:
        match = re.search(r"aws_route53_health_check\.([^.]+)\.id", str(expression or ""))
        conf = checks.get(match.group(1)) if match else None
        if conf is None:
            return []
        return [conf] + [c for child in as_list(conf.get("child_healthchecks")) for c in tree(child)]

    for conf in output.resources(stack, "aws_route53_record").values():
        identifier = conf.get("set_identifier")
        if identifier and re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", str(identifier)) and conf.get("health_check_id"):
            found.setdefault(identifier, []).extend(tree(conf.get("health_check_id")))
    return found


def cloudflare_pools(output: Output, env: str) -> dict[str, dict]:
    """``{pool name: its configuration}`` of the environment's Cloudflare stack."""
    stack = names.dns_cloudflare(env)
    if stack not in output.stacks:
        return {}
    return {conf.get("name"): conf for conf in output.resources(stack, "cloudflare_load_balancer_pool").values()}


AUTOSHIFT_TYPE = "AWS::ARCZonalShift::ZonalAutoshiftConfiguration"


def autoshift_configurations(output: Output, stack: str) -> dict[str, dict]:
    """``{address of the resource ("aws_lb.<name>"): its zonal autoshift configuration}`` in ``stack``'s
    CloudFormation stacks."""
    found = {}
    for _, properties in cloudformation_resources(output, stack, AUTOSHIFT_TYPE):
        match = re.search(r"\$\{(aws_[a-z0-9_]+\.[^.}]+)\.arn\}", str(properties.get("ResourceIdentifier", "")))
        if match:
            found[match.group(1)] = properties
    return found


def zonal_shift_enabled(conf: dict, rtype: str) -> bool:
    """Zonal shift on a load balancer (its attribute) or a cluster (its zonal_shift_config)."""
    if rtype == "aws_lb":
        return conf.get("enable_zonal_shift") is True
    return any(block.get("enabled") is True for block in as_list(conf.get("zonal_shift_config")))
