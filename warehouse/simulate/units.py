"""Byte sizes as people write them (512MiB, 2GiB, 3000MiB, 1.5GB, 4096) and back."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_UNITS = {
    "": 1, "b": 1,
    "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
    "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """Bytes of ``text``: a number with an optional unit (KiB, MiB, GiB, TiB and K, M, G, T are
    powers of 1024; kB, MB, GB, TB powers of 1000; case does not matter). Raises ValueError."""
    m = _SIZE_RE.match(text)
    unit = m.group(2).lower() if m else None
    if not m or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a size (examples: 512MiB, 2GiB, 1.5GB, 4096)")
    try:
        value = Decimal(m.group(1)) * _UNITS[unit]
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a size") from None
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(value)


def format_size(n: int | float | None) -> str:
    """A short binary-unit label: 536870912 -> '512 MiB', 3221225472 -> '3 GiB'."""
    if n is None:
        return ""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"
