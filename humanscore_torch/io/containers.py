"""Reading the containers motion and body files come in: untrusted bytes to plain data.

Pose estimators save their results with ``np.savez``, ``np.save`` of a dict, ``pickle``,
``joblib.dump`` and ``torch.save``; SMPL ships pickles of chumpy and scipy objects. Plain
``pickle.load`` / ``joblib.load`` / ``np.load(..., allow_pickle=True)`` run whatever callable
the file names, so none of them is used here. Every file is read by :func:`read_container`:

* the path must be a regular file (devices, FIFOs and sockets are refused before reading,
  without blocking) no larger than ``io.max_file_bytes``;
* compressed streams (joblib's gzip/bz2/xz/zlib) and zip members are inflated incrementally,
  never past ``io.max_decompressed_bytes``; zip members' declared sizes are checked first;
* pickle streams (``.pkl``, joblib files, object arrays inside ``.npy``, torch's legacy
  format) go through :class:`RestrictedUnpickler`, which rebuilds plain data only: dict, list,
  tuple, set, str, bytes, numbers, numpy arrays, dtypes and scalars, torch tensors. Any other
  global the stream names is refused (:class:`MotionFileError` "refused pickled type
  os.system"), so nothing from the file runs; ``numpy.memmap`` is refused (it writes files);
  no callable that allocates from an integer argument is reachable, every declared array size
  is checked before it is allocated, and ``io.max_pickle_opcodes`` bounds the objects a stream
  can build;
* torch zip archives (``torch.save``) have their ``data.pkl`` read the same way, storages taken
  from the archive's members; ``torch.load`` is not used, not even with ``weights_only=True``
  (its allow-list reaches ``bytearray(n)`` and ``torch.FloatTensor(n)``: see
  :func:`_read_torch_zip`);
* ``.npz`` members and ``.npy`` files are parsed with ``numpy.lib.format``; an ``.npz`` never
  holds pickles (an object member is refused: no supported layout writes one), while an
  ``.npy`` object array (``np.save`` of a dict, TRAM's ``hps_track_*.npy``) is unpickled with
  :class:`RestrictedUnpickler`.

The result is walked once more: only plain data may remain, and the arrays and tensors in it
may not describe more than ``io.max_decompressed_bytes`` (a tensor of huge size and zero
stride over a tiny storage is refused before anything expands it). Every failure raises
:class:`~humanscore_torch.errors.MotionFileError` naming the file, the problem and, for a
bound, the ``configs/io.yaml`` option that sets it.
"""

from __future__ import annotations

import _compat_pickle
import bz2
import contextlib
import contextvars
import io
import lzma
import math
import os
import pickle
import stat
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import numpy as np
import torch

from ..config import load_config
from ..errors import MotionFileError

