"""Versioned ggml op-code tables (trace-format spec section 5) and the plausibility check.

The ``ggml_op`` enum changes between ggml versions and a wrong table silently mislabels
operations (MUL_MAT shown as LOG), so every run names the table it was read with. A check
catches the wrong table: records carrying expert ids must be MUL_MAT_ID or ADD_ID, and a
record reading a 3-D ``*_exps.weight`` tensor must be a MUL_MAT_ID.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_TABLE = "ggml-2026-01"
LEGACY_TABLE = "ggml-2025-legacy"

_GGML_2026_01 = """
NONE DUP ADD ADD_ID ADD1 ACC SUB MUL DIV SQR SQRT LOG SIN COS SUM SUM_ROWS CUMSUM MEAN ARGMAX
COUNT_EQUAL REPEAT REPEAT_BACK CONCAT SILU_BACK NORM RMS_NORM RMS_NORM_BACK GROUP_NORM L2_NORM
MUL_MAT MUL_MAT_ID OUT_PROD SCALE SET CPY CONT RESHAPE VIEW PERMUTE TRANSPOSE GET_ROWS
GET_ROWS_BACK SET_ROWS DIAG DIAG_MASK_INF DIAG_MASK_ZERO SOFT_MAX SOFT_MAX_BACK ROPE ROPE_BACK
CLAMP CONV_TRANSPOSE_1D IM2COL IM2COL_BACK IM2COL_3D CONV_2D CONV_3D CONV_2D_DW CONV_TRANSPOSE_2D
POOL_1D POOL_2D POOL_2D_BACK UPSCALE PAD PAD_REFLECT_1D ROLL ARANGE TIMESTEP_EMBEDDING ARGSORT
TOP_K LEAKY_RELU TRI FILL FLASH_ATTN_EXT FLASH_ATTN_BACK SSM_CONV SSM_SCAN WIN_PART WIN_UNPART
GET_REL_POS ADD_REL_POS RWKV_WKV6 GATED_LINEAR_ATTN RWKV_WKV7 SOLVE_TRI UNARY MAP_CUSTOM1
MAP_CUSTOM2 MAP_CUSTOM3 CUSTOM CROSS_ENTROPY_LOSS CROSS_ENTROPY_LOSS_BACK OPT_STEP_ADAMW
OPT_STEP_SGD GLU
"""

_GGML_2025_LEGACY = """
NONE DUP ADD MUL DIV SQR SQRT LOG SIN COS SUM SUM_ROWS MEAN ARGMAX COUNT_EQUAL REPEAT REPEAT_BACK
CONCAT SILU_BACK NORM RMS_NORM RMS_NORM_BACK GROUP_NORM MUL_MAT MUL_MAT_ID OUT_PROD SCALE SET CPY
CONT RESHAPE VIEW PERMUTE TRANSPOSE GET_ROWS GET_ROWS_BACK DIAG DIAG_MASK_INF DIAG_MASK_ZERO
SOFT_MAX SOFT_MAX_BACK ROPE ROPE_BACK CLAMP CONV_TRANSPOSE_1D IM2COL IM2COL_BACK CONV_TRANSPOSE_2D
POOL_1D POOL_2D POOL_2D_BACK UPSCALE PAD ARANGE TIMESTEP_EMBEDDING ARGSORT LEAKY_RELU
FLASH_ATTN_EXT FLASH_ATTN_BACK SSM_CONV SSM_SCAN WIN_PART WIN_UNPART GET_REL_POS ADD_REL_POS
RWKV_WKV6 UNARY MAP_UNARY MAP_BINARY MAP_CUSTOM1_F32 MAP_CUSTOM2_F32 MAP_CUSTOM3_F32 MAP_CUSTOM1
MAP_CUSTOM2 MAP_CUSTOM3 CROSS_ENTROPY_LOSS CROSS_ENTROPY_LOSS_BACK OPT_STEP_ADAMW
"""

TABLES: dict[str, tuple[str, ...]] = {
    DEFAULT_TABLE: tuple(_GGML_2026_01.split()),
    LEGACY_TABLE: tuple(_GGML_2025_LEGACY.split()),
}

# Ops that legitimately carry expert ids in a trace record.
EXPERT_OPS = frozenset({"MUL_MAT_ID", "ADD_ID"})


def names(table: str) -> tuple[str, ...]:
    """Op names of ``table`` indexed by code; raises KeyError for an unknown table."""
    return TABLES[table]


def code_of(table: str, op_name: str) -> int:
    return TABLES[table].index(op_name)


def op_name(table: str, code: int) -> str | None:
    ops = TABLES[table]
    return ops[code] if 0 <= code < len(ops) else None


# A table fails the check when more than this share of the checked records contradict it;
# a few corrupt records are flagged one by one instead of condemning the table.
MAX_FAILING_SHARE = 0.1


def check(table: str, expert_codes: Mapping[int, int], exps_weight_codes: Mapping[int, int]) -> list[str]:
    """Reasons ``table`` cannot be right for a run, empty when it passes the check.

    ``expert_codes``: {op code: records} of records that carry expert ids; ``exps_weight_codes``:
    the same for records with a ``*_exps.weight`` source.
    """
    problems, failing = [], 0
    for code, n in sorted(expert_codes.items()):
        name = op_name(table, code)
        if name not in EXPERT_OPS:
            failing += n
            problems.append(f"op code {code} carries expert ids ({n} records) but is {name or 'unknown'} in {table}")
    for code, n in sorted(exps_weight_codes.items()):
        name = op_name(table, code)
        if name != "MUL_MAT_ID":
            failing += n
            problems.append(f"op code {code} reads an _exps weight ({n} records) but is {name or 'unknown'} in {table}")
    checked = sum(expert_codes.values()) + sum(exps_weight_codes.values())
    return problems if checked and failing > MAX_FAILING_SHARE * checked else []


def fitting_tables(expert_codes: Mapping[int, int], exps_weight_codes: Mapping[int, int]) -> list[str]:
    """Every known table that passes the plausibility check for these codes."""
    return [t for t in TABLES if not check(t, expert_codes, exps_weight_codes)]
