"""``humanscore evaluate``'s output folder (spec 7, issue 14): killed runs resume to the
uninterrupted run's results, SIGTERM leaves no temporary file, a second run into the same folder
refuses, an unusable output is found before scoring with its own exit code and one line, and a
file name that is not UTF-8 is scored like any other."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import humanscore_torch.cli.evaluate as evaluate_cli
import humanscore_torch.cli.output_folder as output_folder
import humanscore_torch.evaluation as evaluation
from humanscore_torch.cli import main
from humanscore_torch.cli.common import EXIT_OUTPUT_IN_USE, EXIT_OUTPUT_UNUSABLE, EXIT_TERMINATED
from humanscore_torch.io import save_motion
from humanscore_torch.report.record_log import LOG_NAME, RecordLog, read_record_log
from humanscore_torch.synthetic.clips import clean_clip

# One clip a batch, so every file is logged on its own and runs compare exactly.
OPTIONS = ["--device", "cpu", "--batch-size", "1", "--worst-frames", "0"]
NAMES = ("walk", "run", "jump", "squat", "turn")

# `humanscore evaluate` in a subprocess whose scoring stalls (sleeps) from its batch STALL on,
# so the test can signal or kill it at a known point: after STALL files are logged, or while
# a results file is being written (fsync of a temporary file) when STALL is "writing".
STALLING_RUN = """
import os, sys, time
import humanscore_torch.evaluation as evaluation

stall = sys.argv[1]
real_score, real_fsync, batches = evaluation.score_batch, os.fsync, []

def score(batch, body, metrics=None):
    batches.append(1)
    if stall != "writing" and len(batches) > int(stall):
        time.sleep(600)
    return real_score(batch, body, metrics)

def fsync(fd):
    if stall == "writing" and os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):
        print("writing", flush=True)
        time.sleep(600)
    return real_fsync(fd)

evaluation.score_batch, os.fsync = score, fsync
from humanscore_torch.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """Five short clean clips (9 frames each), written once."""
    folder = tmp_path_factory.mktemp("clips")
    for i, name in enumerate(NAMES):
        save_motion(folder / f"{i}_{name}.npz", clean_clip(name, fps=30.0, seconds=0.3))
    return folder


@pytest.fixture(scope="module")
def reference(clip_folder, tmp_path_factory):
    """results.json of an uninterrupted run over ``clip_folder``."""
    out = tmp_path_factory.mktemp("reference")
    assert main(["evaluate", str(clip_folder), "--output", str(out), *OPTIONS]) == 0
    return json.loads((out / "results.json").read_text())


@pytest.fixture(autouse=True)
def shared_body(default_body, monkeypatch):
    """In-process runs score on the session's default body (what ``--body default`` loads)."""
    monkeypatch.setattr(evaluate_cli, "load_body", lambda name: default_body)


def _start_stalling(tmp_path: Path, stall, *args: str) -> subprocess.Popen:
    script = tmp_path / "stalling_run.py"
    script.write_text(STALLING_RUN)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, str(script), str(stall), "evaluate", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the run ended before {what}:\n{process.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _logged_files(out: Path) -> int:
    return len(read_record_log(out / LOG_NAME).groups) if (out / LOG_NAME).exists() else 0


def _leftovers(out: Path):
    """Temporary files, probes and the lock: what a run that ended must not leave."""
    return [p.name for p in out.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".humanscore")]


def _spy_scoring(monkeypatch):
    scored = []
    real = evaluation.score_batch

    def spy(batch, body, metrics=None):
        scored.extend(Path(m["path"]).name for m in batch.metadata)
        return real(batch, body, metrics)

    monkeypatch.setattr(evaluation, "score_batch", spy)
    return scored


