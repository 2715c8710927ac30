"""Measurements on the OpenSim reference data: the real running trial and the round trip
(:class:`ImportedTrial` measures any model and ``.mot`` the same way).

The trial is subject02 of Hamner et al. 2010 (``FullBodyModel_Hamner2010_v2_0.osim`` +
``subject02_running_ik.mot``, 60 Hz, force plates in ``subject02_running_grf.mot``); the round
trip uses ``Rajagopal2016.osim``. Two versions of the trial are measured:

* *imported*: the ``.mot`` imported onto an SMPL body with
  :func:`humanscore_torch.io.opensim.read_opensim_motion` (the figures of issue 7);
* *OpenSim joints*: 24 SMPL-like joints placed by OpenSim itself (body origins, and points fixed
  in the torso and hands for the joints the model has no body for), the data the jerk,
  bone-length and Newtonian configs were calibrated on.

Needs the ``opensim`` package. Only numbers leave this module; nothing of the data is stored.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Dict, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..body.parts import part_structure
from ..body.segments import center_of_mass
from ..calibration import over_ground as calibration_over_ground
from ..config import load_config
from ..errors import HumanScoreError
from ..evaluation import score_sequences
from ..functional.bone_length import bone_length_consistency
from ..functional.filtering import lowpass_derivatives
from ..functional.jerk import _third_difference, jerk
from ..functional.newtonian import newtonian_plausibility
from ..functional.range_of_motion import joint_map_for_body, range_of_motion
from ..functional.self_penetration import self_penetration, unchecked_parts_from_joints
from ..io.opensim import HIP_BODIES, _rest_joints, opensim_body_poses, read_mot, read_opensim_motion
from ..limits.joint_map import FRAME_CHANGE, JointMap
from ..motion import MotionBatch

HAMNER_MODEL = "FullBodyModel_Hamner2010_v2_0.osim"
RUNNING_TRIAL = "subject02_running_ik.mot"
RUNNING_FORCES = "subject02_running_grf.mot"
RAJAGOPAL_MODEL = "Rajagopal2016.osim"
REFERENCE_FILES = (HAMNER_MODEL, RUNNING_TRIAL, RUNNING_FORCES, RAJAGOPAL_MODEL)

# Coordinates whose angle the project recomputes from the imported SMPL poses.
ANGLE_COORDINATES = ("hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "knee_angle_r", "elbow_flex_r",
                     "hip_flexion_l", "hip_adduction_l", "hip_rotation_l", "knee_angle_l", "elbow_flex_l")
# SMPL limb (joint -> child joint) and the OpenSim bodies whose origins span the same limb.
LIMBS: Dict[str, Tuple[Tuple[int, int], Tuple[str, str]]] = {
    "thigh_r": ((2, 5), ("femur_r", "tibia_r")), "shank_r": ((5, 8), ("tibia_r", "talus_r")),
    "upper_arm_r": ((17, 19), ("humerus_r", "ulna_r")), "forearm_r": ((19, 21), ("ulna_r", "hand_r")),
    "thigh_l": ((1, 4), ("femur_l", "tibia_l")), "shank_l": ((4, 7), ("tibia_l", "talus_l")),
    "upper_arm_l": ((16, 18), ("humerus_l", "ulna_l")), "forearm_l": ((18, 20), ("ulna_l", "hand_l")),
}
# SMPL joint -> OpenSim body whose origin stands in for it ...
JOINT_ORIGINS: Dict[int, str] = {
    0: "pelvis", 1: "femur_l", 2: "femur_r", 4: "tibia_l", 5: "tibia_r", 7: "talus_l",
    8: "talus_r", 10: "toes_l", 11: "toes_r", 16: "humerus_l", 17: "humerus_r",
    18: "ulna_l", 19: "ulna_r", 20: "hand_l", 21: "hand_r",
}
# ... and joints without an OpenSim body: a point fixed in a body's frame (offset in metres).
JOINT_OFFSETS: Dict[int, Tuple[str, Tuple[float, float, float]]] = {
    3: ("torso", (0.0, 0.10, 0.0)), 6: ("torso", (0.0, 0.22, 0.0)), 9: ("torso", (0.0, 0.33, 0.0)),
    12: ("torso", (0.0, 0.45, 0.0)), 13: ("torso", (0.0, 0.40, -0.07)), 14: ("torso", (0.0, 0.40, 0.07)),
    15: ("torso", (0.02, 0.58, 0.0)), 22: ("hand_l", (0.0, -0.08, 0.0)), 23: ("hand_r", (0.0, -0.08, 0.0)),
}
# The 16 body origins the jerk config was calibrated on (pelvis, hips, knees, ankles, toes,
# torso, shoulders, elbows, wrists).
JERK_BODIES: Tuple[str, ...] = tuple(JOINT_ORIGINS[j] for j in sorted(JOINT_ORIGINS)) + ("torso",)
# Vertical plate force above which a foot is on the belt (N), for the belt speed.
_LOADED_N = 200.0
# Toe joints (SMPL left_foot / right_foot): the planted foot is the lower one.
_TOES = (10, 11)


def reference_data_dir(path: Optional[Union[str, Path]] = None) -> Path:
    """The reference data folder: ``path``, else ``$HUMANSCORE_REFERENCE_DATA``, else
    ``../shared/reference-data`` relative to the current directory.

    Raises:
        HumanScoreError: the folder lacks ``opensim/`` with the four reference files.
    """
    if path is None:
        env = os.environ.get("HUMANSCORE_REFERENCE_DATA")
        path = Path(env) if env else Path("..", "shared", "reference-data").resolve()
    path = Path(path)
    hint = "pass --reference-data DIR or set HUMANSCORE_REFERENCE_DATA"
    if not (path / "opensim").is_dir():
        raise HumanScoreError(f"reference data not found: expected a folder {path / 'opensim'} ({hint})")
    missing = [name for name in REFERENCE_FILES if not (path / "opensim" / name).is_file()]
    if missing:
        raise HumanScoreError(f"reference data: {path / 'opensim'} lacks {', '.join(missing)} ({hint})")
    return path


def _require_opensim():
    try:
        import opensim
    except ImportError as exc:
        raise HumanScoreError("the reference-data figures need the 'opensim' package (pip install opensim)") from exc
    opensim.Logger.setLevelString("error")
    return opensim


def belt_speed(joints: np.ndarray, fps: float, force_y: np.ndarray, forward: int) -> float:
    """Treadmill belt speed: the median backward speed of the lower foot while the plates are
    loaded (a planted foot moves backward with the belt).

    Args:
        joints: (T, 24, 3) SMPL-like joints in metres, y up. fps: Hz.
        force_y: (T,) vertical plate force in newtons. forward: the axis of running (0 or 2).

    Returns:
        belt speed in m/s (positive when the belt runs backward).
    """
    lower = np.where(joints[:, _TOES[0], 1] < joints[:, _TOES[1], 1], 0, 1)
    speed = np.gradient(joints[:, list(_TOES), forward], axis=0)[np.arange(len(lower)), lower] * fps
    return float(-np.median(speed[force_y > _LOADED_N]))


def over_ground(joints: np.ndarray, times: np.ndarray, belt: float, forward: int) -> np.ndarray:
    """(T, J, 3) the treadmill joints moved to an over-ground frame: the belt speed added along
    ``forward`` (a constant velocity, so accelerations and jerk are unchanged)."""
    moved = np.array(joints, dtype=np.float64)
    moved[..., forward] += belt * (times - times[0])[:, None]
    return moved


class OpenSimJoints(NamedTuple):
    """The trial as SMPL-like joints placed by OpenSim (OpenSim ground frame: y up, x forward).

    Attributes:
        joints: (T, 24, 3) metres, moved over ground (belt speed added along +x).
        body_origins: (T, 16, 3) metres, the origins of :data:`JERK_BODIES` (on the treadmill).
        fps: frames per second (60).
        support_bw: (T,) vertical plate force in body weights.
        belt_m_s: the belt speed added (m/s).
    """

    joints: np.ndarray
    body_origins: np.ndarray
    fps: float
    support_bw: np.ndarray
    belt_m_s: float


def smpl_like_joints(index: Dict[str, int], orientations: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """(T, 24, 3) SMPL-like joints from OpenSim body frames: the origins of
    :data:`JOINT_ORIGINS` and the points of :data:`JOINT_OFFSETS` (OpenSim ground frame).

    Args:
        index: body name -> position in ``orientations`` / ``origins``.
        orientations: (T, N, 3, 3) and origins: (T, N, 3) metres, from
            :func:`~humanscore_torch.io.opensim.opensim_body_poses`.
    """
    joints = np.zeros((origins.shape[0], 24, 3))
    for joint, name in JOINT_ORIGINS.items():
        joints[:, joint] = origins[:, index[name]]
    for joint, (name, offset) in JOINT_OFFSETS.items():
        joints[:, joint] = origins[:, index[name]] + orientations[:, index[name]] @ np.asarray(offset)
    return joints


def opensim_body_names() -> Tuple[str, ...]:
    """The OpenSim bodies :func:`smpl_like_joints` reads."""
    return tuple(sorted(set(JOINT_ORIGINS.values()) | {b for b, _ in JOINT_OFFSETS.values()}))


class ImportedTrial:
    """An OpenSim trial (a model and its ``.mot``) imported onto an SMPL body, with the bodies
    OpenSim places for it; each part is computed on first use.

    Args:
        model_path: the ``.osim`` model. mot_path: its coordinates file (degrees).
        body: the SMPL body the trial is imported onto (None: ``BodyModel.default()``).
    """

    def __init__(self, model_path: Union[str, Path], mot_path: Union[str, Path], body=None):
        self.model_path = Path(model_path)
        self.mot_path = Path(mot_path)
        self._body = body

    @cached_property
    def body(self):
        """The SMPL body of the import."""
        from ..body.model import BodyModel

        return BodyModel.default() if self._body is None else self._body

    @cached_property
    def limits(self) -> Dict:
        """:func:`~humanscore_torch.limits.derive.derive_limits` of the model."""
        from ..limits.derive import derive_limits

        _require_opensim()
        return derive_limits(self.model_path)

    @cached_property
    def joint_map(self) -> JointMap:
        """The joint map of the model (completed for the segments it lacks), aligned to :attr:`body`."""
        from ..limits.derive import joint_map_structure

        return JointMap.from_config(joint_map_structure(self.limits), rest_joints=_rest_joints(self.body))

    @cached_property
    def _table(self):
        labels, values, times, in_degrees = read_mot(self.mot_path)
        if not in_degrees:
            raise HumanScoreError(f"{self.mot_path}: expected angles in degrees (inDegrees=yes)")
        return labels, values, times

    @property
    def mot(self) -> Dict[str, np.ndarray]:
        """Coordinate name -> (T,) values as the ``.mot`` writes them (degrees, metres)."""
        labels, values, _ = self._table
        return {name: values[:, i] for i, name in enumerate(labels)}

    @property
    def times(self) -> np.ndarray:
        """(T,) frame times in seconds."""
        return self._table[2]

    @property
    def fps(self) -> float:
        """Frame rate (Hz): 1 / median time step."""
        return float(1.0 / np.median(np.diff(self.times)))

    @property
    def coordinates(self) -> Dict[str, np.ndarray]:
        """Coordinate name -> (T,) values in OpenSim's units (radians, metres)."""
        kinds = {n: c["motion_type"] for n, c in self.limits["coordinates"].items()}
        return {n: (np.radians(v) if kinds[n] == "rotational" else v) for n, v in self.mot.items()}

    @cached_property
    def sequence(self) -> Dict:
        """The trial imported onto :attr:`body` (a sequence dict, see ``read_opensim_motion``)."""
        _require_opensim()
        return read_opensim_motion(self.mot_path, self.model_path, body=self.body)[0]

    @cached_property
    def smpl_joints(self) -> np.ndarray:
        """(T, 24, 3) joints of the imported poses on :attr:`body`, metres, SMPL world, float64."""
        seq = self.sequence
        with torch.no_grad():
            out = self.body(seq["global_orient"].double(), seq["body_pose"].double(), None,
                            seq["transl"].double(), need_vertices=False)
        return out.joints.numpy()

    @cached_property
    def _bodies(self) -> Tuple[Dict[str, int], np.ndarray, np.ndarray]:
        names = sorted(({b for _, pair in LIMBS.values() for b in pair} | set(JOINT_ORIGINS.values())
                        | {b for b, _ in JOINT_OFFSETS.values()}) & set(self.limits["default_pose_origins"]))
        orientations, origins = opensim_body_poses(self.model_path, self.coordinates, names)
        return {n: i for i, n in enumerate(names)}, orientations, origins

    def has_bodies(self, names: Sequence[str]) -> bool:
        """Whether the model has every body of ``names``."""
        return set(names) <= set(self._bodies[0])

    def body_origins(self, names: Sequence[str]) -> np.ndarray:
        """(T, N, 3) origins of OpenSim bodies in ground (metres, y up, x forward)."""
        index, _, origins = self._bodies
        return origins[:, [index[n] for n in names]]


