"""Motion input/output: the pose estimators' file layouts in, the canonical ``.npz`` out.

* :func:`read_motion_file` -- any supported file -> one sequence dict per person/track
  (AMASS, WHAM, TRAM, GVHMR, PromptHMR, 4D-Humans/PHALP, CamSMPLify, CameraHMR/SMPL/SMPL-X
  parameters, AIST++, Meshcapade ``.smpl``, the canonical format; OpenSim ``.mot`` through
  ``humanscore_torch.io.opensim`` when installed);
* :func:`save_motion` -- one sequence -> the canonical ``.npz`` ("humanscore_torch/1");
* :func:`find_motion_files` -- files, folders and globs -> the motion files in them;
* :func:`load_motion_batch` -- files and/or dicts -> one padded :class:`MotionBatch`.

Layouts and their conversions: :mod:`humanscore_torch.io.layouts` and, for the tools with
their own frames, units or rates, :mod:`humanscore_torch.io.estimators`. Frame conversions (z-up
and camera frames to y-up): :mod:`humanscore_torch.io.frames`. Reading without executing
code from the file: :mod:`humanscore_torch.io.containers`.
"""

from .canonical import save_motion
from .layouts import CANONICAL_FORMAT, LAYOUT_NAMES
from .reader import MOTION_EXTENSIONS, find_motion_files, load_motion_batch, read_motion_file

__all__ = [
    "read_motion_file", "save_motion", "find_motion_files", "load_motion_batch",
    "CANONICAL_FORMAT", "LAYOUT_NAMES", "MOTION_EXTENSIONS",
]
