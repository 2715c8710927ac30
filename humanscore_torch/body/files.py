"""Reading body-model files: SMPL ``.npz`` / ``.pkl`` (without chumpy) and the embedded body.

Body files are untrusted like motion files and read by the same reader
(:func:`~humanscore_torch.io.containers.read_container`). The original SMPL ``.pkl`` files
pickle chumpy arrays and scipy sparse matrices, written by Python 2; the reader rebuilds those
as numpy arrays, so neither chumpy nor scipy needs to be installed, and refuses anything else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np

from ..errors import BodyModelError, MotionFileError
from ..io.containers import ArrayStandIn, read_container

DEFAULT_BODY_PATH = Path(__file__).with_name("assets") / "default_body.npz"

# Arrays every body file must provide (SMPL names), and the ones that may be missing.
REQUIRED_KEYS = ("v_template", "shapedirs", "J_regressor", "weights", "f")
OPTIONAL_KEYS = ("posedirs", "kintree_table", "part_labels", "segment_mass_fractions")


class _ChumpyArray(ArrayStandIn):
    """A chumpy object (``chumpy.Ch``) while unpickling: chumpy keeps the array in
    ``state['x']``; an object without one (a chumpy expression) becomes None, as if absent."""

    def to_array(self, unpickler) -> Optional[np.ndarray]:
        """The array in the pickled state, or None."""
        value = self.state.get("x") if isinstance(self.state, dict) else None
        return value if isinstance(value, np.ndarray) else None


class _SparseMatrix(ArrayStandIn):
    """A scipy.sparse ``csc_matrix`` / ``csr_matrix`` while unpickling, rebuilt as a dense array
    from its pickled ``data``/``indices``/``indptr`` (compressed columns or rows)."""

    compressed_rows = False

    def to_array(self, unpickler) -> np.ndarray:
        """The dense float64 matrix, its size charged to the file's read bounds."""
        state = self.state if isinstance(self.state, dict) else {}
        shape = tuple(int(n) for n in state.get("_shape", state.get("shape", ())))
        data, indices, indptr = (np.asarray(state.get(k, ())) for k in ("data", "indices", "indptr"))
        if len(shape) != 2 or min(shape) < 0:
            raise ValueError(f"sparse matrix: shape {shape} is not 2-D")
        rows, cols = shape
        outer, inner = (rows, cols) if self.compressed_rows else (cols, rows)
        if indptr.shape != (outer + 1,) or indices.shape != data.shape or indptr[0] != 0 or indptr[-1] != len(data) \
                or np.any(np.diff(indptr) < 0) or np.any((indices < 0) | (indices >= inner)):
            raise ValueError(f"sparse matrix: data, indices and indptr do not describe a {shape} matrix")
        unpickler.reading.allocate(rows * cols * 8, f"sparse matrix of shape {shape} made dense")
        dense = np.zeros(shape, dtype=np.float64)
        compressed = np.repeat(np.arange(outer), np.diff(indptr))
        if self.compressed_rows:
            dense[compressed, indices] = data
        else:
            dense[indices, compressed] = data
        return dense


class _CsrMatrix(_SparseMatrix):
    compressed_rows = True


def _smpl_globals(module: str, name: str) -> Optional[type]:
    """The classes an SMPL release pickle names besides plain data: chumpy arrays and scipy's
    compressed sparse matrices (any module spelling: ``scipy.sparse.csc``, ``scipy.sparse._csc``)."""
    if module.split(".")[0] == "chumpy":
        return _ChumpyArray
    if module.startswith("scipy.sparse"):
        return {"csc_matrix": _SparseMatrix, "csr_matrix": _CsrMatrix}.get(name)
    return None


def read_smpl_pickle(path: Union[str, Path]) -> Dict[str, np.ndarray]:
    """Read an SMPL ``.pkl`` (original chumpy release or a plain-numpy re-save) to numpy arrays.

    The file is read as any untrusted file (:func:`~humanscore_torch.io.containers.read_container`:
    plain data only, bounded), with chumpy's ``Ch`` and scipy's sparse matrices rebuilt as arrays.

    Args:
        path: the file.

    Returns:
        dict of name -> numpy array (``J_regressor`` dense, ``f`` int64).

    Raises:
        BodyModelError: the file cannot be read, names a refused type, or lacks a required array.
    """
    path = Path(path)
    raw = _read(path, _smpl_globals)
    if not isinstance(raw, dict):
        raise BodyModelError(f"{path}: expected a pickled dict of arrays, got {type(raw).__name__}")
    return _check_body_arrays(path, raw)


def _read(path: Path, extra_globals=None) -> Any:
    try:
        return read_container(path, extra_globals)
    except MotionFileError as exc:
        raise BodyModelError(f"{path}: cannot read body-model file: {exc.problem}") from None


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
    if path.suffix == ".pkl":
        return read_smpl_pickle(path)
    if path.suffix != ".npz":
        raise BodyModelError(f"{path}: expected a .pkl or .npz SMPL-format body file")
    arrays = _read(path)
    if not isinstance(arrays, dict):
        raise BodyModelError(f"{path}: expected an npz archive of arrays, got {type(arrays).__name__}")
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
