"""DNS record values, parsed once into typed values that each provider renders its own way.

The environment file writes a value the way a zone file does (MX ``"10 mail.example.net"``, CAA
``'0 issue "amazon.com"'``). The schema parses it here once; Route53 takes the presentation form
(:meth:`RecordValue.text`), Cloudflare its own fields (:meth:`RecordValue.cloudflare`), and the
DNS consistency check reads both providers' synthesized records back into the same types
(:func:`read`, :func:`from_cloudflare`), so "the same record" means equal values, not equal
strings. The idea is octoDNS's: value classes per type, and each provider declares the types it
``SUPPORTS`` (modules/dns/route53.py, modules/dns/cloudflare.py).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Callable

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
CAA_TAGS = ("issue", "issuewild", "iodef")


class RecordValue:
    """One value of a record set."""

    def text(self) -> str:
        """The zone-file presentation form (what Route53's ``records`` holds)."""
        raise NotImplementedError

    def cloudflare(self) -> dict[str, Any]:
        """The fields of one ``cloudflare_dns_record`` (provider v5) that carry this value."""
        return {"content": self.text()}

    def key(self) -> tuple:
        """What makes two values the same record data (case and a trailing dot do not)."""
        return (self.text(),)


@dataclass(frozen=True)
class Address(RecordValue):
    address: str

    def text(self) -> str:
        return self.address

    def key(self) -> tuple:
        return (ipaddress.ip_address(self.address),)


@dataclass(frozen=True)
class Host(RecordValue):
    host: str

    def text(self) -> str:
        return self.host

    def key(self) -> tuple:
        return (self.host.lower().rstrip("."),)


@dataclass(frozen=True)
class Text(RecordValue):
    value: str

    def text(self) -> str:
        return self.value


@dataclass(frozen=True)
class MailExchange(RecordValue):
    priority: int
    exchange: str

    def text(self) -> str:
        return f"{self.priority} {self.exchange}"

    def cloudflare(self) -> dict[str, Any]:
        return {"content": self.exchange, "priority": self.priority}

    def key(self) -> tuple:
        return (self.priority, self.exchange.lower().rstrip("."))


@dataclass(frozen=True)
class Caa(RecordValue):
    flags: int
    tag: str
    value: str

    def text(self) -> str:
        return f'{self.flags} {self.tag} "{self.value}"'

    def cloudflare(self) -> dict[str, Any]:
        # `data` is a dynamic value in provider v5; the construct writes it as an override
        return {"data": {"flags": self.flags, "tag": self.tag, "value": self.value}}


def _address(version: int) -> Callable[[str], RecordValue]:
    def parse(value: str) -> RecordValue:
        (ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address)(value)
        return Address(value)
    return parse


def _host(value: str) -> RecordValue:
    if not all(_LABEL.match(label) for label in value.rstrip(".").split(".")):
        raise ValueError
    return Host(value)


def _text(value: str) -> RecordValue:
    if not 1 <= len(value) <= 255:
        raise ValueError
    return Text(value)


def _mx(value: str) -> RecordValue:
    priority, exchange = value.split(" ", 1)
    if not (priority.isdigit() and int(priority) <= 65535 and exchange.strip()):
        raise ValueError
    return MailExchange(int(priority), exchange.strip())


def _caa(value: str) -> RecordValue:
    flags, tag, quoted = value.split(" ", 2)
    if not (flags.isdigit() and int(flags) <= 255 and tag in CAA_TAGS and quoted.startswith('"')
            and quoted.endswith('"') and len(quoted) >= 2):
        raise ValueError
    return Caa(int(flags), tag, quoted[1:-1])


# type -> (parser, what is allowed); the order is the schema's list of record types
PARSERS: dict[str, tuple[Callable[[str], RecordValue], str]] = {
    "A": (_address(4), "an IPv4 address"),
    "AAAA": (_address(6), "an IPv6 address"),
    "CNAME": (_host, "a host name"),
    "TXT": (_text, "1 to 255 characters"),
    "MX": (_mx, "'<priority 0-65535> <host>'"),
    "CAA": (_caa, "'<flags 0-255> issue|issuewild|iodef \"<value>\"'"),
}
RECORD_TYPES = tuple(PARSERS)


class InvalidValue(ValueError):
    """A value that is not valid for its type; ``allowed`` says what is."""

    def __init__(self, record_type: str, allowed: str):
        super().__init__(f"not a valid {record_type} value; allowed: {allowed}")
        self.allowed = allowed


def parse(record_type: str, value: str) -> RecordValue:
    """The typed value of ``value`` (zone-file form); :class:`InvalidValue` says what is allowed."""
    parser, allowed = PARSERS[record_type]
    try:
        return parser(value)
    except ValueError:
        raise InvalidValue(record_type, allowed) from None


@dataclass(frozen=True)
class Unparsed(RecordValue):
    """A synthesized value that is not valid for its type: kept as written, equal to no typed value."""

    value: str

    def text(self) -> str:
        return self.value

    def key(self) -> tuple:
        return ("unparsed", self.value)


def read(record_type: str, value: str) -> RecordValue:
    """:func:`parse` for values read back from synthesized output: one that does not parse (or a type
    this module does not know) is :class:`Unparsed`, so a comparison reports it instead of failing."""
    try:
        return parse(record_type, value)
    except (InvalidValue, KeyError):
        return Unparsed(value)


def from_cloudflare(resource: dict) -> RecordValue:
    """The typed value of a synthesized ``cloudflare_dns_record`` (the inverse of ``cloudflare()``);
    :class:`Unparsed` when its fields do not make a valid value."""
    try:
        if resource["type"] == "MX":
            return MailExchange(int(resource["priority"]), resource["content"])
        if resource["type"] == "CAA":
            data = resource["data"]
            return Caa(int(data["flags"]), data["tag"], data["value"])
    except (KeyError, TypeError, ValueError):
        return Unparsed(str(resource.get("content")))
    return read(resource["type"], resource.get("content", ""))
