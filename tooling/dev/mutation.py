"""Mutation testing: does the test suite notice a design-breaking one-line change?

    make mutation            (spofless mutation; not part of make test: it runs the suite once per mutant)

Each :data:`MUTANTS` entry is a realistic one-line change to ``modules/``, ``environments/`` or
``policies/`` that breaks what spofless promises (a failover that stops evaluating health, a
cluster on public subnets, a key without rotation, a schema default that gives up HA, a deploy
rule that no longer fails ...). The runner copies the project to a scratch folder (the working
tree is never touched), checks the unmutated suite passes there, then applies each mutant alone
and runs the fast suite with ``-x``: a mutant is *killed* when a test fails, and *survives* when
every test passes. It prints the score and the survivors, writes ``reports/mutation.json``, and
exits 1 when a mutant survived.

Why a curated list instead of mutmut's every-operator sweep: the suite synthesizes 22 stacks
per session (about a minute), so thousands of mechanical mutants would take days on two cores,
and most of them (a changed log message, a renamed local) break nothing a platform engineer
would care about. The list grows with every design rule; ``tests/unit/test_mutation.py`` keeps
each entry applicable to today's source, so a refactoring that moves a line cannot silently
retire a mutant.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

PROJECT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutant:
    id: str
    path: str     # relative to the project
    old: str      # occurs exactly once in the file
    new: str
    breaks: str   # the promise it breaks


MUTANTS: tuple[Mutant, ...] = (
    # -- DNS: the failover tree and the backup provider
    Mutant("route53-upper-alias-ignores-health", "modules/dns/route53.py",
           '"zone_id": self.zone_id, "evaluate_target_health": True}',
           '"zone_id": self.zone_id, "evaluate_target_health": False}',
           "the name-to-name aliases stop following the health of the tree below them"),
    Mutant("route53-leaf-alias-ignores-health", "modules/dns/route53.py",
           '"zone_id": lb.zone_id, "evaluate_target_health": True}',
           '"zone_id": lb.zone_id, "evaluate_target_health": False}',
           "an alias to a load balancer stops following its targets' health"),
    Mutant("route53-check-probes-the-wrong-lb", "modules/dns/route53.py",
           'self._lb_alias(lbs["nlb"]),\n                                   self.health_checks[(region, "nlb")]',
           'self._lb_alias(lbs["nlb"]),\n                                   self.health_checks[(region, "alb-secondary")]',
           "the NLB record is guarded by the secondary ALB's check: a dead NLB keeps answering"),
    Mutant("route53-region-check-needs-all-lbs", "modules/dns/route53.py",
           'type="CALCULATED", child_health_threshold=1,',
           'type="CALCULATED", child_health_threshold=3,',
           "a region counts as down when one of its three load balancers is"),
    Mutant("cloudflare-records-proxied", "modules/dns/cloudflare.py",
           "proxied=False, **fields)", "proxied=True, **fields)",
           "Cloudflare answers static records with its own proxies, unlike Route53"),
    Mutant("cloudflare-random-steering", "modules/dns/cloudflare.py",
           'steering_policy="off"', 'steering_policy="random"',
           "Cloudflare spreads traffic over every pool instead of failing over in order"),
    Mutant("cloudflare-fallback-is-first-pool", "modules/dns/cloudflare.py",
           "fallback_pool=pools[-1].id", "fallback_pool=pools[0].id",
           "when every pool is down Cloudflare falls back to the primary ALB, not the last resort"),
    # -- network and load balancing
    Mutant("private-route-to-another-az-nat", "modules/network/network.py",
           "nat = self.nat_gateways.get(zone) or next(iter(self.nat_gateways.values()))",
           "nat = next(iter(self.nat_gateways.values()))",
           "every AZ's private subnets leave through the first AZ's NAT gateway"),
    Mutant("secondary-alb-on-the-primary-azs", "modules/loadbalancing/placement.py",
           "return zones[0:2], zones[1:3]", "return zones[0:2], zones[0:2]",
           "both ALBs sit in AZs a and b: losing one of them leaves both in one AZ"),
    Mutant("nlb-without-cross-zone", "modules/loadbalancing/load_balancers.py",
           "enable_cross_zone_load_balancing=True", "enable_cross_zone_load_balancing=False",
           "an NLB node in an AZ without healthy targets drops its share of traffic"),
    Mutant("lb-without-deletion-protection", "modules/loadbalancing/load_balancers.py",
           "enable_deletion_protection=True", "enable_deletion_protection=False",
           "a plan can delete a load balancer that DNS points at"),
    Mutant("waf-only-on-one-alb", "modules/loadbalancing/load_balancers.py",
           'self.waf.protect(f"{key}-waf", lb.arn)',
           'self.waf.protect(f"{key}-waf", lb.arn) if key == "alb-primary" else None',
           "the secondary ALB takes traffic on failover without the WAF"),
    # -- EKS
    Mutant("control-plane-on-public-subnets", "modules/eks/cluster.py",
           'subnet_ids=network.subnet_ids("private"),\n                endpoint_private_access=True,',
           'subnet_ids=network.subnet_ids("public"),\n                endpoint_private_access=True,',
           "the control plane's ENIs land in the public subnets"),
    Mutant("nodes-allow-imdsv1", "modules/eks/cluster.py",
           'http_tokens="required"', 'http_tokens="optional"',
           "pods can read the node role's credentials through IMDSv1"),
    # -- security
    Mutant("keys-without-rotation", "modules/security/keys.py",
           "multi_region=standby_region is not None,\n                enable_key_rotation=True,",
           "multi_region=standby_region is not None,\n                enable_key_rotation=False,",
           "the platform's KMS keys are never rotated"),
    Mutant("keys-single-region", "modules/security/keys.py",
           "multi_region=standby_region is not None,", "multi_region=False,",
           "a key cannot be replicated, so the standby region cannot decrypt"),
    Mutant("secrets-deleted-at-once", "modules/security/secrets.py",
           "recovery_window_in_days=30,", "recovery_window_in_days=0,",
           "a deleted secret is gone at once, with no window to restore it"),
    # -- GitOps
    Mutant("argocd-ignores-the-git-host-knob", "modules/gitops/addons.py",
           '"repoURL": getattr(source, git_host)', '"repoURL": source.github',
           "ArgoCD keeps pulling from GitHub after git_host moves to GitLab"),
    Mutant("flux-follows-argocd-knob", "modules/gitops/engines.py",
           "return config.active_by_region.get(region, config.active)", "return config.active",
           "a region's override of the active engine is ignored"),
    # -- schema defaults: the highly available choice unless a file says otherwise
    Mutant("schema-default-one-nat", "environments/schema/network.py",
           "nat_gateway_per_az: bool = True", "nat_gateway_per_az: bool = False",
           "an environment that says nothing gets one NAT gateway for every AZ"),
    Mutant("schema-default-slow-detection", "environments/schema/dns.py",
           "failure_threshold: int = Field(3, ge=1, le=10)", "failure_threshold: int = Field(10, ge=1, le=10)",
           "DNS failover waits ten failed checks before moving traffic"),
    # -- in-cluster availability: what the read model carries and the drill plays
    Mutant("ingress-gateway-single-replica", "modules/stacks/gitops.py",
           "replicas=2 * len(region.zones)", "replicas=1",
           "the ingress gateway runs one pod: losing its AZ empties every target group of the region"),
    Mutant("ingress-gateway-zone-spread-not-enforced", "modules/gitops/addons.py",
           '_spread("traefik", f"{INGRESS_SERVICE}-{INGRESS_NAMESPACE}")',
           '_spread("traefik", f"{INGRESS_SERVICE}-{INGRESS_NAMESPACE}", zones_required=False)',
           "the gateway's zone spread is only a preference: every pod may land in the AZ that is lost"),
    # -- the data tier's configured protections
    Mutant("bucket-replication-time-control-disabled", "modules/data/replication.py",
           '"replication_time"] = {"status": "Enabled", "time": {"minutes": 15}}',
           '"replication_time"] = {"status": "Disabled", "time": {"minutes": 15}}',
           "the configured Replication Time Control is off: object replication has no time bound (RPO)"),
    Mutant("aurora-one-failover-priority", "modules/data/database.py",
           "promotion_tier=min(index, 15),", "promotion_tier=0,",
           "every Aurora instance has the same failover priority: no stated order of promotion"),
    # -- privilege inside the platform
    Mutant("secret-store-serves-every-namespace", "modules/gitops/bootstrap.py",
           "store_namespaces=(ARGOCD_NAMESPACE, FLUX_NAMESPACE),", "store_namespaces=(),",
           "the Git tokens' store serves every namespace: any namespace editor reads them"),
    Mutant("pod-identity-role-trusts-any-cluster", "modules/eks/cluster.py",
           '"Condition": {"StringEquals": {"aws:RequestTag/eks-cluster-arn": cluster_arn,',
           '"Condition": {"StringEquals": {"aws:SourceAccount": cluster_arn,',
           "a Pod Identity role any association in the account (another environment's cluster) can use"),
    Mutant("lb-controller-changes-any-target-group", "modules/stacks/regional.py",
           '"Resource": list(target_group_arns)}]', '"Resource": "*"}]',
           "the load balancer controller may register pods in any target group of the account"),
    Mutant("rotation-finish-names-no-version", "modules/security/rotation/handler.py",
           'moved = {"RemoveFromVersionId": current} if current else {}',
           'moved = {"RemoveFromVersionId": current}',
           "the first rotation of a new secret fails (botocore refuses RemoveFromVersionId=None)"),
    Mutant("nlb-health-checks-skip-the-firewall", "modules/gitops/addons.py",
           '"entryPoints": ["websecure", INSPECTED_ENTRYPOINT],',
           '"entryPoints": ["websecure", NLB_ENTRYPOINT],',
           "the NLB's health checks skip the firewall: a region whose firewall is down gets the NLB's traffic"),
    # -- the policies that gate merges
    Mutant("deploy-rule-wildcards-cover-everything", "policies/model/output.py",
           'return any(a == wanted or a == "*" or a == "kms:*"',
           'return True or any(a == wanted or a == "*" or a == "kms:*"',
           "a key policy granting any action passes the rules that need one"),
    Mutant("spof-check-one-az-is-enough", "policies/spof_checks.py",
           "return CheckResult.PASSED if zones >= 2 else CheckResult.FAILED",
           "return CheckResult.PASSED if zones >= 1 else CheckResult.FAILED",
           "the checkov pack accepts a resource in one AZ"),
)

# The fast suite: everything but the deploy rehearsal (minutes against the emulator) and the
# slow stock-imports comparison; checkov and terraform validate stay in.
# The stack tests first: they share one synthesis and kill most mutants within seconds of it.
PYTEST_ARGS = ("-x", "-q", "-p", "no:cacheprovider", "-m", "not slow",
               "--ignore=tests/integration/test_rehearsal.py",
               "--ignore=tests/integration/test_rehearsal_lifecycle.py",
               "--ignore=tests/stacks/test_synthesis_faults.py",
               "--ignore=tests/unit/test_mutation.py",  # it fails on any mutant: a kill that proves nothing
               "tests/stacks", "tests/policies", "tests/unit", "tests/integration")
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "node_modules", "cdktf.out", "reports", ".spofless",
                                     "__pycache__", ".pytest_cache", ".cdktf.out.*")


@dataclass
class Result:
    id: str
    breaks: str
    killed: bool
    seconds: float
    by: str  # the first failing test, or why it survived


def apply(root: Path, mutant: Mutant) -> str:
    """Write ``mutant`` into ``root``'s copy of its file; returns the original text."""
    path = root / mutant.path
    original = path.read_text()
    count = original.count(mutant.old)
    if count != 1:
        raise ValueError(f"mutant {mutant.id}: {mutant.path} holds its line {count} times (must be once)")
    path.write_text(original.replace(mutant.old, mutant.new))
    return original


