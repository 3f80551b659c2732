"""Straight-through estimators: a hard function forward, a simple stand-in
for its derivative backward (Bengio et al., 2013; the clipped form is
BinaryNet's, Hubara et al., 2016).

    import nthgrad as ng
    from nthgrad import hard, ste

    z = ng.tensor([-2.0, -0.3, 0.4, 0.9], requires_grad=True)
    y = ste.straight_through(hard.signum, z)     # [-1., 0., 0., 1.], backward: g
    y = ste.clipped(hard.signum, z, c=1.0)       # same forward, backward: g * (|z| <= 1)

The hard function must keep z's shape (see ``nthgrad.dab`` for functions that
change it). Its mask is a constant of the graph, so the second derivative
through an estimator is zero (a defined zero, not an error) and the
estimator composes with ``create_graph=True``.
"""
import math
import numbers

from . import _C
from .hard import _value_of

__all__ = ["straight_through", "clipped"]


def straight_through(hard, z, numpy=False):
    """Forward ``hard(z)``, backward the identity (dL/dz = dL/dy).

    hard: a function of a Tensor (any of ``nthgrad.hard``, or your own) returning a Tensor or an array of z's
    shape; with ``numpy=True`` a function of a NumPy array (a writable copy of z) returning one. z: a float32 or
    float64 tensor. The result has z's dtype and memory of its own.

        y = ste.straight_through(lambda t: t.round(), z)
    """
    return _C.straight_through(z, _value_of(hard, z, numpy, "ste.straight_through"))


def clipped(hard, z, c=1.0, numpy=False):
    """Forward ``hard(z)``, backward dL/dz = dL/dy * 1{|z| <= c} (BinaryNet's clipped straight-through estimator:
    no gradient where the input has left [-c, c]). c >= 0; arguments as ``straight_through``.

        y = ste.clipped(hard.signum, z, c=1.0)
    """
    if isinstance(c, bool) or not isinstance(c, numbers.Real):
        raise TypeError(f"ste.clipped: c must be a number >= 0, got {type(c).__name__}")
    if math.isnan(c) or c < 0:
        raise ValueError(f"ste.clipped: c must be a number >= 0, got {c!r}")
    return _C.straight_through(z, _value_of(hard, z, numpy, "ste.clipped"), float(c))
