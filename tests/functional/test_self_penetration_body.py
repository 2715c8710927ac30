"""Self-penetration on the default body (or the SMPL file in $HUMANSCORE_SMPL_FILE): agreement
with libigl/CGAL on 300 posed meshes, rest and clean clips, the arm-through-torso defect,
gradient descent on the pose, the suite entry."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

from humanscore_torch.bench.poses import POSE_KINDS, benchmark_poses
from humanscore_torch.body import BodyModel
from humanscore_torch.body.files import DEFAULT_BODY_PATH
from humanscore_torch.body.parts import PartStructure, part_structure
from humanscore_torch.body.skeleton import JOINT_INDEX, PARENTS
from humanscore_torch.config import load_config
from humanscore_torch.motion import MotionBatch
from humanscore_torch.rotations import rotmat_to_rotvec, rotvec_to_rotmat
from humanscore_torch.functional.self_penetration import (
    find_self_intersections,
    self_penetration,
    self_penetration_penalty,
)

TOLERANCE_MM = float(load_config("self_penetration")["detection"]["depth_tolerance_mm"])


@pytest.fixture(scope="module")
def body() -> BodyModel:
    path = os.environ.get("HUMANSCORE_SMPL_FILE")
    if path:
        return BodyModel.from_file(path)
    if not DEFAULT_BODY_PATH.exists():
        pytest.skip(f"default body not built yet ({DEFAULT_BODY_PATH})")
    return BodyModel.default()


def pose(body: BodyModel, body_pose: torch.Tensor, global_orient=None) -> torch.Tensor:
    """(N, V, 3) float64 vertices for (N, 23, 3) axis-angle poses."""
    global_orient = body_pose.new_zeros(len(body_pose), 3) if global_orient is None else global_orient
    with torch.no_grad():
        return body(global_orient, body_pose).vertices


def arm_into_torso(size: torch.Tensor, start: float = 0.8) -> torch.Tensor:
    """(N, 23, 3) poses: left arm hanging (abducted 0.25 rad), elbow at 90 deg so the forearm
    points forward, then the shoulder rotated internally by ``start + size`` radians about the
    upper arm, which sweeps the forearm medially into the belly: the defect grows with size.
    On the default body the hand first meets the belly between sizes 0.0 and 0.1."""
    n = len(size)
    hang = rotvec_to_rotmat(torch.tensor([0.0, 0.0, -math.pi / 2 + 0.25], dtype=torch.float64)).expand(n, 3, 3)
    twist = rotvec_to_rotmat(torch.stack([start + size, torch.zeros_like(size), torch.zeros_like(size)], -1))
    body_pose = torch.zeros(n, 23, 3, dtype=torch.float64)
    body_pose[:, JOINT_INDEX["left_shoulder"] - 1] = rotmat_to_rotvec(hang @ twist)
    body_pose[:, JOINT_INDEX["left_elbow"] - 1, 1] = -math.pi / 2
    return body_pose


def reference_pairs(vertices: np.ndarray, structure: PartStructure) -> set:
    """Intersecting face pairs (i < j) of parts that may not touch in one mesh, by libigl's
    CGAL-based exact self-intersection detection, excluding pairs with a face the library
    marks degenerate (it reports such a face paired with itself)."""
    from igl.copyleft.cgal import remesh_self_intersections

    faces = structure.faces.numpy()
    found = remesh_self_intersections(np.ascontiguousarray(vertices, dtype=np.float64), faces,
                                      detect_only=True, cutoff=2**31 - 1)[2]
    degenerate = {i for i, j in found.tolist() if i == j}
    parts, may_touch = structure.face_parts.numpy(), structure.may_touch.numpy()
    return {(min(i, j), max(i, j)) for i, j in found.tolist()
            if i != j and i not in degenerate and j not in degenerate and not may_touch[parts[i], parts[j]]}


def test_part_structure_of_the_body(body):
    structure = part_structure(body)
    assert part_structure(body) is structure  # computed once
    may_touch = structure.may_touch
    assert torch.equal(may_touch, may_touch.T) and bool(may_touch.diagonal().all())
    for child, parent in enumerate(PARENTS[1:], start=1):
        assert may_touch[child, parent]
    index = JOINT_INDEX
    for a, b in [("left_elbow", "spine2"), ("left_wrist", "pelvis"), ("left_hand", "right_hand"),
                 ("left_knee", "right_knee"), ("left_elbow", "right_elbow")]:
        assert not may_touch[index[a], index[b]], (a, b)
    assert structure.outward.item() == 1.0 or structure.outward.item() == -1.0


def test_rest_pose_has_no_self_intersection(body):
    vertices = pose(body, torch.zeros(1, 23, 3, dtype=torch.float64))
    hits = find_self_intersections(vertices, part_structure(body))
    assert hits.frame.numel() == 0
    out = self_penetration(vertices[None], torch.ones(1, 1, dtype=torch.bool), part_structure(body))
    assert out["raw"].item() == 0.0 and out["depth_mm"].item() == 0.0


def test_detection_agrees_with_cgal_on_300_posed_meshes(body):
    global_orient, body_pose, kind = benchmark_poses(300, seed=1)
    vertices = pose(body, body_pose, global_orient)
    structure = part_structure(body)
    hits = find_self_intersections(vertices, structure)
    agree, pairs_match, verdicts = 0, 0, []
    for n in range(len(vertices)):
        chosen = hits.frame == n
        mine = set(zip(hits.face_a[chosen].tolist(), hits.face_b[chosen].tolist()))
        oracle = reference_pairs(vertices[n].numpy(), structure)
        verdicts.append(bool(oracle))
        if bool(mine) == bool(oracle):
            agree += 1
            pairs_match += mine == oracle
    verdicts = np.array(verdicts)
    print(f"frame verdicts agree on {agree}/300; pair sets equal on {pairs_match}/{agree} agreeing frames; "
          f"oracle penetrating frames {verdicts.sum()} "
          f"(per kind {[int(verdicts[kind.numpy() == k].sum()) for k in range(len(POSE_KINDS))]})")
    assert 0.2 < verdicts.mean() < 0.9  # both verdicts well represented
    assert agree >= 297
    assert pairs_match == agree


def test_arm_through_torso_depth_grows_with_the_defect(body):
    sizes = torch.linspace(0.0, 0.7, 8, dtype=torch.float64)
    vertices = pose(body, arm_into_torso(sizes))
    out = self_penetration(vertices[None], torch.ones(1, len(sizes), dtype=torch.bool), part_structure(body))
    depth = out["depth_mm"][0]
    print("arm-through-torso depth (mm) per size:", [round(d, 1) for d in depth.tolist()])
    assert bool(out["penetrating"][0, -3:].all())  # the larger defects are all detected
    assert torch.all(depth.diff() >= 0)
    assert torch.all(depth[depth > 0].diff() > 0)  # strictly deeper once inside


def test_gradient_descent_on_the_pose_removes_the_penetration(body):
    """Adam on the pose through the body model until no vertex is deeper than a fifth of the
    metric's tolerance inside another part (the metric then reports no penetration)."""
    structure = part_structure(body)
    body_pose = arm_into_torso(torch.tensor([0.7], dtype=torch.float64)).requires_grad_(True)
    global_orient = torch.zeros(1, 3, dtype=torch.float64)
    start = self_penetration(pose(body, body_pose.detach())[None], torch.ones(1, 1, dtype=torch.bool), structure)
    assert start["depth_mm"].item() > TOLERANCE_MM
    optimizer = torch.optim.Adam([body_pose], lr=0.02)
    goal_m2 = (TOLERANCE_MM / 5 / 1000) ** 2  # the penalty is a sum of squared depths (m^2)
    for step in range(101):
        loss = self_penetration_penalty(body(global_orient, body_pose).vertices, structure)
        if loss.item() <= goal_m2:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    end = self_penetration(pose(body, body_pose.detach())[None], torch.ones(1, 1, dtype=torch.bool), structure)
    print(f"penetration of {start['depth_mm'].item():.1f} mm removed after {step} steps; "
          f"{end['num_face_pairs'].item()} intersecting face pairs left, depth {end['depth_mm'].item():.2f} mm")
    assert step <= 100 and loss.item() <= goal_m2
    assert end["depth_mm"].item() <= TOLERANCE_MM / 5 and not end["penetrating"].any()


