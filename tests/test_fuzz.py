"""Fuzzing every public entrance with bad and borderline input (spec section 7).

Each case is drawn as a set of *faults* (inputs the entrance must reject: zero, negative or
non-finite fps, mismatched batch sizes, wrong shapes, integer dtypes, a tensor on another
device -- a ``meta`` tensor stands in for it on a CPU-only machine) on top of borderline but
legal input (empty and one- to three-frame clips, empty batches, float16/bfloat16/float64,
NaN/inf frames, absurd coordinates, masks without a valid frame). A case with a fault must
raise a HumanScoreError; a case without one must compute, and every floating value it returns
must be finite (scores in [0, 100]). Never a bare exception. A rejected ``update`` leaves a
torchmetrics metric's state exactly as it was.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, FrozenSet, List

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humanscore_torch.body.parts import part_structure
from humanscore_torch.errors import HumanScoreError
from humanscore_torch.evaluation import batch_records, score_batch
from humanscore_torch.functional.artifact_rate import artifact_penalty, artifact_rate
from humanscore_torch.functional.bone_length import bone_length_consistency, bone_length_penalty
from humanscore_torch.functional.ground_diagnostics import ground_diagnostics
from humanscore_torch.functional.jerk import jerk, jerk_penalty
from humanscore_torch.functional.motion_inputs import MAX_FPS
from humanscore_torch.functional.newtonian import newtonian_penalty, newtonian_plausibility
from humanscore_torch.functional.range_of_motion import range_of_motion, range_of_motion_penalty
from humanscore_torch.functional.self_penetration import self_penetration, self_penetration_penalty
from humanscore_torch.metrics.artifact_rate import ArtifactRate
from humanscore_torch.metrics.bone_length import BoneLengthConsistency
from humanscore_torch.metrics.jerk import Jerk
from humanscore_torch.metrics.newtonian import NewtonianPlausibility
from humanscore_torch.metrics.range_of_motion import RangeOfMotion
from humanscore_torch.metrics.self_penetration import SelfPenetration
from humanscore_torch.motion import MotionBatch

# Bounded so the whole file runs in about a minute on one core.
FUZZ = settings(max_examples=80, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=30)

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
BAD_VALUES = (math.nan, math.inf, -math.inf, 1e30)
VALID_FPS = st.one_of(st.sampled_from([1e-3, 1.0, 24.0, 30.0, 120.0, 1e4]), st.floats(0.5, 1000.0))
BAD_FPS = st.sampled_from([0.0, -0.0, -30.0, math.nan, math.inf, -math.inf, 1e5, 1e30])

# Faults, by the argument they break. Every one must be rejected with a HumanScoreError.
FAULTS = {
    "data": ("data_int", "data_meta", "data_shape"),
    "fps": ("fps_value", "fps_count", "fps_meta", "fps_dims"),
    "mask": ("mask_batch", "mask_frames", "mask_dtype", "mask_meta"),
    "ground": ("ground_count", "ground_meta", "ground_value"),
}


def _rest_joints() -> torch.Tensor:
    """(24, 3) a standing skeleton (the default body's rest joints), metres."""
    from humanscore_torch.body import BodyModel

    zeros = torch.zeros(1, 3)
    with torch.no_grad():
        return BodyModel.default()(zeros, torch.zeros(1, 23, 3), None, need_vertices=False).joints[0]


REST = _rest_joints()


@st.composite
def cases(draw, arguments=("data", "fps", "mask"), max_batch=3, frames=(0, 1, 2, 3, 4, 5, 9)):
    """A case: sizes, dtype, value scale, corrupted frames, fps values, mask kind, faults."""
    pool = [f for a in arguments for f in FAULTS[a]]
    faults: FrozenSet[str] = frozenset(draw(st.lists(st.sampled_from(pool), max_size=2))
                                       if pool and draw(st.booleans()) else [])
    batch = draw(st.integers(1 if faults & {"fps_value", "ground_value"} else 0, max_batch))
    num_frames = draw(st.sampled_from(frames))
    fps = draw(st.lists(VALID_FPS, min_size=batch, max_size=batch))
    if "fps_value" in faults:
        fps[draw(st.integers(0, batch - 1))] = draw(BAD_FPS)
    corrupt = draw(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8), st.sampled_from(BAD_VALUES)), max_size=3))
    return {
        "faults": faults,
        "batch": batch,
        "frames": num_frames,
        "dtype": draw(st.sampled_from(FLOAT_DTYPES)),
        "scale": draw(st.sampled_from([0.0, 1e-3, 0.05, 0.5, 1e3])),
        "seed": draw(st.integers(0, 2**16)),
        "corrupt": corrupt,
        "fps": fps,
        "fps_dtype": draw(st.sampled_from([torch.float32, torch.float64, torch.int64, torch.float16])),
        "mask": draw(st.sampled_from(["none", "all", "random", "empty", "first"])),
        "ground": draw(st.sampled_from([None, 0.0, -0.5])),
    }


