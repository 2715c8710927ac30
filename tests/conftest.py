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


def make_smpl_arrays(num_vertices: int = 600, num_faces: int = 200, seed: int = 0):
    """A random body in SMPL's file layout (the test writes it itself; it is not SMPL).

    Skinning weights are peaked, the regressor is non-negative with rows summing to 1, and the
    pose correctives are non-zero, so every term of LBS is exercised.
    """
    import numpy as np

    from humanscore_torch.body.skeleton import PARENTS

    rng = np.random.default_rng(seed)
    weights = rng.random((num_vertices, 24)) ** 6
    weights /= weights.sum(1, keepdims=True)
    regressor = rng.random((24, num_vertices)) * (rng.random((24, num_vertices)) < 0.05)
    regressor /= regressor.sum(1, keepdims=True)
    return {
        "v_template": rng.normal(size=(num_vertices, 3)) * 0.3,
        "shapedirs": rng.normal(size=(num_vertices, 3, 10)) * 0.01,
        "posedirs": rng.normal(size=(num_vertices, 3, 207)) * 0.01,
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1] + list(PARENTS[1:]), list(range(24))], dtype=np.int64),
        "f": rng.integers(0, num_vertices, size=(num_faces, 3)),
    }


@pytest.fixture(scope="session")
def small_body():
    """A small random SMPL-layout body for tests that need any body, not the default one."""
    from humanscore_torch.body import BodyModel

    return BodyModel(make_smpl_arrays(), name="random-test-body")
