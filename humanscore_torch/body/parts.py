"""Part structure of an SMPL-compatible body, for self-penetration.

Each vertex belongs to the part (one of the 24 SMPL joints) with the largest skinning weight;
each face to the part with the largest summed weight over its three vertices. Two parts *may
touch* (their surfaces can meet or fold into each other without that being a penetration)
when they are

* the same part or adjacent in the kinematic tree (knee folds thigh onto calf),
* joined on the mesh: a face of one shares a vertex with a face of the other,
* close on the surface at rest: the edge-graph (geodesic) distance between them in the rest
  pose is below ``surface_gap_m`` (parts separated by a thin band of a third part, e.g. the
  armpit between upper arm and chest).

Intersections between parts that may touch are skin folding and LBS artefacts, not
penetrations; every other pair is checked. The structure depends only on the rest mesh and
the weights, so it is computed once per body and cached (:func:`part_structure`).
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from dataclasses import dataclass, fields
from typing import Dict, Optional, Sequence, Tuple

import torch

from ..config import load_config
from ..errors import BodyModelError
from ..shapes import check_shape
from .skeleton import NUM_JOINTS, PARENTS


@dataclass(frozen=True)
class PartStructure:
    """Which faces belong to which part, and which part pairs may touch.

    Attributes:
        faces: (F, 3) int64 vertex indices.
        vertex_parts: (V,) int64 part of each vertex (0..P-1).
        face_parts: (F,) int64 part of each face.
        may_touch: (P, P) bool, symmetric, True on the diagonal: pairs never reported.
        edges: (E, 2) int64 undirected mesh edges, each once.
        face_edges: (F, 3) int64 index into ``edges`` of face edge (v_i, v_i+1), i = 0, 1, 2.
        outward: () +1.0 when the faces wind counter-clockwise seen from outside (positive
            enclosed volume at rest), -1.0 otherwise.
        clusters: each part's faces in small compact clusters (:class:`FaceClusters`).
        adjacency: the edges around each vertex (:class:`EdgeAdjacency`).
    """

    faces: torch.Tensor
    vertex_parts: torch.Tensor
    face_parts: torch.Tensor
    may_touch: torch.Tensor
    edges: torch.Tensor
    face_edges: torch.Tensor
    outward: torch.Tensor
    clusters: "FaceClusters"
    adjacency: "EdgeAdjacency"

    @property
    def num_parts(self) -> int:
        """P, the number of parts (24 for an SMPL body)."""
        return self.may_touch.shape[0]

    def to(self, device: torch.device) -> "PartStructure":
        """The same structure with every tensor on ``device``."""
        return PartStructure(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


@dataclass(frozen=True)
class EdgeAdjacency:
    """The mesh edges around each vertex, as arcs (an edge seen from one of its ends) grouped by
    vertex: vertex v's arcs are ``first_arc[v] .. first_arc[v] + degree[v] - 1``.

    Attributes:
        degree, first_arc: (V,) int64.
        arc_end: (2E,) int64 the vertex each arc leads to.
        arc_edge: (2E,) int64 the edge (index into ``PartStructure.edges``) of each arc.
    """

    degree: torch.Tensor
    first_arc: torch.Tensor
    arc_end: torch.Tensor
    arc_edge: torch.Tensor

    @staticmethod
    def of(edges: torch.Tensor, num_vertices: int) -> "EdgeAdjacency":
        """The adjacency of undirected ``edges`` (E, 2) over ``num_vertices`` vertices."""
        src = torch.cat([edges[:, 0], edges[:, 1]])
        order = src.argsort()
        degree = torch.bincount(src, minlength=num_vertices)
        return EdgeAdjacency(degree=degree, first_arc=degree.cumsum(0) - degree,
                             arc_end=torch.cat([edges[:, 1], edges[:, 0]])[order],
                             arc_edge=torch.arange(edges.shape[0]).repeat(2)[order])

    def to(self, device: torch.device) -> "EdgeAdjacency":
        """The same adjacency with every tensor on ``device``."""
        return EdgeAdjacency(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


# Faces per cluster of the nearest-face search and the fast winding numbers (fastest of 16,
# 32, 64 on the default body in the benchmark poses).
CLUSTER_SIZE = 16


@dataclass(frozen=True)
class FaceClusters:
    """Each part's faces in clusters of up to :data:`CLUSTER_SIZE` neighbours, consecutive in
    Morton order of the rest face centroids. Parts move almost rigidly, so clusters made at
    rest stay compact in any pose; the distance bounds built on them hold on any mesh.

    Attributes:
        cluster_of_face: (F,) int64 cluster of each face.
        cluster_faces: (F,) int64 faces listed cluster by cluster.
        cluster_start, cluster_size: (K,) int64 each cluster's slice of ``cluster_faces``.
        cluster_part: (K,) int64 the part of each cluster (a cluster lies in one part).
        middle_face: (K,) int64 a face in the middle of each cluster.
        part_first_cluster, part_clusters: (P,) int64 each part's range of clusters.
        padded_faces: (K, CLUSTER_SIZE) int64 each cluster's faces, padded with F (one past
            the last face) where the cluster holds fewer.
    """

    cluster_of_face: torch.Tensor
    cluster_faces: torch.Tensor
    cluster_start: torch.Tensor
    cluster_size: torch.Tensor
    cluster_part: torch.Tensor
    middle_face: torch.Tensor
    part_first_cluster: torch.Tensor
    part_clusters: torch.Tensor
    padded_faces: torch.Tensor

    @property
    def num_clusters(self) -> int:
        """K, the number of clusters."""
        return self.cluster_size.shape[0]

    def to(self, device: torch.device) -> "FaceClusters":
        """The same clusters with every tensor on ``device``."""
        return FaceClusters(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def _spread_bits(x: torch.Tensor) -> torch.Tensor:
    """10-bit integers with two zero bits inserted between their bits (Morton interleaving)."""
    x = (x | (x << 16)) & 0x030000FF
    x = (x | (x << 8)) & 0x0300F00F
    x = (x | (x << 4)) & 0x030C30C3
    return (x | (x << 2)) & 0x09249249


def face_clusters(rest_vertices: torch.Tensor, faces: torch.Tensor, face_parts: torch.Tensor,
                  num_parts: int, size: int = CLUSTER_SIZE) -> FaceClusters:
    """Cluster each part's faces (see :class:`FaceClusters`).

    Args:
        rest_vertices: (V, 3); faces: (F, 3) int64; face_parts: (F,) int64 in [0, num_parts).
        num_parts: P; size: faces per cluster (the last of a part may hold fewer).
    """
    centroid = rest_vertices[faces].mean(1)
    low, high = centroid.amin(0), centroid.amax(0)
    grid = ((centroid - low) / (high - low).clamp_min(1e-12) * 1023).long()
    code = _spread_bits(grid[:, 0]) | (_spread_bits(grid[:, 1]) << 1) | (_spread_bits(grid[:, 2]) << 2)
    cluster_faces = (face_parts * (1 << 30) + code).argsort()
    per_part = torch.bincount(face_parts, minlength=num_parts)
    sorted_parts = face_parts[cluster_faces]
    rank = torch.arange(face_parts.numel()) - (per_part.cumsum(0) - per_part)[sorted_parts]
    part_clusters = (per_part + size - 1) // size
    part_first_cluster = part_clusters.cumsum(0) - part_clusters
    sorted_cluster = part_first_cluster[sorted_parts] + rank // size
    cluster_of_face = torch.empty_like(face_parts).scatter_(0, cluster_faces, sorted_cluster)
    cluster_size = torch.bincount(sorted_cluster, minlength=int(part_clusters.sum()))
    cluster_start = cluster_size.cumsum(0) - cluster_size
    padded_faces = torch.full((cluster_size.numel(), size), faces.shape[0], dtype=torch.long)
    padded_faces[sorted_cluster, rank % size] = cluster_faces
    return FaceClusters(padded_faces=padded_faces, 
        cluster_of_face=cluster_of_face, cluster_faces=cluster_faces, cluster_start=cluster_start,
        cluster_size=cluster_size, cluster_part=face_parts[cluster_faces[cluster_start]],
        middle_face=cluster_faces[cluster_start + cluster_size // 2],
        part_first_cluster=part_first_cluster, part_clusters=part_clusters)


def _edges(faces: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Undirected edges of a triangle mesh, each once (E, 2), and for each face the index of
    its edges (v0, v1), (v1, v2), (v2, v0) in that list (F, 3)."""
    e = torch.stack([faces, faces.roll(-1, dims=1)], dim=-1)  # (F, 3, 2)
    edges, inverse = torch.unique(torch.sort(e.reshape(-1, 2), dim=1).values, dim=0, return_inverse=True)
    return edges, inverse.reshape(-1, 3)


