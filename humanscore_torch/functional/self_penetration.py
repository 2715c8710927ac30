"""Self-penetration of the posed mesh (spec 4.4): exact detection, depth, smooth penalty.

Pipeline, batched over frames (no Python loop over frames or faces):

1. **Broad phase.** Per frame, the bounding box of each part; a face is *active* when its box
   meets the box around its part's overlaps with parts it may not touch
   (:mod:`humanscore_torch.body.parts`). Active
   faces are entered into every cell of a uniform grid (cell = 1.5 mean face sizes) that
   their box touches; sorting the (frame, cell, part) keys groups faces sharing a cell, and
   every pair in a cell of two parts that may not touch, whose boxes overlap, is a candidate
   (same-part pairs are never generated). A pair is kept only in the cell holding the low
   corner of its box overlap, so it is tested once.
2. **Exact test.** Two triangles in general position intersect iff an edge of one crosses
   the other, decided by signs of 3x3 determinants (orientation predicates) evaluated in
   float64: 6 vertex-plane determinants reject most pairs, 9 edge-edge determinants decide
   the rest. Degenerate triangles
   (zero area) and exactly coplanar pairs (measure zero for posed meshes) are reported as not
   intersecting.
3. **Depth.** Every edge of part ``a`` that crosses a face of a part ``a`` may not touch is a
   barrier; its end behind the nearest crossed face (against the outward normal) is inside.
   Inside-ness spreads over the edges of ``a`` that cross nothing, so the intersection curves
   close off the sunken region; this agrees with the generalized winding number with respect
   to the faces of the parts ``a`` may not touch (tested against libigl) without evaluating it
   over the whole mesh. Where a curve runs partly between parts that may touch (never
   tested), the flood can leak; each region's deepest vertex is therefore checked against the
   winding number, and a region whose check fails is checked vertex by vertex. A vertex's
   depth is its distance to the nearest face of the parts ``a`` intersects (bounding-sphere
   pruning, then the exact point-triangle distance).
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

import math
from dataclasses import dataclass, fields
from typing import Any, Dict, Mapping, Optional, Tuple

import torch

from ..body.parts import PartStructure
from ..body.skeleton import JOINT_INDEX, subtree
from ..config import load_config
from ..errors import InputValueError, ShapeError
from ..shapes import check_device, check_floating, check_shape
from .motion_inputs import usable_frames
from .penetration_allowance import allowed_depth_mm
from .scoring import score_from_config

# Cell coordinates take 14 bits per axis in the hash key, the frame index the upper bits.
_CELL_BITS = 14
_MAX_CELLS = (1 << _CELL_BITS) - 2
# Grid cell edge in mean active face sizes (fastest of 0.5, 0.75, 1, 1.5, 2 on a 15k-face body mesh).
_CELL_SCALE = 1.5
# Query x face pairs handled at once by the nearest-face search (bounds memory).
_QUERY_BLOCK = 1 << 20
# Faces per cluster of the nearest-face search (fastest of 16, 32, 64 on the default body
# in the benchmark poses).
_CLUSTER_SIZE = 16
# Pruning keeps bounds within this of the best upper bound (float rounding, metres).
_PRUNE_SLACK_M = 1e-6
# A face cluster this many radii away enters the winding number as a dipole (Barill et al. 2018 use 2).
_FAR_FIELD = 2.0


# ---------------------------------------------------------------------------------- exact test
def _orient(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """det[b - a, c - a, d - a] over the last axis (positive: d above the plane abc)."""
    return torch.linalg.cross(b - a, c - a, dim=-1).mul(d - a).sum(-1)


def edge_crossings(first: torch.Tensor, second: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Exact test which edges of each triangle cross the other triangle (touching counts).

    Args:
        first: (K, 3, 3) vertices of the first triangles (metres).
        second: (K, 3, 3) vertices of the second triangles.

    Returns:
        (K, 3) bool: edge (v_i, v_i+1) of ``first`` crosses ``second``; and (K, 3) the same
        for the edges of ``second``. Evaluated in float64; degenerate and exactly coplanar
        pairs have no crossings.
    """
    sizes = check_shape(first, "K 3 3", "first")
    check_shape(second, "K 3 3", "second", sizes)
    p = first.double()
    q = second.double()
    # Side of each vertex of one triangle relative to the other's plane.
    side_p = _orient(q[:, None, 0], q[:, None, 1], q[:, None, 2], p)  # (K, 3)
    side_q = _orient(p[:, None, 0], p[:, None, 1], p[:, None, 2], q)
    # Each triangle must meet the other's plane (a cheap test that rejects most candidates).
    general = ~((side_p == 0).all(1) | (side_q == 0).all(1))
    meets = general & (side_p.amin(1) <= 0) & (side_p.amax(1) >= 0) & (side_q.amin(1) <= 0) & (side_q.amax(1) >= 0)
    p_through_q = torch.zeros_like(side_p, dtype=torch.bool)
    q_through_p = torch.zeros_like(side_q, dtype=torch.bool)
    idx = meets.nonzero().squeeze(1)
    p, q, side_p, side_q = p[idx], q[idx], side_p[idx], side_q[idx]
    p_next, q_next = p.roll(-1, dims=1), q.roll(-1, dims=1)
    # edge_edge[k, i, j] = orient(p_i, p_i+1, q_j, q_j+1); swapping the two edges is an even
    # permutation, so the same numbers serve both directions.
    edge_edge = _orient(p[:, :, None], p_next[:, :, None], q[:, None, :], q_next[:, None, :])
    # An edge crosses the other triangle iff its ends straddle that plane and it passes on the
    # same side of all three edges of the other triangle.
    straddle_p = side_p * side_p.roll(-1, dims=1) <= 0
    straddle_q = side_q * side_q.roll(-1, dims=1) <= 0
    p_through_q[idx] = straddle_p & ((edge_edge >= 0).all(2) | (edge_edge <= 0).all(2))
    q_through_p[idx] = straddle_q & ((edge_edge >= 0).all(1) | (edge_edge <= 0).all(1))
    return p_through_q, q_through_p