def test_clean_synthetic_clips_show_no_penetration(body):
    synthetic = pytest.importorskip("humanscore_torch.synthetic")
    clean = getattr(synthetic, "clean_clips", None)
    if clean is None:
        pytest.skip("humanscore_torch.synthetic has no clean_clips() yet")
    batch = MotionBatch.from_sequences(list(clean().values()))
    vertices = batch.posed(body.float(), need_vertices=True).vertices
    out = self_penetration(vertices, batch.mask, part_structure(body))
    assert out["num_penetrating"].sum().item() == 0


def test_suite_entry_reports_fraction_depth_and_faces(body):
    from humanscore_torch.motion import MotionBatch
    from humanscore_torch.registry import available_metrics

    frames = arm_into_torso(torch.tensor([0.0, 0.5, 0.6], dtype=torch.float64)).float()
    clean = torch.zeros(3, 23, 3)
    batch = MotionBatch.from_sequences([
        {"global_orient": torch.zeros(3, 3), "body_pose": clean},
        {"global_orient": torch.zeros(3, 3), "body_pose": frames},
    ], fps=[30.0, 30.0])
    result = available_metrics()["self_penetration"](batch, body)
    assert result.raw.tolist() == pytest.approx([0.0, 2 / 3])
    assert result.computed.tolist() == [True, True]
    assert result.score[0].item() == 100.0 and result.score[1].item() < 100.0
    details = result.details
    assert details["depth_mm"].shape == (2, 3) and details["faces_involved"].shape == (2, body.faces.shape[0])
    assert details["faces_involved"][0].sum().item() == 0 and details["faces_involved"][1].sum().item() > 0
    assert details["pair_frames"][1].sum().item() >= 2  # at least one part pair, in both frames
    assert details["mean_depth_mm"][1].item() > TOLERANCE_MM


