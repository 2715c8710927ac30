"""The clips the benchmark scores: SMPL parameter sequences of a fixed length, with synthetic
artifact detections, the same for this project and for the reference pipeline.

Categories (:data:`CATEGORIES`), reported separately because self-penetration's cost follows
the amount of contact:

* ``natural``: the clean synthetic clips (:data:`humanscore_torch.synthetic.CLIP_NAMES` in turn):
  walking, running, jumping, arm swings, squats, turns; little or no self-contact;
* ``contact``: heavy self-contact, a slow interpolation between random keyframe poses of one
  contact kind of :func:`~.poses.benchmark_poses` per clip (crossed arms, hand in torso, knees
  crossing, deep squat in turn): hundreds of candidate face pairs per frame;
* ``penetration``: the ``arm_through_torso`` defect of :mod:`humanscore_torch.synthetic` on the
  clean clips, each of its sizes in turn;
* ``extreme_shapes``: the natural clips on bodies with every shape coefficient at +5 (even
  clips) or -5 (odd clips).

Clips are cut or extended (played forwards and backwards) to the asked number of frames.
Precomputed joints are dropped so that every pipeline poses the body from the parameters.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Tuple

import torch

from .. import synthetic
from ..detectors import HADM_CLASSES
from .poses import POSE_KINDS, benchmark_poses

CATEGORIES = ("natural", "contact", "penetration", "extreme_shapes")
CONTACT_KINDS = tuple(k for k in POSE_KINDS if k != "relaxed")
# Shape coefficient of the extreme_shapes clips (every coefficient, sign alternating by clip).
EXTREME_BETA = 5.0
_PENETRATION_DEFECT = "arm_through_torso"
_PER_FRAME = ("global_orient", "body_pose", "transl")
# Keyframe spacing of the contact clips (frames) and their number of keyframes (a fixed
# number, so that a shorter clip is the start of a longer one).
_KEY_SPACING = 15
_KEYFRAMES = 42
# How sharply detections peak: each class exceeds 0.5 in ~2 % of frames (u^30 > 0.5), so
# about a third of the frames are flagged.
_DETECTION_POWER = 30.0


def _fit_length(sequence: Dict[str, Any], frames: int) -> Dict[str, Any]:
    """The sequence cut or extended to ``frames`` frames (forwards, backwards, forwards...)."""
    n = int(torch.as_tensor(sequence["body_pose"]).shape[0])
    period = max(2 * n - 2, 1)
    t = torch.arange(frames) % period
    index = torch.where(t < n, t, period - t)
    out = {k: v for k, v in sequence.items() if k not in _PER_FRAME + ("joints", "vertices", "betas")}
    for key in _PER_FRAME:
        if sequence.get(key) is not None:
            out[key] = torch.as_tensor(sequence[key], dtype=torch.float32)[index]
    betas = sequence.get("betas")
    if betas is not None:
        betas = torch.as_tensor(betas, dtype=torch.float32)
        out["betas"] = betas[index] if betas.dim() == 2 else betas
    return out


def _contact_clip(i: int, fps: float) -> Dict[str, Any]:
    """Linear interpolation (in axis-angle) between keyframes of one contact kind, in place."""
    kind = CONTACT_KINDS[i % len(CONTACT_KINDS)]
    global_orient, body_pose, kinds = benchmark_poses(len(POSE_KINDS) * _KEYFRAMES, seed=1000 + i)
    chosen = kinds == POSE_KINDS.index(kind)
    global_orient, body_pose = global_orient[chosen], body_pose[chosen]
    frames = (_KEYFRAMES - 1) * _KEY_SPACING
    position = torch.arange(frames, dtype=torch.float64) / _KEY_SPACING
    low = position.floor().long()
    w = (position - low)[:, None]
    orient = (1 - w) * global_orient[low] + w * global_orient[low + 1]
    pose = (1 - w[..., None]) * body_pose[low] + w[..., None] * body_pose[low + 1]
    return {"global_orient": orient, "body_pose": pose, "transl": torch.zeros(frames, 3, dtype=torch.float64),
            "betas": torch.zeros(10), "fps": fps, "metadata": {"name": f"contact_{kind}_{i}"}}


def _base_clip(category: str, i: int, fps: float) -> Dict[str, Any]:
    names = synthetic.CLIP_NAMES
    if category in ("natural", "extreme_shapes"):
        clip = synthetic.clean_clip(names[i % len(names)], fps=fps)
        if category == "extreme_shapes":
            clip["betas"] = torch.full((10,), EXTREME_BETA * (-1.0) ** i)
        return clip
    if category == "contact":
        return _contact_clip(i, fps)
    if category == "penetration":
        sizes = synthetic.DEFECT_SIZES[_PENETRATION_DEFECT]
        return synthetic.defect_clip(names[i % len(names)], _PENETRATION_DEFECT, sizes[i % len(sizes)], fps=fps, seed=i)
    raise ValueError(f"category: expected one of {CATEGORIES}, got {category!r}")


def detections(i: int, frames: int) -> torch.Tensor:
    """(frames, 18) synthetic detector confidences in [0, 1] for clip ``i`` (reproducible)."""
    g = torch.Generator().manual_seed(7919 * (i + 1))
    return torch.rand(frames, len(HADM_CLASSES), generator=g) ** _DETECTION_POWER


def bench_clip(i: int, frames: int, fps: float = 30.0, category: str = "natural") -> Dict[str, Any]:
    """Clip ``i`` of a benchmark category, ``frames`` long, as a sequence dict with ``detections``."""
    base = _base_clip(category, i, fps)
    clip = _fit_length(base, frames)
    clip["fps"] = float(base.get("fps", fps))
    clip["metadata"] = dict(base.get("metadata", {}), bench_clip=i, bench_category=category)
    clip["detections"] = detections(i, frames)
    return clip


def bench_clips(count: int, frames: int, fps: float = 30.0, category: str = "natural") -> List[Dict[str, Any]]:
    """Clips 0..count-1 of a benchmark category, each ``frames`` long."""
    return [bench_clip(i, frames, fps, category) for i in range(count)]


def stream_clips(count: int, frames: int, distinct: int = 16, fps: float = 30.0) -> Iterator[Dict[str, Any]]:
    """``count`` natural clips cycling through ``distinct`` prepared ones, yielded one at a time
    (the tensors are shared, so the stream itself holds only ``distinct`` clips in memory)."""
    prepared: Tuple[Dict[str, Any], ...] = tuple(bench_clips(min(distinct, count), frames, fps))
    for i in range(count):
        clip = prepared[i % len(prepared)]
        yield dict(clip, metadata=dict(clip["metadata"], path=f"clip_{i:05d}"))
