"""nthgrad.functional: the functions of the technical note under nnabla's
names, argument names, order and defaults (see OPS.md). Most are the
compiled op itself (its binding carries nnabla's signature and a docstring);
the few below that need Python (variadic inputs, nnabla-specific argument
handling) are thin wrappers. Every op's gradient is itself differentiable.

Obsolete nnabla arguments (`inplace`) are accepted and ignored.
"""
import numbers

from . import _C
from ._C import Tensor
from ._tensor import _resolve_dtype, _shape_arg, tensor as _tensor

# The compiled ops, re-exported under their nnabla names.
_COMPILED = [
    # arithmetic (section 7)
    "add2", "sub2", "mul2", "div2", "pow2", "add_scalar", "mul_scalar", "pow_scalar", "r_sub_scalar",
    "r_div_scalar", "r_pow_scalar",
    # math (section 9) and related
    "exp", "log", "sin", "cos", "tan", "sinh", "cosh", "asin", "acos", "atan", "atan2", "asinh", "acosh",
    "atanh", "erf", "abs", "identity", "round", "ceil", "floor", "mod2", "clip_by_norm", "unlink",
    "batch_matmul", "affine", "linear",
    # logical (section 8)
    "sign", "minimum2", "maximum2", "minimum_scalar", "maximum_scalar", "logical_and", "logical_or",
    "logical_xor", "equal", "not_equal", "greater_equal", "greater", "less_equal", "less",
    "logical_and_scalar", "logical_or_scalar", "logical_xor_scalar", "greater_scalar", "greater_equal_scalar",
    "less_scalar", "less_equal_scalar", "equal_scalar", "not_equal_scalar", "logical_not", "isnan", "isinf",
    "reset_nan", "reset_inf",
    # activation (section 4)
    "sigmoid", "swish", "tanh", "relu", "leaky_relu", "softmax", "log_softmax", "elu", "selu", "crelu", "celu",
    "prelu", "gelu", "mish", "relu6", "hard_sigmoid", "hard_tanh", "log_sigmoid", "softplus", "softsign",
    "tanh_shrink", "sinc",
    # reduction (section 6)
    "sum", "mean", "max", "min", "prod", "cumsum", "cumprod",
    # array (section 10)
    "transpose", "slice",
    # array manipulation and indexing (section 10, issue 7)
    "split", "pad", "tile", "one_hot", "flip", "shift", "sort", "gather_nd", "scatter_nd", "gather", "scatter_add",
    "searchsorted", "top_k_data", "top_k_grad",
    # linalg (issue 7)
    "batch_inv", "batch_det", "batch_logdet", "batch_cholesky", "matrix_diag", "matrix_diag_part", "trilu",
    # stochasticity (section 12; the samplers are Python defs in nthgrad/random.py)
    "dropout", "random_choice",
    # signal (section 11) and related
    "interpolate", "fft", "ifft", "stft", "istft",
]
# issue 8's families (sections 2, 3, 5, 13, 14 and related), one list each
_CONV = [
    "convolution", "depthwise_convolution", "deconvolution", "depthwise_deconvolution",
]


_POOLING = [
    "max_pooling", "average_pooling", "global_average_pooling", "sum_pooling", "unpooling", "embed",
]


_SEQUENCE = [
    "rnn", "lstm", "gru", "multi_head_attention",
]


_NORMALIZATION = [
    "batch_normalization", "fused_batch_normalization", "weight_normalization", "norm", "norm_normalization",
    "layer_normalization", "instance_normalization", "group_normalization", "tensor_normalization",
    "weight_standardization", "spectral_norm", "mean_subtraction",
]


_LOSS = [
    "sigmoid_cross_entropy", "binary_cross_entropy", "softmax_cross_entropy", "categorical_cross_entropy",
    "squared_error", "absolute_error", "huber_loss", "epsilon_insensitive_loss", "kl_multinomial",
]


