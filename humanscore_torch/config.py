"""Loading the YAML configs shipped in ``configs/`` (installed as ``humanscore_torch.configs``)."""

from __future__ import annotations

import contextlib
import copy
import functools
from importlib import resources
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Union

import yaml

from .errors import HumanScoreError


# User overrides (``humanscore evaluate --config FILE``): config name -> mapping merged on top.
_OVERRIDES: Dict[str, Dict[str, Any]] = {}


def _merge(base: Dict[str, Any], override: Dict[str, Any]) -> Dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@contextlib.contextmanager
def config_overrides(path: Optional[Union[str, Path]]) -> Iterator[Dict[str, Any]]:
    """Within the block, every ``load_config(name)`` merges the section ``name`` of the YAML
    file at ``path`` over the shipped config (no-op when ``path`` is None).

    The file maps config names to partial configs, e.g. ``jerk: {score: {half: 20}}``.
    """
    overrides = {} if path is None else load_config("overrides", path)
    for name, section in overrides.items():
        if not isinstance(section, dict):
            raise HumanScoreError(f"config {path}: section {name!r} must be a mapping, got {section!r}")
    saved = dict(_OVERRIDES)
    _OVERRIDES.update(overrides)
    try:
        yield overrides
    finally:
        _OVERRIDES.clear()
        _OVERRIDES.update(saved)


def load_config(name: str, path: Optional[Union[str, Path]] = None) -> Dict[str, Any]:
    """Read a config by name (``"segment_masses"``) from the package, or from ``path``.

    Shipped configs get the active ``config_overrides`` section of the same name merged in.

    Args:
        name: file stem of a shipped config, used when ``path`` is None.
        path: a user's YAML file that replaces the shipped one.

    Returns:
        the parsed YAML mapping.

    Raises:
        HumanScoreError: the file is missing or is not a YAML mapping.
    """
    if path is not None:
        return _parse(Path(path).read_text, str(path), name)
    # A copy: callers may change what they get without changing the next caller's config.
    data = copy.deepcopy(_shipped(name))
    if name in _OVERRIDES:
        data = _merge(data, _OVERRIDES[name])
    return data


@functools.lru_cache(maxsize=None)
def _shipped(name: str) -> Dict[str, Any]:
    """A shipped config, parsed once per process: metrics load theirs on every call, and
    parsing the YAML cost more than the metric (range of motion: 75 of 155 ms a batch)."""
    source = resources.files("humanscore_torch.configs").joinpath(f"{name}.yaml")
    return _parse(source.read_text, f"humanscore_torch/configs/{name}.yaml", name)


def _parse(read, origin: str, name: str) -> Dict[str, Any]:
    try:
        data = yaml.safe_load(read())
    except (OSError, yaml.YAMLError) as exc:
        raise HumanScoreError(f"config {name!r}: cannot read ({exc})") from exc
    if not isinstance(data, dict):
        raise HumanScoreError(f"config {origin}: expected a YAML mapping, got {type(data).__name__}")
    return data
