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
        # NumPy arrays keep float64 (of either byte order); Python floats become
        # float32 (as torch.tensor).
        return DType.float64 if (from_numpy_array and array.dtype.itemsize == 8) else DType.float32
    raise TypeError(f"tensor: cannot make a tensor from data of dtype {array.dtype}")


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _first(array, bad):
    return array[bad].flat[0]


def _object_array(array, dtype, fn):
    """NumPy makes an object array of non-numeric data (None, strings, ...) and
    of Python ints beyond 64 bits: refuse the first, check the second."""
    values = array.ravel()
    for v in values:
        if not isinstance(v, (int, float, np.bool_, np.integer, np.floating)):
            raise TypeError(f"{fn}: data must be numeric, got {v!r} ({type(v).__name__})")
    if dtype is None:
        dtype = DType.float32 if any(isinstance(v, (float, np.floating)) for v in values) else DType.int64
    if dtype == DType.int64:
        for v in values:
            if isinstance(v, int) and not _INT64_MIN <= v <= _INT64_MAX:
                raise OverflowError(f"{fn}: the integer {v} is out of the int64 range [-2**63, 2**63 - 1]")
    return array.astype(np.float64 if dtype.is_floating_point else _NUMPY_OF[dtype]), dtype


def _as_array(data, dtype, fn):
    """`data` as a C-contiguous, native-order NumPy array of `dtype` (None: the
    default for the data), and that dtype. Conversions that NumPy would make
    silently wrong raise instead: non-numeric data (TypeError), integers
    beyond int64 (OverflowError), and NaN, infinite or out-of-range floats to
    int64 (ValueError, as the cast op)."""
    from_numpy_array = isinstance(data, (np.ndarray, np.generic))
    array = np.asarray(data)
    if array.dtype == object:
        array, dtype = _object_array(array, dtype, fn)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: cannot make a tensor from data of dtype {array.dtype}; "
                        "nthgrad takes bool, integer and float data")
    if dtype is None:
        dtype = _default_dtype(array, from_numpy_array)
    if dtype == DType.int64 and array.size:
        if array.dtype.kind == "u":
            too_big = array > _INT64_MAX
            if too_big.any():
                raise OverflowError(f"{fn}: the integer {_first(array, too_big)} is out of the int64 range "
                                    "[-2**63, 2**63 - 1]")
        elif array.dtype.kind == "f":
            bad = ~((array >= -(2.0**63)) & (array < 2.0**63))  # NaN compares false
            if bad.any():
                raise ValueError(f"{fn}: cannot convert {_first(array, bad)} to int64: NaN, infinite, "
                                 "or outside [-2**63, 2**63)")
    # astype also converts to native byte order (ascontiguousarray would make 0-d arrays 1-d).
    return array.astype(_NUMPY_OF[dtype], order="C", copy=False), dtype


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of `data` (array, list, scalar or Tensor).

    Python floats give float32, ints int64, bools bool; a NumPy array keeps a
    float64 dtype, other integer dtypes become int64 and float16 float32.
    `dtype` overrides (ng.float32, "float64", np.int64, ...)."""
    dtype = _resolve_dtype(dtype)
    if isinstance(data, Tensor):
        data = np.asarray(data)
    array, _ = _as_array(data, dtype, "tensor")
    return _C._from_numpy(array, requires_grad, False, "tensor")


def from_numpy(array, requires_grad=False):
    """A tensor sharing memory with a NumPy array (no copy).

    The array must be C-contiguous, aligned, in native byte order and of
    dtype float32, float64, int64 or bool (ValueError or TypeError otherwise;
    nthgrad.tensor copies any array). Later writes into `array` show through
    the tensor, as with torch.from_numpy; do not write into it while a graph
    that saved the tensor is alive."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return _C._from_numpy(array, requires_grad, True, "from_numpy")


def full(shape, value, dtype=DType.float32, requires_grad=False):
    dtype = _resolve_dtype(dtype)
    value, _ = _as_array(value, dtype, "full")
    # A copy into nthgrad's own memory (not a view of the NumPy array): such a tensor can be updated in place.
    return _C._from_numpy(np.full(shape, value, dtype=_NUMPY_OF[dtype]), requires_grad, False, "full")


def zeros(shape, dtype=DType.float32, requires_grad=False):
    return full(shape, 0, dtype, requires_grad)


def ones(shape, dtype=DType.float32, requires_grad=False):
    return full(shape, 1, dtype, requires_grad)


def _shape_arg(shape):
    # operator.index, not int(): a float or a string in a shape is a
    # TypeError (as in NumPy), never silently truncated or parsed
    import operator
    try:
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        return [operator.index(s) for s in shape]
    except TypeError:
        raise TypeError(f"a shape must be an int or a sequence of ints, got {shape!r:.80}") from None


# The most dimensions NumPy allows (NPY_MAXDIMS).
_NUMPY_MAXDIMS = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32


def _numpy(self):
    """The values as a read-only NumPy array sharing the tensor's memory
    (nthgrad never writes into a tensor; np.array(t) makes a writable copy)."""
    return np.asarray(self)


