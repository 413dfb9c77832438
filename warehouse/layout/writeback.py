"""Start writing a file's dirty pages to disk without waiting: Linux's ``sync_file_range``.

A writer that streams gigabytes and fsyncs at the end otherwise leaves the whole file dirty in
the page cache: the fsync then writes it all while the process waits, and long before that the
kernel may throttle the writes themselves. Handing each written chunk to the disk at once
overlaps the disk's work with the copy and keeps the dirty pages at a few chunks. Python's
``os`` has no ``sync_file_range``, so libc's is called through ``ctypes``; where it is missing
(not Linux) this does nothing and the final fsync does all the work, as before. Only a hint:
errors are left to the fsync, which reports them.
"""

from __future__ import annotations

import ctypes
from functools import cache

SYNC_FILE_RANGE_WRITE = 2  # start writeback of the range's dirty pages; do not wait


@cache
def _libc_sync_file_range():
    # Looked up on first use, not at import: the CLI imports this module for every command.
    # The interpreter has libc loaded already, so its own symbol table (CDLL(None)) has it.
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def start_writeback(fd: int, offset: int, n: int) -> None:
    """Ask the kernel to start writing ``n`` bytes of ``fd`` from ``offset`` to disk."""
    sync_file_range = _libc_sync_file_range()
    if sync_file_range is not None and n > 0:
        sync_file_range(fd, offset, n, SYNC_FILE_RANGE_WRITE)
