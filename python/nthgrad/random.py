"""Random sources: nthgrad.Generator, the global generator and the samplers
of nnabla (rand, randn, randint, rand_binomial, rand_beta, rand_gamma), also
exported by nthgrad.functional.

Every sampler takes `seed`: -1 uses the global generator (and advances it),
an int >= 0 a fresh generator with that seed (so the same call gives the
same numbers), an ``nthgrad.Generator`` that generator (advanced). The
numbers come from Philox4x32-10, element i of a draw from counter
offset + i, so they do not depend on the platform or on the thread count.
The float samplers take a keyword-only ``dtype`` (float32 by default, or
float64).
"""
import numbers

from . import _C
from ._C import Generator
from ._tensor import _resolve_dtype, _shape_arg

__all__ = ["Generator", "manual_seed", "default_generator", "rand", "randn", "randint", "rand_binomial",
           "rand_beta", "rand_gamma"]


def manual_seed(seed):
    """Seeds the global generator (the one seed=-1 uses) and rewinds it to offset 0."""
    _C.manual_seed(seed)


def default_generator():
    """The global generator object (shared: drawing with seed=-1 advances it)."""
    return _C.default_generator()


def _dtype(dtype):
    return _resolve_dtype("float32" if dtype is None else dtype)


def _shape(shape):
    return _shape_arg((shape,))


def rand(low=0, high=1, shape=[], seed=-1, *, dtype="float32"):
    """Uniform samples on [low, high) (low < high): a multiple of 2**-24
    (float32) or 2**-53 (float64) of the width, added to low."""
    return _C.rand(low, high, _shape(shape), seed, dtype=_dtype(dtype))


def randn(mu=0, sigma=1, shape=[], seed=-1, *, dtype="float32"):
    """Normal samples with mean mu and standard deviation sigma >= 0 (Box-Muller)."""
    return _C.randn(mu, sigma, _shape(shape), seed, dtype=_dtype(dtype))


def randint(low=0, high=1, shape=[], seed=-1):
    """int64 samples, uniform on [low, high) (low < high), without modulo bias."""
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"randint: {name} must be an int, got {v!r}")
        if not -2**63 <= int(v) < 2**63:
            raise ValueError(f"randint: {name}={v} does not fit in int64")
    return _C.randint(int(low), int(high), _shape(shape), seed)


def rand_binomial(n=1, p=0.5, shape=[], seed=-1, *, dtype="float32"):
    """Binomial(n, p) counts as floats (as nnabla): n >= 0, 0 <= p <= 1.
    Inversion for n*min(p, 1-p) < 10, Hormann's BTRS rejection above."""
    return _C.rand_binomial(n, p, _shape(shape), seed, dtype=_dtype(dtype))


def rand_beta(alpha=0.5, beta=0.5, shape=[], seed=-1, *, dtype="float32"):
    """Beta(alpha, beta) samples (alpha, beta > 0), as X / (X + Y) of two gamma draws."""
    return _C.rand_beta(alpha, beta, _shape(shape), seed, dtype=_dtype(dtype))


def rand_gamma(k=0.5, theta=1, shape=[], seed=-1, *, dtype="float32"):
    """Gamma samples of shape k > 0 and scale theta > 0 (mean k*theta;
    Marsaglia-Tsang, with the U**(1/k) boost for k < 1)."""
    return _C.rand_gamma(k, theta, _shape(shape), seed, dtype=_dtype(dtype))
