"""The append-only record log (humanscore_torch.report.record_log): whole groups survive, a torn
last group is dropped and cut off by the next writer, a log that is not one is refused."""

from __future__ import annotations

import json

import pytest

from humanscore_torch.errors import HumanScoreError
from humanscore_torch.report.record_log import RecordLog, read_record_log


def _record(path: str, error=None):
    return {"path": path, "num_frames": 3, "fps": 30.0, "scores": {}, "raw": {}, "error": error}


def test_groups_are_read_back_whole_and_the_last_group_of_a_file_wins(tmp_path):
    path = tmp_path / "records.jsonl"
    log = RecordLog(path)
    log.append("a", [_record("a", "broken")])
    log.append("two", [_record("two#0"), _record("two#1")])
    log.append("a", [_record("a")])  # scored again by a resumed run
    log.close()
    contents = read_record_log(path)
    assert list(contents.groups) == ["two", "a"]
    assert contents.groups["two"] == [_record("two#0"), _record("two#1")]
    assert contents.groups["a"] == [_record("a")]
    assert contents.length == path.stat().st_size and not contents.torn
    assert all(line.isascii() for line in path.read_text().splitlines())
    assert read_record_log(tmp_path / "missing.jsonl").groups == {}


@pytest.mark.parametrize("cut", ["mid_line", "between_lines_of_a_group", "zeros"])
def test_a_torn_last_group_is_dropped_and_cut_off_by_the_next_writer(tmp_path, cut):
    path = tmp_path / "records.jsonl"
    log = RecordLog(path)
    log.append("a", [_record("a")])
    log.append("two", [_record("two#0"), _record("two#1")])
    log.close()
    whole = path.read_bytes()
    first = whole.index(b"\n") + 1
    second = whole.index(b"\n", first) + 1
    # What a kill during the second write leaves: part of a line, one line of the group's
    # two, or (after a power cut) zeros where the data had not reached the disk.
    torn = {"mid_line": whole[:first + 40], "between_lines_of_a_group": whole[:second],
            "zeros": whole[:first] + bytes(300)}[cut]
    path.write_bytes(torn)
    contents = read_record_log(path)
    assert list(contents.groups) == ["a"] and contents.torn and contents.length == first
    log = RecordLog(path, keep=contents.length)
    log.append("b", [_record("b")])
    log.close()
    contents = read_record_log(path)
    assert list(contents.groups) == ["a", "b"] and not contents.torn


def test_a_bad_line_before_the_end_is_refused_with_its_number(tmp_path):
    path = tmp_path / "records.jsonl"
    log = RecordLog(path)
    log.append("a", [_record("a")])
    log.close()
    good = path.read_text()
    path.write_text(good + "not json\n" + good)
    with pytest.raises(HumanScoreError, match="line 2 of"):
        read_record_log(path)
    path.write_text(json.dumps([_record("a")]) + "\n" + good)  # a results.json line
    with pytest.raises(HumanScoreError, match="line 1 of"):
        read_record_log(path)


def test_a_record_json_cannot_hold_leaves_the_log_as_it_was(tmp_path):
    path = tmp_path / "records.jsonl"
    log = RecordLog(path)
    log.append("a", [_record("a")])
    before = path.read_bytes()
    with pytest.raises(TypeError):
        log.append("b", [_record("b"), {**_record("c"), "path": object()}])
    log.close()
    assert path.read_bytes() == before
