"""The op table: one OpSpec per op of nthgrad.functional. The generic tests
in test_op_table.py sweep it (forward vs NumPy, finite-difference gradients
of order 1..`order` in float64, float32 vs float64, empty/size-1/broadcast
shapes, bad input). Adding an op = adding a row here.
"""
import math
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

import nthgrad as ng
import nthgrad.functional as F


# Input domains: each maps (rng, shape) to an array (float64 unless stated).
def uniform(lo=-2.0, hi=2.0):
    return lambda rng, shape: rng.uniform(lo, hi, size=shape)


def away_from_zero(lo=0.2, hi=2.0):
    """|x| in [lo, hi] with random signs: keeps kinks (relu, abs) out of finite differences."""
    return lambda rng, shape: rng.uniform(lo, hi, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def avoiding(kinks, lo, hi, margin=0.1):
    """Uniform on [lo, hi] with every point within `margin` of a kink moved away from it."""
    def sample(rng, shape):
        x = rng.uniform(lo, hi, size=shape)
        for k in kinks:
            near = np.abs(x - k) < margin
            x = np.where(near, k + np.where(x >= k, margin, -margin), x)
        return x
    return sample


def choice(values, dtype=np.float64):
    """Entries drawn from `values` (ties and zeros on purpose: comparisons, logical ops)."""
    return lambda rng, shape: rng.choice(np.asarray(values, dtype=dtype), size=shape)


def booleans():
    return lambda rng, shape: rng.integers(0, 2, size=shape).astype(bool)


@dataclass
class OpSpec:
    name: str                       # the nnabla name, as in F and OPS.md
    fn: Callable                    # takes nthgrad tensors
    ref: Callable                   # takes NumPy arrays
    samples: Sequence[Tuple]        # per sample: one shape per input
    domain: Sequence[Callable] = (uniform(),)  # per input (the last one repeats)
    order: int = 2                  # finite-difference orders checked (3 where smooth)
    differentiable: bool = True     # False: the output never requires grad
    rtol: float = 1e-7              # float64 forward tolerance
    f32_rtol: float = 2e-5          # float32 vs float64 tolerance (forward and gradient)
    grad_rtol: float = 1e-5
    bad: List[Tuple[Callable, type, str]] = field(default_factory=list)  # (call, exception, text in message)
    output_follows_input_dtype: bool = True  # False for ops without float inputs (constant, arange)

    def arrays(self, sample, seed=0):
        rng = np.random.default_rng(seed)
        return [self.domain[min(i, len(self.domain) - 1)](rng, shape) for i, shape in enumerate(sample)]


def t(shape, dtype=ng.float32, value=1.0):
    return ng.full(shape, value, dtype)


def ti(shape):
    return ng.tensor(np.ones(shape, dtype=np.int64))


UNARY_SHAPES = [((3, 4),), ((),), ((1,),), ((2, 1, 3),), ((0, 3),)]
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (2, 3)), ((1,), (1,)), ((0, 3), (3,))]
AXIS_SHAPES = [((3, 4),), ((2, 3, 4),), ((1, 5),), ((2, 0, 3),)]  # for ops along / over axis 1
SCALAR_VAL = 1.7

BAD_BINARY = lambda f: [  # noqa: E731
    (lambda: f(t((2, 3)), t((4,))), ValueError, "(2, 3)"),
    (lambda: f(ti((2,)), ti((2,))), TypeError, "int64"),
    (lambda: f(t((2,)), None), (TypeError, ValueError), ""),
]
BAD_UNARY = lambda f: [(lambda: f(ti((2,))), TypeError, "int64")]  # noqa: E731
BAD_COMPARE = lambda f: [  # noqa: E731
    (lambda: f(t((2, 3)), t((4,))), ValueError, "(2, 3)"),
    (lambda: f(t((2,)), None), (TypeError, ValueError), ""),
]


def unary(name, ref, domain=uniform(), order=3, fn=None, **kw):
    f = fn or getattr(F, name)
    return OpSpec(name, f, ref, UNARY_SHAPES, (domain,), order=order, bad=kw.pop("bad", BAD_UNARY(f)), **kw)


def binary(name, ref, domains=(uniform(),), order=3, **kw):
    f = getattr(F, name)
    return OpSpec(name, f, ref, BINARY_SHAPES, domains, order=order, bad=BAD_BINARY(f), **kw)


