"""Reading body-model files: SMPL ``.npz`` / ``.pkl`` (without chumpy) and the embedded body.

The original SMPL ``.pkl`` files pickle chumpy arrays and scipy sparse matrices, written by
Python 2. They are read here with an unpickler that swaps those classes for small stand-ins
that keep only the arrays, so neither chumpy nor scipy needs to be installed.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any, Dict, Union

import numpy as np

from ..errors import BodyModelError

DEFAULT_BODY_PATH = Path(__file__).with_name("assets") / "default_body.npz"

# Arrays every body file must provide (SMPL names), and the ones that may be missing.
REQUIRED_KEYS = ("v_template", "shapedirs", "J_regressor", "weights", "f")
OPTIONAL_KEYS = ("posedirs", "kintree_table", "part_labels", "segment_mass_fractions")


class _ChumpyStandIn:
    """Replaces ``chumpy.Ch`` while unpickling: chumpy keeps the array in state['x']."""

    def __init__(self, *args, **kwargs):
        self.array = None

    def __setstate__(self, state):
        self.array = np.asarray(state["x"]) if isinstance(state, dict) and "x" in state else None


class _SparseStandIn:
    """Replaces scipy.sparse matrices while unpickling; rebuilds a dense array on demand.

    Subclassed per pickled class name (``csc_matrix``, ``csr_matrix``) so the layout is known.
    """

    format_name = "csc_matrix"

    def __init__(self, *args, **kwargs):
        self.state: Dict[str, Any] = {}

    def __setstate__(self, state):
        self.state = state

    def to_dense(self) -> np.ndarray:
        """The matrix as a dense float64 array of its pickled shape, from the pickled
        ``data``/``indices``/``indptr`` (CSR when ``format_name`` starts with ``csr``, else CSC)."""
        s = self.state
        shape = tuple(s.get("_shape", s.get("shape")))
        data, indices, indptr = np.asarray(s["data"]), np.asarray(s["indices"]), np.asarray(s["indptr"])
        dense = np.zeros(shape, dtype=np.float64)
        compressed_rows = type(self).format_name.startswith("csr")
        for k in range(len(indptr) - 1):
            sl = slice(indptr[k], indptr[k + 1])
            if compressed_rows:
                dense[k, indices[sl]] = data[sl]
            else:
                dense[indices[sl], k] = data[sl]
        return dense


class _SmplUnpickler(pickle.Unpickler):
    """Unpickles SMPL ``.pkl`` files without chumpy or scipy installed."""

    def find_class(self, module: str, name: str):
        """Resolve ``chumpy`` classes to :class:`_ChumpyStandIn` and ``scipy.sparse`` classes to
        a :class:`_SparseStandIn` subclass named after them (so the layout is known); every
        other global is resolved as ``pickle.Unpickler`` does."""
        if module.startswith("chumpy"):
            return _ChumpyStandIn
        if module.startswith("scipy.sparse"):
            return type(name, (_SparseStandIn,), {"format_name": name})
        return super().find_class(module, name)


def _to_plain(value: Any) -> Any:
    if isinstance(value, _ChumpyStandIn):
        return value.array
    if isinstance(value, _SparseStandIn):
        return value.to_dense()
    return value


def read_smpl_pickle(path: Union[str, Path]) -> Dict[str, np.ndarray]:
    """Read an SMPL ``.pkl`` (original chumpy release or a plain-numpy re-save) to numpy arrays.

    Args:
        path: the file.

    Returns:
        dict of name -> numpy array (``J_regressor`` dense, ``f`` int64).

    Raises:
        BodyModelError: the file cannot be read or lacks a required array.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = _SmplUnpickler(fh, encoding="latin1").load()
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise BodyModelError(f"{path}: cannot unpickle SMPL model ({exc})") from exc
    if not isinstance(raw, dict):
        raise BodyModelError(f"{path}: expected a pickled dict of arrays, got {type(raw).__name__}")
    return _check_body_arrays(path, {k: _to_plain(v) for k, v in raw.items()})


def read_body_file(path: Union[str, Path]) -> Dict[str, np.ndarray]:
    """Read a body-model file (SMPL ``.pkl`` or ``.npz`` in SMPL's key names).

    Args:
        path: a ``.pkl`` or ``.npz`` file.

    Returns:
        dict with at least ``v_template`` (V, 3), ``shapedirs`` (V, 3, K), ``J_regressor``
        (24, V), ``weights`` (V, 24), ``f`` (F, 3); optionally ``posedirs`` (V, 3, 207),
        ``kintree_table`` (2, 24), ``part_labels`` (V,), ``segment_mass_fractions`` (24,).

    Raises:
        BodyModelError: missing file, unknown extension, unreadable or incomplete file.
    """
    path = Path(path)
    if not path.is_file():
        raise BodyModelError(f"{path}: body-model file not found")
    if path.suffix == ".pkl":
        return read_smpl_pickle(path)
    if path.suffix != ".npz":
        raise BodyModelError(f"{path}: expected a .pkl or .npz SMPL-format body file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise BodyModelError(f"{path}: cannot read body-model npz ({exc})") from exc
    return _check_body_arrays(path, arrays)


def _check_body_arrays(path: Path, arrays: Dict[str, Any]) -> Dict[str, np.ndarray]:
    missing = [k for k in REQUIRED_KEYS if arrays.get(k) is None]
    if missing:
        raise BodyModelError(f"{path}: body-model file lacks {missing}; keys found: {sorted(arrays)}")
    out = {k: np.asarray(arrays[k]) for k in REQUIRED_KEYS + OPTIONAL_KEYS if arrays.get(k) is not None}
    v = out["v_template"].shape
    checks = {
        "v_template": (len(v) == 2 and v[1] == 3, "(V, 3)"),
        "shapedirs": (out["shapedirs"].ndim == 3 and out["shapedirs"].shape[:2] == v, f"({v[0]}, 3, K)"),
        "J_regressor": (out["J_regressor"].shape == (24, v[0]), f"(24, {v[0]})"),
        "weights": (out["weights"].shape == (v[0], 24), f"({v[0]}, 24)"),
        "f": (out["f"].ndim == 2 and out["f"].shape[1] == 3, "(F, 3)"),
    }
    if "posedirs" in out:
        checks["posedirs"] = (out["posedirs"].shape == (v[0], 3, 207), f"({v[0]}, 3, 207)")
    for key, (ok, expected) in checks.items():
        if not ok:
            raise BodyModelError(f"{path}: {key} has shape {out[key].shape}, expected {expected}")
    out["f"] = out["f"].astype(np.int64)
    return out
