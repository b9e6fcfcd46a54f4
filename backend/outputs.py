"""Checks on output paths, made before any work starts, so a bad path fails in a second, not after the run."""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from .errors import InputError


def check_output(path: str | os.PathLike, overwrite: bool, suffixes: tuple[str, ...] | None = None,
                 option: str = "--out") -> Path:
    """Raise InputError naming the path and the problem unless a file can be written at `path`.

    Missing parent folders are fine (they are created when the file is written), as long as the nearest
    existing one is a folder this process may write into. An existing file is refused unless `overwrite`.
    """
    if not os.fspath(path).strip():
        raise InputError(None, f"{option} is empty; give a file name")
    target = Path(path)
    if target.is_dir():
        raise InputError(target, "is a folder; give a file name")
    if suffixes is not None and target.suffix.lower() not in suffixes:
        raise InputError(target, f"unknown output format {target.suffix or '(no extension)'!r}; "
                                 f"use one of {', '.join(suffixes)}")
    if os.path.lexists(target) and not overwrite:
        raise InputError(target, "already exists; pass --overwrite to replace it")
    check_folder_writable(target)
    return target


def check_folder_writable(target: Path) -> None:
    """Raise unless the nearest existing folder above `target` is a folder that accepts new files."""
    folder = nearest_existing(target.absolute().parent)
    if not folder.is_dir():
        raise InputError(target, f"cannot be written: {folder} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=".mouthpiece-probe-", dir=folder)
    except OSError as err:
        raise InputError(target, f"cannot be written: {folder} does not accept new files "
                                 f"({err.strerror or errno.errorcode.get(err.errno, err)})") from None
    os.close(handle)
    os.unlink(probe)


def nearest_existing(folder: Path) -> Path:
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    return folder


def same_file(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Whether two paths name one file (through links, `..` and relative paths), existing or not."""
    if os.path.exists(first) and os.path.exists(second):
        return os.path.samefile(first, second)
    return os.path.realpath(first) == os.path.realpath(second)


def describe_os_error(err: OSError) -> str:
    """One line for a failed write: the file and the reason, no traceback."""
    if isinstance(err, FileExistsError):
        return f"{err.filename}: already exists; pass --overwrite to replace it"
    reason = err.strerror or str(err)
    return f"{err.filename}: {reason}" if err.filename else reason
