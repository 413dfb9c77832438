"""The few ggml functions and the ``ggml_tensor`` struct the eval callback reads, via ctypes.

llama-cpp-python binds llama.h but not ggml's tensor struct, and the scheduler's eval callback
hands over a bare ``struct ggml_tensor *``. The struct below follows ``ggml.h`` of the ggml
that llama-cpp-python 0.3.x bundles (GGML_MAX_DIMS 4, GGML_MAX_SRC 10, GGML_MAX_OP_PARAMS 64,
GGML_MAX_NAME 64). ``check_layout`` proves on a live tensor that the offsets are right
(``ggml_get_name`` and ``ggml_nbytes`` computed by the library against the fields read here),
so a different struct in a future release is refused instead of read as garbage.
"""

from __future__ import annotations

import ctypes
import pathlib

import numpy as np

MAX_DIMS, MAX_SRC, MAX_OP_PARAMS, MAX_NAME = 4, 10, 64, 64
TYPE_F32, TYPE_I32 = 0, 26
BUFFER_USAGE_WEIGHTS = 1


class GgmlTensor(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("buffer", ctypes.c_void_p),
        ("ne", ctypes.c_int64 * MAX_DIMS),
        ("nb", ctypes.c_size_t * MAX_DIMS),
        ("op", ctypes.c_int),
        ("op_params", ctypes.c_int32 * (MAX_OP_PARAMS // 4)),
        ("flags", ctypes.c_int32),
        ("src", ctypes.c_void_p * MAX_SRC),
        ("view_src", ctypes.c_void_p),
        ("view_offs", ctypes.c_size_t),
        ("data", ctypes.c_void_p),
        ("name", ctypes.c_char * MAX_NAME),
        ("extra", ctypes.c_void_p),
        ("padding", ctypes.c_char * 8),
    ]


class LayoutMismatch(RuntimeError):
    pass


class Ggml:
    """ggml-base functions of the llama-cpp-python installation."""

    def __init__(self) -> None:
        import llama_cpp

        lib_dir = pathlib.Path(llama_cpp.__file__).parent / "lib"
        candidates = sorted(lib_dir.glob("libggml-base.*")) or sorted(lib_dir.glob("ggml-base.*"))
        if not candidates:
            raise LayoutMismatch(f"libggml-base not found in {lib_dir}")
        lib = ctypes.CDLL(str(candidates[0]))
        self.lib = lib
        lib.ggml_nbytes.argtypes, lib.ggml_nbytes.restype = [ctypes.c_void_p], ctypes.c_size_t
        lib.ggml_get_name.argtypes, lib.ggml_get_name.restype = [ctypes.c_void_p], ctypes.c_char_p
        lib.ggml_op_name.argtypes, lib.ggml_op_name.restype = [ctypes.c_int], ctypes.c_char_p
        lib.ggml_backend_tensor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
        lib.ggml_backend_tensor_get.restype = None
        lib.ggml_backend_buffer_get_usage.argtypes = [ctypes.c_void_p]
        lib.ggml_backend_buffer_get_usage.restype = ctypes.c_int
        for fn in ("ggml_version", "ggml_commit"):
            if hasattr(lib, fn):
                getattr(lib, fn).restype = ctypes.c_char_p
        self._op_names: dict[int, str] = {}
        self._checked = False

    def version(self) -> str | None:
        return self.lib.ggml_version().decode() if hasattr(self.lib, "ggml_version") else None

    def commit(self) -> str | None:
        return self.lib.ggml_commit().decode() if hasattr(self.lib, "ggml_commit") else None

    def op_name(self, op: int) -> str:
        name = self._op_names.get(op)
        if name is None:
            name = self._op_names[op] = self.lib.ggml_op_name(op).decode()
        return name

    def nbytes(self, ptr: int) -> int:
        return self.lib.ggml_nbytes(ptr)

    def is_weight_buffer(self, buffer: int | None) -> bool:
        return bool(buffer) and self.lib.ggml_backend_buffer_get_usage(buffer) == BUFFER_USAGE_WEIGHTS

    def check_layout(self, ptr: int, t: GgmlTensor) -> None:
        """Compare the struct as read here with what the library says about the same tensor."""
        if self._checked:
            return
        lib_name = self.lib.ggml_get_name(ptr)
        n = t.nb[0] if t.type in (TYPE_F32, TYPE_I32) else None
        expected = None
        if n is not None:
            expected = n + sum((t.ne[i] - 1) * t.nb[i] for i in range(MAX_DIMS))
        if lib_name != t.name or (expected is not None and self.nbytes(ptr) != expected):
            raise LayoutMismatch(
                "the ggml_tensor struct of this llama-cpp-python build differs from the one moewh reads "
                f"(name {lib_name!r} vs {t.name!r}); capture supports llama-cpp-python 0.3.x")
        self._checked = True

    def read_2d(self, ptr: int, t: GgmlTensor, dtype) -> np.ndarray:
        """[ne1 * ne2 * ne3, ne0] elements of a (possibly strided) F32/I32 tensor, as a copy.

        The top-k id tensor is a view of the argsort of all experts: row r starts at r * nb[1],
        only its first ne0 entries are the selection. Reading it as contiguous would mix the
        ranking of one token into the next (the bug of llama.cpp's original moe-trace example).
        """
        size = self.nbytes(ptr)
        buf = (ctypes.c_char * size)()
        self.lib.ggml_backend_tensor_get(ptr, buf, 0, size)
        flat = np.frombuffer(buf, dtype=np.uint8)
        ne0, ne1, ne2 = t.ne[0], t.ne[1], t.ne[2]
        itemsize = np.dtype(dtype).itemsize
        if t.nb[0] != itemsize:
            raise LayoutMismatch(f"tensor {t.name!r}: element stride {t.nb[0]} is not {itemsize}")
        if t.ne[3] != 1:
            raise LayoutMismatch(f"tensor {t.name!r}: 4-D routing tensors are not supported")
        # Rows of dims 1 and 2 in order (weights are [1, k, T]: ne0 = 1, rows = k per token).
        view = np.lib.stride_tricks.as_strided(
            flat, shape=(ne2, ne1, ne0 * itemsize), strides=(t.nb[2], t.nb[1], 1), writeable=False)
        return np.ascontiguousarray(view).view(dtype).reshape(ne2 * ne1, ne0)