def _corrupted(x: torch.Tensor, case: Dict[str, Any]) -> torch.Tensor:
    """x (B, T, ...) with the case's bad values written into some frames (where they exist)."""
    for b, t, value in case["corrupt"]:
        if b < x.shape[0] and t < x.shape[1]:
            x[b, t] = value
    return x


def _device(case: Dict[str, Any], fault: str) -> str:
    return "meta" if fault in case["faults"] else "cpu"


def make_joints(case: Dict[str, Any], joints: int = 24) -> torch.Tensor:
    """(B, T, J, 3) joints: the rest skeleton walking forward, plus noise of the case's scale."""
    g = torch.Generator().manual_seed(case["seed"])
    b, t = case["batch"], case["frames"]
    base = REST if joints == 24 else torch.randn(joints, 3, generator=g)
    walk = torch.arange(t, dtype=torch.float64)[None, :, None, None] * torch.tensor([0.0, 0.0, 0.04], dtype=torch.float64)
    x = base.double()[None, None] + walk + case["scale"] * torch.randn(b, t, joints, 3, generator=g, dtype=torch.float64)
    x = _corrupted(x, case)
    if "data_shape" in case["faults"]:
        x = x[..., :2]
    x = x.to(case["dtype"])
    if "data_int" in case["faults"]:
        x = x.round().long()
    return x.to(_device(case, "data_meta"))


def make_fps(case: Dict[str, Any]) -> torch.Tensor:
    values = list(case["fps"])
    if "fps_count" in case["faults"]:
        values = values + [30.0]
    fps = torch.tensor(values, dtype=torch.float64)
    if case["fps_dtype"] == torch.int64:
        # Integer rates: a legal rate stays legal (at least 1 Hz); a bad one stays bad. Only legal
        # rates may be clamped: clamping every positive one turned inf, 1e5 and 1e30 into the legal
        # 10000 Hz, a "fault" the op rightly accepted. Bad: NaN -> 0, +-inf -> -1, too fast -> 1e5
        # (1e30 does not fit int64).
        legal = (fps > 0) & (fps <= MAX_FPS)
        bad = fps.nan_to_num(nan=0.0, posinf=-1.0, neginf=-1.0).clamp(max=10 * MAX_FPS)
        fps = torch.where(legal, fps.clamp(1, MAX_FPS), bad)
    fps = fps.to(case["fps_dtype"])
    if "fps_dims" in case["faults"]:
        fps = fps[:, None]
    return fps.to(_device(case, "fps_meta"))


def make_mask(case: Dict[str, Any]):
    b, t, kind = case["batch"], case["frames"], case["mask"]
    faults = case["faults"]
    if kind == "none" and not faults & set(FAULTS["mask"]):
        return None
    g = torch.Generator().manual_seed(case["seed"] + 1)
    b += "mask_batch" in faults
    t += "mask_frames" in faults
    mask = {"empty": torch.zeros(b, t, dtype=torch.bool), "first": torch.arange(t)[None].expand(b, t) < 1,
            "random": torch.rand(b, t, generator=g) < 0.7}.get(kind, torch.ones(b, t, dtype=torch.bool))
    if "mask_dtype" in faults:
        mask = mask.long()
    return mask.to(_device(case, "mask_meta"))


def make_ground(case: Dict[str, Any]):
    if case["ground"] is None and not case["faults"] & set(FAULTS["ground"]):
        return None
    value = 0.0 if case["ground"] is None else case["ground"]
    value = math.nan if "ground_value" in case["faults"] else value
    ground = torch.full((case["batch"] + ("ground_count" in case["faults"]),), value)
    return ground.to(_device(case, "ground_meta"))


# ----------------------------------------------------------------------------- checking
def _values(out: Any, name: str = "out"):
    """Every tensor in a nested result (dicts, tuples, dataclasses), with its name."""
    if isinstance(out, torch.Tensor):
        yield name, out
    elif isinstance(out, dict):
        for key, value in out.items():
            yield from _values(value, f"{name}.{key}")
    elif isinstance(out, (tuple, list)):
        for i, value in enumerate(out):
            yield from _values(value, f"{name}[{i}]")
    elif hasattr(out, "__dataclass_fields__"):
        for key in out.__dataclass_fields__:
            yield from _values(getattr(out, key), f"{name}.{key}")


