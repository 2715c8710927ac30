"""Artifact detectors: the protocol the artifact-rate metric consumes, and a HADM adapter.

A detector maps video frames to per-frame confidences, one per class of the HADM taxonomy
(Wang et al., "Detecting Human Artifacts from Text-to-Image Models", arXiv 2411.13842):

* 6 local classes (HADM-L): a malformed face, torso, arm, leg, hand or feet;
* 12 global classes (HADM-G): each of those parts missing, or extra.

``detections[b, t, c]`` in [0, 1] is the highest confidence of class ``c`` in frame ``t``
(0 when nothing of that class was found). The project never downloads weights: the HADM
adapter loads the user's own checkpoint files and imports detectron2 only when built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Protocol, Sequence, Tuple, Union, runtime_checkable

import torch

from .errors import HumanScoreError
from .shapes import check_shape

PARTS: Tuple[str, ...] = ("face", "torso", "arm", "leg", "hand", "feet")
LOCAL_CLASSES: Tuple[str, ...] = tuple(f"{part}_malformed" for part in PARTS)
GLOBAL_CLASSES: Tuple[str, ...] = tuple(f"{part}_{kind}" for kind in ("missing", "extra") for part in PARTS)
HADM_CLASSES: Tuple[str, ...] = LOCAL_CLASSES + GLOBAL_CLASSES  # the 18 columns of ``detections``


@runtime_checkable
class ArtifactDetector(Protocol):
    """Anything that turns frames into per-class confidences.

    ``classes``: the class names of the output columns (normally :data:`HADM_CLASSES`).
    ``__call__(frames)``: frames (N, H, W, 3) uint8 RGB -> (N, C) float confidences in [0, 1].
    """

    classes: Sequence[str]

    def __call__(self, frames: torch.Tensor) -> torch.Tensor: ...


class CallableDetector:
    """Wrap any function ``frames (N, H, W, 3) uint8 -> (N, C)`` as an :class:`ArtifactDetector`."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], classes: Sequence[str] = HADM_CLASSES):
        self.fn = fn
        self.classes = tuple(classes)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        return self.fn(frames)


def detect_video(detector: ArtifactDetector, frames: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    """Run a detector over videos, ``chunk`` frames at a time (bounded memory).

    Args:
        detector: an :class:`ArtifactDetector`.
        frames: (B, T, H, W, 3) uint8 RGB frames.
        chunk: frames per detector call.

    Returns:
        (B, T, C) confidences, ready for ``MotionBatch(detections=...)``.
    """
    sizes = check_shape(frames, "B T H W 3", "frames")
    flat = frames.reshape(-1, *frames.shape[2:])
    outputs = []
    for start in range(0, flat.shape[0], chunk):
        out = detector(flat[start:start + chunk])
        check_shape(out, f"{min(chunk, flat.shape[0] - start)} {len(detector.classes)}", "detector output")
        outputs.append(out)
    return torch.cat(outputs).reshape(sizes["B"], sizes["T"], len(detector.classes))


class HADMDetector:
    """HADM (HADM-L and/or HADM-G, detectron2 LazyConfig models) on the user's own weights.

    Needs ``detectron2`` and the HADM repository's configs on the Python path (the HADM
    project: https://github.com/wangkaihong/HADM); both are imported here, only when an adapter
    is built. Nothing is downloaded: missing files raise a :class:`HumanScoreError`.

    Args:
        local_config / local_weights: HADM-L LazyConfig file and checkpoint (or None).
        global_config / global_weights: HADM-G LazyConfig file and checkpoint (or None).
        local_class_order: HADM-L's class names in its label order (default: :data:`PARTS`
            order, the order of the HADM paper); mapped to ``{part}_malformed``.
        global_class_order: HADM-G's label order as names of :data:`GLOBAL_CLASSES`.
        input_format: channel order the models were trained on ("BGR", detectron2's default,
            or "RGB"; see ``model.input_format`` in the HADM configs).
        device: where the models run.
    """

    classes = HADM_CLASSES

    def __init__(self, local_config: Optional[Union[str, Path]] = None, local_weights: Optional[Union[str, Path]] = None,
                 global_config: Optional[Union[str, Path]] = None, global_weights: Optional[Union[str, Path]] = None,
                 local_class_order: Sequence[str] = PARTS, global_class_order: Sequence[str] = GLOBAL_CLASSES,
                 input_format: str = "BGR", device: str = "cpu"):
        pairs = [(local_config, local_weights), (global_config, global_weights)]
        if all(c is None for c, _ in pairs):
            raise HumanScoreError("HADMDetector: give local_config/local_weights, global_config/global_weights, or both")
        for config, weights in pairs:
            for path in (config, weights):
                if config is not None and (path is None or not Path(path).is_file()):
                    raise HumanScoreError(f"HADMDetector: file not found: {path} (weights are never downloaded; "
                                          "pass the paths of your own HADM config and checkpoint)")
        try:
            from detectron2.checkpoint import DetectionCheckpointer
            from detectron2.config import LazyConfig, instantiate
        except ImportError as exc:
            raise HumanScoreError("HADMDetector needs detectron2 (and the HADM repository); "
                                  "install them to use the HADM adapter") from exc
        unknown = [name for name in global_class_order if name not in GLOBAL_CLASSES]
        if unknown or sorted(local_class_order) != sorted(PARTS):
            raise HumanScoreError(f"HADMDetector: class orders must name {PARTS} and {GLOBAL_CLASSES}; "
                                  f"got {tuple(local_class_order)} and unknown {unknown}")
        if input_format not in ("BGR", "RGB"):
            raise HumanScoreError(f"HADMDetector: input_format must be 'BGR' or 'RGB', got {input_format!r}")
        self.flip = input_format == "BGR"
        self.device = device
        self.models = []
        for (config, weights), names in zip(pairs, ([f"{p}_malformed" for p in local_class_order], list(global_class_order))):
            if config is None:
                continue
            cfg = LazyConfig.load(str(config))
            model = instantiate(cfg.model).to(device).eval()
            DetectionCheckpointer(model).load(str(weights))
            columns = torch.tensor([HADM_CLASSES.index(n) for n in names], device=device)
            self.models.append((model, columns))

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (N, H, W, 3) uint8 RGB -> (N, 18) highest confidence per class."""
        check_shape(frames, "N H W 3", "frames")
        out = torch.zeros(frames.shape[0], len(HADM_CLASSES), device=self.device)
        images = frames.permute(0, 3, 1, 2)  # detectron2 models take CHW images
        if self.flip:
            images = images.flip(1)
        inputs = [{"image": image.to(self.device), "height": image.shape[1], "width": image.shape[2]} for image in images]
        for model, columns in self.models:
            for i, result in enumerate(model(inputs)):
                instances = result["instances"]
                if len(instances) == 0:
                    continue
                column = columns[instances.pred_classes.to(self.device)]
                out[i].scatter_reduce_(0, column, instances.scores.to(out.dtype), reduce="amax")
        return out
