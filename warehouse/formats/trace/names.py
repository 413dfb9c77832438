"""Names of one trace interned as they are read: a code per record, each distinct name decoded once.

A trace repeats a few thousand 128-byte names (``dst_name``, source names) millions of times.
A compiled hash table keyed by the whole 128 bytes gives each row the code of the first row
with the same bytes, comparing every byte, so two names share a code only when they are
equal. The table lives for the whole trace, so the Arrow dictionary of each chunk is the same
list of texts and each text is decoded once per trace. Name bytes are untrusted: the table's
hash multipliers are drawn at random per trace (crafted collisions cannot be aimed at it), and
it is emptied between chunks once it holds ``MAX_NAMES``, so a trace of all-different names
costs memory by the chunk, not by the trace.
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa

from ...ingest.arrow_columns import column, strings

MAX_NAMES = 1 << 16
_FIRST_CAPACITY = 1 << 12
_jit = numba.njit(cache=True, nogil=True)


@_jit
def _intern(words, start, reps, n_reps, table, multipliers, shift, codes):
    """Codes of the names ``words[i]`` for rows ``i >= start``, adding new names to ``reps``;
    returns (names held, first row not done): a row is left undone only when ``reps`` is full."""
    width = reps.shape[1]
    mask = table.shape[0] - 1
    sh = np.uint64(shift)
    for i in range(start, words.shape[0]):
        h = np.uint64(0)
        for k in range(width):
            h += words[i, k] * multipliers[k]
        j = np.int64(h >> sh)
        while True:
            c = table[j]
            if c < 0:
                if n_reps == reps.shape[0]:
                    return n_reps, i
                for k in range(width):
                    reps[n_reps, k] = words[i, k]
                table[j] = n_reps
                codes[i] = n_reps
                n_reps += 1
                break
            k = 0
            while k < width and reps[c, k] == words[i, k]:
                k += 1
            if k == width:
                codes[i] = c
                break
            j = (j + 1) & mask
    return n_reps, words.shape[0]


@_jit
def _rehash(reps, n_reps, table, multipliers, shift):
    width = reps.shape[1]
    mask = table.shape[0] - 1
    sh = np.uint64(shift)
    for c in range(n_reps):
        h = np.uint64(0)
        for k in range(width):
            h += reps[c, k] * multipliers[k]
        j = np.int64(h >> sh)
        while table[j] >= 0:
            j = (j + 1) & mask
        table[j] = c


class NameTable:
    """Interns fixed-width, NUL-terminated names (a multiple of 8 bytes wide) of one trace."""

    def __init__(self, width: int = 128):
        if width % 8:
            raise ValueError("name width must be a multiple of 8 bytes")
        self.width = width // 8
        self.multipliers = np.random.default_rng().integers(1, 2**63, self.width, dtype=np.uint64) | np.uint64(1)
        self._reset(_FIRST_CAPACITY)

    def _reset(self, capacity: int) -> None:
        self.reps = np.zeros((capacity, self.width), np.uint64)
        self.n = 0
        self.texts: list[str] = []
        self._dictionary: pa.Array | None = None
        self._table_for(capacity)

    def _table_for(self, capacity: int) -> None:
        size = 1 << (4 * capacity - 1).bit_length()  # load at most 1/4: short probe runs
        self.table = np.full(size, -1, np.int32)
        self.shift = 64 - (size.bit_length() - 1)

    def start_chunk(self) -> None:
        """Called before a chunk's names: empties a table that holds ``MAX_NAMES`` (codes of
        earlier chunks then no longer index ``texts``)."""
        if self.n >= MAX_NAMES:
            self._reset(_FIRST_CAPACITY)

    def codes(self, words: np.ndarray) -> np.ndarray:
        """int32 code per row of ``words`` (names as uint64 rows, ``name_words``); codes index
        ``texts``."""
        codes = np.empty(len(words), np.int32)
        start = 0
        while True:
            self.n, start = _intern(words, start, self.reps, self.n, self.table, self.multipliers, self.shift,
                                    codes)
            if start == len(words):
                break
            grown = np.zeros((2 * len(self.reps), self.width), np.uint64)
            grown[: self.n] = self.reps[: self.n]
            self.reps = grown
            self._table_for(len(grown))
            _rehash(self.reps, self.n, self.table, self.multipliers, self.shift)
        if len(self.texts) < self.n:
            fresh = self.reps[len(self.texts): self.n].tobytes()
            size = 8 * self.width
            self.texts.extend(fresh[i: i + size].split(b"\0", 1)[0].decode("utf-8", errors="replace")
                              for i in range(0, len(fresh), size))
            self._dictionary = None
        return codes

    def dictionary(self) -> pa.Array:
        if self._dictionary is None:
            self._dictionary = strings(self.texts)
        return self._dictionary

    def column(self, codes: np.ndarray) -> pa.DictionaryArray:
        """Dictionary-encoded strings of ``codes`` (all >= 0) over this table's texts."""
        return pa.DictionaryArray.from_arrays(column(codes), self.dictionary())


def name_words(fixed: np.ndarray) -> np.ndarray:
    """Fixed-width names (``S128``) as uint64 rows, copied into one contiguous block: hashed in
    place inside 1024-byte records, every name would cost three cache misses."""
    fixed = np.ascontiguousarray(fixed)
    return fixed.view(np.uint8).view("<u8").reshape(len(fixed), fixed.dtype.itemsize // 8)