def assert_defined(out: Any) -> None:
    """Every floating value finite; every score in [0, 100]."""
    for name, value in _values(out):
        if value.is_floating_point():
            assert bool(torch.isfinite(value).all()), f"{name} is not finite: {value}"
            if name.endswith("score"):
                assert bool(((value >= 0) & (value <= 100)).all()), f"{name} outside [0, 100]: {value}"


def check(case: Dict[str, Any], call: Callable[[], Any], arguments) -> Any:
    """Run ``call``: it must raise a HumanScoreError exactly when the case has a fault in one
    of ``arguments``, and otherwise return defined values. A bare exception propagates."""
    relevant = case["faults"] & {f for a in arguments for f in FAULTS[a]}
    if relevant:
        with pytest.raises(HumanScoreError):
            call()
        return None
    out = call()
    assert_defined(out)
    return out


# ----------------------------------------------------------------------------- functional ops
JOINT_OPS = {
    "jerk": (lambda j, f, m, g: jerk(j, f, m), ("data", "fps", "mask")),
    "jerk_penalty": (lambda j, f, m, g: jerk_penalty(j, f, m), ("data", "fps", "mask")),
    "bone_length_consistency": (lambda j, f, m, g: bone_length_consistency(j, m), ("data", "mask")),
    "bone_length_penalty": (lambda j, f, m, g: bone_length_penalty(j, m), ("data", "mask")),
    "newtonian_plausibility": (lambda j, f, m, g: newtonian_plausibility(j, f, m, g), ("data", "fps", "mask", "ground")),
    "newtonian_penalty": (lambda j, f, m, g: newtonian_penalty(j, f, m, g), ("data", "fps", "mask", "ground")),
    "ground_diagnostics": (lambda j, f, m, g: ground_diagnostics(j, f, m, g), ("data", "fps", "mask", "ground")),
}


@pytest.mark.parametrize("name", sorted(JOINT_OPS))
@FUZZ
@given(case=cases(arguments=("data", "fps", "mask", "ground")))
def test_joint_ops(name, case):
    op, arguments = JOINT_OPS[name]
    joints, fps, mask, ground = make_joints(case), make_fps(case), make_mask(case), make_ground(case)
    out = check(case, lambda: op(joints, fps, mask, ground), arguments)
    if isinstance(out, dict) and "computed" in out and mask is not None and not case["faults"]:
        # A sequence without a valid frame is never reported as computed.
        assert not bool((out["computed"] & ~mask.any(1)).any())


def make_rotations(case: Dict[str, Any]):
    """global_orient (B, T, 3) and body_pose (B, T, 23, 3), or matrices, with the case's faults."""
    g = torch.Generator().manual_seed(case["seed"])
    b, t = case["batch"], case["frames"]
    root = _corrupted(case["scale"] * torch.randn(b, t, 3, generator=g, dtype=torch.float64), case)
    pose = _corrupted(case["scale"] * torch.randn(b, t, 23, 3, generator=g, dtype=torch.float64), case)
    if case["seed"] % 3 == 0:  # rotation matrices, not always orthonormal
        from humanscore_torch.rotations import rotvec_to_rotmat

        noise = 0.0 if case["seed"] % 2 else case["scale"]
        root = rotvec_to_rotmat(root) + noise * torch.randn(b, t, 3, 3, generator=g, dtype=torch.float64)
        pose = rotvec_to_rotmat(pose) + noise * torch.randn(b, t, 23, 3, 3, generator=g, dtype=torch.float64)
    if "data_shape" in case["faults"]:
        pose = pose[:, :, :22]
    root, pose = root.to(case["dtype"]), pose.to(case["dtype"])
    if "data_int" in case["faults"]:
        root, pose = root.round().long(), pose.round().long()
    device = _device(case, "data_meta")
    return root.to(device), pose.to(device)


@pytest.mark.parametrize("op", [range_of_motion, range_of_motion_penalty], ids=["metric", "penalty"])
@FEW
@given(case=cases(arguments=("data", "mask")))
def test_range_of_motion_ops(op, case):
    root, pose = make_rotations(case)
    mask = make_mask(case)
    check(case, lambda: op(root, pose, mask), ("data", "mask"))


