"""Bounded reads of trace records: ``pread`` into a fresh array, never a memory map.

The tracer writes into a pre-allocated file that may still be open, shrunk or rewritten while
it is ingested. A memory map of a file that shrinks kills the reader with SIGBUS when it
touches a page past the new end; a read just returns fewer bytes, which is reported as the
input error "the trace changed while being read". Memory per read is the slice asked for.
"""

from __future__ import annotations

import os

import numpy as np

from ...errors import InputError

CHANGED = "the trace changed while being read"


def read_slots(fd: int, path, dtype: np.dtype, first: int, n: int) -> np.ndarray:
    """Records ``[first, first + n)`` of the open file ``fd`` as a writable ``dtype`` array."""
    out = np.empty(n, dtype=dtype)
    view = memoryview(out.view(np.uint8))
    offset, done, want = first * dtype.itemsize, 0, n * dtype.itemsize
    while done < want:
        got = os.preadv(fd, [view[done:]], offset + done)
        if got == 0:
            raise InputError(path, f"{CHANGED}: it ends at byte {offset + done:,}, where record {first + done // dtype.itemsize:,} "
                             f"was; ingest it once the traced program has finished", offset=offset + done)
        done += got
    return out
