"""Untrusted files (spec section 7, issue 14): attack files written here run nothing, write
nothing, allocate within the bounds of configs/io.yaml, and end in a clear error; the loader
refuses invalid values (frame rates, bool/complex poses, matrices that are not rotations).

Resource attacks are read in forked children whose peak RSS growth (VmHWM above the forked
copy's RSS) and time are printed (``pytest -s`` shows them) and bounded; the CLI runs in a subprocess on a folder of
attacks next to good clips, which are still scored."""

from __future__ import annotations

import builtins
import json
import os
import pickle
import signal
import site
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from humanscore_torch.body.files import read_body_file
from humanscore_torch.config import load_config
from humanscore_torch.errors import BodyModelError, MotionFileError
from humanscore_torch.io import find_motion_files, read_motion_file, save_motion
from humanscore_torch.io.containers import read_container
from humanscore_torch.rotations import rotvec_to_rotmat
from humanscore_torch.synthetic.clips import clean_clip

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forks, FIFOs and /dev/zero are POSIX")
PEAK_RSS_LIMIT = 2 * 2**30  # bytes; the bound for every resource attack
CLI_OPTIONS = ["--device", "cpu", "--batch-size", "2", "--worst-frames", "0"]
IO = load_config("io")


# The CLI child reports its own peak (VmHWM, the high-water mark of the address space it
# exec'd into) on its last line. Its ru_maxrss would not do: Linux keeps the larger of the
# pre-exec and post-exec peaks, and the pre-exec image is the forked copy of this (large) test
# process.
_CLI_WITH_PEAK = """import sys
from humanscore_torch.cli import main
try:
    code = main(sys.argv[1:])
finally:
    peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print("\\nPEAK_KB", peak.split()[1], flush=True)
sys.exit(code)
"""