def make_detections(case: Dict[str, Any], classes: int = 18) -> torch.Tensor:
    g = torch.Generator().manual_seed(case["seed"])
    x = torch.rand(case["batch"], case["frames"], classes, generator=g, dtype=torch.float64)
    if "data_shape" in case["faults"]:
        x = x[:, :, 0]
    if "data_int" in case["faults"]:
        return x.round().long().to(_device(case, "data_meta"))
    return x.to(case["dtype"]).to(_device(case, "data_meta"))


@pytest.mark.parametrize("op", [artifact_rate, artifact_penalty], ids=["metric", "penalty"])
@FUZZ
@given(case=cases(arguments=("data", "mask")))
def test_artifact_ops(op, case):
    detections, mask = make_detections(case), make_mask(case)
    check(case, lambda: op(detections, mask), ("data", "mask"))


def test_artifact_rate_rejects_out_of_range_confidences():
    for bad in (math.nan, -0.1, 1.5, math.inf):
        detections = torch.full((1, 3, 18), 0.2)
        detections[0, 1, 4] = bad
        with pytest.raises(HumanScoreError):
            artifact_rate(detections)


@pytest.fixture(scope="module")
def small_posed(small_body):
    """Posing helper on the small random body: (B, T) poses -> vertices (B, T, V, 3)."""
    def pose(case: Dict[str, Any]) -> torch.Tensor:
        g = torch.Generator().manual_seed(case["seed"])
        b, t = case["batch"], case["frames"]
        scale = min(case["scale"], 1.0)
        root = scale * torch.randn(b, t, 3, generator=g)
        body_pose = scale * torch.randn(b, t, 23, 3, generator=g)
        with torch.no_grad():
            vertices = small_body(root, body_pose, None, None, need_vertices=True).vertices.double()
        vertices = _corrupted(vertices, case)
        if "data_shape" in case["faults"]:
            vertices = vertices[:, :, :-1]
        vertices = vertices.to(case["dtype"])
        if "data_int" in case["faults"]:
            vertices = vertices.round().long()
        return vertices.to(_device(case, "data_meta"))
    return pose


def _required_mask(case: Dict[str, Any]) -> torch.Tensor:
    """self_penetration takes a mask argument always: None becomes all frames."""
    mask = make_mask(case)
    return torch.ones(case["batch"], case["frames"], dtype=torch.bool) if mask is None else mask


@FEW
@given(case=cases(arguments=("data", "mask"), max_batch=2, frames=(0, 1, 2, 3)))
def test_self_penetration_op(small_body, small_posed, case):
    vertices, mask = small_posed(case), _required_mask(case)
    structure = part_structure(small_body)
    out = check(case, lambda: self_penetration(vertices, mask, structure), ("data", "mask"))
    if out is not None:
        assert not bool((out["penetrating"] & ~mask).any())


@FEW
@given(case=cases(arguments=("data", "mask"), max_batch=2, frames=(0, 1, 2, 3)))
def test_self_penetration_penalty(small_body, small_posed, case):
    vertices = small_posed(case)
    mask = make_mask(case)
    check(case, lambda: self_penetration_penalty(vertices, part_structure(small_body), mask), ("data", "mask"))


# ----------------------------------------------------------------------------- torchmetrics
def _state(metric) -> Dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in metric.metric_state.items()}


def _assert_state(metric, before: Dict[str, torch.Tensor]) -> None:
    after = metric.metric_state
    assert set(after) == set(before)
    for key, value in before.items():
        assert after[key].dtype == value.dtype and torch.equal(after[key], value), f"state {key} changed"


def _good_joint_case() -> Dict[str, Any]:
    return {"faults": frozenset(), "batch": 2, "frames": 12, "dtype": torch.float32, "scale": 0.01, "seed": 1,
            "corrupt": [], "fps": [30.0, 60.0], "fps_dtype": torch.float32, "mask": "none", "ground": None}


METRICS = {
    "Jerk": (Jerk, lambda c: (make_joints(c), make_fps(c), make_mask(c)), ("data", "fps", "mask")),
    "BoneLengthConsistency": (BoneLengthConsistency, lambda c: (make_joints(c), make_mask(c)), ("data", "mask")),
    "NewtonianPlausibility": (NewtonianPlausibility, lambda c: (make_joints(c), make_fps(c), make_mask(c), make_ground(c)),
                              ("data", "fps", "mask", "ground")),
    "RangeOfMotion": (RangeOfMotion, lambda c: (*make_rotations(c), make_mask(c)), ("data", "mask")),
    "ArtifactRate": (ArtifactRate, lambda c: (make_detections(c), make_mask(c)), ("data", "mask")),
}