def test_kill_9_then_resume_scores_every_clip_once_as_an_uninterrupted_run(tmp_path, clip_folder, reference,
                                                                         monkeypatch):
    out = tmp_path / "out"
    run = _start_stalling(tmp_path, 2, str(clip_folder), "--output", str(out), *OPTIONS)
    _wait_for(lambda: _logged_files(out) == 2, run, "two files were logged")
    run.kill()  # SIGKILL: no handler, no cleanup
    run.communicate()
    assert (out / ".humanscore.lock").exists()  # left behind, but no process holds it any more
    # As if the kill had come in the middle of writing the third file's line.
    with open(out / LOG_NAME, "ab") as fh:
        fh.write(b'{"file": "' + str(clip_folder).encode() + b'/2_jump.npz", "part": 0, "par')
    scored = _spy_scoring(monkeypatch)
    assert main(["evaluate", str(clip_folder), "--output", str(out), "--resume", *OPTIONS]) == 0
    assert scored == ["2_jump.npz", "3_squat.npz", "4_turn.npz"]  # each clip scored exactly once
    assert json.loads((out / "results.json").read_text()) == reference
    contents = read_record_log(out / LOG_NAME)
    assert not contents.torn and len(contents.groups) == len(NAMES)
    assert _leftovers(out) == []


def test_sigterm_mid_run_leaves_no_temporary_file_and_exits_143(tmp_path, clip_folder, reference):
    out = tmp_path / "out"
    run = _start_stalling(tmp_path, 1, str(clip_folder), "--output", str(out), *OPTIONS)
    _wait_for(lambda: _logged_files(out) == 1, run, "a file was logged")
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == EXIT_TERMINATED, err[-3000:]
    assert "1 finished file logged" in err and "--resume" in err and "Traceback" not in err, err
    assert _leftovers(out) == [] and not (out / "results.json").exists()
    assert _logged_files(out) == 1
    assert main(["evaluate", str(clip_folder), "--output", str(out), "--resume", *OPTIONS]) == 0
    assert json.loads((out / "results.json").read_text()) == reference


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="the stalling run finds its files in /proc")
def test_sigterm_while_results_are_written_removes_the_temporary_file(tmp_path, clip_folder):
    out = tmp_path / "out"
    run = _start_stalling(tmp_path, "writing", str(clip_folder), "--output", str(out), *OPTIONS)
    assert run.stdout.readline() == "writing\n"  # results.json's temporary file exists now
    assert [p for p in out.iterdir() if p.name.endswith(".tmp")]
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == EXIT_TERMINATED, err[-3000:]
    assert _leftovers(out) == [] and "Traceback" not in err
    assert _logged_files(out) == len(NAMES)  # every clip was logged before the results were written


def test_a_second_run_into_the_same_folder_refuses(tmp_path, clip_folder, capsys, monkeypatch):
    out = tmp_path / "out"
    first = _start_stalling(tmp_path, 1, str(clip_folder), "--output", str(out), *OPTIONS)
    try:
        _wait_for(lambda: _logged_files(out) == 1, first, "the first run logged a file")
        scored = _spy_scoring(monkeypatch)
        before = (out / LOG_NAME).read_bytes()
        assert main(["evaluate", str(clip_folder), "--output", str(out), *OPTIONS]) == EXIT_OUTPUT_IN_USE
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"pid {first.pid}" in err[0] and "another humanscore evaluate" in err[0]
        assert scored == [] and (out / LOG_NAME).read_bytes() == before  # nothing of the first run touched
    finally:
        first.kill()
        first.communicate()
    # The lock of the killed run is recognised as stale: a new run goes ahead.
    assert main(["evaluate", str(clip_folder), "--output", str(out), *OPTIONS]) == 0


def _assert_unusable(argv, capsys, monkeypatch, *words):
    scored = _spy_scoring(monkeypatch)
    assert main(argv) == EXIT_OUTPUT_UNUSABLE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(w in err[0] for w in words), err
    assert scored == []  # found before any clip was scored


