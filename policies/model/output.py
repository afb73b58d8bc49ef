"""A read-only model of ``cdktf.out`` for the deploy rules: stacks, resources, and references.

Plain Python (no checkov, no cdktf): the deploy rules need to follow a reference
from one resource to another, across stacks too (CDKTF writes a cross-stack
reference as a ``terraform_remote_state`` read of an output of the producing
stack), which checkov's per-resource checks cannot do.
"""

from __future__ import annotations

import graphlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from modules.stacks import names

REMOTE_STATE = re.compile(r"^data\.terraform_remote_state\.([^.]+)\.outputs\.([^.\[]+)(.*)$")
REMOTE_STATE_PREFIX = "cross-stack-reference-input-"
# ${aws_x.name.attr...} or ${data.aws_x.name.attr...}
ADDRESS = re.compile(r"^(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)(?:\.(.*))?$")


@dataclass(frozen=True)
class Ref:
    """Where an expression leads: a resource (or data source) of some stack, and the attribute read."""

    stack: str
    type: str
    name: str
    attribute: str
    data: bool = False

    @property
    def address(self) -> str:
        return f"{'data.' if self.data else ''}{self.type}.{self.name}"


@dataclass(frozen=True)
class Unresolved:
    """An expression that leads to no single resource, and why. ``dangling`` when it names something the
    output does not have (a stack, an output of its producer, a resource): Terraform fails on it at plan;
    otherwise it is a value of its own (a variable, a function of several references). Falsy, so
    ``if ref:`` reads as "found a resource"."""

    stack: str
    expression: str
    why: str
    dangling: bool = False

    def __bool__(self) -> bool:
        return False


def expressions(value: Any) -> Iterator[str]:
    """Every ``${...}`` expression in a value, nested lists and dicts included."""
    if isinstance(value, str):
        for match in re.finditer(r"\$\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", value):
            yield match.group(1).strip()
    elif isinstance(value, dict):
        for item in value.values():
            yield from expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from expressions(item)