def surface_distance_to_parts(
    rest_vertices: torch.Tensor, faces: torch.Tensor, vertex_parts: torch.Tensor,
    num_parts: int, cutoff: float,
) -> torch.Tensor:
    """Edge-graph distance along the rest surface from each vertex to each part.

    Args:
        rest_vertices: (V, 3) metres.
        faces: (F, 3) int64.
        vertex_parts: (V,) int64 in [0, num_parts).
        num_parts: P.
        cutoff: distances beyond it (metres) are not needed and come back as inf.

    Returns:
        (V, P) distances in metres (0 on the part itself, inf beyond ``cutoff``).
    """
    edges, _ = _edges(faces)
    src = torch.cat([edges[:, 0], edges[:, 1]])
    dst = torch.cat([edges[:, 1], edges[:, 0]])
    length = (rest_vertices[src] - rest_vertices[dst]).norm(dim=1)
    dist = torch.full((rest_vertices.shape[0], num_parts), float("inf"), dtype=rest_vertices.dtype)
    dist[torch.arange(len(vertex_parts)), vertex_parts] = 0.0
    # Bellman-Ford relaxation on the edge graph (offline, once per body); distances past
    # the cutoff are dropped so the front stops there.
    for _ in range(rest_vertices.shape[0]):
        relaxed = dist.scatter_reduce(0, dst[:, None].expand(-1, num_parts), dist[src] + length[:, None], "amin")
        relaxed = torch.where(relaxed > cutoff, torch.full_like(relaxed, float("inf")), relaxed)
        if torch.equal(relaxed, dist):
            break
        dist = relaxed
    return dist


