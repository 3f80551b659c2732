"""nthgrad.functional: the functions of the technical note under nnabla's
names, argument names, order and defaults (see OPS.md). Each is one call into
the compiled op; every op's gradient is itself differentiable.

Obsolete nnabla arguments (`inplace`) are accepted and ignored.
"""
from . import _C
from ._C import Tensor
from ._tensor import _axes_arg, _shape_arg

__all__ = [
    "add2", "sub2", "mul2", "div2", "pow2", "add_scalar", "mul_scalar", "pow_scalar", "r_sub_scalar",
    "r_div_scalar", "r_pow_scalar", "add_n", "mul_n", "exp", "log", "sin", "cos", "tanh", "sigmoid", "relu",
    "abs", "identity", "sum", "mean", "broadcast", "reshape", "transpose", "batch_matmul", "affine",
    "greater_scalar", "greater_equal_scalar", "less_scalar", "less_equal_scalar", "equal_scalar",
    "not_equal_scalar",
]


# Arithmetic (section 7)
def add2(x0, x1, inplace=False):
    """x0 + x1 with NumPy broadcasting."""
    return _C.add2(x0, x1)


def sub2(x0, x1, inplace=False):
    """x0 - x1 with NumPy broadcasting."""
    return _C.sub2(x0, x1)


def mul2(x0, x1, inplace=False):
    """x0 * x1 with NumPy broadcasting."""
    return _C.mul2(x0, x1)


def div2(x0, x1, inplace=False):
    """x0 / x1 with NumPy broadcasting."""
    return _C.div2(x0, x1)


def pow2(x0, x1, inplace=False):
    """x0 ** x1 with NumPy broadcasting; the gradient w.r.t. x1 uses log(x0)."""
    return _C.pow2(x0, x1)


def add_scalar(x, val=1, inplace=False):
    """x + val."""
    return _C.add_scalar(x, val)


def mul_scalar(x, val=1, inplace=False):
    """val * x."""
    return _C.mul_scalar(x, val)


def pow_scalar(x, val=1, inplace=False):
    """x ** val."""
    return _C.pow_scalar(x, val)


def r_sub_scalar(x, val=1):
    """val - x."""
    return _C.r_sub_scalar(x, val)


def r_div_scalar(x, val=1):
    """val / x."""
    return _C.r_div_scalar(x, val)


def r_pow_scalar(x, val=1):
    """val ** x."""
    return _C.r_pow_scalar(x, val)


def add_n(*x):
    """x[0] + x[1] + ... (equal shapes)."""
    return _C.add_n(list(x))


def mul_n(*x):
    """x[0] * x[1] * ... (equal shapes)."""
    return _C.mul_n(list(x))


# Math (section 9)
def exp(x):
    """e ** x."""
    return _C.exp(x)


def log(x):
    """Natural logarithm."""
    return _C.log(x)


def sin(x):
    return _C.sin(x)


def cos(x):
    return _C.cos(x)


def abs(x):
    """|x|; the gradient at 0 is +1 (nnabla's convention)."""
    return _C.abs(x)


def identity(x):
    """A copy of x (a node of its own in the graph)."""
    return _C.identity(x)


def batch_matmul(a, b, transpose_a=False, transpose_b=False):
    """Batched matrix product of rank >= 3 operands of equal rank (size-1 batch axes broadcast)."""
    return _C.batch_matmul(a, b, transpose_a, transpose_b)


# Activation (section 4)
def tanh(x):
    return _C.tanh(x)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return _C.sigmoid(x)


def relu(x, inplace=False):
    """max(0, x); the gradient at 0 is 0."""
    return _C.relu(x)


# Comparisons (section 8): 0/1 in x0's dtype, no gradient.
def greater_scalar(x0, val=1):
    return _C.greater_scalar(x0, val)


def greater_equal_scalar(x0, val=1):
    return _C.greater_equal_scalar(x0, val)


def less_scalar(x0, val=1):
    return _C.less_scalar(x0, val)


def less_equal_scalar(x0, val=1):
    return _C.less_equal_scalar(x0, val)


def equal_scalar(x0, val=1):
    return _C.equal_scalar(x0, val)


def not_equal_scalar(x0, val=1):
    return _C.not_equal_scalar(x0, val)


# Reduction (section 6)
def sum(x, axis=None, keepdims=False):
    """Sum over `axis` (an int, a sequence, or None for all axes)."""
    return _C.sum(x, _axes_arg(axis), keepdims)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over `axis` (an int, a sequence, or None for all axes)."""
    return _C.mean(x, _axes_arg(axis), keepdims)


# Array manipulation (section 10)
def broadcast(x, shape):
    """x expanded to `shape` (right-aligned, NumPy rules)."""
    return _C.broadcast(x, _shape_arg((shape,)))


def reshape(x, shape, inplace=True):
    """x with a new shape (one -1 is inferred); shares memory with x."""
    return _C.reshape(x, _shape_arg((shape,)))


def transpose(x, axes):
    """Permute the axes: y.shape[i] = x.shape[axes[i]]."""
    return _C.transpose(x, [int(a) for a in axes])


# Neural network layer (section 2)
def affine(x, weight, bias=None, base_axis=1):
    """x (flattened from base_axis) @ weight (in, out...) + bias."""
    return _C.affine(x, weight, bias, base_axis)


def _matmul_numpy(a, b):
    """NumPy's matmul: 1-D operands are promoted to matrices and the added axis removed."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must not be 0-d (shapes {a.shape} and {b.shape})")
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
