"""Exact triangle-triangle intersection test (orientation predicates in float64) and the
point-triangle distance, the geometric predicates of self-penetration."""

from __future__ import annotations

from typing import Tuple

import torch

from ..shapes import check_shape


def orient(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
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
    side_p = orient(q[:, None, 0], q[:, None, 1], q[:, None, 2], p)  # (K, 3)
    side_q = orient(p[:, None, 0], p[:, None, 1], p[:, None, 2], q)
    # Each triangle must meet the other's plane (a cheap test that rejects most candidates).
    general = ~((side_p == 0).all(1) | (side_q == 0).all(1))
    meets = general & (side_p.amin(1) <= 0) & (side_p.amax(1) >= 0) & (side_q.amin(1) <= 0) & (side_q.amax(1) >= 0)
    # Every pair is evaluated and masked (no data-dependent selection, no host sync): the
    # 9 determinants cost less than gathering the pairs that meet.
    p_next, q_next = p.roll(-1, dims=1), q.roll(-1, dims=1)
    # edge_edge[k, i, j] = orient(p_i, p_i+1, q_j, q_j+1); swapping the two edges is an even
    # permutation, so the same numbers serve both directions.
    edge_edge = orient(p[:, :, None], p_next[:, :, None], q[:, None, :], q_next[:, None, :])
    # An edge crosses the other triangle iff its ends straddle that plane and it passes on the
    # same side of all three edges of the other triangle.
    straddle_p = side_p * side_p.roll(-1, dims=1) <= 0
    straddle_q = side_q * side_q.roll(-1, dims=1) <= 0
    p_through_q = meets[:, None] & straddle_p & ((edge_edge >= 0).all(2) | (edge_edge <= 0).all(2))
    q_through_p = meets[:, None] & straddle_q & ((edge_edge >= 0).all(1) | (edge_edge <= 0).all(1))
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
