"""spofless composition root: load environments, build their stacks, synthesize.

    python main.py                      every environment
    SPOFLESS_ENVS=prod python main.py   only prod (comma-separated names)
    SPOFLESS_ENV_DIR=path python main.py  read <env>.yaml files from another folder
    SPOFLESS_ENGINE=cdktn python main.py  with CDK Terrain instead of CDKTF (modules/engine.py)
    cdktf synth                         the same, through the CDKTF CLI

Input is validated in full before cdktf is even imported, so bad input ends in
one clear error, exit status 2, and nothing written to the output directory.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from environments.loader import (  # noqa: E402
    ENVIRONMENTS_DIR, ConfigError, load_environments, selected_names,
)


def _requested_names():
    """Names from SPOFLESS_ENVS, else from the cdktf context key ``environments``."""
    names = selected_names()
    if names is None:
        context = json.loads(os.environ.get("CDKTF_CONTEXT_JSON") or "{}")
        value = context.get("environments")
        if value:
            names = selected_names(value.split(",") if isinstance(value, str) else value)
    return names


def _engine_interpreter() -> int:
    """Check SPOFLESS_ENGINE; when this interpreter lacks the engine, re-run under the one that has it."""
    from modules import engine

    try:
        selected = engine.selected()
        other = engine.handover(selected)
        if other is not None:
            flags = ["-" + "O" * sys.flags.optimize] if sys.flags.optimize else []
            os.execv(other, [str(other), *flags, str(Path(__file__).resolve()), *sys.argv[1:]])
        engine.require(selected)
    except engine.EngineError as error:
        print(f"error: {error}", file=sys.stderr)
        print("nothing was synthesized; fix the above and run again", file=sys.stderr)
        return 2
    return 0


def main() -> int:
    started = time.perf_counter()
    status = _engine_interpreter()
    if status:
        return status
    try:
        directory = Path(os.environ.get("SPOFLESS_ENV_DIR") or ENVIRONMENTS_DIR)
        envs = load_environments(_requested_names(), directory)
    except ConfigError as error:
        print(f"error: invalid environment configuration\n{error}", file=sys.stderr)
        print("nothing was synthesized; fix the above and run again", file=sys.stderr)
        return 2
    outdir = Path(os.environ.get("CDKTF_OUTDIR") or "cdktf.out")
    print(f"synthesizing {', '.join(e.name for e in envs)} into {outdir}/stacks", flush=True)

    from modules.output_dir import private_tempdir

    private_tempdir(outdir)  # before jsii unpacks its runtime: a kill leaves nothing in the system's temp
    from modules.app import OutputError, synthesize  # imports cdktf and the jsii runtime: only now

    try:
        reports = synthesize(envs, outdir, progress=lambda line: print(line, flush=True))
    except OutputError as error:
        print(f"error: {error}", file=sys.stderr)
        print(f"{outdir} was left as it was", file=sys.stderr)
        return 1
    total = sum(r.resources for r in reports)
    print(f"synthesized {len(reports)} stacks, {total} resources in "
          f"{time.perf_counter() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