@pytest.fixture(scope="module")
def metric_instances():
    """One instance per class, created once (each case resets it)."""
    return {name: cls() for name, (cls, _, _) in METRICS.items()}


def _update_then_compute(metric, make, arguments, case):
    metric.reset()
    metric.update(*make(_good_joint_case()))
    before, first = _state(metric), metric.compute()
    args = make(case)
    check(case, lambda: metric.update(*args), arguments)
    if case["faults"] & {f for a in arguments for f in FAULTS[a]}:
        _assert_state(metric, before)
        for key, value in metric.compute().items():
            assert torch.equal(value, first[key]), f"compute()[{key!r}] changed after a rejected update"
    else:
        assert_defined(metric.compute())


@pytest.mark.parametrize("name", sorted(METRICS))
@FUZZ
@given(case=cases(arguments=("data", "fps", "mask", "ground")))
def test_metric_update_then_compute(name, metric_instances, case):
    _, make, arguments = METRICS[name]
    _update_then_compute(metric_instances[name], make, arguments, case)


@FEW
@given(case=cases(arguments=("data", "mask"), max_batch=2, frames=(0, 1, 2, 3)))
def test_self_penetration_metric(small_body, small_posed, case):
    metric = SelfPenetration(small_body)
    good = dict(_good_joint_case(), frames=3, scale=0.3)
    metric.update(small_posed(good), torch.ones(2, 3, dtype=torch.bool))
    before, first = _state(metric), metric.compute()
    vertices, mask = small_posed(case), _required_mask(case)
    check(case, lambda: metric.update(vertices, mask), ("data", "mask"))
    if case["faults"]:
        _assert_state(metric, before)
        assert all(torch.equal(v, first[k]) for k, v in metric.compute().items())
    else:
        assert_defined(metric.compute())


# ----------------------------------------------------------------------------- MotionBatch
MOTION_FAULTS = ("fps_value", "fps_count", "fps_meta", "data_meta", "mask_batch", "mask_frames", "mask_dtype",
                 "pose_shape", "pose_batch", "root_only", "metadata_count")


@st.composite
def motion_batches(draw, allow_faults=True):
    faults = frozenset(draw(st.lists(st.sampled_from(MOTION_FAULTS), max_size=2))
                       if allow_faults and draw(st.booleans()) else [])
    case = draw(cases(arguments=(), max_batch=3, frames=(0, 1, 2, 3, 4, 6)))
    case["faults"] = faults
    if "fps_value" in faults:
        # MotionBatch takes any finite rate > 0 (the metrics bound it): only those are bad here.
        bad = draw(st.sampled_from([0.0, -30.0, math.nan, math.inf, -math.inf]))
        case["batch"] = max(case["batch"], 1)
        case["fps"] = [bad] + draw(st.lists(VALID_FPS, min_size=case["batch"] - 1, max_size=case["batch"] - 1))
    smpl_faults = faults & {"pose_shape", "pose_batch", "root_only"}
    kinds = ["smpl", "smpl_matrices", "smpl_joints"] + ([] if smpl_faults else ["joints"])
    case["kind"] = draw(st.sampled_from(kinds))
    case["betas"] = draw(st.sampled_from([None, "sequence", "frame"]))
    case["detections"] = draw(st.booleans())
    case["int_pose"] = draw(st.booleans())
    return case


