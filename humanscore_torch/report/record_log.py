"""The append-only record log of an evaluation: ``OUTPUT/records.jsonl``, one clip record a line.

Each finished file is appended as one group of lines, one per sequence of the file, in a
single write that is flushed and fsynced before the next file: the cost per file is constant
whatever the number already done, nothing is ever rewritten, and a run killed at any moment
(``kill -9`` included) leaves whole groups followed by at most one torn group, which
:func:`read_record_log` drops and the next :class:`RecordLog` cuts off. ``results.json``,
``results.csv`` and the report are written from the records at the end of a run.

A line::

    {"file": KEY, "part": i, "parts": n, "finished": UNIX_TIME, "record": RECORD}

``KEY`` identifies the motion file (its resolved path, as text), ``i`` of ``n`` numbers the
file's records and ``RECORD`` is the results.json record (spec section 8). Lines are ASCII
(``json.dumps``' default escapes), so any tool reads them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import HumanScoreError

Record = Dict[str, Any]
LOG_NAME = "records.jsonl"
ENTRY_KEYS = ("file", "part", "parts", "finished", "record")


@dataclass
class LogContents:
    """What a record log holds.

    Attributes:
        groups: file key -> that file's records from its last group in the log (a file scored
            again by a resumed run has its later records), in the order files were last written.
        finished: file key -> when its last group was written (Unix time).
        length: bytes of the log taken by whole groups: where the next append goes.
        torn: True when bytes after ``length`` (a group cut short by a kill) were dropped.
    """

    groups: Dict[str, List[Record]] = field(default_factory=dict)
    finished: Dict[str, float] = field(default_factory=dict)
    length: int = 0
    torn: bool = False


def _entry(line: bytes) -> Optional[Dict[str, Any]]:
    """The log entry a line holds, or None when it is not one."""
    try:
        entry = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(entry, dict) or any(key not in entry for key in ENTRY_KEYS):
        return None
    if not (isinstance(entry["file"], str) and isinstance(entry["record"], dict)
            and type(entry["part"]) is int and type(entry["parts"]) is int and 0 <= entry["part"] < entry["parts"]
            and isinstance(entry["finished"], (int, float))):
        return None
    return entry


def read_record_log(path: Path) -> LogContents:
    """Read a record log written by :class:`RecordLog`.

    A last group that is incomplete (its last line cut short, or lines of the group missing:
    the run was killed while writing it) is dropped and reported in ``torn``; nothing before it
    is lost, since every earlier group was fsynced whole.

    Args:
        path: the log; a missing file is an empty log.

    Raises:
        HumanScoreError: a line before the end is not a log entry, or a group's lines are out of
            order (the file is not a log this command wrote, or was edited): the message names
            the line.
    """
    contents = LogContents()
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return contents
    except OSError as exc:
        raise HumanScoreError(f"--resume: cannot read {path} ({exc})") from exc
    group: List[Dict[str, Any]] = []
    offset = 0
    line_number = 0
    while offset < len(data):
        end = data.find(b"\n", offset)
        line_end = len(data) if end < 0 else end + 1
        line_number += 1
        entry = _entry(data[offset:line_end]) if end >= 0 else None
        in_order = entry is not None and entry["part"] == len(group) and (
            not group or (entry["file"], entry["parts"]) == (group[0]["file"], group[0]["parts"]))
        if not in_order:
            if data[line_end:].strip(b"\0 \t\r\n"):
                raise HumanScoreError(
                    f"--resume: line {line_number} of {path} is not the next entry of a humanscore record log "
                    f"(expected a JSON object with keys {list(ENTRY_KEYS)}, part {len(group)} of its file); "
                    f"remove the file, or run without --resume to start a new log")
            contents.torn = True
            return contents
        group.append(entry)
        offset = line_end
        if len(group) == entry["parts"]:
            key = entry["file"]
            contents.groups.pop(key, None)  # re-inserted: dict order is the order of last writing
            contents.groups[key] = [e["record"] for e in group]
            contents.finished[key] = float(entry["finished"])
            contents.length = offset
            group = []
    contents.torn = bool(group)
    return contents


class RecordLog:
    """Appends finished files' records to a record log (see the module docstring).

    Args:
        path: the log file, created if missing.
        keep: bytes of the existing log to keep (``LogContents.length`` of a resumed run: whole
            groups; a torn tail after them is cut off); 0 starts a new log.

    Raises:
        OSError: the log cannot be opened or cut to ``keep`` bytes.
    """

    def __init__(self, path: Path, keep: int = 0):
        self.path = Path(path)
        # O_APPEND: every write goes at the end, after the cut.
        self._fd: Optional[int] = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            os.ftruncate(self._fd, keep)
            os.fsync(self._fd)
        except BaseException:
            self.close()
            raise

    def append(self, key: str, records: List[Record]) -> None:
        """Append one file's records as one group, flushed and fsynced before returning.

        The lines are serialised before anything is written: a record JSON cannot hold leaves
        the log as it was.
        """
        if self._fd is None:
            raise HumanScoreError(f"{self.path}: the record log is closed")
        finished = time.time()
        text = "".join(json.dumps({"file": key, "part": i, "parts": len(records), "finished": finished,
                                   "record": record}) + "\n" for i, record in enumerate(records))
        data = memoryview(text.encode("ascii"))
        while data:
            data = data[os.write(self._fd, data):]
        os.fsync(self._fd)

    def close(self) -> None:
        """Close the log (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
