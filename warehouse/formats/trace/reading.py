"""Bounded reads of trace records: ``pread`` into a fresh array, never a memory map.

The tracer writes into a pre-allocated file that may still be open, shrunk or rewritten while
it is ingested. A memory map of a file that shrinks kills the reader with SIGBUS when it
touches a page past the new end; a read just returns fewer bytes, which is reported as the
input error "the trace changed while being read". Memory per read is the slice asked for.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator

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


def read_ahead(items: Iterator, depth: int = 2) -> Iterator:
    """The items of ``items``, produced on a thread of its own up to ``depth`` ahead: reads,
    NumPy and the compiled kernels release the GIL, so the next chunk is read (or decoded)
    while this one is used. An error of the producer is raised here, where the item it failed
    on would have been; closing this generator stops the thread."""
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ahead.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put((end, None))
        except BaseException as exc:  # noqa: BLE001 - raised in the consumer below
            ahead.put((end, exc))

    thread = threading.Thread(target=produce, name="moewh-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = ahead.get()
            if item is end:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                ahead.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()
