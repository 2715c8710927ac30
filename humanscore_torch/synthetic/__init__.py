"""Synthetic motions on the embedded default body: procedural, physically sensible clean clips
and the same clips with defects of known size, one aimed at each metric.

* :func:`clean_clip` / :func:`clean_clips`: walk, run (with flight phases), jump (with a
  ballistic flight), arm swing, squat and turn, as SMPL parameters at any frame rate
  (:mod:`.clips`; the legs and root translation are solved by :mod:`.kinematics`).
* :func:`defect_clip`: a clean clip with one defect of a given size (:mod:`.defects`);
  :data:`DEFECT_SIZES` lists at least four increasing sizes per defect, :data:`DEFECT_TARGETS`
  the metric each one aims at and :data:`DEFECT_BASE_CLIPS` the clip it is meant for.
"""

from .clips import CLIP_NAMES, CLIP_SECONDS, clean_clip, clean_clips
from .defects import DEFECT_BASE_CLIPS, DEFECT_SIZES, DEFECT_TARGETS, defect_clip

__all__ = ["CLIP_NAMES", "CLIP_SECONDS", "clean_clip", "clean_clips",
           "DEFECT_SIZES", "DEFECT_TARGETS", "DEFECT_BASE_CLIPS", "defect_clip"]
