"""Linear, Identity, Flatten, Unflatten; and the private helpers the other
layer files share (float dtype argument, torch's default initialisation,
int-or-tuple arguments, input checks).

    import nthgrad as ng
    import nthgrad.nn as nn

    fc = nn.Linear(4, 2)
    y = fc(ng.ones((5, 4)))       # (5, 2)
"""
import math
import numbers

from .. import _C
from .. import functional as F
from .._C import Tensor, DType
from .._tensor import _resolve_dtype
from .module import Module, Parameter

__all__ = ["Linear", "Identity", "Flatten", "Unflatten"]


# ---- helpers shared by the layer files ----
# An `owner` in a message is a layer name ("Linear") or the layer itself: its
# repr, e.g. "Linear(in_features=4, out_features=2, bias=True)", is then only
# formatted when an error is raised, not on every forward.

def _float_dtype(owner, dtype):
    """The DType of a layer's ``dtype=`` argument: float32 or float64."""
    try:
        resolved = _resolve_dtype(dtype)
    except (TypeError, ValueError, KeyError):
        resolved = None
    if resolved not in (DType.float32, DType.float64):
        raise TypeError(f"{owner}: dtype must be nthgrad.float32 or nthgrad.float64, got {dtype!r}")
    return resolved


def _uniform_parameter(shape, bound, dtype):
    """A Parameter drawn from U(-bound, bound) with the global generator
    (``ng.manual_seed`` makes it reproducible); bound 0 gives zeros."""
    if bound <= 0:
        return Parameter(_C.constant(0.0, list(shape), dtype))
    return Parameter(F.rand(-bound, bound, list(shape), seed=-1, dtype=dtype))


def _fan_in_bound(fan_in):
    """torch's default bound for Linear/Conv weights and biases, 1/sqrt(fan_in)
    (kaiming_uniform with a=sqrt(5) gives the same bound for the weight)."""
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


