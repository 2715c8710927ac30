"""Self-penetration on small meshes built here: the exact test and point-triangle distance
against libigl, detection and depth on two spheres, the penalty's gradient, the metric."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from humanscore_torch.body.parts import build_part_structure
from humanscore_torch.errors import HumanScoreError
from humanscore_torch.functional.self_penetration import (
    find_inside_vertices,
    find_self_intersections,
    point_triangle_sq_distance,
    self_penetration,
    self_penetration_penalty,
    triangles_intersect,
)

igl = pytest.importorskip("igl", reason="libigl (the `test` extra) is the exact oracle")


def uv_sphere(radius: float = 1.0, rings: int = 8, segments: int = 12):
    """A closed, outward-oriented sphere mesh: (V, 3) float64 vertices, (F, 3) int64 faces."""
    theta = torch.linspace(0, math.pi, rings + 1, dtype=torch.float64)[1:-1]
    phi = torch.arange(segments, dtype=torch.float64) * 2 * math.pi / segments
    ring = torch.stack([theta.sin()[:, None] * phi.cos(), theta.cos()[:, None].expand(-1, segments),
                        theta.sin()[:, None] * phi.sin()], dim=-1).reshape(-1, 3)
    vertices = torch.cat([torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64), ring,
                          torch.tensor([[0.0, -1.0, 0.0]], dtype=torch.float64)]) * radius
    faces = []
    ring_index = lambda r, s: 1 + r * segments + s % segments  # noqa: E731
    for s in range(segments):
        faces.append([0, ring_index(0, s + 1), ring_index(0, s)])
        for r in range(rings - 2):
            a, b = ring_index(r, s), ring_index(r, s + 1)
            c, d = ring_index(r + 1, s), ring_index(r + 1, s + 1)
            faces += [[a, b, d], [a, d, c]]
        faces.append([len(vertices) - 1, ring_index(rings - 2, s), ring_index(rings - 2, s + 1)])
    return vertices, torch.tensor(faces, dtype=torch.int64)


def two_spheres(radius: float = 0.1, rings: int = 8, segments: int = 12):
    """Two spheres as two parts of one mesh that may not touch (rest: 1 m apart along x)."""
    v, f = uv_sphere(radius, rings, segments)
    rest = torch.cat([v, v + torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)])
    faces = torch.cat([f, f + len(v)])
    weights = torch.zeros(len(rest), 2, dtype=torch.float64)
    weights[: len(v), 0] = weights[len(v):, 1] = 1.0
    structure = build_part_structure(faces, rest, weights, parents=(-1, -1), surface_gap_m=0.03)
    return v, faces, structure


def place(v: torch.Tensor, gap: torch.Tensor) -> torch.Tensor:
    """(N, 2V, 3): the first sphere at the origin, the second turned by a fixed generic rotation
    (no symmetric ties between the two meshes) and centred at (gap, 0.003, 0.002)."""
    turn = torch.linalg.matrix_exp(torch.tensor([[0.0, -0.3, 0.2], [0.3, 0.0, -0.1], [-0.2, 0.1, 0.0]],
                                                dtype=torch.float64))
    centre = torch.stack([gap, torch.full_like(gap, 0.003), torch.full_like(gap, 0.002)], -1)
    return torch.cat([v[None].expand(len(gap), -1, -1), (v @ turn.T)[None] + centre[:, None]], dim=1)


def igl_pairs(vertices: np.ndarray, faces: np.ndarray, may_touch: np.ndarray, face_parts: np.ndarray):
    """Intersecting face pairs of parts that may not touch, by CGAL's exact predicates."""
    cgal = pytest.importorskip("igl.copyleft.cgal")
    found = cgal.remesh_self_intersections(vertices, faces, detect_only=True, cutoff=10**9)[2]
    return {tuple(sorted(p)) for p in found.tolist()
            if p[0] != p[1] and not may_touch[face_parts[p[0]], face_parts[p[1]]]}


