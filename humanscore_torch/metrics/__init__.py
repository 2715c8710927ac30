"""torchmetrics classes: each metric pooled over batches, and ``HumanScore``, all six with their
tiers and the overall score (the maths is in :mod:`humanscore_torch.functional`)."""

from .artifact_rate import ArtifactRate
from .bone_length import BoneLengthConsistency
from .jerk import Jerk
from .newtonian import NewtonianPlausibility
from .range_of_motion import RangeOfMotion
from .self_penetration import SelfPenetration
from .humanscore import HumanScore  # noqa: E402 -- after the classes it collects

__all__ = ["HumanScore", "ArtifactRate", "BoneLengthConsistency", "RangeOfMotion", "SelfPenetration",
           "NewtonianPlausibility", "Jerk"]
