"""Group keys of ``--group-by``: a metadata key or manifest column, or a path component.

``KEY`` groups clips by ``metadata[KEY]`` (the loaders' keys, e.g. ``estimator``, and every
manifest column, e.g. ``model``). ``path:N`` groups by component ``N`` of the clip's path as
given, counted like a Python index: ``path:-1`` the file name, ``path:-2`` its folder (so
``runs/gvhmr/clip7/hmr4d_results.pt`` ... in per-model folders group by model with
``path:-3``), ``path:0`` the first component. A path too short for ``N`` is in group
``(none)``.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, Mapping, Optional

from ..errors import HumanScoreError

PATH_PREFIX = "path:"
NO_GROUP = "(none)"


def path_component_index(key: str) -> Optional[int]:
    """The component index of a ``path:N`` key; None for a plain metadata key.

    Raises:
        HumanScoreError: ``path:`` followed by something other than an integer.
    """
    if not key.startswith(PATH_PREFIX):
        return None
    text = key[len(PATH_PREFIX):]
    try:
        return int(text)
    except ValueError:
        raise HumanScoreError(f"--group-by {key}: expected path:N with an integer N (path:-2 = the parent "
                              f"folder), got {text!r}") from None


def group_value(path: str, metadata: Mapping[str, Any], key: str) -> Any:
    """The value clips are grouped by under ``key`` (see the module docstring)."""
    index = path_component_index(key)
    if index is None:
        return metadata.get(key, NO_GROUP)
    parts = PurePath(path).parts
    return parts[index] if -len(parts) <= index < len(parts) else NO_GROUP


__all__ = ["NO_GROUP", "PATH_PREFIX", "group_value", "path_component_index"]