class RunningTrial(ImportedTrial):
    """The real running trial of the reference data (Hamner 2010 subject02, with force plates).

    Args:
        reference_data: the reference data folder (see :func:`reference_data_dir`).
        body: the SMPL body the trial is imported onto (None: ``BodyModel.default()``).
    """

    def __init__(self, reference_data: Optional[Union[str, Path]] = None, body=None):
        self.folder = reference_data_dir(reference_data) / "opensim"
        super().__init__(self.folder / HAMNER_MODEL, self.folder / RUNNING_TRIAL, body)

    @cached_property
    def mass(self) -> float:
        """Total mass of the Hamner model (kg)."""
        opensim = _require_opensim()
        model = opensim.Model(str(self.model_path))
        return float(model.getTotalMass(model.initSystem()))

    @cached_property
    def plate_force_y(self) -> np.ndarray:
        """(T,) vertical force of both force plates (N), interpolated at the frame times."""
        labels, values, times, _ = read_mot(self.folder / RUNNING_FORCES)
        total = values[:, labels.index("ground_force_vy")] + values[:, labels.index("1_ground_force_vy")]
        return np.interp(self.times, times, total)

    @property
    def plate_acceleration(self) -> np.ndarray:
        """(T,) COM vertical acceleration the plates imply, ``F_y / m - g`` (m/s^2)."""
        return self.plate_force_y / self.mass - float(load_config("newtonian")["gravity_m_s2"])

    @cached_property
    def opensim_joints(self) -> OpenSimJoints:
        """The trial as 24 SMPL-like joints placed by OpenSim, moved over ground."""
        joints = smpl_like_joints(*self._bodies)
        belt = belt_speed(joints, self.fps, self.plate_force_y, forward=0)
        body_weight = self.mass * float(load_config("newtonian")["gravity_m_s2"])
        return OpenSimJoints(over_ground(joints, self.times, belt, forward=0), self.body_origins(JERK_BODIES),
                             self.fps, self.plate_force_y / body_weight, belt)


