"""The registry of deploy rules: what real AWS, EKS and Cloudflare enforce at apply time and no local
tool sees (``terraform validate``, checkov and the emulator all pass output a real account rejects).

A rule is one function in its domain's module (:mod:`policies.rules`), registered with
``@rule(number, title, source)``: its id is ``SPOF_DEPLOY_<number>``, ``source`` the document it
encodes, and it yields ``(stack, subject, passed, message)`` per thing it judged, reading only the read
model (:mod:`policies.model`). ``fixture`` names where it is shown failing and passing:
``before`` (the output from before the fix, ``tests/fixtures/deploy/before``, against today's output),
``account`` (``tests/fixtures/deploy/account-before``), ``privilege``
(``tests/fixtures/deploy/privilege-before``) or ``mutated`` (today's output mutated into the
wrong shape in the rule's own test: ``tests/policies/test_data_rules.py``, ``test_deploy_rules.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional

from policies.model.output import Output

FIXTURES = ("before", "account", "privilege", "mutated")
# where each rule's failing shape lives when it is not the "before" fixture
_FIXTURE_OF = {26: "mutated", 27: "mutated", 28: "mutated", 29: "account", 30: "account", 31: "account",
               32: "account", 33: "account", 34: "account", 35: "mutated",
               **{n: "privilege" for n in range(36, 46)}, 46: "mutated"}


@dataclass(frozen=True)
class Result:
    rule: str
    stack: str
    subject: str
    passed: bool
    message: str = ""

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.rule} {verdict} on {self.stack}: {self.subject}{': ' + self.message if self.message else ''}"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    source: str
    check: Callable[[Output], Iterator[Result]]
    domain: str = ""
    fixture: str = "before"

    @property
    def number(self) -> int:
        return int(self.id.rsplit("_", 1)[1])


RULES: list[Rule] = []


def rule(number: int, title: str, source: str, *, fixture: Optional[str] = None):
    """Register a rule function of a domain module (its module's last name is the domain)."""
    def register(function):
        rule_id = f"SPOF_DEPLOY_{number}"

        def run(output: Output) -> Iterator[Result]:
            for stack, subject, passed, message in function(output):
                yield Result(rule_id, stack, subject, passed, "" if passed else message)
        if any(r.id == rule_id for r in RULES):
            raise ValueError(f"{rule_id} is registered twice")
        # kept in id order, whichever module registered first: reports list the rules by number
        RULES.append(Rule(rule_id, title, source, run, function.__module__.rsplit(".", 1)[-1],
                          fixture or _FIXTURE_OF.get(number, "before")))
        RULES.sort(key=lambda r: r.number)
        return function
    return register


def run_rules(output: Output, only: Optional[set[str]] = None) -> list[Result]:
    results = []
    for item in RULES:
        if only is None or item.id in only:
            results.extend(item.check(output))
    return results