def _cli(args, timeout=240):
    """Run ``humanscore`` in a subprocess: (exit code, stdout+stderr, seconds, peak RSS bytes)."""
    command = [sys.executable, "-c", _CLI_WITH_PEAK, *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    timer = _kill_after(process.pid, timeout)
    output = process.stdout.read().decode("utf-8", "replace")
    _, status, _ = os.wait4(process.pid, 0)
    timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    peak = [line.split()[1] for line in output.splitlines() if line.startswith("PEAK_KB ")]
    assert peak, f"the CLI child did not report its peak memory:\n{output[-3000:]}"
    return process.returncode, output, time.perf_counter() - start, int(peak[-1]) * 1024


def _kill_after(pid, seconds):
    import threading

    timer = threading.Timer(seconds, lambda: os.kill(pid, signal.SIGKILL))
    timer.start()
    return timer


def _status_kb(field: str) -> int:
    return int(next(line for line in open("/proc/self/status") if line.startswith(field + ":")).split()[1])


def _in_child(function, timeout=60):
    """Run ``function()`` in a forked child: (its result or exception text, seconds, bytes its
    resident memory grew by at its peak). A child that does not finish within ``timeout`` is
    killed. The child starts as a copy of this test process, whose pages its RSS counts (and
    the whole suite makes it large): the peak is reset at the fork (``clear_refs`` 5) and the
    RSS then is subtracted, so the figure is what reading the file allocated."""
    read_end, write_end = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        signal.alarm(timeout)
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset the peak RSS to the current RSS
        before = _status_kb("VmRSS")
        try:
            outcome = ("ok", repr(function()))
        except BaseException as exc:  # noqa: BLE001 -- reported to the parent
            outcome = (type(exc).__name__, str(exc))
        os.write(write_end, json.dumps([outcome, (_status_kb("VmHWM") - before) * 1024]).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read()
    _, status, _ = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    assert os.WIFEXITED(status), f"child killed (signal {os.WTERMSIG(status) if os.WIFSIGNALED(status) else '?'})"
    outcome, grown = json.loads(text)
    return outcome, seconds, grown


# ------------------------------------------------------------------------------ payloads
class _Reduce:
    """An object that pickles as ``function(*args)`` (then ``obj[k] = v`` for ``items``)."""

    def __init__(self, function, args, items=None):
        self.function, self.args, self.items = function, args, items

    def __reduce__(self):
        return self.function, self.args, None, None, iter(self.items) if self.items else None


class _Attack:
    """The payloads of one test and what they would leave on disk if any ran."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.marker = folder / "marker_ran"
        self.created = folder / "created_by_open"
        self.target = folder / "target.bin"
        self.target.write_bytes(b"original contents")
        self.fake_pth = folder / "site-packages" / "evil.pth"
        self.fake_pth.parent.mkdir()
        self.real_pth = self._site_pth()

    @staticmethod
    def _site_pth():
        folders = site.getsitepackages() + [site.getusersitepackages()]
        return {str(p) for folder in folders if os.path.isdir(folder) for p in Path(folder).glob("*.pth")}

    def payloads(self):
        """name -> (object whose unpickling would act, the fragment naming the refused type)."""
        import subprocess as sp

        return {
            "os_system": (_Reduce(os.system, (f"touch {self.marker}",)), "system"),
            "builtins_open": (_Reduce(builtins.open, (str(self.created), "w")), "open"),
            "eval": (_Reduce(builtins.eval, (f"open({str(self.marker)!r}, 'w').close()",)), "builtins.eval"),
            "subprocess": (_Reduce(sp.Popen, (["touch", str(self.marker)],)), "subprocess.Popen"),
            # Overwrites a file's bytes, and creates a .pth (code at the next interpreter start).
            "memmap_write": (_Reduce(np.memmap, (str(self.target), np.uint8, "r+", 0, (8,)), [(0, 88)]),
                             "numpy.memmap"),
            "memmap_pth": (_Reduce(np.memmap, (str(self.fake_pth), np.uint8, "w+", 0, (16,))), "numpy.memmap"),
            "bytearray_alloc": (_Reduce(bytearray, (3 * 10**9,)), "bytearray of int"),
            # torch.load(weights_only=True) allows both of these (and allocates).
            "tensor_alloc": (_Reduce(torch.FloatTensor, (10**9,)), "torch.FloatTensor"),
        }

    def assert_nothing_happened(self):
        assert not self.marker.exists() and not self.created.exists()
        assert self.target.read_bytes() == b"original contents"
        assert not self.fake_pth.exists()
        assert self._site_pth() == self.real_pth


def _motion(frames=4):
    return {"pose_world": np.zeros((frames, 72), np.float32), "trans_world": np.zeros((frames, 3), np.float32),
            "betas": np.zeros((frames, 10), np.float32)}


def _write(path: Path, fmt: str, obj) -> Path:
    """Write ``obj`` to ``path`` in one container format."""
    if fmt == "pickle":
        path.write_bytes(pickle.dumps(obj, protocol=4))
    elif fmt in ("pickle2", "torch_plain_pickle"):  # the latter: pickle.dump of tensors to a .pt
        path.write_bytes(pickle.dumps(obj, protocol=2))
    elif fmt == "joblib":
        pytest.importorskip("joblib").dump(obj, path)
    elif fmt == "torch_zip":
        torch.save(obj, path)
    elif fmt == "torch_legacy":
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    elif fmt == "npz_object":
        np.savez(path, payload=np.array([obj], dtype=object))
    elif fmt == "npy_object":
        np.save(path, np.array(obj, dtype=object), allow_pickle=True)
    return path


FORMATS = {"pickle": ".pkl", "pickle2": ".pkl", "joblib": ".joblib", "torch_zip": ".pt", "torch_legacy": ".pt",
           "torch_plain_pickle": ".pt", "npz_object": ".npz", "npy_object": ".npy"}
PAYLOADS = ("os_system", "builtins_open", "eval", "subprocess", "memmap_write", "memmap_pth", "bytearray_alloc",
            "tensor_alloc")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_attack_files_run_nothing_and_name_the_refused_type(tmp_path, fmt, payload):
    attack = _Attack(tmp_path)
    obj, name = attack.payloads()[payload]
    path = _write(tmp_path / f"attack{FORMATS[fmt]}", fmt, {**_motion(), "payload": obj})
    expected = "refused pickled object array" if fmt == "npz_object" else "refused pickled type"
    with pytest.raises(MotionFileError) as info:
        read_motion_file(path)
    assert str(info.value).startswith(str(path)) and expected in str(info.value), str(info.value)
    if fmt != "npz_object":
        assert name in str(info.value), str(info.value)
    # The same file as a body model (.pkl or .npz: read_body_file's extensions).
    body_path = path.with_suffix(".npz" if fmt == "npz_object" else ".pkl")
    path.rename(body_path)
    with pytest.raises(BodyModelError, match="refused pickled"):
        read_body_file(body_path)
    attack.assert_nothing_happened()


def test_zero_stride_tensor_and_huge_declared_arrays_are_refused_before_expanding(tmp_path):
    """A tensor of 10^12 elements viewing one float (stride 0) would allocate 4 TB on .double();
    a pickled array state claiming 10^9 objects for an empty list crashes numpy."""
    huge = torch.zeros(1).as_strided((10**6, 10**6), (0, 0))
    for fmt in ("pickle", "torch_zip", "torch_legacy"):
        path = _write(tmp_path / f"view_{fmt}.pt", fmt, {"pose": huge, "trans": torch.zeros(1, 3)})
        with pytest.raises(MotionFileError, match="exceeds io.max_decompressed_bytes = 1 GiB"):
            read_container(path)
    # Hand-made object-array state: shape (10^9,), data [] (numpy would trust it).
    stream = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R"
              b"(K\x01J\x00\xca\x9a;\x85cnumpy\ndtype\nX\x02\x00\x00\x00O8K\x00K\x01\x87R"
              b"(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb\x89]tb.")
    (tmp_path / "state.pkl").write_bytes(stream)
    with pytest.raises(MotionFileError, match="does not match shape"):
        read_container(tmp_path / "state.pkl")


def test_plain_data_in_every_format_still_loads(tmp_path):
    """What real estimators write (dicts of numpy arrays or tensors) reads in every container."""
    data = {0: {**_motion(6), "frame_ids": np.arange(6)}}
    tensors = {"smpl_params_global": {"global_orient": torch.zeros(6, 3), "body_pose": torch.zeros(6, 63),
                                      "transl": torch.zeros(6, 3), "betas": torch.zeros(6, 10)}}
    for fmt in ("pickle", "pickle2", "joblib", "torch_zip", "torch_legacy", "torch_plain_pickle", "npy_object"):
        for obj in (data, tensors):
            path = _write(tmp_path / f"ok_{fmt}{FORMATS[fmt]}", fmt, obj)
            (sequence,) = read_motion_file(path)
            assert sequence["body_pose"].shape == (6, 23, 3) and sequence["fps"] == IO["default_fps"]


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_of_every_pickle_protocol_round_trips(tmp_path, protocol):
    import collections

    arrays = {"int": np.arange(6).reshape(2, 3), "fortran": np.asfortranarray(np.ones((3, 2))),
              "big_endian": np.arange(3, dtype=">f8"), "text": np.array(["ab", "c"]),
              "record": np.zeros(2, dtype=[("x", "f4"), ("y", "i2")]), "objects": np.array([None, "a"], dtype=object)}
    plain = {"scalar": np.float32(2.5), "set": {1, 2}, "frozen": frozenset([3]),
             "tuple": (1, "x", b"by", 2.0, None, 1j), "bytes": bytearray(b"xy"),
             "ordered": collections.OrderedDict(x=1), "default": collections.defaultdict(list)}
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({**arrays, **plain, "tensor": torch.arange(4.0)}, protocol=protocol))
    loaded = read_container(path)
    for key, value in arrays.items():
        assert np.array_equal(loaded[key], value) and type(loaded[key]) is np.ndarray, key
    assert {key: loaded[key] for key in plain} == plain
    assert torch.equal(loaded["tensor"], torch.arange(4.0))


# ------------------------------------------------------------------------------ resources
def _zip_bomb(path: Path, inflated: int, declared: int) -> Path:
    """A one-member npz whose deflate stream inflates to ``inflated`` zero bytes (pieces
    compressed once with a full flush, so each is independent and can be repeated), with
    ``declared`` as its stated size. The CRC is not computed (4 GiB of work): the reader
    refuses the member before inflating it or stops at its declared size."""
    piece_size = 2**24
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(bytes(piece_size)) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = piece * (inflated // piece_size) + b"\x03\x00"  # + an empty final block
    name = b"poses.npy"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, 0, len(stream), declared, len(name), 0)
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, 0, len(stream), declared,
                          len(name), 0, 0, 0, 0, 0, 0)
    offset = len(local) + len(name) + len(stream)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(name), offset, 0)
    path.write_bytes(local + name + stream + central + name + end)
    return path


def _npy_with_header(path: Path, shape, padding: int = 0) -> Path:
    """An .npy file declaring ``shape`` (float64) over 64 bytes of data; ``padding`` spaces
    make its header that much longer (format 2.0: a 4-byte header length)."""
    header = repr({"descr": "<f8", "fortran_order": False, "shape": shape}).encode() + b" " * padding
    header += b" " * (63 - (len(header) + 12) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header + bytes(64))
    return path


def _long_clip(path: Path, frames: int) -> Path:
    np.savez_compressed(path, poses=np.zeros((frames, 72), np.float32), trans=np.zeros((frames, 3), np.float32),
                        mocap_framerate=np.array(30.0))
    return path


def _clip(name="walk", **changes):
    return {**clean_clip(name, fps=30.0, seconds=0.3), **changes}


def _resource_attacks(folder: Path):
    """name -> (path, fragment of the expected error). Files are made in ``folder``."""
    gib = 2**30
    os.mkfifo(folder / "fifo.npz")
    (folder / "loop.npz").symlink_to(folder / "loop.npz")
    (folder / "zero.npz").symlink_to("/dev/zero")
    save_motion(folder / "huge_betas.npz", _clip(betas=torch.full((10,), 50.0)))
    return {
        "zip_bomb_4GiB": (_zip_bomb(folder / "bomb.npz", 4 * gib - 2**24, 4 * gib - 2**24),
                          "declared uncompressed size of the archive (3.98 GiB) exceeds "
                          "io.max_decompressed_bytes = 1 GiB"),
        "zip_bomb_lying_size": (_zip_bomb(folder / "bomb_lies.npz", 4 * gib - 2**24, 4096), "corrupt"),
        "npy_header_1e12_frames": (_npy_with_header(folder / "header.npy", (10**12, 72)),
                                   "exceeds io.max_decompressed_bytes"),
        "npy_header_overflow": (_npy_with_header(folder / "overflow.npy", (2**62, 2**62, 2**62)),
                                "exceeds io.max_decompressed_bytes"),
        "npy_header_1MB": (_npy_with_header(folder / "long_header.npy", (4, 72), padding=2**20),
                           "Header info length"),
        "clip_1e6_frames": (_long_clip(folder / "long.npz", 10**6), "exceed io.max_frames"),
        "betas_50": (folder / "huge_betas.npz", "exceeds io.max_abs_betas"),
        "dev_zero": (Path("/dev/zero"), "not a regular file (character device)"),
        "dev_zero_symlink": (folder / "zero.npz", "not a regular file (character device)"),
        "fifo": (folder / "fifo.npz", "not a regular file (FIFO, a named pipe)"),
        "symlink_loop": (folder / "loop.npz", "cannot read file (Too many levels of symbolic links)"),
    }


def test_resource_attacks_end_in_bounded_time_and_memory(tmp_path, capsys):
    attacks = _resource_attacks(tmp_path)
    rows = []
    for name, (path, fragment) in attacks.items():
        (kind, message), seconds, peak = _in_child(lambda: read_motion_file(path))
        problem = message[len(str(path)) + 2:][:90]
        rows.append(f"{name:24s} {seconds:6.2f} s  peak RSS growth {peak / 2**20:7.0f} MiB  {problem}")
        assert kind == "MotionFileError" and fragment in message, (name, kind, message)
        assert peak < PEAK_RSS_LIMIT and seconds < 30, (name, seconds, peak)
    with capsys.disabled():
        print("\nresource attacks, read_motion_file in a forked child (peak RSS above the forked copy's):")
        print("\n".join(rows))


def test_cli_scores_good_clips_next_to_attacks_in_bounded_time_and_memory(tmp_path, capsys):
    folder, output = tmp_path / "submissions", tmp_path / "out"
    folder.mkdir()
    attacks = _resource_attacks(folder)
    attacks.pop("dev_zero_symlink")[0].unlink()  # /dev/zero itself is given below (one file, listed once)
    payload = _Attack(tmp_path)
    for name in ("os_system", "memmap_write", "memmap_pth"):
        obj = payload.payloads()[name][0]
        for fmt in ("pickle", "joblib", "torch_zip", "torch_legacy", "npz_object"):
            _write(folder / f"{name}_{fmt}{FORMATS[fmt]}", fmt, {**_motion(), "payload": obj})
    save_motion(folder / "good_walk.npz", _clip("walk"))
    save_motion(folder / "good_run.npz", _clip("run"))
    (tmp_path / "loop_arg.npz").symlink_to(tmp_path / "loop_arg.npz")
    code, log, seconds, peak = _cli(["evaluate", folder, "/dev/zero", tmp_path / "loop_arg.npz",
                                     "--output", output, *CLI_OPTIONS])
    with capsys.disabled():
        print(f"\nCLI on {len(list(folder.iterdir()))} files + 2 paths: {seconds:.1f} s, "
              f"peak RSS {peak / 2**20:.0f} MiB, exit {code}")
    assert code == 1, log
    assert peak < PEAK_RSS_LIMIT and seconds < 180
    records = {Path(r["path"]).name: r for r in json.loads((output / "results.json").read_text())}
    for good in ("good_walk.npz", "good_run.npz"):
        assert records[good]["error"] is None and records[good]["scores"]["humanscore"] is not None
    for name, (path, fragment) in attacks.items():
        assert fragment in (records[path.name]["error"] or ""), (name, records[path.name])
    assert "Too many levels" in records["loop_arg.npz"]["error"]
    refused = [r for n, r in records.items() if n.startswith(("os_system", "memmap"))]
    assert len(refused) == 15 and all("refused pickled" in r["error"] for r in refused)
    payload.assert_nothing_happened()


def test_cli_body_file_attack_runs_nothing(tmp_path):
    attack = _Attack(tmp_path)
    payloads = attack.payloads()
    body = _write(tmp_path / "SMPL_NEUTRAL.pkl", "pickle2", {"v_template": payloads["os_system"][0],
                                                             "shapedirs": payloads["memmap_pth"][0]})
    save_motion(tmp_path / "clip.npz", _clip())
    code, log, _, _ = _cli(["evaluate", tmp_path / "clip.npz", "--body", body, "--output", tmp_path / "out",
                            *CLI_OPTIONS])
    assert code != 0 and "refused pickled type posix.system" in log, log
    attack.assert_nothing_happened()


def test_find_motion_files_keeps_loops_and_special_files_as_paths(tmp_path):
    (tmp_path / "loop.npz").symlink_to(tmp_path / "loop.npz")
    os.mkfifo(tmp_path / "pipe.pkl")
    save_motion(tmp_path / "good.npz", _clip())
    found = find_motion_files([tmp_path, tmp_path / "loop.npz", tmp_path / "missing_loop.npz"])
    assert [p.name for p in found] == ["good.npz", "loop.npz", "missing_loop.npz", "pipe.pkl"]
    os.mkfifo(tmp_path / "pipe.mot")  # OpenSim files are opened by their own reader: checked first
    with pytest.raises(MotionFileError, match="not a regular file"):
        read_motion_file(tmp_path / "pipe.mot")


# ------------------------------------------------------------------------------ values
def _amass(path, frames=5, **changes):
    arrays = {"poses": np.zeros((frames, 72)), "trans": np.zeros((frames, 3)), "betas": np.zeros(10), **changes}
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize("rate", [0.0, -30.0, np.nan, np.inf, "30", np.array([30.0, 60.0]), True])
def test_invalid_frame_rate_in_a_file_is_an_error_not_a_default(tmp_path, rate):
    path = tmp_path / "a.npz"
    if isinstance(rate, bool):
        path.write_bytes(pickle.dumps({"poses": np.zeros((5, 72)), "trans": np.zeros((5, 3)),
                                       "mocap_framerate": True}))
    else:
        _amass(path, mocap_framerate=np.asarray(rate))
    with pytest.raises(MotionFileError, match="key 'mocap_framerate': expected a frame rate > 0 Hz"):
        read_motion_file(path)


def test_file_without_a_rate_uses_the_callers_default_then_the_config(tmp_path):
    path = _amass(tmp_path / "a.npz")
    (default,) = read_motion_file(path)
    assert default["fps"] == IO["default_fps"] and "configs/io.yaml default_fps" in default["metadata"]["fps_source"]
    (given,) = read_motion_file(path, default_fps=60.0)
    assert given["fps"] == 60.0 and "default 60 fps (the caller's default" in given["metadata"]["fps_source"]
    stated = _amass(tmp_path / "b.npz", mocap_framerate=np.array(120.0))
    (own,) = read_motion_file(stated, default_fps=60.0)
    assert own["fps"] == 120.0 and "mocap_framerate" in own["metadata"]["fps_source"]
    with pytest.raises(MotionFileError, match="default_fps: expected a frame rate > 0"):
        read_motion_file(path, default_fps=float("nan"))


@pytest.mark.parametrize("dtype", [bool, np.complex64])
def test_bool_and_complex_poses_are_refused(tmp_path, dtype):
    path = _amass(tmp_path / "a.npz", poses=np.zeros((5, 72), dtype=dtype))
    with pytest.raises(MotionFileError, match=f"key 'poses': expected real numbers, found a "
                                              f"{'bool' if dtype is bool else 'complex'} array"):
        read_motion_file(path)
    torch.save({"smpl_params_global": {"global_orient": torch.zeros(5, 3, dtype=torch.bool),
                                       "body_pose": torch.zeros(5, 63), "transl": torch.zeros(5, 3)}},
               tmp_path / "t.pt")
    with pytest.raises(MotionFileError, match="global_orient': expected real numbers, found a bool"):
        read_motion_file(tmp_path / "t.pt")


def _camerahmr(path, body_pose):
    frames = body_pose.shape[0]
    np.savez(path, global_orient=np.tile(np.eye(3), (frames, 1, 1)), body_pose=body_pose, betas=np.zeros((frames, 10)),
             cam_t=np.zeros((frames, 3)))
    return path


def test_near_rotations_are_projected_with_a_note(tmp_path):
    rotations = rotvec_to_rotmat(torch.randn(6, 23, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    noisy = rotations + 1e-3 * torch.randn(6, 23, 3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (clean,) = read_motion_file(_camerahmr(tmp_path / "clean.npz", rotations.numpy()))
    (sequence,) = read_motion_file(_camerahmr(tmp_path / "noisy.npz", noisy.numpy()))
    assert "projected onto the nearest rotation" not in clean["metadata"]["conversions"]
    assert "body_pose: 138 near-rotation matrices" in sequence["metadata"]["conversions"]
    # The projection moves each matrix by about the noise: the poses agree to ~1e-3 rad.
    assert (sequence["body_pose"] - clean["body_pose"]).abs().max() < 5e-3


@pytest.mark.parametrize("kind", ["zero", "scaled", "reflected", "random"])
def test_matrices_that_are_not_rotations_are_refused_naming_the_key(tmp_path, kind):
    body_pose = np.tile(np.eye(3), (4, 23, 1, 1))
    bad = {"zero": np.zeros((3, 3)), "scaled": 2 * np.eye(3), "reflected": np.diag([1.0, 1.0, -1.0]),
           "random": np.random.default_rng(0).normal(size=(3, 3))}[kind]
    body_pose[2, 5] = bad
    with pytest.raises(MotionFileError, match=r"key 'body_pose': not rotation matrices \(at index \(2, 5\)"):
        read_motion_file(_camerahmr(tmp_path / "bad.npz", body_pose))


def test_zero_frame_clip_and_frame_id_spans_are_bounded(tmp_path):
    with pytest.raises(MotionFileError, match="the sequence has no frames"):
        read_motion_file(_amass(tmp_path / "empty.npz", frames=0))
    wham = {0: {**_motion(3), "frame_ids": np.array([0, 1, 10**9])}}
    (tmp_path / "span.pkl").write_bytes(pickle.dumps(wham))
    with pytest.raises(MotionFileError, match=r"frame ids 0\.\.1000000000 span: 1,000,000,001 frames exceed "
                                              r"io.max_frames"):
        read_motion_file(tmp_path / "span.pkl")


def test_bounds_are_configurable_and_named(tmp_path):
    from humanscore_torch.config import config_overrides

    joblib = pytest.importorskip("joblib")
    path = _amass(tmp_path / "a.npz", frames=50, betas=np.full(10, 3.0))
    joblib.dump({0: _motion(50)}, tmp_path / "z.pkl", compress=("gzip", 3))
    (tmp_path / "many.pkl").write_bytes(pickle.dumps([[] for _ in range(2000)]))
    cases = {
        "max_frames: 20": (path, "key 'poses': 50 frames exceed io.max_frames = 20"),
        "max_abs_betas: 2.5": (path, "betas: |beta| = 3 exceeds io.max_abs_betas = 2.5"),
        "max_file_bytes: 1000": (path, "file size (30.1 KiB) exceeds io.max_file_bytes = 1000 bytes"),
        "max_decompressed_bytes: 10000": (tmp_path / "z.pkl", "decompressed size (9.77 KiB) exceeds "
                                                              "io.max_decompressed_bytes = 9.77 KiB"),
        "max_pickle_opcodes: 1000": (tmp_path / "many.pkl", "pickle opcodes executed (1,001) exceeds "
                                                            "io.max_pickle_opcodes = 1,000"),
    }
    for setting, (file, message) in cases.items():
        override = tmp_path / "override.yaml"
        override.write_text(f"io:\n  {setting}\n")
        with config_overrides(override):
            with pytest.raises(MotionFileError) as info:
                read_motion_file(file)
        assert message in str(info.value), (setting, str(info.value))
    assert read_motion_file(path)[0]["body_pose"].shape[0] == 50  # the shipped bounds
