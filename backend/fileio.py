"""Atomic file writes: a reader never sees a half-written file, and a failed write leaves the old one."""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    Without `overwrite` the file is published by a hard link, which fails if `path` appeared meanwhile,
    so of several writers racing to create one new file exactly one wins and the others get FileExistsError.
    """
    final = Path(path)
    if not overwrite and os.path.lexists(final):
        raise already_exists(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=final.suffix + ".part", dir=final.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; give the mode a plain open() would
    try:
        yield Path(tmp)
        publish(Path(tmp), final, overwrite)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def publish(tmp: Path, final: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, final)
        return
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise already_exists(final) from None
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
        if os.path.lexists(final):  # no hard links on this filesystem: check, then rename
            raise already_exists(final) from None
        os.replace(tmp, final)


def already_exists(path: Path) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "already exists (pass overwrite to replace it)", os.fspath(path))


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str, overwrite: bool = True) -> None:
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