def test_triangle_test_matches_libigl_on_random_pairs():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(3000, 3, 3))
    second = rng.normal(size=(3000, 3, 3)) * 0.7 + rng.normal(size=(3000, 1, 3)) * 0.5
    mine = triangles_intersect(torch.tensor(first), torch.tensor(second)).numpy()
    oracle = np.array([igl.tri_tri_intersection_test_3d(*(t[i:i + 1] for t in (a, b) for i in range(3)))[0]
                       for a, b in zip(first, second)])
    assert 0.1 < oracle.mean() < 0.9  # both verdicts well represented
    np.testing.assert_array_equal(mine, oracle)


def test_triangle_test_rejects_degenerate_and_sees_shared_vertex_touching():
    tri = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]], dtype=torch.float64)
    flat = torch.tensor([[[0.2, 0.2, -1], [0.2, 0.2, 1], [0.2, 0.2, 0.5]]], dtype=torch.float64)  # zero area
    through = torch.tensor([[[0.2, 0.2, -1], [0.3, 0.2, 1], [0.2, 0.4, 1]]], dtype=torch.float64)
    touching = torch.tensor([[[0.0, 0, 0], [0, 0, 1], [-1, 0, 1]]], dtype=torch.float64)
    assert not triangles_intersect(tri, flat).item()
    assert triangles_intersect(tri, through).item()
    assert triangles_intersect(tri, touching).item()


def test_point_triangle_distance_matches_libigl():
    rng = np.random.default_rng(1)
    points, triangles = rng.normal(size=(500, 3)), rng.normal(size=(500, 3, 3))
    mine = point_triangle_sq_distance(torch.tensor(points), torch.tensor(triangles)).numpy()
    oracle = [igl.point_mesh_squared_distance(p[None], t, np.array([[0, 1, 2]]))[0][0]
              for p, t in zip(points, triangles)]
    np.testing.assert_allclose(mine, oracle, rtol=1e-9, atol=1e-12)


def test_two_spheres_detection_matches_cgal_and_depth_tracks_overlap():
    v, faces, structure = two_spheres()
    gaps = torch.tensor([0.5, 0.21, 0.19, 0.17, 0.15, 0.12, 0.1], dtype=torch.float64)
    meshes = place(v, gaps)
    hits = find_self_intersections(meshes, structure)
    for n in range(len(gaps)):
        mine = set(zip(hits.face_a[hits.frame == n].tolist(), hits.face_b[hits.frame == n].tolist()))
        oracle = igl_pairs(meshes[n].numpy(), faces.numpy(), structure.may_touch.numpy(),
                           structure.face_parts.numpy())
        assert mine == oracle
    frames_hit = set(hits.frame.tolist())
    assert frames_hit == set(range(2, len(gaps)))  # apart at 0.5 and 0.21 (2 r = 0.2)
    inside = find_inside_vertices(meshes, structure, hits)
    depth = torch.zeros(len(gaps), dtype=torch.float64).scatter_reduce(0, inside.frame, inside.depth, "amax")
    # The deepest vertex of one sphere in the other lies within one ring spacing (pi / 8) of
    # the point facing it, and the other polygonal sphere lies inside its true sphere by at most
    # r (1 - cos(pi / 8)): each costs up to r (1 - cos(pi / 8)) of the true depth 2 r - gap.
    expected = 0.2 - gaps[2:]
    assert torch.all(depth[2:].diff() > 0)
    assert torch.all(depth[2:] <= expected + 1e-9)
    assert torch.all(depth[2:] >= expected - 2 * 0.1 * (1 - math.cos(math.pi / 8)))


