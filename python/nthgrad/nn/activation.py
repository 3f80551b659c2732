"""Activations as modules, one per activation of the technical note
(section 4), each a call of the nnabla op in ``nthgrad.functional``. Class
names are torch's where torch has the function (Sigmoid, SiLU, ReLU, ...),
nnabla's otherwise (CReLU, Sinc). Where nnabla's function differs from
torch's namesake (Hardsigmoid's slope, GELU's tanh form, CELU), the module
computes nnabla's and its docstring says how it differs.

``inplace`` arguments are accepted and ignored (nthgrad tensors are
immutable), as nnabla's functions ignore theirs.

    act = nn.ReLU()
    y = act(ng.tensor([-1.0, 2.0]))      # [0., 2.]
"""
import numbers

from .. import functional as F
from .._C import DType
from .._tensor import full, where
from .linear import _check_int, _check_tensor, _check_same_dtype, _float_dtype
from .module import Module, Parameter

__all__ = ["Sigmoid", "SiLU", "Swish", "Tanh", "ReLU", "LeakyReLU", "Softmax", "LogSoftmax", "ELU", "SELU", "CReLU",
           "CELU", "PReLU", "GELU", "Mish", "ReLU6", "Hardsigmoid", "Hardtanh", "LogSigmoid", "Softplus", "Softsign",
           "Tanhshrink", "Sinc"]


def _check_real(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    return float(value)


class _Activation(Module):
    """An activation without parameters: forward checks the input and calls
    ``_apply``; subclasses set ``_apply`` (and ``extra_repr``)."""

    def forward(self, input):
        _check_tensor(self, input)
        return self._apply(input)


class Sigmoid(_Activation):
    """1 / (1 + exp(-x)) elementwise (``F.sigmoid``; torch.nn.Sigmoid).

    Shapes: input (*) -> output (*).

        nn.Sigmoid()(ng.zeros((2, 3)))    # 0.5 everywhere, (2, 3)
    """

    def _apply(self, x):
        return F.sigmoid(x)


class SiLU(_Activation):
    """x * sigmoid(x) elementwise (``F.swish``; torch.nn.SiLU). Also exported as ``Swish``.

    Shapes: input (*) -> output (*).

        nn.SiLU()(ng.ones((2, 3)))        # 0.7311 everywhere
    """

    def __init__(self, inplace=False):
        super().__init__()

    def _apply(self, x):
        return F.swish(x)


Swish = SiLU


class Tanh(_Activation):
    """tanh(x) elementwise (``F.tanh``; torch.nn.Tanh).

    Shapes: input (*) -> output (*).

        nn.Tanh()(ng.zeros((2,)))         # [0., 0.]
    """

    def _apply(self, x):
        return F.tanh(x)


class ReLU(_Activation):
    """max(0, x) elementwise (``F.relu``; torch.nn.ReLU); the gradient at 0 is 0.

    Shapes: input (*) -> output (*).

        nn.ReLU()(ng.tensor([-1.0, 2.0]))   # [0., 2.]
    """

    def __init__(self, inplace=False):
        super().__init__()

    def _apply(self, x):
        return F.relu(x)


class LeakyReLU(_Activation):
    """x if x > 0 else negative_slope * x (``F.leaky_relu`` with alpha =
    negative_slope; torch.nn.LeakyReLU, torch's default slope 0.01, not
    nnabla's 0.1).

    Shapes: input (*) -> output (*).

        nn.LeakyReLU(0.2)(ng.tensor([-1.0, 2.0]))   # [-0.2, 2.]
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = _check_real("LeakyReLU", "negative_slope", negative_slope)

    def _apply(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class _AlongAxis(_Activation):
    """Softmax and LogSoftmax: an axis ``dim`` checked against the input."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = None if dim is None else _check_int(type(self).__name__, "dim", dim)

    def forward(self, input):
        _check_tensor(self, input)
        if self.dim is not None and not -max(input.ndim, 1) <= self.dim < max(input.ndim, 1):
            raise ValueError(f"{self}: dim {self.dim} is out of range for an input of shape {tuple(input.shape)}")
        if input.ndim == 0:  # torch takes a scalar as a vector of one element (softmax 1, log_softmax 0)
            return F.reshape(self._apply(F.reshape(input, (1,))), ())
        return self._apply(input)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_AlongAxis):
    """exp(x) / sum(exp(x)) along ``dim`` (``F.softmax``; torch.nn.Softmax).
    dim=None means the last axis (nnabla's default; torch guesses an axis
    from the rank and warns): pass dim explicitly.

    Shapes: input (*) -> output (*), summing to 1 along dim (a 0-d input gives 1, as torch).

        nn.Softmax(dim=1)(ng.zeros((2, 4)))    # 0.25 everywhere
    """

    def _apply(self, x):
        return F.softmax(x, self.dim)


