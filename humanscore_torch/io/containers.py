"""Reading the containers motion files come in, without executing code from the file.

Pose estimators save their results with ``np.savez``, ``np.save`` of a dict, ``pickle``,
``joblib.dump`` and ``torch.save``. Plain ``pickle.load`` / ``joblib.load`` / ``np.load(...,
allow_pickle=True)`` run whatever callable the file names, so none of them is used here:

* pickle streams (``.pkl``, ``.pth`` written by joblib, object arrays inside ``.npy``/``.npz``)
  go through :class:`RestrictedUnpickler`, which resolves only an allow-list of array and
  container constructors (numpy arrays, dtypes and scalars, torch tensors, dict, list, tuple,
  OrderedDict, defaultdict, ...). Any other class or function the stream names becomes an
  inert :class:`OpaqueObject` that records its name and arguments and never runs, so the
  arrays next to it still load;
* joblib's own format (numpy arrays written raw after a ``NumpyArrayWrapper`` record, possibly
  zlib/gzip/bz2/xz compressed) is decoded here, so joblib is not needed at all;
* torch zip archives (``torch.save``) are read with ``torch.load(weights_only=True)``, falling
  back to ``torch.load`` driven by the restricted unpickler when the file holds numpy arrays;
* ``.npz`` members and ``.npy`` files are parsed with ``numpy.lib.format`` (``allow_pickle``
  stays off); object arrays among them go through the restricted unpickler.

Every failure (truncated stream, corrupt archive, unsupported compression) raises
:class:`~humanscore_torch.errors.MotionFileError` naming the file and the problem.
"""

from __future__ import annotations

import _compat_pickle
import bz2
import gzip
import importlib
import io
import lzma
import pickle
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, Dict, Tuple

import numpy as np
import torch

from ..errors import MotionFileError

# File signatures (first bytes).
_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_PROTO = b"\x80"
# joblib's compressors (joblib/compressor.py): zlib streams start with 0x78, gzip with 1f 8b,
# bz2 with "BZh", xz with fd "7zXZ", raw lzma with 5d 00 00; lz4 frames with 04 22 4d 18.
_DECOMPRESSORS = (
    (b"\x1f\x8b", "gzip", gzip.decompress),
    (b"BZh", "bz2", bz2.decompress),
    (b"\xfd7zXZ", "xz", lzma.decompress),
    (b"\x5d\x00\x00", "lzma", lzma.decompress),
    (b"\x78", "zlib", zlib.decompress),
)
_LZ4_MAGIC = b"\x04\x22\x4d\x18"
# torch's legacy (pre-1.6, non-zip) torch.save format opens with this pickled integer.
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class OpaqueObject:
    """Stands in for any class or function a pickle names that is not on the allow-list.

    Calling, constructing or restoring it only records what the file asked for; no code from
    the file runs. Attributes: ``qualified_name`` (``"module.name"``), ``args``, ``state``.
    """

    qualified_name = "?"

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        obj.args, obj.state = args, None
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __call__(self, *args, **kwargs):
        return type(self)(*args)

    def __repr__(self) -> str:
        return f"<not loaded: {self.qualified_name}>"


def _opaque_class(module: str, name: str) -> type:
    return type(name, (OpaqueObject,), {"qualified_name": f"{module}.{name}"})


class _JoblibArrayWrapper:
    """joblib's ``NumpyArrayWrapper``: describes an array whose raw bytes follow the record
    in the file (after an alignment padding byte and padding when the writer recorded an
    alignment). Its BUILD state holds ``subclass``, ``shape``, ``order``, ``dtype``,
    ``allow_mmap`` and, since joblib 1.2, ``numpy_array_alignment_bytes``."""

    def __init__(self, *args, **kwargs):
        self.__dict__.update(kwargs)

    def __setstate__(self, state):
        self.__dict__.update(state)

    def read(self, unpickler: "RestrictedUnpickler") -> np.ndarray:
        """Read the array this record describes from ``unpickler.raw_file``, which is
        positioned just after the record: the raw bytes (after the alignment byte and padding,
        when recorded) as a native-byte-order copy of ``shape`` in ``order``; an object array
        is a nested pickle stream, read with a new :class:`RestrictedUnpickler`."""
        dtype = np.dtype(self.dtype)
        shape = tuple(int(s) for s in self.shape)
        if dtype.hasobject:
            # Object arrays are a nested pickle stream at this position.
            return RestrictedUnpickler(unpickler.raw_file).load()
        if getattr(self, "numpy_array_alignment_bytes", None) is not None:
            padding = unpickler.raw_file.read(1)
            if len(padding) != 1:
                raise EOFError("joblib array: missing alignment byte")
            unpickler.raw_file.read(padding[0])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        data = unpickler.raw_file.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise EOFError(f"joblib array: expected {count * dtype.itemsize} bytes, found {len(data)}")
        array = np.frombuffer(data, dtype=dtype, count=count)
        if self.order == "F":
            array = array.reshape(shape[::-1]).transpose()
        else:
            array = array.reshape(shape)
        return array.astype(dtype.newbyteorder("="), copy=True)


