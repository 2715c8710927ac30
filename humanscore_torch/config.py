"""Loading the YAML configs shipped in ``configs/`` (installed as ``humanscore_torch.configs``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Dict, Optional, Union

import yaml

from .errors import HumanScoreError


def load_config(name: str, path: Optional[Union[str, Path]] = None) -> Dict[str, Any]:
    """Read a config by name (``"segment_masses"``) from the package, or from ``path``.

    Args:
        name: file stem of a shipped config, used when ``path`` is None.
        path: a user's YAML file that replaces the shipped one.

    Returns:
        the parsed YAML mapping.

    Raises:
        HumanScoreError: the file is missing or is not a YAML mapping.
    """
    try:
        if path is None:
            text = resources.files("humanscore_torch.configs").joinpath(f"{name}.yaml").read_text()
            origin = f"humanscore_torch/configs/{name}.yaml"
        else:
            text, origin = Path(path).read_text(), str(path)
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise HumanScoreError(f"config {name!r}: cannot read ({exc})") from exc
    if not isinstance(data, dict):
        raise HumanScoreError(f"config {origin}: expected a YAML mapping, got {type(data).__name__}")
    return data