class LogSoftmax(_AlongAxis):
    """x - logsumexp(x) along ``dim`` (``F.log_softmax``; torch.nn.LogSoftmax;
    dim=None is the last axis, as Softmax).

    Shapes: input (*) -> output (*).

        nn.LogSoftmax(dim=1)(ng.zeros((2, 4)))   # log(0.25) everywhere
    """

    def _apply(self, x):
        return F.log_softmax(x, self.dim)


class ELU(_Activation):
    """x if x > 0 else alpha (exp(x) - 1) (``F.elu``; torch.nn.ELU).

    Shapes: input (*) -> output (*).

        nn.ELU()(ng.tensor([-1.0, 2.0]))    # [-0.6321, 2.]
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = _check_real("ELU", "alpha", alpha)

    def _apply(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class SELU(_Activation):
    """scale * elu(x, alpha) with torch's constants (``F.selu``; torch.nn.SELU).

    Shapes: input (*) -> output (*).

        nn.SELU()(ng.tensor([1.0]))          # [1.0507]
    """

    def __init__(self, inplace=False):
        super().__init__()

    def _apply(self, x):
        return F.selu(x)


class CReLU(Module):
    """nnabla's concatenated ReLU, concat(relu(x), relu(-x)) along ``axis``
    (``F.crelu``; torch has no such layer).

    Shapes: input (N, C, *) -> output (N, 2C, *) (axis 1), in general the
    size of ``axis`` doubles.

        nn.CReLU()(ng.ones((2, 3)))          # (2, 6)
    """

    def __init__(self, axis=1):
        super().__init__()
        self.axis = _check_int("CReLU", "axis", axis)

    def forward(self, input):
        return _concatenating(self, input, lambda x: F.crelu(x, self.axis))

    def extra_repr(self):
        return f"axis={self.axis}"


class CELU(Module):
    """nnabla's concatenated ELU, concat(elu(x, alpha), elu(-x, alpha)) along
    ``axis`` (``F.celu``). **Not torch's CELU** (max(0, x) + min(0, alpha
    (exp(x / alpha) - 1)), same shape): nnabla's doubles the size of ``axis``.

    Shapes: input (N, C, *) -> output (N, 2C, *) (axis 1).

        nn.CELU()(ng.ones((2, 3)))           # (2, 6)
    """

    def __init__(self, alpha=1.0, axis=1):
        super().__init__()
        self.alpha = _check_real("CELU", "alpha", alpha)
        self.axis = _check_int("CELU", "axis", axis)

    def forward(self, input):
        return _concatenating(self, input, lambda x: F.celu(x, self.alpha, self.axis))

    def extra_repr(self):
        return f"alpha={self.alpha}, axis={self.axis}"


def _concatenating(module, x, apply):
    _check_tensor(module, x)
    if not -x.ndim <= module.axis < x.ndim:
        raise ValueError(f"{module}: axis {module.axis} is out of range for an input of shape {tuple(x.shape)}")
    return apply(x)


class PReLU(Module):
    """x if x >= 0 else a * x with a learnable ``weight`` a (``F.prelu``;
    torch.nn.PReLU): one slope shared by every channel (num_parameters=1) or
    one per channel (num_parameters = C, the input's axis 1; axis 0 for a 1-D
    input), all initialised to ``init``.

    Shapes: input (N, C, *) or (C,) -> output of the same shape; ``weight``
    (num_parameters,).

        act = nn.PReLU(3)
        y = act(ng.ones((2, 3, 4)))          # (2, 3, 4)
    """

    def __init__(self, num_parameters=1, init=0.25, dtype=DType.float32):
        super().__init__()
        self.num_parameters = _check_int("PReLU", "num_parameters", num_parameters, 1)
        init = _check_real("PReLU", "init", init)
        self.weight = Parameter(full((self.num_parameters,), init, dtype=_float_dtype("PReLU", dtype)))

    def forward(self, input):
        _check_tensor(self, input)
        base_axis = 1 if input.ndim >= 2 else 0
        if self.num_parameters != 1 and (input.ndim == 0 or input.shape[base_axis] != self.num_parameters):
            raise ValueError(f"{self}: input of shape {tuple(input.shape)} does not have {self.num_parameters} "
                             f"channels in axis {base_axis}")
        _check_same_dtype(self, input, self.weight)
        return F.prelu(input, self.weight, base_axis)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class GELU(_Activation):
    """Gaussian error linear unit. Default ``approximate='tanh'``, nnabla's
    ``F.gelu``: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). **torch's
    default is the exact form** (approximate='none'), which this module
    computes as 0.5 x (1 + erf(x / sqrt(2))) from ``F.erf`` when asked.

    Shapes: input (*) -> output (*).

        nn.GELU()(ng.tensor([1.0]))                     # [0.8412] (tanh form)
        nn.GELU(approximate="none")(ng.tensor([1.0]))   # [0.8413] (torch's default)
    """

    def __init__(self, approximate="tanh"):
        super().__init__()
        if approximate not in ("tanh", "none"):
            raise ValueError(f"GELU: approximate must be 'tanh' or 'none', got {approximate!r}")
        self.approximate = approximate

    def _apply(self, x):
        if self.approximate == "tanh":
            return F.gelu(x)
        return F.mul_scalar(F.mul2(x, F.add_scalar(F.erf(F.mul_scalar(x, 0.5 ** 0.5)), 1.0)), 0.5)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Mish(_Activation):
    """x tanh(softplus(x)) elementwise (``F.mish``; torch.nn.Mish).

    Shapes: input (*) -> output (*).

        nn.Mish()(ng.tensor([1.0]))          # [0.8651]
    """

    def __init__(self, inplace=False):
        super().__init__()

    def _apply(self, x):
        return F.mish(x)


class ReLU6(_Activation):
    """min(max(0, x), 6) elementwise (``F.relu6``; torch.nn.ReLU6).

    Shapes: input (*) -> output (*).

        nn.ReLU6()(ng.tensor([-1.0, 7.0]))   # [0., 6.]
    """

    def __init__(self, inplace=False):
        super().__init__()

    def _apply(self, x):
        return F.relu6(x)


class Hardsigmoid(_Activation):
    """nnabla's hard sigmoid, clip(0.2 x + 0.5, 0, 1) (``F.hard_sigmoid``).
    **torch's Hardsigmoid has slope 1/6**: clip(x / 6 + 0.5, 0, 1).

    Shapes: input (*) -> output (*).

        nn.Hardsigmoid()(ng.tensor([0.0, 1.0]))   # [0.5, 0.7]
    """

    def __init__(self, inplace=False):
        super().__init__()

    def _apply(self, x):
        return F.hard_sigmoid(x)


class Hardtanh(_Activation):
    """clip(x, -1, 1) elementwise (``F.hard_tanh``; torch.nn.Hardtanh with its
    defaults; other min_val/max_val raise NotImplementedError: nnabla's op has
    fixed bounds). The gradient is 1 on [-1, 1] including the ends (nnabla;
    torch gives 0 at the ends).

    Shapes: input (*) -> output (*).

        nn.Hardtanh()(ng.tensor([-2.0, 0.5]))   # [-1., 0.5]
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if (min_val, max_val) != (-1.0, 1.0):
            raise NotImplementedError(f"Hardtanh: only min_val=-1, max_val=1 (nnabla's hard_tanh), got "
                                      f"min_val={min_val!r}, max_val={max_val!r}")
        self.min_val, self.max_val = -1.0, 1.0

    def _apply(self, x):
        return F.hard_tanh(x)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class LogSigmoid(_Activation):
    """log(sigmoid(x)) elementwise, stable (``F.log_sigmoid``; torch.nn.LogSigmoid).

    Shapes: input (*) -> output (*).

        nn.LogSigmoid()(ng.zeros((1,)))     # [-0.6931]
    """

    def _apply(self, x):
        return F.log_sigmoid(x)


