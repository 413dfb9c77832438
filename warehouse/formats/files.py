"""Opening input files without hanging: only regular files (and folders where a format takes
one) are read.

A FIFO, socket or device given as a model, layout, trace or token file would block the open
or the first read forever (or stream without end), so it is refused from its ``stat`` before
it is opened, and before any command takes the database lock.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import InputError

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def kind_of(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def check_regular(path: str | os.PathLike, what: str = "input", folder_ok: bool = False) -> os.stat_result:
    """``stat`` of ``path`` (symlinks followed) if it is a regular file (or a folder when
    ``folder_ok``); otherwise an InputError saying what it is instead."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(path, f"cannot open: {exc.strerror or exc}") from None
    if stat.S_ISREG(st.st_mode) or (folder_ok and stat.S_ISDIR(st.st_mode)):
        return st
    if stat.S_ISDIR(st.st_mode):
        raise InputError(path, f"is a folder, not a {what} file")
    raise InputError(path, f"is {kind_of(st.st_mode)}, not a {what} file; only regular files are read")


def read_regular(path: str | os.PathLike, what: str = "input") -> bytes:
    """The bytes of a regular file (see ``check_regular``)."""
    check_regular(path, what)
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
