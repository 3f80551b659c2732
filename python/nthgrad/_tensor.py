"""Creating tensors, and the Tensor methods that are plain Python over ops."""
import numpy as np

from . import _C
from ._C import Tensor, DType

_NUMPY_OF = {DType.float32: np.float32, DType.float64: np.float64, DType.int64: np.int64, DType.bool: np.bool_}
_DTYPE_NAMES = {"float32": DType.float32, "float64": DType.float64, "int64": DType.int64, "bool": DType.bool}


def _resolve_dtype(dtype):
    if dtype is None or isinstance(dtype, DType):
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPE_NAMES:
        return _DTYPE_NAMES[dtype]
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"tensor: unsupported dtype {dtype!r}") from None
    if np_dtype.name in _DTYPE_NAMES:
        return _DTYPE_NAMES[np_dtype.name]
    raise TypeError(f"tensor: unsupported dtype {dtype!r}; nthgrad has float32, float64, int64 and bool")


def _default_dtype(array, from_numpy_array):
    kind = array.dtype.kind
    if kind == "b":
        return DType.bool
    if kind in "iu":
        return DType.int64
    if kind == "f":
        # NumPy arrays keep float64; Python floats become float32 (as torch.tensor).
        return DType.float64 if (from_numpy_array and array.dtype == np.float64) else DType.float32
    raise TypeError(f"tensor: cannot make a tensor from data of dtype {array.dtype}")


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of `data` (array, list, scalar or Tensor).

    Python floats give float32, ints int64, bools bool; a NumPy array keeps a
    float64 dtype. `dtype` overrides (ng.float32, "float64", np.int64, ...)."""
    dtype = _resolve_dtype(dtype)
    if isinstance(data, Tensor):
        data = np.asarray(data)
    from_numpy_array = isinstance(data, (np.ndarray, np.generic))
    array = np.asarray(data)
    if array.dtype == object:
        raise TypeError("tensor: data must be numeric (got ragged or non-numeric input)")
    if dtype is None:
        dtype = _default_dtype(array, from_numpy_array)
    array = array.astype(_NUMPY_OF[dtype], order="C", copy=False)  # (ascontiguousarray would make 0-d arrays 1-d)
    return _C._from_numpy(array, requires_grad, False)


def from_numpy(array, requires_grad=False):
    """A tensor sharing memory with a C-contiguous NumPy array (no copy).

    Later writes into `array` show through the tensor, as with torch.from_numpy;
    do not write into it while a graph that saved the tensor is alive."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return _C._from_numpy(array, requires_grad, True)


def full(shape, value, dtype=DType.float32, requires_grad=False):
    dtype = _resolve_dtype(dtype)
    return _C._from_numpy(np.full(shape, value, dtype=_NUMPY_OF[dtype]), requires_grad, True)


def zeros(shape, dtype=DType.float32, requires_grad=False):
    return full(shape, 0, dtype, requires_grad)


def ones(shape, dtype=DType.float32, requires_grad=False):
    return full(shape, 1, dtype, requires_grad)


def _shape_arg(shape):
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    return [int(s) for s in shape]


def _numpy(self):
    """The values as a read-only NumPy array sharing the tensor's memory
    (nthgrad never writes into a tensor; np.array(t) makes a writable copy)."""
    return np.asarray(self)


def _repr(self):
    body = np.array2string(np.asarray(self), separator=", ", prefix="tensor(")
    extras = [f"dtype={self.dtype!r}"]
    if self.grad_fn is not None:
        extras.append(f"grad_fn=<{self.grad_fn.name}>")
    elif self.requires_grad:
        extras.append("requires_grad=True")
    return f"tensor({body}, {', '.join(extras)})"


def _backward(self, gradient=None, retain_graph=None, create_graph=False):
    _C.backward([self], [gradient], retain_graph, create_graph)


def _matmul(self, other):
    if not isinstance(other, Tensor):
        other = tensor(other, dtype=self.dtype)
    return functional._matmul_numpy(self, other)


def _rmatmul(self, other):
    return functional._matmul_numpy(tensor(other, dtype=self.dtype), self)


def _transpose(self, *axes):
    if not axes:
        axes = tuple(reversed(range(self.ndim)))
    return _C.transpose(self, _shape_arg(axes))


def _float(self):
    return float(self.item())


def _bool(self):
    if self.size != 1:
        raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
    return bool(self.item())


def _method(op):
    """op as a Tensor method (a compiled function does not bind self by itself)."""
    def method(self, *args, **kwargs):
        return op(self, *args, **kwargs)
    method.__name__ = op.__name__
    method.__doc__ = op.__doc__
    return method


