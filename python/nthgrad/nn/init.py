"""nthgrad.nn.init: fill parameters in place with the initial values of
torch.nn.init (same names, arguments, defaults and formulas).

Each function writes into ``tensor`` (under ``nthgrad.no_grad()``, so it works
on parameters that require grad) and returns it. The random ones take
``generator``: None draws from the global generator (``nthgrad.manual_seed``
makes it reproducible), an int >= 0 a fresh generator with that seed (the same
seed gives the same values), an ``nthgrad.Generator`` that generator
(advanced). The numbers come from nthgrad's own Philox samplers
(``F.rand``/``F.randn``), so a seed gives the same values on every machine.

Fans are computed as torch computes them, for torch's weight layouts: a
tensor of shape (out, in, *kernel) has fan_in = in * prod(kernel) and
fan_out = out * prod(kernel); a 2-D (out, in) weight has fan_in = in. A layer
that stores its weight in another layout (``F.affine``'s (in, out)) gets the
fans of the transposed shape: initialize the (out, in) view, or pass
``mode='fan_out'`` for kaiming.

    import nthgrad as ng
    import nthgrad.nn as nn

    w = nn.Parameter(ng.zeros((64, 32, 3, 3)))          # (out, in, kh, kw)
    nn.init.kaiming_uniform_(w, a=5 ** 0.5, generator=0)  # U(-b, b), b = gain * sqrt(3 / (32 * 9))
    nn.init.zeros_(nn.Parameter(ng.zeros((64,))))
"""
import math
import numbers

import numpy as np

from .._C import Tensor, DType, Generator
from ..autograd import no_grad
from ..random import rand, randn

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_", "eye_",
           "xavier_uniform_", "xavier_normal_", "glorot_uniform_", "glorot_normal_", "kaiming_uniform_",
           "kaiming_normal_", "he_uniform_", "he_normal_", "orthogonal_"]

_FLOATS = (DType.float32, DType.float64)
_UNIT_GAIN = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
              "sigmoid")


# ---- helpers ----
def _check_tensor(fn, tensor):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: tensor must be an nthgrad Tensor (or nn.Parameter), got {type(tensor).__name__}")
    if tensor.dtype not in _FLOATS:
        raise TypeError(f"{fn}: tensor must be float32 or float64, got {tensor.dtype} of shape {tuple(tensor.shape)}")


def _seed(fn, generator):
    """`generator` as the `seed` argument of the samplers: -1 for the global
    generator, an int >= 0, or a Generator."""
    if generator is None:
        return -1
    if isinstance(generator, Generator):
        return generator
    if isinstance(generator, bool) or not isinstance(generator, numbers.Integral) or generator < 0:
        raise TypeError(f"{fn}: generator must be None, an int seed >= 0 or an nthgrad.Generator, got {generator!r}")
    return int(generator)


def _generator(fn, generator):
    """A Generator object, for functions that draw more than once (an int seed
    must not restart between the draws)."""
    seed = _seed(fn, generator)
    return seed if isinstance(seed, Generator) or seed == -1 else Generator(seed)


def _check_number(fn, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r}")
    return float(value)


def _write(tensor, values):
    """Copies `values` (a Tensor or an array) into `tensor` in place; returns tensor."""
    from .._tensor import tensor as make_tensor
    if not isinstance(values, Tensor):
        values = make_tensor(np.ascontiguousarray(values), dtype=tensor.dtype)
    with no_grad():
        tensor.copy_(values.astype(tensor.dtype) if values.dtype != tensor.dtype else values)
    return tensor


def _uniform(fn, tensor, a, b, generator):
    if tensor.numel() == 0:
        return tensor
    if a == b:  # the samplers need low < high; a point mass is a constant
        return _write(tensor, np.full(tensor.shape, a))
    return _write(tensor, rand(a, b, tensor.shape, _seed(fn, generator), dtype=tensor.dtype))


def _normal(fn, tensor, mean, std, generator):
    if tensor.numel() == 0:
        return tensor
    return _write(tensor, randn(mean, std, tensor.shape, _seed(fn, generator), dtype=tensor.dtype))


def _calculate_fan_in_and_fan_out(tensor, fn="_calculate_fan_in_and_fan_out"):
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel), as torch:
    (in * prod(kernel), out * prod(kernel)). Fewer than 2 dims is a ValueError."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError(f"{fn}: fan in and fan out need a tensor of at least 2 dims (out, in, *kernel), "
                         f"got shape {shape}")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(fn, tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{fn}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, fn)
    return fan_in if mode == "fan_in" else fan_out