class Softplus(_Activation):
    """log(1 + exp(beta x)) / beta (``F.softplus``, stable for every x;
    torch.nn.Softplus), and x where beta x > ``threshold``, as torch (there
    the gradient is 1). A negative beta is -softplus(-x, -beta), as torch.

    Shapes: input (*) -> output (*).

        nn.Softplus()(ng.zeros((1,)))                    # [0.6931]
        nn.Softplus(threshold=1)(ng.tensor([1.5]))       # [1.5] (x above the threshold)
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = _check_real("Softplus", "beta", beta)
        if self.beta == 0:
            raise ValueError("Softplus: beta must be nonzero")
        self.threshold = _check_real("Softplus", "threshold", threshold)

    def _apply(self, x):
        if self.beta > 0:
            y = F.softplus(x, self.beta)
        else:  # the op takes beta > 0: log(1 + exp(-b x)) / -b = -softplus(-x, b)
            y = F.mul_scalar(F.softplus(F.mul_scalar(x, -1.0), -self.beta), -1.0)
        return where(F.greater_scalar(F.mul_scalar(x, self.beta), self.threshold), x, y)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(_Activation):
    """x / (1 + |x|) elementwise (``F.softsign``; torch.nn.Softsign).

    Shapes: input (*) -> output (*).

        nn.Softsign()(ng.tensor([1.0]))     # [0.5]
    """

    def _apply(self, x):
        return F.softsign(x)


class Tanhshrink(_Activation):
    """x - tanh(x) elementwise (``F.tanh_shrink``; torch.nn.Tanhshrink).

    Shapes: input (*) -> output (*).

        nn.Tanhshrink()(ng.zeros((1,)))     # [0.]
    """

    def _apply(self, x):
        return F.tanh_shrink(x)


class Sinc(_Activation):
    """nnabla's unnormalized sinc, sin(x) / x with 1 at 0 (``F.sinc``; torch
    has no layer, and torch.sinc is the normalized sin(pi x) / (pi x)).

    Shapes: input (*) -> output (*).

        nn.Sinc()(ng.zeros((1,)))           # [1.]
    """

    def _apply(self, x):
        return F.sinc(x)
