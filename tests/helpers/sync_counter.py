"""A CPU-side counter of host synchronisations: wraps every tensor operation that needs the
data on the host (``.item()``, ``.tolist()``, ``bool``/``int``/``float`` of a tensor,
``nonzero``, ``unique``, ``repeat_interleave`` without an output size, boolean-mask indexing)."""

from __future__ import annotations

import contextlib
from collections import Counter

import torch

_METHODS = ("item", "tolist", "__bool__", "__int__", "__float__", "nonzero", "unique", "unique_consecutive")
_FUNCTIONS = ("nonzero", "unique", "unique_consecutive", "masked_select")


def _is_bool_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in items)


@contextlib.contextmanager
def count_host_syncs():
    """Counter of the operations that synchronise with the host, by name, while active."""
    counts: Counter = Counter()
    saved = []

    def wrap(owner, name, needs_sync=lambda *a, **k: True):
        original = getattr(owner, name)
        saved.append((owner, name, original))

        def counted(*args, **kwargs):
            if needs_sync(*args, **kwargs):
                counts[name] += 1
            return original(*args, **kwargs)
        setattr(owner, name, counted)

    for name in _METHODS:
        wrap(torch.Tensor, name)
    for name in _FUNCTIONS:
        wrap(torch, name)
    wrap(torch, "repeat_interleave", lambda x, repeats=None, *a, **k: "output_size" not in k and (
        repeats is None or isinstance(repeats, torch.Tensor)))
    wrap(torch.Tensor, "__getitem__", lambda self, index: _is_bool_index(index))
    try:
        yield counts
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)