# ---- gains ----
def calculate_gain(nonlinearity, param=None):
    """The recommended gain (scale of the std) for a nonlinearity, as torch:
    1 for linear, conv*, conv_transpose* and sigmoid; 5/3 for tanh; sqrt(2)
    for relu; sqrt(2 / (1 + slope**2)) for leaky_relu (slope ``param``,
    default 0.01); 3/4 for selu.

        nn.init.calculate_gain("relu")              # 1.4142...
        nn.init.calculate_gain("leaky_relu", 0.2)   # 1.3867...
    """
    if nonlinearity in _UNIT_GAIN:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, numbers.Real):
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{', '.join(_UNIT_GAIN)}, tanh, relu, leaky_relu, selu")


# ---- plain distributions and constants ----
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fills ``tensor`` (any shape) with U(a, b) samples (a <= b); returns it.

        w = nn.init.uniform_(ng.zeros((3, 5)), -0.1, 0.1, generator=0)   # (3, 5)
    """
    _check_tensor("uniform_", tensor)
    a, b = _check_number("uniform_", "a", a), _check_number("uniform_", "b", b)
    if a > b:
        raise ValueError(f"uniform_: a must be <= b, got a={a}, b={b}")
    return _uniform("uniform_", tensor, a, b, generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fills ``tensor`` (any shape) with N(mean, std**2) samples (std >= 0); returns it.

        w = nn.init.normal_(ng.zeros((3, 5)), std=0.02, generator=0)   # (3, 5)
    """
    _check_tensor("normal_", tensor)
    mean, std = _check_number("normal_", "mean", mean), _check_number("normal_", "std", std)
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return _normal("normal_", tensor, mean, std, generator)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fills ``tensor`` (any shape) with N(mean, std**2) samples restricted to
    [a, b] (a < b, absolute bounds as torch); returns it.

    torch maps uniforms through the inverse normal CDF; this redraws the
    samples that fall outside [a, b] (rejection), which gives the same
    distribution but other numbers for a seed. The interval must hold at
    least 1e-4 of the probability, or the redraws would not end quickly.

        w = nn.init.trunc_normal_(ng.zeros((768, 768)), std=0.02, a=-0.04, b=0.04, generator=0)
    """
    fn = "trunc_normal_"
    _check_tensor(fn, tensor)
    mean, std = _check_number(fn, "mean", mean), _check_number(fn, "std", std)
    a, b = _check_number(fn, "a", a), _check_number(fn, "b", b)
    if std <= 0 or a >= b:
        raise ValueError(f"{fn}: needs std > 0 and a < b, got std={std}, a={a}, b={b}")
    mass = 0.5 * (math.erf((b - mean) / (std * math.sqrt(2))) - math.erf((a - mean) / (std * math.sqrt(2))))
    if mass < 1e-4:
        raise ValueError(f"{fn}: [a, b] = [{a}, {b}] holds only {mass:.2e} of N({mean}, {std}**2); "
                         "need at least 1e-4")
    n = tensor.numel()
    if n == 0:
        return tensor
    source = _generator(fn, generator)
    values = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        draws = randn(mean, std, (todo.size,), source, dtype="float64").numpy()
        inside = (draws >= a) & (draws <= b)
        values[todo[inside]] = draws[inside]
        todo = todo[~inside]
    return _write(tensor, values.reshape(tensor.shape))


def constant_(tensor, val):
    """Fills ``tensor`` (any shape) with ``val``; returns it.

        b = nn.init.constant_(ng.zeros((8,)), 0.1)   # (8,), every entry 0.1
    """
    _check_tensor("constant_", tensor)
    return _write(tensor, np.full(tensor.shape, _check_number("constant_", "val", val)))


def zeros_(tensor):
    """Fills ``tensor`` (any shape) with 0; returns it.

        b = nn.init.zeros_(ng.ones((8,)))   # (8,) of zeros
    """
    _check_tensor("zeros_", tensor)
    return _write(tensor, np.zeros(tensor.shape))


def ones_(tensor):
    """Fills ``tensor`` (any shape) with 1; returns it.

        g = nn.init.ones_(ng.zeros((8,)))   # (8,) of ones
    """
    _check_tensor("ones_", tensor)
    return _write(tensor, np.ones(tensor.shape))


def eye_(tensor):
    """Fills a 2-D ``tensor`` (rows, cols) with the identity (ones on the
    main diagonal, rectangular shapes allowed); returns it.

        w = nn.init.eye_(ng.zeros((3, 4)))   # [[1,0,0,0],[0,1,0,0],[0,0,1,0]]
    """
    _check_tensor("eye_", tensor)
    if tensor.ndim != 2:
        raise ValueError(f"eye_: tensor must have 2 dims, got shape {tuple(tensor.shape)}")
    return _write(tensor, np.eye(*tensor.shape))


# ---- fan-based initializations ----
def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot/Xavier uniform: U(-bound, bound) with bound = gain *
    sqrt(6 / (fan_in + fan_out)); ``tensor`` has >= 2 dims (out, in, *kernel).

        w = nn.init.xavier_uniform_(ng.zeros((20, 10)), generator=0)   # bound sqrt(6 / 30)
    """
    _check_tensor("xavier_uniform_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, "xavier_uniform_")
    gain = _check_number("xavier_uniform_", "gain", gain)
    bound = abs(math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out))) if fan_in + fan_out else 0.0
    return _uniform("xavier_uniform_", tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot/Xavier normal: N(0, std**2) with std = gain * sqrt(2 / (fan_in +
    fan_out)); ``tensor`` has >= 2 dims (out, in, *kernel).

        w = nn.init.xavier_normal_(ng.zeros((20, 10)), generator=0)   # std sqrt(2 / 30)
    """
    _check_tensor("xavier_normal_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, "xavier_normal_")
    gain = _check_number("xavier_normal_", "gain", gain)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return _normal("xavier_normal_", tensor, 0.0, abs(std), generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He/Kaiming uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan),
    gain = ``calculate_gain(nonlinearity, a)`` (``a``: the negative slope of
    leaky_relu), fan = fan_in or fan_out by ``mode``; ``tensor`` has >= 2 dims
    (out, in, *kernel). torch's Linear and Conv default is ``a=sqrt(5)``.

        w = nn.init.kaiming_uniform_(ng.zeros((16, 8, 3)), nonlinearity="relu", generator=0)  # bound sqrt(6 / 24)
    """
    _check_tensor("kaiming_uniform_", tensor)
    fan = _fan("kaiming_uniform_", tensor, mode)
    if tensor.numel() == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return _uniform("kaiming_uniform_", tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He/Kaiming normal: N(0, std**2) with std = gain / sqrt(fan), gain and
    fan as in ``kaiming_uniform_``; ``tensor`` has >= 2 dims (out, in, *kernel).

        w = nn.init.kaiming_normal_(ng.zeros((16, 8, 3)), mode="fan_out", nonlinearity="relu", generator=0)
    """
    _check_tensor("kaiming_normal_", tensor)
    fan = _fan("kaiming_normal_", tensor, mode)
    if tensor.numel() == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _normal("kaiming_normal_", tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2013), as torch:
    ``tensor`` (>= 2 dims) is seen as (rows, cols) = (shape[0], prod(shape[1:]));
    the Q of the QR factorization of a Gaussian matrix, with each column's
    sign set so that R's diagonal is positive (which makes Q uniform over the
    orthogonal matrices), fills it. Then Q^T Q = gain**2 I when rows >= cols,
    Q Q^T = gain**2 I otherwise. The Gaussian draw is nthgrad's; the QR is
    NumPy's (LAPACK), in float64.

        w = nn.init.orthogonal_(ng.zeros((6, 4)), generator=0)   # (6, 4), w^T w = I_4
    """
    fn = "orthogonal_"
    _check_tensor(fn, tensor)
    if tensor.ndim < 2:
        raise ValueError(f"{fn}: only tensors with 2 or more dims are supported, got shape {tuple(tensor.shape)}")
    gain = _check_number(fn, "gain", gain)
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    gaussian = randn(0.0, 1.0, (rows, cols), _seed(fn, generator), dtype="float64").numpy()
    if rows < cols:
        gaussian = gaussian.T
    q, r = np.linalg.qr(gaussian)
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    if rows < cols:
        q = q.T
    return _write(tensor, (gain * q).reshape(tensor.shape))


# nnabla / Keras names
glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_
