"""``MotionBatch``: a padded batch of SMPL body sequences, the input of every metric."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch

from .body.model import BodyModel, BodyOutput
from .body.skeleton import JOINT_INDEX, NUM_JOINTS, UNMEASURED_JOINTS_KEY, joint_name_list
from .errors import HumanScoreError, InputValueError, ShapeError
from .functional.motion_inputs import MAX_FPS, usable_frames
from .shapes import check_shape

_POSE_FIELDS = ("global_orient", "body_pose", "transl", "betas")
_FRAME_FIELDS = ("global_orient", "body_pose", "transl", "joints", "vertices", "detections")


def _tensor(value: Any, name: str) -> torch.Tensor:
    """``value`` as a tensor; a value no tensor can hold (an integer past int64, ragged
    lists, text) is a HumanScoreError naming the argument."""
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise InputValueError(f"{name}: expected numbers a tensor can hold, got {type(value).__name__} ({exc})") from exc


def _num_frames(value: Any, name: str) -> int:
    """T of a per-frame field (its leading size)."""
    tensor = _tensor(value, name)
    if tensor.dim() == 0:
        raise ShapeError(f"{name}: expected a per-frame array (T, ...), got a scalar")
    return int(tensor.shape[0])


def _rate(value: Any, index: int) -> float:
    """One sequence's frame rate as a float (the range is checked with the batch)."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputValueError(f"fps[{index}]: expected a number of frames per second, got {value!r}") from exc


def _unmeasured_row(sequence: Dict[str, Any], metadata: Dict[str, Any], index: int) -> torch.Tensor:
    """(24,) bool unmeasured SMPL joints of one sequence dict: its ``unmeasured_joints`` (joint
    names, or a (24,) bool tensor), else the same list in its metadata (comma-separated)."""
    value = sequence.get(UNMEASURED_JOINTS_KEY)
    where = f"sequences[{index}].{UNMEASURED_JOINTS_KEY}"
    if value is None:
        value, where = metadata.get(UNMEASURED_JOINTS_KEY), f"metadata[{index}]['{UNMEASURED_JOINTS_KEY}']"
    if isinstance(value, torch.Tensor) and value.dtype == torch.bool:
        check_shape(value, str(NUM_JOINTS), where)
        return value.cpu()
    names = joint_name_list(value) if value is None or isinstance(value, str) else [str(v) for v in value]
    unknown = sorted(set(names) - set(JOINT_INDEX))
    if unknown:
        raise InputValueError(f"{where}: expected SMPL joint names ({', '.join(JOINT_INDEX)}), got {unknown}")
    row = torch.zeros(NUM_JOINTS, dtype=torch.bool)
    row[[JOINT_INDEX[n] for n in names]] = True
    return row


