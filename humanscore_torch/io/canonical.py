"""The project's own motion file: one sequence per ``.npz``, format "humanscore_torch/1".

Keys: ``format`` (the string "humanscore_torch/1"), ``global_orient`` (T, 3) and
``body_pose`` (T, 23, 3) axis-angle in radians, ``transl`` (T, 3) metres in the y-up world,
``betas`` (K,) or (T, K), ``fps`` (scalar, Hz), ``metadata`` (a JSON object as a string).
Arrays are float32; every frame is a valid frame (no mask: padding is never written). The
file holds no pickled objects, so ``np.load(path)`` reads it with ``allow_pickle`` off.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np
import torch

from ..errors import HumanScoreError, InputValueError
from ..rotations import rotmat_to_rotvec
from ..shapes import check_shape
from .layouts import CANONICAL_FORMAT


def _tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise HumanScoreError(f"sequence[{name!r}]: expected a tensor or numpy array, got {type(value).__name__}")
    return value.detach().cpu().to(torch.float64)


def save_motion(path: Union[str, Path], sequence: Dict[str, Any], fps: Optional[float] = None) -> Path:
    """Write one sequence as a canonical ``.npz`` that :func:`read_motion_file` reads back exactly.

    Args:
        path: output file; ``.npz`` is appended when missing.
        sequence: dict with ``global_orient`` (T, 3) or (T, 3, 3), ``body_pose`` (T, 23, 3) or
            (T, 23, 3, 3) (rotation matrices are stored as axis-angle), ``transl`` (T, 3) metres
            in the y-up world (zeros when absent), ``betas`` (K,) or (T, K) (optional), ``fps``
            and ``metadata`` (JSON-serialisable dict; other values are stored as their text).
            Tensors or numpy arrays; e.g. one dict returned by :func:`read_motion_file`.
        fps: frame rate in Hz, when ``sequence`` has no ``fps``.

    Returns:
        the path written.

    Raises:
        HumanScoreError: a missing or wrong-shaped array, or no valid frame rate.
    """
    for key in ("global_orient", "body_pose"):
        if sequence.get(key) is None:
            raise HumanScoreError(f"sequence: {key!r} is missing")
    global_orient = _tensor(sequence["global_orient"], "global_orient")
    body_pose = _tensor(sequence["body_pose"], "body_pose")
    if body_pose.dim() == 4:
        check_shape(body_pose, "T 23 3 3", "body_pose")
        body_pose = rotmat_to_rotvec(body_pose)
    if global_orient.dim() == 3:
        check_shape(global_orient, "T 3 3", "global_orient")
        global_orient = rotmat_to_rotvec(global_orient)
    sizes = check_shape(body_pose, "T 23 3", "body_pose")
    check_shape(global_orient, "T 3", "global_orient", sizes)
    transl = sequence.get("transl")
    transl = global_orient.new_zeros(sizes["T"], 3) if transl is None else _tensor(transl, "transl")
    check_shape(transl, "T 3", "transl", sizes)
    arrays = {"global_orient": global_orient, "body_pose": body_pose, "transl": transl}
    if sequence.get("betas") is not None:
        betas = _tensor(sequence["betas"], "betas")
        check_shape(betas, "T K" if betas.dim() == 2 else "K", "betas", sizes)
        arrays["betas"] = betas
    rate = sequence.get("fps", fps) if fps is None else fps
    rate = float(rate.item() if isinstance(rate, (torch.Tensor, np.ndarray)) else rate) if rate is not None else None
    if rate is None or not math.isfinite(rate) or rate <= 0:
        raise InputValueError(f"fps: expected a finite frame rate > 0 (in the sequence or as fps=), got {rate}")
    metadata = json.dumps(sequence.get("metadata") or {}, default=str, sort_keys=True)
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, format=np.array(CANONICAL_FORMAT), fps=np.array(rate, dtype=np.float64),
             metadata=np.array(metadata), **{k: v.numpy().astype(np.float32) for k, v in arrays.items()})
    return path