def test_inside_vertices_match_winding_numbers():
    v, faces, structure = two_spheres()
    meshes = place(v, torch.tensor([0.13], dtype=torch.float64))
    inside = find_inside_vertices(meshes, structure, find_self_intersections(meshes, structure))
    mesh, half, first_faces, second_faces = meshes[0].numpy(), len(v), faces[: len(faces) // 2], faces[len(faces) // 2:]
    # Each sphere's vertices against the other sphere's closed surface.
    winding = np.concatenate([igl.winding_number(mesh, second_faces.numpy(), mesh[:half]),
                              igl.winding_number(mesh, first_faces.numpy(), mesh[half:])])
    assert set(inside.vertex.tolist()) == set(np.nonzero(np.abs(winding) > 0.5)[0].tolist())


def test_penalty_gradcheck_float64():
    v, faces, structure = two_spheres(rings=4, segments=6)
    meshes = place(v, torch.tensor([0.13], dtype=torch.float64)).requires_grad_(True)
    assert self_penetration_penalty(meshes, structure) > 0
    assert torch.autograd.gradcheck(lambda x: self_penetration_penalty(x, structure), (meshes,))


def test_penalty_is_zero_apart_and_its_gradient_separates_the_spheres():
    v, faces, structure = two_spheres()
    apart = place(v, torch.tensor([0.25], dtype=torch.float64)).requires_grad_(True)
    assert self_penetration_penalty(apart, structure).item() == 0.0
    gap = torch.tensor([0.14], dtype=torch.float64, requires_grad=True)
    self_penetration_penalty(place(v, gap), structure).backward()
    assert gap.grad.item() < 0  # increasing the gap lowers the penalty


def test_masked_frames_never_count_and_depth_is_in_mm():
    v, faces, structure = two_spheres()
    meshes = place(v, torch.tensor([0.5, 0.12, 0.12], dtype=torch.float64))[None]
    mask = torch.tensor([[True, True, False]])
    out = self_penetration(meshes, mask, structure)
    assert out["penetrating"].tolist() == [[False, True, False]]
    assert out["raw"].item() == pytest.approx(0.5)
    assert 60 < out["depth_mm"][0, 1].item() < 90  # about 2 r - gap = 80 mm
    assert out["depth_mm"][0, 2].item() == 0.0
    assert out["num_face_pairs"][0, 2].item() == 0 and out["num_face_pairs"][0, 1].item() > 0
    pair = out["pair_depth_mm"][0, 1]
    assert pair[0, 1].item() > 60 and pair[1, 0].item() > 60 and pair.diagonal().sum().item() == 0



@pytest.mark.parametrize("band_m, joined", [(0.02, True), (0.06, False)])
def test_parts_separated_by_a_thin_band_may_touch(band_m, joined):
    # A strip along x, 1 cm grid: part 0 for x < 0.1, part 1 a band of width band_m, part 2 after.
    xs = torch.arange(0, 0.3001, 0.01, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(xs, torch.tensor([0.0, 0.01], dtype=torch.float64), indexing="ij"), -1)
    rest = torch.cat([grid.reshape(-1, 2), torch.zeros(grid[..., :1].numel(), 1, dtype=torch.float64)], 1)
    i = torch.arange(len(xs) - 1)
    faces = torch.cat([torch.stack([2 * i, 2 * i + 2, 2 * i + 3], 1), torch.stack([2 * i, 2 * i + 3, 2 * i + 1], 1)])
    part = (rest[:, 0] > 0.1 + 1e-9).long() + (rest[:, 0] > 0.1 + band_m + 1e-9).long()
    weights = torch.nn.functional.one_hot(part, 3).double()
    structure = build_part_structure(faces, rest, weights, parents=(-1, -1, -1), surface_gap_m=0.03)
    assert structure.may_touch[0, 1] and structure.may_touch[1, 2]  # joined on the mesh
    assert bool(structure.may_touch[0, 2]) == joined


def test_loss_masks_frames_and_averages():
    from humanscore_torch.losses.self_penetration import SelfPenetrationLoss

    v, faces, structure = two_spheres()
    meshes = place(v, torch.tensor([0.12, 0.14, 0.5], dtype=torch.float64))
    mask = torch.tensor([False, True, True])
    loss = SelfPenetrationLoss(structure, reduction="mean")(meshes, mask)
    expected = self_penetration_penalty(meshes[1:2], structure) / 2
    assert loss.item() == pytest.approx(expected.item()) and loss.item() > 0
    with pytest.raises(HumanScoreError):
        SelfPenetrationLoss(structure, reduction="max")
