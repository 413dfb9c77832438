"""Bad-input errors of the routing decoders: ``FILE, <place>: <what>`` (place = line, key, offset)."""

from __future__ import annotations

from ...errors import InputError, WarehouseError


class RoutingInputError(InputError):
    def __init__(self, path, place: str | None, message: str):
        WarehouseError.__init__(self, f"{path}, {place}: {message}" if place else f"{path}: {message}")
        self.path, self.place, self.offset, self.record = str(path), place, None, None


def first_bad(mask) -> int | None:
    """Index of the first True in a boolean array, else None."""
    import numpy as np

    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None
