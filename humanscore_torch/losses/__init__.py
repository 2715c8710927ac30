"""Smooth, differentiable losses over the metrics' penalties (``humanscore_torch.functional``)."""

from .anatomy import ArtifactLoss, BoneLengthLoss
from .kinetics import JerkLoss, NewtonianLoss
from .physics import PhysicsLoss
from .range_of_motion import RangeOfMotionLoss
from .self_penetration import SelfPenetrationLoss

__all__ = ["ArtifactLoss", "BoneLengthLoss", "JerkLoss", "NewtonianLoss", "PhysicsLoss", "RangeOfMotionLoss",
           "SelfPenetrationLoss"]