# ----------------------------------------------------------------------- the imported trial
def angle_rms_deg(trial: ImportedTrial, names: Sequence[str] = ANGLE_COORDINATES) -> Dict[str, float]:
    """RMS difference (degrees) between each coordinate the project computes from the imported
    SMPL poses (the joint map derived from the trial's own model) and the ``.mot`` value."""
    seq = trial.sequence
    joint_map = trial.joint_map
    coords = torch.rad2deg(joint_map.coordinates_from_smpl(seq["global_orient"].double(), seq["body_pose"].double())).numpy()
    mot = trial.mot
    return {n: float(np.sqrt(np.mean((coords[:, joint_map.coordinate_index[n]] - mot[n]) ** 2))) for n in names}


class LimbDirections(NamedTuple):
    """Limb directions of the imported trial against OpenSim's.

    Attributes:
        rms_deg: limb name -> RMS angle (degrees) between the SMPL limb (joint -> child joint)
            and the same limb between OpenSim body origins, over the trial.
        smpl_hips: (T, 3) midpoint of the SMPL hip joints (metres, SMPL world; the one hip of a
            single-leg model).
        opensim_hips: (T, 3) midpoint of OpenSim's femur origins, in SMPL world axes.
    """

    rms_deg: Dict[str, float]
    smpl_hips: np.ndarray
    opensim_hips: np.ndarray


