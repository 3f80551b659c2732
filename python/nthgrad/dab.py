"""Differentiable approximation bridges (DAB; Ramapuram and Webb, "Improving
Discrete Latent Representations With Differentiable Approximation Bridges").

A DAB runs a hard, non-differentiable function h = hard(z) in the forward
pass and a small approximator network s = approximator(z) beside it. The
gradient reaching h flows to z as the vector-Jacobian product through the
approximator, dz = (ds/dz)^T g; the approximator learns to imitate the hard
function through the penalty gamma * sum over features of (s - h)^2.

    import nthgrad as ng
    import nthgrad.nn as nn
    from nthgrad import hard
    from nthgrad.dab import DAB

    dab = DAB(nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 16)), hard.signum, gamma=10.0)
    h = dab(z)                                   # hard.signum(z): values in {-1, 0, 1}
    loss = (task_loss(h) + dab.gamma * dab.loss()).mean()
    loss.backward()

The gradient flow is the authors' reference code's, exactly:

- the gradient reaching h reaches z through the approximator's
  vector-Jacobian product, and does not train the approximator;
- the approximator's parameters are trained by gamma * loss() only;
- loss() sends no gradient into z: its two paths (through s, and through h's
  bridge) cancel.

The bridge's backward is a nested backward pass over the approximator's
graph, recorded when ``create_graph=True``, so second and higher derivatives
through a DAB follow. Through the bridge, h has the derivatives of s at every
order: the derivatives of any f(h) at z0 are those of f(s(z) - s(z0) + h(z0)),
the approximator frozen in place of the hard function (tests/python/test_dab.py
checks them to third order against closed forms and finite differences). The
approximator's parameters get their mixed derivatives too (MAML through a DAB).
"""
import math
import numbers

from . import _C
from .hard import _value_of
from .nn.module import Module

__all__ = ["DAB"]


class DAB(Module):
    """A differentiable approximation bridge over ``hard``.

    approximator: a Module (or any differentiable function of a Tensor) mapping z to a tensor of hard(z)'s shape.
    hard: a function of a Tensor returning a Tensor or array (any of ``nthgrad.hard``, or your own); with
    ``numpy=True`` a function of a NumPy array returning one. gamma: the weight of the DAB penalty in your
    objective (the paper uses 10 for sorting), kept as ``self.gamma``.

    ``forward(z)`` returns hard(z), in the approximator's dtype, and keeps s = approximator(z) for ``loss()``.

        dab = DAB(nn.Linear(8, 8), hard.signum)
        h = dab(ng.random.randn(shape=(4, 8)))          # (4, 8), values in {-1, 0, 1}
        penalty = dab.gamma * dab.loss()         # (4,)
    """

    def __init__(self, approximator, hard, gamma=10.0, numpy=False):
        super().__init__()
        if not callable(approximator):
            raise TypeError(f"DAB: approximator must be a Module or a callable, got {type(approximator).__name__}")
        if not callable(hard):
            raise TypeError(f"DAB: hard must be a callable, got {type(hard).__name__}")
        if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not math.isfinite(gamma) or gamma < 0:
            raise ValueError(f"DAB: gamma must be a finite number >= 0, got {gamma!r}")
        self.approximator = approximator
        self.hard = hard
        self.gamma = float(gamma)
        self.numpy = bool(numpy)
        self._soft = None    # s of the last forward
        self._output = None  # the bridge's output of the last forward (h, with the DAB backward)

    def forward(self, z):
        soft = self.approximator(z)
        h = _value_of(self.hard, z, self.numpy, "DAB")
        if not isinstance(soft, _C.Tensor):
            raise TypeError(f"DAB: the approximator returned {type(soft).__name__}, not a Tensor")
        output = _C.dab_bridge(z, soft, h)
        self._soft, self._output = soft, output
        return output

    def loss(self):
        """Per sample, the sum over features of (s - h)^2 for the last forward only (a DAB called several times
        before the backward, e.g. over time steps, needs each call's loss collected after it): shape (B,) for
        outputs of shape (B, ...). Its gradient trains the approximator; it sends none into z (see the module's
        docstring)."""
        if self._soft is None:
            raise RuntimeError("DAB.loss: call the DAB on a batch first")
        if self._soft.ndim == 0:
            raise ValueError("DAB.loss: the outputs are 0-d; loss() needs a leading batch axis")
        d = self._soft - self._output
        features = math.prod(self._soft.shape[1:])  # explicit, so that an empty batch works
        return (d * d).reshape((self._soft.shape[0], features)).sum(1)

    def __getstate__(self):
        # The last forward's tensors are results of ops (deepcopy refuses those) and hold that batch's graph:
        # a copy (an EMA model, a best-model snapshot) starts without them.
        state = self.__dict__.copy()
        state["_soft"] = state["_output"] = None
        return state

    @property
    def soft(self):
        """s = approximator(z) of the last forward (None before the first)."""
        return self._soft

    def extra_repr(self):
        name = getattr(self.hard, "__qualname__", type(self.hard).__name__)
        return f"hard={name}, gamma={self.gamma}"