def _repr(self):
    extras = [f"dtype={self.dtype!r}"]
    if self.grad_fn is not None:
        extras.append(f"grad_fn=<{self.grad_fn.name}>")
    elif self.requires_grad:
        extras.append("requires_grad=True")
    if self.ndim > _NUMPY_MAXDIMS:  # NumPy cannot print it: a summary (a repr must not raise)
        return f"tensor(<{self.ndim}-d, shape={self.shape}>, {', '.join(extras)})"
    body = np.array2string(np.asarray(self), separator=", ", prefix="tensor(")
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


def _one_value(self, what):
    """The single element as a Python number, for float(), int(), bool() and index use."""
    if self.size != 1:
        raise ValueError(f"{what}: only a tensor with one element can be converted; this one has shape {self.shape}")
    return self.item()


def _float(self):
    return float(_one_value(self, "float()"))


def _int(self):
    v = _one_value(self, "int()")
    if isinstance(v, float) and not np.isfinite(v):
        raise ValueError(f"int(): cannot convert {v} to an integer")
    return int(v)  # floats truncate toward zero, as torch and NumPy


def _index(self):
    if self.dtype != DType.int64:
        raise TypeError(f"only an int64 tensor with one element can be used as an index; this one is "
                        f"{self.dtype} of shape {self.shape}")
    return _one_value(self, "index")


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
    if min is None and max is None:
        raise ValueError("clip: one of min or max must be given")
    if min is not None:
        x = F.maximum_scalar(x, min) if not isinstance(min, Tensor) else F.maximum2(x, min)
    if max is not None:
        x = F.minimum_scalar(x, max) if not isinstance(max, Tensor) else F.minimum2(x, max)
    return x


def _as_operand(v, like):
    """A tensor operand for ng.where / maximum / minimum: tensors as they are, numbers and arrays as tensors
    of their own kind (a float stays a float beside an integer tensor; the op then promotes), a float
    number taking the other operand's float dtype."""
    if isinstance(v, Tensor):
        return v
    if isinstance(like, Tensor) and like.dtype.is_floating_point and isinstance(v, (float, np.floating)):
        return tensor(v, dtype=like.dtype)
    return tensor(v)


def where(condition, x, y):
    """x where condition is nonzero, else y, broadcast as NumPy (numbers and arrays are accepted for x and y);
    differentiable in x and y. nthgrad.functional.where is nnabla's version."""
    if not isinstance(condition, Tensor):
        condition = tensor(condition)
    like = x if isinstance(x, Tensor) else y
    return _C.where(condition, _as_operand(x, like), _as_operand(y, like))


def _extremum(x0, x1, scalar_op, tensor_op):
    """maximum / minimum: a number on either side uses the _scalar op."""
    if isinstance(x1, (int, float, np.number)) and isinstance(x0, Tensor):
        return scalar_op(x0, float(x1))
    if isinstance(x0, (int, float, np.number)) and isinstance(x1, Tensor):
        return scalar_op(x1, float(x0))
    return tensor_op(_as_operand(x0, x1), _as_operand(x1, x0))


def maximum(x0, x1):
    """Elementwise maximum, broadcast; a number on either side uses maximum_scalar. On ties x1 gets the
    gradient (nnabla)."""
    return _extremum(x0, x1, _C.maximum_scalar, _C.maximum2)


def minimum(x0, x1):
    """Elementwise minimum, broadcast; a number on either side uses minimum_scalar. On ties x1 gets the
    gradient (nnabla)."""
    return _extremum(x0, x1, _C.minimum_scalar, _C.minimum2)


def _setitem(self, index, values):
    raise TypeError("nthgrad tensors are immutable: use y = nthgrad.index_put(x, index, values) "
                    "(differentiable) instead of x[index] = values")


def _deepcopy(self, memo):
    """copy.deepcopy(t), as torch's: a leaf becomes a new tensor with a copy of
    its values, its requires_grad and a deep copy of its .grad, of the same
    class (an nn.Parameter stays one); a tensor made by an op is refused."""
    if id(self) in memo:
        return memo[id(self)]
    if not self.is_leaf:
        raise RuntimeError(f"deepcopy: only leaf tensors (made by the user, not by an op) can be deep-copied; this "
                           f"one (shape {tuple(self.shape)}) is the result of an op; deep-copy t.detach() instead")
    values = tensor(np.array(self), dtype=self.dtype)
    new = values if type(self) is Tensor else type(self)(values, self.requires_grad)
    new.requires_grad = self.requires_grad
    memo[id(self)] = new
    if self.grad is not None:
        new.grad = _deepcopy(self.grad, memo)
    return new


def _install_methods():
    from . import functional as F

    DType.__repr__ = lambda self: f"nthgrad.{self.name}"
    DType.__str__ = lambda self: self.name
    Tensor.numpy = _numpy
    Tensor.__repr__ = _repr
    Tensor.__str__ = _repr
    Tensor.backward = _backward
    Tensor.__deepcopy__ = _deepcopy
    Tensor.__matmul__ = _matmul
    Tensor.__rmatmul__ = _rmatmul
    Tensor.__float__ = _float
    Tensor.__int__ = _int
    Tensor.__index__ = _index
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
    Tensor.__getitem__ = _indexing.getitem
    Tensor.__setitem__ = _setitem


from . import functional  # noqa: E402  (functional imports this module)
from . import _indexing  # noqa: E402

_install_methods()
