"""Reading motion files into sequence dicts, finding them on disk, batching them."""

from __future__ import annotations

import glob
import importlib
import importlib.util
import math
import numbers
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from ..config import load_config
from ..errors import MotionFileError
from .containers import check_file, read_container
from .estimators import refuse_mesh_file
from .layouts import finish_track, read_layout

if TYPE_CHECKING:  # the body package reads its files with .containers: no import cycle at run time
    from ..motion import MotionBatch

# Extensions find_motion_files collects from folders. .mot is OpenSim motion (read by
# humanscore_torch.io.opensim when installed); .smpl is Meshcapade's smplcodec (an npz).
MOTION_EXTENSIONS = (".npz", ".npy", ".pkl", ".pickle", ".joblib", ".pt", ".pth", ".smpl", ".mot")
_OPENSIM_READER = "humanscore_torch.io.opensim"


def _read_opensim(path: Path, fps: Optional[float], model: Optional[Path]) -> List[Dict[str, Any]]:
    """A ``.mot`` file goes to ``humanscore_torch.io.opensim.read_opensim_motion(path, model,
    fps=...)``, which returns the same list of sequence dicts as :func:`read_motion_file`."""
    if importlib.util.find_spec(_OPENSIM_READER) is None:
        raise MotionFileError(path, "OpenSim .mot import needs the opensim extra "
                                    "(pip install 'humanscore_torch[opensim]') and its reader, which is not installed")
    try:
        module = importlib.import_module(_OPENSIM_READER)
    except ImportError as exc:
        raise MotionFileError(path, f"OpenSim .mot import needs the opensim extra "
                                    f"(pip install 'humanscore_torch[opensim]'): {exc}") from exc
    return module.read_opensim_motion(path, model, fps=fps)