def test_inside_vertices_agree_with_winding_numbers(body):
    igl = pytest.importorskip("igl")
    from humanscore_torch.functional.self_penetration import find_inside_vertices

    structure = part_structure(body)
    vertices = pose(body, arm_into_torso(torch.tensor([0.3, 0.5, 0.7], dtype=torch.float64)))
    hits = find_self_intersections(vertices, structure)
    inside = find_inside_vertices(vertices, structure, hits)
    faces, parts = structure.faces.numpy(), structure.face_parts.numpy()
    checked = disagree = 0
    for n in range(len(vertices)):
        mesh = vertices[n].numpy()
        mine = set(inside.vertex[inside.frame == n].tolist())
        involved = set(hits.part_a[hits.frame == n].tolist()) | set(hits.part_b[hits.frame == n].tolist())
        for part in involved:
            own = np.nonzero(structure.vertex_parts.numpy() == part)[0]
            # Winding number of the faces of every part this one may not touch.
            others = faces[~structure.may_touch[part].numpy()[parts]]
            reference = set(own[np.abs(igl.winding_number(mesh, others, mesh[own])) > 0.5].tolist())
            checked += len(own)
            disagree += len(reference ^ {v for v in mine if structure.vertex_parts[v] == part})
    print(f"inside vertices: {disagree} of {checked} checked disagree with winding numbers")
    assert checked > 0 and disagree <= 0.01 * checked


