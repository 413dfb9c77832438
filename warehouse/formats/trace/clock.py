"""Timestamps a trace cannot have: above 2^63 (they do not fit the BIGINT column, and stored
as is they would read as negative), or earlier than the previous record of the same thread.

The tracer stamps records with a monotonic clock, so within one thread time never goes
backwards; across threads records interleave and may. ``ThreadClock`` carries each thread's
last timestamp from chunk to chunk, so the check costs one stable sort of a chunk.
"""

from __future__ import annotations

import numpy as np

INT64_MAX = np.uint64(2**63 - 1)


def out_of_range(ts: np.ndarray) -> np.ndarray:
    """Mask of timestamps (u8) that do not fit a signed 64-bit column."""
    return ts > INT64_MAX


class ThreadClock:
    def __init__(self) -> None:
        self.last: dict[int, int] = {}  # thread id -> last valid timestamp seen

    def backwards(self, threads: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask of records earlier than their thread's previous record, that previous timestamp);
        records in file order. Out-of-range timestamps are neither checked nor remembered."""
        n = len(ts)
        valid = ~out_of_range(ts)
        idx = np.flatnonzero(valid)
        order = idx[np.argsort(threads[idx], kind="stable")]
        th, t = threads[order].astype(np.int64), ts[order].astype(np.int64)
        prev = np.empty(len(order), np.int64)
        if len(order):
            prev[1:] = t[:-1]
            starts = np.flatnonzero(np.r_[True, th[1:] != th[:-1]])
            for s in starts:  # first record of each thread in the chunk: the carried timestamp
                prev[s] = self.last.get(int(th[s]), -1)
            for s, e in zip(starts.tolist(), (np.r_[starts[1:], len(order)] - 1).tolist(), strict=True):
                self.last[int(th[s])] = int(t[e])
        mask = np.zeros(n, bool)
        before = np.full(n, -1, np.int64)
        back = t < prev
        mask[order[back]] = True
        before[order[back]] = prev[back]
        return mask, before