def with_scalar(name, ref, domain=uniform(), order=3, val=SCALAR_VAL, **kw):
    f = getattr(F, name)
    return OpSpec(name, lambda x: f(x, val), lambda x: ref(x, val), UNARY_SHAPES, (domain,),
                  order=order, bad=BAD_UNARY(lambda x: f(x, val)), **kw)


def comparison(name, ref):
    """x0 (op) 0.5 -> 0/1 in x0's dtype, no gradient."""
    f = getattr(F, name)
    return OpSpec(name, lambda x: f(x, 0.5), lambda x: ref(x, 0.5).astype(x.dtype), UNARY_SHAPES,
                  (choice([-1.0, 0.5, 2.0]),), order=0, differentiable=False,
                  bad=[(lambda: f(None, 0.5), (TypeError, ValueError), "")])


def comparison2(name, ref):
    """x0 (op) x1 between tensors, with ties -> 0/1, no gradient."""
    f = getattr(F, name)
    return OpSpec(name, f, lambda a, b: ref(a, b).astype(np.result_type(a, b)), BINARY_SHAPES,
                  (choice([-1.0, 0.0, 0.5, 2.0]),), order=0, differentiable=False, bad=BAD_COMPARE(f))


def logical_scalar(name, ref):
    f = getattr(F, name)
    return [OpSpec(name, lambda x, v=v: f(x, v), lambda x, v=v: ref(x != 0, v).astype(x.dtype), UNARY_SHAPES,
                   (choice([-1.0, 0.0, 2.0]),), order=0, differentiable=False,
                   bad=[(lambda: f(None, True), (TypeError, ValueError), "")]) for v in (True, False)]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True, initial=-np.inf))
    return e / e.sum(axis=axis, keepdims=True)


def _prelu(x, w, base_axis=1):
    w = w.reshape((-1,) + (1,) * (x.ndim - base_axis - 1)) if w.size > 1 else w.reshape(())
    return np.where(x >= 0, x, w * x)


def _excl(a, axis, op, reverse):
    """NumPy reference for exclusive / reverse cumsum / cumprod."""
    if reverse:
        return np.flip(_excl(np.flip(a, axis), axis, op, False), axis)
    ident = 0.0 if op is np.cumsum else 1.0
    pad = [(0, 0)] * a.ndim
    pad[axis] = (1, 0)
    shifted = np.pad(a, pad, constant_values=ident)
    return np.take(op(shifted, axis=axis), range(a.shape[axis]), axis=axis)


def _cum(op, axis, exclusive=False, reverse=False):
    def ref(a):
        if exclusive:
            return _excl(a, axis, op, reverse)
        return np.flip(op(np.flip(a, axis), axis=axis), axis) if reverse else op(a, axis=axis)
    return ref


def _numpy_dot(a, b):
    return np.dot(a, b)


