"""The local AWS emulator between commands: ``spofless emulator start|stop|status`` and what
``spofless deploy --emulator`` starts; one detached moto server per project, stopped by itself after
its lifetime.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from tooling.terraform.runner import PROJECT

EMULATOR_ROOT = PROJECT / ".spofless" / "emulator"
EMULATOR_LIFETIME = 7200  # seconds; a detached emulator stops by itself after this


class DeployError(Exception):
    """The command cannot go on; the message says why (and what to run)."""


# -- the emulator between commands ---------------------------------------------------------------

def emulator_info(root: Path = EMULATOR_ROOT) -> Optional[dict[str, Any]]:
    """The running emulator this project started, or None (a stale record is removed)."""
    from tooling.terraform.emulator import is_emulator

    record = root / "emulator.json"
    try:
        info = json.loads(record.read_text())
        if not is_emulator(int(info["pid"])):
            raise ProcessLookupError(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        if record.exists():
            record.unlink()
        return None
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(info["endpoint"])
    try:  # a connection is enough: moto's data.json serializes every backend (and errors on Lambda's)
        with socket.create_connection((where.hostname, where.port), timeout=3):
            return info
    except OSError:
        return None


def start_emulator(account_id: str, env_name: str, root: Path = EMULATOR_ROOT,
                   lifetime: float = EMULATOR_LIFETIME) -> dict[str, Any]:
    """Start a detached emulator for ``account_id`` (or reuse the running one for it)."""
    info = emulator_info(root)
    if info:
        if info["account_id"] != account_id:
            raise DeployError(f"the running emulator ({info['endpoint']}) serves account {info['account_id']} "
                              f"({info['env']}); {env_name} is account {account_id}: `spofless emulator stop` first")
        return info
    from tooling.terraform.emulator import Emulator

    root.mkdir(parents=True, exist_ok=True)
    for stale in ("state", "stacks"):  # state of an emulator that is gone describes nothing
        shutil.rmtree(root / stale, ignore_errors=True)
    emulator = Emulator(lifetime=lifetime, log=root / "moto.log", account_id=account_id)
    emulator.__enter__()  # not stopped on return: it serves the next commands, bounded by its lifetime
    info = {"endpoint": emulator.endpoint, "pid": emulator._process.pid, "account_id": account_id,  # noqa: SLF001
            "env": env_name, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "lifetime": lifetime}
    (root / "emulator.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def stop_emulator(root: Path = EMULATOR_ROOT) -> Optional[dict[str, Any]]:
    record = root / "emulator.json"
    try:
        info = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    from tooling.terraform.emulator import is_emulator

    try:
        pid = int(info["pid"])
        if is_emulator(pid):  # a recycled pid belongs to someone else: never signal it
            os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError, ValueError, KeyError, TypeError):
        pass
    record.unlink(missing_ok=True)
    return info


def seed_parent_zones(endpoint: str, configs) -> None:
    """The parent zone a child environment delegates from, as the parent environment would make it."""
    import boto3

    from tooling.terraform.emulator import FAKE_CREDENTIAL, seed_parent_zone

    client = boto3.client("route53", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=FAKE_CREDENTIAL, aws_secret_access_key=FAKE_CREDENTIAL)
    existing = {z["Name"].rstrip(".") for z in client.list_hosted_zones()["HostedZones"]}
    for config in configs:
        parent = config.dns.parent_domain
        if parent and parent not in existing and not any(c.domain == parent for c in configs):
            seed_parent_zone(endpoint, parent)
            existing.add(parent)


def emulator_main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="spofless emulator")
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument("-e", "--env", default="dev")
    parser.add_argument("--lifetime", type=float, default=EMULATOR_LIFETIME)
    args = parser.parse_args(argv)
    if args.command == "stop":
        info = stop_emulator()
        print(f"stopped the emulator on {info['endpoint']}" if info else "no emulator was running")
        return 0
    if args.command == "status":
        info = emulator_info()
        print(f"running on {info['endpoint']} for account {info['account_id']} ({info['env']}), since "
              f"{info['started']}" if info else "no emulator is running")
        return 0 if info else 1
    from environments.loader import ConfigError, load_environments
    try:
        (config,) = load_environments([args.env])
        info = start_emulator(config.account_id, args.env, lifetime=args.lifetime)
    except (ConfigError, DeployError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"emulator on {info['endpoint']} for account {info['account_id']} ({info['env']})")
    return 0
