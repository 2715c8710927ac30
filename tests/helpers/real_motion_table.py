"""The real clips of ../shared/reference-data and their estimator-failure copies, scored.

Run as a script to print the table (``python tests/helpers/real_motion_table.py [reference-data]``);
tests/test_real_motion.py asserts on it. Clips: the AIST++ dance sample and the Meshcapade
SMPL-X avatar (real-motion/), the OpenCap walk and squat imported with their own OpenSim model
(opencap/), the Hamner 2010 running trial imported onto the default body and moved over ground
at its belt speed (opensim/; 3.67 m/s, configs/newtonian.yaml).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List, Tuple

from humanscore_torch.body.model import BodyModel
from humanscore_torch.body.skeleton import JOINT_NAMES
from humanscore_torch.calibration import over_ground
from humanscore_torch.evaluation import score_sequences
from humanscore_torch.functional.newtonian import CONSTRAINTS
from humanscore_torch.functional.range_of_motion import joint_map_for_body
from humanscore_torch.io import read_motion_file
from humanscore_torch.io.opensim import read_opensim_motion
from humanscore_torch.motion import MotionBatch
from humanscore_torch.registry import score_metric
from humanscore_torch.synthetic.estimator_failures import ESTIMATOR_FAILURES, corrupted_copies

HAMNER_BELT_M_S = 3.67
METRICS = ("bone_length_consistency", "range_of_motion", "self_penetration", "newtonian_plausibility", "jerk")


def real_clips(root: Path, body: BodyModel) -> Dict[str, dict]:
    """name -> sequence dict of every real clip."""
    opencap_model = root / "opencap/LaiArnoldModified2017_contacts.osim"
    clips = {
        "aistpp": read_motion_file(root / "real-motion/aistpp_sample.pkl")[0],
        "avatar": read_motion_file(root / "real-motion/meshcapade_avatar.smpl")[0],
        "opencap_walk": read_opensim_motion(root / "opencap/walking1_videoAndMocap.mot", opencap_model, body=body)[0],
        "opencap_squat": read_opensim_motion(root / "opencap/squats1_videoAndMocap.mot", opencap_model, body=body)[0],
        "hamner_run": over_ground(read_opensim_motion(root / "opensim/subject02_running_ik.mot",
                                                      root / "opensim/FullBodyModel_Hamner2010_v2_0.osim",
                                                      body=body)[0], HAMNER_BELT_M_S),
    }
    for name, seq in clips.items():
        seq.setdefault("metadata", {})["name"] = name
    return clips


def score_table(root: Path, body: BodyModel) -> Dict[Tuple[str, str], dict]:
    """(clip, variant) -> scores dict (``humanscore`` and each metric); variant ``clean`` or a
    key of :data:`ESTIMATOR_FAILURES`."""
    keys: List[Tuple[str, str]] = []
    sequences = []
    for clip, seq in real_clips(root, body).items():
        keys.append((clip, "clean"))
        sequences.append(seq)
        for variant, copy in corrupted_copies(seq).items():
            keys.append((clip, variant))
            sequences.append(copy)
    records = score_sequences(sequences, body, batch_size=1)
    return {key: record["scores"] for key, record in zip(keys, records)}


def format_table(table: Dict[Tuple[str, str], dict]) -> str:
    """The table as text: one row per (clip, variant), overall and metric scores, and the loss
    of each corrupted copy against its clean clip."""
    head = f"{'clip':14s} {'variant':22s} {'overall':>7s} {'loss':>5s} " + " ".join(f"{m[:8]:>8s}" for m in METRICS)
    rows = [head]
    for (clip, variant), scores in table.items():
        clean = table[(clip, "clean")]["humanscore"]
        loss = "" if variant == "clean" else f"{clean - scores['humanscore']:5.1f}"
        cells = " ".join("    None" if scores.get(m) is None else f"{scores[m]:8.1f}" for m in METRICS)
        rows.append(f"{clip:14s} {variant:22s} {scores['humanscore']:7.1f} {loss:>5s} {cells}")
    return "\n".join(rows)


def flags(sequence: dict, body: BodyModel) -> List[str]:
    """Why a clip loses points: the ROM coordinates out of range, the part pairs sunk beyond
    their allowance, the Newtonian constraints violated (with frame counts and extremes)."""
    batch = MotionBatch.from_sequences([sequence])
    lines = []
    rom = score_metric("range_of_motion", batch, body).details
    names = joint_map_for_body(body).coordinate_names
    for k in rom["coordinate_violation_rate"][0].nonzero().flatten().tolist():
        lines.append(f"ROM {names[k]}: {100 * float(rom['coordinate_violation_rate'][0, k]):.1f} % of frames, "
                     f"up to {float(rom['coordinate_max_excess_deg'][0, k]):.1f} deg past its limit")
    pen = score_metric("self_penetration", batch, body).details
    for i, j in pen["pair_frames"][0].nonzero().tolist():
        lines.append(f"self-penetration {JOINT_NAMES[i]} inside {JOINT_NAMES[j]}: {int(pen['pair_frames'][0, i, j])} "
                     f"frames beyond the pair's allowance, up to {float(pen['pair_max_depth_mm'][0, i, j]):.1f} mm")
    newton = score_metric("newtonian_plausibility", batch, body).details
    for k, count in enumerate(newton["num_violating_by_constraint"][0].tolist()):
        if count:
            frames = newton["excess"][0, :, k].nonzero().flatten().tolist()
            lines.append(f"Newtonian {CONSTRAINTS[k]}: {count} frames (first {frames[:8]}), largest excess "
                         f"{float(newton['max_excess'][0, k]):.2f}; flight frames {int(newton['flight'][0].sum())}")
    return lines


if __name__ == "__main__":
    reference = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference-data")
    body = BodyModel.default()
    for name, clip in real_clips(reference, body).items():
        print(name, flags(clip, body) or "nothing flagged")
    print(format_table(score_table(reference, body)))