def read_motion_file(
    path: Union[str, Path],
    fps: Optional[float] = None,
    body=None,
    num_betas: Optional[int] = None,
    default_fps: Optional[float] = None,
    opensim_model: Optional[Union[str, Path]] = None,
) -> List[Dict[str, Any]]:
    """Read a motion file of any supported layout (see :mod:`humanscore_torch.io.layouts`).

    The layout is recognised from the keys, the container (npz, npy, pickle, joblib,
    torch.save) from the content; nothing in the file is executed.

    Args:
        path: the motion file (``.mot`` goes to the OpenSim reader when installed).
        fps: frame rate in Hz overriding the file's; None uses the file's, else ``default_fps``.
        default_fps: frame rate in Hz of a file that states none (``humanscore evaluate --fps``);
            None uses ``configs/io.yaml`` ``default_fps`` (30). ``fps_source`` in the metadata
            says which rate was used and why. AMASS, ``.smpl``, the canonical format and
            AIST++'s fixed 60 fps state their rate; the video-based estimators state none.
        body: a :class:`~humanscore_torch.body.BodyModel` used only to make z-up and camera
            frame conversions exact (its rest pelvis); None leaves a constant offset of the
            whole trajectory, which no metric sees (see :mod:`humanscore_torch.io.frames`).
        num_betas: shape coefficients kept (default ``configs/io.yaml``: 10).
        opensim_model: the ``.osim`` model of a ``.mot`` file; None: the only ``.osim`` next
            to it, else none (see :func:`humanscore_torch.io.opensim.read_opensim_motion`).

    Returns:
        one dict per person/track, ready for :meth:`MotionBatch.from_sequences`: float32
        tensors ``global_orient`` (T, 3), ``body_pose`` (T, 23, 3) axis-angle in radians,
        ``transl`` (T, 3) metres (y-up world), ``betas`` (num_betas,) or (T, num_betas), a
        float ``fps``, and ``metadata`` (``path``, ``layout``, ``track``, ``fps_source``,
        ``conversions`` -- every conversion applied, in words -- and ``model``/``prompt``/
        ``gender``/``body_model`` when known).

    Raises:
        MotionFileError: missing, non-regular, truncated or corrupt file, a refused pickled
            type, a bound of ``configs/io.yaml`` exceeded (file size, decompressed bytes, frames,
            betas magnitude), unknown layout (naming the keys found), missing key, wrong-shaped
            array (naming the key, the shape found and the shape expected), bool or complex
            values, matrices that are not rotations, an invalid frame rate in the file.
    """
    path = Path(path)
    for name, rate in (("fps", fps), ("default_fps", default_fps)):
        if rate is not None and not (isinstance(rate, numbers.Real) and not isinstance(rate, (bool, np.bool_))
                                     and math.isfinite(rate) and rate > 0):
            raise MotionFileError(path, f"{name}: expected a frame rate > 0, got {rate!r}")
    if path.suffix.lower() == ".mot":
        check_file(path)
        return _read_opensim(path, fps, None if opensim_model is None else Path(opensim_model))
    config = load_config("io")
    refuse_mesh_file(path)
    data = read_container(path)
    layout, tracks = read_layout(path, data)
    fallback, source = ((float(config["default_fps"]), "configs/io.yaml default_fps") if default_fps is None
                        else (float(default_fps), "the caller's default for files without a rate"))
    return [finish_track(track, path, layout, fps, fallback, int(num_betas or config["num_betas"]), body, source)
            for track in tracks]


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def find_motion_files(paths: Union[str, Path, Iterable[Union[str, Path]]]) -> List[Path]:
    """The motion files named by files, folders and glob patterns.

    * a file is taken as it is, whatever its extension;
    * a folder is searched recursively for files with a motion extension (``MOTION_EXTENSIONS``),
      skipping the estimators' non-motion side files listed in ``configs/io.yaml``
      (``auxiliary_files``: WHAM's tracking_results.pth, TRAM's camera.npy, ...) and hidden
      folders;
    * a glob pattern (``runs/**/*.pkl``, recursive) gives the files it matches (folders among
      them are searched as above);
    * a path that does not exist and is no pattern is kept, so that reading it reports it as
      missing (the CLI lists it as a failed clip rather than dropping it silently); so are a
      symlink loop, a FIFO or a device given or found (with a motion extension) in a folder:
      reading refuses each, as that path's own error.

    Returns:
        the files, sorted and without duplicates (same resolved path).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    skip = set(load_config("io")["auxiliary_files"])
    found: Dict[Path, Path] = {}

    def add(path: Path) -> None:
        try:
            key = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop: kept as it is, reading reports it
            key = path.absolute()
        found.setdefault(key, path)

    def search(folder: Path) -> None:
        for candidate in folder.rglob("*"):
            relative = candidate.relative_to(folder).parts
            if any(part.startswith(".") for part in relative):
                continue
            if not candidate.is_dir() and candidate.suffix.lower() in MOTION_EXTENSIONS and candidate.name not in skip:
                add(candidate)

    for entry in paths:
        text = str(entry)
        path = Path(text)
        if path.is_dir():
            search(path)
        elif path.is_file() or not _is_glob(text):
            add(path)
        else:
            for match in sorted(glob.glob(text, recursive=True)):
                match_path = Path(match)
                if match_path.is_dir():
                    search(match_path)
                elif match_path.suffix.lower() in MOTION_EXTENSIONS and match_path.name not in skip:
                    add(match_path)
    return sorted(found.values(), key=str)


def load_motion_batch(
    sources: Sequence[Union[str, Path, Dict[str, Any]]],
    fps: Optional[float] = None,
    body=None,
) -> MotionBatch:
    """Read files (every track of each) and/or take sequence dicts, and pad them into one batch.

    Args:
        sources: motion file paths, folders or globs (expanded by :func:`find_motion_files`)
            and/or sequence dicts as :func:`read_motion_file` returns them.
        fps: frame rate for files that state none (dicts keep their own).
        body: passed to :func:`read_motion_file` for exact frame conversions.

    Returns:
        a :class:`~humanscore_torch.motion.MotionBatch` of all tracks, in order.
    """
    from ..motion import MotionBatch

    sequences: List[Dict[str, Any]] = []
    for source in sources:
        if isinstance(source, dict):
            sequences.append(source)
            continue
        for path in find_motion_files([source]):
            sequences.extend(read_motion_file(path, fps=fps, body=body))
    return MotionBatch.from_sequences(sequences)
