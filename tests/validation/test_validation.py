"""`humanscore validate`: the figures on the real reference data hold the Done-when thresholds
of issue 7, the config comments' quoted numbers are reproduced, the command prints and writes
them, and missing data is a clear error."""

import json

import pytest

from humanscore_torch.cli import main
from humanscore_torch.errors import HumanScoreError
from humanscore_torch.validation import Figure, figures_to_json, format_table, reference_data_dir, validate
from humanscore_torch.validation.figures import CALIBRATION, IMPORTED, ISSUE, ROUND_TRIP

# The round trip is cheap (~0.3 s for 500 sets), so the test uses the command's default N.
SETS = 500


@pytest.fixture(scope="module")
def figures(reference_data, default_body):
    pytest.importorskip("opensim")
    return validate(reference_data, round_trip_sets=SETS, body=default_body)


def _values(figures, group, contains):
    return {f.name: f.value for f in figures if f.group == group and contains in f.name}


def test_done_when_figures_of_issue_7(figures):
    angles = _values(figures, IMPORTED, "vs .mot, RMS")
    assert {n.split()[0] for n in angles} == {f"{c}_{s}" for c in ("hip_flexion", "hip_adduction", "hip_rotation",
                                                                   "knee_angle", "elbow_flex") for s in "rl"}
    assert max(angles.values()) < 2.0
    limbs = _values(figures, IMPORTED, "direction vs OpenSim, RMS")
    assert {n.split()[0] for n in limbs} == {f"{l}_{s}" for l in ("thigh", "shank", "upper_arm", "forearm") for s in "rl"}
    assert max(limbs.values()) < 5.0
    (rom,) = _values(figures, IMPORTED, "ROM violation rate").values()
    assert 0.0 <= rom <= 1.0  # percent of frames
    (correlation,) = _values(figures, IMPORTED, "Pearson r").values()
    assert correlation >= 0.9
    (newtonian,) = _values(figures, IMPORTED, "Newtonian violation rate").values()
    assert 0.0 <= newtonian <= 2.0  # percent of frames
    trip = _values(figures, ROUND_TRIP, f"{SETS} sets x 32 coordinates")
    assert len(trip) == 2 and max(trip.values()) < 0.5
    # Every Done-when figure carries its threshold and passes it.
    done_when = [f for f in figures if f.source == ISSUE]
    assert len(done_when) == 10 + 8 + 3 + 2 and all(f.status == "pass" for f in done_when)


def test_config_quotes_are_reproduced(figures):
    calibration = [f for f in figures if f.group == CALIBRATION]
    quoted = [f for f in calibration if f.op == "="]
    assert {f.source for f in quoted} == {"jerk.yaml", "bone_length.yaml", "newtonian.yaml"}
    assert all(f.status == "matches" for f in quoted), [(f.name, f.value, f.bound) for f in quoted if not f.ok]
    (jerk_mean,) = _values(figures, CALIBRATION, "16 body origins, mean").values()
    assert abs(jerk_mean - 387.0) <= 0.5  # configs/jerk.yaml: mean jerk 387 m/s^3
    (bone_cv,) = _values(figures, CALIBRATION, "CV, mean over 23 bones").values()
    assert abs(bone_cv - 0.24) <= 0.005  # configs/bone_length.yaml: mean CV 0.24 %
    assert all(f.ok for f in figures)


def test_command_prints_the_table_and_writes_json(reference_data, tmp_path, capsys):
    pytest.importorskip("opensim")
    out = tmp_path / "figures.json"
    assert main(["validate", "--reference-data", str(reference_data), "--json", str(out),
                 "--round-trip-sets", "20"]) == 0
    printed = capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["all_ok"] and record["round_trip_sets"] == 20 and record["runtime_s"] > 0
    assert "max error, 20 sets x 32 coordinates" in printed and "0 failed or mismatched" in printed
    for figure in record["figures"]:
        assert figure["name"] in printed and figure["status"] in ("pass", "matches", "info")


def test_status_of_each_kind_of_check():
    assert Figure("g", "a", 1.0, "deg", "<", 2.0).status == "pass"
    assert Figure("g", "a", 2.0, "deg", "<", 2.0).status == "FAIL"
    assert Figure("g", "a", 2.0, "deg", "<=", 2.0).status == "pass"
    assert Figure("g", "a", 0.89, "", ">=", 0.9).status == "FAIL"
    assert Figure("g", "a", 386.6, "m/s^3", "=", 387.0, tolerance=0.5).status == "matches"
    assert Figure("g", "a", 386.4, "m/s^3", "=", 387.0, tolerance=0.5).status == "MISMATCH"
    info = Figure("g", "a", 3.0, "m/s")
    assert info.status == "info" and info.ok
    bad = [Figure("g", "a", 2.0, "deg", "<", 2.0, "issue 7"), info]
    table = format_table(bad)
    assert "< 2 (issue 7)" in table and "FAIL" in table and "1 failed or mismatched" in table
    assert figures_to_json(bad)["all_ok"] is False


def test_missing_reference_data_is_a_clear_error(tmp_path, monkeypatch, capsys):
    with pytest.raises(HumanScoreError, match="reference data not found.*--reference-data"):
        reference_data_dir(tmp_path)
    (tmp_path / "opensim").mkdir()
    with pytest.raises(HumanScoreError, match="lacks .*Rajagopal2016.osim"):
        reference_data_dir(tmp_path)
    # Default: $HUMANSCORE_REFERENCE_DATA, else ../shared/reference-data from the current directory.
    monkeypatch.setenv("HUMANSCORE_REFERENCE_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(HumanScoreError, match="elsewhere"):
        reference_data_dir()
    monkeypatch.delenv("HUMANSCORE_REFERENCE_DATA")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(HumanScoreError, match=str(tmp_path / "shared" / "reference-data")):
        reference_data_dir()
    assert main(["validate"]) == 2
    assert "reference data not found" in capsys.readouterr().err
