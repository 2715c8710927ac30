"""humanscore_torch: the HumanScore motion-plausibility metrics as batched, differentiable torch ops.

An independent re-implementation of the six metrics of HumanScore (arXiv 2604.20157) for SMPL
body sequences recovered from video.
"""

from .body import BodyModel, BodyOutput
from .errors import BodyModelError, HumanScoreError, InputValueError, MotionFileError, ShapeError
from .motion import MotionBatch
from .shapes import check_shape

__version__ = "0.1.0"

__all__ = [
    "BodyModel", "BodyOutput", "MotionBatch", "check_shape",
    "HumanScoreError", "ShapeError", "InputValueError", "MotionFileError", "BodyModelError",
]
