"""A Lightning callback that logs the HumanScore metrics during validation (spec 1, user 1)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Union

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn

from .body.model import BodyModel
from .errors import HumanScoreError
from .metrics.humanscore import HumanScore
from .motion import MotionBatch
from .registry import METRIC_KEYS, TIERS

SequencesLike = Union[MotionBatch, Sequence[Dict[str, Any]]]
SequencesHook = Callable[[LightningModule, Any, Any, int], Optional[SequencesLike]]

HOOK_NAME = "humanscore_sequences"


def _module_hook(pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> Optional[SequencesLike]:
    hook = getattr(pl_module, HOOK_NAME, None)
    if hook is None:
        raise HumanScoreError(f"HumanScoreCallback: give hook=... or define {type(pl_module).__name__}."
                              f"{HOOK_NAME}(outputs, batch, batch_idx) returning a MotionBatch or sequence dicts")
    return hook(outputs, batch, batch_idx)


class HumanScoreCallback(Callback):
    """Logs the overall HumanScore, the tier scores, the metric scores and raw values of the
    motion a model produces during validation.

    After each validation batch the callback asks a hook for that batch's SMPL sequences (a
    :class:`~humanscore_torch.motion.MotionBatch`, or a list of sequence dicts with
    ``global_orient`` (T, 3), ``body_pose`` (T, 23, 3), ``transl`` (T, 3), ``betas`` and
    ``fps``; None skips the batch) and feeds them to a :class:`HumanScore` on the module's
    device. At the end of the epoch it logs ``{prefix}humanscore``, ``{prefix}<tier>``,
    ``{prefix}<metric>`` (0-100) and ``{prefix}raw/<metric>`` (in the metric's unit), then
    resets. The states are summed over processes, so with ``Trainer(devices=N)`` every process
    logs the numbers of all the validation data. A metric not computed (the artifact rate
    without detections) is not logged and is named once in a warning; its tier is the mean
    of the tier's other metric.

    The sanity-check run at the start of ``fit`` is scored like any epoch and its values are
    discarded with the epoch's reset.

    Args:
        hook: ``hook(pl_module, outputs, batch, batch_idx) -> sequences``; when None, the
            module's method ``humanscore_sequences(outputs, batch, batch_idx)`` is called.
        body: the body model (the embedded default when None).
        metrics: the metric keys to compute (all six when None); self-penetration is the slow
            one on CPU.
        prefix: the logged names' prefix.
        log_raw: also log the raw values.
        config: the ``humanscore`` config (weights); the shipped one when None.

    Attributes:
        last_values: the dict :meth:`HumanScore.compute` returned at the last epoch end.
    """

    def __init__(self, hook: Optional[SequencesHook] = None, body: Optional[BodyModel] = None,
                 metrics: Optional[Iterable[str]] = None, prefix: str = "humanscore/", log_raw: bool = True,
                 config: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__()
        self.hook = hook if hook is not None else _module_hook
        self.metric = HumanScore(body=body, metrics=metrics, config=config)
        self.prefix = prefix
        self.log_raw = log_raw
        self.last_values: Dict[str, torch.Tensor] = {}
        self._warned = False

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Reset the metric states and move the metric to ``pl_module.device``."""
        self.metric.reset()
        self.metric.to(pl_module.device)

    def on_validation_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        """Ask the hook for this batch's sequences and add them to the metric states.

        ``hook(pl_module, outputs, batch, batch_idx)`` returns a :class:`MotionBatch` or a list
        of sequence dicts (padded into one with :meth:`MotionBatch.from_sequences`), which is
        moved to ``pl_module.device`` and passed to :meth:`HumanScore.update`; None skips
        the batch. ``dataloader_idx`` is not used.
        """
        sequences = self.hook(pl_module, outputs, batch, batch_idx)
        if sequences is None:
            return
        if not isinstance(sequences, MotionBatch):
            sequences = MotionBatch.from_sequences(list(sequences))
        self.metric.update(sequences.to(pl_module.device))

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Compute the epoch's values (summed over processes), log them and reset the states.

        Logs 0-dim ``{prefix}humanscore``, ``{prefix}<tier>`` and ``{prefix}<metric>`` (0-100),
        and with ``log_raw`` ``{prefix}raw/<metric>`` (in the metric's unit), with
        ``pl_module.log_dict(..., sync_dist=False, on_epoch=True)``; values not computed are
        left out and named once in a warning (not during the sanity check). The dict
        :meth:`HumanScore.compute` returned is kept in ``last_values``. Every process must
        call it (``compute`` is collective).
        """
        values = self.metric.compute()  # collective: every process calls it, all get the same numbers
        self.last_values = values
        logged = {}
        for key in ("humanscore", *TIERS, *METRIC_KEYS):
            if bool(values[f"computed/{key}"]):
                logged[self.prefix + key] = values[key].float()
        if self.log_raw:
            logged.update({f"{self.prefix}raw/{key}": values[f"raw/{key}"].float()
                           for key in METRIC_KEYS if bool(values[f"computed/{key}"])})
        missing = [key for key in METRIC_KEYS if not bool(values[f"computed/{key}"])]
        if missing and not self._warned and not trainer.sanity_checking:
            rank_zero_warn(f"HumanScoreCallback: not computed (not logged, left out of their tiers): {missing}")
            self._warned = True
        if logged:
            # Already summed over processes by compute(), so no further reduction.
            pl_module.log_dict(logged, sync_dist=False, on_epoch=True)
        self.metric.reset()
