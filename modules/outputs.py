"""Stack outputs with plain, stable names: ``output.<name>``, whatever construct declares it."""

from __future__ import annotations

from typing import Any

from cdktf import TerraformOutput
from constructs import Construct


def stack_output(scope: Construct, name: str, value: Any, description: str) -> TerraformOutput:
    """An output addressed by ``name`` alone (not by its construct path): moving the construct
    that declares it never renames it, so downstream stacks and users keep reading it."""
    output = TerraformOutput(scope, name, value=value, description=description)
    output.override_logical_id(name)
    return output
