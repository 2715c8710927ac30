"""Errors raised by humanscore_torch.

Every bad input raises a :class:`HumanScoreError` (a ``ValueError``) that names the argument,
what was found and what was expected, before any state changes.
"""

from __future__ import annotations


class HumanScoreError(ValueError):
    """Base class of every error this library raises on bad input."""


class ShapeError(HumanScoreError):
    """A tensor has the wrong number of dimensions or the wrong size along one."""


class InputValueError(HumanScoreError):
    """A value is out of its allowed range (negative fps, NaN where none is allowed, ...)."""


class MotionFileError(HumanScoreError):
    """A motion file cannot be read: unknown layout, truncated file, wrong-shaped array."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class BodyModelError(HumanScoreError):
    """A body-model file is missing, unreadable or lacks a required array."""