def _cumulative(op):
    def method(self, axis=None):
        """Running sum / product along axis; axis=None runs over the flattened tensor (as NumPy)."""
        if axis is None:
            return op(_C.reshape(self, [-1]), 0)
        return op(self, axis)
    return method


def _clip(x, min, max):
    from . import functional as F
    if min is not None:
        x = F.maximum_scalar(x, min) if not isinstance(min, Tensor) else F.maximum2(x, min)
    if max is not None:
        x = F.minimum_scalar(x, max) if not isinstance(max, Tensor) else F.minimum2(x, max)
    return x


def _as_operand(v, like):
    """A tensor operand for ng.where / maximum / minimum: tensors as they are, numbers and arrays as tensors
    of the other operand's dtype."""
    if isinstance(v, Tensor):
        return v
    return tensor(v, dtype=like.dtype if isinstance(like, Tensor) else None)


def where(condition, x, y):
    """x where condition is nonzero, else y, broadcast as NumPy (numbers and arrays are accepted for x and y);
    differentiable in x and y. nthgrad.functional.where is nnabla's version."""
    if not isinstance(condition, Tensor):
        condition = tensor(condition)
    like = x if isinstance(x, Tensor) else y
    return _C.where(condition, _as_operand(x, like), _as_operand(y, like))


def maximum(x0, x1):
    """Elementwise maximum, broadcast; a number on either side uses maximum_scalar. On ties x1 gets the
    gradient (nnabla)."""
    if isinstance(x1, (int, float, np.number)) and isinstance(x0, Tensor):
        return _C.maximum_scalar(x0, float(x1))
    if isinstance(x0, (int, float, np.number)) and isinstance(x1, Tensor):
        return _C.maximum_scalar(x1, float(x0))
    return _C.maximum2(_as_operand(x0, x1), _as_operand(x1, x0))


def minimum(x0, x1):
    """Elementwise minimum, broadcast; a number on either side uses minimum_scalar. On ties x1 gets the
    gradient (nnabla)."""
    if isinstance(x1, (int, float, np.number)) and isinstance(x0, Tensor):
        return _C.minimum_scalar(x0, float(x1))
    if isinstance(x0, (int, float, np.number)) and isinstance(x1, Tensor):
        return _C.minimum_scalar(x1, float(x0))
    return _C.minimum2(_as_operand(x0, x1), _as_operand(x1, x0))


def _install_methods():
    from . import functional as F

    DType.__repr__ = lambda self: f"nthgrad.{self.name}"
    DType.__str__ = lambda self: self.name
    Tensor.numpy = _numpy
    Tensor.__repr__ = _repr
    Tensor.__str__ = _repr
    Tensor.backward = _backward
    Tensor.__matmul__ = _matmul
    Tensor.__rmatmul__ = _rmatmul
    Tensor.__float__ = _float
    Tensor.__bool__ = _bool
    Tensor.__array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator
    Tensor.sum = lambda self, axis=None, keepdims=False: F.sum(self, axis, keepdims)
    Tensor.mean = lambda self, axis=None, keepdims=False: F.mean(self, axis, keepdims)
    Tensor.max = lambda self, axis=None, keepdims=False: F.max(self, axis, keepdims)
    Tensor.min = lambda self, axis=None, keepdims=False: F.min(self, axis, keepdims)
    Tensor.argmax = lambda self, axis=None, keepdims=False: F.max(self, axis, keepdims, only_index=True)
    Tensor.argmin = lambda self, axis=None, keepdims=False: F.min(self, axis, keepdims, only_index=True)
    Tensor.prod = lambda self, axis=None, keepdims=False: F.prod(self, axis, keepdims)
    Tensor.cumsum = _cumulative(F.cumsum)
    Tensor.cumprod = _cumulative(F.cumprod)
    Tensor.clip = lambda self, min=None, max=None: _clip(self, min, max)
    Tensor.reshape = lambda self, *shape: F.reshape(self, _shape_arg(shape))
    Tensor.transpose = _transpose
    Tensor.T = property(lambda self: _transpose(self))
    Tensor.broadcast_to = lambda self, shape: F.broadcast(self, shape)
    for name in ("exp", "log", "sin", "cos", "tan", "sinh", "cosh", "tanh", "sigmoid", "relu", "abs", "round",
                 "ceil", "floor", "sign", "softmax", "log_softmax"):
        setattr(Tensor, name, _method(getattr(F, name)))
    Tensor.float = lambda self: _C.cast(self, DType.float32)
    Tensor.double = lambda self: _C.cast(self, DType.float64)
    Tensor.to = lambda self, dtype: _C.cast(self, _resolve_dtype(dtype))
    Tensor.__hash__ = object.__hash__


from . import functional  # noqa: E402  (functional imports this module)

_install_methods()
