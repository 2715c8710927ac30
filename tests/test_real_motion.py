"""Real motion scores as real, and estimator failures cost (issue 16; SPEC section 4, "Contact is
not penetration", "The score must separate real from broken motion").

The five real clips of ../shared/reference-data (tests/helpers/real_motion_table.py) must score at least
90 on every computed metric and 95 overall; each corrupted copy (synthetic/estimator_failures.py:
3 deg rotation noise, 1 cm translation noise, a 20 cm two-frame teleport, a 5-frame leg swap, a
10-frame freeze then snap, a 1 m/s sideways drift) at least 5 points below its clean clip. The
whole table and, per clip, what is flagged and why are printed (pytest -s). Cells that do not
reach the target yet are strict xfails, listed in KNOWN_GAPS with the reason: one that starts
passing fails the run, so the list must shrink with the fixes.
"""

from __future__ import annotations

import pytest

from humanscore_torch.synthetic.estimator_failures import ESTIMATOR_FAILURES

from helpers.real_motion_table import METRICS, flags, format_table, real_clips, score_table

CLIPS = ("aistpp", "avatar", "opencap_walk", "opencap_squat", "hamner_run")
MIN_METRIC, MIN_OVERALL, MIN_LOSS = 90.0, 95.0, 5.0

# (clip, variant) -> why the target is not met yet (measured 2026-12-04, this branch).
_FRACTION = ("a failure of a few frames violates a small fraction of a long clip's frames, and the "
             "Newtonian map frees the first 2 % of frames (noise allowance)")
_MEAN_JERK = ("mean jerk over the clip: the failure's jerk is diluted by the clip's length, and a map steep "
              "enough to cost 30 jerk points (5 overall) would put real squats and dances below 90")
KNOWN_GAPS = {
    ("aistpp", "clean"): "Newtonian: flight frames where the fit's feet float 5.8-7.2 cm above the local ground "
                         "while slow (no foot keypoint in COCO-17); stance sliding of a dancer's slides",
    ("aistpp", "leg_swap_5f"): _FRACTION,
    ("avatar", "translation_noise_1cm"): _MEAN_JERK,
    ("avatar", "teleport_20cm_2f"): _FRACTION,
    ("avatar", "leg_swap_5f"): _FRACTION,
    ("avatar", "freeze_snap_10f"): _FRACTION,
    ("opencap_walk", "translation_noise_1cm"): _MEAN_JERK,
    ("opencap_walk", "leg_swap_5f"): _FRACTION,
    ("opencap_squat", "translation_noise_1cm"): _MEAN_JERK,
    ("opencap_squat", "teleport_20cm_2f"): _FRACTION,
    ("opencap_squat", "leg_swap_5f"): "a squat is left/right symmetric: the mirrored legs are the same legs",
    ("opencap_squat", "freeze_snap_10f"): "a freeze in a slow squat moves the joints by millimetres; " + _FRACTION,
    ("hamner_run", "teleport_20cm_2f"): _FRACTION,
    ("hamner_run", "leg_swap_5f"): _FRACTION,
    ("hamner_run", "freeze_snap_10f"): _FRACTION,
}


def _cell(clip: str, variant: str):
    reason = KNOWN_GAPS.get((clip, variant))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(clip, variant, marks=marks, id=f"{clip}-{variant}")


@pytest.fixture(scope="module")
def table(reference_data, default_body):
    result = score_table(reference_data, default_body)
    print("\n" + format_table(result))
    for name, clip in real_clips(reference_data, default_body).items():
        print(name, flags(clip, default_body) or "nothing flagged")
    return result


@pytest.mark.parametrize("clip, variant", [_cell(c, "clean") for c in CLIPS])
def test_real_clip_scores_as_real(table, clip, variant):
    scores = table[(clip, variant)]
    low = {m: round(scores[m], 1) for m in METRICS if scores.get(m) is not None and scores[m] < MIN_METRIC}
    assert not low and scores["humanscore"] >= MIN_OVERALL, f"{clip}: overall {scores['humanscore']:.1f}, low {low}"


@pytest.mark.parametrize("clip, variant", [_cell(c, v) for c in CLIPS for v in ESTIMATOR_FAILURES])
def test_estimator_failure_costs_five_points(table, clip, variant):
    loss = table[(clip, "clean")]["humanscore"] - table[(clip, variant)]["humanscore"]
    assert loss >= MIN_LOSS, f"{clip} {variant}: costs {loss:.1f} points"
