"""The clips the benchmark scores: SMPL parameter sequences of a fixed length, with synthetic
artifact detections, the same for this project and for the reference pipeline.

With :mod:`humanscore_torch.synthetic` available, clip ``i`` is the clean clip
``CLIP_NAMES[i % 6]`` for the first six and a defect clip after that (each defect in turn, at
its second size); otherwise it interpolates relaxed keyframe poses of
:func:`~.poses.benchmark_poses`. Clips are cut or extended (played forwards and backwards) to
the asked number of frames. Precomputed joints are dropped so that every pipeline poses the
body from the parameters.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Tuple

import torch

from ..detectors import HADM_CLASSES
from .poses import POSE_KINDS, benchmark_poses

_PER_FRAME = ("global_orient", "body_pose", "transl")
# Keyframe spacing of the fallback clips (frames) and how sharply detections peak: each class
# exceeds 0.5 in ~2 % of frames (u^30 > 0.5), so about a third of the frames are flagged.
_KEY_SPACING = 15
_KEYFRAME_CLIP_FRAMES = 600
_DETECTION_POWER = 30.0


def clip_source() -> str:
    """``"synthetic"`` when :mod:`humanscore_torch.synthetic` provides clips, else ``"benchmark_poses"``."""
    try:
        from .. import synthetic
    except ImportError:
        return "benchmark_poses"
    return "synthetic" if hasattr(synthetic, "clean_clip") and hasattr(synthetic, "defect_clip") else "benchmark_poses"


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


def _synthetic_clip(i: int, fps: float) -> Dict[str, Any]:
    from .. import synthetic

    names = synthetic.CLIP_NAMES
    if i < len(names):
        return synthetic.clean_clip(names[i], fps=fps)
    defects = sorted(synthetic.DEFECT_SIZES)
    j = i - len(names)
    defect = defects[j % len(defects)]
    return synthetic.defect_clip(names[j % len(names)], defect, synthetic.DEFECT_SIZES[defect][1], fps=fps, seed=i)


def _keyframe_clip(i: int, fps: float) -> Dict[str, Any]:
    """Linear interpolation (in axis-angle) between keyframes of the benchmark pose mix (a
    fixed number of keyframes, so that a shorter clip is the start of a longer one)."""
    frames = _KEYFRAME_CLIP_FRAMES
    keys = frames // _KEY_SPACING + 2
    global_orient, body_pose, kind = benchmark_poses(len(POSE_KINDS) * keys, seed=1000 + i)
    relaxed = kind == POSE_KINDS.index("relaxed")  # the other kinds are built to penetrate
    global_orient, body_pose = global_orient[relaxed], body_pose[relaxed]
    position = torch.arange(frames, dtype=torch.float64) / _KEY_SPACING
    low = position.floor().long().clamp(max=keys - 2)
    w = (position - low)[:, None]
    orient = (1 - w) * global_orient[low] + w * global_orient[low + 1]
    pose = (1 - w[..., None]) * body_pose[low] + w[..., None] * body_pose[low + 1]
    transl = torch.zeros(frames, 3, dtype=torch.float64)
    transl[:, 2] = torch.arange(frames) / fps  # walking forward at 1 m/s
    return {"global_orient": orient, "body_pose": pose, "transl": transl, "betas": torch.zeros(10),
            "fps": fps, "metadata": {"name": f"benchmark_poses_{i}"}}


def detections(i: int, frames: int) -> torch.Tensor:
    """(frames, 18) synthetic detector confidences in [0, 1] for clip ``i`` (reproducible)."""
    g = torch.Generator().manual_seed(7919 * (i + 1))
    return torch.rand(frames, len(HADM_CLASSES), generator=g) ** _DETECTION_POWER


def bench_clip(i: int, frames: int, fps: float = 30.0) -> Dict[str, Any]:
    """Clip ``i`` of the benchmark, ``frames`` long, as a sequence dict with ``detections``."""
    if clip_source() == "synthetic":
        base = _synthetic_clip(i, fps)
    else:
        base = _keyframe_clip(i, fps)
    clip = _fit_length(base, frames)
    clip["fps"] = float(base.get("fps", fps))
    clip["metadata"] = dict(base.get("metadata", {}), bench_clip=i)
    clip["detections"] = detections(i, frames)
    return clip


def bench_clips(count: int, frames: int, fps: float = 30.0) -> List[Dict[str, Any]]:
    """Clips 0..count-1 of the benchmark, each ``frames`` long."""
    return [bench_clip(i, frames, fps) for i in range(count)]


def stream_clips(count: int, frames: int, distinct: int = 16, fps: float = 30.0) -> Iterator[Dict[str, Any]]:
    """``count`` clips cycling through ``distinct`` prepared ones, yielded one at a time (the
    tensors are shared, so the stream itself holds only ``distinct`` clips in memory)."""
    prepared: Tuple[Dict[str, Any], ...] = tuple(bench_clips(min(distinct, count), frames, fps))
    for i in range(count):
        clip = prepared[i % len(prepared)]
        yield dict(clip, metadata=dict(clip["metadata"], path=f"clip_{i:05d}"))