def _check_int(owner, name, value, minimum=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _ntuple(owner, name, value, n, minimum=None):
    """An int or a sequence of n ints as a tuple of n ints (torch's _pair etc.)."""
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{owner}: {name} must be an int or {n} ints, got {value!r}")
        return tuple(_check_int(owner, name, v, minimum) for v in value)
    return (_check_int(owner, name, value, minimum),) * n


def _check_tensor(owner, x, name="input"):
    """Refuses a non-Tensor or a non-float input before any op sees it."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner}: {name} must be an nthgrad Tensor, got {type(x).__name__}")
    if x.dtype not in (DType.float32, DType.float64):
        raise TypeError(f"{owner}: {name} must be float32 or float64, got {x.dtype} of shape {tuple(x.shape)}")


def _check_same_dtype(owner, x, param):
    if x.dtype != param.dtype:
        raise TypeError(f"{owner}: input is {x.dtype} but the parameters are {param.dtype}; cast the input with "
                        f".astype() or the module with .float()/.double()")


# ---- layers ----

class Linear(Module):
    """y = x W^T + b, as ``torch.nn.Linear``.

    Shapes: input (*, in_features) -> output (*, out_features).
    Parameters: ``weight`` (out_features, in_features) in torch's layout (a
    torch state dict loads directly; nnabla's ``F.affine`` wants the
    transpose, (in, out)), ``bias`` (out_features,) or None. Both are drawn
    from U(-1/sqrt(in_features), 1/sqrt(in_features)) as torch does.

    The forward is ``F.linear(x, W, b)``: one GEMM that reads W transposed
    (no copy, unlike ``F.affine(x, W.T, b)``) with the bias written first.

        fc = nn.Linear(4, 2)
        y = fc(ng.ones((5, 4)))       # (5, 2)
        y = fc(ng.ones((3, 7, 4)))    # (3, 7, 2)
    """

    def __init__(self, in_features, out_features, bias=True, dtype=DType.float32):
        super().__init__()
        self.in_features = _check_int("Linear", "in_features", in_features, 0)
        self.out_features = _check_int("Linear", "out_features", out_features, 0)
        dtype = _float_dtype("Linear", dtype)
        bound = _fan_in_bound(self.in_features)
        self.weight = _uniform_parameter((self.out_features, self.in_features), bound, dtype)
        if bias:
            self.bias = _uniform_parameter((self.out_features,), bound, dtype)
        else:
            self.register_parameter("bias", None)

    def forward(self, input):
        _check_tensor(self, input)
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            got = "no last axis" if input.ndim == 0 else f"{input.shape[-1]} features in its last axis"
            raise ValueError(f"{self}: input of shape {tuple(input.shape)} has {got}, expected {self.in_features}")
        _check_same_dtype(self, input, self.weight)
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (``torch.nn.Identity``); constructor
    arguments are accepted and ignored, as torch.

    Shapes: input (*) -> output (*), the same tensor.

        nn.Identity()(ng.ones((2, 3)))   # (2, 3)
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    """Flattens axes start_dim..end_dim into one (``torch.nn.Flatten``).

    Shapes: input (*, S_start, ..., S_end, *) -> (*, prod(S_start..S_end), *);
    by default (N, *) -> (N, prod(*)). A reshape: shares memory.

        nn.Flatten()(ng.ones((32, 8, 4, 4)))   # (32, 128)
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = _check_int("Flatten", "start_dim", start_dim)
        self.end_dim = _check_int("Flatten", "end_dim", end_dim)

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{self}: input must be an nthgrad Tensor, got {type(input).__name__}")
        shape = tuple(input.shape)
        rank = max(len(shape), 1)  # torch flattens a scalar to (1,)
        start = self.start_dim + rank if self.start_dim < 0 else self.start_dim
        end = self.end_dim + rank if self.end_dim < 0 else self.end_dim
        if not (0 <= start < rank and 0 <= end < rank) or start > end:
            raise ValueError(f"{self}: dims out of range or reversed for an input of shape {shape}")
        if not shape:
            return F.reshape(input, (1,))
        return F.reshape(input, shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Unfolds axis ``dim`` into ``unflattened_size`` (``torch.nn.Unflatten``).

    Shapes: input (*, S_dim, *) -> (*, U_1, ..., U_k, *) with
    prod(U) == S_dim (one U may be -1). A reshape: shares memory.

        nn.Unflatten(1, (8, 4, 4))(ng.ones((32, 128)))   # (32, 8, 4, 4)
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = _check_int("Unflatten", "dim", dim)
        if not isinstance(unflattened_size, (tuple, list)) or not unflattened_size:
            raise TypeError(f"Unflatten: unflattened_size must be a non-empty tuple of ints, got "
                            f"{unflattened_size!r}")
        self.unflattened_size = tuple(_check_int("Unflatten", "unflattened_size", s, -1) for s in unflattened_size)

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{self}: input must be an nthgrad Tensor, got {type(input).__name__}")
        shape = tuple(input.shape)
        dim = self.dim + len(shape) if self.dim < 0 else self.dim
        if not 0 <= dim < len(shape):
            raise ValueError(f"{self}: dim {self.dim} is out of range for an input of shape {shape}")
        sizes = self.unflattened_size
        known = math.prod(s for s in sizes if s != -1)
        # -1 is inferred from the other sizes: impossible when they hold a 0 (any size would do, as torch says)
        fits = shape[dim] % known == 0 if -1 in sizes and known else shape[dim] == known and -1 not in sizes
        if sizes.count(-1) > 1 or not fits:
            raise ValueError(f"{self}: cannot unfold axis {dim} of size {shape[dim]} (input shape {shape}) into "
                             f"{sizes}")
        if -1 in sizes:
            sizes = tuple(shape[dim] // known if s == -1 else s for s in sizes)
        return F.reshape(input, shape[:dim] + sizes + shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
