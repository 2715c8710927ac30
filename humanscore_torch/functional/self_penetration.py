"""Self-penetration of the posed mesh (spec 4.4): exact detection, depth, smooth penalty.

Pipeline, batched over frames (no Python loop over frames or faces), one module per job:
broad phase and detection (:mod:`.penetration_broad_phase`), exact triangle test
(:mod:`.penetration_triangles`), inside flood (:mod:`.penetration_inside`), winding numbers
(:mod:`.penetration_winding`), depth (:mod:`.penetration_depth`); the penalty and the metric
are here.

1. **Detection**: a uniform-grid broad phase over the faces of parts that may not touch, then
   the exact triangle test in float64 (degenerate and exactly coplanar pairs do not count).
2. **Inside vertices**: seeds at the ends of crossing edges, a flood along edges that cross
   nothing, checked against the generalized winding number (agrees with libigl).
3. **Depth**: the distance to the nearest face of the part a vertex is inside of.
4. **Penalty.** Sum of squared depths of the inside vertices: zero when nothing is inside,
   continuously differentiable (depth -> 0 at the surface), its gradient moves each inside
   vertex towards the nearest outside surface and that surface towards the vertex.

Parts whose posture the input does not carry (a sequence's ``unmeasured_joints``, set by the
loaders: SMPL's fingers under an SMPL-X body pose, the wrists an OpenSim model
locks) are left out: their placeholder rest posture says nothing about the motion, and a flat
SMPL hand hanging at rest beside the hips would otherwise be charged for the loader's guess.

Units: metres in, depths reported in millimetres.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Dict, Mapping, Optional, Tuple

import torch

from ..body.parts import PartStructure
from ..body.skeleton import JOINT_INDEX, subtree
from ..config import load_config
from ..errors import InputValueError, ShapeError
from ..shapes import check_device, check_floating, check_shape
from .motion_inputs import usable_frames
# The ops, one module per job, re-exported here (their public home for users of this module).
from .penetration_broad_phase import SelfIntersections, find_self_intersections  # noqa: F401
from .penetration_inside import InsideVertices, find_inside_vertices  # noqa: F401
from .penetration_triangles import edge_crossings, point_triangle_sq_distance, triangles_intersect  # noqa: F401
from .penetration_winding import fast_part_winding_numbers, winding_numbers  # noqa: F401
from .penetration_allowance import allowed_depth_mm
from .scoring import score_from_config

# ---------------------------------------------------------------------------------- entrance
def _check_vertices(vertices: torch.Tensor, mask: Optional[torch.Tensor], structure: PartStructure,
                    leading: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Validate vertices (``leading`` V, 3) metres of the structure's body and a bool mask of
    the leading shape (all True when None), on one device.

    Returns:
        vertices in float32 or wider (float16 squared distances overflow), unusable frames (NaN/
        inf, or a coordinate beyond ``MAX_COORDINATE_M``) set to 0, and the mask without them.
    """
    sizes = check_shape(vertices, f"{leading} V 3", "vertices")
    check_floating(vertices, "vertices")
    check_device(vertices, vertices.device, "vertices")
    if vertices.shape[-2] != structure.vertex_parts.shape[0]:
        raise ShapeError(f"vertices: expected {structure.vertex_parts.shape[0]} vertices (the body's), "
                         f"got {vertices.shape[-2]}")
    if mask is None:
        mask = torch.ones(vertices.shape[:-2], dtype=torch.bool, device=vertices.device)
    # Any leading shape: the mask must have exactly the vertices' leading sizes.
    check_shape(mask, " ".join(map(str, vertices.shape[:-2])) if leading == "..." else leading, "mask", sizes)
    check_device(mask, vertices.device, "mask")
    if mask.dtype != torch.bool:
        raise ShapeError(f"mask: expected dtype torch.bool, got {mask.dtype}")
    if torch.finfo(vertices.dtype).bits < 32:
        vertices = vertices.float()
    usable = usable_frames(vertices, vertices.dim() - 2)
    vertices = torch.where(usable[..., None, None], vertices, torch.zeros_like(vertices))
    return vertices, mask & usable


