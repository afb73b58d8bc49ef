"""Build every stack of every selected environment in one App, and synthesize it safely."""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

from cdktf import App, TerraformStack

from environments.schema import EnvironmentConfig
from environments.schema.account import AccountConfig
from modules import engine, output_dir
from modules.output_dir import OutputError
from modules.stacks import names
from modules.stacks.account import AccountStack
from modules.stacks.base import TERRAFORM_VERSION
from modules.stacks.dns import CloudflareDnsStack, Route53DnsStack
from modules.stacks.data import DataStack
from modules.stacks.dns_zone import DnsZoneStack
from modules.stacks.gitops import GitopsStack
from modules.stacks.regional import RegionalStack
from modules.stacks.security import SecurityStack


@dataclass(frozen=True)
class StackReport:
    """What ``synthesize`` says about one stack."""

    name: str
    resources: int
    build_seconds: float


def build_account(app: App, account: AccountConfig) -> Iterator[AccountStack]:
    """Add one account's baseline stacks to ``app``, the home region's first: the other regions' stacks
    depend on it (their AWS Config recorders run as the service-linked role it creates, and deliver to
    its audit bucket)."""
    home = None
    for region in sorted(account.regions, key=lambda r: (r != account.home_region, r)):
        stack = AccountStack(app, names.account(account.name, region), account=account, region=region, home=home)
        if home is None:
            home = stack
        else:
            stack.add_dependency(home)
        yield stack


def build_environment(app: App, env: EnvironmentConfig,
                      baseline: Optional[dict[str, AccountStack]] = None) -> Iterator[TerraformStack]:
    """Add one environment's stacks to ``app``, yielding each as soon as it is built.

    Order matters: every stack comes after the stacks it reads from. ``baseline``: the account's
    stacks by region; the security stack (whose key policies name the account's service-linked role)
    and each regional stack (whose Elastic IPs draw on the quota the baseline requests) depend on them.
    """
    baseline = baseline or {}
    home = baseline.get(env.account.home_region)
    security = SecurityStack(app, names.security(env.name), env=env)
    if home is not None:
        security.add_dependency(home)
    yield security
    zone = DnsZoneStack(app, names.dns_zone(env.name), env=env, keys=security.keys)
    yield zone
    regional = []
    for role, region in zip(("primary", "standby"), env.regions.all):
        stack = RegionalStack(app, names.regional(env.name, region.name), env=env, region=region, role=role,
                              keys=security.keys, certificates=zone.certificates,
                              name_servers=zone.zone.name_servers)
        if region.name in baseline:
            stack.add_dependency(baseline[region.name])
        regional.append((role, region, stack))
        yield stack
    for role, region, stack in regional:
        yield GitopsStack(app, names.gitops(env.name, region.name), env=env, region=region, role=role,
                          cluster=stack.cluster,
                          target_groups={key: (lb.target_group_arn, lb.target_port)
                                         for key, lb in stack.load_balancing.load_balancers.items()})
    data = None
    for role, region, stack in regional:
        others = [other for _, r, other in regional if r.name != region.name]
        data = DataStack(app, names.data(env.name, region.name), env=env, region=region, role=role,
                         keys=security.keys, regional=stack, other_regional=others[0] if others else None,
                         primary=data if role == "standby" else None)
        yield data
    load_balancers = {region.name: stack.load_balancing.load_balancers for _, region, stack in regional}
    yield Route53DnsStack(app, names.dns_route53(env.name), env=env, zone_id=zone.zone.zone_id,
                          load_balancers=load_balancers)
    if env.dns.cloudflare:
        yield CloudflareDnsStack(app, names.dns_cloudflare(env.name), env=env, load_balancers=load_balancers,
                                 zone=zone.zone, certificates=zone.certificates)


def accounts_of(envs: list[EnvironmentConfig]) -> list[AccountConfig]:
    """The accounts of ``envs``, each once, by name: every account an environment deploys into gets
    its baseline synthesized with it."""
    return sorted({env.account.name: env.account for env in envs}.values(), key=lambda a: a.name)


_HCL_RESOURCE = re.compile(r'^resource\s+"[^"]+"\s+"[^"]+"', re.MULTILINE)


def count_resources(stack_dir: Path) -> int:
    """Resources (not data sources) in one synthesized stack: ``cdk.tf.json``, or ``cdk.tf`` when
    the cdktf CLI asked for HCL (``cdktf synth --hcl`` sets SYNTH_HCL_OUTPUT)."""
    if not (stack_dir / "cdk.tf.json").exists() and (stack_dir / "cdk.tf").exists():
        return len(_HCL_RESOURCE.findall((stack_dir / "cdk.tf").read_text()))
    document = json.loads((stack_dir / "cdk.tf.json").read_text())
    return sum(len(instances) for instances in document.get("resource", {}).values())


def synthesize(envs: list[EnvironmentConfig], outdir: Path,
               progress: Optional[Callable[[str], None]] = None) -> list[StackReport]:
    """Synthesize ``envs`` into ``outdir``, all or nothing (modules/output_dir.py).

    One synthesis at a time per output folder (a lock); the app writes into a temporary
    sibling, which is exchanged with ``outdir`` atomically once every stack has synthesized,
    so a failure or a kill leaves ``outdir`` as it was. A filesystem failure raises
    :class:`OutputError` with one line: the path and the cause.
    """
    say = progress or (lambda line: None)
    outdir = outdir.resolve()
    with output_dir.locked(outdir, say=say):
        output_dir.reclaim(outdir, say=say)
        staging = output_dir.staging_path(outdir)
        try:
            staging.mkdir()  # fails here, in one line, on a read-only, immutable or full location
        except OSError as error:
            raise OutputError(f"cannot write the output beside {outdir}: "
                              f"{output_dir.describe(error, staging)}") from None
        try:
            return _synthesize(envs, outdir, staging, say)
        except OSError as error:
            raise OutputError(f"cannot write the output: {output_dir.describe(error, staging)}") from None
        except Exception as error:  # noqa: BLE001 - the jsii runtime reports node's fs errors as its own
            line = output_dir.from_node(error)
            if line is None:
                raise
            raise OutputError(f"cannot write the output: {line}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _synthesize(envs: list[EnvironmentConfig], outdir: Path, staging: Path,
                say: Callable[[str], None]) -> list[StackReport]:
    timings: dict[str, float] = {}
    app = App(outdir=str(staging), **engine.app_options(engine.selected(), TERRAFORM_VERSION))
    baselines: dict[str, dict[str, AccountStack]] = {}
    started = time.perf_counter()
    for account in accounts_of(envs):
        baselines[account.name] = {}
        # the time between two yields is the time it took to build the stack yielded
        for stack in build_account(app, account):
            baselines[account.name][stack.region] = stack
            timings[stack.node.id] = time.perf_counter() - started
            started = time.perf_counter()
    for env in envs:
        started = time.perf_counter()
        for stack in build_environment(app, env, baselines.get(env.account.name)):
            timings[stack.node.id] = time.perf_counter() - started
            started = time.perf_counter()
    started = time.perf_counter()
    app.synth()
    synth_seconds = time.perf_counter() - started
    share = synth_seconds / len(timings)  # app.synth() is one call; spread it evenly
    reports = []
    for name, seconds in timings.items():
        reports.append(StackReport(name, count_resources(staging / "stacks" / name), seconds + share))
        say(f"  {name:<28} {reports[-1].resources:>4} resources  {reports[-1].build_seconds:5.1f}s")
    output_dir.replace(staging, outdir)
    return reports
