"""Detection of self-intersections: a uniform-grid broad phase over the faces of parts that
may not touch, then the exact triangle test on the candidate pairs.

1. **Broad phase.** Per frame, the bounding box of each part; a face is *active* when its box
   meets the box around its part's overlaps with parts it may not touch
   (:mod:`humanscore_torch.body.parts`). Active
   faces are entered into every cell of a uniform grid (cell = 1.5 mean face sizes) that
   their box touches; sorting the (frame, cell, part) keys groups faces sharing a cell, and
   every pair in a cell of two parts that may not touch, whose boxes overlap, is a candidate
   (same-part pairs are never generated). A pair is kept only in the cell holding the low
   corner of its box overlap, so it is tested once.
2. **Exact test** (:mod:`.penetration_triangles`) on every candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from ..body.parts import PartStructure
from ..config import load_config
from ..shapes import check_floating, check_shape
from .penetration_triangles import triangles_intersect
from .ragged import expand_counts

# Cell coordinates take 14 bits per axis in the hash key, the frame index the upper bits.
_CELL_BITS = 14
_MAX_CELLS = (1 << _CELL_BITS) - 2
# Grid cell edge in mean active face sizes (fastest of 0.5, 0.75, 1, 1.5, 2 on a 15k-face body mesh).
_CELL_SCALE = 1.5


def _box_overlap(lo_a, hi_a, lo_b, hi_b) -> torch.Tensor:
    return ((lo_a <= hi_b) & (lo_b <= hi_a)).all(-1)


def _candidate_pairs(
    triangles: torch.Tensor, structure: PartStructure
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Face pairs of parts that may not touch whose bounding boxes overlap.

    Args:
        triangles: (N, F, 3, 3) posed triangles.
        structure: the body's part structure (same device).

    Returns:
        frame (K,), face_a (K,), face_b (K,) int64: each candidate pair once, in no
        particular order.
    """
    n_frames, n_faces = triangles.shape[:2]
    parts, num_parts = structure.face_parts, structure.num_parts
    a, b, c = triangles.unbind(2)  # elementwise: faster than a reduction over the corner axis
    lo, hi = torch.minimum(torch.minimum(a, b), c), torch.maximum(torch.maximum(a, b), c)  # (N, F, 3)
    index = parts[None, :, None].expand(n_frames, n_faces, 3)
    part_lo = lo.new_full((n_frames, num_parts, 3), math.inf).scatter_reduce(1, index, lo, "amin")
    part_hi = hi.new_full((n_frames, num_parts, 3), -math.inf).scatter_reduce(1, index, hi, "amax")
    # Per part, the box around its overlaps with the boxes of parts it may not touch (empty
    # when there are none); only faces meeting that box can meet such a part.
    overlap_lo = torch.maximum(part_lo[:, :, None], part_lo[:, None])  # (N, P, P, 3)
    overlap_hi = torch.minimum(part_hi[:, :, None], part_hi[:, None])
    real = (overlap_lo <= overlap_hi).all(-1) & ~structure.may_touch  # (N, P, P)
    zone_lo = torch.where(real[..., None], overlap_lo, math.inf).amin(2)  # (N, P, 3)
    zone_hi = torch.where(real[..., None], overlap_hi, -math.inf).amax(2)
    active = _box_overlap(lo, hi, zone_lo.index_select(1, parts), zone_hi.index_select(1, parts))  # (N, F)
    frame, face = active.nonzero(as_tuple=True)
    empty = frame.new_zeros(0)
    if frame.numel() < 2:
        return empty, empty, empty
    box_lo, box_hi = lo[frame, face], hi[frame, face]  # (M, 3)
    origin = box_lo.new_full((n_frames, 3), math.inf).scatter_reduce(
        0, frame[:, None].expand(-1, 3), box_lo, "amin")[frame]
    span = (box_hi - origin).amax()
    # Cell edge: _CELL_SCALE mean active face sizes, so a typical face covers 1-8 cells; a larger
    # face is entered into every cell its box touches.
    cell = torch.maximum(_CELL_SCALE * (box_hi - box_lo).amax(-1).mean(), span / _MAX_CELLS).clamp_min(1e-9)
    cell_lo = torch.floor((box_lo - origin) / cell).long()
    extent = torch.floor((box_hi - origin) / cell).long() - cell_lo + 1  # cells per axis
    count = extent.prod(-1)
    entry = torch.repeat_interleave(torch.arange(frame.numel(), device=frame.device), count)
    k = torch.arange(entry.numel(), device=frame.device) - torch.repeat_interleave(count.cumsum(0) - count, count)
    ny, nz = extent[entry, 1], extent[entry, 2]
    cells = cell_lo[entry] + torch.stack([k // (ny * nz), (k // nz) % ny, k % nz], dim=-1)
    entry_part = parts[face[entry]]
    part_bits = max(1, (num_parts - 1).bit_length())
    cell_keys = (frame[entry] << (3 * _CELL_BITS)) | (cells[:, 0] << (2 * _CELL_BITS)) \
        | (cells[:, 1] << _CELL_BITS) | cells[:, 2]
    keys, order = ((cell_keys << part_bits) | entry_part).sort()
    entry, cells = entry[order], cells[order]
    # Runs of one (cell, part): each run pairs with the later runs of its cell whose part it
    # may not touch, before any entry pair is made (neighbouring parts share many cells at
    # every joint); same-part pairs are never generated.
    run_keys, run_size = torch.unique_consecutive(keys, return_counts=True)
    run_start = run_size.cumsum(0) - run_size
    run_part = run_keys & ((1 << part_bits) - 1)
    _, runs_per_cell = torch.unique_consecutive(run_keys >> part_bits, return_counts=True)
    cell_end = torch.repeat_interleave(runs_per_cell.cumsum(0), runs_per_cell)
    run_a, k = expand_counts(cell_end - torch.arange(run_keys.numel(), device=keys.device) - 1)
    run_b = run_a + 1 + k
    keep = ~structure.may_touch[run_part[run_a], run_part[run_b]]
    run_a, run_b = run_a[keep], run_b[keep]
    size_b = run_size[run_b]
    pair, k = expand_counts(run_size[run_a] * size_b)
    first = run_start[run_a[pair]] + torch.div(k, size_b[pair], rounding_mode="floor")
    second = run_start[run_b[pair]] + k % size_b[pair]
    ea, eb = entry[first], entry[second]
    keep = _box_overlap(box_lo[ea], box_hi[ea], box_lo[eb], box_hi[eb])
    first, ea, eb = first[keep], ea[keep], eb[keep]
    # Report each pair only in the cell of the low corner of the two boxes' overlap.
    corner = torch.maximum(box_lo[ea], box_lo[eb])
    keep = (torch.floor((corner - origin[ea]) / cell).long() == cells[first]).all(-1)
    ea, eb = ea[keep], eb[keep]
    return frame[ea], face[ea], face[eb]


@dataclass
class SelfIntersections:
    """Intersecting face pairs of parts that may not touch, over N posed meshes.

    Attributes:
        frame: (K,) int64 index of the mesh (0..N-1).
        face_a, face_b: (K,) int64 faces, ``face_a < face_b``.
        part_a, part_b: (K,) int64 their parts.
    """

    frame: torch.Tensor
    face_a: torch.Tensor
    face_b: torch.Tensor
    part_a: torch.Tensor
    part_b: torch.Tensor


def find_self_intersections(
    vertices: torch.Tensor, structure: PartStructure, chunk_frames: Optional[int] = None
) -> SelfIntersections:
    """All intersecting triangle pairs between parts that may not touch.

    Args:
        vertices: (N, V, 3) posed meshes in metres.
        structure: the body's part structure (:func:`~humanscore_torch.body.parts.part_structure`).
        chunk_frames: meshes per broad-phase pass (memory bound); config value when None.

    Returns:
        the pairs, sorted by frame, then face_a, then face_b.
    """
    sizes = check_shape(vertices, "N V 3", "vertices")
    check_floating(vertices, "vertices")
    check_shape(structure.vertex_parts, "V", "structure.vertex_parts", sizes)
    if chunk_frames is None:
        chunk_frames = int(load_config("self_penetration")["detection"]["chunk_frames"])
    structure = structure.to(vertices.device)
    corners = structure.faces.reshape(-1)
    found = []
    with torch.no_grad():
        for start in range(0, vertices.shape[0], chunk_frames):
            chunk = vertices[start:start + chunk_frames]
            triangles = chunk.index_select(1, corners).reshape(chunk.shape[0], -1, 3, 3)  # (n, F, 3, 3)
            frame, fa, fb = _candidate_pairs(triangles, structure)
            hit = triangles_intersect(triangles[frame, fa], triangles[frame, fb])
            found.append((frame[hit] + start, torch.minimum(fa[hit], fb[hit]), torch.maximum(fa[hit], fb[hit])))
    frame, fa, fb = (torch.cat(x) for x in zip(*found)) if found else (vertices.new_zeros(0, dtype=torch.long),) * 3
    n_faces = structure.faces.shape[0]
    order = ((frame * n_faces + fa) * n_faces + fb).argsort()
    frame, fa, fb = frame[order], fa[order], fb[order]
    return SelfIntersections(frame, fa, fb, structure.face_parts[fa], structure.face_parts[fb])