def test_real_running_trial_inside_vertices_agree_with_winding_numbers(reference_data):
    """The real running trial (Hamner 2010 subject02, imported onto the default body) on a
    slim, long-limbed shape (femininity -2 SD): the thighs brush at the crotch, where part of
    the intersection curve runs over faces of parts that may touch (never tested). The flood
    must not leak from there over the whole leg (it reported a foot 503 mm "inside" the other
    thigh before the winding-number check); the hands that pass through the thighs stay found."""
    igl = pytest.importorskip("igl")
    pytest.importorskip("opensim")
    from humanscore_torch.functional.self_penetration import find_inside_vertices
    from humanscore_torch.validation.trial import RunningTrial

    body = BodyModel.default().double()
    sequence = RunningTrial(reference_data, BodyModel.default()).sequence
    frames = [38, 244, 406]  # hand in thigh, hand in thigh, thighs brushing (the leak)
    betas = torch.tensor([0.0, 0.0, 0.0, -2.0, 0.0], dtype=torch.float64).expand(len(frames), 5)
    with torch.no_grad():
        vertices = body(sequence["global_orient"][frames].double(), sequence["body_pose"][frames].double(),
                        betas).vertices
    structure = part_structure(body)
    hits = find_self_intersections(vertices, structure)
    inside = find_inside_vertices(vertices, structure, hits)
    faces, parts = structure.faces.numpy(), structure.face_parts.numpy()
    vertex_parts = structure.vertex_parts.numpy()
    for n in range(len(frames)):
        mesh = vertices[n].numpy()
        mine = set(inside.vertex[inside.frame == n].tolist())
        involved = set(hits.part_a[hits.frame == n].tolist()) | set(hits.part_b[hits.frame == n].tolist())
        reference = set()
        for part in involved:
            own = np.nonzero(vertex_parts == part)[0]
            others = faces[~structure.may_touch[part].numpy()[parts]]
            reference |= set(own[np.abs(igl.winding_number(mesh, others, mesh[own])) > 0.5].tolist())
        assert mine == reference, f"frame {frames[n]}: {len(mine ^ reference)} vertices disagree"
    depth_mm = 1000 * inside.depth
    brush = depth_mm[inside.frame == 2]
    assert brush.numel() == 0 or float(brush.max()) < TOLERANCE_MM  # the brush is not a penetration
    assert float(depth_mm[inside.frame < 2].max()) > 20.0  # the hands are


def test_suite_entry_posing_in_windows_equals_posing_whole_clips(body, tmp_path):
    """The suite entry poses the mesh a window of frames at a time (memory bounded whatever
    the clip length); with windows of 8 frames, variable lengths and per-sequence betas, every
    output equals the one on the whole clips' vertices."""
    from humanscore_torch import synthetic
    from humanscore_torch.config import config_overrides
    from humanscore_torch.registry import score_metric

    run = synthetic.clean_clip("run", seconds=2.5)
    shape = torch.zeros_like(run["betas"])
    shape[:4] = torch.tensor([1.0, -0.5, 0.0, 0.3])
    sequences = [synthetic.defect_clip("walk", "arm_through_torso", 0.1), {**run, "betas": shape}]
    batch = MotionBatch.from_sequences(sequences)
    whole = self_penetration(batch.posed(body.float(), need_vertices=True).vertices, batch.mask, part_structure(body))
    overrides = tmp_path / "windows.yaml"
    overrides.write_text("self_penetration: {detection: {posing_frames: 16}}\n")
    with config_overrides(overrides):
        windowed = score_metric("self_penetration", MotionBatch.from_sequences(sequences), body.float())
    assert bool(windowed.raw[0] > 0) and float(windowed.raw[1]) == 0.0
    torch.testing.assert_close(windowed.raw, whole["raw"])
    for key in ("depth_mm", "penetrating", "num_face_pairs", "faces_involved", "mean_depth_mm"):
        torch.testing.assert_close(windowed.details[key], whole[key], msg=key)


