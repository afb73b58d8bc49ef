"""Deploy rules of failover: the Region switch plan covers the platform and no step needs the region being left;
zonal autoshift covers every load balancer and cluster."""

from __future__ import annotations

import re
from typing import Iterator, Optional

from policies.model.failover import (autoshift_configurations, cloudflare_pools, failover_functions,
                                     inactive_alarms, region_switch_plan, route53_region_checks, zonal_shift_enabled)
from policies.model.output import Output, as_list, policy_statements
from policies.model.platform import data_members
from policies.model.topology import region_of_alias, stacks_by_region
from policies.rules.registry import rule


def _floors(output: Output, stack: str) -> dict[str, tuple[int, int]]:
    """``{capacity type: (min, desired)}`` summed over the regional stack's node groups."""
    found: dict[str, tuple[int, int]] = {}
    for conf in output.resources(stack, "aws_eks_node_group").values():
        scaling = (as_list(conf.get("scaling_config")) or [{}])[0]
        kind = conf.get("capacity_type", "ON_DEMAND")
        low, desired = found.get(kind, (0, 0))
        found[kind] = (low + int(scaling.get("min_size", 0)), desired + int(scaling.get("desired_size", 0)))
    return found


def plan_problems(output: Output, env: str) -> list[str]:
    """What the environment's plan leaves out, or where a step needs the region being left."""
    members = data_members(output, env)
    regions = sorted(members)
    plan = region_switch_plan(output, env)
    if plan is None:
        return ["no Region switch plan: the global stores and the DNS providers move only by hand"]
    problems = []
    functions = failover_functions(output, env)
    checks = route53_region_checks(output, env)
    alarms = inactive_alarms(output, env)
    pools = cloudflare_pools(output, env)
    for region in regions:
        if region not in plan.workflows:
            problems.append(f"no workflow activates {region}")
            continue
        steps = plan.workflows[region]
        data_positions = []
        if any(m.aurora_global for m in members.values()):
            aurora = plan.steps(region, "AuroraGlobalDatabase")
            clusters = {arn.rsplit(":", 1)[-1] for s in aurora for arn in s.config.get("DatabaseClusterArns", [])}
            wanted = {data_cluster(output, m.stack) for m in members.values() if m.aurora_cluster}
            if not aurora:
                problems.append(f"activating {region} does not move the Aurora global database")
            elif not wanted <= clusters:
                problems.append(f"activating {region}: the Aurora step leaves out {', '.join(sorted(wanted - clusters))}")
            elif plan.automatic and any(s.config.get("Behavior") != "failover" for s in aurora):
                # a switchover needs the region left; an ungraceful run would skip the custom steps
                problems.append(f"activating {region}: the trigger's run only switches Aurora over, which "
                                "cannot finish while the region left is gone")
            data_positions += [s.position for s in aurora]
        if any(m.cache_global for m in members.values()):
            cache = plan.steps(region, "CustomActionLambda", "promote-cache")
            if not cache:
                problems.append(f"activating {region} does not move the ElastiCache global datastore")
            elif not functions.get(region, {}).get("cache_group"):
                problems.append(f"activating {region}: no failover function in {region} knows the cache member")
            data_positions += [s.position for s in cache]
        dns = plan.steps(region, "CustomActionLambda", "dns")
        if not dns:
            problems.append(f"activating {region} leaves both DNS providers answering the region being left")
        elif data_positions and min(s.position for s in dns) <= max(data_positions):
            problems.append(f"activating {region}: DNS moves before the stores are writable there")
        for step in steps:
            if step.kind != "CustomActionLambda":
                continue
            if step.config.get("RegionToRun") != "activatingRegion" or region not in step.lambda_regions():
                problems.append(f"activating {region}: step {step.name} runs outside {region} "
                                f"(RegionToRun {step.config.get('RegionToRun')}), so it needs the region being left")
            elif region not in functions:
                problems.append(f"activating {region}: step {step.name} calls a function {region}'s data stack "
                                "does not create")
        # Route53: the region's record carries its RegionInactive alarm, which exists in that region
        alarm = alarms.get(region)
        if alarm is None:
            problems.append(f"{region} has no RegionInactive alarm: the DNS step cannot take it out of Route53")
        elif not any(c.get("type") == "CLOUDWATCH_METRIC" and c.get("cloudwatch_alarm_name") == alarm.get("alarm_name")
                     and c.get("cloudwatch_alarm_region") == region for c in checks.get(region, [])):
            problems.append(f"Route53's records of {region} do not read its RegionInactive alarm")
        # Cloudflare: the step turns every pool of every region, and an apply does not turn them back
        if pools:
            known = {name for names_ in (functions.get(region, {}).get("cloudflare_pools") or {}).values()
                     for name in names_}
            missing = sorted(set(pools) - known)
            if missing:
                problems.append(f"activating {region} leaves Cloudflare pools alone: {', '.join(missing[:3])}")
            drifting = sorted(n for n, c in pools.items()
                              if "enabled" not in ((c.get("lifecycle") or {}).get("ignore_changes") or []))
            if drifting and region == regions[0]:
                problems.append(f"an apply would turn back on pools the plan turned off: {', '.join(drifting[:3])}")
    primary, standby = region_of_alias(output, env, "primary"), region_of_alias(output, env, "standby")
    regional = stacks_by_region(output, env, "regional")
    if primary in regional and standby in regional:
        ours, theirs = _floors(output, regional[standby]), _floors(output, regional[primary])
        short = [k for k, (low, desired) in theirs.items() if ours.get(k, (0, 0)) < (low, desired)]
        if short and not plan.steps(standby, "EKSResourceScaling"):
            problems.append(f"{standby}'s cluster runs smaller than {primary}'s ({', '.join(short)}) and no step "
                            "scales it")
    return problems


