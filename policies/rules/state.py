"""Terraform state and versions: the standby keeps and reads state in the standby region; every stack states its Terraform and limits its provider to the account.

One rule, one place: each cites the document it encodes; its failing and passing fixtures are named
in the registry (:mod:`policies.rules.registry`)."""

from __future__ import annotations

import re
from typing import Optional


from modules.stacks import names
from policies.model.output import Output, as_list
from policies.model.topology import (cluster_of_provider, region_of_alias)
from policies.rules.registry import rule


@rule(10, "A standby-region stack keeps and reads state in the standby region",
      "https://developer.hashicorp.com/terraform/language/backend/s3")
def standby_state(output: Output):
    for env in output.environments:
        standby = region_of_alias(output, env, "standby")
        if standby is None:
            continue
        in_standby = {stack for stack in output.stacks_of(env)
                      if {p.get("region") for p in output.providers(stack, "aws")} == {standby}}
        # a stack that only talks to a standby cluster (the gitops stack) belongs to that region too
        in_standby |= {stack for stack in output.stacks_of(env) if not output.providers(stack, "aws")
                       and (cluster := cluster_of_provider(output, stack)) is not None and cluster.stack in in_standby}
        for stack in sorted(in_standby):
            terraform = output.stacks[stack].get("terraform", {})
            backend = terraform.get("backend", {})
            if "local" in backend:
                yield stack, "state", True, ""
                continue
            s3 = backend.get("s3", {})
            if s3.get("region") != standby:
                yield stack, "backend", False, (f"state lives in {s3.get('region')}: a primary-region outage "
                                                f"blocks every change to the standby region ({standby})")
                continue
            reads = output.stacks[stack].get("data", {}).get("terraform_remote_state", {})
            elsewhere = sorted(n for n, r in reads.items() if r.get("backend") == "s3"
                               and r.get("config", {}).get("region") != standby)
            yield stack, "backend and remote state", not elsewhere, (
                f"reads {', '.join(elsewhere)} from another region: planning the standby needs the primary region")


LOCKFILE_FLOOR = (1, 11)


def _floor(constraint: str) -> Optional[tuple[int, int]]:
    match = re.search(r">=\s*(\d+)\.(\d+)", constraint or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


@rule(23, "Every stack states the Terraform it needs, and every AWS provider is limited to the environment's account",
      "https://developer.hashicorp.com/terraform/language/backend/s3#state-locking")
def version_and_account(output: Output):
    owners = [(env, output.stacks_of(env), names.security(env)) for env in output.environments]
    owners += [(f"account {account}", stacks, stacks[0]) for account in output.accounts
               if (stacks := output.account_stacks(account))]
    for env, stacks, anchor in owners:
        accounts: set[str] = set()
        for stack in stacks:
            terraform = output.stacks[stack].get("terraform", {})
            s3 = (terraform.get("backend") or {}).get("s3") or {}
            floor = _floor(str(terraform.get("required_version", "")))
            needed = LOCKFILE_FLOOR if s3.get("use_lockfile") else (1, 0)
            yield stack, "terraform.required_version", floor is not None and floor >= needed, (
                "has no required_version floor" if floor is None else
                f"allows Terraform {floor[0]}.{floor[1]}, but use_lockfile (S3-native locking) is generally "
                f"available from {needed[0]}.{needed[1]}")
            for provider in output.providers(stack, "aws"):
                allowed = [str(a) for a in as_list(provider.get("allowed_account_ids"))]
                accounts.update(allowed)
                label = f"provider aws{'.' + provider['alias'] if provider.get('alias') else ''}"
                yield stack, label, bool(allowed), (
                    "has no allowed_account_ids: credentials for any account are used as they come")
        if len(accounts) > 1:
            yield anchor, f"environment {env}", False, (
                f"its stacks are limited to different accounts ({', '.join(sorted(accounts))})")


@rule(35, "Every reference names what the output has: the producer's stack and output for a cross-stack read, "
          "a resource or data source of the stack otherwise",
      "https://developer.hashicorp.com/terraform/language/state/remote-state-data")
def references_resolve(output: Output):
    # Only root-level outputs of the producer's state are readable, and a reference to a resource the stack
    # does not declare fails at plan. terraform validate sees the second only in the AWS-only stacks it can
    # run on; the Cloudflare, Helm and Kubernetes stacks are judged here alone.
    for stack in sorted(output.stacks):
        document = output.stacks[stack]
        dangling = [d for section in ("resource", "data", "ephemeral", "output", "provider")
                    for d in output.dangling(stack, document.get(section) or {})]
        yield stack, "references", not dangling, "; ".join(f"{d.expression}: {d.why}" for d in dangling[:5]) + (
            f" (and {len(dangling) - 5} more)" if len(dangling) > 5 else "")
