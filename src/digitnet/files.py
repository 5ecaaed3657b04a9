"""Atomic file writes: write beside the target, flush to disk, then rename over it.

A crash or kill at any moment leaves either the old file or the new one, never half of one, because
``os.replace`` is atomic on POSIX and Windows when source and target are on the same file system.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``, on error it is removed.

    >>> with atomic_path("model.safetensors") as tmp:   # doctest: +SKIP
    ...     save_file(tensors, tmp)
    """
    target = Path(target)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp makes the file private (and some writers replace it): give it the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb+") as f:  # the writer may have closed its handle: reopen to flush to disk
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def remove_stale_partials(target: str | os.PathLike) -> list[Path]:
    """Delete the temporary files ``atomic_path`` left beside ``target`` when a process writing it was killed.

    Only for a target that no other process is writing at the same time; returns the paths removed.
    """
    target = Path(target)
    stale = sorted(target.parent.glob(f".{glob.escape(target.name)}.*.partial"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Atomically write ``data`` to ``target``."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    """Atomically write ``text`` (UTF-8) to ``target``."""
    write_bytes(target, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    # Make the rename itself durable; not every platform lets a directory be opened, so best effort.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