def data_cluster(output: Output, stack: str) -> str:
    clusters = list(output.resources(stack, "aws_rds_cluster").values())
    return str(clusters[0].get("cluster_identifier")) if clusters else ""


@rule(51, "Every multi-region environment has a Region switch plan that moves every global store (the Aurora global "
          "database, the ElastiCache global datastore) before both DNS providers, whose custom steps run in the "
          "region being activated, and whose standby cluster can take the load (or is scaled by a step)",
      "https://docs.aws.amazon.com/r53recovery/latest/dg/working-with-rs-execution-blocks.html", fixture="mutated")
def region_switch_plan_covers_the_platform(output: Output) -> Iterator[tuple[str, str, bool, str]]:
    for env in output.environments:
        if len(data_members(output, env)) < 2:
            continue
        plan = region_switch_plan(output, env)
        problems = plan_problems(output, env)
        yield (plan.stack if plan else env), (plan.resource if plan else f"{env} Region switch plan"), \
            not problems, "; ".join(problems)


def _alarm_names(output: Output, stack: str) -> dict[str, str]:
    """``{"aws_cloudwatch_metric_alarm.<name>": alarm name}`` of ``stack``."""
    return {f"aws_cloudwatch_metric_alarm.{name}": str(conf.get("alarm_name"))
            for name, conf in output.resources(stack, "aws_cloudwatch_metric_alarm").items()}


@rule(52, "Every load balancer and EKS cluster has zonal shift on and a zonal autoshift configuration whose practice "
          "runs are judged by an alarm of its own stack (its region); an NLB with cross-zone load balancing keeps "
          "connections to unhealthy targets, which AWS requires before it shifts it",
      "https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.resource-types.html", fixture="mutated")
def zonal_autoshift_covers_every_zone(output: Output) -> Iterator[tuple[str, str, bool, str]]:
    for env in output.environments:
        for stack in stacks_by_region(output, env, "regional").values():
            configurations = autoshift_configurations(output, stack)
            alarms = _alarm_names(output, stack)
            groups = output.resources(stack, "aws_lb_target_group")
            listeners = output.resources(stack, "aws_lb_listener")
            for rtype in ("aws_lb", "aws_eks_cluster"):
                for name, conf in output.resources(stack, rtype).items():
                    problems = []
                    if not zonal_shift_enabled(conf, rtype):
                        problems.append("zonal shift is off")
                    config = configurations.get(f"{rtype}.{name}")
                    if config is None or config.get("ZonalAutoshiftStatus") != "ENABLED":
                        problems.append("no zonal autoshift configuration")
                    else:
                        practice = config.get("PracticeRunConfiguration") or {}
                        for kind in ("OutcomeAlarms", "BlockingAlarms"):
                            for alarm in practice.get(kind) or []:
                                ref = re.search(r"\$\{(aws_cloudwatch_metric_alarm\.[^.}]+)\.arn\}",
                                                str(alarm.get("AlarmIdentifier", "")))
                                if ref is None or ref.group(1) not in alarms:
                                    problems.append(f"its practice runs' {kind} name no alarm of this region's stack")
                        if not practice.get("OutcomeAlarms"):
                            problems.append("its practice runs have no outcome alarm")
                    if rtype == "aws_lb" and conf.get("load_balancer_type") == "network" \
                            and conf.get("enable_cross_zone_load_balancing") is True:
                        ours = {g for listener in listeners.values()
                                if f"aws_lb.{name}." in str(listener.get("load_balancer_arn"))
                                for action in as_list(listener.get("default_action"))
                                for g in re.findall(r"aws_lb_target_group\.([^.}]+)\.arn",
                                                    str(action.get("target_group_arn")))}
                        for group in sorted(ours):
                            state = (as_list(groups.get(group, {}).get("target_health_state")) or [{}])[0]
                            if state.get("enable_unhealthy_connection_termination") is not False:
                                problems.append(f"target group {group} terminates connections to unhealthy targets "
                                                "(AWS refuses to shift a cross-zone NLB then)")
                    yield stack, f"{rtype}.{name}", not problems, "; ".join(problems)