# File signatures (first bytes).
_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_PROTO = b"\x80"
# joblib's compressors (joblib/compressor.py): zlib streams start with 0x78, gzip with 1f 8b,
# bz2 with "BZh", xz with fd "7zXZ", raw lzma with 5d 00 00; lz4 frames with 04 22 4d 18.
_COMPRESSIONS = (
    (b"\x1f\x8b", "gzip", lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)),
    (b"BZh", "bz2", bz2.BZ2Decompressor),
    (b"\xfd7zXZ", "xz", lzma.LZMADecompressor),
    (b"\x5d\x00\x00", "lzma", lzma.LZMADecompressor),
    (b"\x78", "zlib", zlib.decompressobj),
)
_LZ4_MAGIC = b"\x04\x22\x4d\x18"
# torch's legacy (pre-1.6, non-zip) torch.save format opens with this pickled integer.
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_MAX_NESTING = 100  # containers inside containers; estimator files nest 3-4 deep
_LIMIT_OPTIONS = ("max_file_bytes", "max_decompressed_bytes", "max_pickle_opcodes")


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on reading one file (``configs/io.yaml``).

    Attributes:
        max_file_bytes: size of the file on disk.
        max_decompressed_bytes: bytes after decompression, and bytes of all arrays and tensors
            the file describes.
        max_pickle_opcodes: opcodes one pickle stream may execute (each builds at most one
            small object, so this bounds the memory of a stream of tiny objects).
    """

    max_file_bytes: int
    max_decompressed_bytes: int
    max_pickle_opcodes: int

    @classmethod
    def from_config(cls) -> "ReadLimits":
        """The limits of ``configs/io.yaml`` (with any active ``--config`` override)."""
        config = load_config("io")
        return cls(*(int(config[name]) for name in _LIMIT_OPTIONS))


def _size_text(count: int, unit: str = "bytes") -> str:
    if unit != "bytes":
        return f"{count:,}"
    for size, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if count >= size:
            return f"{count / size:.3g} {name}"
    return f"{count} bytes"


class _Refused(Exception):
    """A pickle named a global that is not plain data (its qualified name is the message)."""


class _Reading:
    """One file being read: its path, its limits and the bytes allocated for it so far."""

    def __init__(self, path: Path, limits: ReadLimits):
        self.path, self.limits, self.allocated, self.opcodes = path, limits, 0, 0

    def fail(self, problem: str) -> MotionFileError:
        """A MotionFileError naming this file and ``problem`` (returned, not raised)."""
        return MotionFileError(self.path, problem)

    def over(self, what: str, amount: int, option: str, unit: str = "bytes") -> MotionFileError:
        """The error of a bound exceeded: what, how much, and the option that raises it."""
        limit = getattr(self.limits, option)
        return self.fail(f"{what} ({_size_text(amount, unit)}) exceeds io.{option} = {_size_text(limit, unit)} "
                         f"(raise it in configs/io.yaml or with --config)")

    def allocate(self, nbytes: int, what: str) -> None:
        """Account for ``nbytes`` about to be allocated from a size the file declares."""
        self.allocated += nbytes
        if self.allocated > self.limits.max_decompressed_bytes:
            raise self.over(f"{what}: arrays declared in the file", self.allocated, "max_decompressed_bytes")


_CURRENT: contextvars.ContextVar[_Reading] = contextvars.ContextVar("humanscore_reading")


@contextlib.contextmanager
def _reading(path: Path, limits: ReadLimits) -> Iterator[_Reading]:
    reading = _Reading(path, limits)
    token = _CURRENT.set(reading)
    try:
        yield reading
    finally:
        _CURRENT.reset(token)


# ------------------------------------------------------------------------------ arrays
def _declared_count(shape: Any, what: str) -> Tuple[Tuple[int, ...], int]:
    """A declared shape as a tuple of non-negative ints and its element count (Python ints:
    no overflow, however large the file says it is)."""
    if not isinstance(shape, (tuple, list)) or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) for s in shape):
        raise ValueError(f"{what}: shape must be a tuple of integers, got {shape!r}"[:300])
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"{what}: negative size in shape {shape}")
    return shape, math.prod(shape)


def _array_from_stream(stream, shape: Tuple[int, ...], dtype: np.dtype, fortran: bool, what: str) -> np.ndarray:
    """Read the raw bytes of an array of ``shape``/``dtype`` from ``stream``, its size checked
    against the file's budget before anything is allocated; native byte order."""
    shape, count = _declared_count(shape, what)
    nbytes = count * dtype.itemsize
    _CURRENT.get().allocate(nbytes, f"{what} of shape {shape}, {dtype}")
    buffer = bytearray(nbytes)
    if stream.readinto(buffer) != nbytes:
        raise EOFError(f"{what}: the file ends inside the array data ({nbytes} bytes expected)")
    array = np.frombuffer(buffer, dtype=dtype, count=count)
    array = array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)
    return array if dtype.isnative else array.byteswap().view(dtype.newbyteorder("="))


class _PickledArray(np.ndarray):
    """The array a pickle's ``numpy._core.multiarray._reconstruct`` builds: its state is
    checked before numpy restores it (numpy trusts a pickled state: an object array whose
    state claims more elements than it holds crashes the interpreter). :func:`_plain_data`
    turns it back into a plain ``np.ndarray``."""

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise ValueError("array state: expected (version, shape, dtype, fortran, data)")
        shape, dtype, _, data = state[-4:]
        if not isinstance(dtype, np.dtype):
            raise ValueError(f"array state: dtype expected, got {type(dtype).__name__}")
        shape, count = _declared_count(shape, "array")
        if dtype.hasobject:
            ok = isinstance(data, list) and len(data) == count
        else:
            ok = isinstance(data, (bytes, bytearray, str)) and len(data) == count * dtype.itemsize
        if not ok:
            raise ValueError(f"array state: data does not match shape {shape} of {dtype}")
        super().__setstate__(state)