def limb_directions(trial: ImportedTrial) -> LimbDirections:
    """World-frame directions of thigh, shank, upper arm and forearm against OpenSim's (the
    limbs whose bodies the model has)."""
    joints = trial.smpl_joints
    rms = {}
    for name, ((j0, j1), bodies) in LIMBS.items():
        if not trial.has_bodies(bodies):
            continue
        origins = trial.body_origins(bodies) @ np.asarray(FRAME_CHANGE)  # ground -> SMPL world (row vectors)
        smpl, model = joints[:, j1] - joints[:, j0], origins[:, 1] - origins[:, 0]
        cos = (smpl * model).sum(-1) / np.linalg.norm(smpl, axis=-1) / np.linalg.norm(model, axis=-1)
        rms[name] = float(np.sqrt(np.mean(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))) ** 2)))
    femurs = [(joint, name) for joint, name in HIP_BODIES if trial.has_bodies([name])]
    hips = (trial.body_origins([name for _, name in femurs]) @ np.asarray(FRAME_CHANGE)).mean(1)
    return LimbDirections(rms, joints[:, [joint for joint, _ in femurs]].mean(1), hips)


def rom_violation(trial: RunningTrial) -> Dict[str, torch.Tensor]:
    """:func:`~humanscore_torch.functional.range_of_motion.range_of_motion` of the imported
    trial (B = 1), with the shipped joint map aligned to the trial's body."""
    seq = trial.sequence
    return range_of_motion(seq["global_orient"][None], seq["body_pose"][None], None, joint_map_for_body(trial.body))


