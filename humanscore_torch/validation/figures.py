"""The validation figures: every number measured on the reference data, with its threshold.

:func:`validate` measures them (see :mod:`.trial`), :func:`format_table` prints them and
:func:`figures_to_json` writes them. Two kinds of check:

* a *threshold* (``<``, ``<=``, ``>=``): the Done-when conditions of issue 7, and the limits
  the tests hold the calibration data to; status ``pass`` / ``FAIL``;
* a *quoted value* (``=``): a number a config comment quotes from this same computation,
  checked to its rounding (half a unit of its last digit); status ``matches`` / ``MISMATCH``.

Figures without a check are information (status ``info``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from ..config import load_config
from ..registry import SPECS
from .trial import (RAJAGOPAL_MODEL, RunningTrial, angle_rms_deg, bone_length_figures, com_force_correlation,
                    jerk_figures, limb_directions, newtonian_at_rates, newtonian_on_import, rom_violation,
                    round_trip, jerk_on_import, scores_on_import, self_penetration_on_import)

JERK_UNIT = SPECS["jerk"].unit
BONE_UNIT = SPECS["bone_length_consistency"].unit

ISSUE = "issue 7"
ISSUE_SCORES = "issue 5"
CALIBRATION = "calibration data: 24 SMPL-like joints placed by OpenSim"
IMPORTED = "running trial imported onto the SMPL body"
ROUND_TRIP = "round trip through OpenSim (Rajagopal 2016)"


@dataclass(frozen=True)
class Figure:
    """One measured number and its check.

    Attributes:
        group: the data it is measured on. name: what it is. value: the number. unit.
        op: ``<``, ``<=``, ``>=``, ``=`` (a quoted value within ``tolerance``) or None (information).
        bound: the threshold or the quoted value.
        source: where the threshold or quoted value comes from. tolerance: for ``=``.
    """

    group: str
    name: str
    value: float
    unit: str
    op: Optional[str] = None
    bound: Optional[float] = None
    source: str = ""
    tolerance: float = 0.0

    @property
    def status(self) -> str:
        """``pass``/``FAIL`` (threshold), ``matches``/``MISMATCH`` (quoted value) or ``info``."""
        if self.op is None:
            return "info"
        if self.op == "=":
            return "matches" if abs(self.value - self.bound) <= self.tolerance else "MISMATCH"
        ok = {"<": self.value < self.bound, "<=": self.value <= self.bound, ">=": self.value >= self.bound}[self.op]
        return "pass" if ok else "FAIL"

    @property
    def ok(self) -> bool:
        """False for ``FAIL`` and ``MISMATCH``."""
        return self.status not in ("FAIL", "MISMATCH")


def _quoted(group: str, name: str, value: float, unit: str, quoted: float, decimals: int, source: str) -> Figure:
    """A figure a config comment quotes with ``decimals`` decimals."""
    return Figure(group, name, value, unit, "=", quoted, source, tolerance=0.5 * 10.0 ** -decimals)


def validate(reference_data: Optional[Union[str, Path]] = None, round_trip_sets: int = 500, body=None) -> List[Figure]:
    """Measure every validation figure on the reference data.

    Args:
        reference_data: the reference data folder (see :func:`.trial.reference_data_dir`).
        round_trip_sets: random coordinate sets of the round trip.
        body: the SMPL body the trial is imported onto (None: the default body).

    Returns:
        the figures, in table order.
    """
    trial = RunningTrial(reference_data, body)
    figures: List[Figure] = []
    add = figures.append

    for name, value in angle_rms_deg(trial).items():
        add(Figure(IMPORTED, f"{name} vs .mot, RMS", value, "deg", "<", 2.0, ISSUE))
    for name, value in limb_directions(trial).rms_deg.items():
        add(Figure(IMPORTED, f"{name} direction vs OpenSim, RMS", value, "deg", "<", 5.0, ISSUE))
    add(Figure(IMPORTED, "ROM violation rate", 100.0 * float(rom_violation(trial)["violation_rate"][0]), "% of frames",
               "<=", 1.0, ISSUE))
    newton = newtonian_on_import(trial)
    add(Figure(IMPORTED, "COM vertical acceleration vs force plates, Pearson r", newton["com_force_correlation"],
               "", ">=", 0.9, ISSUE))
    add(Figure(IMPORTED, "Newtonian violation rate (over ground)", 100.0 * newton["violation_rate"], "% of frames",
               "<=", 2.0, ISSUE))
    add(Figure(IMPORTED, "treadmill belt speed (from the feet)", newton["belt_m_s"], "m/s"))
    penetration = self_penetration_on_import(trial)
    add(Figure(IMPORTED, "self-penetration, every part checked (flat placeholder hands)",
               100.0 * penetration["all_parts"], "% of frames"))
    add(Figure(IMPORTED, "self-penetration, every part checked, deepest", penetration["all_parts_max_depth_mm"], "mm"))
    add(Figure(IMPORTED, "self-penetration as scored (unmeasured joints left out)", 100.0 * penetration["scored"],
               "% of frames"))
    trial_jerk = jerk_on_import(trial)
    add(_quoted(IMPORTED, "jerk at 60 Hz, 24 joints, mean, per-frame differences", trial_jerk["per_frame"], JERK_UNIT,
                1558.0, 0, "jerk.yaml"))
    add(_quoted(IMPORTED, "jerk at 60 Hz, 24 joints, mean, every second frame (metric raw)", trial_jerk["stepped"],
                JERK_UNIT, 410.0, 0, "jerk.yaml"))
    scores = scores_on_import(trial, newton["belt_m_s"])
    add(Figure(IMPORTED, "overall score under the shipped maps (over ground)", scores["humanscore"], "0-100",
               ">=", 90.0, ISSUE_SCORES))

    trip = round_trip(trial.folder / RAJAGOPAL_MODEL, round_trip_sets)
    label = f"{round_trip_sets} sets x {len(trip.coordinate_names)} coordinates"
    add(Figure(ROUND_TRIP, f"max error, {label}", float(trip.errors_deg.max()), "deg", "<", 0.5, ISSUE))
    add(Figure(ROUND_TRIP, f"RMS error, {label}", float((trip.errors_deg ** 2).mean() ** 0.5), "deg", "<", 0.5, ISSUE))
    add(Figure(ROUND_TRIP, "max |angle| where the model locks (should be 0)", trip.residual_max_deg, "deg",
               "<", 0.5, "tests/limits/test_joint_map_opensim.py"))

    joints = trial.opensim_joints
    add(_quoted(CALIBRATION, "treadmill belt speed (from the feet)", joints.belt_m_s, "m/s", 3.67, 2,
                "newtonian.yaml"))
    rates = newtonian_at_rates(joints)
    for step, fps in ((1, "60"), (2, "30")):
        add(Figure(CALIBRATION, f"Newtonian violation rate at {fps} fps", 100.0 * float(rates[step]["raw"][0]),
                   "% of frames", "<=", 0.0, "newtonian.yaml: 'violates nothing'"))
    add(Figure(CALIBRATION, "COM vertical acceleration vs force plates, Pearson r (5 edge frames cut)",
               com_force_correlation(joints.joints, joints.fps, (joints.support_bw - 1.0) * float(
                   load_config("newtonian")["gravity_m_s2"]), edge_frames=5),
               "", ">=", 0.97, "tests/functional/test_newtonian.py"))

    jerk = jerk_figures(joints)
    quotes = (("mean_30", "mean", 387.0), ("median_30", "median", 331.0), ("p99_30", "99th percentile", 1074.0),
              ("p999_30", "99.9th percentile", 1324.0), ("max_30", "largest", 1524.0))
    for key, what, quoted in quotes:
        add(_quoted(CALIBRATION, f"jerk at 30 fps, 16 body origins, {what}", jerk[key], JERK_UNIT, quoted, 0, "jerk.yaml"))
    threshold = float(load_config("jerk")["spike_threshold_m_s3"])
    add(Figure(CALIBRATION, "jerk at 30 fps, 16 body origins, largest", jerk["max_30"], JERK_UNIT, "<", threshold,
               "jerk.yaml spike_threshold_m_s3"))
    add(_quoted(CALIBRATION, "jerk at 60 fps, 16 body origins, largest", jerk["max_60"], JERK_UNIT, 8179.0, 0, "jerk.yaml"))
    add(Figure(CALIBRATION, "jerk at 30 fps, 24 joints, mean (metric raw)", jerk["mean_30_joints"], JERK_UNIT))
    add(Figure(CALIBRATION, "jerk at 30 fps, 24 joints, spike rate", 100.0 * jerk["spike_rate_30_joints"],
               "% of differences"))

    bones = bone_length_figures(joints)
    cv = bones["per_bone_cv"][0]  # bone k ends at joint k + 1
    add(_quoted(CALIBRATION, "bone-length CV, mean over 23 bones (metric raw)", float(bones["raw"][0]), BONE_UNIT, 0.24, 2,
                "bone_length.yaml"))
    add(_quoted(CALIBRATION, "bone-length CV, pelvis -> spine1 stand-in", float(cv[2]), BONE_UNIT, 2.1, 1, "bone_length.yaml"))
    add(Figure(CALIBRATION, "bone-length CV, left thigh (comment: thighs 1.6-1.8)", float(cv[3]), BONE_UNIT))
    add(Figure(CALIBRATION, "bone-length CV, right thigh (comment: thighs 1.6-1.8)", float(cv[4]), BONE_UNIT))
    others = [k for k in range(cv.shape[0]) if k not in (2, 3, 4)]
    add(Figure(CALIBRATION, "bone-length CV, largest of the other 20 bones (comment: rigid)", float(cv[others].max()),
               BONE_UNIT))
    add(Figure(CALIBRATION, "bone-length score under the shipped config", float(bones["score"][0]), "0-100"))
    return figures


def _number(value: float) -> str:
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude < 1e-2 or magnitude >= 1e5:
        return f"{value:.3g}"
    return f"{value:.4g}" if magnitude < 10 else f"{value:.1f}"


def _check(figure: Figure) -> str:
    if figure.op is None:
        return ""
    check = f"= {figure.bound:g} +- {figure.tolerance:g}" if figure.op == "=" else f"{figure.op} {figure.bound:g}"
    return f"{check} ({figure.source})" if figure.source else check


def format_table(figures: Sequence[Figure]) -> str:
    """A plain-text table (one block per group: figure, value, unit, check, status)."""
    rows = [(f.name, _number(f.value), f.unit, _check(f), f.status) for f in figures]
    header = ("figure", "value", "unit", "check (source)", "status")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]

    def line(cells) -> str:
        return "  ".join(c.ljust(w) if i != 1 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out, group = [line(header), line("-" * w for w in widths)], None
    for figure, row in zip(figures, rows):
        if figure.group != group:
            group = figure.group
            out.append(f"[{group}]")
        out.append(line(row))
    bad = [f for f in figures if not f.ok]
    out.append(f"{len(figures)} figures: {len(bad)} failed or mismatched" + (
        "" if not bad else ": " + "; ".join(f"{f.name} ({f.status})" for f in bad)))
    return "\n".join(out)


def figures_to_json(figures: Sequence[Figure], **extra: Any) -> Dict[str, Any]:
    """A JSON-ready dict: ``figures`` (each field and its status), ``all_ok`` and ``extra``."""
    return {**extra, "all_ok": all(f.ok for f in figures),
            "figures": [{**asdict(f), "status": f.status} for f in figures]}