OPS = [
    # Arithmetic (section 7)
    binary("add2", np.add),
    binary("sub2", np.subtract),
    binary("mul2", np.multiply),
    binary("div2", np.divide, domains=(uniform(), away_from_zero(0.5, 2.0))),
    binary("pow2", np.power, domains=(uniform(0.5, 2.0), uniform(-1.5, 1.5))),
    with_scalar("add_scalar", np.add),
    with_scalar("mul_scalar", np.multiply),
    with_scalar("pow_scalar", np.power, domain=uniform(0.3, 2.0)),
    with_scalar("r_sub_scalar", lambda x, v: v - x),
    with_scalar("r_div_scalar", lambda x, v: v / x, domain=away_from_zero(0.5, 2.0)),
    with_scalar("r_pow_scalar", lambda x, v: np.power(v, x)),
    OpSpec("add_n", lambda *x: F.add_n(*x), lambda *x: np.sum(x, axis=0), [((2, 3),) * 3, ((4,),), ((),) * 2],
           order=3, bad=[(lambda: F.add_n(t((2,)), t((3,))), ValueError, "(3,)"),
                         (lambda: F.add_n(), ValueError, "add_n")]),
    OpSpec("mul_n", lambda *x: F.mul_n(*x), lambda *x: np.prod(x, axis=0), [((2, 3),) * 3, ((4,),), ((),) * 2],
           order=3, bad=[(lambda: F.mul_n(t((2,)), t((3,))), ValueError, "(3,)"),
                         (lambda: F.mul_n(t((2,)), ti((2,))), TypeError, "int64")]),
    # Math (section 9)
    unary("exp", np.exp),
    unary("log", np.log, domain=uniform(0.3, 3.0)),
    unary("sin", np.sin),
    unary("cos", np.cos),
    unary("tan", np.tan, domain=uniform(-1.2, 1.2)),
    unary("sinh", np.sinh),
    unary("cosh", np.cosh),
    unary("asin", np.arcsin, domain=uniform(-0.9, 0.9)),
    unary("acos", np.arccos, domain=uniform(-0.9, 0.9)),
    unary("atan", np.arctan),
    unary("asinh", np.arcsinh),
    unary("acosh", np.arccosh, domain=uniform(1.2, 3.0)),
    unary("atanh", np.arctanh, domain=uniform(-0.9, 0.9)),
    unary("erf", np.vectorize(math.erf, otypes=[float])),
    binary("atan2", np.arctan2, domains=(away_from_zero(0.3, 2.0),)),
    unary("abs", np.abs, domain=away_from_zero(), order=2, bad=[(lambda: F.abs(None), (TypeError, ValueError), "")]),
    unary("identity", lambda x: x.copy()),
    # round / ceil / floor: straight-through by default, so no finite-difference check (tests pin the STE)
    unary("round", _round_half_away, domain=uniform(-3, 3), order=0),
    unary("ceil", np.ceil, domain=uniform(-3, 3), order=0),
    unary("floor", np.floor, domain=uniform(-3, 3), order=0),
    OpSpec("constant", lambda: F.constant(2.5, (2, 3)), lambda: np.full((2, 3), 2.5), [()], order=0,
           differentiable=False, output_follows_input_dtype=False,
           bad=[(lambda: F.constant(1, (-1, 2)), ValueError, "negative")]),
    OpSpec("arange", lambda: F.arange(1, 4, 0.5), lambda: np.arange(1, 4, 0.5), [()], order=0, differentiable=False,
           output_follows_input_dtype=False, bad=[(lambda: F.arange(0, 1, 0), ValueError, "step")]),
    OpSpec("arange", lambda: F.arange(5, -1, -2), lambda: np.arange(5, -1, -2), [()], order=0,
           differentiable=False, output_follows_input_dtype=False),
    OpSpec("linspace", lambda: F.linspace(-1, 2, 7), lambda: np.linspace(-1, 2, 7), [()], order=0,
           differentiable=False, output_follows_input_dtype=False,
           bad=[(lambda: F.linspace(0, 1, -2), ValueError, "num")]),
    OpSpec("mod2", F.mod2, np.fmod, [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 3), ()), ((0, 2), (2,))],
           (uniform(-5, 5), away_from_zero(0.7, 1.9)), order=2,
           bad=[(lambda: F.mod2(t((2, 3)), t((4,))), ValueError, "(2, 3)"),
                (lambda: F.mod2(ti((2,)), ng.tensor(np.array([1, 0]))), ValueError, "zero")]),
    OpSpec("dot", F.dot, _numpy_dot, [((4,), (4,)), ((3, 4), (4, 5)), ((2, 3, 4), (4,)), ((2, 3, 4), (2, 4, 5)),
                                      ((3,), (3, 2)), ((), (3,)), ((0, 4), (4, 2))], order=3,
           bad=[(lambda: F.dot(t((3, 4)), t((3, 4))), ValueError, "aligned"),
                (lambda: F.dot(t((2,)), t((2,)), out=t(())), TypeError, "out")]),
    OpSpec("clip_by_value", lambda x: F.clip_by_value(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7),
           UNARY_SHAPES, (avoiding([-0.5, 0.7], -2, 2),), order=2,
           bad=[(lambda: F.clip_by_value(ti((2,)), 0, 1), TypeError, "int64")]),
    OpSpec("clip_by_value", F.clip_by_value, lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
           [((3, 4), (4,), (3, 1)), ((2,), (), ())], (uniform(-2, 2), uniform(-1.5, -0.5), uniform(0.5, 1.5)),
           order=2),
    OpSpec("clip_by_norm", lambda x: F.clip_by_norm(x, 0.5), lambda x: x * 0.5 / max(np.sqrt((x * x).sum()), 0.5),
           [((3, 4),), ((5,),), ((1,),), ((0, 2),)], (uniform(0.5, 2),), order=3,
           bad=[(lambda: F.clip_by_norm(t((2,)), -1.0), ValueError, "clip_norm"),
                (lambda: F.clip_by_norm(t((2,)), 1.0, axis=1), IndexError, "axis 1")]),
    OpSpec("clip_by_norm", lambda x: F.clip_by_norm(x, 10.0, axis=1),
           lambda x: x * 10.0 / np.maximum(np.sqrt((x * x).sum(axis=1, keepdims=True)), 10.0),
           [((3, 4),), ((2, 3, 2),)], order=3),
    OpSpec("clip_by_norm", lambda x: F.clip_by_norm(x, 1.0, axis=(0,)),
           lambda x: x / np.maximum(np.sqrt((x * x).sum(axis=0, keepdims=True)), 1.0), [((4, 3),)], order=3),
    OpSpec("unlink", F.unlink, lambda x: x.copy(), UNARY_SHAPES, order=0, differentiable=False),
    # Activation (section 4)
    unary("tanh", np.tanh),
    unary("sigmoid", _sigmoid),
    unary("relu", lambda x: np.maximum(x, 0), domain=away_from_zero(), order=2),
    unary("swish", lambda x: x * _sigmoid(x)),
    unary("leaky_relu", lambda x: np.where(x > 0, x, 0.1 * x), domain=away_from_zero(), order=2),
    OpSpec("leaky_relu", lambda x: F.leaky_relu(x, alpha=-0.3), lambda x: np.where(x > 0, x, -0.3 * x),
           [((3, 4),)], (away_from_zero(),), order=2),
    OpSpec("softmax", F.softmax, lambda x: _softmax(x, -1), [((3, 4),), ((5,),), ((2, 3, 4),), ((1, 1),), ((0, 3),)],
           order=3, bad=[(lambda: F.softmax(t(())), ValueError, "()"),
                         (lambda: F.softmax(t((2, 3)), axis=2), IndexError, "axis 2")]),
    OpSpec("softmax", lambda x: F.softmax(x, axis=1), lambda x: _softmax(x, 1), AXIS_SHAPES, order=3),
    OpSpec("log_softmax", F.log_softmax, lambda x: np.log(_softmax(x, -1)), [((3, 4),), ((5,),), ((0, 3),)],
           order=3, bad=[(lambda: F.log_softmax(ti((2,))), TypeError, "int64")]),
    OpSpec("log_softmax", lambda x: F.log_softmax(x, axis=0), lambda x: np.log(_softmax(x, 0)),
           [((3, 4),), ((2, 3, 2),)], order=3),
    unary("elu", _elu, domain=away_from_zero(0.1, 2.0)),
    OpSpec("elu", lambda x: F.elu(x, alpha=0.5), lambda x: _elu(x, 0.5), [((3, 4),)], (away_from_zero(0.1, 2),),
           order=3),
    unary("selu", lambda x: 1.05070098735548 * _elu(x, 1.673263242354377), domain=away_from_zero(0.1, 2.0)),
    OpSpec("crelu", F.crelu, lambda x: np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], axis=1),
           AXIS_SHAPES, (away_from_zero(),), order=2,
           bad=[(lambda: F.crelu(t((2,)), axis=1), IndexError, "axis 1"), (lambda: F.crelu(ti((2, 2))), TypeError,
                                                                           "int64")]),
    OpSpec("crelu", lambda x: F.crelu(x, axis=-1),
           lambda x: np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], axis=-1), [((3,),), ((2, 2, 3),)],
           (away_from_zero(),), order=2),
    OpSpec("celu", F.celu, lambda x: np.concatenate([_elu(x), _elu(-x)], axis=1), AXIS_SHAPES,
           (away_from_zero(0.1, 2),), order=3, bad=[(lambda: F.celu(t((2,)), axis=3), IndexError, "axis 3")]),
    OpSpec("celu", lambda x: F.celu(x, alpha=2.0, axis=0), lambda x: np.concatenate([_elu(x, 2), _elu(-x, 2)], 0),
           [((3, 2),)], (away_from_zero(0.1, 2),), order=3),
    OpSpec("prelu", F.prelu, _prelu, [((2, 3, 4), (3,)), ((2, 3), (1,)), ((4, 3), (3,)), ((2, 3, 0), (3,))],
           (away_from_zero(), uniform(0.1, 0.9)), order=2,
           bad=[(lambda: F.prelu(t((2, 3)), t((4,))), ValueError, "(4,)"),
                (lambda: F.prelu(t((2, 3)), t((3,)), base_axis=0), ValueError, "(3,)"),
                (lambda: F.prelu(t((2, 3)), t((3,)), base_axis=2), IndexError, "base_axis")]),
    OpSpec("prelu", lambda x, w: F.prelu(x, w, base_axis=2), lambda x, w: _prelu(x, w, 2),
           [((2, 3, 4, 2), (4,))], (away_from_zero(), uniform(0.1, 0.9)), order=2),
    unary("gelu", _gelu, domain=uniform(-3, 3)),
    unary("mish", lambda x: x * np.tanh(np.log1p(np.exp(x))), domain=uniform(-3, 3)),
    unary("relu6", lambda x: np.minimum(np.maximum(x, 0), 6), domain=avoiding([0, 6], -2, 8), order=2),
    unary("hard_sigmoid", lambda x: np.clip(0.2 * x + 0.5, 0, 1), domain=avoiding([-2.5, 2.5], -4, 4), order=2),
    unary("hard_tanh", lambda x: np.clip(x, -1, 1), domain=avoiding([-1, 1], -3, 3), order=2),
    unary("log_sigmoid", lambda x: -np.logaddexp(0, -x), domain=uniform(-5, 5)),
    unary("softplus", lambda x: np.logaddexp(0, x), domain=uniform(-5, 5)),
    OpSpec("softplus", lambda x: F.softplus(x, beta=2.0), lambda x: np.logaddexp(0, 2 * x) / 2, [((3, 4),)],
           (uniform(-5, 5),), order=3, bad=[(lambda: F.softplus(t((2,)), beta=0), ValueError, "beta")]),
    unary("softsign", lambda x: x / (1 + np.abs(x)), domain=away_from_zero(0.1, 3)),
    unary("tanh_shrink", lambda x: x - np.tanh(x)),
    unary("sinc", lambda x: np.sinc(x / np.pi), domain=uniform(-6, 6)),
    OpSpec("sinc", F.sinc, lambda x: np.sinc(x / np.pi), [((5,),)], (uniform(-0.04, 0.04),), order=3),
    # Logical (section 8): comparisons and logical ops have no gradient
    unary("sign", lambda x: np.sign(x), domain=away_from_zero(), order=0),
    OpSpec("sign", lambda x: F.sign(x, alpha=0.5), lambda x: np.where(x > 0, 1.0, np.where(x < 0, -1.0, 0.5)),
           [((3, 4),)], (choice([-2.0, 0.0, 3.0]),), order=0),
    binary("minimum2", np.minimum, order=2),
    binary("maximum2", np.maximum, order=2),
    with_scalar("minimum_scalar", np.minimum, domain=avoiding([SCALAR_VAL], -3, 3), order=2),
    with_scalar("maximum_scalar", np.maximum, domain=avoiding([SCALAR_VAL], -3, 3), order=2),
    comparison("greater_scalar", np.greater),
    comparison("greater_equal_scalar", np.greater_equal),
    comparison("less_scalar", np.less),
    comparison("less_equal_scalar", np.less_equal),
    comparison("equal_scalar", np.equal),
    comparison("not_equal_scalar", np.not_equal),
    comparison2("equal", np.equal),
    comparison2("not_equal", np.not_equal),
    comparison2("greater_equal", np.greater_equal),
    comparison2("greater", np.greater),
    comparison2("less_equal", np.less_equal),
    comparison2("less", np.less),
    comparison2("logical_and", np.logical_and),
    comparison2("logical_or", np.logical_or),
    comparison2("logical_xor", np.logical_xor),
    *logical_scalar("logical_and_scalar", np.logical_and),
    *logical_scalar("logical_or_scalar", np.logical_or),
    *logical_scalar("logical_xor_scalar", np.logical_xor),
    OpSpec("logical_not", F.logical_not, lambda x: (x == 0).astype(x.dtype), UNARY_SHAPES, (choice([-1.0, 0.0, 2.0]),),
           order=0, differentiable=False, bad=[(lambda: F.logical_not(None), (TypeError, ValueError), "")]),
    OpSpec("isnan", F.isnan, lambda x: np.isnan(x).astype(x.dtype), UNARY_SHAPES,
           (choice([-1.0, np.nan, np.inf]),), order=0, differentiable=False),
    OpSpec("isinf", F.isinf, lambda x: np.isinf(x).astype(x.dtype), UNARY_SHAPES,
           (choice([-np.inf, np.nan, np.inf, 1.0]),), order=0, differentiable=False),
    OpSpec("reset_nan", lambda x: F.reset_nan(x, val=3.0), lambda x: np.where(np.isnan(x), 3.0, x), UNARY_SHAPES,
           order=2, bad=BAD_UNARY(F.reset_nan)),
    OpSpec("reset_inf", lambda x: F.reset_inf(x, val=-1.0), lambda x: np.where(np.isinf(x), -1.0, x), UNARY_SHAPES,
           order=2, bad=BAD_UNARY(F.reset_inf)),
    OpSpec("where", F.where, lambda c, a, b: np.where(c.reshape(c.shape + (1,) * (a.ndim - c.ndim)) != 0, a, b),
           [((3, 4), (3, 4), (3, 4)), ((3,), (3, 2), (3, 2)), ((), (2,), (2,)), ((0,), (0, 2), (0, 2))],
           (booleans(), uniform()), order=3,
           bad=[(lambda: F.where(t((2,)), t((2, 3)), t((2, 4))), ValueError, "equal shapes"),
                (lambda: F.where(t((3,)), t((2, 3)), t((2, 3))), ValueError, "leading")]),
    # Reduction (section 6)
    OpSpec("sum", lambda x: F.sum(x, axis=1), lambda x: np.sum(x, axis=1),
           [((3, 4),), ((2, 3, 4),), ((1, 1),), ((2, 0, 3),)], order=3,
           bad=[(lambda: F.sum(t((2, 3)), axis=2), IndexError, "axis 2"),
                (lambda: F.sum(t((2, 3)), axis=(0, 0)), ValueError, "repeated")]),
    OpSpec("sum", lambda x: F.sum(x, axis=(0, 2), keepdims=True), lambda x: np.sum(x, axis=(0, 2), keepdims=True),
           [((2, 3, 4),), ((2, 3, 4, 5),), ((3, 1, 2),)], order=2),
    OpSpec("sum", lambda x: F.sum(x), lambda x: np.sum(x), [((3, 4),), ((),), ((0,),)], order=2),
    OpSpec("mean", lambda x: F.mean(x, axis=-1), lambda x: np.mean(x, axis=-1), [((3, 4),), ((2, 3, 4),)], order=3,
           bad=[(lambda: F.mean(t((2, 3)), axis=-3), IndexError, "axis -3")]),
    OpSpec("mean", lambda x: F.mean(x, axis=(0, 1), keepdims=True), lambda x: np.mean(x, axis=(0, 1), keepdims=True),
           [((2, 3, 4),)], order=2),
    OpSpec("max", lambda x: F.max(x, axis=1), lambda x: np.max(x, axis=1), [((3, 4),), ((2, 3, 4),), ((1, 1),)],
           order=2, bad=[(lambda: F.max(t((2, 0)), axis=1), ValueError, "size 0"),
                         (lambda: F.max(t((2, 3)), axis=2), IndexError, "axis 2"),
                         (lambda: F.max(ti((2, 3))), TypeError, "int64")]),
    OpSpec("max", lambda x: F.max(x, axis=(0, 2), keepdims=True), lambda x: np.max(x, axis=(0, 2), keepdims=True),
           [((2, 3, 4),), ((3, 2, 5, 1),)], order=2),
    OpSpec("max", F.max, np.max, [((3, 4),), ((),), ((2, 0),)][:2], order=2),
    OpSpec("max", lambda x: F.max(x, axis=(1, 2), only_index=True),
           lambda x: np.argmax(x.reshape(x.shape[0], -1), axis=1), [((2, 3, 4),)], order=0, differentiable=False),
    OpSpec("min", lambda x: F.min(x, axis=0), lambda x: np.min(x, axis=0), [((3, 4),), ((2, 3, 4),)], order=2,
           bad=[(lambda: F.min(t((0,))), ValueError, "size 0")]),
    OpSpec("min", lambda x: F.min(x, axis=-1, keepdims=True), lambda x: np.min(x, axis=-1, keepdims=True),
           [((3, 4),)], order=2),
    OpSpec("min", lambda x: F.min(x, only_index=True), lambda x: np.argmin(x), [((3, 4),), ((5,),)], order=0,
           differentiable=False),
    OpSpec("prod", lambda x: F.prod(x, axis=1), lambda x: np.prod(x, axis=1),
           [((3, 4),), ((2, 3, 4),), ((1, 1),), ((2, 0, 3),)], (away_from_zero(0.5, 1.5),), order=3,
           bad=[(lambda: F.prod(t((2, 3)), axis=5), IndexError, "axis 5")]),
    OpSpec("prod", lambda x: F.prod(x, axis=(0, 2), keepdims=True), lambda x: np.prod(x, axis=(0, 2), keepdims=True),
           [((2, 3, 4),), ((3, 1, 2),)], (away_from_zero(0.5, 1.5),), order=3),
    OpSpec("prod", F.prod, np.prod, [((3, 4),), ((),), ((0,),)], (away_from_zero(0.5, 1.5),), order=3),
    OpSpec("cumsum", lambda x: F.cumsum(x, axis=1), _cum(np.cumsum, 1), AXIS_SHAPES, order=2,
           bad=[(lambda: F.cumsum(t(())), ValueError, "()"), (lambda: F.cumsum(t((2,)), axis=1), IndexError,
                                                               "axis 1")]),
    OpSpec("cumsum", F.cumsum, _cum(np.cumsum, 0), [((4, 3),), ((5,),)], order=2),
    OpSpec("cumsum", lambda x: F.cumsum(x, axis=-1, exclusive=True), _cum(np.cumsum, -1, exclusive=True),
           [((3, 4),), ((2, 3, 1),)], order=2),
    OpSpec("cumsum", lambda x: F.cumsum(x, axis=1, reverse=True), _cum(np.cumsum, 1, reverse=True),
           [((3, 4),), ((2, 3, 2),)], order=2),
    OpSpec("cumsum", lambda x: F.cumsum(x, axis=0, exclusive=True, reverse=True),
           _cum(np.cumsum, 0, exclusive=True, reverse=True), [((4, 3),)], order=2),
    OpSpec("cumprod", lambda x: F.cumprod(x, axis=1), _cum(np.cumprod, 1), AXIS_SHAPES, (away_from_zero(0.5, 1.5),),
           order=3, bad=[(lambda: F.cumprod(t((2,)), axis=-2), IndexError, "axis -2")]),
    OpSpec("cumprod", lambda x: F.cumprod(x, axis=-1, exclusive=True), _cum(np.cumprod, -1, exclusive=True),
           [((3, 4),), ((2, 3, 1),)], (away_from_zero(0.5, 1.5),), order=3),
    OpSpec("cumprod", lambda x: F.cumprod(x, axis=1, reverse=True), _cum(np.cumprod, 1, reverse=True),
           [((3, 4),), ((2, 3, 2),)], (away_from_zero(0.5, 1.5),), order=3),
    OpSpec("cumprod", lambda x: F.cumprod(x, axis=0, exclusive=True, reverse=True),
           _cum(np.cumprod, 0, exclusive=True, reverse=True), [((4, 3),)], (away_from_zero(0.5, 1.5),), order=3),
    # Array manipulation (section 10)
    OpSpec("broadcast", lambda x: F.broadcast(x, (2, 3, 4)), lambda x: np.broadcast_to(x, (2, 3, 4)),
           [((3, 1),), ((4,),), ((),), ((1, 3, 4),)], order=2,
           bad=[(lambda: F.broadcast(t((3,)), (2, 4)), ValueError, "(3,)")]),
    OpSpec("reshape", lambda x: F.reshape(x, (-1, 2)), lambda x: x.reshape(-1, 2), [((3, 4),), ((2,),), ((0, 2),)],
           order=2, bad=[(lambda: F.reshape(t((3, 4)), (5, -1)), ValueError, "(3, 4)"),
                         (lambda: F.reshape(t((3, 4)), (-1, -1)), ValueError, "-1")]),
    OpSpec("transpose", lambda x: F.transpose(x, (2, 0, 1)), lambda x: np.transpose(x, (2, 0, 1)),
           [((2, 3, 4),), ((1, 3, 1),), ((2, 0, 3),)], order=2,
           bad=[(lambda: F.transpose(t((2, 3)), (0,)), ValueError, "(2, 3)"),
                (lambda: F.transpose(t((2, 3)), (0, 2)), IndexError, "axis 2")]),
    OpSpec("slice", lambda x: F.slice(x, (1, None), (None, -1), (1, 2)), lambda x: x[1:, :-1:2],
           [((3, 5),), ((1, 4),), ((4, 0),)], order=2,
           bad=[(lambda: F.slice(t((2, 3)), (0, 0, 0)), ValueError, "(2, 3)"),
                (lambda: F.slice(t((2, 3)), step=(1, 0)), ValueError, "zero")]),
    OpSpec("slice", lambda x: F.slice(x, (None, 4), (None, 0), (-1, -2)), lambda x: x[::-1, 4:0:-2],
           [((3, 6),), ((2, 2),)], order=2),
    OpSpec("concatenate", lambda *x: F.concatenate(*x), lambda *x: np.concatenate(x, axis=-1),
           [((2, 3), (2, 1), (2, 4)), ((3,),), ((2, 0), (2, 2))], order=2,
           bad=[(lambda: F.concatenate(t((2, 3)), t((3, 3))), ValueError, "(3, 3)"),
                (lambda: F.concatenate(), ValueError, "at least one"),
                (lambda: F.concatenate(t(()), t(())), ValueError, "()")]),
    OpSpec("concatenate", lambda *x: F.concatenate(*x, axis=0), lambda *x: np.concatenate(x, axis=0),
           [((2, 3), (1, 3)), ((1, 2, 2), (3, 2, 2))], order=2),
    # Linear algebra (sections 2 and 9)
    OpSpec("batch_matmul", F.batch_matmul, np.matmul, [((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (1, 4, 2)), ((1, 1, 3, 2), (2, 1, 2, 3))],
           order=3, bad=[(lambda: F.batch_matmul(t((3, 4)), t((4, 3))), ValueError, "rank"),
                         (lambda: F.batch_matmul(t((2, 3, 4)), t((2, 3, 4))), ValueError, "(2, 3, 4)")]),
    OpSpec("batch_matmul", lambda a, b: F.batch_matmul(a, b, transpose_a=True, transpose_b=True),
           lambda a, b: np.matmul(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)), [((2, 4, 3), (2, 5, 4))], order=2),
    OpSpec("affine", F.affine, lambda x, w, b: x.reshape(x.shape[0], -1) @ w + b,
           [((4, 3), (3, 5), (5,)), ((2, 3, 2), (6, 4), (4,)), ((1, 1), (1, 1), (1,))], order=3,
           bad=[(lambda: F.affine(t((4, 3)), t((2, 5))), ValueError, "(2, 5)"),
                (lambda: F.affine(t((4, 3)), t((3, 5)), t((4,))), ValueError, "bias"),
                (lambda: F.affine(t((4, 3)), t((3, 5)), base_axis=3), IndexError, "base_axis")]),
    OpSpec("affine", lambda x, w: F.affine(x, w, base_axis=2),
           lambda x, w: (x.reshape(x.shape[0] * x.shape[1], -1) @ w.reshape(w.shape[0], -1)).reshape(
               x.shape[:2] + w.shape[1:]),
           [((2, 3, 4), (4, 2, 3))], order=2),
    OpSpec("linear", F.linear, lambda x, w, b: x @ w.T + b,
           [((4, 3), (5, 3), (5,)), ((2, 3, 2), (4, 2), (4,)), ((3,), (2, 3), (2,))], order=3,
           bad=[(lambda: F.linear(t((4, 3)), t((3, 5))), ValueError, "x of shape (4, 3) must have 5 features"),
                (lambda: F.linear(t((4, 3)), t((5, 3)), t((3,))), ValueError, "bias of shape"),
                (lambda: F.linear(t((4, 3)), t((5, 3, 1))), ValueError, "weight must be 2-D")]),
    OpSpec("linear", lambda x, w: F.linear(x, w), lambda x, w: x @ w.T, [((2, 3), (4, 3))], order=2),
]