def com_force_correlation(joints: np.ndarray, fps: float, implied: np.ndarray, edge_frames: int = 0) -> float:
    """Pearson r between the low-passed COM vertical acceleration of the joints and the one
    the force plates imply.

    Args:
        joints: (T, 24, 3) metres, y up. fps: Hz. implied: (T,) m/s^2.
        edge_frames: frames left out at each end (the one-sided fits there are noisier).

    Returns:
        r over the frames with a determined filter fit.
    """
    x = torch.as_tensor(joints, dtype=torch.float64)[None]
    mask = torch.ones(1, x.shape[1], dtype=torch.bool)
    cutoff = float(load_config("newtonian")["filter"]["cutoff_hz"])
    com = lowpass_derivatives(center_of_mass(x), torch.tensor([fps], dtype=torch.float64), mask, cutoff)
    keep = com.valid[0].numpy().copy()
    keep[:edge_frames] = False
    keep[len(keep) - edge_frames:] = False
    return float(np.corrcoef(com.acceleration[0, keep, 1].numpy(), np.asarray(implied)[keep])[0, 1])


def newtonian_on_import(trial: RunningTrial) -> Dict[str, float]:
    """Newtonian figures of the imported trial: ``com_force_correlation`` (Pearson r of the COM
    vertical acceleration with the plates'), ``violation_rate`` (fraction of frames, the trial
    moved over ground) and ``belt_m_s``."""
    joints, fps = trial.smpl_joints, trial.fps
    # Treadmill: planted feet slide backwards at the belt speed; over ground they stand still.
    belt = belt_speed(joints, fps, trial.plate_force_y, forward=2)
    moved = torch.as_tensor(over_ground(joints, trial.times, belt, forward=2))[None]
    rate = newtonian_plausibility(moved, torch.tensor([fps], dtype=torch.float64))["raw"][0]
    return {"com_force_correlation": com_force_correlation(joints, fps, trial.plate_acceleration),
            "violation_rate": float(rate), "belt_m_s": belt}