def _torch_storage_from_bytes(data: bytes):
    """Replaces ``torch.storage._load_from_bytes`` (which calls ``torch.load`` with
    ``weights_only=False``): a tensor pickled with plain pickle carries its storage as a
    nested legacy ``torch.save`` blob, read here with ``weights_only=True``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation notice
        return torch.load(io.BytesIO(data), weights_only=True)


def _canonical_module(module: str) -> str:
    # numpy 2 moved numpy.core to numpy._core; pickles name either.
    return "numpy._core" + module[len("numpy.core"):] if module.startswith("numpy.core") else module


def _import_global(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:  # numpy 1.x reading a numpy-2 pickle
        return getattr(importlib.import_module(module.replace("numpy._core", "numpy.core", 1)), name)


# (module, name) pairs the restricted unpickler resolves to the real object. Everything here
# only builds arrays, tensors or plain containers from data.
_ALLOWED: Tuple[Tuple[str, str], ...] = (
    ("builtins", "dict"), ("builtins", "list"), ("builtins", "tuple"), ("builtins", "set"),
    ("builtins", "frozenset"), ("builtins", "bytearray"), ("builtins", "bytes"), ("builtins", "str"),
    ("builtins", "int"), ("builtins", "float"), ("builtins", "complex"), ("builtins", "bool"),
    ("builtins", "slice"), ("builtins", "range"),
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("_codecs", "encode"),  # protocol-2 pickles spell bytes as encode(str, "latin1")
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy", "matrix"), ("numpy", "memmap"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_parameter"), ("torch", "Size"),
)
_REPLACED = {
    ("torch.storage", "_load_from_bytes"): _torch_storage_from_bytes,
    ("joblib.numpy_pickle", "NumpyArrayWrapper"): _JoblibArrayWrapper,
}


class RestrictedUnpickler(pickle._Unpickler):  # the pure-Python unpickler lets BUILD be hooked
    """An unpickler that builds arrays, tensors and containers, and nothing else.

    Allowed constructors are listed in ``_ALLOWED``; torch dtypes (``torch.float32``) resolve
    too. Every other global becomes an :class:`OpaqueObject`. joblib array records are
    replaced by the arrays that follow them in the file.

    Args:
        file: a binary file object positioned at the start of a pickle stream.
    """

    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, file, **kwargs):
        # latin1: numpy arrays pickled by Python 2 (torch.load passes its own encoding).
        super().__init__(file, encoding=kwargs.get("encoding", "latin1"))
        self.raw_file = file

    def find_class(self, module: str, name: str):
        """Resolve a global the stream names, without importing or running anything else.

        Python 2 names are mapped first; then replaced globals (``_REPLACED``: torch's nested
        storage loader, joblib's array record), allow-listed ones (``_ALLOWED``) and torch
        dtypes resolve to real objects. Anything else becomes an :class:`OpaqueObject`
        subclass, because resolving an arbitrary global is how a pickle runs code.
        """
        if self.proto < 3 and self.fix_imports:  # Python 2 names (__builtin__.set, ...)
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        module = _canonical_module(module)
        if (module, name) in _REPLACED:
            return _REPLACED[(module, name)]
        if (module, name) in _ALLOWED:
            return _import_global(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        return _opaque_class(module, name)

    def persistent_load(self, pid):
        """Refuse persistent ids: a plain pickle stream has none. ``torch.load`` installs its
        own ``persistent_load`` (archive storages) when it drives this unpickler."""
        raise pickle.UnpicklingError("persistent ids are only valid inside torch archives")

    def load_build(self):
        """The BUILD opcode (restore state): after the usual ``__setstate__``, a joblib
        array record on the stack is replaced by the array read from the file after it."""
        super().load_build()
        if isinstance(self.stack[-1], _JoblibArrayWrapper):
            self.stack[-1] = self.stack[-1].read(self)

    dispatch[pickle.BUILD[0]] = load_build


class _RestrictedPickleModule:
    """A ``pickle_module`` for ``torch.load`` that unpickles with :class:`RestrictedUnpickler`."""

    Unpickler = RestrictedUnpickler
    UnpicklingError = pickle.UnpicklingError
    __name__ = "humanscore_torch.io.containers.restricted_pickle"

    @staticmethod
    def load(file, **kwargs):
        """Unpickle one object from ``file`` with :class:`RestrictedUnpickler` (keyword
        arguments are ignored)."""
        return RestrictedUnpickler(file).load()


def _read_npy(stream) -> Any:
    """One ``.npy`` array from a binary stream; object arrays through the restricted unpickler."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    if dtype.hasobject:
        return RestrictedUnpickler(stream).load()
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    data = stream.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise EOFError(f"array data: expected {count * dtype.itemsize} bytes, found {len(data)}")
    array = np.frombuffer(data, dtype=dtype, count=count)
    array = array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _read_zip(path: Path, data: bytes) -> Any:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        if any(n.endswith("data.pkl") for n in names):
            return _read_torch(path, data)
        out: Dict[str, Any] = {}
        for name in names:
            if not name.endswith(".npy"):
                continue
            with archive.open(name) as member:
                out[name[:-4]] = _read_npy(io.BytesIO(member.read()))
        return out


def _read_torch(path: Path, data: bytes) -> Any:
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # weights_only refuses numpy arrays and other non-tensor globals; the restricted
        # unpickler allows numpy arrays and leaves anything else inert.
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False,
                          pickle_module=_RestrictedPickleModule)


