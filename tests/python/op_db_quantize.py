"""Op-table rows for the quantize family (issue 8); see op_db.py for OpSpec.

The quantizers' gradients are straight-through estimators, not derivatives,
so their rows have order=0 (no finite differences; test_quantize.py pins the
masks); dequantize_linear and clip_grad_by_value (inside its bounds) are
checked by finite differences."""
import numpy as np

import nthgrad as ng
import nthgrad.functional as F
from op_db import OpSpec, t, ti, uniform, avoiding, UNARY_SHAPES, BAD_UNARY  # noqa: F401


def round_half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def prune_ref(rate):
    def ref(x):
        if x.size == 0:
            return x.copy()
        a = np.sort(np.abs(x).ravel())
        # nnabla: the index (size - 1) * rate is a float32 product (rate is a float attribute)
        threshold = a[int(np.float32(x.size - 1) * np.float32(rate))] + (1.0 if rate == 1.0 else 0.0)
        return np.where(np.abs(x) < threshold, 0.0, x)
    return ref


def fixed_point_ref(sign=True, n=8, delta=0.0625):
    def ref(x):
        hi = (2.0 ** (n - 1 if sign else n) - 1) * delta
        lo = -hi if sign else 0.0
        q = np.sign(x) * np.floor(np.abs(x) / delta + 0.5) * delta
        return np.where(x > hi, hi, np.where(x < lo, lo, q))
    return ref


def pow2_ref(sign=True, with_zero=True, n=8, m=1):
    def ref(x):
        bits = n - int(sign) - int(with_zero)
        p_max, p_min = 2.0 ** m, 2.0 ** (m - (2 ** bits - 1))
        ax = np.abs(x)
        with np.errstate(divide="ignore"):
            q = 2.0 ** round_half_away(np.log2(ax))
        q = np.where(q > p_max, p_max, np.where(q < p_min, np.where(with_zero & (ax < p_min * 2 ** -0.5), 0.0, p_min),
                                                q))
        if sign:
            return np.where(x < 0, -q, q)
        return np.where(x < 0, 0.0 if with_zero else p_min, q)
    return ref


def quantize_linear_ref(round_mode="HALF_AWAY_FROM_ZERO", narrow_range=False, dtype="int8"):
    rnd = np.round if round_mode == "HALF_TO_EVEN" else round_half_away  # np.round: half to even
    lo, hi = (-128, 127) if dtype == "int8" else (0, 255)
    lo += int(narrow_range)
    return lambda x, s, z: np.clip(rnd(x / s) + np.clip(rnd(z), lo, hi), lo, hi)


def min_max_ref(qr_min, qr_max, ql_min, ql_max):
    def ref(x):
        s = (qr_max - qr_min) / (ql_max - ql_min)
        zp = ql_min - qr_min / s
        zp = np.where(zp <= ql_min, ql_min, np.where(zp >= ql_max, ql_max, round_half_away(zp)))
        lo, hi = (ql_min - zp) * s, (ql_max - zp) * s
        return round_half_away((np.clip(x, lo, hi) - lo) / s) * s + lo
    return ref


def like(x, value):
    """A constant of x's dtype."""
    return ng.tensor(np.asarray(value, dtype=np.float64), dtype=x.dtype)


# per-channel ranges for (3, 4) inputs
MM_MIN = np.array([[-1.0, -0.6, 0.2, -3.0]])  # zero points 6, 8.18 -> 8, 0, 15: no .5 ties
MM_MAX = np.array([[1.5, 0.5, 2.0, -1.0]])


def min_max_fn(qr_min, qr_max, ql_min=0.0, ql_max=255.0, **kw):
    def fn(x):
        shape = (1,) * x.ndim if np.ndim(qr_min) == 0 else np.shape(qr_min)
        c = lambda v: like(x, np.broadcast_to(v, shape))  # noqa: E731
        return F.min_max_quantize(x, c(qr_min), c(qr_max), c(ql_min), c(ql_max), **kw)
    return fn


def ql_fn(**kw):
    """quantize_linear with scale and zero_point constants (they have no gradient)."""
    return lambda x, s, z: F.quantize_linear(x, s.detach(), z.detach(), **kw)