class Output:
    """The synthesized stacks of one ``cdktf.out`` (or a fixture shaped like it)."""

    def __init__(self, stacks: dict[str, dict], manifest: Optional[dict] = None):
        self.stacks = stacks
        self.manifest = manifest or {"stacks": {}}

    @classmethod
    def load(cls, outdir: Path) -> "Output":
        manifest = Path(outdir) / "manifest.json"
        return cls({p.parent.name: json.loads(p.read_text())
                    for p in sorted((Path(outdir) / "stacks").glob("*/cdk.tf.json"))},
                   json.loads(manifest.read_text()) if manifest.is_file() else None)

    # -- the manifest: dependencies and the order to apply in ------------------------------

    def dependencies(self, stack: str) -> list[str]:
        return list(self.manifest["stacks"].get(stack, {}).get("dependencies", []))

    def providers_of(self, stack: str) -> set[str]:
        """Provider local names a stack configures or requires."""
        document = self.stacks.get(stack, {})
        return set(document.get("terraform", {}).get("required_providers", {})) | set(document.get("provider", {}))

    def aws_only(self) -> list[str]:
        """Stacks that use the AWS provider and nothing else (validated and rehearsed offline), sorted."""
        return sorted(s for s in self.stacks if self.providers_of(s) == {"aws"})

    def upstream(self, names: Iterable[str]) -> dict[str, list[str]]:
        """``{name: the stacks among names it reads from}`` (the manifest's dependencies within ``names``)."""
        wanted = set(names)
        return {name: sorted(d for d in self.dependencies(name) if d in wanted) for name in sorted(wanted)}

    def graph(self, names: Iterable[str], outside: Optional[str] = None) -> "graphlib.TopologicalSorter":
        """A :class:`graphlib.TopologicalSorter` of ``names`` over the manifest's dependencies.

        A dependency outside ``names`` raises ValueError ``<stack> depends on <dependency>, which is
        <outside>`` when ``outside`` is given, and is left out otherwise.
        """
        wanted = set(names)
        if outside is not None:
            for name in sorted(wanted):
                for dependency in sorted(self.dependencies(name)):
                    if dependency not in wanted:
                        raise ValueError(f"{name} depends on {dependency}, which is {outside}")
        return graphlib.TopologicalSorter(self.upstream(wanted))

    def waves(self, names: Iterable[str], outside: Optional[str] = "not among the stacks asked for"
              ) -> list[list[str]]:
        """``names`` in dependency waves: each stack one wave after its last dependency (sorted within).

        Raises ValueError on a cycle, and on a dependency outside ``names`` unless ``outside`` is None
        (such a dependency is then left out).
        """
        sorter = self.graph(names, outside)
        try:
            sorter.prepare()
        except graphlib.CycleError as cycle:
            raise ValueError(f"stack dependency cycle: {' -> '.join(cycle.args[1])}") from None
        waves = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            waves.append(ready)
            sorter.done(*ready)
        return waves

    def order(self, names: Iterable[str]) -> list[str]:
        """``names`` so that every stack comes after the stacks it reads from (dependencies outside
        ``names`` are skipped)."""
        return [name for wave in self.waves(names, outside=None) for name in wave]

    # -- environments -----------------------------------------------------------------------

    @property
    def environments(self) -> list[str]:
        """Environment names: every environment has a security stack (modules/stacks/names.py)."""
        return sorted(parsed.env for parsed in map(names.parse, self.stacks) if parsed and parsed.kind == "security")

    def environment_of(self, stack: str) -> str:
        """The environment a stack belongs to; an account baseline stack belongs to none (its own name)."""
        parsed = names.parse(stack)
        return parsed.env if parsed and parsed.kind != "account" else stack

    def stacks_of(self, env: str) -> list[str]:
        return [s for s in self.stacks if self.environment_of(s) == env]

    @property
    def accounts(self) -> list[str]:
        """Account names that have baseline stacks (``account-<name>-<region>``)."""
        return sorted({p.env for p in map(names.parse, self.stacks) if p and p.kind == "account"})

    def account_stacks(self, account: Optional[str] = None) -> list[str]:
        """The baseline stacks of ``account`` (every account when None), sorted."""
        return sorted(s for s in self.stacks if (p := names.parse(s)) and p.kind == "account"
                      and (account is None or p.env == account))

    def account_of(self, env: str) -> Optional[str]:
        """The account whose baseline ``env``'s stacks depend on, or None."""
        for stack in self.stacks_of(env):
            for dependency in self.dependencies(stack):
                parsed = names.parse(dependency)
                if parsed and parsed.kind == "account":
                    return parsed.env
        return None

    def deployment_of(self, env: str) -> list[str]:
        """What deploying ``env`` applies: its account's baseline (applied first, a no-op when it is in place),
        then the environment's own stacks. Destroying an environment never takes the baseline with it: the
        account's other environments depend on it."""
        account = self.account_of(env)
        return (self.account_stacks(account) if account else []) + self.stacks_of(env)

    # -- resources --------------------------------------------------------------------------

    def resources(self, stack: str, rtype: str, *, data: bool = False) -> dict[str, dict]:
        return self.stacks.get(stack, {}).get("data" if data else "resource", {}).get(rtype, {})

    def every(self, rtype: str, *, data: bool = False) -> Iterator[tuple[str, str, dict]]:
        """``(stack, name, config)`` of every resource of ``rtype`` in every stack."""
        for stack in self.stacks:
            for name, conf in self.resources(stack, rtype, data=data).items():
                yield stack, name, conf

    def get(self, ref: Ref) -> Optional[dict]:
        return self.resources(ref.stack, ref.type, data=ref.data).get(ref.name)

    def providers(self, stack: str, ptype: str) -> list[dict]:
        providers = self.stacks.get(stack, {}).get("provider", {}).get(ptype, [])
        return providers if isinstance(providers, list) else [providers]

    def provider_of(self, stack: str, conf: dict, ptype: str = "aws") -> Optional[dict]:
        """The provider configuration a resource uses: its ``provider = "<type>.<alias>"``, else the default."""
        alias = str(conf.get("provider") or "").removeprefix(f"{ptype}.") or None
        return next((p for p in self.providers(stack, ptype) if p.get("alias") == alias), None)

    # -- references -------------------------------------------------------------------------

    def resolve(self, stack: str, expression: str, _depth: int = 0) -> "Ref | Unresolved":
        """The resource an expression (with or without ``${}``) reads, following cross-stack outputs; an
        :class:`Unresolved` saying why when it leads to no single resource."""
        expression = expression.strip()
        if expression.startswith("${") and expression.endswith("}"):
            expression = expression[2:-1].strip()
        if _depth > 8:
            return Unresolved(stack, expression, "a chain of more than 8 cross-stack outputs")
        remote = REMOTE_STATE.match(expression)
        if remote:
            producer = remote.group(1).removeprefix(REMOTE_STATE_PREFIX)
            if producer not in self.stacks:
                return Unresolved(stack, expression, f"reads the state of {producer}, which is no stack", True)
            output = self.stacks[producer].get("output", {}).get(remote.group(2))
            if output is None:
                return Unresolved(stack, expression, f"{producer} declares no output {remote.group(2)}", True)
            inner = list(expressions(output.get("value")))
            if len(inner) != 1:
                return Unresolved(stack, expression, f"{producer}'s output {remote.group(2)} combines "
                                                     f"{len(inner)} expressions")
            return self.resolve(producer, inner[0], _depth + 1)
        if expression.startswith("ephemeral."):
            _, rtype, name = (expression.split(".") + ["", ""])[:3]
            if name.split("[")[0] in self.stacks.get(stack, {}).get("ephemeral", {}).get(rtype, {}):
                return Unresolved(stack, expression, "an ephemeral value: read at apply, never stored")
            return Unresolved(stack, expression, f"{stack} has no ephemeral.{rtype}.{name}", True)
        match = ADDRESS.match(expression)
        if not match or match.group(2) in ("var", "local", "each", "count", "path", "terraform", "self"):
            return Unresolved(stack, expression, "not a reference to a resource")
        return Ref(stack, match.group(2), match.group(3), match.group(4) or "", bool(match.group(1)))

    def refs(self, stack: str, value: Any) -> list[Ref]:
        """Every resource a value refers to."""
        return [ref for ref in map(lambda e: self.resolve(stack, e), expressions(value)) if isinstance(ref, Ref)]

    def dangling(self, stack: str, value: Any) -> list[Unresolved]:
        """The references in a value that name what the output does not have: a stack, an output of its
        producer, a resource or data source of the stack that reads it."""
        found = []
        for expression in expressions(value):
            ref = self.resolve(stack, expression)
            if isinstance(ref, Unresolved):
                if ref.dangling:
                    found.append(ref)
            elif ref.type != "terraform_remote_state" and self.get(ref) is None:
                found.append(Unresolved(ref.stack, expression, f"{ref.stack} has no {ref.address}", True))
        return found

    def depends_on(self, stack: str, conf: dict) -> set[str]:
        """Addresses (``type.name``) a resource declares in ``depends_on``."""
        return {entry.strip().removeprefix("${").removesuffix("}") for entry in conf.get("depends_on", [])}


def policy_statements(document: Any) -> list[dict]:
    """The statements of an IAM/KMS/S3 policy held as a JSON string (interpolations left as text)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# -- IAM, KMS and S3 policy documents ----------------------------------------------------------

def principals(statement: dict) -> list[str]:
    principal = statement.get("Principal", {})
    if principal == "*":
        return ["*"]
    values = []
    for key in ("AWS", "Service"):
        values += as_list(principal.get(key)) if isinstance(principal, dict) else []
    return values


def actions(statement: dict) -> list[str]:
    return as_list(statement.get("Action"))


def covers(actions: list[str], wanted: str) -> bool:
    return any(a == wanted or a == "*" or a == "kms:*" or (a.endswith("*") and wanted.startswith(a[:-1]))
               for a in actions)
