"""Range of motion on the real clips of ../shared/reference-data (issue 16): each scores at
least 90; the test prints, per clip, every coordinate flagged and by how much."""

import pytest

from humanscore_torch.functional.range_of_motion import joint_map_for_body, range_of_motion

from helpers.real_motion_table import real_clips

pytest.importorskip("opensim")  # the OpenSim trials are imported with their own models


@pytest.fixture(scope="module")
def clips(reference_data, default_body):
    return {name: (seq["global_orient"].double(), seq["body_pose"].double(), float(seq["fps"]))
            for name, seq in real_clips(reference_data, default_body).items()}


@pytest.mark.parametrize("name", ["hamner_run", "opencap_walk", "opencap_squat", "aistpp", "avatar"])
def test_real_clip_scores_at_least_90(clips, default_body, name):
    global_orient, body_pose, fps = clips[name]
    joint_map = joint_map_for_body(default_body)
    out = range_of_motion(global_orient[None], body_pose[None], joint_map=joint_map)
    rate, worst = out["coordinate_violation_rate"][0], out["coordinate_max_excess_deg"][0]
    flagged = {joint_map.coordinate_names[k]: (round(float(rate[k]), 3), round(float(worst[k]), 1))
               for k in rate.nonzero().flatten().tolist()}
    print(f"{name} ({len(global_orient)} frames, {fps:.0f} fps): raw {float(out['raw'][0]):.4f} deg-s/s, "
          f"violation rate {float(out['violation_rate'][0]):.4f}, score {float(out['score'][0]):.2f}; "
          f"flagged (fraction of frames, largest excess deg): {flagged}")
    assert float(out["score"][0]) >= 90.0