class _ArrayClass:
    """Stands for ``numpy.ndarray`` / ``numpy.matrix`` named in a pickle: a value to pass to
    ``_reconstruct``, not a callable (``numpy.ndarray(shape)`` would allocate any size)."""


_ARRAY_CLASS = _ArrayClass()


def _reconstruct_array(cls, shape, dtype) -> np.ndarray:
    """``numpy._core.multiarray._reconstruct``: an empty array whose state BUILD then sets."""
    if cls is not _ARRAY_CLASS:
        raise _Refused(f"numpy._core.multiarray._reconstruct of {cls!r}"[:200])
    shape, count = _declared_count(shape, "array")
    dtype = np.dtype(dtype)
    _CURRENT.get().allocate(count * dtype.itemsize, f"array of shape {shape}")
    return np.empty(shape, dtype).view(_PickledArray)


def _numpy_scalar(dtype, data=None):
    """``numpy._core.multiarray.scalar``: one value of ``dtype`` from exactly its bytes."""
    if not isinstance(dtype, np.dtype):
        raise ValueError("numpy scalar: dtype expected")
    if dtype.hasobject:
        return data
    if isinstance(data, str):
        data = data.encode("latin1")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise ValueError(f"numpy scalar: expected {dtype.itemsize} bytes for {dtype}")
    return np.frombuffer(data, dtype=dtype)[0].copy()


def _frombuffer(buffer, dtype, shape, order):
    """``numpy._core.numeric._frombuffer`` (protocol-5 arrays): a copy of the buffer's bytes."""
    data = bytes(buffer) if isinstance(buffer, (bytes, bytearray, pickle.PickleBuffer)) else None
    if data is None:
        raise ValueError("numpy array from buffer: bytes expected")
    return _array_from_stream(io.BytesIO(data), shape, np.dtype(dtype), order == "F", "array")


def _container(kind: type) -> Callable:
    """A container type called by a pickle: only from containers the stream built itself (an
    array, string or bytes argument would multiply its size in Python objects)."""

    def build(*args):
        if len(args) > 1 or (args and not isinstance(args[0], (list, tuple, set, frozenset, dict))):
            raise _Refused(f"builtins.{kind.__name__} of {type(args[0]).__name__}")
        return kind(*args)

    return build


def _bytes_from(kind: type) -> Callable:
    """``bytes``/``bytearray``/``_codecs.encode`` as pickles use them: from a latin-1 string
    (protocol 2) or from bytes, never from an integer (which would allocate that many)."""

    def build(data=b"", encoding=None):
        if isinstance(data, str) and str(encoding).lower().replace("-", "").replace("_", "") in ("latin1", "iso88591"):
            return kind(data.encode("latin1"))
        if isinstance(data, (bytes, bytearray)) and encoding is None:
            return kind(data)
        raise _Refused(f"{kind.__name__} of {type(data).__name__}")

    return build


def _plain_dict(*args):
    """``OrderedDict`` and ``defaultdict`` rebuilt as plain dicts (a defaultdict's factory is a
    callable; the items follow as SETITEMS)."""
    items = args[0] if args and isinstance(args[0], (list, tuple, dict)) else ()
    return dict(items)


# ------------------------------------------------------------------------------ torch
class _StorageType:
    """``torch.FloatStorage`` & co. as named in a legacy torch file: the element type only
    (calling the class, ``torch.FloatStorage(n)``, would allocate n elements)."""

    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype


def _storage_types() -> Dict[str, _StorageType]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation notice
        types = {name: _StorageType(kind.dtype) for name, kind in vars(torch).items()
                 if isinstance(kind, type) and issubclass(kind, torch.storage._LegacyStorage)}
    return {**types, "UntypedStorage": _StorageType(torch.uint8)}


def _storage_id(pid: Any, fields: int) -> Tuple[_StorageType, str, int]:
    """(element type, key, element count) of a torch persistent id ``('storage', type, key,
    location, numel[, view_metadata])``; anything else is refused."""
    if not (isinstance(pid, tuple) and len(pid) == fields and pid[0] == "storage" and isinstance(pid[1], _StorageType)
            and isinstance(pid[2], str) and isinstance(pid[4], int) and pid[4] >= 0 and pid[5:] in ((), (None,))):
        raise ValueError(f"torch file: unsupported persistent id {str(pid)[:100]}")
    return pid[1], pid[2], pid[4]


