"""What the configuration asks the synthesized output to hold: environments, stacks, regions, engines.

Every expectation here is derived from ``environments/*.yaml`` (read by the loader, as synthesis
reads them) and from the design contract written below (how stacks are named, which stacks an
environment has, which region's state bucket a stack uses, which engine reconciles a cluster),
never from the synthesized output. Adding an environment or flipping a knob keeps the suite
green; a stack that goes missing, is renamed, lands in the wrong region or runs the wrong engine
still fails it.

The contract is restated here on purpose rather than imported from ``modules/stacks/names.py``
or ``modules/gitops/engines.py``: a change there must show up as a failing test, not move the
expectation along with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import pytest

from environments.loader import load_environments
from environments.schema import EnvironmentConfig, RegionConfig

ENVIRONMENTS: dict[str, EnvironmentConfig] = {env.name: env for env in load_environments()}
"""Every environment of environments/*.yaml, by name (sorted), validated like synthesis does."""

ROLES = ("primary", "standby")
ENGINES = ("argocd", "flux")
GIT_HOSTS = ("github", "gitlab")
LOAD_BALANCERS = ("alb-primary", "alb-secondary", "nlb")
"""The three load balancers of every region, in failover order."""


# -- the stack-naming contract ---------------------------------------------------------------

def security_stack(env: str) -> str:
    return f"{env}-security"


def dns_zone_stack(env: str) -> str:
    return f"{env}-dns-zone"


def dns_route53_stack(env: str) -> str:
    return f"{env}-dns-route53"


def dns_cloudflare_stack(env: str) -> str:
    return f"{env}-dns-cloudflare"


def regional_stack(env: str, region: str) -> str:
    return f"{env}-{region}"


def gitops_stack(env: str, region: str) -> str:
    return f"{env}-{region}-gitops"


def data_stack(env: str, region: str) -> str:
    return f"{env}-{region}-data"


def account_stack(account: str, region: str) -> str:
    return f"account-{account}-{region}"


# -- what each environment has ---------------------------------------------------------------

@dataclass(frozen=True)
class Placement:
    """One stack that lives in one region of an environment (a regional or a gitops stack)."""

    stack: str
    env: EnvironmentConfig
    region: RegionConfig
    role: str  # "primary" or "standby"

    @property
    def engine(self) -> str:
        """The GitOps engine that must reconcile this region's cluster: the region's override, else ``active``."""
        return self.env.gitops.active_by_region.get(self.region.name, self.env.gitops.active)


def regions(env: EnvironmentConfig) -> list[tuple[str, RegionConfig]]:
    """``[(role, region)]``: the primary, then the standby when there is one."""
    return [(role, region) for role, region in zip(ROLES, (env.regions.primary, env.regions.standby))
            if region is not None]


def regional_stacks(env: EnvironmentConfig) -> list[Placement]:
    """The stack of every region (VPC, EKS, load balancers), primary first."""
    return [Placement(regional_stack(env.name, region.name), env, region, role) for role, region in regions(env)]


def gitops_stacks(env: EnvironmentConfig) -> list[Placement]:
    """The GitOps stack of every region's cluster, primary first."""
    return [Placement(gitops_stack(env.name, region.name), env, region, role) for role, region in regions(env)]


def data_stacks(env: EnvironmentConfig) -> list[Placement]:
    """The data stack of every region of ``env``."""
    return [Placement(data_stack(env.name, region.name), env, region, role) for role, region in regions(env)]


def global_stacks(env: EnvironmentConfig) -> list[str]:
    """The stacks that are not tied to one region: keys and secrets, the zone, each DNS provider."""
    names = [security_stack(env.name), dns_zone_stack(env.name), dns_route53_stack(env.name)]
    if env.dns.cloudflare:
        names.append(dns_cloudflare_stack(env.name))
    return names


def expected_stacks(env: EnvironmentConfig) -> list[str]:
    """Every stack of the environment, sorted by name."""
    return sorted([*global_stacks(env), *(p.stack for p in regional_stacks(env)),
                   *(p.stack for p in gitops_stacks(env)), *(p.stack for p in data_stacks(env))])


def account_stacks(env: EnvironmentConfig) -> list[str]:
    """The baseline stacks of the environment's account (environments/accounts/), one per region of the account."""
    return sorted(account_stack(env.account.name, region) for region in env.account.regions)


def synthesized_stacks(*envs: EnvironmentConfig) -> list[str]:
    """What synthesizing ``envs`` writes: their stacks and their accounts' baselines, sorted by name."""
    return sorted({stack for env in envs for stack in (*expected_stacks(env), *account_stacks(env))})


def aws_only_stacks(env: EnvironmentConfig) -> list[str]:
    """The stacks that use the AWS provider alone (not the gitops stacks' Helm and Kubernetes, not Cloudflare)."""
    return sorted([security_stack(env.name), dns_zone_stack(env.name), dns_route53_stack(env.name),
                   *(p.stack for p in regional_stacks(env)), *(p.stack for p in data_stacks(env))])


def in_standby_region(stack: str) -> bool:
    """True for a stack placed in its environment's standby region (its state lives there too)."""
    placement = REGIONAL.get(stack) or GITOPS.get(stack) or DATA.get(stack)
    return placement is not None and placement.role == "standby"


# -- across every environment ----------------------------------------------------------------

STACKS: dict[str, EnvironmentConfig] = {stack: env for env in ENVIRONMENTS.values() for stack in expected_stacks(env)}
"""Every stack the configuration asks for, sorted by name, with its environment."""

ACCOUNT_STACKS: dict[str, str] = {stack: env.account.name for env in ENVIRONMENTS.values()
                                  for stack in account_stacks(env)}
"""Every account baseline stack, with its account's name."""

ALL_STACKS: list[str] = synthesized_stacks(*ENVIRONMENTS.values())
"""Every stack a synthesis of every environment writes, sorted."""

REGIONAL: dict[str, Placement] = {p.stack: p for env in ENVIRONMENTS.values() for p in regional_stacks(env)}
"""Every regional stack of every environment, by stack name."""

GITOPS: dict[str, Placement] = {p.stack: p for env in ENVIRONMENTS.values() for p in gitops_stacks(env)}
"""Every gitops stack of every environment, by stack name."""

DATA: dict[str, Placement] = {p.stack: p for env in ENVIRONMENTS.values() for p in data_stacks(env)}
"""Every data stack of every environment, by stack name."""


def env_of(stack: str) -> EnvironmentConfig:
    """The environment a configured stack belongs to (never parsed from the name)."""
    return STACKS[stack]


def environments_where(predicate: Callable[[EnvironmentConfig], bool]) -> list[str]:
    """Names of the environments whose config satisfies ``predicate``, sorted."""
    return [name for name, env in ENVIRONMENTS.items() if predicate(env)]


def multi_region(env: EnvironmentConfig) -> bool:
    return env.regions.standby is not None


MULTI_REGION = environments_where(multi_region)
"""Environments with a standby region."""

SINGLE_REGION = environments_where(lambda env: not multi_region(env))
"""Environments without one (they declare why in regions.single_region_reason)."""

WITH_CLOUDFLARE = environments_where(lambda env: env.dns.cloudflare is not None)
"""Environments whose records Cloudflare serves beside Route53."""


def widest(predicate: Callable[[EnvironmentConfig], bool] = lambda env: True) -> Optional[EnvironmentConfig]:
    """The environment with the most regions among those matching ``predicate`` (the first by name on a tie),
    for the tests that synthesize one environment with a knob changed; None when none matches."""
    matching = [ENVIRONMENTS[name] for name in environments_where(predicate)]
    return max(matching, key=lambda env: len(env.regions.all)) if matching else None


def smallest() -> EnvironmentConfig:
    """The environment with the fewest regions (the first by name on a tie): the cheapest one to synthesize."""
    return min(ENVIRONMENTS.values(), key=lambda env: len(env.regions.all))


def each(values: Iterable, *, none: str, arity: int = 1) -> list:
    """``values`` for ``pytest.mark.parametrize``; when there are none, one parameter that skips, saying ``none``.

    An empty list would make pytest skip with "got empty parameter set"; this says which property no
    environment has, so the report shows why the test did not run. ``arity``: how many argument
    names the parametrize gives.
    """
    values = list(values)
    return values or [pytest.param(*[None] * arity, marks=pytest.mark.skip(reason=none), id="none")]
