"""GitOps: every cluster, standby included, is reconciled by exactly one engine (warm standby).

One rule, one place: each cites the document it encodes; its failing and passing fixtures are named
in the registry (:mod:`policies.rules.registry`)."""

from __future__ import annotations



from policies.model.output import Output
from policies.model.topology import (engines_reconciling, installers)
from policies.rules.registry import rule


@rule(8, "Every cluster, standby included, is reconciled by exactly one GitOps engine (warm standby)",
      "https://docs.aws.amazon.com/whitepapers/latest/disaster-recovery-workloads-on-aws/disaster-recovery-options-in-the-cloud.html")
def warm_standby(output: Output):
    installed = installers(output)
    for env in output.environments:
        for stack in output.stacks_of(env):
            for name in output.resources(stack, "aws_eks_cluster"):
                key = f"aws_eks_cluster.{name}@{stack}"
                gitops = installed.get(key)
                if gitops is None:
                    yield stack, f"aws_eks_cluster.{name}", False, "no stack installs a GitOps engine into it"
                    continue
                state = engines_reconciling(output, gitops)
                count = sum(state.values())
                yield gitops, f"aws_eks_cluster.{name} ({stack})", count == 1, (
                    "no engine reconciles it: its load balancers get traffic on failover and have nothing to "
                    "serve" if count == 0 else "ArgoCD and Flux both reconcile it and fight over every object")