def triangles_intersect(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Exact test whether triangle pairs intersect (touching counts).

    Two triangles in general position intersect iff an edge of one crosses the other.

    Args:
        first: (K, 3, 3) vertices of the first triangles (metres).
        second: (K, 3, 3) vertices of the second triangles.

    Returns:
        (K,) bool. Evaluated in float64; degenerate and exactly coplanar pairs are False.
    """
    p_through_q, q_through_p = edge_crossings(first, second)
    return p_through_q.any(1) | q_through_p.any(1)


# ---------------------------------------------------------------------------------- broad phase
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
    lo, hi = triangles.amin(2), triangles.amax(2)  # (N, F, 3)
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
    active = _box_overlap(lo, hi, zone_lo[:, parts], zone_hi[:, parts])  # (N, F)
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
    run_a, k = _expand(cell_end - torch.arange(run_keys.numel(), device=keys.device) - 1)
    run_b = run_a + 1 + k
    keep = ~structure.may_touch[run_part[run_a], run_part[run_b]]
    run_a, run_b = run_a[keep], run_b[keep]
    size_b = run_size[run_b]
    pair, k = _expand(run_size[run_a] * size_b)
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


# ---------------------------------------------------------------------------------- detection
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
    found = []
    with torch.no_grad():
        for start in range(0, vertices.shape[0], chunk_frames):
            triangles = vertices[start:start + chunk_frames, structure.faces]
            frame, fa, fb = _candidate_pairs(triangles, structure)
            hit = triangles_intersect(triangles[frame, fa], triangles[frame, fb])
            found.append((frame[hit] + start, torch.minimum(fa[hit], fb[hit]), torch.maximum(fa[hit], fb[hit])))
    frame, fa, fb = (torch.cat(x) for x in zip(*found)) if found else (vertices.new_zeros(0, dtype=torch.long),) * 3
    n_faces = structure.faces.shape[0]
    order = ((frame * n_faces + fa) * n_faces + fb).argsort()
    frame, fa, fb = frame[order], fa[order], fb[order]
    return SelfIntersections(frame, fa, fb, structure.face_parts[fa], structure.face_parts[fb])


# ---------------------------------------------------------------------------------- depth
def point_triangle_sq_distance(points: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """Squared distance from points to triangles, differentiable in both.

    Args:
        points: (..., 3) metres.
        triangles: (..., 3, 3) metres (broadcast against ``points``).

    Returns:
        (...) squared distances in m^2. The closest point is found by Voronoi region of the
        triangle (vertex, edge or face); the result is a smooth function of the inputs inside
        each region, continuous across them, and needs no square root (no NaN gradient at 0).
    """
    a, b, c = triangles.unbind(-2)
    ab, ac, ap = b - a, c - a, points - a
    # Barycentric parameters of the projection onto the plane, solved in the 2x2 Gram system.
    d00, d01, d11 = (ab * ab).sum(-1), (ab * ac).sum(-1), (ac * ac).sum(-1)
    d20, d21 = (ap * ab).sum(-1), (ap * ac).sum(-1)
    det = (d00 * d11 - d01 * d01).clamp_min(1e-30)  # > 0 for non-degenerate faces
    v = (d11 * d20 - d01 * d21) / det
    w = (d00 * d21 - d01 * d20) / det
    inside = (v >= 0) & (w >= 0) & (v + w <= 1)
    face_point = a + v[..., None] * ab + w[..., None] * ac

    def on_segment(p0, p1):
        edge = p1 - p0
        t = ((points - p0) * edge).sum(-1) / (edge * edge).sum(-1).clamp_min(1e-30)
        return p0 + t.clamp(0.0, 1.0)[..., None] * edge

    candidates = torch.stack([on_segment(a, b), on_segment(b, c), on_segment(c, a)], dim=-2)
    edge_sq = (candidates - points[..., None, :]).pow(2).sum(-1).amin(-1)
    face_sq = (face_point - points).pow(2).sum(-1)
    return torch.where(inside, face_sq, edge_sq)


@dataclass
class InsideVertices:
    """Vertices lying inside a part they may not touch.

    Attributes:
        frame, vertex: (Q,) int64 which mesh and vertex.
        part, other_part: (Q,) int64 the vertex's part and the part of the nearest face it is
            inside of.
        nearest_face: (Q,) int64 that face.
        depth: (Q,) distance to it in metres (detached).
    """

    frame: torch.Tensor
    vertex: torch.Tensor
    part: torch.Tensor
    other_part: torch.Tensor
    nearest_face: torch.Tensor
    depth: torch.Tensor


def _expand(counts: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Row i repeated counts[i] times, and the running index 0..counts[i]-1 within each row."""
    row = torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts)
    return row, torch.arange(row.numel(), device=counts.device) - (counts.cumsum(0) - counts)[row]


