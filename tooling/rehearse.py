"""Deploy rehearsal: apply, verify and destroy one environment's AWS stacks against moto.

    python -m tooling.rehearse [--env dev] [--report reports/rehearsal-dev.json]

"It synthesizes and validates" is not "it deploys". The rehearsal

1. starts moto's server mode on a free loopback port, with a bounded lifetime,
   and always stops it at the end;
2. synthesizes the environment into a temporary folder, the project's way;
3. rewrites a copy of every AWS-only stack for the emulator (provider endpoints
   and fake credentials, local state, remote state read from those local
   files, ``prevent_destroy`` lifted, the :data:`SKIPPED_TYPES` removed): only
   that copy sees the emulator, never ``cdktf.out``;
4. applies the stacks in dependency waves with Terraform (the stacks of one
   wave, the regions, side by side), verifies with boto3
   that what exists matches the environment's design (:mod:`.rehearsal_checks`),
   destroys them in reverse order, and checks that nothing of ours is left;
5. prints a report per stack (resources applied, seconds, left after destroy),
   the skip list and every check; writes the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

from tooling import deploy
from tooling.emulator import FIXES as EMULATOR_FIXES
from tooling.terraform import CLI_CONFIG, PROJECT, aws_only_stacks, setup, terraform_env

# Resource types the emulator cannot create. The stack keeps them; only the rehearsal
# copy drops them, and the report prints this list. Keep it short.
SKIPPED_TYPES: dict[str, str] = {
    "aws_secretsmanager_secret_rotation":
        "moto's RotateSecret invokes the rotation Lambda, which lives outside spofless",
    "aws_eks_addon":
        "moto has no EKS add-on API (CreateAddon/DescribeAddon)",
    "aws_eks_access_entry":
        "moto has no EKS access entry API (CreateAccessEntry/DescribeAccessEntry)",
    "aws_eks_access_policy_association":
        "moto has no EKS access policy API (AssociateAccessPolicy/ListAssociatedAccessPolicies)",
    "aws_eks_pod_identity_association":
        "moto has no EKS Pod Identity API (CreatePodIdentityAssociation)",
    "aws_route53_query_log":
        "moto only finds the log group when its ARN ends in ':*', which the provider's arn attribute trims",
    "aws_elasticache_global_replication_group":
        "moto has no Global Datastore API (CreateGlobalReplicationGroup raises NotImplemented)",
    "aws_elasticache_replication_group":
        "moto creates a replication group without member cache clusters (DescribeCacheClusters on "
        "<group>-001 answers CacheClusterNotFound), so the provider cannot read it back",
    "aws_elasticache_subnet_group":
        "moto has no DeleteCacheSubnetGroup (NotImplemented: the destroy retries until it times out); with the "
        "replication groups skipped nothing uses it",
    "aws_elasticache_user_group":
        "moto has no ElastiCache user group API (CreateUserGroup); the replication groups are created without "
        "user_group_ids",
    "aws_elasticache_user":
        "moto has no ElastiCache user groups, so the users would belong to nothing",
    "aws_backup_selection":
        "moto has no CreateBackupSelection; the plan, its rules and copy action, and the vault lock are rehearsed",
    "aws_accessanalyzer_analyzer":
        "moto has no IAM Access Analyzer backend (access-analyzer requests answer 500)",
    "aws_securityhub_account":
        "moto has no UpdateSecurityHubConfiguration, which the provider calls after EnableSecurityHub",
    "aws_securityhub_standards_subscription":
        "moto has no Security Hub standards API (BatchEnableStandards, GetEnabledStandards)",
    "aws_securityhub_finding_aggregator":
        "moto has no Security Hub finding aggregator API (CreateFindingAggregator)",
    "aws_servicequotas_service_quota":
        "moto has no GetAWSDefaultServiceQuota or RequestServiceQuotaIncrease; the quota rule (make check) and "
        "the loader hold the quotas",
}

# Settings the rehearsal copy turns off so that its destroy can run, like prevent_destroy (None: the
# argument is left out).
UNPROTECTED: dict[tuple[str, str], Any] = {
    ("aws_rds_cluster", "deletion_protection"): False,
    ("aws_rds_global_cluster", "deletion_protection"): False,
    ("aws_rds_cluster", "skip_final_snapshot"): True,
    ("aws_rds_cluster", "final_snapshot_identifier"): None,
    # buckets that received objects (S3 server access logs, which the emulator writes too)
    ("aws_s3_bucket", "force_destroy"): True,
    ("aws_ecr_repository", "force_delete"): True,
}

# Plan after apply must show no change. These attributes differ only because the emulator
# answers differently from AWS (each with its reason, like SKIPPED_TYPES); a diff on any other
# attribute, or any create, replace or delete, fails the rehearsal: it would be a perpetual diff
# the configuration causes. (resource type, top-level attribute) -> why.
_RULE_DESCRIPTION = ("moto drops the description of a rule that references a security group "
                     "(UserIdGroupPairs), so the rule reads back without the description it was created with")
PLAN_QUIRKS: dict[tuple[str, str], str] = {
    ("aws_vpc_security_group_ingress_rule", "description"): _RULE_DESCRIPTION,
    ("aws_vpc_security_group_egress_rule", "description"): _RULE_DESCRIPTION,
    ("aws_rds_global_cluster", "tags_all"):
        "moto's ListTagsForResource refuses a global cluster's ARN (arn:aws:rds::<account>:global-cluster:..., "
        "no region: 'Invalid resource name'), so the provider reads no tags",
    ("aws_rds_cluster", "scaling_configuration"):
        "moto describes a provisioned cluster with an empty ScalingConfigurationInfo, which AWS returns only for "
        "Serverless v1, so the provider fills in its defaults",
    **{("aws_rds_cluster_instance", a): "moto's CreateDBInstance drops the Performance Insights settings of a "
                                         "cluster instance and describes it with Performance Insights off"
       for a in ("performance_insights_enabled", "performance_insights_kms_key_id",
                 "performance_insights_retention_period")},
    ("aws_s3_bucket_replication_configuration", "rule"):
        "moto's GetBucketReplication returns DeleteMarkerReplication as Disabled and the Filter as Prefix '' "
        "whatever was sent, and drops SourceSelectionCriteria (hard-coded in moto/s3/responses.py)",
    ("aws_s3_bucket_notification", "eventbridge"):
        "moto accepts EventBridgeConfiguration in PutBucketNotificationConfiguration but returns none, so "
        "the bucket reads back with EventBridge off",
}

# Every AWS service the stacks call, pointed at the emulator. A service missing here
# would be called on real AWS with fake credentials and fail loudly, never silently.
SERVICES = ("accessanalyzer", "acm", "backup", "cloudtrail", "cloudwatch", "cloudwatchlogs", "configservice", "ec2",
            "ecr", "eks", "elasticache", "elbv2", "guardduty", "iam", "kms", "lambda", "rds", "route53", "s3",
            "s3control", "secretsmanager", "securityhub", "servicequotas", "sts", "wafv2")

FAKE_CREDENTIAL = "rehearsal"
REMOTE_STATE_PREFIX = "cross-stack-reference-input-"
EMULATOR_LIFETIME = 3600  # seconds; the emulator is killed after this even if we are not
TERRAFORM_TIMEOUT = 1200  # seconds per terraform command
# Most of a rehearsal is the provider's own polling (Route53 changes, load balancers, KMS
# propagation), not work: more operations in flight than Terraform's default 10 cost nothing.
PARALLELISM = 30


class RehearsalError(Exception):
    """The rehearsal cannot go on; the message says where and why."""


# -- the emulator --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Emulator:
    """moto's server on 127.0.0.1, stopped on exit, on a signal, or when its lifetime runs out."""

    def __init__(self, *, lifetime: float = EMULATOR_LIFETIME, log: Optional[Path] = None,
                 account_id: Optional[str] = None):
        self.port = free_port()
        self.account_id = account_id
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.lifetime = lifetime
        self.log = log
        self._process: Optional[subprocess.Popen] = None
        self._timer: Optional[threading.Timer] = None

    def __enter__(self) -> "Emulator":
        env = dict(os.environ)
        env["MOTO_ACM_VALIDATION_WAIT"] = "0"  # certificates are issued as soon as they are read
        env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # AmazonEKSClusterPolicy & co. exist, as in AWS
        if self.account_id:
            # the environment's account, so the providers' allowed_account_ids check passes as in AWS
            env["MOTO_ACCOUNT_ID"] = self.account_id
        command = [sys.executable, "-m", "tooling.emulator", "-H", "127.0.0.1", "-p", str(self.port)]
        if shutil.which("timeout"):
            # bounded even if this process is killed outright and never gets to stop() it
            command = ["timeout", "--kill-after=10", str(int(self.lifetime)), *command]
        else:  # no coreutils timeout: bounded as long as this process lives
            self._timer = threading.Timer(self.lifetime, self.stop)
            self._timer.daemon = True
            self._timer.start()
        out = open(self.log, "w") if self.log else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=PROJECT,
                                             start_new_session=True)
        finally:
            if self.log:
                out.close()  # the emulator has its own copy of the file
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RehearsalError(f"the emulator (moto) exited at start (code {self._process.returncode}); "
                                     f"see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RehearsalError(f"the emulator (moto) did not answer on {self.endpoint} within 30 s")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        process = self._process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __exit__(self, *exc) -> None:
        self.stop()


# -- the rehearsal copy of a stack ---------------------------------------------------------

def state_file(state_dir: Path, stack: str) -> str:
    return str(state_dir / f"{stack}.tfstate")


def _refers(value: Any, addresses: set[str], cross_stack: Sequence[str] = ()) -> bool:
    """True when ``value`` (a block, with its depends_on) names one of ``addresses``, or reads an
    upstream output of a type in ``cross_stack``."""
    text = json.dumps(value)
    if any(marker in text for marker in cross_stack):
        return True
    return any(re.search(rf"(?<![\w.-]){re.escape(address)}(?![\w-])", text) for address in addresses)


def rehearsal_document(document: Mapping[str, Any], stack: str, endpoint: str, state_dir: Path,
                       skipped: Mapping[str, str] = SKIPPED_TYPES) -> tuple[dict[str, Any], Counter]:
    """A copy of one synthesized stack that deploys to the emulator, and what it left out.

    Raises :class:`RehearsalError` when something the rehearsal keeps refers to a
    skipped resource type: dropping it would then change what is tested.
    """
    doc = json.loads(json.dumps(document))
    terraform = doc.setdefault("terraform", {})
    terraform["backend"] = {"local": {"path": state_file(state_dir, stack)}}

    for provider in doc.get("provider", {}).get("aws", []):
        provider.update({
            "access_key": FAKE_CREDENTIAL,
            "secret_key": FAKE_CREDENTIAL,
            "skip_credentials_validation": True,
            "skip_metadata_api_check": True,
            "skip_region_validation": True,
            "s3_use_path_style": True,
            "endpoints": [{service: endpoint for service in SERVICES}],
        })

    for name, source in doc.get("data", {}).get("terraform_remote_state", {}).items():
        if not name.startswith(REMOTE_STATE_PREFIX):
            raise RehearsalError(f"{stack}: remote state {name!r} is not a cdktf cross-stack reference")
        source["backend"] = "local"
        source["config"] = {"path": state_file(state_dir, name[len(REMOTE_STATE_PREFIX):])}

    left_out: Counter = Counter()
    resources = doc.get("resource", {})
    for (resource_type, attribute), value in UNPROTECTED.items():
        for block in resources.get(resource_type, {}).values():
            if value is None:
                block.pop(attribute, None)
            elif attribute in block:
                block[attribute] = value
    dropped: set[str] = set()
    for resource_type in sorted(set(resources) & set(skipped)):
        dropped |= {f"{resource_type}.{n}" for n in resources[resource_type]}
        left_out[resource_type] = len(resources.pop(resource_type))
    # What refers to a dropped resource goes too (in this stack, or through an upstream stack's
    # output, whose name carries the type), until nothing left refers to anything dropped.
    cross_stack = [f"cross-stack-output-{t}" for t in skipped]
    while True:
        cascade = [(t, n) for t, blocks in resources.items() for n, block in blocks.items()
                   if _refers(block, dropped, cross_stack)]
        if not cascade:
            break
        for resource_type, name in cascade:
            del resources[resource_type][name]
            dropped.add(f"{resource_type}.{name}")
            left_out[resource_type] += 1
        for resource_type in [t for t, blocks in resources.items() if not blocks]:
            del resources[resource_type]
    for name in [n for n, o in doc.get("output", {}).items() if _refers(o, dropped, cross_stack)]:
        del doc["output"][name]
    for blocks in resources.values():
        for block in blocks.values():
            lifecycle = block.get("lifecycle")
            if lifecycle:
                lifecycle.pop("prevent_destroy", None)
                if not lifecycle:
                    del block["lifecycle"]
    for section in ("data", "locals"):
        if _refers(doc.get(section, {}), dropped, cross_stack):
            raise RehearsalError(f"{stack}: {section} refers to a resource the rehearsal leaves out "
                                 f"({', '.join(sorted(dropped))}); it cannot be left out")
    return doc, left_out


def stack_waves(manifest: Mapping[str, Any], names: Iterable[str]) -> list[list[str]]:
    """``names`` in dependency waves: each stack comes one wave after its last dependency.

    The stacks of one wave do not depend on each other (the regions of an
    environment), so they are applied and destroyed side by side.
    """
    from policies.deploy_model import Output  # the one reader of cdktf.out

    try:
        return Output({}, dict(manifest)).waves(names, outside="not an AWS-only stack")
    except ValueError as exc:
        raise RehearsalError(f"{exc}; the rehearsal cannot apply it") from None


# -- terraform -----------------------------------------------------------------------------

@dataclass
class StackResult:
    stack: str
    resources: int = 0
    apply_seconds: float = 0.0
    destroy_seconds: float = 0.0
    left_after_destroy: int = -1
    skipped: dict[str, int] = field(default_factory=dict)
    error: str = ""
    notes: list[str] = field(default_factory=list)
    plan_seconds: float = 0.0
    # where the time went: the slowest resource operations of apply and destroy, from Terraform's log
    slowest: list[dict[str, Any]] = field(default_factory=list)


def rehearsal_env(endpoint: str) -> dict[str, str]:
    """Terraform's environment: our CLI config, fake credentials, no profiles or metadata service."""
    env = {k: v for k, v in terraform_env().items()
           if not k.startswith("AWS_") and k not in ("TF_LOG", "TF_WORKSPACE")}
    env.update({"AWS_ACCESS_KEY_ID": FAKE_CREDENTIAL, "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIAL,
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": endpoint,
                # S3 Control puts the account id in front of the host (<account>.127.0.0.1), which no resolver
                # knows; through the emulator as a proxy the request reaches it. Loopback hosts (every other
                # call) are never proxied, and nothing here leaves the machine.
                "HTTP_PROXY": endpoint, "NO_PROXY": ""})
    return env


def _terraform(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess:
    """Run terraform in ``cwd`` (spofless deploy's runner); its output is also kept in ``cwd/<command>.log``."""
    return deploy.terraform([*args, "-no-color"], cwd, env, timeout=TERRAFORM_TIMEOUT)


def _state_count(work: Path, env: Mapping[str, str]) -> int:
    if not work.is_dir():
        return 0  # a stack deploy never reached (it waited on one that failed) has no folder, nor state
    listed = _terraform(["state", "list"], work, env)
    if listed.returncode != 0:
        return 0 if "No state file" in (listed.stderr + listed.stdout) else -1
    return sum(1 for line in listed.stdout.splitlines() if line.strip() and not line.startswith("data."))


_COMPLETE = re.compile(r"^(?P<address>\S+): (?P<verb>Creation|Destruction|Modifications) complete after "
                       r"(?:(?P<m>\d+)m)?(?P<s>\d+)s", re.MULTILINE)
PROFILE_TOP = 5


def slowest_operations(output: str, top: int = PROFILE_TOP) -> list[dict[str, Any]]:
    """The ``top`` slowest resource operations in a Terraform apply or destroy log, slowest first.

    Terraform prints "<address>: Creation complete after 1m2s" per resource; most of a rehearsal
    is the provider's fixed waits (a Route53 change waits 10-30 s before its first poll whatever
    the emulator answers), and this is where they show.
    """
    found = [{"address": m["address"], "operation": m["verb"].lower(),
              "seconds": int(m["m"] or 0) * 60 + int(m["s"])} for m in _COMPLETE.finditer(output)]
    return sorted(found, key=lambda op: (-op["seconds"], op["address"]))[:top]


def changed_attributes(change: Mapping[str, Any]) -> list[str]:
    """Top-level attributes a planned update changes (differ, or become unknown)."""
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) or _any_true(unknown.get(k)))


