"""Benchmark of self-penetration detection on the default body, against an exact CPU library.

``python -m humanscore_torch.bench_self_penetration [--frames N] [--device D] [--json FILE]``
poses the default body in a fixed mix of poses (:func:`benchmark_poses`: relaxed random
poses, crossed arms, hand in torso, knees crossing, deep squat), then times

* this project's detection (:func:`~humanscore_torch.functional.self_penetration.self_penetration`:
  broad phase, exact test, depth) on all frames in one call;
* the reference a user would otherwise write: a per-frame loop calling libigl's CGAL-based
  ``remesh_self_intersections(detect_only=True)`` (exact predicates) on the whole mesh and
  keeping the pairs of parts that may not touch (needs ``libigl``; skipped without it).

and prints frames per second of both and their ratio.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from .body.model import BodyModel
from .body.parts import PartStructure, part_structure
from .body.skeleton import JOINT_INDEX
from .functional.self_penetration import find_self_intersections, self_penetration

POSE_KINDS = ("relaxed", "crossed_arms", "hand_in_torso", "knees_crossing", "deep_squat")


def benchmark_poses(frames: int, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A reproducible mix of poses, equal shares of each kind in :data:`POSE_KINDS`.

    Axis-angle, SMPL joint frames at rest aligned with the world (y up, facing +z, left at +x):
    hip flexion is a rotation about -x, knee flexion about +x, left elbow flexion about -y.

    Args:
        frames: N, number of poses.
        seed: random seed.

    Returns:
        global_orient (N, 3), body_pose (N, 23, 3) in radians (float64), kind (N,) int64 index
        into :data:`POSE_KINDS`.
    """
    g = torch.Generator().manual_seed(seed)
    kind = torch.arange(frames) % len(POSE_KINDS)
    pose = torch.randn(frames, 23, 3, generator=g, dtype=torch.float64) * 0.12

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(frames, generator=g, dtype=torch.float64)

    def where(k: str, value: torch.Tensor, joint: str, axis: int) -> None:
        chosen = kind == POSE_KINDS.index(k)
        pose[chosen, JOINT_INDEX[joint] - 1, axis] = value[chosen]

    # Relaxed: arms lowered, elbows and knees bent by random plausible amounts.
    where("relaxed", uniform(-1.4, -0.6), "left_shoulder", 2)
    where("relaxed", uniform(0.6, 1.4), "right_shoulder", 2)
    where("relaxed", uniform(-1.5, 0.0), "left_elbow", 1)
    where("relaxed", uniform(0.0, 1.5), "right_elbow", 1)
    where("relaxed", uniform(-1.0, 0.3), "left_hip", 0)
    where("relaxed", uniform(-1.0, 0.3), "right_hip", 0)
    where("relaxed", uniform(0.0, 1.5), "left_knee", 0)
    where("relaxed", uniform(0.0, 1.5), "right_knee", 0)
    # Crossed arms: both arms forward and across the chest, forearms folded.
    where("crossed_arms", uniform(-1.9, -1.3), "left_shoulder", 1)
    where("crossed_arms", uniform(1.3, 1.9), "right_shoulder", 1)
    where("crossed_arms", uniform(-0.5, -0.2), "left_shoulder", 2)
    where("crossed_arms", uniform(0.2, 0.5), "right_shoulder", 2)
    where("crossed_arms", uniform(-1.8, -1.0), "left_elbow", 1)
    where("crossed_arms", uniform(1.0, 1.8), "right_elbow", 1)
    # Hand in torso: arm lowered and forward, elbow folded medially into the chest/belly.
    where("hand_in_torso", uniform(-0.9, -0.4), "left_shoulder", 2)
    where("hand_in_torso", uniform(-1.0, -0.5), "left_shoulder", 1)
    where("hand_in_torso", uniform(-2.5, -1.8), "left_elbow", 1)
    where("hand_in_torso", uniform(0.4, 0.9), "right_shoulder", 2)
    where("hand_in_torso", uniform(0.5, 1.0), "right_shoulder", 1)
    where("hand_in_torso", uniform(1.8, 2.5), "right_elbow", 1)
    # Knees crossing: both legs adducted past the midline, slightly flexed.
    where("knees_crossing", uniform(-0.6, -0.25), "left_hip", 2)
    where("knees_crossing", uniform(0.25, 0.6), "right_hip", 2)
    where("knees_crossing", uniform(-0.5, 0.0), "left_hip", 0)
    where("knees_crossing", uniform(-0.5, 0.0), "right_hip", 0)
    where("knees_crossing", uniform(-1.4, -0.8), "left_shoulder", 2)
    where("knees_crossing", uniform(0.8, 1.4), "right_shoulder", 2)
    # Deep squat: hips and knees folded, trunk leaning forward, arms forward.
    for side in ("left", "right"):
        where("deep_squat", uniform(-2.3, -1.8), f"{side}_hip", 0)
        where("deep_squat", uniform(2.0, 2.5), f"{side}_knee", 0)
        where("deep_squat", uniform(-0.4, 0.0), f"{side}_ankle", 0)
    where("deep_squat", uniform(0.2, 0.6), "spine1", 0)
    where("deep_squat", uniform(-1.6, -1.2), "left_shoulder", 1)
    where("deep_squat", uniform(1.2, 1.6), "right_shoulder", 1)
    global_orient = torch.randn(frames, 3, generator=g, dtype=torch.float64) * 0.3
    return global_orient, pose, kind