def self_penetration_on_import(trial: RunningTrial) -> Dict[str, float]:
    """Self-penetration of the imported trial: ``scored`` fraction of frames as the suite
    scores it (the parts of the joints the import leaves at rest left out), and with every part
    checked, ``all_parts`` fraction of frames and ``all_parts_max_depth_mm``."""
    seq = trial.sequence
    structure = part_structure(trial.body)
    with torch.no_grad():
        vertices = trial.body(seq["global_orient"], seq["body_pose"], None, seq["transl"]).vertices[None]
    mask = torch.ones(vertices.shape[:2], dtype=torch.bool)
    unmeasured = MotionBatch.from_sequences([seq]).unmeasured_joints
    unchecked = None if unmeasured is None else unchecked_parts_from_joints(unmeasured, structure.num_parts)
    scored = self_penetration(vertices, mask, structure, unchecked_parts=unchecked)
    everything = self_penetration(vertices, mask, structure)
    return {"scored": float(scored["raw"][0]), "all_parts": float(everything["raw"][0]),
            "all_parts_max_depth_mm": float(everything["depth_mm"].max())}


def scores_on_import(trial: RunningTrial, belt: float) -> Dict[str, Optional[float]]:
    """The suite's scores (overall, tiers, metrics; None where not computed) of the imported
    trial moved over ground at ``belt`` m/s (``newtonian_on_import``'s), under the shipped maps."""
    (record,) = score_sequences([calibration_over_ground(trial.sequence, belt)], trial.body)
    return record["scores"]


def jerk_on_import(trial: RunningTrial) -> Dict[str, float]:
    """Mean jerk (m/s^3) of the imported trial's 24 joints at its own 60 Hz: ``stepped`` as the
    metric measures it (every second frame, ``reference_fps`` 30) and ``per_frame`` (per-frame
    differences, ``reference_fps`` null)."""
    x = torch.as_tensor(trial.smpl_joints)[None]
    fps = torch.tensor([trial.fps], dtype=torch.float64)
    config = load_config("jerk")
    return {"stepped": float(jerk(x, fps, config=config)["raw"][0]),
            "per_frame": float(jerk(x, fps, config={**config, "reference_fps": None})["raw"][0])}


# ----------------------------------------------------------------------- the OpenSim joints
def newtonian_at_rates(joints: OpenSimJoints, steps: Sequence[int] = (1, 2)) -> Dict[int, Dict[str, torch.Tensor]]:
    """:func:`~humanscore_torch.functional.newtonian.newtonian_plausibility` (B = 1) of the
    OpenSim joints keeping every ``step``-th frame (1: 60 fps, 2: 30 fps), keyed by step."""
    return {step: newtonian_plausibility(torch.as_tensor(joints.joints[::step])[None],
                                         torch.tensor([joints.fps / step], dtype=torch.float64))
            for step in steps}


