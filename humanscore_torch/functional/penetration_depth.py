"""Depth of inside vertices: the nearest face of a given part, found exactly with
bounding-sphere pruning over the part's face clusters."""

from __future__ import annotations

import math
from typing import Tuple

import torch

from ..body.parts import CLUSTER_SIZE, PartStructure
from .penetration_triangles import point_triangle_sq_distance
from .penetration_winding import QUERY_BLOCK
from .ragged import expand_counts, row_blocks, take

# Pruning keeps bounds within this of the best upper bound (float rounding, metres).
_PRUNE_SLACK_M = 1e-6


def nearest_part_faces(
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
    clusters = structure.clusters
    of_face, cluster_faces, cluster_start, cluster_size = (
        clusters.cluster_of_face, clusters.cluster_faces, clusters.cluster_start, clusters.cluster_size)
    part_first, part_clusters = clusters.part_first_cluster, clusters.part_clusters
    n_faces, num_clusters = structure.faces.shape[0], clusters.num_clusters
    triangles = vertices[:, structure.faces]  # (H, F, 3, 3)
    centre = triangles.mean(2)  # (H, F, 3)
    radius = (triangles - centre[:, :, None]).norm(dim=-1).amax(-1)  # (H, F)
    cluster_centre = centre.new_zeros(centre.shape[0], num_clusters, 3).index_add_(1, of_face, centre) \
        / cluster_size[None, :, None].to(centre.dtype)
    reach = (centre - cluster_centre[:, of_face]).norm(dim=-1) + radius
    cluster_radius = reach.new_zeros(reach.shape[0], num_clusters).scatter_reduce(
        1, of_face.expand_as(reach), reach, "amax")
    # Flat (mesh, item) rows: one index_select per gather instead of two-axis indexing.
    centre, radius, triangles = centre.reshape(-1, 3), radius.reshape(-1), triangles.reshape(-1, 3, 3)
    cluster_centre, cluster_radius = cluster_centre.reshape(-1, 3), cluster_radius.reshape(-1)
    points = vertices[slot, vertex]  # (Q, 3)
    best_sq = vertices.new_full((slot.numel(),), math.inf)
    best_face = torch.zeros_like(slot)
    for lo, hi in row_blocks(part_clusters[target], QUERY_BLOCK // CLUSTER_SIZE):
        q_rep, k = expand_counts(part_clusters[target[lo:hi]])
        q_rep = q_rep + lo
        c = take(part_first, take(target, q_rep)) + k
        q_point, s_rep = take(points, q_rep), take(slot, q_rep)
        sc = s_rep * num_clusters + c
        distance = (q_point - take(cluster_centre, sc)).norm(dim=-1)
        # A face centroid lies on the face: its distance bounds the nearest face's from above.
        on_face = (q_point - take(centre, s_rep * n_faces + take(clusters.middle_face, c))).norm(dim=-1)
        upper = distance.new_full((slot.numel(),), math.inf).scatter_reduce(0, q_rep, on_face, "amin")
        near = (distance - take(cluster_radius, sc) <= take(upper, q_rep) + _PRUNE_SLACK_M).nonzero().squeeze(1)
        q_rep, c = take(q_rep, near), take(c, near)
        row, j = expand_counts(take(cluster_size, c))
        q_rep, f = take(q_rep, row), take(cluster_faces, take(cluster_start, take(c, row)) + j)
        q_point, sf = take(points, q_rep), take(slot, q_rep) * n_faces + f
        distance = (q_point - take(centre, sf)).norm(dim=-1)
        upper = distance.new_full((slot.numel(),), math.inf).scatter_reduce(0, q_rep, distance, "amin")
        near = (distance - take(radius, sf) <= take(upper, q_rep) + _PRUNE_SLACK_M).nonzero().squeeze(1)
        q_rep, f, sf = take(q_rep, near), take(f, near), take(sf, near)
        sq = point_triangle_sq_distance(take(points, q_rep), take(triangles, sf))
        block_best = best_sq.scatter_reduce(0, q_rep, sq, "amin")
        at_best = (sq == take(block_best, q_rep)).nonzero().squeeze(1)
        best_face.scatter_reduce_(0, take(q_rep, at_best), take(f, at_best), "amax")  # any nearest face
        best_sq = block_best
    return best_sq, best_face


def nearest_part_faces_naive(
    vertices: torch.Tensor, structure: PartStructure, slot: torch.Tensor, vertex: torch.Tensor,
    target: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`nearest_part_faces` by brute force over every face (the slow twin the tests
    compare it with): (Q,) squared distance and face, the largest face index among ties.
    Memory Q x F: for small queries only."""
    if slot.numel() == 0:
        return vertices.new_zeros(0), torch.zeros_like(slot)
    triangles = vertices[slot[:, None, None], structure.faces[None]]  # (Q, F, 3, 3)
    sq = point_triangle_sq_distance(vertices[slot, vertex][:, None], triangles)
    sq = sq.masked_fill(structure.face_parts[None] != target[:, None], math.inf)
    best = sq.amin(1)
    faces = torch.arange(structure.faces.shape[0], device=slot.device).expand_as(sq)
    return best, torch.where(sq == best[:, None], faces, -1).amax(1)
