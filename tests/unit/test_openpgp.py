"""Key IDs of armored OpenPGP public keys, read without GnuPG (Argo CD names trusted keys by ID)."""

from __future__ import annotations

import base64

import pytest

from environments.schema.openpgp import NotAPublicKey, key_ids

# generated with GnuPG 2 (ed25519 primary for certification, ed25519 subkey for signing); the IDs are what
# `gpg --list-keys --with-colons` printed for it
KEY = """-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEaxbFOxYJKwYBBAHaRw8BAQdADGOmLMoBhwLy5LodZtPxk2SCFYVRdiyUfM5D
0EtHiAK0S0V4YW1wbGUgUGxhdGZvcm0gVGVhbSAoc3BvZmxlc3MgZXhhbXBsZSBz
aWduaW5nIGtleSkgPHBsYXRmb3JtQGV4YW1wbGUuY29tPoiQBBMWCAA4FiEEjoOO
hJYjEpWWEuC8Ri8otwHlb8gFAmsWxTsCGwEFCwkIBwIGFQoJCAsCBBYCAwECHgEC
F4AACgkQRi8otwHlb8gU7AEAua+4JGDIXQQ/CKxIujMVDoSfKdt9rlvvt9cl+GZq
Z18A/2wtqL7oCOjZNvSXykCGSQUEjFeKvpKsJJxxZN96R9MDuDMEaxbFOxYJKwYB
BAHaRw8BAQdA/ZLeyvI8z2EFOpnw0b0ojKibW+9LpfrJW/MuhuTTUDWI7wQYFggA
IBYhBI6DjoSWIxKVlhLgvEYvKLcB5W/IBQJrFsU7AhsCAIEJEEYvKLcB5W/IdiAE
GRYIAB0WIQSE5VlsepIb7y26XBH+NEkdG06DAQUCaxbFOwAKCRD+NEkdG06DAeBT
AP49OHqJTy+hcR4AjsfffWbewubKzGcdCI2guVvMvLtbXgD/aVNS0eb/0dwyr6CO
VgfXkJpg02Q396xYJqIBAJw2UQLGOwD+OPPpaENLRXWDxRMbHeuJrqscdL+Ghq9F
WwwN+ARe1ygBAPDStF5Zsa/gLl6FGGhWmERt2fbIzZeXzWRELi+AKt0L
=shUS
-----END PGP PUBLIC KEY BLOCK-----"""
PRIMARY, SIGNING_SUBKEY = "462F28B701E56FC8", "FE34491D1B4E8301"


def test_the_ids_are_gnupgs_primary_first():
    assert key_ids(KEY) == (PRIMARY, SIGNING_SUBKEY)


def test_the_armor_checksum_and_headers_are_not_needed():
    lines = KEY.splitlines()
    stripped = "\n".join(line for line in lines if not line.startswith("="))
    assert key_ids(stripped) == (PRIMARY, SIGNING_SUBKEY)


@pytest.mark.parametrize("text, why", [
    ("", "does not start with"),
    (KEY.replace("PUBLIC KEY BLOCK", "PRIVATE KEY BLOCK"), "does not start with"),
    (KEY.replace("\n\n", "\n", 1), "no blank line"),
    (KEY.replace("mDMEaxbF", "mDMEaxb!"), "not valid base64"),
    ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + base64.b64encode(b"\x99\x00\x05abc").decode()
     + "\n-----END PGP PUBLIC KEY BLOCK-----", "ends inside a packet"),
    ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + base64.b64encode(b"\xc2\x01\x04").decode()
     + "\n-----END PGP PUBLIC KEY BLOCK-----", "does not begin with a public-key packet"),
    ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + base64.b64encode(b"\xc6\x01\x03").decode()
     + "\n-----END PGP PUBLIC KEY BLOCK-----", "version 3"),
    ("x" * 70000, "longer than"),
])
def test_what_is_not_one_public_key_is_refused_with_the_reason(text, why):
    with pytest.raises(NotAPublicKey, match=why):
        key_ids(text)