_STORAGE_TYPES = _storage_types()


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """``torch._utils._rebuild_tensor_v2``: a view of a storage this reader built (torch checks
    that the view stays inside it); hooks and metadata from the file are dropped."""
    if not isinstance(storage, torch.storage.TypedStorage):
        raise ValueError(f"tensor: storage expected, got {type(storage).__name__}")
    _declared_count(size, "tensor")
    return torch._utils._rebuild_tensor(storage, storage_offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *state):
    """``torch._utils._rebuild_parameter``: the tensor itself (no Parameter, no hooks)."""
    if not isinstance(data, torch.Tensor):
        raise ValueError(f"parameter: tensor expected, got {type(data).__name__}")
    return data


def _torch_size(sizes=()):
    _declared_count(sizes, "torch.Size")
    return torch.Size(sizes)


def _read_torch_legacy(stream) -> Any:
    """A legacy (non-zip) ``torch.save`` stream: magic, protocol and system-info pickles, the
    object pickle (storages as persistent ids), the list of storage keys, then each storage's
    element count and raw bytes. Everything is unpickled with :class:`RestrictedUnpickler`."""
    reading = _CURRENT.get()
    if RestrictedUnpickler(stream).load() != _TORCH_LEGACY_MAGIC:
        raise ValueError("not a legacy torch file (magic number)")
    RestrictedUnpickler(stream).load()  # protocol version
    system = RestrictedUnpickler(stream).load()
    if not isinstance(system, dict) or not system.get("little_endian", True):
        raise ValueError("legacy torch file: only little-endian files are read")
    storages: Dict[str, torch.storage.TypedStorage] = {}

    def storage_for(pid):
        kind, key, numel = _storage_id(pid, 6)
        if key not in storages:
            nbytes = numel * torch._utils._element_size(kind.dtype)
            reading.allocate(nbytes, f"torch storage of {numel} elements")
            storages[key] = torch.storage.TypedStorage(wrap_storage=torch.UntypedStorage(nbytes), dtype=kind.dtype,
                                                       _internal=True)
        return storages[key]

    unpickler = RestrictedUnpickler(stream)
    unpickler.persistent_load = storage_for
    result = unpickler.load()
    keys = RestrictedUnpickler(stream).load()
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(storages):
        raise ValueError("legacy torch file: the storage list does not match the storages used")
    for key in keys:
        storage = storages[key]
        (numel,) = struct.unpack("<q", stream.read(8))
        if numel != storage.size():
            raise ValueError(f"legacy torch file: storage {key} holds {numel} elements, {storage.size()} declared")
        nbytes = storage.nbytes()
        data = stream.read(nbytes)
        if len(data) != nbytes:
            raise EOFError(f"legacy torch file: storage {key} is cut short")
        if nbytes:
            storage.untyped().copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8).untyped_storage())
    return result


def _torch_storage_from_bytes(data: bytes):
    """``torch.storage._load_from_bytes`` (a tensor pickled with plain pickle carries its storage
    as a nested legacy ``torch.save`` blob): read with :func:`_read_torch_legacy`."""
    if not isinstance(data, bytes):
        raise ValueError("torch storage: bytes expected")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation notice
        return _read_torch_legacy(io.BytesIO(data))