def _zones_of(output: Output, stack: str) -> set[str]:
    """The AZs of a regional stack's load balancers' subnets."""
    from policies.model.platform import zones_of

    return {z for conf in output.resources(stack, "aws_lb").values() for z in zones_of(output, stack, conf.get("subnets"))}


def _remote_alarm(output: Output, stack: str, value: str, regional: Optional[str]) -> bool:
    """True when ``value`` (in ``stack``) reads the ARN of a metric alarm of the regional stack ``regional``."""
    if regional is None:
        return False
    return any(ref.stack == regional and ref.type == "aws_cloudwatch_metric_alarm"
               for ref in output.refs(stack, value))


@rule(53, "Every region has an AWS FIS template for an AZ power interruption of each of its AZs (and, with a standby, "
          "one for losing the other region), each stopped by an alarm of its own region, run by a role only FIS of "
          "this account and region may assume, logging to a log group created first",
      "https://docs.aws.amazon.com/fis/latest/userguide/stop-conditions.html", fixture="mutated")
def fault_injection_covers_every_zone(output: Output) -> Iterator[tuple[str, str, bool, str]]:
    for env in output.environments:
        regional = stacks_by_region(output, env, "regional")
        data = stacks_by_region(output, env, "data")
        templates_anywhere = any(output.resources(s, "aws_fis_experiment_template") for s in data.values())
        if not templates_anywhere:
            continue
        for region, stack in sorted(data.items()):
            problems = []
            templates = output.resources(stack, "aws_fis_experiment_template")
            alarms = set(_alarm_names(output, regional[region]).values()) if region in regional else set()
            power = {}
            for name, conf in templates.items():
                zones = {v for t in as_list(conf.get("target")) for f in as_list(t.get("filter"))
                         if f.get("path") == "Placement.AvailabilityZone" for v in as_list(f.get("values"))}
                for zone in zones:
                    power[zone] = name
                stops = as_list(conf.get("stop_condition"))
                if not stops or any(s.get("source") != "aws:cloudwatch:alarm" for s in stops):
                    problems.append(f"{name} has no alarm to stop it")
                for stop in stops:
                    value = str(stop.get("value", ""))
                    named = _remote_alarm(output, stack, value, regional.get(region))
                    literal = re.match(r"arn:[^:]+:cloudwatch:([^:]+):[^:]+:alarm:(.+)$", value)
                    in_region = (literal and literal.group(1) == region and literal.group(2) in alarms) or named
                    if not in_region:
                        problems.append(f"{name} stops on an alarm that is not this region's")
                if not any(str(d).startswith("aws_cloudwatch_log_group.") for d in as_list(conf.get("depends_on"))):
                    problems.append(f"{name} may start logging before its log group exists")
            missing = sorted(_zones_of(output, regional[region]) - set(power)) if region in regional else []
            if missing:
                problems.append(f"no AZ power interruption for {', '.join(missing)}")
            if len(data) > 1 and not any("route-table-disrupt-cross-region-connectivity" in str(c.get("action"))
                                         for c in templates.values()):
                problems.append("no cross-region connectivity experiment")
            for conf in output.resources(stack, "aws_iam_role").values():
                for statement in policy_statements(conf.get("assume_role_policy")):
                    principal = statement.get("Principal")
                    if isinstance(principal, dict) and "fis.amazonaws.com" in as_list(principal.get("Service")):
                        condition = statement.get("Condition") or {}
                        keys = {k for block in condition.values() for k in block}
                        if not {"aws:SourceAccount", "aws:SourceArn"} <= keys:
                            problems.append("the experiment role trusts FIS without aws:SourceAccount and aws:SourceArn")
            yield stack, f"{env} {region} experiments", not problems, "; ".join(problems)
