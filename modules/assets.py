"""Code shipped with a stack: byte-identical zips, and the file asset that carries one into ``cdktf.out``."""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
import zipfile
from pathlib import Path

from constructs import Construct


def deterministic_zip(entries: dict[str, bytes]) -> bytes:
    """A zip of ``entries`` (name in the zip -> content), byte-identical for identical content (fixed
    timestamps and modes, names in order)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(entries.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def file_asset(scope: Construct, construct_id: str, content: bytes, filename: str) -> str:
    """``content`` as a file asset of the stack; returns its path in the output. The file is written into a
    folder of its own (mkdtemp: 0700, a name no one can guess in advance), so no other local user can swap
    it between hashing and the asset copy, and removed at exit."""
    from cdktf import AssetType, TerraformAsset

    folder = Path(tempfile.mkdtemp(prefix="spofless-asset-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / filename
    path.write_bytes(content)
    return TerraformAsset(scope, construct_id, path=str(path), type=AssetType.FILE).path
