"""What a real input can claim, checked by every decoder before it builds anything.

A header or a layout file states counts and sizes that the decoders would otherwise loop
over; these bounds make memory follow the input's size and what a real model can be, never
what a hostile header claims.
"""

from __future__ import annotations

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1  # offsets, sizes and timestamps are stored as BIGINT

MAX_EXPERTS = 65_536  # experts per MoE layer (the largest real models have a few hundred)
MAX_LAYER = 0xFFFE  # trace records carry layer ids as u16, 0xFFFF meaning "none"
# Layout rows (tensors and expert slices) of one model; real ones have under 100,000
# (384 experts x 61 layers x 3 weights is 70,272). A row costs about 1 KB while it is built.
MAX_LAYOUT_ROWS = 1 << 20