# Families added by issue 7 keep their rows in files of their own (they import
# the helpers above, so they are appended here, at the end).
from op_db_array import ROWS as _ARRAY_ROWS  # noqa: E402
from op_db_linalg import ROWS as _LINALG_ROWS  # noqa: E402
from op_db_signal import ROWS as _SIGNAL_ROWS  # noqa: E402
from op_db_random import ROWS as _RANDOM_ROWS  # noqa: E402

OPS += _ARRAY_ROWS + _LINALG_ROWS + _SIGNAL_ROWS + _RANDOM_ROWS

# issue 8's families
from op_db_conv import ROWS as _CONV_ROWS  # noqa: E402
from op_db_pooling import ROWS as _POOLING_ROWS  # noqa: E402
from op_db_sequence import ROWS as _SEQUENCE_ROWS  # noqa: E402
from op_db_normalization import ROWS as _NORMALIZATION_ROWS  # noqa: E402
from op_db_loss import ROWS as _LOSS_ROWS  # noqa: E402
from op_db_quantize import ROWS as _QUANTIZE_ROWS  # noqa: E402

OPS += _CONV_ROWS + _POOLING_ROWS + _SEQUENCE_ROWS + _NORMALIZATION_ROWS + _LOSS_ROWS + _QUANTIZE_ROWS


def op_names():
    return sorted({spec.name for spec in OPS})
