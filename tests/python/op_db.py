"""The op table: one OpSpec per op of nthgrad.functional. The generic tests
in test_op_table.py sweep it (forward vs NumPy, finite-difference gradients
of order 1..`order` in float64, float32 vs float64, empty/size-1/broadcast
shapes, bad input). Adding an op = adding a row here.
"""
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

import nthgrad as ng
import nthgrad.functional as F


# Input domains: each maps (rng, shape) to a float64 array.
def uniform(lo=-2.0, hi=2.0):
    return lambda rng, shape: rng.uniform(lo, hi, size=shape)


def away_from_zero(lo=0.2, hi=2.0):
    """|x| in [lo, hi] with random signs: keeps kinks (relu, abs) out of finite differences."""
    return lambda rng, shape: rng.uniform(lo, hi, size=shape) * rng.choice([-1.0, 1.0], size=shape)


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

    def arrays(self, sample, seed=0):
        rng = np.random.default_rng(seed)
        return [self.domain[min(i, len(self.domain) - 1)](rng, shape) for i, shape in enumerate(sample)]


def t(shape, dtype=ng.float32, value=1.0):
    return ng.full(shape, value, dtype)


def ti(shape):
    return ng.tensor(np.ones(shape, dtype=np.int64))


UNARY_SHAPES = [((3, 4),), ((),), ((1,),), ((2, 1, 3),), ((0, 3),)]
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (2, 3)), ((1,), (1,)), ((0, 3), (3,))]
SCALAR_VAL = 1.7

BAD_BINARY = lambda f: [  # noqa: E731
    (lambda: f(t((2, 3)), t((4,))), ValueError, "(2, 3)"),
    (lambda: f(ti((2,)), ti((2,))), TypeError, "int64"),
    (lambda: f(t((2,)), None), (TypeError, ValueError), ""),
]
BAD_UNARY = lambda f: [(lambda: f(ti((2,))), TypeError, "int64")]  # noqa: E731


def unary(name, ref, domain=uniform(), order=3, **kw):
    f = getattr(F, name)
    return OpSpec(name, f, ref, UNARY_SHAPES, (domain,), order=order, bad=BAD_UNARY(f), **kw)


def binary(name, ref, domains=(uniform(),), order=3, **kw):
    f = getattr(F, name)
    return OpSpec(name, f, ref, BINARY_SHAPES, domains, order=order, bad=BAD_BINARY(f), **kw)


def with_scalar(name, ref, domain=uniform(), order=3, **kw):
    f = getattr(F, name)
    return OpSpec(name, lambda x: f(x, SCALAR_VAL), lambda x: ref(x, SCALAR_VAL), UNARY_SHAPES, (domain,),
                  order=order, bad=BAD_UNARY(lambda x: f(x, SCALAR_VAL)), **kw)


def comparison(name, ref):
    f = getattr(F, name)
    return OpSpec(name, lambda x: f(x, 0.5), lambda x: ref(x, 0.5).astype(x.dtype), UNARY_SHAPES,
                  (away_from_zero(),), order=0, differentiable=False, bad=BAD_UNARY(lambda x: f(x, 0.5)))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


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
                         (lambda: F.mul_n(t((2,)), t((2,), ng.float64)), TypeError, "float64")]),
    # Math (section 9)
    unary("exp", np.exp),
    unary("log", np.log, domain=uniform(0.3, 3.0)),
    unary("sin", np.sin),
    unary("cos", np.cos),
    unary("abs", np.abs, domain=away_from_zero(), order=2),
    unary("identity", lambda x: x.copy()),
    # Activation (section 4)
    unary("tanh", np.tanh),
    unary("sigmoid", _sigmoid),
    unary("relu", lambda x: np.maximum(x, 0), domain=away_from_zero(), order=2),
    # Logical (section 8): no gradient
    comparison("greater_scalar", np.greater),
    comparison("greater_equal_scalar", np.greater_equal),
    comparison("less_scalar", np.less),
    comparison("less_equal_scalar", np.less_equal),
    comparison("equal_scalar", np.equal),
    comparison("not_equal_scalar", np.not_equal),
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
]


def op_names():
    return sorted({spec.name for spec in OPS})