def test_fast_winding_numbers_match_the_exact_sum(body):
    """The dipole far field of the flood check stays within 0.05 of the exact solid-angle
    sum (2.2e-2 measured), far from the 1/2 threshold: every vertex of the posed body (arm
    pushed through the torso) is classified as the exact sum classifies it."""
    from humanscore_torch.functional.self_penetration import fast_part_winding_numbers, winding_numbers

    structure = part_structure(body)
    vertices = pose(body, arm_into_torso(torch.tensor([0.5], dtype=torch.float64)))
    vertex = torch.arange(0, vertices.shape[1], 7)
    fast = fast_part_winding_numbers(vertices, structure, torch.zeros_like(vertex), vertex)
    exact = torch.stack([winding_numbers(vertices[0, v][None], vertices[0][structure.faces[
        ~structure.may_touch[structure.vertex_parts[v]][structure.face_parts]]]) for v in vertex.tolist()]).squeeze(1)
    print(f"fast winding numbers: largest error {float((fast - exact).abs().max()):.2e} over {len(vertex)} vertices; "
          f"{int((exact > 0.5).sum())} inside")
    assert int((exact > 0.5).sum()) > 0
    torch.testing.assert_close(fast, exact, rtol=0, atol=0.05)
    assert torch.equal(fast.abs() > 0.5, exact.abs() > 0.5)


def hand_into_thigh(size: torch.Tensor) -> torch.Tensor:
    """(N, 23, 3) poses: the left arm hanging at the side with the elbow straight, the wrist
    flexed medially by ``size`` radians: only the hand (wrist and finger parts) turns into the
    left thigh, the forearm stays outside it."""
    n = len(size)
    body_pose = torch.zeros(n, 23, 3, dtype=torch.float64)
    body_pose[:, JOINT_INDEX["left_shoulder"] - 1, 2] = -math.pi / 2 + 0.12
    body_pose[:, JOINT_INDEX["left_wrist"] - 1, 2] = -size
    return body_pose


def test_unmeasured_hands_are_left_out_and_the_arm_is_not(body):
    """A sequence whose metadata lists the wrists as unmeasured (OpenSim models lock them) is
    not charged for the hand inside the thigh, and still is for the forearm inside the torso;
    the same frames without the listing are charged for both. Batched with a sequence that
    lists nothing, which keeps its own verdict."""
    from humanscore_torch.registry import available_metrics

    hand = hand_into_thigh(torch.tensor([0.0, 0.6, 0.9], dtype=torch.float64)).float()
    arm = arm_into_torso(torch.tensor([0.0, 0.5, 0.6], dtype=torch.float64)).float()
    poses = torch.cat([hand, arm])
    sequences = [{"global_orient": torch.zeros(6, 3), "body_pose": poses} for _ in range(2)]
    sequences[0]["metadata"] = {"unmeasured_joints": "left_wrist,right_wrist"}
    batch = MotionBatch.from_sequences(sequences, fps=[30.0, 30.0])
    result = available_metrics()["self_penetration"](batch, body)
    penetrating = result.details["penetrating"]
    assert penetrating[1].tolist() == [False, True, True, False, True, True]  # nothing left out
    assert penetrating[0].tolist() == [False, False, False, False, True, True]  # the hand left out
    wrist, elbow = JOINT_INDEX["left_wrist"], JOINT_INDEX["left_elbow"]
    assert int(result.details["pair_frames"][1, wrist].sum()) >= 2
    assert int(result.details["pair_frames"][0, wrist].sum()) == 0
    assert int(result.details["pair_frames"][0, :, wrist].sum()) == 0
    assert int(result.details["pair_frames"][0, elbow].sum()) >= 2  # the forearm in the torso still counts


