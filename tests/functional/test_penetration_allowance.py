"""The depth a part may sink into another (functional/penetration_allowance.py): a property of
the posed mesh's own part thicknesses, rigid-motion invariant, scaling with the body, never
under the tolerance; and contact-range overlaps are not penetration while deeper ones are."""

import math

import pytest
import torch

from humanscore_torch import synthetic
from humanscore_torch.body.parts import part_structure
from humanscore_torch.body.skeleton import JOINT_INDEX
from humanscore_torch.config import load_config
from humanscore_torch.functional.penetration_allowance import allowed_depth_mm, part_thickness
from humanscore_torch.motion import MotionBatch
from humanscore_torch.registry import score_metric
from humanscore_torch.rotations import rotvec_to_rotmat

CONFIG = load_config("self_penetration")


@pytest.fixture(scope="module")
def rest(default_body):
    out = default_body(torch.zeros(1, 3), torch.zeros(1, 23, 3), None, torch.zeros(1, 3))
    return out.vertices.double(), part_structure(default_body)


def test_thickness_is_rigid_invariant_and_scales_with_the_body(rest):
    vertices, structure = rest
    base = part_thickness(vertices, structure)
    turn = rotvec_to_rotmat(torch.tensor([0.3, -1.1, 0.7], dtype=torch.float64))
    moved = vertices @ turn.T + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    assert torch.allclose(part_thickness(moved, structure), base, atol=1e-9)
    assert torch.allclose(part_thickness(1.2 * vertices, structure), 1.2 * base, atol=1e-9)
    # A thigh is thicker than a forearm, a forearm than the toes.
    thigh, forearm, toes = (base[0, JOINT_INDEX[n]] for n in ("left_hip", "left_elbow", "left_foot"))
    assert thigh > forearm > toes > 0


def test_allowance_is_the_shared_compression_never_under_the_tolerance(rest):
    vertices, structure = rest
    allowed = allowed_depth_mm(vertices, structure, CONFIG)[0]
    thickness = 1000 * part_thickness(vertices, structure)[0]
    share = float(CONFIG["allowance"]["compressible_share"])
    tolerance = float(CONFIG["detection"]["depth_tolerance_mm"])
    assert torch.equal(allowed, allowed.T)
    assert float(allowed.min()) >= tolerance
    i, j = JOINT_INDEX["left_elbow"], JOINT_INDEX["left_hip"]
    assert math.isclose(float(allowed[i, j]), max(tolerance, share * float(thickness[i] + thickness[j])), rel_tol=1e-9)
    with pytest.raises(Exception):
        allowed_depth_mm(vertices, structure, {**CONFIG, "allowance": {"compressible_share": 1.5}})


def test_contact_is_not_penetration_and_passing_through_is(default_body):
    # The hand swept 4 cm past its first contact with the belly sinks about 16 mm (contact);
    # 10 cm sinks about 44 mm (through the soft tissue).
    clips = [synthetic.defect_clip("walk", "arm_through_torso", size) for size in (0.04, 0.1)]
    result = score_metric("self_penetration", MotionBatch.from_sequences(clips), default_body)
    depth = result.details["depth_mm"].amax(1)
    assert float(depth[0]) > float(CONFIG["detection"]["depth_tolerance_mm"])
    assert result.raw[0].item() == 0.0 and result.raw[1].item() > 0.0
