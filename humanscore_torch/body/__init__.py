"""The body: SMPL-compatible model files, batched LBS, the embedded default body."""

from .model import BodyModel, BodyOutput
from .skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

__all__ = ["BodyModel", "BodyOutput", "JOINT_NAMES", "NUM_JOINTS", "PARENTS"]