_QUANTIZE = [
    "binary_sigmoid", "binary_tanh", "prune", "quantize_linear", "dequantize_linear", "fixed_point_quantize",
    "pow2_quantize", "min_max_quantize", "clip_grad_by_value", "clip_grad_by_norm",
]


_COMPILED += _CONV + _POOLING + _SEQUENCE + _NORMALIZATION + _LOSS + _QUANTIZE

for _name in _COMPILED:
    globals()[_name] = getattr(_C, _name)

__all__ = _COMPILED + [
    "add_n", "mul_n", "where", "constant", "arange", "linspace", "clip_by_value", "dot", "broadcast", "reshape",
    "concatenate", "stack", "meshgrid",
]

# random samplers (section 12 and related): Python defs for dtype names and shapes
from .random import rand, randn, randint, rand_binomial, rand_beta, rand_gamma  # noqa: E402

__all__ += ["rand", "randn", "randint", "rand_binomial", "rand_beta", "rand_gamma"]


def add_n(*x):
    """x[0] + x[1] + ... (equal shapes; float32 with float64 gives float64)."""
    return _C.add_n(list(x))


def mul_n(*x):
    """x[0] * x[1] * ... (equal shapes; float32 with float64 gives float64)."""
    return _C.mul_n(list(x))


def where(condition, x_true, x_false):
    """x_true where condition != 0, else x_false (nnabla's rule: the shape of
    `condition` is the *leading* axes of x_true and x_false, which have equal
    shapes). nthgrad.where broadcasts the NumPy way instead. No gradient
    reaches the condition."""
    for name, v in (("condition", condition), ("x_true", x_true), ("x_false", x_false)):
        if not isinstance(v, Tensor):
            raise TypeError(f"where: {name} must be a Tensor, got {type(v).__name__}")
    if x_true.shape != x_false.shape:
        raise ValueError(f"where: x_true of shape {x_true.shape} and x_false of shape {x_false.shape} must have "
                         "equal shapes")
    lead = condition.ndim
    if lead > x_true.ndim or tuple(x_true.shape[:lead]) != tuple(condition.shape):
        raise ValueError(f"where: condition of shape {condition.shape} must be the leading axes of x_true of shape "
                         f"{x_true.shape}")
    cond = _C.reshape(condition, list(condition.shape) + [1] * (x_true.ndim - lead))
    return _C.where(cond, x_true, x_false)


def constant(val=0, shape=[], *, dtype="float32"):
    """An array of `shape` filled with val (no inputs, no gradient)."""
    return _C.constant(float(val), _shape_arg((shape,)), _resolve_dtype(dtype))


def arange(start, stop, step=1, *, dtype="float32"):
    """start, start + step, ... up to but excluding stop (negative steps allowed)."""
    return _C.arange(float(start), float(stop), float(step), _resolve_dtype(dtype))


def linspace(start, stop, num, *, dtype="float32"):
    """num evenly spaced values from start to stop, both included."""
    return _C.linspace(float(start), float(stop), int(num), _resolve_dtype(dtype))


def clip_by_value(x, min, max):
    """minimum(maximum(x, min), max); min and max are scalars or tensors (broadcast)."""
    if isinstance(min, numbers.Real) and isinstance(max, numbers.Real):
        return _C.clip_by_value(x, float(min), float(max))
    as_tensor = lambda v: v if isinstance(v, Tensor) else _tensor(v, dtype=x.dtype)  # noqa: E731
    return _C.clip_by_value(x, as_tensor(min), as_tensor(max))


def dot(a, b, out=None):
    """NumPy's dot: inner product of 1-D operands, matrix product of 2-D ones,
    and over the last axis of a and the second-to-last of b for N-D ones."""
    if out is not None:
        raise TypeError("dot: out= is not supported (nthgrad tensors are immutable); use the returned tensor")
    return _C.dot(a, b)


def broadcast(x, shape):
    """x expanded to `shape` (right-aligned, NumPy rules)."""
    return _C.broadcast(x, _shape_arg((shape,)))


