"""checkov's SARIF, mapped back to the files a pull request changes.

    python -m tooling.review.sarif reports/results_sarif.sarif [--outdir cdktf.out] [--out reports/spofless.sarif]
                                   [--codequality reports/codequality.json]

checkov scans the synthesized, git-ignored ``cdktf.out``, so its findings point at
files code scanning cannot show in a diff. Each finding here is moved to what
produced the resource:

- its location: the environment file (``environments/<env>.yaml``), at the section
  whose values shape that construct (``load_balancing:``, ``eks:`` ...);
- related locations: the construct's class in ``modules/`` and the synthesized file
  it was found in (stack, resource address and construct path in the message);
- a finding the scoped skip list (policies/checkov_skips.yaml) accepts gets a SARIF
  ``suppressions`` entry (kind external, status accepted) with the skip's reason:
  checkov itself reports every such finding as failed (the gate applies the skips
  after the scan), and a SARIF consumer shows a suppressed result as closed rather
  than open. Where code scanning still opens them, the advanced-security/dismiss-alerts
  action dismisses alerts from exactly these entries.

GitLab has no SARIF upload outside its paid security dashboards; its Code Quality report (every
tier: the merge request widget and the diff) gets the same findings, suppressed ones left out, with
``--codequality``. https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

PROJECT = Path(__file__).resolve().parents[2]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

# (stack kind, top-level construct id) -> (the construct's module, its class, the config section)
CONSTRUCTS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("regional", "network"): ("modules/network/network.py", "Network", "regions"),
    ("regional", "lb"): ("modules/loadbalancing/load_balancers.py", "LoadBalancing", "load_balancing"),
    ("regional", "eks"): ("modules/eks/cluster.py", "Cluster", "eks"),
    ("regional", "storage"): ("modules/data/storage.py", "RegionalStorage", "data"),
    ("regional", "alarms"): ("modules/observability/alarms.py", "RegionalAlarms", "observability"),
    ("regional", "dashboard"): ("modules/observability/dashboard.py", "RegionalDashboard", "observability"),
    ("regional", "metrics"): ("modules/observability/metrics.py", "RegionalMetrics", "observability"),
    ("regional", "container-logs"): ("modules/observability/logs.py", "ContainerLogs", "observability"),
    ("regional", "canary"): ("modules/observability/canary.py", "RegionalCanary", "observability"),
    ("data", "aurora"): ("modules/data/database.py", "AuroraRegion", "data"),
    ("data", "cache"): ("modules/data/cache.py", "CacheRegion", "data"),
    ("data", "bucket-replication"): ("modules/data/replication.py", "BucketReplication", "data"),
    ("data", "registry-replication"): ("modules/data/replication.py", "RegistryReplication", "data"),
    ("data", "backup"): ("modules/data/backup.py", "RegionalBackup", "data"),
    # the failover pieces exist because of regions.standby (their knobs: failover, where a file has it)
    ("data", "failover"): ("modules/failover/function.py", "FailoverFunction", "regions"),
    ("data", "region-switch"): ("modules/failover/plan.py", "RegionSwitchPlan", "regions"),
    ("data", "fault-injection"): ("modules/failover/experiments.py", "FaultExperiments", "regions"),
    ("regional", "region-inactive"): ("modules/stacks/regional.py", "RegionalStack", "regions"),
    ("regional", "zonal-autoshift"): ("modules/failover/zonal.py", "ZonalAutoshift", "regions"),
    ("data", "aurora-replication-lag"): ("modules/observability/alarms.py", "ReplicationLagAlarm", "observability"),
    ("data", "cache-replication-lag"): ("modules/observability/alarms.py", "CacheReplicationLagAlarm",
                                        "observability"),
    ("data", "replication-alarms"): ("modules/observability/alarms.py", "ReplicationAlarms", "observability"),
    ("data", "backup-alerts"): ("modules/observability/alarms.py", "BackupFailureAlerts", "observability"),
    ("gitops", "bootstrap"): ("modules/gitops/bootstrap.py", "GitopsBootstrap", "gitops"),
    ("security", "keys"): ("modules/security/keys.py", "KeyRing", "security"),
    ("security", "secrets"): ("modules/security/secrets.py", "SecretSet", "security"),
    ("security", "autoscaling-role"): ("modules/stacks/security.py", "SecurityStack", "security"),
    ("dns-zone", "zone"): ("modules/dns/zone.py", "HostedZone", "dns"),
    ("dns-zone", "certificates"): ("modules/dns/zone.py", "RegionalCertificates", "load_balancing"),
    ("dns-route53", "records"): ("modules/dns/route53.py", "Route53Records", "dns"),
    ("dns-cloudflare", "records"): ("modules/dns/cloudflare.py", "CloudflareRecords", "dns"),
    # the account baseline: the section is in environments/accounts/<name>.yaml
    ("account", "baseline"): ("modules/account/baseline.py", "RegionBaseline", "regions"),
    ("account", "audit"): ("modules/account/audit.py", "AuditTrail", "audit"),
    ("account", "autoscaling-role"): ("modules/stacks/account.py", "AccountStack", "home_region"),
    ("account", "config-role"): ("modules/stacks/account.py", "AccountStack", "home_region"),
    ("account", "s3-public-access"): ("modules/stacks/account.py", "AccountStack", "home_region"),
    ("account", "findings"): ("modules/stacks/account.py", "AccountStack", "home_region"),
}
_STACK_FILE = re.compile(r"(?:^|/)stacks/([^/]+)/cdk\.tf\.json$")
_UNIQUE_ID = re.compile(r'"uniqueId":\s*"([^"]+)"')


def _line_of(path: Path, pattern: str) -> int:
    """1-based line of the first match of ``pattern`` in ``path`` (1 when absent)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 1
    regex = re.compile(pattern)
    return next((n for n, line in enumerate(lines, 1) if regex.search(line)), 1)


