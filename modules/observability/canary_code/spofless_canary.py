"""The regional canary: every load-balanced name, requested through one region's own load balancers.

Runs in a CloudWatch Synthetics Python runtime (``handler``). For each target it asks the zone's own
Route53 name servers (``SPOFLESS_NAMESERVERS``) for the region's failover name
(``<region>.failover.<name>``, which only Route53 serves: Route53 answers it with that region's load
balancers, in the region's failover order), opens TLS to that address with the public name as SNI and
checks the certificate against the public name, then sends ``GET <path>`` with ``Host: <name>``. An
answer from 200 to 399 passes; anything else fails the run, and the run's ``SuccessPercent`` is what the
canary's alarm reads. The failover names are asked of Route53 directly, not of the resolver: the zone is
served by Cloudflare too, which does not hold them.

Only the standard library: no browser is started. Targets come from ``SPOFLESS_TARGETS`` (JSON:
``[{"connect": ..., "host": ..., "path": ...}]``); ``SPOFLESS_TIMEOUT`` bounds each target, DNS included.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import struct
import time

try:  # the Synthetics runtime's logger; plain logging elsewhere (tests)
    from aws_synthetics.common import synthetics_logger as logger  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - outside the runtime
    import logging

    logger = logging.getLogger("spofless_canary")

MAX_HEAD = 16384  # bytes of the response read: the status line and headers only
DNS_PORT = 53


class CheckFailed(Exception):
    """One target did not answer as it should."""


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout("timed out")
    return left


def _skip_name(data: bytes, offset: int) -> int:
    while True:
        length = data[offset]
        if length & 0xC0 == 0xC0:  # a compression pointer ends the name
            return offset + 2
        if length == 0:
            return offset + 1
        offset += 1 + length


def resolve(name: str, nameservers: list[str], deadline: float, port: int = DNS_PORT) -> list[str]:
    """The A records of ``name`` as the zone's name servers answer them (no recursion asked)."""
    query_id = int.from_bytes(os.urandom(2), "big")
    question = b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.rstrip(".").split("."))
    packet = struct.pack(">HHHHHH", query_id, 0, 1, 0, 0, 0) + question + b"\0" + struct.pack(">HH", 1, 1)
    errors = []
    for server in nameservers:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(_left(deadline))
                sock.sendto(packet, (server, port))
                data, _ = sock.recvfrom(4096)
            answer_id, flags, _, answers = struct.unpack(">HHHH", data[:8])
            if answer_id != query_id:
                errors.append(f"{server}: an answer to another query")
                continue
            if flags & 0x000F:
                errors.append(f"{server}: rcode {flags & 0x000F}{' (NXDOMAIN)' if flags & 0x000F == 3 else ''}")
                continue
            offset = _skip_name(data, 12) + 4
            found = []
            for _ in range(answers):
                offset = _skip_name(data, offset)
                rtype, _, _, length = struct.unpack(">HHIH", data[offset:offset + 10])
                offset += 10
                if rtype == 1 and length == 4:
                    found.append(socket.inet_ntoa(data[offset:offset + 4]))
                offset += length
            if found:
                return found
            errors.append(f"{server}: no A record")
        except (OSError, IndexError, struct.error) as error:
            errors.append(f"{server}: {error or type(error).__name__}")
    raise CheckFailed(f"{name}: " + "; ".join(errors or ["no name server to ask"]))


def check(connect: str, host: str, path: str, timeout: float, context: ssl.SSLContext | None = None,
          port: int = 443, nameservers: list[str] | None = None, dns_port: int = DNS_PORT) -> int:
    """The HTTP status ``host`` answers on ``path`` when reached through ``connect``; raises CheckFailed.
    ``timeout`` bounds the whole target: the DNS question, the connection, TLS and the answer."""
    deadline = time.monotonic() + timeout
    context = context or ssl.create_default_context()
    addresses = resolve(connect, nameservers, deadline, dns_port) if nameservers else [connect]
    errors = []
    for address in addresses:
        try:
            with socket.create_connection((address, port), timeout=_left(deadline)) as raw:
                with context.wrap_socket(raw, server_hostname=host) as tls:
                    request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: spofless-canary\r\n"
                               "Accept: */*\r\nConnection: close\r\n\r\n")
                    tls.settimeout(_left(deadline))
                    tls.sendall(request.encode("ascii"))
                    head = b""
                    while b"\r\n" not in head and len(head) < MAX_HEAD:
                        tls.settimeout(_left(deadline))
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        head += chunk
            break
        except (OSError, ssl.SSLError) as error:
            errors.append(f"{address}: {error}")
    else:
        raise CheckFailed(f"{host}{path} via {connect}: " + "; ".join(errors))
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise CheckFailed(f"{host}{path} via {connect}: no HTTP status line ({line[:80]!r})")
    status = int(parts[1])
    if not 200 <= status < 400:
        raise CheckFailed(f"{host}{path} via {connect}: HTTP {status}")
    return status


def run(targets: list[dict], timeout: float, context: ssl.SSLContext | None = None,
        nameservers: list[str] | None = None, dns_port: int = DNS_PORT) -> list[str]:
    """Every target checked; the failures, each in one line."""
    failures = []
    for target in targets:
        try:
            status = check(target["connect"], target["host"], target["path"], timeout, context,
                           int(target.get("port", 443)), nameservers, dns_port)
            logger.info(f"{target['host']}{target['path']} via {target['connect']}: HTTP {status}")
        except CheckFailed as failure:
            logger.error(str(failure))
            failures.append(str(failure))
    return failures


def handler(event=None, context=None):
    """The Synthetics entry point: fails the run (raises) when any target fails."""
    targets = json.loads(os.environ["SPOFLESS_TARGETS"])
    nameservers = json.loads(os.environ.get("SPOFLESS_NAMESERVERS", "[]"))
    failures = run(targets, float(os.environ.get("SPOFLESS_TIMEOUT", "10")), nameservers=nameservers)
    if failures:
        raise CheckFailed(f"{len(failures)} of {len(targets)} target(s) failed: " + "; ".join(failures))
    return f"{len(targets)} target(s) answered"