def reference_pairs(vertices: np.ndarray, structure: PartStructure) -> set:
    """The reference: intersecting face pairs (i < j) of parts that may not touch in one mesh,
    by libigl's CGAL-based exact self-intersection detection, excluding pairs with a face the
    library marks degenerate (it reports such a face paired with itself)."""
    from igl.copyleft.cgal import remesh_self_intersections

    faces = structure.faces.numpy()
    found = remesh_self_intersections(np.ascontiguousarray(vertices, dtype=np.float64), faces,
                                      detect_only=True, cutoff=2**31 - 1)[2]
    degenerate = {i for i, j in found.tolist() if i == j}
    parts, may_touch = structure.face_parts.numpy(), structure.may_touch.numpy()
    return {(min(i, j), max(i, j)) for i, j in found.tolist()
            if i != j and i not in degenerate and j not in degenerate and not may_touch[parts[i], parts[j]]}


def run(frames: int = 100, device: str = "cpu", seed: int = 0, body: Optional[BodyModel] = None) -> Dict[str, float]:
    """Time both detections on the same frames; returns frames per second and the ratio."""
    body = BodyModel.default() if body is None else body
    body = body.to(device)
    global_orient, body_pose, _ = benchmark_poses(frames, seed)
    with torch.no_grad():
        vertices = body(global_orient.float().to(device), body_pose.float().to(device)).vertices
    structure = part_structure(body, vertices.device)
    mask = torch.ones(1, frames, dtype=torch.bool, device=device)
    self_penetration(vertices[:2][None], mask[:, :2], structure)  # warm-up
    if vertices.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = self_penetration(vertices[None], mask, structure)
    if vertices.is_cuda:
        torch.cuda.synchronize()
    ours = frames / (time.perf_counter() - start)
    # Detection alone (broad phase + exact test), the part the reference also does.
    start = time.perf_counter()
    find_self_intersections(vertices, structure)
    if vertices.is_cuda:
        torch.cuda.synchronize()
    detection = frames / (time.perf_counter() - start)
    result = {"frames": frames, "device": device, "frames_per_second": ours,
              "detection_frames_per_second": detection, "penetrating_frames": int(out["penetrating"].sum())}
    try:
        import igl.copyleft.cgal  # noqa: F401
    except ImportError:
        return result
    cpu_vertices = vertices.double().cpu().numpy()
    cpu_structure = structure.to(torch.device("cpu"))
    start = time.perf_counter()
    for mesh in cpu_vertices:
        reference_pairs(mesh, cpu_structure)
    reference = frames / (time.perf_counter() - start)
    result.update(reference_frames_per_second=reference, speedup_vs_reference=ours / reference,
                  detection_speedup_vs_reference=detection / reference)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run(args.frames, args.device)
    print(f"self_penetration on the default body, {result['frames']} frames, device {result['device']}:")
    print(f"  humanscore_torch      {result['frames_per_second']:8.1f} frames/s with depth "
          f"({result['penetrating_frames']} penetrating frames), "
          f"{result['detection_frames_per_second']:.1f} frames/s detection only")
    if "reference_frames_per_second" in result:
        print(f"  libigl/CGAL reference {result['reference_frames_per_second']:8.1f} frames/s (per-frame loop)")
        print(f"  speedup               {result['speedup_vs_reference']:8.2f}x with depth, "
              f"{result['detection_speedup_vs_reference']:.2f}x detection only")
    else:
        print("  libigl not installed: no reference timing")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0 if math.isfinite(result["frames_per_second"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