def _blocks(cost: torch.Tensor, limit: int):
    """Consecutive (lo, hi) ranges of rows whose summed ``cost`` stays near ``limit``."""
    bounds = torch.searchsorted(cost.cumsum(0), torch.arange(
        0, int(cost.sum()) + limit, limit, device=cost.device), right=True).tolist()
    return [(lo, hi) for lo, hi in zip([0] + bounds, bounds + [cost.numel()]) if hi > lo]


def _spread_bits(x: torch.Tensor) -> torch.Tensor:
    """10-bit integers with two zero bits inserted between their bits (Morton interleaving)."""
    x = (x | (x << 16)) & 0x030000FF
    x = (x | (x << 8)) & 0x0300F00F
    x = (x | (x << 4)) & 0x030C30C3
    return (x | (x << 2)) & 0x09249249


def _face_clusters(mesh: torch.Tensor, structure: PartStructure):
    """Each part's faces in clusters of up to ``_CLUSTER_SIZE`` neighbours (Morton order of
    the face centroids of ``mesh`` (V, 3)). Parts move almost rigidly, so clusters made on one
    frame stay compact on the others; the distance bounds built on them hold on any mesh.

    Returns:
        cluster_of_face (F,), cluster_faces (F,) faces listed cluster by cluster,
        cluster_start (K,) and cluster_size (K,) into it, part_first_cluster (P,) and
        part_clusters (P,).
    """
    parts = structure.face_parts
    centroid = mesh[structure.faces].mean(1)
    low, high = centroid.amin(0), centroid.amax(0)
    grid = ((centroid - low) / (high - low).clamp_min(1e-12) * 1023).long()
    code = _spread_bits(grid[:, 0]) | (_spread_bits(grid[:, 1]) << 1) | (_spread_bits(grid[:, 2]) << 2)
    cluster_faces = (parts * (1 << 30) + code).argsort()
    per_part = torch.bincount(parts, minlength=structure.num_parts)
    sorted_parts = parts[cluster_faces]
    rank = torch.arange(parts.numel(), device=parts.device) - (per_part.cumsum(0) - per_part)[sorted_parts]
    part_clusters = (per_part + _CLUSTER_SIZE - 1) // _CLUSTER_SIZE
    part_first_cluster = part_clusters.cumsum(0) - part_clusters
    sorted_cluster = part_first_cluster[sorted_parts] + rank // _CLUSTER_SIZE
    cluster_of_face = torch.empty_like(parts).scatter_(0, cluster_faces, sorted_cluster)
    cluster_size = torch.bincount(sorted_cluster, minlength=int(part_clusters.sum()))
    cluster_start = cluster_size.cumsum(0) - cluster_size
    return cluster_of_face, cluster_faces, cluster_start, cluster_size, part_first_cluster, part_clusters


