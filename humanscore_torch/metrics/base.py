"""What every HumanScore metric class shares: reduced precision computed in float32, "not
computed" as NaN, and ``plot`` in the torchmetrics convention."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple, Union

import torch
from torchmetrics import Metric


def upcast(*tensors: Optional[torch.Tensor]) -> Tuple[Optional[torch.Tensor], ...]:
    """Floating tensors narrower than float32 (float16, bfloat16) as float32; others as given.
    Third differences times fps^3 overflow float16, and sums of many terms lose all precision
    in bfloat16; the input's own rounding stays (it is the data)."""
    return tuple(t.float() if isinstance(t, torch.Tensor) and t.is_floating_point() and torch.finfo(t.dtype).bits < 32
                 else t for t in tensors)


def plot_scores(scores: Mapping[str, torch.Tensor], ax: Optional[Any] = None, title: str = "") -> Tuple[Any, Any]:
    """Horizontal bars of 0-100 scores by name into ``ax`` (a new figure when None).

    Returns:
        (figure, axes), as torchmetrics' ``Metric.plot``.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots() if ax is None else (ax.get_figure(), ax)
    names = list(scores)
    values = [float(scores[n]) for n in names]
    ax.barh(range(len(names)), values, color="steelblue")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("score (0-100, higher is better)")
    for y, value in enumerate(values):
        ax.text(min(value, 100.0), y, f" {value:.1f}", va="center", fontsize=8)
    if not names:
        ax.text(50, 0, "not computed", ha="center", va="center")
    ax.set_title(title)
    return fig, ax


class HumanScoreMetric(Metric):
    """Base of the six metric classes: ``plot(val=None, ax=None)`` draws the score (0-100)
    with the raw value and its unit (from :mod:`humanscore_torch.registry`)."""

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def set_dtype(self, dst_type: Union[str, torch.dtype]) -> "HumanScoreMetric":
        """Cast the floating states and buffers to ``dst_type``; integer ones (counts, the joint
        map's indices) stay integers (torchmetrics would cast them too, breaking indexing)."""
        self._dtype_convert = True
        out = self._apply(lambda x: x.type(dst_type) if x.is_floating_point() else x)
        out._dtype_convert = False
        return out

    def _mark_computed(self, out: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``out`` with ``computed`` (0-dim bool: the registry's count state is > 0) added and
        every floating value NaN when it is False: a metric that saw no valid data reports no
        number, never a silent 100 or 0."""
        from .. import registry

        computed = getattr(self, self._spec(registry).count_state) > 0
        nan = torch.tensor(float("nan"), device=computed.device)
        marked = {k: torch.where(computed, v, nan.to(v.dtype)) if v.is_floating_point() else v for k, v in out.items()}
        marked["computed"] = computed
        return marked

    def _spec(self, registry: Any) -> Any:
        return next(s for s in registry.METRICS if isinstance(self, s.metric_class))

    def plot(self, val: Optional[Mapping[str, torch.Tensor]] = None, ax: Optional[Any] = None) -> Tuple[Any, Any]:
        """Plot a :meth:`compute` result (computed now when ``val`` is None) into ``ax``.

        Returns:
            (figure, axes).
        """
        from .. import registry  # the registry imports this module's subclasses

        spec = self._spec(registry)
        values = self.compute() if val is None else val
        computed = bool(values["computed"])
        raw = f"raw {float(values['raw']):.4g} {spec.unit}" if computed else "not computed"
        return plot_scores({spec.display_name: values["score"]} if computed else {}, ax,
                           title=f"{spec.display_name}: {raw}")
