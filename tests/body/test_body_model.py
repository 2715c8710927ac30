"""The project's LBS against smplx.SMPL, and SMPL file reading (npz, pkl, chumpy-style pkl)."""

import pickle
import sys
import types

import numpy as np
import pytest
import torch
from conftest import make_smpl_arrays

from humanscore_torch.body import BodyModel
from humanscore_torch.errors import BodyModelError, ShapeError


def _random_params(n, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (
        (torch.randn(n, 3, generator=g) * 0.8).to(dtype),
        (torch.randn(n, 23, 3, generator=g) * 0.5).to(dtype),
        torch.randn(n, 10, generator=g).to(dtype),
        torch.randn(n, 3, generator=g).to(dtype),
    )


def smplx_reference(pkl_path, params):
    smplx = pytest.importorskip("smplx", reason="smplx (the `smpl` extra) is needed for the cross-check")
    from smplx.vertex_ids import vertex_ids

    # smplx appends extra joints picked by SMPL vertex ids; point them at vertex 0 so any mesh works.
    model = smplx.SMPL(model_path=str(pkl_path), num_betas=10, vertex_ids={k: 0 for k in vertex_ids["smplh"]})
    go, bp, betas, transl = params
    out = model(global_orient=go, body_pose=bp.reshape(len(bp), -1), betas=betas, transl=transl)
    return out.vertices.detach(), out.joints[:, :24].detach()


def test_lbs_matches_smplx_on_a_written_smpl_file(tmp_path):
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    arrays = make_smpl_arrays(num_vertices=800, seed=3)
    with open(path, "wb") as fh:
        pickle.dump(arrays, fh)
    params = _random_params(16, seed=4)
    ref_vertices, ref_joints = smplx_reference(path, params)
    out = BodyModel.from_file(path)(*params)
    assert (out.vertices - ref_vertices).abs().max() < 1e-5
    assert (out.joints - ref_joints).abs().max() < 1e-5


@pytest.mark.parametrize("protocol", [0, 2])  # 0: objects as copyreg._reconstructor(cls, object, None)
def test_npz_and_chumpy_pickle_load_the_same_arrays(tmp_path, protocol):
    arrays = make_smpl_arrays(seed=5)
    np.savez(tmp_path / "model.npz", **arrays)

    # Imitate the original release: chumpy arrays (state dict with 'x') and a scipy
    # csc_matrix regressor, pickled with protocol 2, read back with neither installed.
    fake_chumpy = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x

        def __getstate__(self):
            return {"x": self.x, "_dirty_vars": set()}

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    fake_chumpy.Ch = Ch
    fake_sparse = types.ModuleType("scipy.sparse._csc")

    class csc_matrix:  # noqa: N801 - the pickled class name
        def __init__(self, dense):
            cols = [np.nonzero(dense[:, k])[0] for k in range(dense.shape[1])]
            self.state = {
                "_shape": dense.shape, "maxprint": 50, "format": "csc",
                "indices": np.concatenate(cols), "data": np.concatenate([dense[c, k] for k, c in enumerate(cols)]),
                "indptr": np.cumsum([0] + [len(c) for c in cols]),
            }

        def __getstate__(self):
            return self.state

    csc_matrix.__module__, csc_matrix.__qualname__ = "scipy.sparse._csc", "csc_matrix"
    fake_sparse.csc_matrix = csc_matrix
    fakes = {"chumpy": types.ModuleType("chumpy"), "chumpy.ch": fake_chumpy, "scipy.sparse._csc": fake_sparse}
    saved = {k: sys.modules.get(k) for k in fakes}
    sys.modules.update(fakes)
    try:
        release = dict(arrays)
        for key in ("v_template", "shapedirs", "posedirs", "weights"):
            release[key] = Ch(arrays[key])
        release["J_regressor"] = csc_matrix(arrays["J_regressor"])
        with open(tmp_path / "model.pkl", "wb") as fh:
            pickle.dump(release, fh, protocol=protocol)
    finally:
        for name, module in saved.items():
            sys.modules.pop(name) if module is None else sys.modules.__setitem__(name, module)

    from_npz, from_pkl = BodyModel.from_file(tmp_path / "model.npz"), BodyModel.from_file(tmp_path / "model.pkl")
    params = _random_params(3, seed=6)
    assert torch.allclose(from_npz(*params).vertices, from_pkl(*params).vertices, atol=1e-6)
    assert torch.allclose(from_pkl.j_regressor, torch.as_tensor(arrays["J_regressor"], dtype=torch.float32))


def test_per_frame_betas_rotmats_and_leading_dims(small_body):
    from humanscore_torch.rotations import rotvec_to_rotmat

    go, bp, betas, transl = _random_params(6, seed=7)
    flat = small_body(go, bp, betas, transl)
    seq = small_body(go.reshape(2, 3, 3), bp.reshape(2, 3, 23, 3), betas.reshape(2, 3, 10), transl.reshape(2, 3, 3))
    assert torch.allclose(seq.vertices.reshape(6, -1, 3), flat.vertices, atol=1e-6)
    mats = small_body(rotvec_to_rotmat(go), rotvec_to_rotmat(bp), betas, transl)
    assert torch.allclose(mats.vertices, flat.vertices, atol=1e-5)
    joints_only = small_body(go, bp, betas, transl, need_vertices=False)
    assert joints_only.vertices is None and torch.allclose(joints_only.joints, flat.joints, atol=1e-6)


def test_shape_joints_equal_the_regressor_on_shaped_vertices():
    from humanscore_torch.body.lbs import shape_joints, shape_vertices

    arrays = make_smpl_arrays()
    generator = torch.Generator().manual_seed(11)
    betas = torch.randn(5, 10, generator=generator, dtype=torch.float64)
    v_template = torch.as_tensor(arrays["v_template"], dtype=torch.float64)
    shapedirs = torch.as_tensor(arrays["shapedirs"], dtype=torch.float64)
    j_regressor = torch.as_tensor(arrays["J_regressor"], dtype=torch.float64)
    direct = torch.einsum("jv,nvc->njc", j_regressor, shape_vertices(betas, v_template, shapedirs))
    torch.testing.assert_close(shape_joints(betas, v_template, shapedirs, j_regressor), direct,
                               rtol=0, atol=1e-12)


def test_gradients_flow_to_pose_and_shape_in_float64(small_body):
    go, bp, betas, transl = _random_params(2, seed=8, dtype=torch.float64)
    bp.requires_grad_(True)
    betas.requires_grad_(True)
    small_body(go, bp, betas, transl).vertices.square().sum().backward()
    assert torch.isfinite(bp.grad).all() and bp.grad.abs().sum() > 0
    assert torch.isfinite(betas.grad).all() and betas.grad.abs().sum() > 0


def test_body_file_errors_name_the_file_and_problem(tmp_path, small_body):
    arrays = make_smpl_arrays()
    del arrays["weights"]
    np.savez(tmp_path / "broken.npz", **arrays)
    with pytest.raises(BodyModelError, match=r"broken.npz: body-model file lacks \['weights'\]"):
        BodyModel.from_file(tmp_path / "broken.npz")
    with pytest.raises(BodyModelError, match="not found"):
        BodyModel.from_file(tmp_path / "missing.pkl")
    (tmp_path / "cut.pkl").write_bytes(pickle.dumps(make_smpl_arrays())[:100])
    with pytest.raises(BodyModelError, match="cut.pkl"):
        BodyModel.from_file(tmp_path / "cut.pkl")
    go, bp, _, _ = _random_params(2, seed=9)
    with pytest.raises(ShapeError, match="global_orient"):
        small_body(go[:1], bp)


def test_segment_masses_sum_to_body_mass(small_body):
    masses = small_body.segment_masses(80.0)
    assert masses.shape == (24,)
    assert torch.isclose(masses.sum(), torch.tensor(80.0))