QL_SAMPLES = [((3, 4), (1, 4), (1, 4)), ((2, 3), (1, 1), (1, 1)), ((5,), (5,), (5,))]
QL_DOMAINS = (uniform(-20, 20), uniform(0.05, 0.5), uniform(-3, 3))
STE_DOMAIN = avoiding([-1.0, 0.0, 1.0], -2.0, 2.0, margin=0.05)

ROWS = [
    OpSpec("binary_sigmoid", F.binary_sigmoid, lambda x: np.where(x > 0, 1.0, 0.0), UNARY_SHAPES, (STE_DOMAIN,),
           order=0, bad=BAD_UNARY(F.binary_sigmoid)),
    OpSpec("binary_tanh", F.binary_tanh, lambda x: np.where(x > 0, 1.0, -1.0), UNARY_SHAPES, (STE_DOMAIN,),
           order=0, bad=BAD_UNARY(F.binary_tanh)),
    OpSpec("prune", F.prune, prune_ref(0.9), UNARY_SHAPES, order=0,
           bad=BAD_UNARY(F.prune) + [(lambda: F.prune(t((2, 3)), 1.5), ValueError,
                                      "prune: rate must be in [0, 1], got 1.5")]),
    OpSpec("prune", lambda x: F.prune(x, rate=0.5), prune_ref(0.5), [((3, 4),), ((7,),)], order=0),
    OpSpec("prune", lambda x: F.prune(x, rate=1.0), prune_ref(1.0), [((3, 4),)], order=0),
    OpSpec("quantize_linear", ql_fn(), quantize_linear_ref(), QL_SAMPLES, QL_DOMAINS, order=0,
           bad=[(lambda: F.quantize_linear(t((2, 3)), t((3,)), t((1, 1))), ValueError,
                 "quantize_linear: scale of shape (3,) must have x's rank"),
                (lambda: F.quantize_linear(t((2, 3)), t((1, 1)), t((2, 2))), ValueError,
                 "zero_point of shape (2, 2)"),
                (lambda: F.quantize_linear(t((2,)), t((1,)), t((1,)), round_mode="HALF_UP"), ValueError,
                 "round_mode must be 'HALF_AWAY_FROM_ZERO' or 'HALF_TO_EVEN', got 'HALF_UP'"),
                (lambda: F.quantize_linear(t((2,)), t((1,)), t((1,)), dtype=np.int16), ValueError,
                 "dtype must be int8 or uint8 (numpy.int8, numpy.uint8), got int16"),
                (lambda: F.quantize_linear(t((2,)), t((1,)), t((1,)), dtype="float32"), ValueError, "got float32"),
                (lambda: F.quantize_linear(t((2,)), t((1,)), t((1,)), dtype=5), TypeError, "dtype must be"),
                (lambda: F.quantize_linear(ti((2,)), t((1,)), t((1,))), TypeError, "int64")]),
    OpSpec("quantize_linear", lambda x: F.quantize_linear(x, like(x, [[0.1, 0.2, 0.3]]), like(x, [[1.0, -2.0, 0.4]])),
           lambda x: quantize_linear_ref()(x, np.array([[0.1, 0.2, 0.3]]), np.array([[1.0, -2.0, 0.4]])),
           [((4, 3),), ((0, 3),)], (uniform(-20, 20),), order=0),
    OpSpec("quantize_linear", ql_fn(round_mode="HALF_TO_EVEN", narrow_range=True, dtype="uint8"),
           quantize_linear_ref("HALF_TO_EVEN", True, "uint8"), QL_SAMPLES[:2],
           (uniform(-20, 20), uniform(0.05, 0.5), uniform(100, 150)), order=0),
    OpSpec("dequantize_linear", lambda x: F.dequantize_linear(x, like(x, [[0.5, 2.0, 0.1, 1.0]]),
                                                              like(x, [[3.0, -2.0, 0.0, 10.0]])),
           lambda x: (x - np.array([[3.0, -2.0, 0.0, 10.0]])) * np.array([[0.5, 2.0, 0.1, 1.0]]),
           [((3, 4),), ((1, 4),), ((0, 4),)], (uniform(-20, 20),), order=2,
           bad=[(lambda: F.dequantize_linear(t((2, 3)), t((2, 3, 1)), t((1, 1))), ValueError,
                 "dequantize_linear: scale of shape (2, 3, 1) must have x's rank"),
                (lambda: F.dequantize_linear(t((2, 3)), t((1, 1)), ti((1, 1))), TypeError, "zero_point")]),
    OpSpec("fixed_point_quantize", F.fixed_point_quantize, fixed_point_ref(), UNARY_SHAPES, (uniform(-10, 10),),
           order=0, bad=BAD_UNARY(F.fixed_point_quantize) + [
               (lambda: F.fixed_point_quantize(t((2,)), n=1), ValueError, "fixed_point_quantize: n must be in [2, 64]"),
               (lambda: F.fixed_point_quantize(t((2,)), delta=0.0), ValueError, "delta must be positive")]),
    OpSpec("fixed_point_quantize", lambda x: F.fixed_point_quantize(x, sign=False, n=4, delta=0.25),
           fixed_point_ref(False, 4, 0.25), [((3, 4),)], (uniform(-5, 5),), order=0),
    OpSpec("pow2_quantize", F.pow2_quantize, pow2_ref(), UNARY_SHAPES, (uniform(-3, 3),), order=0,
           bad=BAD_UNARY(F.pow2_quantize) + [
               (lambda: F.pow2_quantize(t((2,)), n=2), ValueError, "pow2_quantize: n must leave at least one bit")]),
    OpSpec("pow2_quantize", lambda x: F.pow2_quantize(x, n=3, m=1), pow2_ref(n=3, m=1), [((4, 5),)],
           (uniform(-4, 4),), order=0),
    OpSpec("pow2_quantize", lambda x: F.pow2_quantize(x, sign=False, with_zero=False, n=3, m=0),
           pow2_ref(False, False, 3, 0), [((4, 5),)], (uniform(-2, 2),), order=0),
    OpSpec("min_max_quantize", min_max_fn(-1.0, 1.5), min_max_ref(-1.0, 1.5, 0.0, 255.0),
           [((3, 4),), ((5,),), ((0, 2),)], (uniform(-2, 2),), order=0,
           bad=[(lambda: F.min_max_quantize(t((2, 3)), t((1, 3)), t((1, 3)), t((1, 1)), t((1, 3))), ValueError,
                 "min_max_quantize: qr_min has shape (1, 3) but ql_min has shape (1, 1)"),
                (lambda: F.min_max_quantize(t((2, 3)), t((1,)), t((1,)), t((1,)), t((1,))), ValueError,
                 "qr_min of shape (1,) must have x's rank"),
                (lambda: F.min_max_quantize(t((2,)), t((1,), ng.float64), t((1,)), t((1,)), t((1,))), TypeError,
                 "qr_min is float64 but x is float32")]),
    OpSpec("min_max_quantize", min_max_fn(MM_MIN, MM_MAX, 0.0, 15.0), min_max_ref(MM_MIN, MM_MAX, 0.0, 15.0),
           [((3, 4),)], (uniform(-4, 4),), order=0),
    # inside its bounds the clip is the identity, so finite differences check the pass-through
    OpSpec("clip_grad_by_value", lambda x: F.clip_grad_by_value(x, like(x, -2.0), like(x, 2.0)), lambda x: x,
           UNARY_SHAPES, order=2,
           bad=[(lambda: F.clip_grad_by_value(t((2, 3)), t((5,)), t(())), ValueError, "clip_grad_by_value"),
                (lambda: F.clip_grad_by_value(t((2,)), t((2, 2)), t(())), ValueError,
                 "min of shape (2, 2) must broadcast to x's shape (2,)"),
                (lambda: F.clip_grad_by_value(ti((2,)), t(()), t(())), TypeError, "int64")]),
    OpSpec("clip_grad_by_norm", lambda x: F.clip_grad_by_norm(x, 0.5, axes=1), lambda x: x,
           [((3, 4),), ((2, 3, 4),)], order=0,
           bad=[(lambda: F.clip_grad_by_norm(t((2,)), 0.0), ValueError,
                 "clip_grad_by_norm: clip_norm must be positive"),
                (lambda: F.clip_grad_by_norm(t((2,)), 1.0, axes=3), IndexError, "clip_grad_by_norm: axis 3"),
                (lambda: F.clip_grad_by_norm(ti((2,))), TypeError, "int64")]),
    OpSpec("clip_grad_by_norm", F.clip_grad_by_norm, lambda x: x, UNARY_SHAPES[:2], order=0),
]