def test_unmeasured_joints_become_subtrees_of_parts_and_unknown_names_are_rejected():
    from humanscore_torch.errors import InputValueError
    from humanscore_torch.functional.self_penetration import unchecked_parts_from_joints

    rest = {"global_orient": torch.zeros(2, 3), "body_pose": torch.zeros(2, 23, 3), "fps": 30.0}
    assert MotionBatch.from_sequences([rest, {**rest, "metadata": {"unmeasured_joints": ""}}]).unmeasured_joints is None
    typed = MotionBatch.from_sequences([{**rest, "unmeasured_joints": ("left_wrist", "neck")}, rest])
    listed = MotionBatch.from_sequences([{**rest, "metadata": {"unmeasured_joints": "left_wrist, neck"}}, rest])
    assert torch.equal(typed.unmeasured_joints, listed.unmeasured_joints)
    parts = unchecked_parts_from_joints(typed.unmeasured_joints, 24)
    left_out = {JOINT_INDEX[n] for n in ("left_wrist", "left_hand", "neck", "head")}
    assert parts.shape == (2, 24) and parts.dtype == torch.bool
    assert set(parts[0].nonzero().squeeze(1).tolist()) == left_out and not bool(parts[1].any())
    with pytest.raises(InputValueError, match="left_pinky"):
        MotionBatch.from_sequences([{**rest, "unmeasured_joints": ("left_pinky",)}])
    with pytest.raises(InputValueError, match="left_pinky"):
        MotionBatch.from_sequences([{**rest, "metadata": {"unmeasured_joints": "left_pinky"}}])


def test_nearest_part_faces_equal_brute_force_on_contact_heavy_poses(body):
    from humanscore_torch.functional.penetration_depth import nearest_part_faces, nearest_part_faces_naive

    structure = part_structure(body)
    global_orient, body_pose, kind = benchmark_poses(20, seed=2)
    contact = kind != POSE_KINDS.index("relaxed")
    vertices = pose(body, body_pose[contact], global_orient[contact]).float()
    g = torch.Generator().manual_seed(0)
    queries = 400
    slot = torch.randint(len(vertices), (queries,), generator=g)
    vertex = torch.randint(vertices.shape[1], (queries,), generator=g)
    # Targets: parts the vertex's part may not touch (what the inside search asks for).
    allowed = ~structure.may_touch[structure.vertex_parts[vertex]]
    target = torch.multinomial(allowed.double(), 1, generator=g)[:, 0]
    fast = nearest_part_faces(vertices, structure, slot, vertex, target)
    naive = nearest_part_faces_naive(vertices, structure, slot, vertex, target)
    assert torch.equal(fast[0], naive[0]) and torch.equal(fast[1], naive[1])
    assert bool((structure.face_parts[fast[1]] == target).all())


def test_inside_decisions_equal_the_exact_winding_number_on_contact_heavy_poses(body):
    from humanscore_torch.functional.penetration_winding import inside_by_winding, part_winding_numbers

    structure = part_structure(body)
    global_orient, body_pose, kind = benchmark_poses(10, seed=4)
    contact = kind != POSE_KINDS.index("relaxed")
    vertices = pose(body, body_pose[contact], global_orient[contact]).float()[:2]
    g = torch.Generator().manual_seed(1)
    slot = torch.randint(len(vertices), (600,), generator=g)
    vertex = torch.randint(vertices.shape[1], (600,), generator=g)
    # Vertices that sink into another part are the ones that matter: add every crossing end.
    hits = find_self_intersections(vertices, structure)
    ends = structure.faces[hits.face_a].reshape(-1)
    slot = torch.cat([slot, hits.frame.repeat_interleave(3)])
    vertex = torch.cat([vertex, ends])
    exact = part_winding_numbers(vertices, structure, slot, vertex).abs() > 0.5
    assert bool(exact.any()) and not bool(exact.all())
    assert torch.equal(inside_by_winding(vertices, structure, slot, vertex), exact)
