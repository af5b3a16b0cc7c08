"""Hashes of the files a run reads, for its provenance record."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def what_is(path: Path) -> str:
    """What ``path`` is, for a message: ``"a folder"``, ``"a named pipe (FIFO)"``, ``"not found"``...

    Symbolic links are followed; a link whose target is missing is ``"a broken symbolic
    link"``.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if path.is_symlink() else "not found"
    except NotADirectoryError:
        return "not found (a parent of it is a file, not a folder)"
    except OSError as exc:
        return f"not readable ({exc.strerror or exc})"
    kinds = (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((text for test, text in kinds if test(mode)), "not a regular file")