# ------------------------------------------------------------------------------ allow-list
class ArrayStandIn:
    """Base of the objects a reader substitutes for a pickled class that holds an array
    (joblib's array record, chumpy's ``Ch``, scipy's sparse matrices): created without
    arguments, given the pickled state, then replaced by :meth:`to_array`'s result."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        self.state: Any = None

    def __setstate__(self, state):
        self.state = state

    def to_array(self, unpickler: "RestrictedUnpickler") -> Any:
        """The plain value standing for this object (called right after its state is set)."""
        raise NotImplementedError


class _JoblibArrayWrapper(ArrayStandIn):
    """joblib's ``NumpyArrayWrapper``: describes an array whose raw bytes follow the record
    in the file (after an alignment padding byte and padding when the writer recorded an
    alignment). Its state holds ``shape``, ``order``, ``dtype`` and, since joblib 1.2,
    ``numpy_array_alignment_bytes``."""

    def to_array(self, unpickler: "RestrictedUnpickler") -> np.ndarray:
        """The array this record describes, read from the file just after it; an object array
        is a nested pickle stream, read with a new :class:`RestrictedUnpickler`."""
        state = self.state if isinstance(self.state, dict) else {}
        dtype = state.get("dtype")
        if not isinstance(dtype, np.dtype):
            raise ValueError("joblib array record without a dtype")
        if dtype.hasobject:
            return RestrictedUnpickler(unpickler.raw_file, unpickler.extra_globals).load()
        if state.get("numpy_array_alignment_bytes") is not None:
            padding = unpickler.raw_file.read(1)
            if len(padding) != 1:
                raise EOFError("joblib array: missing alignment byte")
            unpickler.raw_file.read(padding[0])
        return _array_from_stream(unpickler.raw_file, state.get("shape"), dtype, state.get("order") == "F",
                                  "joblib array")


def _safe_table() -> Dict[Tuple[str, str], Any]:
    """(module, name) -> the object a pickle naming it gets. One table for every pickle this
    module reads (plain, joblib, torch zip and legacy)."""
    table: Dict[Tuple[str, str], Any] = {
        ("builtins", "int"): int, ("builtins", "float"): float, ("builtins", "complex"): complex,
        ("builtins", "bool"): bool,
        # The base argument of copyreg._reconstructor (protocol 0/1 objects); a bare instance of
        # it is no plain data and _plain_data refuses it.
        ("builtins", "object"): object,
        ("builtins", "bytes"): _bytes_from(bytes), ("builtins", "bytearray"): _bytes_from(bytearray),
        ("_codecs", "encode"): _bytes_from(bytes),  # protocol-2 pickles spell bytes encode(str, "latin1")
        ("collections", "OrderedDict"): _plain_dict, ("collections", "defaultdict"): _plain_dict,
        ("numpy", "ndarray"): _ARRAY_CLASS, ("numpy", "matrix"): _ARRAY_CLASS, ("numpy", "dtype"): np.dtype,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct_array,
        ("numpy._core.multiarray", "scalar"): _numpy_scalar,
        ("numpy._core.numeric", "_frombuffer"): _frombuffer,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor, ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter, ("torch", "Size"): _torch_size,
        ("torch.storage", "_load_from_bytes"): _torch_storage_from_bytes,
        ("joblib.numpy_pickle", "NumpyArrayWrapper"): _JoblibArrayWrapper,
    }
    for kind in (list, tuple, set, frozenset, dict):
        table[("builtins", kind.__name__)] = _container(kind)
    for name, kind in _STORAGE_TYPES.items():
        table[("torch", name)] = kind
    for name in dir(torch):
        if isinstance(getattr(torch, name), torch.dtype):
            table[("torch", name)] = getattr(torch, name)
    return table


_SAFE = _safe_table()


def _canonical_module(module: str) -> str:
    # numpy 2 moved numpy.core to numpy._core; pickles name either.
    return "numpy._core" + module[len("numpy.core"):] if module.startswith("numpy.core") else module


def _counted(operation: Callable) -> Callable:
    def run(unpickler: "RestrictedUnpickler"):
        reading = unpickler.reading
        reading.opcodes += 1
        if reading.opcodes > reading.limits.max_pickle_opcodes:
            raise reading.over("pickle opcodes executed", reading.opcodes, "max_pickle_opcodes", unit="opcodes")
        operation(unpickler)

    return run


class RestrictedUnpickler(pickle._Unpickler):  # the pure-Python unpickler lets opcodes be hooked
    """An unpickler that rebuilds plain data (see the module docstring), and nothing else.

    Must run inside :func:`read_container` (it charges what it allocates to the file being
    read). Every other global the stream names raises, naming it; nothing is imported.

    Args:
        file: a binary file object positioned at the start of a pickle stream.
        extra_globals: ``(module, name) -> class or None``: :class:`ArrayStandIn` subclasses a
            caller allows for its own files (the body reader: chumpy, scipy.sparse).
    """

    dispatch = {code: _counted(operation) for code, operation in pickle._Unpickler.dispatch.items()}

    def __init__(self, file, extra_globals: Optional[Callable[[str, str], Optional[type]]] = None):
        # latin1: numpy arrays pickled by Python 2.
        super().__init__(file, encoding="latin1")
        self.raw_file, self.extra_globals, self.reading = file, extra_globals, _CURRENT.get()

    def find_class(self, module: str, name: str):
        """Resolve a global the stream names from the allow-list, or refuse it.

        Python 2 names are mapped first; then the allow-list (``_SAFE``), the caller's
        ``extra_globals`` and ``copyreg._reconstructor`` of an allowed stand-in resolve;
        anything else raises, because resolving an arbitrary global is how a pickle runs code.
        """
        if self.proto < 3 and self.fix_imports:  # Python 2 names (__builtin__.set, ...)
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        module = _canonical_module(module)
        if (module, name) in _SAFE:
            return _SAFE[(module, name)]
        extra = self.extra_globals(module, name) if self.extra_globals else None
        if extra is not None:
            return extra
        if (module, name) == ("copyreg", "_reconstructor"):
            return self._reconstructor
        raise _Refused(f"{module}.{name}")

    def _reconstructor(self, cls, base, state=None):
        """``copyreg._reconstructor`` (protocol 0/1 objects), for stand-in classes only."""
        if not (isinstance(cls, type) and issubclass(cls, ArrayStandIn)) or base is not object or state is not None:
            raise _Refused(f"copyreg._reconstructor of {getattr(cls, '__name__', type(cls).__name__)}")
        return cls.__new__(cls)

    def persistent_load(self, pid):
        """Refuse persistent ids: a plain pickle stream has none (the legacy torch reader
        installs its own)."""
        raise pickle.UnpicklingError("persistent ids are only valid inside torch files")

    def load_build(self):
        """The BUILD opcode (restore state): after the usual ``__setstate__``, a stand-in on
        the stack is replaced by the value it stands for."""
        super().load_build()
        if isinstance(self.stack[-1], ArrayStandIn):
            self.stack[-1] = self.stack[-1].to_array(self)

    dispatch[pickle.BUILD[0]] = _counted(load_build)


# ------------------------------------------------------------------------------ the result
_PLAIN_LEAVES = (str, bytes, bytearray, int, float, complex, type(None), np.generic, np.dtype, torch.dtype)


def _plain_data(reading: _Reading, obj: Any) -> Any:
    """Check the loaded object holds plain data only, turn restricted-array views back into
    plain arrays, and bound the bytes its arrays and tensors describe (a tensor's numel times
    its element size, whatever its strides: what converting it would allocate)."""
    seen: Dict[int, Any] = {}
    total = 0

    def visit(value: Any, depth: int) -> Any:
        nonlocal total
        if isinstance(value, _PLAIN_LEAVES):
            return value
        key = id(value)
        if key in seen:
            return seen[key]
        if depth > _MAX_NESTING:
            raise reading.fail(f"containers nested deeper than {_MAX_NESTING} levels")
        if isinstance(value, np.ndarray):
            seen[key] = out = value.view(np.ndarray) if isinstance(value, _PickledArray) else value
            total += value.nbytes
            if value.dtype.hasobject:
                for index, item in enumerate(value.flat):
                    out.flat[index] = visit(item, depth + 1)
        elif isinstance(value, torch.Tensor):
            seen[key] = out = value.detach()
            total += value.numel() * value.element_size()
        elif isinstance(value, (list, dict)):
            seen[key] = out = value  # mutated in place: shared and self-referring parts stay so
            if isinstance(value, list):
                value[:] = [visit(item, depth + 1) for item in value]
            else:
                for name in list(value):
                    visit(name, depth + 1)
                    value[name] = visit(value[name], depth + 1)
        elif isinstance(value, (tuple, set, frozenset)):
            seen[key] = out = type(value)(visit(item, depth + 1) for item in value)
        else:
            raise reading.fail(f"refused pickled type {type(value).__module__}.{type(value).__qualname__}")
        if total > reading.limits.max_decompressed_bytes:
            raise reading.over("arrays and tensors in the file", total, "max_decompressed_bytes")
        return out

    return visit(obj, 0)


# ------------------------------------------------------------------------------ the file
def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISFIFO, "FIFO, a named pipe"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def _check_file(reading: _Reading) -> None:
    """The path must name a regular file (through any symlinks) of at most ``io.max_file_bytes``."""
    try:
        info = os.stat(reading.path)
    except FileNotFoundError:
        raise reading.fail("file not found") from None
    except OSError as exc:  # a symlink loop (ELOOP), a permission problem
        raise reading.fail(f"cannot read file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise reading.fail("is a directory, not a motion file (use find_motion_files)")
    _check_regular(reading, info)


def _check_regular(reading: _Reading, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise reading.fail(f"not a regular file ({_file_kind(info.st_mode)}): refused without reading it")
    if info.st_size > reading.limits.max_file_bytes:
        raise reading.over("file size", info.st_size, "max_file_bytes")


def check_file(path, limits: Optional[ReadLimits] = None) -> None:
    """Refuse, without opening it, a path that :func:`read_container` would refuse before
    reading: missing, a directory, a symlink loop, not a regular file (device, FIFO, socket) or
    larger than ``io.max_file_bytes``. For readers that open the file themselves (OpenSim).

    Raises:
        MotionFileError: naming the file and the problem.
    """
    with _reading(Path(path), limits or ReadLimits.from_config()) as reading:
        _check_file(reading)


def _read_bytes(reading: _Reading) -> bytes:
    """The file's bytes: a regular file no larger than ``io.max_file_bytes``. It is opened
    without blocking (a FIFO would block an ordinary open) and checked again once open."""
    _check_file(reading)
    limit = reading.limits.max_file_bytes
    try:
        descriptor = os.open(reading.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise reading.fail(f"cannot read file ({exc.strerror or exc})") from None
    with os.fdopen(descriptor, "rb") as handle:
        _check_regular(reading, os.fstat(handle.fileno()))  # replaced between the two looks?
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise reading.fail(f"cannot read file ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise reading.over("file size", len(data), "max_file_bytes")
    return data


def _decompress(reading: _Reading, data: bytes, make_decompressor: Callable) -> bytes:
    """Inflate one compressed stream, stopping past ``io.max_decompressed_bytes``."""
    limit = reading.limits.max_decompressed_bytes
    decompressor = make_decompressor()
    out = decompressor.decompress(data, limit + 1)
    if len(out) > limit:
        raise reading.over("decompressed size", len(out), "max_decompressed_bytes")
    if not decompressor.eof:
        raise EOFError("the compressed stream ends early")
    return out


def _read_npy(stream, where: str, objects: bool) -> Any:
    """One ``.npy`` array from a binary stream (its declared shape checked before reading);
    an object array is unpickled with :class:`RestrictedUnpickler` when ``objects``, else
    refused."""
    version = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(stream)
    if dtype.hasobject:
        if not objects:
            raise _CURRENT.get().fail(f"{where}: refused pickled object array (an .npz is read without pickles; "
                                      f"store numeric or string arrays)")
        return RestrictedUnpickler(stream).load()
    return _array_from_stream(stream, shape, dtype, fortran, where or "array")


def _read_zip(reading: _Reading, data: bytes) -> Any:
    """An ``.npz`` (members ``NAME.npy``) or a ``torch.save`` archive (a ``data.pkl`` member);
    the members' declared sizes are checked before any is inflated."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        declared = sum(member.file_size for member in members)
        if declared > reading.limits.max_decompressed_bytes:
            raise reading.over("declared uncompressed size of the archive", declared, "max_decompressed_bytes")
        if any(member.filename.endswith("data.pkl") for member in members):
            return _read_torch_zip(reading, archive)
        out: Dict[str, Any] = {}
        for member in members:
            if member.filename.endswith(".npy"):
                name = member.filename[:-4]
                out[name] = _read_npy(io.BytesIO(_member(archive, member)), f"member {name!r}", objects=False)
        return out