def test_an_unusable_output_is_found_before_scoring(tmp_path, clip_folder, capsys, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    _assert_unusable(["evaluate", str(clip_folder), "--output", str(a_file), *OPTIONS], capsys, monkeypatch,
                     str(a_file), "is a file")
    under = a_file / "out"
    _assert_unusable(["evaluate", str(clip_folder), "--output", str(under), *OPTIONS], capsys, monkeypatch,
                     str(under), "cannot create", "Not a directory")
    out = tmp_path / "out"
    (out / "results.json").mkdir(parents=True)
    _assert_unusable(["evaluate", str(clip_folder), "--output", str(out), *OPTIONS], capsys, monkeypatch,
                     "results.json", "is a folder")
    assert _leftovers(out) == []


def test_a_full_disk_is_found_before_scoring(tmp_path, clip_folder, capsys, monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    # The probe's fsync is where a full disk with delayed allocation reports it.
    monkeypatch.setattr(output_folder.os, "fsync", no_space)
    out = tmp_path / "out"
    _assert_unusable(["evaluate", str(clip_folder), "--output", str(out), *OPTIONS], capsys, monkeypatch,
                     "disk full", "No space left")
    assert sorted(p.name for p in out.iterdir()) == []  # probe and lock removed, no log started


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders (CI runs as root); "
                    "the path under a file in test_an_unusable_output_is_found_before_scoring covers it")
def test_a_read_only_output_is_found_before_scoring(tmp_path, clip_folder, capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        _assert_unusable(["evaluate", str(clip_folder), "--output", str(out), *OPTIONS], capsys, monkeypatch,
                         str(out), "Permission denied")
    finally:
        out.chmod(0o755)


def test_a_name_that_is_not_utf8_is_scored_and_kept_escaped(tmp_path, clip_folder, reference, capsys, monkeypatch):
    folder = tmp_path / "clips"
    folder.mkdir()
    for source in sorted(clip_folder.iterdir()):
        (folder / source.name).write_bytes(source.read_bytes())
    raw_name = os.fsencode(folder) + b"/2_j\xffmp.npz"
    try:
        os.rename(folder / "2_jump.npz", raw_name)
    except OSError as exc:
        pytest.skip(f"this file system refuses names that are not UTF-8 ({exc})")
    shown = "2_j\\xffmp.npz"
    out = tmp_path / "out"
    assert main(["evaluate", str(folder), "--output", str(out), *OPTIONS]) == 0
    stdout = capsys.readouterr().out
    records = json.loads((out / "results.json").read_text())
    assert [Path(r["path"]).name for r in records] == [Path(r["path"]).name.replace("2_jump", "2_j\\xffmp")
                                                        for r in reference]
    assert all(r["error"] is None for r in records)
    assert records[2]["scores"] == reference[2]["scores"]
    for name in ("results.csv", "report.md", "report.html"):
        assert shown in (out / name).read_text(encoding="utf-8"), name
    assert shown in stdout
    # --resume matches the escaped name to the file: nothing is scored again.
    scored = _spy_scoring(monkeypatch)
    assert main(["evaluate", str(folder), "--output", str(out), "--resume", *OPTIONS]) == 0
    assert scored == [] and json.loads((out / "results.json").read_text()) == records


def test_a_disk_that_fills_during_the_run_ends_it_with_the_output_code(tmp_path, clip_folder, reference, capsys,
                                                                        monkeypatch):
    real_append, appended = RecordLog.append, []

    def append_until_full(log, key, records):
        if len(appended) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        appended.append(key)
        real_append(log, key, records)

    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        patch.setattr(RecordLog, "append", append_until_full)
        assert main(["evaluate", str(clip_folder), "--output", str(out), *OPTIONS]) == EXIT_OUTPUT_UNUSABLE
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "No space left" in last and "2 files finished" in last and "--resume" in last
    assert _logged_files(out) == 2 and _leftovers(out) == []
    assert main(["evaluate", str(clip_folder), "--output", str(out), "--resume", *OPTIONS]) == 0
    assert json.loads((out / "results.json").read_text()) == reference
