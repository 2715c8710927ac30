"""Shared fixtures: the reference data folder, the default body, a CUDA marker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]


def _reference_data_dir() -> Path:
    env = os.environ.get("HUMANSCORE_REFERENCE_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "reference-data"


@pytest.fixture(scope="session")
def reference_data() -> Path:
    """``../shared/reference-data`` (or $HUMANSCORE_REFERENCE_DATA). Missing: a failure under
    CI=true, a skip with the reason elsewhere."""
    path = _reference_data_dir()
    if not (path / "opensim").is_dir():
        reason = f"reference data not found at {path} (set HUMANSCORE_REFERENCE_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def default_body():
    """The embedded default body, loaded once per test session."""
    from humanscore_torch.body import BodyModel

    return BodyModel.default()


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
