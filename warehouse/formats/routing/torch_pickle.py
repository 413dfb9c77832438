"""Read ``torch.save`` files without running code from them, and without needing torch.

With torch installed, ``torch.load(weights_only=True)`` reads the file (torch's own
restricted loader). Without it, a restricted unpickler reads the zip archive torch writes
(``torch/serialization.py`` ``_save``, torch 2.x: ``<name>/data.pkl`` pickled at protocol 2,
each storage in ``<name>/data/<key>``, persistent ids ``('storage', <dtype>Storage, key,
location, numel)``, tensors rebuilt by ``torch._utils._rebuild_tensor_v2``). It accepts only
those globals (storage classes, the tensor rebuild, ``collections.OrderedDict``); any other
global is refused, naming it. Tensors come back as NumPy arrays.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from .problems import RoutingInputError

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str):
        self.name, self.dtype = name, np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    data, dtype = storage
    itemsize = dtype.itemsize
    if not size:
        return np.array(data[storage_offset], dtype=dtype)
    span = 1 + sum((s - 1) * st for s, st in zip(size, stride, strict=True)) if all(size) else 0
    if storage_offset + span > len(data):
        raise ValueError(f"tensor of size {tuple(size)} runs past its storage ({len(data)} elements)")
    view = np.lib.stride_tricks.as_strided(data[storage_offset:], shape=tuple(size),
                                           strides=tuple(s * itemsize for s in stride))
    return np.array(view)


_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("collections", "OrderedDict"): collections.OrderedDict,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, path: Path):
        super().__init__(file)
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise RoutingInputError(self.path, f"key {self.prefix}data.pkl", f"refusing the pickled global "
                                f"{module}.{name}: only tensors and storages are read (no code runs from the file)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise RoutingInputError(self.path, f"key {self.prefix}data.pkl", f"unknown persistent id {pid!r:.60}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise RoutingInputError(self.path, f"key {self.prefix}data.pkl", "storage of an unknown type")
        member = f"{self.prefix}data/{key}"
        try:
            raw = self.archive.read(member)
        except KeyError:
            raise RoutingInputError(self.path, f"key {member}", "storage missing from the archive") from None
        dtype = storage_type.dtype
        if len(raw) < numel * dtype.itemsize:
            raise RoutingInputError(self.path, f"key {member}", f"{len(raw)} bytes, {numel} elements of "
                                    f"{dtype} need {numel * dtype.itemsize}")
        return np.frombuffer(raw, dtype=dtype, count=numel), dtype


def load_restricted(path: Path):
    """The object in a torch zip file, tensors as NumPy arrays (little-endian files only)."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise RoutingInputError(path, "byte offset 0", "not a torch zip archive (the legacy pre-1.6 torch.save "
                                "format is not read)") from None
    with archive:
        pkl = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise RoutingInputError(path, None, "a torch archive holds exactly one data.pkl")
        prefix = pkl[0][: -len("data.pkl")]
        order = prefix + "byteorder"
        if order in archive.namelist() and archive.read(order).strip() != b"little":
            raise RoutingInputError(path, f"key {order}", "big-endian torch files are not read")
        try:
            return _Unpickler(io.BytesIO(archive.read(pkl[0])), archive, prefix, path).load()
        except RoutingInputError:
            raise
        except Exception as exc:  # a corrupt pickle stream raises many kinds
            raise RoutingInputError(path, f"key {pkl[0]}", f"unreadable pickle: {exc}") from None


def load(path: Path, force_restricted: bool = False):
    """Tensors as NumPy arrays, through torch's weights-only loader if torch is installed."""
    if not force_restricted:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            try:
                obj = torch.load(str(path), map_location="cpu", weights_only=True)
            except Exception as exc:
                raise RoutingInputError(path, None, f"torch.load(weights_only=True) refused it: "
                                        f"{str(exc).splitlines()[0][:200]}") from None
            return _to_numpy(obj, torch)
    return load_restricted(path)


def _to_numpy(obj, torch):
    if isinstance(obj, torch.Tensor):
        return obj.numpy()
    if isinstance(obj, dict):
        return {k: _to_numpy(v, torch) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_numpy(v, torch) for v in obj)
    return obj