def reshape(x, shape, inplace=True):
    """x with a new shape (one -1 is inferred); shares memory with x."""
    return _C.reshape(x, _shape_arg((shape,)))


def concatenate(*x, axis=None):
    """Joins the arrays along an existing axis (default: the last, as nnabla)."""
    if not x:
        raise ValueError("concatenate: needs at least one input")
    if axis is None:
        axis = x[0].ndim - 1 if isinstance(x[0], Tensor) else -1
    return _C.concatenate(list(x), axis)


def stack(*x, axis=0):
    """Joins equal-shape arrays along a new axis."""
    return _C.stack(list(x), axis)


def meshgrid(*x, ij_indexing=False):
    """Coordinate grids of 1-D arrays ('xy' indexing unless ij_indexing, as numpy.meshgrid)."""
    return tuple(_C.meshgrid(list(x), ij_indexing))


def _matmul_numpy(a, b):
    """NumPy's matmul: 1-D operands are promoted to matrices and the added axis removed."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must not be 0-d (shapes {a.shape} and {b.shape})")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul: inner dimensions differ ({a.shape[-1]} vs {b.shape[-2 if b.ndim > 1 else 0]}) "
                         f"for a of shape {a.shape} and b of shape {b.shape}")
    a2 = _C.reshape(a, [1, a.shape[0]]) if a.ndim == 1 else a
    b2 = _C.reshape(b, [b.shape[0], 1]) if b.ndim == 1 else b
    y = _C.matmul(a2, b2, False, False)
    if a.ndim == 1 or b.ndim == 1:
        shape = list(y.shape)
        if a.ndim == 1:
            del shape[-2]
        if b.ndim == 1:
            del shape[-1]
        y = _C.reshape(y, shape)
    return y


# ---- linalg (issue 7) ----
__all__ += ["einsum"]


def einsum(*x, equation=None):
    """Einstein summation over the operands x, as numpy.einsum: `equation`
    (keyword, as nnabla) such as 'bij,bjk->bik'; without '->' the output is
    the labels seen once, in ASCII order, after the '...' axes; a label
    repeated in one operand takes the diagonal; '...' broadcasts. The NumPy
    order einsum('ij->ji', x) is accepted too. Composed of differentiable
    ops, so every order of gradient follows."""
    if equation is None and x and isinstance(x[0], str):
        equation, x = x[0], x[1:]
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a str, got {type(equation).__name__}")
    return _C.einsum(list(x), equation)


# ---- normalization (issue 8) ----
__all__ += ["sync_batch_normalization"]


def sync_batch_normalization(x, beta, gamma, mean, variance, comm, group="world", axes=[1], decay_rate=0.9,
                             eps=1e-05, batch_stat=True, output_stat=False):
    """batch_normalization whose batch statistics are those of every rank's
    batch together (nnabla's signature): ``comm`` an
    ``nthgrad.distributed.Communicator`` or mpi4py communicator, ``group``
    'world' (all of comm). Differentiable to every order over the global
    batch; see nthgrad.distributed.sync_batch_normalization. ``comm=None``
    (one process, no MPI needed) is exactly batch_normalization."""
    if comm is not None:
        from . import distributed
        return distributed.sync_batch_normalization(x, beta, gamma, mean, variance, comm, group, axes, decay_rate,
                                                    eps, batch_stat, output_stat)
    if group != "world":
        raise ValueError(f"sync_batch_normalization: group {group!r} is not known; the group is 'world'")
    try:
        return _C.batch_normalization(x, beta, gamma, mean, variance, axes, decay_rate, eps, batch_stat, output_stat)
    except (ValueError, TypeError, IndexError, RuntimeError) as e:  # errors name this op, not the one it calls
        msg = str(e)
        if not msg.startswith("batch_normalization"):
            raise
        raise type(e)("sync_" + msg) from None
