"""Mermaid diagrams of each environment, drawn from ``cdktf.out`` (what would be deployed).

    spofless diagram [-e prod] [--out cdktf.out] [--reports reports]   -> reports/diagram-<env>.md

Two diagrams per environment, in one markdown file GitHub renders (and the README embeds):

- **stacks**: every stack and the stacks it reads from (the manifest's dependencies),
  which is also the order ``spofless deploy`` applies them in;
- **request path**: the DNS providers (Route53's failover tree and Cloudflare's pools)
  to the load balancers of each region with the AZs they span, to the cluster
  behind them and the capacity types of its node groups per AZ, and the GitOps
  engine that reconciles it. The model is the failure drill's (:func:`tooling.analysis.drill.build`).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Optional, Sequence

from policies.model.platform import build
from tooling.analysis.drill import Failure, Part, cloudflare_answer, load_targets, route53_answer

PROJECT = Path(__file__).resolve().parents[2]


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def stacks_diagram(output, env: str) -> str:
    """The environment's stacks and its account baseline's (applied first), with every dependency."""
    lines = ["flowchart LR"]
    stacks = output.deployment_of(env)
    for stack in stacks:
        providers = ", ".join(sorted(output.providers_of(stack)))
        lines.append(f'  {_id(stack)}["{stack}<br/><small>{providers}</small>"]')
    for stack in stacks:
        for dependency in output.dependencies(stack):
            if dependency in stacks:
                lines.append(f"  {_id(dependency)} --> {_id(stack)}")
    return "\n".join(lines)


def failover_order(model, answer) -> list[str]:
    """The load balancers a DNS provider answers with, in order, failing each one it names in turn
    (the drill's evaluation of Route53's failover tree or Cloudflare's pools, for the first name)."""
    if not model.names:
        return []
    down: list[Part] = []
    order: list[str] = []
    while True:
        named = answer(model, model.names[0], Failure(down))
        if named.lb is None or named.lb in order:
            return order
        order.append(named.lb)
        region, key = named.lb.split(" ", 1)
        down.append(Part("lb", region, key))


def request_path_diagram(output, env: str) -> str:
    model = build(output, env)
    targets = load_targets()
    ranks = {"route53": failover_order(model, lambda m, n, d: route53_answer(m, n, d, targets))}
    if model.cloudflare:
        ranks["cloudflare"] = failover_order(model, cloudflare_answer)
    lines = ["flowchart LR", '  users(("clients"))']
    providers = [("route53", "Route53<br/>failover records")]
    if model.cloudflare:
        providers.append(("cloudflare", "Cloudflare<br/>load balancer pools"))
    for key, label in providers:
        lines += [f'  {key}{{"{label}"}}', f"  users --> {key}"]
    for position, (region_name, region) in enumerate(model.regions.items()):
        role = "primary" if position == 0 else "standby"
        rid = _id(f"{env}_{region_name}")
        lines.append(f'  subgraph {rid}["{region_name} ({role})"]')
        for key in sorted(region.lbs, key=lambda k: (k != "alb-primary", k != "alb-secondary", k)):
            lb = region.lbs[key]
            zones = ", ".join(sorted(z[-1] for z in lb.zones if z))
            lines.append(f'    {_id(rid + "_" + key)}["{key}<br/><small>AZ {zones}</small>"]')
        cluster = region.cluster
        if cluster is not None:
            capacity = "; ".join(f"{kind.lower().replace('_', '-')} {', '.join(sorted(z[-1] for z in zones if z))}"
                                 for kind, zones in sorted(cluster.zones_by_capacity.items()))
            engines = ", ".join(sorted(e for e, on in cluster.reconciling.items() if on)) or "no engine reconciling"
            lines.append(f'    {_id(rid + "_eks")}[("EKS<br/><small>{capacity}</small>")]')
            lines.append(f'    {_id(rid + "_gitops")}>"GitOps: {engines}"]')
            lines.append(f"    {_id(rid + '_gitops')} -.-> {_id(rid + '_eks')}")
            for key in region.lbs:
                lines.append(f"    {_id(rid + '_' + key)} --> {_id(rid + '_eks')}")
        lines.append("  end")
    for provider, order in ranks.items():
        arrow = "-->" if provider == "route53" else "-.->"
        for rank, label in enumerate(order, 1):
            region_name, key = label.split(" ", 1)
            lines.append(f'  {provider} {arrow}|"{rank}"| {_id(f"{env}_{region_name}_{key}")}')
    return "\n".join(lines)


def markdown(output, env: str) -> str:
    return "\n".join([
        f"# {env}: stacks and request path", "",
        "Drawn by `spofless diagram` from the synthesized output (tooling/analysis/diagram.py); regenerate, do not edit.", "",
        "## Stacks (an arrow: the stack it points to reads this one's outputs; deploy order)", "",
        "```mermaid", stacks_diagram(output, env), "```", "",
        "## Request path (numbers: the order each DNS provider fails over in; solid Route53, dotted Cloudflare)",
        "",
        "```mermaid", request_path_diagram(output, env), "```", ""])


def main(argv: Optional[Sequence[str]] = None) -> int:
    from policies.model.output import Output

    parser = argparse.ArgumentParser(prog="spofless diagram")
    parser.add_argument("-e", "--env", action="append", default=[])
    parser.add_argument("--out", default="cdktf.out")
    parser.add_argument("--reports", default="reports")
    args = parser.parse_args(argv)
    outdir = Path(args.out)
    if not (outdir / "manifest.json").is_file():
        print(f"error: {outdir}/manifest.json does not exist; run `make synth` first", file=sys.stderr)
        return 2
    output = Output.load(outdir)
    envs = [e.strip() for v in args.env for e in v.split(",") if e.strip()] or output.environments
    unknown = sorted(set(envs) - set(output.environments))
    if unknown:
        print(f"error: -e {','.join(unknown)}: not in {outdir}; it holds {', '.join(output.environments)}",
              file=sys.stderr)
        return 2
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    for env in envs:
        path = reports / f"diagram-{env}.md"
        path.write_text(markdown(output, env))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