def build_part_structure(
    faces: torch.Tensor,
    rest_vertices: torch.Tensor,
    weights: torch.Tensor,
    parents: Sequence[int] = PARENTS,
    surface_gap_m: Optional[float] = None,
) -> PartStructure:
    """Compute the part structure of a body (see the module docstring).

    Args:
        faces: (F, 3) int64 vertex indices.
        rest_vertices: (V, 3) rest-pose vertices in metres.
        weights: (V, P) skinning weights.
        parents: parent of each of the P parts (-1 for the root).
        surface_gap_m: rest geodesic distance (metres) under which two parts may touch;
            ``configs/self_penetration.yaml`` (``parts.surface_gap_m``) when None.

    Returns:
        the PartStructure on the CPU.
    """
    sizes = check_shape(faces, "F 3", "faces")
    check_shape(rest_vertices, "V 3", "rest_vertices", sizes)
    check_shape(weights, "V P", "weights", sizes)
    num_parts = weights.shape[1]
    if len(parents) != num_parts:
        raise BodyModelError(f"parents: expected {num_parts} entries (one per weight column), got {len(parents)}")
    if surface_gap_m is None:
        surface_gap_m = float(load_config("self_penetration")["parts"]["surface_gap_m"])
    faces = faces.detach().cpu().long()
    rest = rest_vertices.detach().cpu().double()
    weights = weights.detach().cpu().double()
    vertex_parts = weights.argmax(1)
    face_parts = weights[faces].sum(1).argmax(1)

    may_touch = torch.eye(num_parts, dtype=torch.bool)
    for child, parent in enumerate(parents):
        if parent >= 0:
            may_touch[child, parent] = may_touch[parent, child] = True
    # Joined on the mesh: a vertex used by faces of several parts joins all of them.
    vertex_face_parts = torch.zeros(rest.shape[0], num_parts, dtype=torch.bool)
    vertex_face_parts[faces.reshape(-1), face_parts.repeat_interleave(3)] = True
    joined = vertex_face_parts.double()
    may_touch |= (joined.T @ joined) > 0
    # Close on the rest surface (vertex labels and face labels both count as presence).
    presence = vertex_face_parts.clone()
    presence[torch.arange(len(vertex_parts)), vertex_parts] = True
    dist = surface_distance_to_parts(rest, faces, vertex_parts, num_parts, surface_gap_m)
    near = dist < surface_gap_m  # (V, P): vertex v lies within the gap of part p
    may_touch |= (presence.double().T @ near.double()) > 0
    may_touch |= may_touch.clone().T
    edges, face_edges = _edges(faces)
    a, b, c = rest[faces].unbind(1)
    volume = torch.linalg.cross(a, b, dim=-1).mul(c).sum() / 6.0
    return PartStructure(faces=faces, vertex_parts=vertex_parts, face_parts=face_parts, may_touch=may_touch,
                         edges=edges, face_edges=face_edges, outward=torch.sign(volume).float(),
                         clusters=face_clusters(rest, faces, face_parts, num_parts),
                         adjacency=EdgeAdjacency.of(edges, rest.shape[0]))


