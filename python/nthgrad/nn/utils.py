"""Gradient clipping, as ``torch.nn.utils`` (also reachable as
``nthgrad.optim.clip_grad_norm_`` / ``clip_grad_value_``).

    loss.backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    opt.step()
"""
import math

import numpy as np

from .._C import Tensor, DType
from ..autograd import no_grad

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _with_grads(fn, parameters):
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameter {i} is {type(p).__name__}, not an nthgrad Tensor")
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scales the gradients of ``parameters`` so that their global norm (the
    ``norm_type``-norm of all gradient entries together; ``float('inf')``:
    the largest magnitude) is at most ``max_norm``: every ``p.grad`` becomes
    ``p.grad * min(1, max_norm / (total + 1e-6))``, as torch's. Returns the
    total norm before clipping, a 0-d tensor (float64 if any gradient is).
    ``error_if_nonfinite``: a NaN or infinite total is a RuntimeError.

        total = clip_grad_norm_(model.parameters(), 1.0)     # -> tensor(3.2)
    """
    from .._tensor import tensor
    from .. import functional as F
    params = _with_grads("clip_grad_norm_", parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    if not (norm_type >= 1 or norm_type == math.inf):
        raise ValueError(f"clip_grad_norm_: norm_type must be >= 1 or inf, got {norm_type}")
    dtype = DType.float64 if any(p.grad.dtype == DType.float64 for p in params) else DType.float32
    if not params:
        return tensor(0.0, dtype=dtype)
    with no_grad():
        if norm_type == math.inf:
            norms = np.array([F.max(F.abs(p.grad)).item() if p.grad.size else 0.0 for p in params])
            total = float(np.max(norms))  # np.max, unlike max(), is NaN whatever the NaN's position
        else:
            norms = np.array([F.norm(p.grad, p=norm_type).item() for p in params])  # NaN in, NaN out
            total = float(np.sum(norms ** norm_type) ** (1.0 / norm_type)) if np.all(np.isfinite(norms)) else \
                float(np.sum(norms))  # NaN or inf stays NaN or inf
        if error_if_nonfinite and not math.isfinite(total):
            raise RuntimeError(f"clip_grad_norm_: the total norm of the gradients is {total}; pass "
                               "error_if_nonfinite=False to scale them anyway")
        coef = max_norm / (total + 1e-6)  # NaN for a NaN total: every gradient becomes NaN, as torch's
        if coef < 1.0 or math.isnan(coef):
            for p in params:
                p.grad = p.grad * coef
    return tensor(total, dtype=dtype)


def clip_grad_value_(parameters, clip_value):
    """Clamps every gradient entry of ``parameters`` to
    ``[-clip_value, clip_value]`` (each ``p.grad`` keeps its shape).

        clip_grad_value_(model.parameters(), 0.5)
    """
    from .. import functional as F
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    with no_grad():
        for p in _with_grads("clip_grad_value_", parameters):
            p.grad = F.clip_by_value(p.grad, -clip_value, clip_value)