def locate(output, stack: str, unique_id: str) -> Optional[dict[str, str]]:
    """Type, address, construct path and the :data:`CONSTRUCTS` entry of one resource."""
    from modules.stacks import names

    parsed = names.parse(stack)
    for rtype, group in output.stacks.get(stack, {}).get("resource", {}).items():
        if unique_id in group:
            path = group[unique_id].get("//", {}).get("metadata", {}).get("path", "")
            top = path.split("/")[1] if path.count("/") >= 1 else ""
            entry = CONSTRUCTS.get((parsed.kind if parsed else "", top))
            where = (f"accounts/{parsed.env}" if parsed.kind == "account" else parsed.env) if parsed else ""
            return {"type": rtype, "address": f"{rtype}.{unique_id}", "path": path, "env": where,
                    **({"module": entry[0], "class": entry[1], "section": entry[2]} if entry else {})}
    return None


def map_sarif(sarif: dict[str, Any], output, skips: Sequence[Any] = (), root: Path = PROJECT) -> dict[str, Any]:
    """A copy of ``sarif`` whose results point at the repository's files (see the module doc)."""
    mapped = json.loads(json.dumps(sarif))
    for run in mapped.get("runs", []):
        for result in run.get("results", []):
            locations = result.get("locations") or []
            physical = (locations[0] if locations else {}).get("physicalLocation", {})
            uri = physical.get("artifactLocation", {}).get("uri", "")
            stack_match = _STACK_FILE.search(uri)
            unique = _UNIQUE_ID.search(physical.get("region", {}).get("snippet", {}).get("text", ""))
            found = locate(output, stack_match.group(1), unique.group(1)) if stack_match and unique else None
            if found is None:
                continue  # left as checkov wrote it
            stack = stack_match.group(1)
            related = [{"id": 2, "message": {"text": f"synthesized as {found['address']} in {stack}"},
                        "physicalLocation": {"artifactLocation": {"uri": f"cdktf.out/stacks/{stack}/cdk.tf.json"},
                                             "region": physical.get("region", {"startLine": 1})}}]
            env_file = f"environments/{found['env']}.yaml"
            line = _line_of(root / env_file, rf"^{found['section']}:") if "section" in found else 1
            result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": env_file},
                                                         "region": {"startLine": line}}}]
            if "module" in found:
                related.insert(0, {"id": 1, "message": {"text": f"construct {found['path']}"},
                                   "physicalLocation": {"artifactLocation": {"uri": found["module"]},
                                                        "region": {"startLine": _line_of(
                                                            root / found["module"], rf"^class {found['class']}\b")}}})
            result["relatedLocations"] = related
            text = result.get("message", {}).get("text", "")
            result["message"] = {"text": f"{text} ({stack}: {found['address']}, construct {found['path']})"}
            skip = next((s for s in skips if s.matches(result.get("ruleId", ""), found["address"])), None)
            if skip is not None:
                result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": skip.why}]
    return mapped


# SARIF levels -> GitLab Code Quality severities
_SEVERITY = {"error": "major", "warning": "minor", "note": "info", "none": "info"}


def code_quality(mapped: dict[str, Any]) -> list[dict[str, Any]]:
    """GitLab's Code Quality report of the mapped findings that no scoped skip accepts, in SARIF order.
    The fingerprint is stable across runs for the same rule, file, line and message."""
    found = []
    for run in mapped.get("runs", []):
        for result in run.get("results", []):
            if result.get("suppressions"):
                continue
            physical = ((result.get("locations") or [{}])[0]).get("physicalLocation", {})
            path = physical.get("artifactLocation", {}).get("uri", "")
            line = int(physical.get("region", {}).get("startLine", 1))
            rule_id = str(result.get("ruleId", ""))
            text = result.get("message", {}).get("text", "")
            fingerprint = hashlib.sha256(f"{rule_id}\0{path}\0{line}\0{text}".encode()).hexdigest()
            found.append({"description": f"{rule_id}: {text}", "check_name": rule_id, "fingerprint": fingerprint,
                          "severity": _SEVERITY.get(str(result.get("level", "error")), "major"),
                          "location": {"path": path, "lines": {"begin": line}}})
    return found


def main(argv: Optional[Sequence[str]] = None) -> int:
    from policies.model.output import Output
    from tooling.review.gate import load_skips

    parser = argparse.ArgumentParser(prog="python -m tooling.review.sarif")
    parser.add_argument("sarif", type=Path)
    parser.add_argument("--outdir", default="cdktf.out", type=Path)
    parser.add_argument("--out", type=Path, default=Path("reports/spofless.sarif"))
    parser.add_argument("--codequality", type=Path, help="also write GitLab's Code Quality report here")
    args = parser.parse_args(argv)
    try:
        sarif = json.loads(args.sarif.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"error: {args.sarif}: not a readable SARIF file ({error})", file=sys.stderr)
        return 2
    mapped = map_sarif(sarif, Output.load(args.outdir), load_skips())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(mapped, indent=1) + "\n")
    results = [r for run in mapped.get("runs", []) for r in run.get("results", [])]
    moved = sum(1 for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .startswith("environments/"))
    suppressed = sum(1 for r in results if r.get("suppressions"))
    print(f"{args.out}: {len(results)} findings, {moved} mapped to environment files, {suppressed} suppressed "
          "by the scoped skip list")
    if args.codequality is not None:
        report = code_quality(mapped)
        args.codequality.parent.mkdir(parents=True, exist_ok=True)
        args.codequality.write_text(json.dumps(report, indent=1) + "\n")
        print(f"{args.codequality}: {len(report)} open findings (GitLab Code Quality)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
