"""Per-frame violation traces for reports, kept small while clips stream through ``evaluate``.

From each batch's :class:`~humanscore_torch.registry.MetricResult` details this keeps,
in numpy on the CPU: the per-frame series of every violation of the worst clip of each group
(for the timelines) and the single worst frames for self-penetration depth and range-of-motion
excess, with the SMPL pose of just that frame (for the mesh renders). Memory does not grow with
the number of clips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch

from ..config import load_config
from ..functional.newtonian import CONSTRAINTS
from ..motion import MotionBatch
from ..registry import SPECS, MetricResult


def thresholds() -> Dict[str, float]:
    """Per metric key, the per-frame level above which a frame counts as violating (the
    shipped or overridden config's), for the lines drawn on timelines."""
    return {
        "range_of_motion": float(load_config("range_of_motion")["tolerance_deg"]),
        "self_penetration": float(load_config("self_penetration")["detection"]["depth_tolerance_mm"]),
        "jerk": float(load_config("jerk")["spike_threshold_m_s3"]),
    }


@dataclass
class ClipTrace:
    """Per-frame series of one clip.

    Attributes:
        path: the clip's ``path`` (as in results.json). group: its group name.
        fps: frames per second. overall: its overall score (None when not computed).
        series: metric key -> (T,) float per-frame values (the registry's ``series``); only computed metrics.
        newtonian_constraints: (T, 7) bool violations per constraint (``CONSTRAINTS`` order) or None.
    """

    path: str
    group: str
    fps: float
    overall: Optional[float]
    series: Dict[str, np.ndarray] = field(default_factory=dict)
    newtonian_constraints: Optional[np.ndarray] = None


@dataclass
class WorstFrame:
    """One frame picked for a mesh render, with its pose.

    Attributes:
        kind: ``"self_penetration"`` or ``"range_of_motion"``. value: depth (mm) or excess (deg).
        path, group: the clip. frame: frame index. fps: frames per second.
        global_orient: (3,) axis-angle. body_pose: (23, 3) axis-angle, or (23, 3, 3)
        rotation matrices. transl: (3,) metres. betas: (K,) shape coefficients of that frame.
    """

    kind: str
    value: float
    path: str
    group: str
    frame: int
    fps: float
    global_orient: torch.Tensor
    body_pose: torch.Tensor
    transl: torch.Tensor
    betas: torch.Tensor


def _group_name(metadata: Mapping[str, Any], group_by: Optional[str]) -> str:
    return "all" if group_by is None else str(metadata.get(group_by, "(none)"))


class TraceCollector:
    """Keeps, across batches, what the report's timelines and worst-frame renders need.

    Args:
        group_by: metadata key clips are grouped by (None: one group ``"all"``).
        worst_frames: how many worst frames to keep per kind (penetration, range of motion).
    """

    def __init__(self, group_by: Optional[str] = None, worst_frames: int = 2):
        self.group_by = group_by
        self.worst_frames = worst_frames
        self.worst_clip: Dict[str, ClipTrace] = {}
        self.frames: Dict[str, List[WorstFrame]] = {"self_penetration": [], "range_of_motion": []}

    def add(self, batch: MotionBatch, results: Mapping[str, MetricResult],
            records: Sequence[Dict[str, Any]]) -> None:
        """Take one scored batch: ``results`` from ``score_batch`` and its ``records``."""
        lengths = batch.lengths.tolist()
        series = {key: results[key].details[name].detach().float().cpu().numpy()
                  for key, (name, _) in ((k, spec.series) for k, spec in SPECS.items())
                  if key in results and name in results[key].details}
        computed = {key: results[key].computed.cpu().numpy() for key in series}
        newton = results.get("newtonian_plausibility")
        constraints = None if newton is None else (newton.details["excess"] > 0).cpu().numpy()
        levels = thresholds()  # read per batch: inside the caller's config overrides
        for i, record in enumerate(records):
            group = _group_name(batch.metadata[i], self.group_by)
            overall = record["scores"].get("humanscore")
            current = self.worst_clip.get(group)
            if overall is not None and (current is None or current.overall is None or overall < current.overall):
                length = int(lengths[i])
                self.worst_clip[group] = ClipTrace(
                    path=record["path"], group=group, fps=float(batch.fps[i]), overall=overall,
                    series={k: v[i, :length].copy() for k, v in series.items() if computed[k][i]},
                    newtonian_constraints=None if constraints is None or not computed["newtonian_plausibility"][i]
                    else constraints[i, :length].copy())
            for kind in self.frames:
                if kind in series and computed[kind][i] and lengths[i] > 0:
                    values = series[kind][i, :int(lengths[i])]
                    frame = int(np.argmax(values))
                    if values[frame] > levels[kind]:  # only frames that count as violating
                        self._offer(kind, float(values[frame]), batch, i, frame, record["path"], group)

    def _offer(self, kind: str, value: float, batch: MotionBatch, i: int, frame: int, path: str, group: str) -> None:
        kept = self.frames[kind]
        # Clips given as joints/vertices only have no pose to render from.
        if batch.body_pose is None or self.worst_frames == 0 \
                or (len(kept) >= self.worst_frames and value <= kept[-1].value):
            return
        if batch.betas is None:
            betas = torch.zeros(0)
        else:
            betas = batch.betas[i, frame] if batch.betas.dim() == 3 else batch.betas[i]
        kept.append(WorstFrame(kind=kind, value=value, path=path, group=group, frame=frame, fps=float(batch.fps[i]),
                               global_orient=batch.global_orient[i, frame].detach().cpu(),
                               body_pose=batch.body_pose[i, frame].detach().cpu(),
                               transl=batch.transl[i, frame].detach().cpu(), betas=betas.detach().cpu()))
        kept.sort(key=lambda w: -w.value)
        del kept[self.worst_frames:]

    def timelines(self) -> List[ClipTrace]:
        """The worst clip of each group, by group name."""
        return [self.worst_clip[g] for g in sorted(self.worst_clip)]


__all__ = ["CONSTRAINTS", "ClipTrace", "WorstFrame", "TraceCollector", "thresholds"]