def _nearest_part_faces(
    vertices: torch.Tensor, structure: PartStructure, slot: torch.Tensor, vertex: torch.Tensor,
    target: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """For each query vertex, the nearest face of a given part.

    Args:
        vertices: (H, V, 3) meshes.
        structure: part structure.
        slot, vertex: (Q,) query mesh and vertex.
        target: (Q,) the part whose faces are searched.

    Returns:
        squared distance (Q,) and face (Q,) of the nearest face of ``target`` (the largest
        face index among exact ties).
    """
    # Bounding spheres of faces, and of clusters of faces: |x - centre| - radius bounds the
    # distance from below; the distance to a face centroid bounds the nearest face's from
    # above. Clusters of the target part are pruned first, then the faces of the surviving
    # clusters; only faces whose lower bound is under the best upper bound get the exact test.
    # Every face at the minimum distance survives both prunings.
    if slot.numel() == 0:
        return vertices.new_zeros(0), torch.zeros_like(slot)
    cluster_of_face, cluster_faces, cluster_start, cluster_size, part_first, part_clusters = \
        _face_clusters(vertices[0], structure)
    triangles = vertices[:, structure.faces]  # (H, F, 3, 3)
    centre = triangles.mean(2)  # (H, F, 3)
    radius = (triangles - centre[:, :, None]).norm(dim=-1).amax(-1)  # (H, F)
    num_clusters = cluster_size.numel()
    cluster_centre = centre.new_zeros(centre.shape[0], num_clusters, 3).index_add_(1, cluster_of_face, centre) \
        / cluster_size[None, :, None].to(centre.dtype)
    reach = (centre - cluster_centre[:, cluster_of_face]).norm(dim=-1) + radius
    cluster_radius = reach.new_zeros(reach.shape[0], num_clusters).scatter_reduce(
        1, cluster_of_face.expand_as(reach), reach, "amax")
    middle_face = cluster_faces[cluster_start + cluster_size // 2]  # (K,)
    points = vertices[slot, vertex]  # (Q, 3)
    best_sq = vertices.new_full((slot.numel(),), math.inf)
    best_face = torch.zeros_like(slot)
    for lo, hi in _blocks(part_clusters[target], _QUERY_BLOCK // _CLUSTER_SIZE):
        q_rep, k = _expand(part_clusters[target[lo:hi]])
        q_rep = q_rep + lo
        c = part_first[target[q_rep]] + k
        distance = (points[q_rep] - cluster_centre[slot[q_rep], c]).norm(dim=-1)
        # A face centroid lies on the face: its distance bounds the nearest face's from above.
        on_face = (points[q_rep] - centre[slot[q_rep], middle_face[c]]).norm(dim=-1)
        upper = distance.new_full((slot.numel(),), math.inf).scatter_reduce(0, q_rep, on_face, "amin")
        near = distance - cluster_radius[slot[q_rep], c] <= upper[q_rep] + _PRUNE_SLACK_M
        q_rep, c = q_rep[near], c[near]
        row, j = _expand(cluster_size[c])
        q_rep, f = q_rep[row], cluster_faces[cluster_start[c[row]] + j]
        distance = (points[q_rep] - centre[slot[q_rep], f]).norm(dim=-1)
        upper = distance.new_full((slot.numel(),), math.inf).scatter_reduce(0, q_rep, distance, "amin")
        near = distance - radius[slot[q_rep], f] <= upper[q_rep] + _PRUNE_SLACK_M
        q_rep, f = q_rep[near], f[near]
        sq = point_triangle_sq_distance(points[q_rep], triangles[slot[q_rep], f])
        block_best = best_sq.scatter_reduce(0, q_rep, sq, "amin")
        at_best = sq == block_best[q_rep]
        best_face.scatter_reduce_(0, q_rep[at_best], f[at_best], "amax")  # any nearest face
        best_sq = block_best
    return best_sq, best_face


def _solid_angles(points: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """(...,) signed solid angle of triangles (..., 3, 3) seen from points (..., 3), positive
    from the side the counter-clockwise normal points away from (Van Oosterom & Strackee 1983)."""
    a, b, c = (triangles[..., k, :] - points for k in range(3))
    la, lb, lc = a.norm(dim=-1), b.norm(dim=-1), c.norm(dim=-1)
    numerator = (a * torch.linalg.cross(b, c)).sum(-1)
    denominator = la * lb * lc + (a * b).sum(-1) * lc + (b * c).sum(-1) * la + (c * a).sum(-1) * lb
    return 2.0 * torch.atan2(numerator, denominator)


def winding_numbers(points: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """Generalized winding numbers of points with respect to a triangle soup (exact sum).

    Args:
        points: (Q, 3) metres.
        triangles: (F, 3, 3) metres, counter-clockwise seen from outside.

    Returns:
        (Q,) the sum of the triangles' solid angles seen from each point over 4 pi: ~1
        inside a closed outward-oriented surface, ~0 outside, in between near holes.
    """
    out = points.new_zeros(points.shape[0])
    block = max(1, _QUERY_BLOCK // max(triangles.shape[0], 1))  # bounds memory to ~block * F values
    for lo in range(0, points.shape[0], block):
        out[lo:lo + block] = _solid_angles(points[lo:lo + block, None], triangles[None]).sum(-1) / (4.0 * math.pi)
    return out


def _inside_by_winding(verts: torch.Tensor, structure: PartStructure, slot: torch.Tensor,
                       vertex: torch.Tensor) -> torch.Tensor:
    """(Q,) bool: the winding number of each vertex with respect to the faces of every part
    its own part may not touch is above 1/2 (the definition the flood approximates)."""
    return fast_part_winding_numbers(verts, structure, slot, vertex).abs() > 0.5


def fast_part_winding_numbers(verts: torch.Tensor, structure: PartStructure, slot: torch.Tensor,
                              vertex: torch.Tensor) -> torch.Tensor:
    """Winding number of each query vertex with respect to the faces of every part its own
    part may not touch (:func:`winding_numbers` is the exact, slower twin).

    Fast winding numbers (Barill et al. 2018, first order): a cluster of faces farther than
    ``_FAR_FIELD`` times its radius contributes the solid angle of its area-weighted normal
    placed at its centroid (a dipole); nearer clusters are summed face by face.

    Args:
        verts: (H, V, 3) meshes in metres; slot, vertex: (Q,) which mesh and vertex.

    Returns:
        (Q,) winding numbers (~1 inside, ~0 outside).
    """
    if slot.numel() == 0:
        return verts.new_zeros(0)
    cluster_of_face, cluster_faces, cluster_start, cluster_size, _, _ = _face_clusters(verts[0], structure)
    frames, slot = torch.unique(slot, return_inverse=True)
    triangles = verts[frames][:, structure.faces]  # (H, F, 3, 3)
    num_clusters = cluster_size.numel()
    area_normal = 0.5 * torch.linalg.cross(triangles[:, :, 1] - triangles[:, :, 0],
                                           triangles[:, :, 2] - triangles[:, :, 0])  # (H, F, 3)
    area = area_normal.norm(dim=-1, keepdim=True)
    centroid = triangles.mean(2)
    cluster_normal = area_normal.new_zeros(len(frames), num_clusters, 3).index_add_(1, cluster_of_face, area_normal)
    cluster_area = area.new_zeros(len(frames), num_clusters, 1).index_add_(1, cluster_of_face, area)
    cluster_centre = centroid.new_zeros(len(frames), num_clusters, 3).index_add_(1, cluster_of_face, centroid * area) \
        / cluster_area.clamp_min(1e-30)
    reach = (triangles - cluster_centre[:, cluster_of_face, None]).norm(dim=-1).amax(-1)  # (H, F)
    cluster_radius = reach.new_zeros(len(frames), num_clusters).scatter_reduce(
        1, cluster_of_face.expand_as(reach), reach, "amax")
    cluster_part = structure.face_parts[cluster_faces[cluster_start]]  # a cluster lies in one part
    points = verts[frames[slot], vertex]
    # Which clusters count for each query: those of the parts its own part may not touch.
    counts = ~structure.may_touch[structure.vertex_parts[vertex]][:, cluster_part]  # (Q, K)
    total = points.new_zeros(points.shape[0])
    per_block = max(1, _QUERY_BLOCK // num_clusters)
    for lo in range(0, points.shape[0], per_block):
        q, c = counts[lo:lo + per_block].nonzero(as_tuple=True)
        q = q + lo
        offset = cluster_centre[slot[q], c] - points[q]
        distance = offset.norm(dim=-1)
        far = distance > _FAR_FIELD * cluster_radius[slot[q], c]
        dipole = (cluster_normal[slot[q[far]], c[far]] * offset[far]).sum(-1) / distance[far].pow(3)
        total.index_add_(0, q[far], dipole)
        q, c = q[~far], c[~far]
        row, j = _expand(cluster_size[c])
        q, f = q[row], cluster_faces[cluster_start[c[row]] + j]
        total.index_add_(0, q, _solid_angles(points[q], triangles[slot[q], f]))
    return total / (4.0 * math.pi)


def _spread_inside(inside: torch.Tensor, barrier: torch.Tensor, edges: torch.Tensor,
                   may_enter: torch.Tensor) -> torch.Tensor:
    """Grow inside-ness along mesh edges that are not barriers, until nothing changes.

    A breadth-first search from the seeds that only visits the frontier, so the work is about
    (inside vertices x degree), not (sweeps x meshes x edges x labels).

    Args:
        inside: (H, V, L) bool seeds: vertex v of mesh h is inside the part of label l.
        barrier: (H, E) bool edges that cross a surface.
        edges: (E, 2) int64 undirected mesh edges.
        may_enter: (V, L) bool vertices that may carry each label.

    Returns:
        (H, V, L) bool, ``inside`` updated in place: every vertex reachable from a seed of its
        label through passable edges and vertices that may carry the label.
    """
    n_verts, n_labels = inside.shape[1:]
    src = torch.cat([edges[:, 0], edges[:, 1]])
    order = src.argsort()
    arc_end = torch.cat([edges[:, 1], edges[:, 0]])[order]
    arc_edge = torch.arange(edges.shape[0], device=edges.device).repeat(2)[order]
    degree = torch.bincount(src, minlength=n_verts)
    first_arc = degree.cumsum(0) - degree
    h, vtx, lab = inside.nonzero(as_tuple=True)
    while h.numel():
        row, k = _expand(degree[vtx])
        arc = first_arc[vtx[row]] + k
        h, lab, nxt = h[row], lab[row], arc_end[arc]
        step = ~barrier[h, arc_edge[arc]] & may_enter[nxt, lab] & ~inside[h, nxt, lab]
        key = torch.unique((h[step] * n_verts + nxt[step]) * n_labels + lab[step])
        h, vtx, lab = key // (n_verts * n_labels), (key // n_labels) % n_verts, key % n_labels
        inside[h, vtx, lab] = True
    return inside


def find_inside_vertices(
    vertices: torch.Tensor, structure: PartStructure, hits: SelfIntersections
) -> InsideVertices:
    """Vertices that lie inside a part they may not touch.

    Every edge that crosses a face of a part its vertices may not touch is a barrier (found by
    the exact test); its end behind the nearest crossed face (against the outward normal) is
    inside that face's part. Inside-ness spreads along edges that cross nothing, also into
    neighbouring parts as long as they may not touch the part they are inside of: the
    intersection curves close the sunken region off, so no winding number over the whole
    mesh is needed, and a hand buried entirely in the torso is reached from the forearm.
    Depth is the distance to the nearest face of the part a vertex is inside of.

    Args:
        vertices: (N, V, 3) posed meshes in metres.
        structure: the body's part structure.
        hits: :func:`find_self_intersections` on the same meshes.

    Returns:
        the inside vertices with their depth (the shallowest, if inside several parts).
    """
    structure = structure.to(vertices.device)
    faces = structure.faces
    with torch.no_grad():
        frames_hit, slot = torch.unique(hits.frame, return_inverse=True)
        verts = vertices[frames_hit].detach()  # (H, V, 3)
        n_hit, n_verts = verts.shape[:2]
        tri_a, tri_b = verts[slot[:, None], faces[hits.face_a]], verts[slot[:, None], faces[hits.face_b]]
        a_through_b, b_through_a = edge_crossings(tri_a, tri_b)
        n_edges = structure.edges.shape[0]
        crossings = []
        for crossing, face_own, face_other, tri_other in ((a_through_b, hits.face_a, hits.face_b, tri_b),
                                                          (b_through_a, hits.face_b, hits.face_a, tri_a)):
            pair, corner = crossing.nonzero(as_tuple=True)
            crossings.append((slot[pair], structure.face_edges[face_own[pair], corner],
                              faces[face_own[pair, None], torch.stack([corner, (corner + 1) % 3], dim=1)],
                              tri_other[pair], structure.face_parts[face_other[pair]]))
        edge_slot, edge, ends, other, other_part = (torch.cat(x) for x in zip(*crossings))
        barrier = torch.zeros(n_hit * n_edges, dtype=torch.bool, device=verts.device)
        barrier[edge_slot * n_edges + edge] = True
        barrier = barrier.reshape(n_hit, n_edges)
        # Seeds: each end of a crossing edge is behind (inside) the crossed face nearest to it
        # along the edge; an edge crossing several surfaces gets each end right this way.
        ends_xyz = verts[edge_slot[:, None], ends]  # (C, 2, 3)
        side = _orient(other[:, None, 0], other[:, None, 1], other[:, None, 2], ends_xyz)  # (C, 2)
        along = side[:, 0] / (side[:, 0] - side[:, 1]).where(side[:, 0] != side[:, 1], torch.ones_like(side[:, 0]))
        # Parameter along the edge from its lower-index vertex, so both listings of an edge agree.
        flip = ends[:, 0] > ends[:, 1]
        along = torch.where(flip, 1 - along, along)
        key = edge_slot * n_edges + edge
        first_cross = along.new_full((n_hit * n_edges,), math.inf).scatter_reduce(0, key, along, "amin")[key]
        last_cross = along.new_full((n_hit * n_edges,), -math.inf).scatter_reduce(0, key, along, "amax")[key]
        nearest = torch.stack([torch.where(flip, along == last_cross, along == first_cross),
                               torch.where(flip, along == first_cross, along == last_cross)], dim=1)
        behind = (side * structure.outward.to(side.dtype) < 0) & nearest
        # Inside-ness is tracked per part it is inside of (a label), so it may spread from part
        # to part, but only into parts that may not touch the part it is inside of.
        labels = torch.unique(other_part)
        label = torch.searchsorted(labels, other_part)
        may_enter = ~structure.may_touch[structure.vertex_parts][:, labels]  # (V, L)
        behind &= may_enter[ends, label[:, None]]
        inside = torch.zeros(n_hit, n_verts, len(labels), dtype=torch.bool, device=verts.device)
        inside[edge_slot[:, None].expand(-1, 2)[behind], ends[behind], label[:, None].expand(-1, 2)[behind]] = True
        # Spread along edges that cross nothing, in both directions, until nothing changes.
        inside = _spread_inside(inside, barrier, structure.edges, may_enter)
        q_slot, q_vertex, q_label = inside.nonzero(as_tuple=True)
        sq, nearest_face = _nearest_part_faces(verts, structure, q_slot, q_vertex, labels[q_label])
        # The flood is only as closed as the intersection curves: where part of a curve runs
        # between parts that may touch (never tested), inside-ness leaks out and can cover a
        # whole limb. A region's deepest vertex is checked against the winding number; where
        # it fails, every vertex of that (mesh, label) region is checked and only those
        # inside are kept. Genuine regions cost one winding number each.
        group = q_slot * len(labels) + q_label
        deepest_sq = sq.new_full((n_hit * len(labels),), -1.0).scatter_reduce(0, group, sq, "amax")
        deepest = torch.zeros_like(deepest_sq, dtype=torch.long).scatter_reduce(
            0, group, torch.arange(sq.numel(), device=sq.device).where(sq == deepest_sq[group], -1), "amax",
            include_self=False)
        checked_groups = torch.unique(group)
        representative = deepest[checked_groups]
        leaked = torch.zeros_like(deepest_sq, dtype=torch.bool)
        leaked[checked_groups] = ~_inside_by_winding(verts, structure, q_slot[representative],
                                                     q_vertex[representative])
        keep = ~leaked[group]
        suspect = leaked[group].nonzero().squeeze(1)
        keep[suspect] = _inside_by_winding(verts, structure, q_slot[suspect], q_vertex[suspect])
        q_slot, q_vertex, q_label, sq, nearest_face = (x[keep] for x in (q_slot, q_vertex, q_label, sq, nearest_face))
        # A vertex inside several parts keeps the shallowest depth (the nearest way out).
        key = q_slot * n_verts + q_vertex
        unique_key, row = torch.unique(key, return_inverse=True)
        best = sq.new_full((unique_key.numel(),), math.inf).scatter_reduce(0, row, sq, "amin")
        chosen = torch.zeros(unique_key.numel(), dtype=torch.long, device=verts.device).scatter_reduce(
            0, row, torch.arange(key.numel(), device=verts.device).where(sq == best[row], -1), "amax",
            include_self=False)
        q_slot, q_vertex, nearest_face = q_slot[chosen], q_vertex[chosen], nearest_face[chosen]
        return InsideVertices(
            frame=frames_hit[q_slot], vertex=q_vertex, part=structure.vertex_parts[q_vertex],
            other_part=structure.face_parts[nearest_face], nearest_face=nearest_face, depth=best.sqrt(),
        )


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
    allowed = flat.new_full((b * t, num_parts, num_parts), tolerance)
    allowed[valid] = allowed_depth_mm(flat, structure, _config(config))
    pair_beyond = pair_depth.reshape(b * t, num_parts, num_parts) > allowed
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