def _read_pickle_stream(path: Path, data: bytes) -> Any:
    stream = io.BytesIO(data)
    obj = RestrictedUnpickler(stream).load()
    if isinstance(obj, int) and obj == _TORCH_LEGACY_MAGIC:
        return _read_torch(path, data)
    return obj


def read_container(path) -> Any:
    """The object stored in a motion file, loaded without running code from the file.

    Args:
        path: a ``.npz``, ``.npy``, pickle / joblib (``.pkl``, ``.pickle``, ``.joblib``,
            ``.pth``) or ``torch.save`` (``.pt``, ``.pth``) file; the format is recognised
            from the content, not the extension.

    Returns:
        a dict of arrays for ``.npz``; otherwise the stored object (dicts, lists, numpy
        arrays, torch tensors; unknown objects as :class:`OpaqueObject`). A 0-d object array
        (``np.save`` of a dict) is unwrapped to the dict.

    Raises:
        MotionFileError: missing, empty, truncated or corrupt file, or an unsupported
            compression.
    """
    path = Path(path)
    if not path.exists():
        raise MotionFileError(path, "file not found")
    if path.is_dir():
        raise MotionFileError(path, "is a directory, not a motion file (use find_motion_files)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MotionFileError(path, f"cannot read file ({exc})") from exc
    if not data:
        raise MotionFileError(path, "file is empty")
    compression = "none"
    try:
        if data.startswith(_LZ4_MAGIC):
            raise MotionFileError(path, "lz4-compressed joblib file: re-save it uncompressed or with zlib "
                                        "(joblib.dump(obj, path, compress=3)); lz4 is not supported")
        if not data.startswith((_ZIP_MAGIC, _NPY_MAGIC, _PICKLE_PROTO)):
            for magic, name, decompress in _DECOMPRESSORS:
                if data.startswith(magic):
                    data, compression = decompress(data), name
                    break
        if data.startswith(_ZIP_MAGIC):
            obj = _read_zip(path, data)
        elif data.startswith(_NPY_MAGIC):
            obj = _read_npy(io.BytesIO(data))
        else:
            obj = _read_pickle_stream(path, data)
    except MotionFileError:
        raise
    except (EOFError, pickle.UnpicklingError, zipfile.BadZipFile, zlib.error, OSError, lzma.LZMAError,
            ValueError, RuntimeError, IndexError, KeyError, TypeError, AttributeError, struct.error) as exc:
        kind = "" if compression == "none" else f" ({compression}-compressed)"
        raise MotionFileError(path, f"truncated or corrupt file{kind}: cannot decode it "
                                    f"({type(exc).__name__}: {exc})") from exc
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
        obj = obj.item()
    return obj

