"""The key IDs of an ASCII-armored OpenPGP public key, read without GnuPG.

Argo CD names a project's trusted keys by their 16-hex-digit key ID, and a commit may be signed by the
primary key or a signing subkey, so every key packet's ID is returned, primary first. Only what is
needed is parsed: the armor (RFC 9580 section 6), packet headers (section 4.2) and the public-key and
public-subkey packets' fingerprints (section 5.5.4: v4 is SHA-1 over 0x99, a two-octet length and the
packet body, the key ID its last 8 octets; v6 is SHA-256 over 0x9B and a four-octet length, the key ID
its first 8 octets). https://www.rfc-editor.org/rfc/rfc9580
"""

from __future__ import annotations

import base64
import binascii
import hashlib

BEGIN, END = "-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----END PGP PUBLIC KEY BLOCK-----"
PUBLIC_KEY, PUBLIC_SUBKEY = 6, 14
MAX_ARMOR = 65536  # a public key with its subkeys and signatures is a few KiB


class NotAPublicKey(ValueError):
    """The text is not one armored OpenPGP public key of a version this reader knows (4 or 6)."""


def _body(armored: str) -> bytes:
    if len(armored) > MAX_ARMOR:
        raise NotAPublicKey(f"is longer than {MAX_ARMOR} characters")
    lines = [line.strip() for line in armored.strip().splitlines()]
    if not lines or lines[0] != BEGIN or END not in lines:
        raise NotAPublicKey(f"does not start with {BEGIN} and end with {END}")
    inner = lines[1:lines.index(END)]
    if "" not in inner:
        raise NotAPublicKey("has no blank line between the armor headers and the key")
    data = [line for line in inner[inner.index("") + 1:] if line and not line.startswith("=")]
    try:
        return base64.b64decode("".join(data), validate=True)
    except (binascii.Error, ValueError) as error:
        raise NotAPublicKey("is not valid base64 inside the armor") from error


def _packets(data: bytes):
    at = 0
    while at < len(data):
        first = data[at]
        if not first & 0x80:
            raise NotAPublicKey("is not a sequence of OpenPGP packets")
        if first & 0x40:  # new format
            tag, at = first & 0x3F, at + 1
            if at >= len(data):
                raise NotAPublicKey("ends inside a packet header")
            octet = data[at]
            if octet < 192:
                length, at = octet, at + 1
            elif octet < 224:
                if at + 1 >= len(data):
                    raise NotAPublicKey("ends inside a packet header")
                length, at = ((octet - 192) << 8) + data[at + 1] + 192, at + 2
            elif octet == 255:
                length, at = int.from_bytes(data[at + 1:at + 5], "big"), at + 5
            else:
                raise NotAPublicKey("uses partial body lengths, which key packets never do")
        else:  # legacy format
            tag, kind, at = (first >> 2) & 0x0F, first & 0x03, at + 1
            if kind == 3:
                raise NotAPublicKey("has a packet of indeterminate length")
            size = (1, 2, 4)[kind]
            length, at = int.from_bytes(data[at:at + size], "big"), at + size
        if at + length > len(data):
            raise NotAPublicKey("ends inside a packet")
        yield tag, data[at:at + length]
        at += length


def key_ids(armored: str) -> tuple[str, ...]:
    """The upper-case 16-hex-digit IDs of the primary key and every subkey, primary first."""
    found = []
    for index, (tag, body) in enumerate(_packets(_body(armored))):
        if index == 0 and tag != PUBLIC_KEY:
            raise NotAPublicKey("does not begin with a public-key packet (a private key or a signature?)")
        if tag not in (PUBLIC_KEY, PUBLIC_SUBKEY):
            continue
        if tag == PUBLIC_KEY and found:
            raise NotAPublicKey("holds more than one primary key; allowed: one key per entry")
        version = body[0] if body else 0
        if version == 4:
            found.append(hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body, usedforsecurity=False).digest()[-8:])
        elif version == 6:
            found.append(hashlib.sha256(b"\x9b" + len(body).to_bytes(4, "big") + body).digest()[:8])
        else:
            raise NotAPublicKey(f"is an OpenPGP version {version} key; allowed: version 4 or 6")
    if not found:
        raise NotAPublicKey("holds no key")
    return tuple(k.hex().upper() for k in found)
