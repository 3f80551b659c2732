"""Op-table rows for the random family (issue 7); see op_db.py for OpSpec.

The references recompute the draws with an independent NumPy Philox4x32-10
(below), so the rows pin the exact numbers of a fixed seed: element i of a
draw with a fresh generator reads counter block (i, 0) under the key `seed`.
Samplers whose transform goes through rejection (gamma, beta, large-n
binomial) get rows that check shape, dtype and support; their distributions
are tested in test_random.py.
"""
import numpy as np

import nthgrad as ng
import nthgrad.functional as F
from op_db import OpSpec, t, ti, uniform, away_from_zero  # noqa: F401

_MASK32 = np.uint64(0xFFFFFFFF)


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on arrays of uint32 values held in uint64 (Salmon et al., SC'11)."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in (c0, c1, c2, c3))
    k0, k1 = np.uint64(k0), np.uint64(k1)
    for r in range(10):
        if r:
            k0 = (k0 + np.uint64(0x9E3779B9)) & _MASK32
            k1 = (k1 + np.uint64(0xBB67AE85)) & _MASK32
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        c0, c1, c2, c3 = (p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & _MASK32, (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & _MASK32
    return c0, c1, c2, c3


def words(seed, n, offset=0, block=0):
    """The 4 words of counter block (offset + i, block) for i < n, under the key `seed`."""
    i = np.arange(n, dtype=np.uint64) + np.uint64(offset)
    b = np.full(n, block, dtype=np.uint64)
    return philox4x32_10(i & _MASK32, i >> np.uint64(32), b & _MASK32, b >> np.uint64(32),
                         seed & 0xFFFFFFFF, seed >> 32)


def uniform53(hi, lo):
    """[0, 1) from two words, a multiple of 2**-53."""
    return (((hi << np.uint64(32)) | lo) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def ref_rand(low, high, shape, seed, dtype=np.float32):
    n = int(np.prod(shape))
    w = words(seed, n)
    if dtype == np.float32:
        u = (w[0] >> np.uint64(8)).astype(np.float64) * 2.0 ** -24
    else:
        u = uniform53(w[0], w[1])
    return (low + (high - low) * u).astype(dtype).reshape(shape)


def ref_randn(mu, sigma, shape, seed):
    n = int(np.prod(shape))
    w = words(seed, n)
    u1 = uniform53(w[0], w[1]) + 2.0 ** -53  # (0, 1]
    u2 = uniform53(w[2], w[3])
    return (mu + sigma * np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)).reshape(shape)


def ref_randint(low, high, shape, seed):
    """Lemire's multiply-and-reject with 64-bit words, in Python integers."""
    n = int(np.prod(shape))
    rng = high - low
    out = []
    for i in range(n):
        block, pos, buf = 0, 4, []

        def next64():
            nonlocal block, pos, buf
            vals = []
            for _ in range(2):
                if pos == 4:
                    buf = [int(v[0]) for v in words(seed, 1, offset=i, block=block)]
                    block, pos = block + 1, 0
                vals.append(buf[pos])
                pos += 1
            return (vals[0] << 32) | vals[1]

        m = next64() * rng
        if m % 2 ** 64 < rng:
            threshold = (2 ** 64 - rng) % rng
            while m % 2 ** 64 < threshold:
                m = next64() * rng
        out.append(low + (m >> 64))
    return np.array(out, dtype=np.int64).reshape(shape)


def ref_dropout_mask(shape, p, seed):
    n = int(np.prod(shape))
    w = words(seed, n)
    return (uniform53(w[0], w[1]) >= p).astype(np.float64).reshape(shape)


def ref_choice_index(w, draws, replace, seed):
    """Indices of random_choice for a fresh generator (w: (rows, n))."""
    rows, n = w.shape
    if replace:
        wd = words(seed, rows * draws)
        u = uniform53(wd[0], wd[1]).reshape(rows, draws)
        idx = np.empty((rows, draws), dtype=np.int64)
        for r in range(rows):
            cum = np.cumsum(w[r])
            idx[r] = np.minimum(np.searchsorted(cum, u[r] * cum[-1], side="right"), np.flatnonzero(w[r] > 0)[-1])
        return idx
    wd = words(seed, rows * n)
    clock = -np.log(uniform53(wd[0], wd[1]) + 2.0 ** -53).reshape(rows, n)
    with np.errstate(divide="ignore"):
        arrival = np.where(w > 0, clock / np.where(w > 0, w, 1), np.inf)
    return np.argsort(arrival, axis=1, kind="stable")[:, :draws]


def _choice_ref(w, shape, replace, seed):
    def ref(x):
        lead = x.shape[:-1]
        draws = int(np.prod(shape)) if shape else 1
        rows = int(np.prod(lead))
        ww = np.broadcast_to(w, x.shape).reshape(rows, x.shape[-1])
        idx = ref_choice_index(ww, draws, replace, seed) if rows else np.zeros((0, draws), dtype=np.int64)
        y = np.take_along_axis(x.reshape(rows, x.shape[-1]), idx, axis=1)
        return y.reshape(lead + (tuple(shape) if shape else (1,)))
    return ref


def _choice_fn(w, shape, replace, seed):
    return lambda x: F.random_choice(x, ng.tensor(np.broadcast_to(w, x.shape), dtype=x.dtype), shape=shape,
                                     replace=replace, seed=seed)


def _support(sampler, shape, dtype, lo, hi, integral=False):
    """A row function: draws, checks shape and dtype, returns 1 where the value lies in [lo, hi]
    (and is integral if asked), so that the reference is all ones."""
    def fn():
        y = sampler()
        assert tuple(y.shape) == tuple(shape), (y.shape, shape)
        assert y.dtype == dtype, y.dtype
        a = np.asarray(y, dtype=np.float64)
        ok = (a >= lo) & (a <= hi) & np.isfinite(a)
        if integral:
            ok &= a == np.round(a)
        return ng.tensor(ok.astype(np.float64))
    return fn


_W = np.array([0.5, 2.0, 0.0, 1.5, 1.0])  # one zero weight: never drawn
_DROP_SHAPES = [((3, 4),), ((),), ((1,),), ((2, 1, 3),), ((0, 3),)]
_BAD_SEED = [(lambda: F.rand(seed=-2), ValueError, "seed"),
             (lambda: F.rand(seed="x"), TypeError, "seed"),
             (lambda: F.rand(seed=1.5), TypeError, "seed")]

ROWS = [
    # dropout: the mask is fixed by the seed, so gradients of every order are those of x * mask / (1 - p)
    OpSpec("dropout", lambda x: F.dropout(x, 0.3, seed=7),
           lambda x: x * ref_dropout_mask(x.shape, 0.3, 7) / 0.7, _DROP_SHAPES, order=3,
           bad=[(lambda: F.dropout(t((2, 3)), 1.5), ValueError, "p must lie in [0, 1]"),
                (lambda: F.dropout(t((2, 3)), -0.1), ValueError, "(2, 3)"),
                (lambda: F.dropout(t((2, 3)), float("nan")), ValueError, "p must lie in [0, 1]"),
                (lambda: F.dropout(ti((2,)), 0.5), TypeError, "int64"),
                (lambda: F.dropout(t((2,)), 0.5, seed=-3), ValueError, "seed"),
                (lambda: F.dropout(None, 0.5), (TypeError, ValueError), "")]),
    OpSpec("dropout", lambda x: F.dropout(x, 0.0, seed=7), lambda x: x, [((3, 4),)], order=2),
    OpSpec("dropout", lambda x: F.dropout(x, 1.0, seed=7), lambda x: np.zeros_like(x), [((3, 4),)], order=2),
    # the samplers: exact values against the NumPy Philox for fixed seeds
    OpSpec("rand", lambda: F.rand(-1, 3, shape=[4, 5], seed=11), lambda: ref_rand(-1, 3, (4, 5), 11), [()],
           order=0, differentiable=False, output_follows_input_dtype=False,
           bad=[(lambda: F.rand(1, 1), ValueError, "low must be less than high"),
                (lambda: F.rand(shape=[2, -1]), ValueError, "negative"),
                (lambda: F.rand(0, float("inf")), ValueError, "high"),
                (lambda: F.rand(-1e300, 1e300), ValueError, "float32 range"),
                (lambda: F.rand(dtype="int64"), TypeError, "dtype")] + _BAD_SEED),
    OpSpec("rand", lambda: F.rand(0.5, 2, shape=[7], seed=2 ** 40 + 3, dtype=ng.float64),
           lambda: ref_rand(0.5, 2, (7,), 2 ** 40 + 3, np.float64), [()], order=0, differentiable=False,
           output_follows_input_dtype=False),
    OpSpec("rand", lambda: F.rand(shape=[0, 3], seed=1), lambda: np.zeros((0, 3)), [()], order=0,
           differentiable=False, output_follows_input_dtype=False),
    OpSpec("randn", lambda: F.randn(1.5, 2.0, shape=[3, 4], seed=5, dtype="float64"),
           lambda: ref_randn(1.5, 2.0, (3, 4), 5), [()], order=0, differentiable=False,
           output_follows_input_dtype=False, rtol=1e-12,
           bad=[(lambda: F.randn(0, -1), ValueError, "sigma"),
                (lambda: F.randn(float("nan")), ValueError, "mu")]),
    OpSpec("randn", lambda: F.randn(shape=[2, 3], seed=5), lambda: ref_randn(0, 1, (2, 3), 5).astype(np.float32),
           [()], order=0, differentiable=False, output_follows_input_dtype=False),
    OpSpec("randint", lambda: F.randint(-3, 1000, shape=[3, 5], seed=3), lambda: ref_randint(-3, 1000, (3, 5), 3),
           [()], order=0, differentiable=False, output_follows_input_dtype=False,
           bad=[(lambda: F.randint(2, 2), ValueError, "low must be less than high"),
                (lambda: F.randint(0, 5, shape=[-1]), ValueError, "negative")]),
    OpSpec("randint", lambda: F.randint(-2 ** 62, 2 ** 62 + 12345, shape=[6], seed=9),
           lambda: ref_randint(-2 ** 62, 2 ** 62 + 12345, (6,), 9), [()], order=0, differentiable=False,
           output_follows_input_dtype=False),
    OpSpec("randint", lambda: F.randint(shape=[4], seed=9), lambda: np.zeros(4, dtype=np.int64), [()], order=0,
           differentiable=False, output_follows_input_dtype=False),
    # rejection samplers: shape, dtype, support (distributions in test_random.py)
    OpSpec("rand_binomial", _support(lambda: F.rand_binomial(7, 0.3, shape=[50], seed=1), (50,), ng.float32,
                                     0, 7, integral=True),
           lambda: np.ones(50), [()], order=0, differentiable=False, output_follows_input_dtype=False,
           bad=[(lambda: F.rand_binomial(5, 1.5), ValueError, "p must lie in [0, 1]"),
                (lambda: F.rand_binomial(-1, 0.5), ValueError, "n must be >= 0"),
                (lambda: F.rand_binomial(2 ** 60, 0.5), ValueError, "2**53"),
                (lambda: F.rand_binomial(5, float("nan")), ValueError, "p")]),
    OpSpec("rand_binomial", _support(lambda: F.rand_binomial(1000, 0.4, shape=[4, 25], seed=2, dtype="float64"),
                                     (4, 25), ng.float64, 0, 1000, integral=True),
           lambda: np.ones((4, 25)), [()], order=0, differentiable=False, output_follows_input_dtype=False),
    OpSpec("rand_beta", _support(lambda: F.rand_beta(0.5, 2.0, shape=[60], seed=1), (60,), ng.float32, 0, 1),
           lambda: np.ones(60), [()], order=0, differentiable=False, output_follows_input_dtype=False,
           bad=[(lambda: F.rand_beta(0, 1), ValueError, "alpha must be positive"),
                (lambda: F.rand_beta(1, -1), ValueError, "beta must be positive")]),
    OpSpec("rand_gamma", _support(lambda: F.rand_gamma(0.3, 2.0, shape=[3, 20], seed=1, dtype=ng.float64), (3, 20),
                                  ng.float64, 0, np.inf),
           lambda: np.ones((3, 20)), [()], order=0, differentiable=False, output_follows_input_dtype=False,
           bad=[(lambda: F.rand_gamma(0, 1), ValueError, "k must be positive"),
                (lambda: F.rand_gamma(1, 0), ValueError, "theta must be positive")]),
    # random_choice: forward against the NumPy draw; gradients of x by finite differences (w fixed)
    OpSpec("random_choice", _choice_fn(_W, [4, 2], True, 5), _choice_ref(_W, [4, 2], True, 5),
           [((5,),), ((3, 5),), ((2, 1, 5),), ((0, 5),)], order=2,
           bad=[(lambda: F.random_choice(t((2, 3)), t((2, 3)), shape=[4], replace=False), ValueError,
                 "without replacement"),
                (lambda: F.random_choice(t((3,)), ng.tensor([1.0, -1.0, 1.0])), ValueError, "non-negative"),
                (lambda: F.random_choice(t((3,)), ng.tensor([0.0, 0.0, 0.0])), ValueError, "no positive weight"),
                (lambda: F.random_choice(t((2, 3)), t((3, 2))), ValueError, "(2, 3)"),
                (lambda: F.random_choice(ti((3,)), t((3,))), TypeError, "int64"),
                (lambda: F.random_choice(t(()), t(())), ValueError, "at least one axis")]),
    OpSpec("random_choice", _choice_fn(_W, [], True, 8), _choice_ref(_W, [], True, 8), [((2, 5),)], order=2),
    OpSpec("random_choice", _choice_fn(_W, [3], False, 4), _choice_ref(_W, [3], False, 4), [((5,),), ((4, 5),)],
           order=2, bad=[(lambda: F.random_choice(t((5,)), ng.tensor(_W), shape=[5], replace=False), ValueError,
                          "only 4 positive")]),
]