def build_motion_batch(case: Dict[str, Any]) -> MotionBatch:
    """A MotionBatch from the case (raises on its faults)."""
    from humanscore_torch.rotations import rotvec_to_rotmat

    g = torch.Generator().manual_seed(case["seed"])
    b, t, faults, dtype = case["batch"], case["frames"], case["faults"], case["dtype"]
    fields: Dict[str, Any] = {}
    if case["kind"] != "joints":
        scale = min(case["scale"], 3.0)
        root = _corrupted(scale * torch.randn(b, t, 3, generator=g), case)
        pose = _corrupted(scale * torch.randn(b, t, 23, 3, generator=g), case)
        if case["kind"] == "smpl_matrices":
            root, pose = rotvec_to_rotmat(root), rotvec_to_rotmat(pose)
        if "pose_shape" in faults:
            pose = pose[:, :, :21]
        if "pose_batch" in faults:
            pose = torch.cat([pose, torch.zeros(1, *pose.shape[1:])])
        # Integer poses are legal (cast to float32); otherwise the case's float dtype.
        root, pose = (root.round().int(), pose.round().int()) if case["int_pose"] else (root.to(dtype), pose.to(dtype))
        fields.update(global_orient=root, body_pose=None if "root_only" in faults else pose,
                      transl=_corrupted(torch.randn(b, t, 3, generator=g) * 0.1, case).to(dtype))
        if case["betas"] == "sequence":
            fields["betas"] = torch.randn(b, 10, generator=g).to(dtype)
        elif case["betas"] == "frame":
            fields["betas"] = torch.randn(b, t, 10, generator=g).to(dtype)
    if case["kind"] in ("joints", "smpl_joints"):
        fields["joints"] = make_joints(dict(case, faults=frozenset()))
    if case["detections"]:
        fields["detections"] = torch.rand(b, t, 18, generator=g).to(dtype)
    if "data_meta" in faults:
        key = "joints" if fields.get("joints") is not None else "global_orient"
        fields[key] = fields[key].to("meta")
    mask = make_mask(case)
    mask = torch.ones(b, t, dtype=torch.bool) if mask is None else mask
    metadata = [{"name": f"clip{i}"} for i in range(b + ("metadata_count" in faults))]
    return MotionBatch(fps=make_fps(case), mask=mask, metadata=metadata, **fields)


@settings(FUZZ, max_examples=150)
@given(case=motion_batches())
def test_motion_batch_construction(case):
    if case["faults"]:
        with pytest.raises(HumanScoreError):
            build_motion_batch(case)
        return
    batch = build_motion_batch(case)
    assert batch.fps.dtype.is_floating_point and bool((batch.fps > 0).all())
    for name in ("global_orient", "body_pose", "transl", "betas", "joints", "vertices", "detections"):
        value = getattr(batch, name)
        if value is not None:
            assert value.is_floating_point() and bool(torch.isfinite(value).all()), name
    # Every corrupted real frame is masked and counted.
    corrupted = {(bb, tt) for bb, tt, _ in case["corrupt"] if bb < case["batch"] and tt < case["frames"]}
    for bb, tt in corrupted:
        assert not bool(batch.mask[bb, tt])
    assert int(batch.nonfinite_frames.sum()) <= len(corrupted)


@settings(FUZZ, max_examples=50)
@given(case=motion_batches(allow_faults=False))
def test_suite_on_fuzzed_batches(small_body, case):
    """Every metric of the suite on every legal fuzzed batch: defined values, finite records."""
    batch = build_motion_batch(case)
    results = score_batch(batch, small_body)
    assert_defined(results)
    records = batch_records(batch, results)
    for record, valid in zip(records, batch.mask.any(1).tolist()):
        for key, score in record["scores"].items():
            assert score is None or (math.isfinite(score) and 0 <= score <= 100), (key, score)
        if not valid:  # no valid frame: nothing is computed, nothing scores
            assert all(record["scores"][k] is None for k in ("jerk", "range_of_motion", "bone_length_consistency"))


@settings(FUZZ, max_examples=60)
@given(lengths=st.lists(st.integers(0, 4), min_size=1, max_size=3), mixed=st.sampled_from(["none", "joints", "betas"]),
       fps=st.lists(st.one_of(VALID_FPS, BAD_FPS, st.none()), min_size=1, max_size=3))
def test_from_sequences(lengths, mixed, fps):
    """Padding dicts of any length (zero frames included); inconsistent dicts are rejected."""
    sequences: List[Dict[str, Any]] = []
    for i, n in enumerate(lengths):
        seq = {"global_orient": torch.zeros(n, 3), "body_pose": torch.zeros(n, 23, 3), "transl": torch.zeros(n, 3),
               "betas": torch.zeros(10) if not (mixed == "betas" and i) else torch.zeros(n, 10),
               "fps": fps[i % len(fps)], "metadata": {"name": str(i)}}
        if mixed == "joints" and i == 0:
            seq["joints"] = torch.zeros(n, 24, 3)
        sequences.append(seq)
    rates = [s["fps"] for s in sequences]
    bad = (any(r is None or not (math.isfinite(r) and 0 < r <= MAX_FPS) for r in rates)
           or (mixed == "joints" and len(lengths) > 1))
    if bad:
        with pytest.raises(HumanScoreError):
            MotionBatch.from_sequences(sequences)
        return
    batch = MotionBatch.from_sequences(sequences)
    assert batch.lengths.tolist() == lengths