def _any_true(value: Any) -> bool:
    """``after_unknown`` mirrors the value's shape with True where it becomes unknown."""
    if isinstance(value, dict):
        return any(_any_true(v) for v in value.values())
    if isinstance(value, list):
        return any(_any_true(v) for v in value)
    return value is True


def judge_plan(plan: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(problems, tolerated quirks) of a plan made right after apply (``terraform show -json``)."""
    problems, tolerated = [], []
    for resource in plan.get("resource_changes", []):
        change = resource.get("change", {})
        actions = change.get("actions", [])
        if actions in (["no-op"], ["read"]):
            continue
        address = resource["address"]
        if actions != ["update"]:
            problems.append(f"{address}: {'/'.join(actions)}")
            continue
        attributes = changed_attributes(change)
        unexplained = [a for a in attributes if (resource["type"], a) not in PLAN_QUIRKS]
        if unexplained or not attributes:
            problems.append(f"{address}: update {', '.join(unexplained or ['(nothing visible)'])}")
        else:
            tolerated += [f"{address}.{a}" for a in attributes]
    return problems, tolerated


def readback_plan(work: Path, env: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """The second plan as a real account would make it: the stack's state as real APIs read it back
    (:mod:`tooling.readback`), planned without a refresh (which would read the emulator's echo again).
    Returns ``(what was normalised, problems of the plan)``."""
    from tooling import readback

    pulled = deploy.terraform(["state", "pull"], work, env, timeout=TERRAFORM_TIMEOUT)
    if pulled.returncode != 0:
        return [], [f"state pull failed: {deploy.tail(pulled, 5)}"]
    state = json.loads(pulled.stdout or "{}")
    normalised = readback.normalise_state(state)
    if not normalised:
        return [], []
    path = work / "readback.tfstate"
    path.write_text(json.dumps(state))
    for args in (["state", "push", str(path)],
                 ["plan", "-refresh=false", "-input=false", "-lock=false", "-no-color", "-out=readback.tfplan"]):
        run = deploy.terraform(args, work, env, timeout=TERRAFORM_TIMEOUT)
        if run.returncode != 0:
            return normalised, [f"terraform {args[0]} {args[1] if args[0] == 'state' else ''}failed: "
                                f"{deploy.tail(run, 8)}"]
    shown = deploy.terraform(["show", "-json", "readback.tfplan"], work, env, timeout=TERRAFORM_TIMEOUT)
    problems, _ = judge_plan(json.loads(shown.stdout or "{}"))
    return normalised, problems


# -- the whole run -------------------------------------------------------------------------

def synthesize(env_name: str, outdir: Path) -> None:
    """The project's synthesis, for one environment, into ``outdir``."""
    # the jsii banner is already silenced in os.environ: importing modules does it
    env = dict(os.environ, CDKTF_OUTDIR=str(outdir), SPOFLESS_ENVS=env_name)
    run = subprocess.run([sys.executable, "-O", str(PROJECT / "main.py")], cwd=PROJECT, env=env,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise RehearsalError(f"synthesis of {env_name} failed:\n{deploy.tail(run, 25)}")


@dataclass
class Rehearsal:
    env: str
    endpoint: str = ""
    stacks: list[StackResult] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    skipped_types: dict[str, str] = field(default_factory=lambda: dict(SKIPPED_TYPES))
    emulator_fixes: dict[str, str] = field(default_factory=lambda: dict(EMULATOR_FIXES))
    plan_quirks: dict[str, str] = field(default_factory=lambda: {f"{t}.{a}": why for (t, a), why
                                                                in PLAN_QUIRKS.items()})
    seconds: float = 0.0
    error: str = ""
    not_run: str = ""  # why nothing was rehearsed (no mirror of the provider version the output pins)

    @property
    def ok(self) -> bool:
        return (not self.error and bool(self.stacks) and bool(self.checks)
                and all(not s.error and s.left_after_destroy == 0 for s in self.stacks)
                and all(c["ok"] for c in self.checks) and not self.leftovers)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def seed_parent_zone(endpoint: str, domain: str) -> None:
    """Create the parent zone a child environment delegates from, as the parent environment would."""
    import boto3

    client = boto3.client("route53", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=FAKE_CREDENTIAL, aws_secret_access_key=FAKE_CREDENTIAL)
    client.create_hosted_zone(Name=domain, CallerReference=f"rehearsal-parent-{domain}")


def rehearse(env_name: str, work_root: Path, *, lifetime: float = EMULATOR_LIFETIME,
             log=print) -> Rehearsal:
    from environments.loader import load_environments
    from tooling import rehearsal_checks

    started = time.perf_counter()
    report = Rehearsal(env_name)
    config = load_environments([env_name])[0]
    if not CLI_CONFIG.exists():
        setup()
    synth_dir = work_root / "synth"
    log(f"rehearse {env_name}: synthesizing into {synth_dir}")
    synthesize(env_name, synth_dir)
    from tooling.engines import current_mirror_gap

    gap = current_mirror_gap(synth_dir)  # e.g. a CDK Terrain output pins hashicorp/aws 6.x
    if gap:
        log(f"{gap}; rehearsal: not run")
        report.not_run = gap
        return report
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    names = [p.name for p in aws_only_stacks(synth_dir)]
    waves = stack_waves(manifest, names)
    from policies.deploy_model import Output  # the one reader of cdktf.out

    output = Output.load(synth_dir)
    jobs = max(map(len, waves), default=1)

    with Emulator(lifetime=lifetime, log=work_root / "moto.log", account_id=config.account_id) as emulator:
        try:
            report.endpoint = emulator.endpoint
            # `spofless deploy / diff / destroy --emulator`, on this rehearsal's own emulator and folder
            target = deploy.Target(synth_dir, endpoint=emulator.endpoint, root=work_root, timeout=TERRAFORM_TIMEOUT)
            env = target.env()
            if config.dns.parent_domain:
                seed_parent_zone(emulator.endpoint, config.dns.parent_domain)
                log(f"rehearse {env_name}: seeded the parent zone {config.dns.parent_domain} (its own "
                    "environment's dns-zone stack creates it; this one writes the delegation into it)")
            log(f"rehearse {env_name}: emulator on {emulator.endpoint}; deploying "
                + " -> ".join(" + ".join(wave) for wave in waves))
            results = {name: StackResult(name) for wave in waves for name in wave}
            report.stacks = list(results.values())

            def stack_log(stack: str) -> str:
                path = work_root / "stacks" / stack / "apply.log"
                return path.read_text() if path.is_file() else ""

            for outcome in deploy.run("deploy", output, names, target, jobs=jobs, parallelism=PARALLELISM):
                result = results[outcome.stack]
                result.apply_seconds, result.skipped = outcome.seconds, target.left_out.get(outcome.stack, {})
                result.slowest = slowest_operations(stack_log(outcome.stack))
                result.resources = _state_count(work_root / "stacks" / outcome.stack, env)
                if outcome.status != "applied":
                    result.error = f"deploy {outcome.status}: {outcome.detail}"
                log(f"  apply   {result.stack:<24} {result.resources:4d} resources {result.apply_seconds:6.1f}s"
                    + ("" if not result.error else f"  {outcome.status.upper()}"))
            failed = [r.stack for r in report.stacks if r.error]
            if failed:
                report.error = "apply failed: " + ", ".join(failed)
            else:
                report.checks = [asdict(c) for c in rehearsal_checks.verify(config, emulator.endpoint)]
                failed = [c for c in report.checks if not c["ok"]]
                log(f"rehearse {env_name}: {len(report.checks) - len(failed)}/{len(report.checks)} "
                    "verification checks passed")
                # idempotency: `spofless diff` right after the deploy shows no change, or only an emulator
                # quirk (PLAN_QUIRKS); every stack at once, since nothing is applied any more
                for outcome in deploy.run("diff", output, names, target, jobs=len(names), parallelism=PARALLELISM,
                                          ordered=False):
                    result = results[outcome.stack]
                    result.plan_seconds = outcome.seconds
                    clean = outcome.status == "no changes"
                    quirks = outcome.detail.split("; ")[0][len("emulator quirks only: "):] \
                        if outcome.detail.startswith("emulator quirks only: ") else ""
                    detail = ("no changes" + (f" (emulator quirks: {quirks})" if quirks else "")) if clean else \
                        f"{outcome.status}: {outcome.detail}"
                    report.checks.append(asdict(rehearsal_checks.Check(f"plan after apply {result.stack}", clean,
                                                                       detail)))
                    log(f"  plan    {result.stack:<24} {'no changes' if clean else 'CHANGES'}"
                        f"{'':>10}{result.plan_seconds:6.1f}s")
                # the second plan against what real APIs read back (the emulator echoes what it was sent)
                for name in names:
                    normalised, problems = readback_plan(work_root / "stacks" / name, env)
                    detail = ("; ".join(problems) if problems else
                              f"no changes after {len(normalised)} read-back normalisation(s): "
                              + ", ".join(sorted({n.split(':')[0].rsplit('.', 1)[-1] for n in normalised}))
                              if normalised else "nothing the real APIs read back differently")
                    report.checks.append(asdict(rehearsal_checks.Check(f"plan after read-back {name}", not problems,
                                                                       detail)))
                    log(f"  readback {name:<23} {'CHANGES' if problems else 'no changes'} "
                        f"({len(normalised)} normalised)")
            for outcome in deploy.run("destroy", output, names, target, jobs=jobs, parallelism=PARALLELISM):
                result = results[outcome.stack]
                result.destroy_seconds = outcome.seconds
                result.notes += outcome.notes
                result.slowest = sorted(result.slowest + slowest_operations(stack_log(outcome.stack)),
                                        key=lambda op: (-op["seconds"], op["address"]))[:2 * PROFILE_TOP]
                result.left_after_destroy = _state_count(work_root / "stacks" / outcome.stack, env)
                if outcome.failed or outcome.status == "not run":
                    result.error = (result.error + "\n" if result.error else "") + \
                        f"destroy {outcome.status}: {outcome.detail}"
                log(f"  destroy {result.stack:<24} {result.left_after_destroy:4d} left      "
                    f"{result.destroy_seconds:6.1f}s" + ("  FAILED" if outcome.failed else ""))
            try:
                report.leftovers = rehearsal_checks.leftovers(config, emulator.endpoint)
            except Exception as error:  # noqa: BLE001 - an unlistable emulator is a failed rehearsal
                report.leftovers = [f"could not list what is left: {type(error).__name__}: {error}"]
        except BaseException:
            deploy.interrupt_all()  # before the emulator stops
            raise
    report.seconds = time.perf_counter() - started
    return report


def format_report(report: Rehearsal) -> str:
    lines = [f"Deploy rehearsal of {report.env} against moto ({report.endpoint or 'not started'})", "",
             f"  {'stack':<26} {'applied':>7} {'apply s':>8} {'destroy s':>9} {'left':>5}  skipped"]
    for s in report.stacks:
        skipped = ", ".join(f"{t} x{n}" for t, n in sorted(s.skipped.items())) or "-"
        lines.append(f"  {s.stack:<26} {s.resources:>7} {s.apply_seconds:>8.1f} {s.destroy_seconds:>9.1f} "
                     f"{s.left_after_destroy:>5}  {skipped}")
    total = sum(s.resources for s in report.stacks)
    lines.append(f"  {'total':<26} {total:>7} {sum(s.apply_seconds for s in report.stacks):>8.1f} "
                 f"{sum(s.destroy_seconds for s in report.stacks):>9.1f} "
                 f"{sum(max(s.left_after_destroy, 0) for s in report.stacks):>5}")
    lines += ["", "Skipped resource types (the emulator cannot create them; the stacks keep them):"]
    lines += [f"  {t}: {why}" for t, why in sorted(report.skipped_types.items())]
    lines += ["", "Emulator fixes (moto made to follow the AWS API reference; tooling/emulator.py):"]
    lines += [f"  {api}: {why}" for api, why in sorted(report.emulator_fixes.items())]
    lines += ["", "Plan after apply: attributes the emulator makes differ (tolerated; anything else fails):"]
    lines += [f"  {attribute}: {why}" for attribute, why in sorted(report.plan_quirks.items())] or ["  none"]
    lines += ["", "Where the time goes (slowest resource operations per stack, from Terraform's log):"]
    for s in report.stacks:
        ops = ", ".join(f"{op['address']} {op['operation']} {op['seconds']}s" for op in s.slowest[:PROFILE_TOP])
        lines.append(f"  {s.stack}: {ops or '-'}")
    lines += ["", "Verification after apply:"]
    lines += [f"  {'ok  ' if c['ok'] else 'FAIL'} {c['name']}: {c['detail']}" for c in report.checks]
    if not report.checks:
        lines.append("  not run")
    lines += ["", "Left after destroy: " + ("; ".join(report.leftovers) if report.leftovers else "nothing")]
    for s in report.stacks:
        if s.error or s.notes:
            lines += ["", f"{s.stack}:"] + [f"  note: {n}" for n in s.notes]
            lines += ["  " + s.error.replace("\n", "\n  ")] if s.error else []
    if report.error:
        lines += ["", f"error: {report.error}"]
    lines += ["", f"rehearsal {report.env}: {'PASSED' if report.ok else 'FAILED'} in {report.seconds:.0f} s"]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.rehearse")
    parser.add_argument("--env", default=os.environ.get("ENV") or "dev")
    parser.add_argument("--report", help="JSON report path (default reports/rehearsal-<env>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (state, logs)")
    parser.add_argument("--lifetime", type=float, default=EMULATOR_LIFETIME,
                        help="seconds after which the emulator is stopped regardless")
    args = parser.parse_args(argv)
    from environments.loader import ConfigError, available
    if args.env not in available():
        print(f"error: ENV={args.env}: no such environment; allowed: {', '.join(available())}", file=sys.stderr)
        return 2
    work_root = Path(tempfile.mkdtemp(prefix=f"spofless-rehearse-{args.env}-"))
    # SIGTERM (CI cancelling, a test runner's clean-up) unwinds like Ctrl-C, so the emulator stops.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    report = None
    try:
        report = rehearse(args.env, work_root, lifetime=args.lifetime)
    except (RehearsalError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rehearsal interrupted; the emulator was stopped", file=sys.stderr)
        return 130
    finally:
        # a failed rehearsal keeps its folder: Terraform logs per stack, state, moto.log
        if not args.keep and (report is None or report.ok or report.not_run):
            shutil.rmtree(work_root, ignore_errors=True)
    if report.not_run:
        return 0  # said in one line above: the provider version is not on this machine, not a failure
    print()
    print(format_report(report))
    path = Path(args.report or PROJECT / "reports" / f"rehearsal-{args.env}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    if args.keep or not report.ok:
        print(f"working folder kept: {work_root} (terraform logs per stack, state, moto.log)")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
