"""Artifact rate: counts, per-class breakdown, not computed without detections, detector
protocol and HADM adapter errors, metric class, loss."""

from __future__ import annotations

import pytest
import torch

from humanscore_torch.detectors import (
    GLOBAL_CLASSES, HADM_CLASSES, LOCAL_CLASSES, ArtifactDetector, CallableDetector, HADMDetector, detect_video)
from humanscore_torch.errors import HumanScoreError
from humanscore_torch.functional.artifact_rate import artifact_penalty, artifact_rate
from humanscore_torch.losses.anatomy import ArtifactLoss
from humanscore_torch.motion import MotionBatch
from humanscore_torch.registry import score_metric


def _detections():
    det = torch.zeros(2, 5, 18)
    det[0, 0, HADM_CLASSES.index("hand_malformed")] = 0.9
    det[0, 1, HADM_CLASSES.index("hand_malformed")] = 0.4  # below the 0.5 threshold
    det[0, 2, HADM_CLASSES.index("arm_extra")] = 0.7
    det[0, 2, HADM_CLASSES.index("face_missing")] = 0.6
    det[0, 4, HADM_CLASSES.index("leg_missing")] = 0.99  # padded frame: ignored
    det[1, 3, HADM_CLASSES.index("feet_malformed")] = 0.51
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[0, 4] = False
    return det, mask


def test_taxonomy_has_six_local_and_twelve_global_classes():
    assert len(LOCAL_CLASSES) == 6 and len(GLOBAL_CLASSES) == 12 and len(set(HADM_CLASSES)) == 18


def test_rate_and_per_class_breakdown():
    det, mask = _detections()
    out = artifact_rate(det, mask)
    assert out["raw"].tolist() == [pytest.approx(2 / 4), pytest.approx(1 / 5)]
    assert out["flagged"][0].tolist() == [True, False, True, False, False]
    per_class = out["per_class"][0]
    assert per_class[HADM_CLASSES.index("hand_malformed")] == pytest.approx(1 / 4)
    assert per_class[HADM_CLASSES.index("arm_extra")] == pytest.approx(1 / 4)
    assert per_class[HADM_CLASSES.index("leg_missing")] == 0
    scores = out["score"]
    assert 0 < scores[0] < scores[1] < 100 and out["computed"].all()


def test_more_artifact_frames_lower_the_score_monotonically():
    scores = []
    for count in range(0, 6):
        det = torch.zeros(1, 10, 18)
        det[0, :count, 4] = 0.8
        scores.append(artifact_rate(det)["score"].item())
    assert scores[0] == 100 and all(a > b for a, b in zip(scores, scores[1:]))


def test_without_detections_the_metric_is_not_computed():
    batch = MotionBatch(fps=torch.tensor([30.0, 30.0]), mask=torch.ones(2, 6, dtype=torch.bool),
                        joints=torch.zeros(2, 6, 24, 3))
    result = score_metric("artifact_rate", batch, None)
    assert not result.computed.any() and (result.score == 0).all()
    det, mask = _detections()
    with_det = score_metric("artifact_rate", MotionBatch(fps=torch.tensor([30.0, 30.0]), mask=mask,
                                                joints=torch.zeros(2, 5, 24, 3), detections=det), None)
    assert with_det.computed.all() and torch.allclose(with_det.raw, artifact_rate(det, mask)["raw"])


def test_detector_protocol_and_chunked_video_detection():
    calls = []

    def fake(frames):
        calls.append(frames.shape[0])
        out = torch.zeros(frames.shape[0], 18)
        out[:, 0] = frames.float().mean((1, 2, 3)) / 255.0
        return out

    detector = CallableDetector(fake)
    assert isinstance(detector, ArtifactDetector)
    frames = torch.zeros(2, 5, 4, 4, 3, dtype=torch.uint8)
    frames[1, 2] = 255
    det = detect_video(detector, frames, chunk=4)
    assert calls == [4, 4, 2] and det.shape == (2, 5, 18)
    assert det[1, 2, 0] == 1.0 and det[:, :, 0].sum() == 1.0
    with pytest.raises(HumanScoreError):
        detect_video(CallableDetector(lambda f: torch.zeros(f.shape[0], 3)), frames)


def test_hadm_adapter_never_downloads(tmp_path):
    with pytest.raises(HumanScoreError, match="give"):
        HADMDetector()
    with pytest.raises(HumanScoreError, match="never downloaded"):
        HADMDetector(local_config=tmp_path / "missing.py", local_weights=tmp_path / "missing.pth")


def test_penalty_gradcheck_and_loss_in_range():
    generator = torch.Generator().manual_seed(0)
    conf = torch.rand(2, 4, 18, generator=generator, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda c: artifact_penalty(c, threshold=0.5, temperature=0.1), (conf,))
    det, mask = _detections()
    assert 0 < ArtifactLoss()(det, mask).item() < 1
