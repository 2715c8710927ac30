"""Vertices inside a part they may not touch: seeds at the ends of crossing edges, a flood
along the edges that cross nothing, a winding-number check of each region, and the depth.

Every edge of part ``a`` that crosses a face of a part ``a`` may not touch is a barrier; its
end behind the nearest crossed face (against the outward normal) is inside. Inside-ness
spreads over the edges of ``a`` that cross nothing, so the intersection curves close off the
sunken region; this agrees with the generalized winding number with respect to the faces of
the parts ``a`` may not touch without evaluating it over the whole mesh. Where a curve runs
partly between parts that may touch (never tested), the flood can leak; each region's deepest
vertex is therefore checked against the winding number, and a region whose check fails is
checked vertex by vertex. A vertex's depth is its distance to the nearest face of the part it
is inside of (:mod:`.penetration_depth`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..body.parts import EdgeAdjacency, PartStructure
from .penetration_broad_phase import SelfIntersections
from .penetration_depth import nearest_part_faces
from .penetration_triangles import edge_crossings, orient
from .penetration_winding import inside_by_winding
from .ragged import expand_counts


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


def _spread_inside(inside: torch.Tensor, barrier: torch.Tensor, adjacency: EdgeAdjacency,
                   may_enter: torch.Tensor) -> torch.Tensor:
    """Grow inside-ness along mesh edges that are not barriers, until nothing changes.

    A breadth-first search from the seeds that only visits the frontier, so the work is about
    (inside vertices x degree), not (sweeps x meshes x edges x labels).

    Args:
        inside: (H, V, L) bool seeds: vertex v of mesh h is inside the part of label l.
        barrier: (H, E) bool edges that cross a surface.
        adjacency: the mesh edges around each vertex (the body's, precomputed).
        may_enter: (V, L) bool vertices that may carry each label.

    Returns:
        (H, V, L) bool, ``inside`` updated in place: every vertex reachable from a seed of its
        label through passable edges and vertices that may carry the label.
    """
    n_verts, n_labels = inside.shape[1:]
    degree, first_arc, arc_end, arc_edge = adjacency.degree, adjacency.first_arc, adjacency.arc_end, adjacency.arc_edge
    h, vtx, lab = inside.nonzero(as_tuple=True)
    while h.numel():
        row, k = expand_counts(degree[vtx])
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
        side = orient(other[:, None, 0], other[:, None, 1], other[:, None, 2], ends_xyz)  # (C, 2)
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
        inside = _spread_inside(inside, barrier, structure.adjacency, may_enter)
        q_slot, q_vertex, q_label = inside.nonzero(as_tuple=True)
        sq, nearest_face = nearest_part_faces(verts, structure, q_slot, q_vertex, labels[q_label])
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
        leaked[checked_groups] = ~inside_by_winding(verts, structure, q_slot[representative],
                                                     q_vertex[representative])
        keep = ~leaked[group]
        suspect = leaked[group].nonzero().squeeze(1)
        keep[suspect] = inside_by_winding(verts, structure, q_slot[suspect], q_vertex[suspect])
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