@dataclass
class MotionBatch:
    """One batch of motion sequences, padded to the longest.

    SMPL parameters (all optional when ``joints`` is given, e.g. raw 3D keypoints):
        global_orient: (B, T, 3) axis-angle or (B, T, 3, 3) rotation matrices.
        body_pose: (B, T, 23, 3) axis-angle or (B, T, 23, 3, 3) rotation matrices.
        transl: (B, T, 3) root translation in metres.
        betas: (B, K) per sequence or (B, T, K) per frame.
    Always:
        fps: (B,) frames per second, > 0.
        mask: (B, T) bool, True on valid frames. Non-finite frames are removed from it at
            construction and counted in ``nonfinite_frames``.
    Optional:
        joints: (B, T, J, 3) precomputed joints in metres (used instead of the body model).
        vertices: (B, T, V, 3) precomputed vertices in metres.
        detections: (B, T, C) per-frame artifact-detector confidence per class in [0, 1].
        unmeasured_joints: (B, 24) bool, True on the SMPL joints whose rotation the source did
            not measure (a loader's placeholder, e.g. the hands under an SMPL-X body pose); the
            parts below them are left out of self-penetration. None: every joint measured.
        metadata: one dict per sequence (model name, prompt, intensity tag, path, ...).

    World frame: y up, gravity (0, -9.81, 0). Joints and vertices from the body model are
    computed once per body by :meth:`posed` and shared by all metrics.
    """

    fps: torch.Tensor
    mask: torch.Tensor
    global_orient: Optional[torch.Tensor] = None
    body_pose: Optional[torch.Tensor] = None
    transl: Optional[torch.Tensor] = None
    betas: Optional[torch.Tensor] = None
    joints: Optional[torch.Tensor] = None
    vertices: Optional[torch.Tensor] = None
    detections: Optional[torch.Tensor] = None
    unmeasured_joints: Optional[torch.Tensor] = None
    metadata: List[Dict[str, Any]] = field(default_factory=list)
    nonfinite_frames: Optional[torch.Tensor] = None
    _posed_cache: Dict[Tuple[int, bool], BodyOutput] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._normalise_tensors()
        sizes = check_shape(self.mask, "B T", "mask")
        if self.mask.dtype != torch.bool:
            raise ShapeError(f"mask: expected dtype torch.bool, got {self.mask.dtype}")
        check_shape(self.fps, "B", "fps", sizes)
        if not bool((torch.isfinite(self.fps) & (self.fps > 0) & (self.fps <= MAX_FPS)).all()):
            raise InputValueError(f"fps: expected finite values in (0, {MAX_FPS:g}] Hz, got {self.fps.tolist()}")
        has_smpl = self.global_orient is not None or self.body_pose is not None
        if has_smpl:
            if self.global_orient is None or self.body_pose is None:
                raise HumanScoreError("global_orient and body_pose: give both or neither")
            matrices = self.body_pose.dim() == 5
            check_shape(self.global_orient, "B T 3 3" if matrices else "B T 3", "global_orient", sizes)
            check_shape(self.body_pose, "B T 23 3 3" if matrices else "B T 23 3", "body_pose", sizes)
            if self.transl is None:
                self.transl = self.global_orient.new_zeros(sizes["B"], sizes["T"], 3)
            check_shape(self.transl, "B T 3", "transl", sizes)
            if self.betas is not None:
                check_shape(self.betas, "B T K" if self.betas.dim() == 3 else "B K", "betas", sizes)
        elif self.joints is None:
            raise HumanScoreError("MotionBatch: needs SMPL parameters (global_orient, body_pose) or joints")
        if self.joints is not None:
            check_shape(self.joints, "B T J 3", "joints", sizes)
        if self.vertices is not None:
            check_shape(self.vertices, "B T V 3", "vertices", sizes)
        if self.detections is not None:
            check_shape(self.detections, "B T C", "detections", sizes)
        if self.unmeasured_joints is not None:
            check_shape(self.unmeasured_joints, f"B {NUM_JOINTS}", "unmeasured_joints", sizes)
            if self.unmeasured_joints.dtype != torch.bool or self.unmeasured_joints.device != self.mask.device:
                raise ShapeError(f"unmeasured_joints: expected a bool tensor on {self.mask.device}, got "
                                 f"{self.unmeasured_joints.dtype} on {self.unmeasured_joints.device}")
        if self.metadata and len(self.metadata) != sizes["B"]:
            raise ShapeError(f"metadata: expected {sizes['B']} dicts (one per sequence), got {len(self.metadata)}")
        if not self.metadata:
            self.metadata = [{} for _ in range(sizes["B"])]
        self._mask_nonfinite()

    def _normalise_tensors(self) -> None:
        """One device for all tensors; float16/bfloat16/integer inputs computed in float32
        (third differences times fps^3 overflow float16 and lose all precision in bfloat16)."""
        if not isinstance(self.mask, torch.Tensor):
            raise ShapeError(f"mask: expected a bool torch.Tensor of shape (B, T), got {type(self.mask).__name__}")
        for name in ("fps",) + _POSE_FIELDS + _FRAME_FIELDS[3:]:
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, torch.Tensor):
                raise ShapeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
            if value.device != self.mask.device:
                raise HumanScoreError(f"{name}: on device {value.device}, but mask is on {self.mask.device}; "
                                      "expected all tensors on one device (use MotionBatch.to)")
            if value.dtype == torch.bool or value.is_complex():
                # A cast would turn flags into radians or drop imaginary parts silently.
                raise ShapeError(f"{name}: expected a real floating or integer tensor, got dtype {value.dtype}")
            if not value.is_floating_point() or torch.finfo(value.dtype).bits < 32:
                setattr(self, name, value.to(torch.float32))

    def _mask_nonfinite(self) -> None:
        """Drop unusable frames (NaN/inf, or a value beyond ``MAX_COORDINATE_M``: 100 km or 1e5
        rad is broken data, and would overflow float32 downstream) from the mask, count them,
        and zero them so nothing downstream sees them (a zero frame is never scored: it is masked)."""
        finite = torch.ones_like(self.mask)
        for name in _FRAME_FIELDS + ("betas",):
            value = getattr(self, name)
            if value is None:
                continue
            finite &= usable_frames(value[:, None] if name == "betas" and value.dim() == 2 else value)
        bad = self.mask & ~finite
        self.nonfinite_frames = bad.sum(1) + (0 if self.nonfinite_frames is None else self.nonfinite_frames)
        self.mask = self.mask & finite
        if bool((~finite).any()):
            for name in _FRAME_FIELDS + ("betas",):
                value = getattr(self, name)
                if value is None:
                    continue
                # Per-sequence betas are zeroed only where no frame of the sequence is usable.
                keep = finite.any(1) if name == "betas" and value.dim() == 2 else finite
                keep = keep.reshape(keep.shape + (1,) * (value.dim() - keep.dim()))
                setattr(self, name, torch.where(keep & torch.isfinite(value), value, torch.zeros_like(value)))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_sequences(
        cls,
        sequences: Sequence[Dict[str, Any]],
        fps: Optional[Sequence[float]] = None,
        metadata: Optional[Sequence[Dict[str, Any]]] = None,
    ) -> "MotionBatch":
        """Pad variable-length sequences into one batch.

        Args:
            sequences: one dict per sequence with per-frame tensors of leading size T_i
                (``global_orient`` (T_i, 3), ``body_pose`` (T_i, 23, 3), ``transl`` (T_i, 3),
                optional ``joints``, ``vertices``, ``detections``) and ``betas`` (K,) or (T_i, K);
                may also hold ``fps`` and ``metadata``.
            fps: one rate per sequence, if the dicts do not hold it.
            metadata: one dict per sequence, if the dicts do not hold it.

        Returns:
            a MotionBatch with T = max T_i and ``mask`` marking the real frames.
        """
        if len(sequences) == 0:
            raise HumanScoreError("sequences: expected at least one sequence, got none")
        for i, value in enumerate(sequences):
            if not isinstance(value, Mapping):
                raise HumanScoreError(f"sequences[{i}]: expected a dict, got {type(value).__name__}")
        fps_list = list(fps) if fps is not None else [s.get("fps") for s in sequences]
        if len(fps_list) != len(sequences) or any(f is None for f in fps_list):
            raise HumanScoreError(f"fps: expected one rate per sequence ({len(sequences)}), got {fps_list}")
        rates = [_rate(f, i) for i, f in enumerate(fps_list)]
        lengths = []
        for i, seq in enumerate(sequences):
            frame_keys = [k for k in _FRAME_FIELDS if seq.get(k) is not None]
            if not frame_keys:
                raise HumanScoreError(f"sequences[{i}]: no per-frame field among {_FRAME_FIELDS}")
            n = {_num_frames(seq[k], f"sequences[{i}].{k}") for k in frame_keys}
            if len(n) != 1:
                raise ShapeError(f"sequences[{i}]: per-frame fields disagree on the number of frames: "
                                 f"{ {k: tuple(_tensor(seq[k], k).shape) for k in frame_keys} }")
            lengths.append(n.pop())
        t_max = max(lengths)
        batch: Dict[str, Any] = {}
        for name in _FRAME_FIELDS + ("betas",):
            present = [seq.get(name) is not None for seq in sequences]
            if not any(present):
                continue
            if not all(present):
                raise HumanScoreError(f"sequences: {name!r} is given for some sequences but not all")
            values = [_tensor(seq[name], f"sequences[{i}].{name}") for i, seq in enumerate(sequences)]
            if name == "betas":
                for i, v in enumerate(values):
                    if v.dim() not in (1, 2) or v.shape[-1] != values[0].shape[-1]:
                        raise ShapeError(f"sequences[{i}].betas: expected (K,) or (T, K) with the K of "
                                         f"sequences[0].betas ({values[0].shape[-1]}), got shape {tuple(v.shape)}")
                if all(v.dim() == 1 for v in values):
                    batch[name] = torch.stack(values)
                    continue
                values = [v.expand(n, -1) if v.dim() == 1 else v for v, n in zip(values, lengths)]
            padded = values[0].new_zeros((len(values), t_max) + tuple(values[0].shape[1:]))
            for i, (v, n) in enumerate(zip(values, lengths)):
                if v.shape[1:] != padded.shape[2:]:
                    raise ShapeError(f"sequences[{i}].{name}: shape {tuple(v.shape)} differs from "
                                     f"sequences[0].{name} {tuple(values[0].shape)} beyond the frame axis")
                padded[i, :n] = v
            batch[name] = padded
        mask = torch.arange(t_max)[None, :] < torch.tensor(lengths)[:, None]
        meta = list(metadata) if metadata is not None else [s.get("metadata") or {} for s in sequences]
        for i, value in enumerate(meta):
            if not isinstance(value, Mapping):
                where = f"metadata[{i}]" if metadata is not None else f"sequences[{i}].metadata"
                raise HumanScoreError(f"{where}: expected a dict, got {type(value).__name__}")
        meta = [dict(m) for m in meta]
        unmeasured = [_unmeasured_row(s, m, i) for i, (s, m) in enumerate(zip(sequences, meta))]
        if any(bool(row.any()) for row in unmeasured):
            batch["unmeasured_joints"] = torch.stack(unmeasured)
        return cls(fps=torch.tensor(rates, dtype=torch.get_default_dtype()), mask=mask, metadata=meta, **batch)

    @classmethod
    def _validated(cls, values: Dict[str, Any]) -> "MotionBatch":
        """A batch from the fields of one already validated (moved or selected, not changed):
        validation happens once, at construction from the caller's data."""
        batch = cls.__new__(cls)
        batch.__dict__.update(values, _posed_cache={})
        return batch

    # ------------------------------------------------------------------ properties
    @property
    def batch_size(self) -> int:
        """B, the number of sequences."""
        return self.mask.shape[0]

    @property
    def num_frames(self) -> int:
        """T, the padded length."""
        return self.mask.shape[1]

    @property
    def lengths(self) -> torch.Tensor:
        """(B,) number of valid frames per sequence."""
        return self.mask.sum(1)

    @property
    def device(self) -> torch.device:
        """The device every tensor of the batch is on (that of ``mask``)."""
        return self.mask.device

    def __len__(self) -> int:
        return self.batch_size

    # ------------------------------------------------------------------ transforms
    def to(self, device=None, dtype: Optional[torch.dtype] = None) -> "MotionBatch":
        """Move every tensor to ``device``; cast floating tensors (not fps, mask) to ``dtype``."""
        def move(name: str, value):
            if not isinstance(value, torch.Tensor):
                return value
            cast = dtype if (dtype is not None and value.is_floating_point() and name != "fps") else None
            return value.to(device=device, dtype=cast)
        moved = {f.name: move(f.name, getattr(self, f.name)) for f in fields(self) if f.name != "_posed_cache"}
        moved["metadata"] = [dict(m) for m in self.metadata]
        # A cast changes values (float16 is computed in float32 again): validated anew; a move does not.
        return MotionBatch(**moved) if dtype is not None else MotionBatch._validated(moved)

    def select(self, index: Sequence[int]) -> "MotionBatch":
        """The sequences at ``index`` (a list of batch positions), as a new batch."""
        idx = torch.as_tensor(list(index), dtype=torch.long, device=self.device)
        if idx.numel() == 0 or bool(((idx < 0) | (idx >= self.batch_size)).any()):
            raise InputValueError(f"index: expected batch positions in [0, {self.batch_size}), got {idx.tolist()}")
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_posed_cache"}
        values = {k: v.index_select(0, idx) if isinstance(v, torch.Tensor) else v for k, v in values.items()}
        values["metadata"] = [dict(self.metadata[i]) for i in idx.tolist()]
        return MotionBatch._validated(values)

    def chunks(self, size: int) -> List["MotionBatch"]:
        """Split into batches of at most ``size`` sequences (for bounded memory)."""
        if size <= 0:
            raise InputValueError(f"size: expected a positive chunk size, got {size}")
        return [self.select(range(s, min(s + size, self.batch_size))) for s in range(0, self.batch_size, size)]

    # ------------------------------------------------------------------ body
    def posed(self, body: Optional[BodyModel], need_vertices: bool = False) -> BodyOutput:
        """Joints (B, T, 24, 3) and, if asked, vertices (B, T, V, 3), computed once per body.

        Precomputed ``joints``/``vertices`` are used as given. Padded frames hold the pose of
        zeros; they are excluded by ``mask`` downstream.
        """
        if self.joints is not None and (not need_vertices or self.vertices is not None):
            return BodyOutput(joints=self.joints, vertices=self.vertices)
        if self.body_pose is None:
            raise HumanScoreError("vertices were asked for, but the batch has only joints (no SMPL parameters)")
        if body is None:
            raise HumanScoreError("body: a BodyModel is needed to pose SMPL parameters")
        # A result with vertices also serves a later request for joints only.
        for with_vertices in (True,) if need_vertices else (True, False):
            cached = self._posed_cache.get((id(body), with_vertices))
            if cached is not None:
                return cached
        out = self.pose_frames(body, slice(None), need_vertices)
        self._posed_cache[(id(body), need_vertices)] = out
        return out

    def pose_frames(self, body: BodyModel, frames: slice, need_vertices: bool = True) -> BodyOutput:
        """Pose a window of frames of every sequence from the SMPL parameters, not cached
        (to pose a long clip piece by piece in bounded memory).

        Args:
            body: the body model, on the batch's device.
            frames: which frames, e.g. ``slice(0, 256)``.

        Returns:
            joints (B, W, 24, 3) and, if asked, vertices (B, W, V, 3), W the window's length.
        """
        betas = self.betas
        if betas is not None:
            betas = betas[:, frames] if betas.dim() == 3 else \
                betas[:, None, :].expand(-1, self.mask[:, frames].shape[1], -1)
        return body(self.global_orient[:, frames], self.body_pose[:, frames], betas, self.transl[:, frames],
                    need_vertices=need_vertices)

    def with_fields(self, **changes: Any) -> "MotionBatch":
        """A copy with some fields replaced (validated again, cache dropped)."""
        return replace(self, _posed_cache={}, **changes)