_CACHE: "weakref.WeakKeyDictionary[torch.nn.Module, Dict[str, PartStructure]]" = weakref.WeakKeyDictionary()
# Structures by the content of the arrays they derive from, so a body loaded again (every
# ``load_body`` makes a new BodyModel) does not rebuild its structure; a few bodies at most.
_BY_CONTENT: "OrderedDict[str, PartStructure]" = OrderedDict()
_MAX_BODIES_BY_CONTENT = 4


def _content_key(body: torch.nn.Module, surface_gap_m: float) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for array in (body.faces, body.v_template, body.weights):
        digest.update(str((array.dtype, tuple(array.shape))).encode())
        digest.update(array.detach().cpu().contiguous().numpy().tobytes())
    digest.update(repr((tuple(body.parents), surface_gap_m)).encode())
    return digest.hexdigest()


def _cached_build(body: torch.nn.Module) -> PartStructure:
    key = _content_key(body, float(load_config("self_penetration")["parts"]["surface_gap_m"]))
    if key not in _BY_CONTENT:
        _BY_CONTENT[key] = build_part_structure(body.faces, body.v_template, body.weights, body.parents)
        while len(_BY_CONTENT) > _MAX_BODIES_BY_CONTENT:
            _BY_CONTENT.popitem(last=False)
    _BY_CONTENT.move_to_end(key)
    return _BY_CONTENT[key]


def part_structure(body: torch.nn.Module, device: Optional[torch.device] = None) -> PartStructure:
    """The part structure of a BodyModel, computed once per body and cached (per device, and
    by the content of its faces, rest vertices and weights across BodyModel instances).

    Args:
        body: a :class:`~humanscore_torch.body.BodyModel` (faces, v_template, weights).
        device: where the tensors should live; the body's device when None.

    Returns:
        the cached PartStructure.
    """
    device = torch.device(device) if device is not None else body.faces.device
    per_device = _CACHE.setdefault(body, {})
    if "cpu" not in per_device:
        if body.weights.shape[1] != NUM_JOINTS:
            raise BodyModelError(f"{body.name}: expected skinning weights over {NUM_JOINTS} joints, "
                                 f"got {body.weights.shape[1]}")
        per_device["cpu"] = _cached_build(body)
    key = str(device)
    if key not in per_device:
        per_device[key] = per_device["cpu"].to(device)
    return per_device[key]
