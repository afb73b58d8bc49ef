"""Compare the static records of the Route53 and Cloudflare stacks of every environment.

    python -m tooling.analysis.dns_check [--outdir cdktf.out]

Reads only synthesized JSON. For each environment with both DNS stacks it
reports every static record that is missing at one provider or differs in type,
TTL or values, and every parity problem (name servers, ACM validation records),
and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

from environments.record_values import RecordValue, from_cloudflare, read
from modules.stacks import names

Key = tuple[str, str]  # (fqdn, type)


@dataclass(frozen=True)
class Difference:
    environment: str
    fqdn: str
    type: str
    route53: Optional[tuple[int, tuple[str, ...]]]
    cloudflare: Optional[tuple[int, tuple[str, ...]]]

    def __str__(self) -> str:
        def show(side):
            return "missing" if side is None else f"ttl {side[0]}, values {list(side[1])}"
        return (f"{self.environment}: {self.fqdn} {self.type}\n"
                f"    route53:    {show(self.route53)}\n    cloudflare: {show(self.cloudflare)}")


def route53_records(stack: dict) -> dict[Key, tuple[int, tuple[RecordValue, ...]]]:
    """Static records (no alias, no routing policy) of a synthesized Route53 stack."""
    found = {}
    for record in stack.get("resource", {}).get("aws_route53_record", {}).values():
        if ("alias" in record or "set_identifier" in record or "for_each" in record or "records" not in record
                or record["type"] == "NS" or "${" in str(record["name"])):
            continue  # the tree, name servers and ACM validation records are checked by SPOF_DEPLOY_11
        found[(record["name"].rstrip("."), record["type"])] = (
            record["ttl"], _values(read(record["type"], v) for v in record["records"]))
    return found


def _values(values: Iterable[RecordValue]) -> tuple[RecordValue, ...]:
    """Values as typed record data, each once, in a stable order (by their zone-file text)."""
    unique = {v.key(): v for v in values}
    return tuple(sorted(unique.values(), key=lambda v: v.text()))


def cloudflare_records(stack: dict) -> dict[Key, tuple[int, tuple[RecordValue, ...]]]:
    """Static records of a synthesized Cloudflare stack, values of one name and type grouped."""
    grouped: dict[Key, tuple[set[int], list[RecordValue]]] = {}
    for record in stack.get("resource", {}).get("cloudflare_dns_record", {}).values():
        if record["type"] == "NS" or "${" in str(record["name"]):
            continue  # name servers and ACM validation records: SPOF_DEPLOY_11
        ttls, values = grouped.setdefault((record["name"].rstrip("."), record["type"]), (set(), []))
        ttls.add(record["ttl"])
        values.append(from_cloudflare(record))
    # A name whose values carry different TTLs cannot match Route53's one TTL per set: report the largest.
    return {key: (max(ttls), _values(values)) for key, (ttls, values) in grouped.items()}


def compare(environment: str, route53: dict, cloudflare: dict) -> list[Difference]:
    """Record sets that differ: missing at one provider, another TTL, or other record data (values
    are compared typed, so a trailing dot on a host name does not count)."""
    a, b = route53_records(route53), cloudflare_records(cloudflare)

    def same(key: Key) -> bool:
        x, y = a.get(key), b.get(key)
        return x is not None and y is not None and x[0] == y[0] and {v.key() for v in x[1]} == {v.key() for v in y[1]}

    def shown(side):
        return None if side is None else (side[0], tuple(v.text() for v in side[1]))

    return [Difference(environment, fqdn, rtype, shown(a.get((fqdn, rtype))), shown(b.get((fqdn, rtype))))
            for fqdn, rtype in sorted(set(a) | set(b)) if not same((fqdn, rtype))]


def check(outdir: Path) -> tuple[list[str], list[Difference]]:
    """Environments compared, and every difference found, for a synthesized output directory."""
    stacks = outdir / "stacks"
    compared, differences = [], []
    for route53_path in sorted(stacks.glob("*/cdk.tf.json")):
        parsed = names.parse(route53_path.parent.name)
        if parsed is None or parsed.kind != "dns-route53":
            continue
        environment = parsed.env
        cloudflare_path = stacks / names.dns_cloudflare(environment) / "cdk.tf.json"
        if not cloudflare_path.is_file():
            continue
        compared.append(environment)
        differences += compare(environment, json.loads(route53_path.read_text()),
                               json.loads(cloudflare_path.read_text()))
    return compared, differences


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.analysis.dns_check")
    parser.add_argument("--outdir", default="cdktf.out")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    args = parser.parse_args(argv)
    compared, differences = check(Path(args.outdir))
    if not compared:
        print(f"error: no environment in {args.outdir} has both DNS stacks; run `make synth` first", file=sys.stderr)
        return 2
    if args.format != "text":
        parity = parity_results(Path(args.outdir))
        problems = [str(r) for r in parity if not r.passed]
        if args.format == "json":
            print(json.dumps({"compared": compared, "differences": [asdict(d) for d in differences],
                              "parity_checks": len(parity), "parity_problems": problems}, indent=2, sort_keys=True))
        else:
            print("\n".join(["# DNS consistency", "", f"Compared: {', '.join(compared)}.", "",
                             *(f"- {str(d).splitlines()[0]}: route53 {d.route53}, cloudflare {d.cloudflare}"
                               for d in differences),
                             f"{len(differences)} difference(s); parity: {len(parity)} check(s), "
                             f"{len(problems)} problem(s)", *(f"- {p}" for p in problems)]))
        return 1 if differences or problems else 0
    for difference in differences:
        print(difference)
    print(f"dns consistency: {len(compared)} environment(s) compared, {len(differences)} difference(s)")
    parity = parity_results(Path(args.outdir))
    problems = [r for r in parity if not r.passed]
    for problem in problems:
        print(f"  {problem}")
    print(f"dns parity (name servers, ACM validation records): {len(parity)} check(s), {len(problems)} problem(s)")
    return 1 if differences or problems else 0


def parity_results(outdir: Path) -> list:
    """What both providers must also share beyond the static records: each lists the other's name
    servers, and the ACM validation records exist at both (the deploy rule SPOF_DEPLOY_11)."""
    from policies.model.output import Output
    from policies.rules import run_rules

    return run_rules(Output.load(outdir), {"SPOF_DEPLOY_11"})


if __name__ == "__main__":
    sys.exit(main())