def _member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """One member's bytes, inflated no further than its declared size (checked beforehand)."""
    with archive.open(member) as handle:
        raw = handle.read(member.file_size + 1)
    if len(raw) != member.file_size:
        raise zipfile.BadZipFile(f"member {member.filename}: size differs from the declared size")
    return raw


def _read_torch_zip(reading: _Reading, archive: zipfile.ZipFile) -> Any:
    """A ``torch.save`` archive: ``data.pkl`` unpickled with :class:`RestrictedUnpickler`, each
    storage it names read from its ``data/KEY`` member (its size checked against the id).

    ``torch.load(weights_only=True)`` is not used: its allow-list lets a file call
    ``bytearray(n)`` or ``torch.FloatTensor(n)``, allocating any size from one integer (torch
    2.13: a 1.3 kB file allocated 300 MB either way); this reader allows only plain data."""
    members = {member.filename: member for member in archive.infolist()}
    pickled = next(name for name in members if name.endswith("data.pkl"))
    prefix = pickled[: -len("data.pkl")]
    if prefix + "byteorder" in members and _member(archive, members[prefix + "byteorder"]) != b"little":
        raise ValueError("torch archive: only little-endian archives are read")
    storages: Dict[str, torch.storage.TypedStorage] = {}

    def storage_for(pid):
        kind, key, numel = _storage_id(pid, 5)
        if key not in storages:
            record = members.get(f"{prefix}data/{key}")
            nbytes = numel * torch._utils._element_size(kind.dtype)
            if record is None or record.file_size != nbytes:
                raise ValueError(f"torch archive: storage {key} missing or not {nbytes} bytes")
            reading.allocate(nbytes, f"torch storage of {numel} elements")
            data = torch.UntypedStorage.from_buffer(_member(archive, record), dtype=torch.uint8) if nbytes \
                else torch.UntypedStorage(0)
            storages[key] = torch.storage.TypedStorage(wrap_storage=data, dtype=kind.dtype, _internal=True)
        return storages[key]

    unpickler = RestrictedUnpickler(io.BytesIO(_member(archive, members[pickled])))
    unpickler.persistent_load = storage_for
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation notice
        return unpickler.load()


