"""Generalized winding numbers of points with respect to body parts: the exact sum over a
triangle soup, and the fast (Barill et al. 2018, first order) evaluation over face clusters."""

from __future__ import annotations

import math

import torch

from ..body.parts import PartStructure
from .ragged import take

# Query x triangle (or cluster) values evaluated at once (bounds memory).
QUERY_BLOCK = 1 << 20
# A face cluster this many radii away enters the winding number as a dipole (Barill et al. 2018 use 2).
_FAR_FIELD = 2.0
# Fast winding numbers this close to 1/2 are recomputed exactly before deciding inside-ness:
# 5x the largest difference measured between two clusterings of the default body (0.018, the
# bench poses with betas -5), well above the first-order far field's error.
_EXACT_MARGIN = 0.1


def _solid_angle_of_offsets(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, dim: int) -> torch.Tensor:
    """Signed solid angle of the triangle whose corners lie at offsets ``a``, ``b``, ``c`` from
    the viewpoint (coordinates along ``dim``), positive from the side the counter-clockwise
    normal points away from (Van Oosterom & Strackee 1983); 0 for a degenerate triangle."""
    # Written out per coordinate: elementwise over whatever layout, no strided reductions.
    (ax, ay, az), (bx, by, bz), (cx, cy, cz) = a.unbind(dim), b.unbind(dim), c.unbind(dim)

    def dot(ux, uy, uz, vx, vy, vz):
        return ux * vx + uy * vy + uz * vz

    la, lb, lc = dot(ax, ay, az, ax, ay, az).sqrt(), dot(bx, by, bz, bx, by, bz).sqrt(), dot(cx, cy, cz, cx, cy, cz).sqrt()
    numerator = dot(ax, ay, az, by * cz - bz * cy, bz * cx - bx * cz, bx * cy - by * cx)
    denominator = la * lb * lc + dot(ax, ay, az, bx, by, bz) * lc + dot(bx, by, bz, cx, cy, cz) * la \
        + dot(cx, cy, cz, ax, ay, az) * lb
    return 2.0 * torch.atan2(numerator, denominator)