def jerk_figures(joints: OpenSimJoints) -> Dict[str, float]:
    """The jerk figures ``configs/jerk.yaml`` was calibrated on (m/s^3 unless said).

    Returns:
        on the 16 body origins at 30 fps (every second frame): ``mean_30`` (the metric's raw),
        ``median_30``, ``p99_30``, ``p999_30``, ``max_30`` over joints and differences,
        ``spike_rate_30`` (fraction); ``max_60`` at 60 fps; on the 24 joints at 30 fps:
        ``mean_30_joints`` and ``spike_rate_30_joints``.
    """
    out: Dict[str, float] = {}
    for key, positions in (("", joints.body_origins), ("_joints", joints.joints)):
        x = torch.as_tensor(positions[::2])[None]
        fps = torch.tensor([joints.fps / 2.0], dtype=torch.float64)
        result = jerk(x, fps)
        out[f"mean_30{key}"] = float(result["raw"][0])
        out[f"spike_rate_30{key}"] = float(result["spike_rate"][0])
    for step, label in ((2, "30"), (1, "60")):
        x = torch.as_tensor(joints.body_origins[::step])[None]
        mask = torch.ones(x.shape[:2], dtype=torch.bool)
        diff, _ = _third_difference(x, torch.tensor([joints.fps / step], dtype=torch.float64), mask)
        magnitude = diff.norm(dim=-1).flatten().numpy()
        out[f"max_{label}"] = float(magnitude.max())
        if step == 2:
            out.update(median_30=float(np.median(magnitude)), p99_30=float(np.percentile(magnitude, 99)),
                       p999_30=float(np.percentile(magnitude, 99.9)))
    return out


def bone_length_figures(joints: OpenSimJoints) -> Dict[str, torch.Tensor]:
    """:func:`~humanscore_torch.functional.bone_length.bone_length_consistency` (B = 1) of the
    24 OpenSim joints, the figures ``configs/bone_length.yaml`` was calibrated on."""
    return bone_length_consistency(torch.as_tensor(joints.joints)[None])


# ----------------------------------------------------------------------- the round trip
class RoundTrip(NamedTuple):
    """Round trip of random coordinate sets through OpenSim and the joint map.

    Attributes:
        coordinate_names: the model coordinates drawn (K).
        errors_deg: (N, K) |recovered - drawn| in degrees.
        residual_max_deg: largest |angle| recovered for the angles the model locks (degrees).
    """

    coordinate_names: Tuple[str, ...]
    errors_deg: np.ndarray
    residual_max_deg: float


def random_coordinates(limits: Dict, joint_map: JointMap, count: int, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Coordinate name -> (count,) radians, uniform in each model coordinate's range; the
    middle angle of every 3-axis joint kept 10 degrees away from +-90 (gimbal lock)."""
    names = [n for n in joint_map.coordinate_names if n in limits["coordinates"]]
    middle = {joint_map.coordinate_names[3 * s + 1] for s in range(len(joint_map.segments))}
    values = {}
    for name in names:
        low, high = limits["coordinates"][name]["min"], limits["coordinates"][name]["max"]
        if name in middle:
            low, high = max(low, -80.0), min(high, 80.0)
        values[name] = np.radians(rng.uniform(low, high, count))
    return values


def round_trip(model_path: Union[str, Path], count: int = 500, seed: int = 7, limits: Optional[Dict] = None) -> RoundTrip:
    """OpenSim poses ``count`` random coordinate sets; its segment orientations become SMPL local
    rotations (inverse map) and come back to coordinates (forward map).

    Args:
        model_path: the ``.osim`` model (Rajagopal 2016). count: sets drawn. seed: numpy seed.
        limits: its :func:`~humanscore_torch.limits.derive.derive_limits` result (derived when None).
    """
    if count < 1:
        raise HumanScoreError(f"round trip: expected at least 1 coordinate set, got {count}")
    if limits is None:
        from ..limits.derive import derive_limits

        _require_opensim()
        limits = derive_limits(model_path)
    joint_map = JointMap.from_config(limits)
    values = random_coordinates(limits, joint_map, count, np.random.default_rng(seed))
    bodies = [s.opensim_child or "torso" for s in joint_map.segments]
    orientations, _ = opensim_body_poses(model_path, values, bodies)
    recovered = joint_map.coordinates_from_smpl(*joint_map.smpl_from_body_orientations(torch.as_tensor(orientations)))
    names = tuple(values)
    columns = [joint_map.coordinate_index[n] for n in names]
    errors = np.degrees(np.abs(recovered[:, columns].numpy() - np.stack([values[n] for n in names], -1)))
    residual = [i for i, n in enumerate(joint_map.coordinate_names) if n not in values]
    return RoundTrip(names, errors, float(np.degrees(recovered[:, residual].abs().max().item())))