# ---------------------------------------------------------------------------------- penalty
def self_penetration_penalty(
    vertices: torch.Tensor,
    structure: PartStructure,
    mask: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Smooth penetration penalty: sum over inside vertices of their squared depth.

    Zero when no part is inside another; continuously differentiable in the vertices (the
    depth goes to 0 as a vertex reaches the surface, so entering or leaving the inside set
    does not jump); the gradient moves each inside vertex out through the nearest surface of
    the part it is in and that surface towards it. The selection of inside vertices and
    nearest faces is not differentiated (it is piecewise constant).

    Args:
        vertices: (..., V, 3) posed meshes in metres (any leading shape, e.g. (B, T)).
        structure: the body's part structure.
        mask: (...) bool, frames to include; all when None.

    Returns:
        () the penalty in m^2, summed over vertices and frames.
    """
    vertices, mask = _check_vertices(vertices, mask, structure, "...")
    flat = vertices.reshape(-1, *vertices.shape[-2:])[mask.reshape(-1)]
    structure = structure.to(vertices.device)
    hits = find_self_intersections(flat.detach(), structure)
    inside = find_inside_vertices(flat.detach(), structure, hits)
    points = flat[inside.frame, inside.vertex]
    triangles = flat[inside.frame[:, None], structure.faces[inside.nearest_face]]
    return point_triangle_sq_distance(points, triangles).sum()


# ---------------------------------------------------------------------------------- metric
def _config(config: Optional[Mapping[str, Any]]) -> Mapping[str, Any]:
    return load_config("self_penetration") if config is None else config


def _select(found, keep: torch.Tensor):
    """``found`` (SelfIntersections or InsideVertices) restricted to the entries ``keep``."""
    return type(found)(**{f.name: getattr(found, f.name)[keep] for f in fields(found)})


def _check_unchecked_parts(unchecked_parts: Optional[torch.Tensor], batch: int,
                           structure: PartStructure) -> Optional[torch.Tensor]:
    if unchecked_parts is None:
        return None
    check_shape(unchecked_parts, f"{batch} {structure.num_parts}", "unchecked_parts")
    if unchecked_parts.dtype != torch.bool:
        raise InputValueError(f"unchecked_parts: expected a bool tensor, got {unchecked_parts.dtype}")
    return unchecked_parts


def _self_penetration_update(
    vertices: torch.Tensor,
    mask: torch.Tensor,
    structure: PartStructure,
    config: Optional[Mapping[str, Any]] = None,
    unchecked_parts: Optional[torch.Tensor] = None,
) -> Dict[str, torch.Tensor]:
    """Per-frame self-penetration of a batch.

    Args:
        vertices: (B, T, V, 3) posed meshes in metres.
        mask: (B, T) bool valid frames.
        structure: the body's part structure.
        config: the ``self_penetration`` config; the shipped one when None.
        unchecked_parts: (B, P) bool, parts left out per sequence (None: none): intersections
            and inside vertices involving them do not count. For parts whose posture the input
            does not carry (see :func:`unchecked_parts_from_joints`).

    Returns:
        a dict of
        ``depth_mm`` (B, T): deepest vertex inside another part, 0 on masked frames;
        ``penetrating`` (B, T) bool: valid and some part pair deeper than it allows
        (:mod:`.penetration_allowance`);
        ``num_face_pairs`` (B, T): intersecting face pairs;
        ``pair_depth_mm`` (B, T, P, P): deepest vertex of part i inside part j;
        ``pair_beyond_allowance`` (B, T, P, P) bool: that depth beyond the pair's allowance;
        ``faces_involved`` (B, F): number of valid frames in which each face intersects;
        ``num_valid``, ``num_penetrating``, ``depth_sum_mm`` (B,): the sums a metric keeps.
    """
    vertices, mask = _check_vertices(vertices, mask, structure, "B T")
    unchecked_parts = _check_unchecked_parts(unchecked_parts, vertices.shape[0], structure)
    cfg = _config(config)["detection"]
    tolerance = float(cfg["depth_tolerance_mm"])
    if tolerance < 0:
        raise InputValueError(f"depth_tolerance_mm: expected >= 0, got {tolerance}")
    b, t, n_verts = vertices.shape[:3]
    structure = structure.to(vertices.device)
    n_faces, num_parts = structure.faces.shape[0], structure.num_parts
    # Only valid frames are examined; results are scattered back to their (b, t) slots.
    valid = mask.reshape(-1).nonzero().squeeze(1)
    flat = vertices.detach().reshape(b * t, n_verts, 3)[valid]
    hits = find_self_intersections(flat, structure, int(cfg["chunk_frames"]))
    inside = find_inside_vertices(flat, structure, hits)
    hits.frame, inside.frame = valid[hits.frame], valid[inside.frame]
    if unchecked_parts is not None:
        skip = unchecked_parts.to(flat.device)
        hits = _select(hits, ~(skip[hits.frame // t, hits.part_a] | skip[hits.frame // t, hits.part_b]))
        inside = _select(inside, ~(skip[inside.frame // t, inside.part] | skip[inside.frame // t, inside.other_part]))
    depth_mm = inside.depth * 1000.0
    frame_depth = flat.new_zeros(b * t).scatter_reduce(0, inside.frame, depth_mm, "amax")
    pair_depth = flat.new_zeros(b * t * num_parts * num_parts).scatter_reduce(
        0, (inside.frame * num_parts + inside.part) * num_parts + inside.other_part, depth_mm, "amax")
    num_pairs = torch.zeros(b * t, dtype=torch.long, device=flat.device).index_add_(
        0, hits.frame, torch.ones_like(hits.frame))
    seq = hits.frame // t
    faces_involved = torch.zeros(b * n_faces, dtype=torch.long, device=flat.device)
    ones = torch.ones_like(seq)
    faces_involved.index_add_(0, seq * n_faces + hits.face_a, ones)
    faces_involved.index_add_(0, seq * n_faces + hits.face_b, ones)
    frame_depth = frame_depth.reshape(b, t)
    # Contact is not penetration: each part pair is judged against the depth soft tissue allows.
    # The allowance is never below the tolerance, so only frames with a pair deeper than the
    # tolerance can change their verdict: the part thicknesses are measured on those alone.
    pair_depth_frames = pair_depth.reshape(b * t, num_parts, num_parts)
    deep = (pair_depth_frames > tolerance).flatten(1).any(1).nonzero().squeeze(1)
    allowed = flat.new_full((b * t, num_parts, num_parts), tolerance)
    allowed[deep] = allowed_depth_mm(vertices.detach().reshape(b * t, n_verts, 3)[deep], structure, _config(config))
    pair_beyond = pair_depth_frames > allowed
    penetrating = mask & pair_beyond.flatten(1).any(1).reshape(b, t)
    return {
        "depth_mm": frame_depth,
        "penetrating": penetrating,
        "num_face_pairs": num_pairs.reshape(b, t),
        "pair_depth_mm": pair_depth.reshape(b, t, num_parts, num_parts),
        "pair_beyond_allowance": pair_beyond.reshape(b, t, num_parts, num_parts),
        "faces_involved": faces_involved.reshape(b, n_faces),
        "num_valid": mask.sum(1),
        "num_penetrating": penetrating.sum(1),
        "depth_sum_mm": (frame_depth * penetrating).sum(1),
    }


def _self_penetration_compute(
    num_penetrating: torch.Tensor, num_valid: torch.Tensor, depth_sum_mm: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Raw value and mean depth from the sums.

    Args:
        num_penetrating, num_valid, depth_sum_mm: (...) sums over frames.

    Returns:
        fraction of valid frames penetrating (0 without valid frames) and the mean depth in mm
        over penetrating frames (0 without any), each (...).
    """
    fraction = num_penetrating.to(depth_sum_mm.dtype) / num_valid.clamp_min(1).to(depth_sum_mm.dtype)
    mean_depth = depth_sum_mm / num_penetrating.clamp_min(1).to(depth_sum_mm.dtype)
    return fraction, mean_depth


def self_penetration(
    vertices: torch.Tensor,
    mask: torch.Tensor,
    structure: PartStructure,
    config: Optional[Mapping[str, Any]] = None,
    unchecked_parts: Optional[torch.Tensor] = None,
) -> Dict[str, torch.Tensor]:
    """Self-penetration per sequence.

    Args:
        vertices: (B, T, V, 3) posed meshes in metres.
        mask: (B, T) bool valid frames.
        structure: the body's part structure (``part_structure(body)``).
        config: the ``self_penetration`` config; the shipped one when None.
        unchecked_parts: (B, P) bool parts left out per sequence (None: none), see
            :func:`_self_penetration_update`.

    Returns:
        the per-frame dict of :func:`_self_penetration_update` plus ``raw`` (B,): fraction of
        valid frames penetrating deeper than the tolerance, ``mean_depth_mm`` (B,), and
        ``score`` (B,) 0-100.
    """
    out = _self_penetration_update(vertices, mask, structure, config, unchecked_parts)
    raw, mean_depth = _self_penetration_compute(out["num_penetrating"], out["num_valid"], out["depth_sum_mm"])
    out.update(raw=raw, mean_depth_mm=mean_depth, score=score_from_config(raw, _config(config)["score"]))
    return out


def unchecked_parts_from_joints(unmeasured_joints: torch.Tensor, num_parts: int) -> Optional[torch.Tensor]:
    """(B, P) bool parts to leave out per sequence: the segments of the joints marked unmeasured
    and of the joints below them (a placeholder rotation leaves the whole subtree's posture
    unknown); None when no joint is marked.

    Args:
        unmeasured_joints: (B, J) bool over SMPL joints (``MotionBatch.unmeasured_joints``).
        num_parts: P, the body's number of parts (SMPL joints 0..P-1).
    """
    check_shape(unmeasured_joints, f"B {len(JOINT_INDEX)}", "unmeasured_joints")
    if unmeasured_joints.dtype != torch.bool:
        raise InputValueError(f"unmeasured_joints: expected a bool tensor, got {unmeasured_joints.dtype}")
    if not bool(unmeasured_joints.any()):
        return None
    closure = torch.zeros(len(JOINT_INDEX), num_parts, dtype=torch.bool)
    for joint in range(len(JOINT_INDEX)):
        closure[joint, [j for j in subtree(joint) if j < num_parts]] = True
    closure = closure.to(unmeasured_joints.device)
    return (unmeasured_joints[:, :, None] & closure[None]).any(1)
