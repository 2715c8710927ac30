"""The output folder of ``humanscore evaluate``, made ready before any clip is scored.

:class:`OutputFolder` creates the folder, takes its lock (so a second run into the same folder
refuses instead of mixing its records in), and writes and fsyncs a probe file (so a read-only
folder or a full disk is found now, not after an hour of scoring). Each problem is an
:class:`~humanscore_torch.cli.common.OutputUnusableError` or
:class:`~humanscore_torch.cli.common.OutputInUseError`: one line on stderr and its own exit code.

The lock is ``fcntl.flock`` on ``.humanscore.lock`` (holding the pid, for the message): the
kernel releases it when its process ends however it ends, so a lock left by a killed run is
never mistaken for a live one.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Optional

from ..report.record_log import LOG_NAME, RecordLog
from .common import OutputInUseError, OutputUnusableError

try:
    import fcntl
except ImportError:  # pragma: no cover -- not POSIX (Windows): no advisory locks
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".humanscore.lock"
# What evaluate writes from the log at the end; removed when a run starts, so that a
# results.json in the folder is always the complete one of the last run that finished.
SUMMARY_FILES = ("results.json", "results.csv", "report.md", "report.html")
# Enough that a disk with no room left fails at once (the first block is allocated, and on
# file systems with delayed allocation fsync reports ENOSPC), small enough to cost milliseconds.
PROBE_BYTES = 1 << 20


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


class OutputFolder:
    """The output folder of one run: created, locked and probed on ``__enter__``, unlocked on
    ``__exit__``.

    Args:
        path: ``--output``.

    Raises (on entering):
        OutputUnusableError: the path is a file, or under one; the folder cannot be created or
            written; the probe cannot be written or fsynced (disk full, quota); one of the
            files evaluate writes is a folder.
        OutputInUseError: another live process holds the lock.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.log_path = self.path / LOG_NAME
        self._lock_fd: Optional[int] = None
        self._log: Optional[RecordLog] = None

    def __enter__(self) -> "OutputFolder":
        self._create()
        self._lock()
        try:
            self._probe()
            for name in (LOG_NAME, *SUMMARY_FILES):
                if (self.path / name).is_dir():
                    raise OutputUnusableError(f"--output {self.path}: {name} there is a folder; "
                                              f"evaluate writes a file of that name")
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        if self._log is not None:
            self._log.close()
        self._unlock()

    def open_log(self, keep: int = 0) -> RecordLog:
        """Remove the summaries of an earlier run (:data:`SUMMARY_FILES`, rewritten at the end)
        and open the record log, keeping its first ``keep`` bytes (0: a new log)."""
        try:
            for name in SUMMARY_FILES:
                (self.path / name).unlink(missing_ok=True)
            self._log = RecordLog(self.log_path, keep)
        except OSError as exc:
            raise OutputUnusableError(f"--output {self.path}: cannot write {exc.filename or self.log_path} "
                                      f"({_reason(exc)})") from exc
        return self._log

    def _create(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise OutputUnusableError(f"--output {self.path}: is a file, not a folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputUnusableError(f"--output {self.path}: cannot create the folder ({_reason(exc)})") from exc

    def _lock(self) -> None:
        lock_path = self.path / LOCK_NAME
        if fcntl is None:  # pragma: no cover
            print(f"note: no folder lock on this platform; do not run two evaluations into {self.path}",
                  file=sys.stderr)
            return
        while True:
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise OutputUnusableError(f"--output {self.path}: cannot write in the folder ({_reason(exc)})") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputInUseError(f"--output {self.path}: another humanscore evaluate (pid {holder}) is "
                                       f"writing into this folder; wait for it to end or choose another --output")
            except OSError as exc:
                os.close(fd)
                raise OutputUnusableError(f"--output {self.path}: cannot lock {lock_path} ({_reason(exc)})") from exc
            # The previous holder unlinks the file as it ends: a lock taken on that unlinked
            # file guards nothing, so take it again on the file now at the path.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(lock_path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._lock_fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))

    def _unlock(self) -> None:
        if self._lock_fd is None:
            return
        # Unlinked while still held, so no other run can lock this file after it is released.
        try:
            (self.path / LOCK_NAME).unlink()
        except OSError:
            pass
        os.close(self._lock_fd)
        self._lock_fd = None

    def _probe(self) -> None:
        probe = self.path / f".humanscore-probe-{os.getpid()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                block = memoryview(bytes(PROBE_BYTES))
                while block:
                    block = block[os.write(fd, block):]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            raise OutputUnusableError(f"--output {self.path}: cannot write in the folder "
                                      f"({'disk full: ' if full else ''}{_reason(exc)})") from exc
        finally:
            try:
                probe.unlink()
            except OSError:
                pass
