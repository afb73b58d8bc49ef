"""The synthesis output folder, replaced safely: one writer at a time, never missing, nothing left over.

- **Lock**: an exclusive ``flock`` on ``.<out>.lock`` beside the output, held for the whole
  synthesis. A second synthesis waits for the first (and says so), up to :data:`LOCK_WAIT_SECONDS`,
  then stops with a clear message; it never writes half of its environments over the other's.
- **Swap**: the new output is built in ``.<out>.tmp-<pid>`` and exchanged with the old one in
  one atomic ``renameat2(RENAME_EXCHANGE)`` (Linux 3.15+, glibc 2.28+), so at every instant
  ``cdktf.out`` is either the old output or the new one. Where that call is missing (macOS,
  old kernels, filesystems without it) two renames run under the lock, and the next run restores
  ``.<out>.old-<pid>`` if a crash fell between them.
- **Leftovers**: a killed run leaves ``.<out>.tmp-<pid>`` / ``.<out>.old-<pid>``; the next run
  reclaims them under the lock (no live run can own them then), and the ``.<out>.scratch-<pid>``
  temporary folder (jsii's runtime and kernel folders) of any run whose process is gone (a zombie
  counts as gone).
  ``.gitignore`` ignores them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

LOCK_WAIT_SECONDS = 900  # a whole synthesis of every environment takes seconds; this is a hung one
RENAME_EXCHANGE = 2  # linux/fs.h


class OutputError(Exception):
    """The output folder cannot be written or replaced; the message is one line: path and cause."""


_NODE_ERROR = re.compile(r"\b(E[A-Z]{2,}): ([^,\n]+), \w+ '([^'\n]+)'")


def from_node(error: BaseException) -> Optional[str]:
    """One line (path, cause, code) for a filesystem error the jsii runtime's node process hit, or None."""
    match = _NODE_ERROR.search(str(error))
    return f"{match.group(3)}: {match.group(2)} ({match.group(1)})" if match else None


def describe(error: OSError, fallback: Path) -> str:
    name = errno.errorcode.get(error.errno or 0, "error")
    return f"{error.filename or fallback}: {error.strerror or error} ({name})"


def staging_path(outdir: Path) -> Path:
    return outdir.parent / f".{outdir.name}.tmp-{os.getpid()}"


@contextlib.contextmanager
def locked(outdir: Path, wait: float = LOCK_WAIT_SECONDS, say: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the output's exclusive lock (waiting for another synthesis, bounded)."""
    lock_path = outdir.parent / f".{outdir.name}.lock"
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+")
    except OSError as error:
        raise OutputError(f"cannot create the output's lock file {describe(error, lock_path)}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another synthesis is writing {outdir}; waiting for it (up to {wait:.0f} s)")
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise OutputError(f"{outdir}: another synthesis has held {lock_path} for over "
                                          f"{wait:.0f} s; stop it (or remove the lock file if none runs)") from None
                    time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def reclaim(outdir: Path, say: Callable[[str], None] = print) -> list[Path]:
    """Under the lock: restore an output a crashed swap left aside, and remove killed runs' folders
    (staging and set-aside outputs, and the scratch folders of runs whose process is gone)."""
    leftovers = sorted(outdir.parent.glob(f".{outdir.name}.tmp-*")) + sorted(outdir.parent.glob(f".{outdir.name}.old-*"))
    if not outdir.exists():
        aside = [p for p in leftovers if ".old-" in p.name and (p / "manifest.json").is_file()]
        if aside:  # a two-rename swap was cut between its renames: the old output comes back
            newest = max(aside, key=lambda p: p.stat().st_mtime)
            newest.rename(outdir)
            leftovers.remove(newest)
            say(f"restored {outdir} from {newest.name} (an earlier synthesis stopped mid-swap)")
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
    for path in outdir.parent.glob(f".{outdir.name}.scratch-*"):
        pid = path.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            _remove_scratch(path)
            leftovers.append(path)
    return leftovers


def _remove_scratch(path: Path) -> None:
    """Remove a killed run's scratch folder. Its node child outlives it while it unpacks a provider
    (it notices its parent is gone only between two calls) and would recreate what we remove: stop
    it first, then remove until the folder stays removed (bounded)."""
    _stop_orphans(path)
    deadline = time.monotonic() + 10
    while path.exists() and time.monotonic() < deadline:
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            time.sleep(0.2)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs. A zombie (killed, not yet reaped by its parent: a caller that killed a
    synthesis and has not waited for it yet) answers ``kill(pid, 0)`` but runs nothing: dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): trust kill()
    return state not in ("Z", "X")


def _stop_orphans(scratch: Path) -> None:
    """SIGKILL the processes a killed synthesis left working in ``scratch`` (its jsii node child,
    found by the TMPDIR it inherited). Linux only (/proc); elsewhere the removal below retries."""
    marker = b"TMPDIR=" + os.fsencode(scratch) + b"\0"
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (entry / "environ").read_bytes() + b"\0" and int(entry.name) != os.getpid():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


def private_tempdir(outdir: Path) -> Path:
    """Give this synthesis its own temporary folder beside the output, ``.<out>.scratch-<pid>``,
    before jsii starts: the jsii runtime it unpacks, node's kernel folders and the rotation
    function's package go there, not into the system's temp folder. It is removed when this
    process exits (after jsii's own clean-up, which atexit runs first); one a killed synthesis
    left is removed by the next synthesis's :func:`reclaim`."""
    import atexit
    import tempfile

    outdir = outdir.resolve()
    scratch = outdir.parent / f".{outdir.name}.scratch-{os.getpid()}"
    try:
        scratch.mkdir(parents=True, exist_ok=True)
    except OSError:
        return Path(tempfile.gettempdir())  # an unwritable location: synthesize() reports it in one line
    # removed like a killed run's: jsii's node child may still be writing in it as Python exits
    atexit.register(_remove_scratch, scratch)
    tempfile.tempdir = str(scratch)
    os.environ["TMPDIR"] = str(scratch)  # node's os.tmpdir(), for the jsii kernel
    return scratch


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (renameat2 RENAME_EXCHANGE); False when the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def fault(point: str) -> None:
    """Tests only: ``SPOFLESS_FAULT=<point>`` kills this process at ``point`` as SIGKILL would
    (tests/stacks/test_synthesis_faults.py). Points: ``staged`` (every stack written, before the
    swap) and ``mid-swap`` (between the two renames of the fallback swap, which it forces)."""
    if os.environ.get("SPOFLESS_FAULT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


def replace(new: Path, target: Path, *, exchange: Optional[Callable[[Path, Path], bool]] = None) -> None:
    """Put ``new`` in place of ``target`` (under the lock); ``target`` never goes missing when the
    system can exchange atomically."""
    fault("staged")
    if os.environ.get("SPOFLESS_FAULT") == "mid-swap":
        exchange = lambda a, b: False  # noqa: E731 - the fallback is the only swap with a middle
    exchange = exchange or _exchange
    if target.exists() and exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # the old output, now at the staging path
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        target.rename(old)
        fault("mid-swap")
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)