def _pytest(root: Path, timeout: float) -> tuple[int, str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("SPOFLESS_UPDATE_SNAPSHOTS", None)
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", *PYTEST_ARGS], cwd=root, env=env,
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:.0f} s"
    failed = [line.split(" ", 1)[1].split(" - ")[0] for line in run.stdout.splitlines()
              if line.startswith(("FAILED ", "ERROR "))]
    lines = run.stdout.strip().splitlines()
    return run.returncode, failed[0] if failed else (lines[-1] if lines else "")


def run(mutants: Sequence[Mutant] = MUTANTS, *, timeout: float = 1200, log=print) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="spofless-mutation-") as scratch:
        root = Path(scratch) / "project"
        shutil.copytree(PROJECT, root, ignore=COPY_IGNORE, symlinks=True)
        log(f"mutation: copied the project to {root}; the unmutated suite first")
        started = time.perf_counter()
        code, summary = _pytest(root, timeout)
        if code != 0:
            raise RuntimeError(f"the unmutated suite fails in the copy ({summary}); fix that first")
        log(f"  baseline passes ({time.perf_counter() - started:.0f} s)")
        results = []
        for mutant in mutants:
            started = time.perf_counter()
            original = apply(root, mutant)
            try:
                code, summary = _pytest(root, timeout)
            finally:
                (root / mutant.path).write_text(original)
            killed = code not in (0, 5)  # 5: no tests collected, which kills nothing
            results.append(Result(mutant.id, mutant.breaks, killed, time.perf_counter() - started, summary))
            log(f"  {'killed  ' if killed else 'SURVIVED'} {mutant.id:<42} {results[-1].seconds:5.0f}s  {summary}")
        return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="spofless mutation", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run only these mutant ids (repeat)")
    parser.add_argument("--report", default=str(PROJECT / "reports" / "mutation.json"))
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or m.id in args.only]
    unknown = set(args.only or ()) - {m.id for m in MUTANTS}
    if unknown:
        print(f"error: --only {', '.join(sorted(unknown))}: no such mutant; allowed: "
              f"{', '.join(m.id for m in MUTANTS)}", file=sys.stderr)
        return 2
    try:
        results = run(chosen)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    survivors = [r for r in results if not r.killed]
    killed = len(results) - len(survivors)
    print(f"mutation: {len(results)} mutants, {killed} killed, {len(survivors)} survived "
          f"(score {100 * killed / max(len(results), 1):.0f}%)")
    for result in survivors:
        print(f"  survived: {result.id}: {result.breaks}")
    path = Path(args.report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mutants": len(results), "killed": killed,
                                "survived": [r.id for r in survivors],
                                "results": [asdict(r) for r in results]}, indent=2) + "\n")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