def _solid_angles(points: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """(...,) signed solid angle of triangles (..., 3, 3) seen from points (..., 3)."""
    return _solid_angle_of_offsets(*(triangles[..., k, :] - points for k in range(3)), dim=-1)


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
    block = max(1, QUERY_BLOCK // max(triangles.shape[0], 1))  # bounds memory to ~block * F values
    for lo in range(0, points.shape[0], block):
        out[lo:lo + block] = _solid_angles(points[lo:lo + block, None], triangles[None]).sum(-1) / (4.0 * math.pi)
    return out


def fast_part_winding_numbers(verts: torch.Tensor, structure: PartStructure, slot: torch.Tensor,
                              vertex: torch.Tensor) -> torch.Tensor:
    """Winding number of each query vertex with respect to the faces of every part its own
    part may not touch (:func:`winding_numbers` is the exact, slower twin).

    Fast winding numbers (Barill et al. 2018, first order): a cluster of faces farther than
    ``_FAR_FIELD`` times its radius contributes the solid angle of its area-weighted normal
    placed at its centroid (a dipole); nearer clusters are summed face by face. The far field
    is evaluated densely (query x cluster, masked), only the near clusters are listed.

    Args:
        verts: (H, V, 3) meshes in metres; slot, vertex: (Q,) which mesh and vertex.

    Returns:
        (Q,) winding numbers (~1 inside, ~0 outside).
    """
    if slot.numel() == 0:
        return verts.new_zeros(0)
    clusters = structure.clusters
    triangles = verts[:, structure.faces]  # (H, F, 3, 3)
    num_frames, num_clusters = verts.shape[0], clusters.num_clusters
    of_face = clusters.cluster_of_face
    area_normal = 0.5 * torch.linalg.cross(triangles[:, :, 1] - triangles[:, :, 0],
                                           triangles[:, :, 2] - triangles[:, :, 0])  # (H, F, 3)
    area = area_normal.norm(dim=-1, keepdim=True)
    centroid = triangles.mean(2)
    cluster_normal = area_normal.new_zeros(num_frames, num_clusters, 3).index_add_(1, of_face, area_normal)
    cluster_area = area.new_zeros(num_frames, num_clusters, 1).index_add_(1, of_face, area)
    cluster_centre = centroid.new_zeros(num_frames, num_clusters, 3).index_add_(1, of_face, centroid * area) \
        / cluster_area.clamp_min(1e-30)
    reach = (triangles - cluster_centre[:, of_face, None]).norm(dim=-1).amax(-1)  # (H, F)
    cluster_reach = _FAR_FIELD * reach.new_zeros(num_frames, num_clusters).scatter_reduce(
        1, of_face.expand_as(reach), reach, "amax")
    # Coordinate-major (H, 3, K) rows: a query block takes its meshes' clusters with one
    # contiguous row copy each (index_select), then everything is elementwise over (q, K).
    centre_rows, normal_rows = cluster_centre.transpose(1, 2).contiguous(), cluster_normal.transpose(1, 2).contiguous()
    # Which clusters count for each part: those of the parts it may not touch (P, K).
    counted_by_part = ~structure.may_touch[:, clusters.cluster_part]
    points, query_part = verts[slot, vertex], structure.vertex_parts[vertex]
    # Every cluster's triangles, padded with a degenerate one (solid angle 0), as (H K, 9, S) rows.
    padded = torch.cat([triangles, triangles.new_zeros(num_frames, 1, 3, 3)], 1)[:, clusters.padded_faces]
    cluster_triangles = padded.flatten(3).transpose(2, 3).reshape(num_frames * num_clusters, 9, -1)
    total = points.new_zeros(points.shape[0])
    per_block = max(1, QUERY_BLOCK // num_clusters)
    for lo in range(0, points.shape[0], per_block):
        s, p = slot[lo:lo + per_block], points[lo:lo + per_block]  # (q,), (q, 3)
        counts = counted_by_part.index_select(0, query_part[lo:lo + per_block])  # (q, K)
        centre, normal = centre_rows.index_select(0, s), normal_rows.index_select(0, s)  # (q, 3, K)
        ox, oy, oz = (centre[:, k] - p[:, k, None] for k in range(3))  # offsets (q, K)
        distance = (ox * ox).addcmul_(oy, oy).addcmul_(oz, oz).sqrt_()
        far = distance > cluster_reach.index_select(0, s)
        dipole = ox.mul_(normal[:, 0]).addcmul_(oy, normal[:, 1]).addcmul_(oz, normal[:, 2]).div_(distance.pow(3))
        total[lo:lo + per_block] = dipole.masked_fill_(~(counts & far), 0.0).sum(1)
        # Near clusters: the exact sum over their faces (the only data-dependent list).
        # Each is one contiguous row of the cluster's padded triangles, coordinates by face.
        q, c = (counts & ~far).nonzero(as_tuple=True)
        corners = take(cluster_triangles, take(s, q) * num_clusters + c)  # (n, 9, CLUSTER_SIZE)
        viewpoint = take(p, q)[:, :, None]
        angles = _solid_angle_of_offsets(*(corners[:, 3 * k:3 * k + 3] - viewpoint for k in range(3)), dim=1)
        total.index_add_(0, q + lo, angles.sum(1))
    return total / (4.0 * math.pi)


def part_winding_numbers(verts: torch.Tensor, structure: PartStructure, slot: torch.Tensor,
                         vertex: torch.Tensor) -> torch.Tensor:
    """:func:`fast_part_winding_numbers` summed exactly over every face (the slow twin):
    (Q,) winding numbers of each query vertex with respect to the faces of every part its own
    part may not touch. Work Q x F."""
    total = verts.new_zeros(slot.numel())
    faces, n_faces = structure.faces, structure.faces.shape[0]
    block = max(1, QUERY_BLOCK // n_faces)
    for lo in range(0, slot.numel(), block):
        s, v = slot[lo:lo + block], vertex[lo:lo + block]
        counted = ~structure.may_touch[structure.vertex_parts[v]][:, structure.face_parts]  # (q, F)
        angles = _solid_angles(verts[s, v][:, None], verts[s[:, None, None], faces[None]])  # (q, F)
        total[lo:lo + block] = torch.where(counted, angles, 0.0).sum(1)
    return total / (4.0 * math.pi)


def inside_by_winding(verts: torch.Tensor, structure: PartStructure, slot: torch.Tensor,
                      vertex: torch.Tensor) -> torch.Tensor:
    """(Q,) bool: the winding number of each vertex with respect to the faces of every part
    its own part may not touch is above 1/2 (the definition the inside flood approximates).

    The fast winding number decides, except within ``_EXACT_MARGIN`` of 1/2, where its far
    field's error could flip the answer: those few vertices (lying on another part's surface)
    get the exact sum, so the decision does not depend on how the faces are clustered.
    """
    winding = fast_part_winding_numbers(verts, structure, slot, vertex).abs()
    close = ((winding - 0.5).abs() < _EXACT_MARGIN).nonzero().squeeze(1)
    winding[close] = part_winding_numbers(verts, structure, slot[close], vertex[close]).abs()
    return winding > 0.5