def _read_pickle_stream(data: bytes, extra_globals) -> Any:
    stream = io.BytesIO(data)
    obj = RestrictedUnpickler(stream, extra_globals).load()
    if isinstance(obj, int) and obj == _TORCH_LEGACY_MAGIC:
        return _read_torch_legacy(io.BytesIO(data))
    return obj


def read_container(path, extra_globals: Optional[Callable[[str, str], Optional[type]]] = None,
                   limits: Optional[ReadLimits] = None) -> Any:
    """The object stored in a motion (or body) file, as plain data, without running anything.

    Args:
        path: a ``.npz``, ``.npy``, pickle / joblib (``.pkl``, ``.pickle``, ``.joblib``,
            ``.pth``) or ``torch.save`` (``.pt``, ``.pth``, zip or legacy) file; the format is
            recognised from the content, not the extension.
        extra_globals: ``(module, name) -> ArrayStandIn subclass or None``: classes this
            caller's pickles may also name (see :class:`RestrictedUnpickler`).
        limits: the bounds (default ``configs/io.yaml``: :meth:`ReadLimits.from_config`).

    Returns:
        a dict of arrays for ``.npz``; otherwise the stored object (dicts, lists, tuples,
        strings, numbers, numpy arrays, torch tensors). A 0-d object array (``np.save`` of a
        dict) is unwrapped to the dict.

    Raises:
        MotionFileError: missing, non-regular, empty, truncated or corrupt file, a refused
            pickled type (named), a bound exceeded (naming its ``configs/io.yaml`` option), or
            an unsupported compression.
    """
    path = Path(path)
    with _reading(path, limits or ReadLimits.from_config()) as reading:
        data = _read_bytes(reading)
        if not data:
            raise reading.fail("file is empty")
        compression = "none"
        try:
            if data.startswith(_LZ4_MAGIC):
                raise reading.fail("lz4-compressed joblib file: re-save it uncompressed or with zlib "
                                   "(joblib.dump(obj, path, compress=3)); lz4 is not supported")
            if not data.startswith((_ZIP_MAGIC, _NPY_MAGIC, _PICKLE_PROTO)):
                for magic, name, make_decompressor in _COMPRESSIONS:
                    if data.startswith(magic):
                        data, compression = _decompress(reading, data, make_decompressor), name
                        break
            if data.startswith(_ZIP_MAGIC):
                obj = _read_zip(reading, data)
            elif data.startswith(_NPY_MAGIC):
                obj = _read_npy(io.BytesIO(data), "", objects=True)
            else:
                obj = _read_pickle_stream(data, extra_globals)
            del data
            obj = _plain_data(reading, obj)
        except MotionFileError:
            raise
        except _Refused as exc:
            raise reading.fail(f"refused pickled type {exc}: only plain data (dict, list, tuple, str, bytes, numbers, "
                               f"numpy arrays, torch tensors) is loaded; nothing in the file was run") from None
        except MemoryError:
            raise reading.fail("the file's data does not fit in memory") from None
        except (EOFError, pickle.UnpicklingError, zipfile.BadZipFile, zlib.error, OSError, lzma.LZMAError, ValueError,
                RuntimeError, IndexError, KeyError, TypeError, AttributeError, struct.error, OverflowError,
                RecursionError) as exc:
            kind = "" if compression == "none" else f" ({compression}-compressed)"
            detail = (str(exc).strip().splitlines() or [""])[0][:300]
            raise reading.fail(f"truncated or corrupt file{kind}: cannot decode it "
                               f"({type(exc).__name__}: {detail})") from None
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
        obj = obj.item()
    return obj
