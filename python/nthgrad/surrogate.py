"""Surrogate gradients: a Heaviside spike forward, a smooth derivative
backward -- the threshold functions of Norse (``norse.torch.functional``)
under their names, and the surrogates of snnTorch (``snntorch.surrogate``).

Forward: H(x) = 1 where x > 0 else 0 (H(0) = 0), in x's dtype. Backward:
g * sigma'(x; alpha), where sigma' is built from differentiable ops of x and
alpha, never from the spikes, so second and higher derivatives follow, and a
tensor alpha that requires grad receives the meta-gradient d/d alpha of a
first-order gradient (H itself does not depend on alpha).

    import nthgrad as ng
    from nthgrad import surrogate

    v = ng.tensor([-0.2, 0.0, 0.3], requires_grad=True)
    z = surrogate.super_fn(v, 100.0)                 # [0., 0., 1.]
    (g,) = ng.grad(z.sum(), [v])                     # 1 / (100 |v| + 1)^2

    alpha = ng.tensor(100.0, requires_grad=True)     # a learnable surrogate width
    (g,) = ng.grad(surrogate.threshold(v, "super", alpha).sum(), [v], create_graph=True)
    (g_alpha,) = ng.grad(g.sum(), [alpha])           # d/d alpha of the first-order gradient

The table of sigma' (docs/surrogate_gradients.md explains each):

=================================  ==================  ==================================
function                           forward             sigma'(x)
=================================  ==================  ==================================
``heavi_erfc_fn(x, k)``            H(x)                2 exp(-(k x)^2) / sqrt(pi)
``heavi_tanh_fn(x, k)``            H(x)                1 - tanh^2(k x)
``heavi_circ_fn(x, alpha)``        H(x)                alpha^3 / (x^2 + alpha^2)^1.5
``triangle_fn(x, alpha=0.3)``      H(x)                alpha max(0, 1 - |x|)
``super_fn(x, alpha=100.0)``       H(x)                1 / (alpha |x| + 1)^2
``logistic_fn(x, k)``              Bernoulli(1/2 + tanh(k x)/2)      as heavi_tanh
``circ_dist_fn(x, alpha)``         Bernoulli(1/2 + x/(2 sqrt(x^2+alpha^2)))  as heavi_circ
``atan(alpha=2.0)``                H(x)                (alpha/2) / (1 + (pi alpha x / 2)^2)
``fast_sigmoid(slope=25)``         H(x)                1 / (slope |x| + 1)^2
``sigmoid(slope=25)``              H(x)                slope s (1 - s), s = sigmoid(slope x)
``straight_through()``             H(x)                1
``spike_rate_escape(beta, slope)`` H(x)                slope exp(-beta |x - 1|)
=================================  ==================  ==================================

Shapes: every function maps x of any shape to spikes of the same shape and
dtype; alpha (k, slope) is a number or a tensor that broadcasts to x.
"""
import numbers

from . import _C
from ._C import Tensor
from .autograd import no_grad

__all__ = ["heavi_erfc_fn", "heavi_tanh_fn", "heavi_circ_fn", "triangle_fn", "super_fn", "logistic_fn",
           "circ_dist_fn", "threshold", "sign", "atan", "fast_sigmoid", "sigmoid", "straight_through",
           "spike_rate_escape", "custom", "derivative", "THRESHOLD_METHODS"]


def _number(alpha):
    """A NumPy scalar (np.float32(2.0), np.int64(3)) as a Python float; anything else as given."""
    if isinstance(alpha, numbers.Real) and not isinstance(alpha, (bool, Tensor)):
        return float(alpha)
    return alpha


def _check(fn, x, alpha, name="alpha"):
    """x a floating tensor, alpha a number or a tensor: TypeErrors naming the function (what the op's binding
    would report as 'incompatible function arguments' or, in the stochastic forwards, not at all)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: x must be an nthgrad Tensor, got {type(x).__name__}")
    if x.dtype.name not in ("float32", "float64"):
        raise TypeError(f"{fn}: x must be float32 or float64, got {x.dtype.name}")
    if isinstance(alpha, bool) or not isinstance(alpha, (Tensor, numbers.Real)):
        raise TypeError(f"{fn}: {name} must be a number or a tensor, got {type(alpha).__name__}")


def _spike(x, method, alpha, z=None, beta=1.0, fn=None):
    if fn is not None:
        _check(fn, x, alpha)
    return _C.surrogate_heaviside(x, method, _number(alpha), z, _number(beta))


def heavi_erfc_fn(x, k):
    """H(x) forward; backward 2 exp(-(k x)^2) / sqrt(pi) (Norse's code: the
    derivative of erfc's step, without the factor k of d/dx erf(k x) / 2).
    x: any shape -> spikes of x's shape.

        z = heavi_erfc_fn(v, 4.0)
    """
    return _spike(x, "heavi_erfc", k, fn="heavi_erfc_fn")


def heavi_tanh_fn(x, k):
    """H(x) forward; backward 1 - tanh^2(k x), the derivative of tanh(k x)
    without its factor k (as Norse computes it). x: any shape -> same shape.

        z = heavi_tanh_fn(v, 10.0)
    """
    return _spike(x, "tanh", k, fn="heavi_tanh_fn")


def heavi_circ_fn(x, alpha):
    """H(x) forward; backward alpha^3 / (x^2 + alpha^2)^1.5, alpha times the
    derivative of the smooth step 1/2 + x / (2 sqrt(x^2 + alpha^2)) up to its
    factor 1/2 (Norse's code). x: any shape -> same shape.

        z = heavi_circ_fn(v, 0.1)
    """
    return _spike(x, "circ", alpha, fn="heavi_circ_fn")


def triangle_fn(x, alpha=0.3):
    """H(x) forward; backward alpha max(0, 1 - |x|), a triangle of height
    alpha on [-1, 1] (Norse's code; its docstring's width alpha is not what
    the code does). x: any shape -> same shape.

        z = triangle_fn(v)
    """
    return _spike(x, "triangle", alpha, fn="triangle_fn")


def super_fn(x, alpha=100.0):
    """SuperSpike (Zenke and Ganguli): H(x) forward; backward
    1 / (alpha |x| + 1)^2, the derivative of the fast sigmoid
    x / (1 + alpha |x|) up to its factor alpha. x: any shape -> same shape.

        z = super_fn(v - 1.0)           # a LIF threshold at v = 1
    """
    return _spike(x, "super", alpha, fn="super_fn")


def _bernoulli(p, like, seed):
    """Spikes 1 with probability p (elementwise), drawn with nthgrad's generator; like's shape and dtype."""
    from .random import rand
    u = rand(0, 1, tuple(like.shape), seed, dtype=like.dtype.name)
    return (u < p).astype(like.dtype)


def logistic_fn(x, k, seed=-1):
    """Stochastic spikes z ~ Bernoulli(1/2 + tanh(k x)/2), drawn with
    nthgrad's Philox generator (``seed``: -1 the global generator, an int a
    fresh one, or an ``ng.Generator``), so a seed reproduces them; backward as
    heavi_tanh_fn: 1 - tanh^2(k x). x: any shape -> same shape.

        z = logistic_fn(v, 10.0, seed=0)
    """
    _check("logistic_fn", x, k, "k")
    with no_grad():
        p = 0.5 + 0.5 * _C.tanh(x.detach() * _number(k))
    return _spike(x, "tanh", k, _bernoulli(p, x, seed))


def circ_dist_fn(x, alpha, seed=-1):
    """Stochastic spikes z ~ Bernoulli(1/2 + x / (2 sqrt(x^2 + alpha^2))),
    seeded as logistic_fn; backward as heavi_circ_fn. x: any shape -> same.

        z = circ_dist_fn(v, 0.1, seed=0)
    """
    _check("circ_dist_fn", x, alpha)
    alpha = _number(alpha)
    with no_grad():
        xd = x.detach()
        p = 0.5 + 0.5 * xd / (xd * xd + alpha * alpha) ** 0.5
    return _spike(x, "circ", alpha, _bernoulli(p, x, seed))


# Norse's threshold methods -> the op's surrogate
THRESHOLD_METHODS = {"heaviside": "heaviside", "super": "super", "triangle": "triangle", "tanh": "tanh",
                     "circ": "circ", "heavi_erfc": "heavi_erfc"}


def threshold(x, method, alpha):
    """Norse's dispatch: H(x) with the surrogate of ``method`` ("heaviside":
    none, a zero gradient; "super", "triangle", "tanh", "circ", "heavi_erfc")
    and width ``alpha`` (a number or a tensor, learnable). x: any shape ->
    spikes of x's shape.

        z = threshold(v - v_th, "super", 100.0)
    """
    if not isinstance(method, str) or method not in THRESHOLD_METHODS:
        raise ValueError(f"threshold: unknown method {method!r}; the methods are "
                         + ", ".join(repr(m) for m in THRESHOLD_METHODS))
    return _spike(x, THRESHOLD_METHODS[method], alpha, fn="threshold")


def sign(x, method, alpha):
    """2 threshold(x, method, alpha) - 1: spikes of -1 and +1, the surrogate
    gradient doubled. x: any shape -> same shape.

        s = sign(v, "tanh", 10.0)
    """
    return 2.0 * threshold(x, method, alpha) - 1.0


def derivative(x, method, alpha=1.0, beta=1.0):
    """sigma'(x; alpha, beta) of a surrogate method (any of the op's:
    "super", "fast_sigmoid", "triangle", "tanh", "circ", "heavi_erfc",
    "atan", "sigmoid", "straight_through", "spike_rate_escape", "heaviside")
    as a differentiable tensor of x's shape -- for plots and checks.

        s = derivative(F.linspace(-1, 1, 101), "atan", 2.0)     # import nthgrad.functional as F
    """
    return _C.surrogate_derivative(x, method, _number(alpha), _number(beta))


class _Surrogate:
    """A spike function of snnTorch's kind: ``spike = atan(2.0)`` then
    ``z = spike(x)`` (x: any shape -> spikes of x's shape)."""

    def __init__(self, name, method, alpha, beta=1.0):
        self.name, self.method, self.alpha, self.beta = name, method, alpha, beta

    def __call__(self, x):
        return _spike(x, self.method, self.alpha, None, self.beta, fn=f"surrogate.{self.name}")

    def __repr__(self):
        return f"surrogate.{self.name}"


def atan(alpha=2.0):
    """snnTorch's arctangent surrogate: H(x) forward, backward
    (alpha/2) / (1 + (pi alpha x / 2)^2), the derivative of
    arctan(pi alpha x / 2) / pi.

        spike = atan(alpha=2.0)
        z = spike(mem - 1.0)
    """
    return _Surrogate(f"atan(alpha={alpha})", "atan", alpha)


def fast_sigmoid(slope=25):
    """snnTorch's fast sigmoid: backward 1 / (slope |x| + 1)^2 (SuperSpike).

        spike = fast_sigmoid(slope=25)
    """
    return _Surrogate(f"fast_sigmoid(slope={slope})", "fast_sigmoid", slope)


def sigmoid(slope=25):
    """snnTorch's sigmoid surrogate: backward slope e^(-slope x) /
    (1 + e^(-slope x))^2, computed as slope s (1 - s) with s =
    sigmoid(slope x), finite for every input (0 at x = -1000 in float32).

        spike = sigmoid(slope=25)
    """
    return _Surrogate(f"sigmoid(slope={slope})", "sigmoid", slope)


def straight_through():
    """The straight-through estimator: H(x) forward, backward the identity
    (sigma' = 1); its second derivative is zero (returned as zeros).

        spike = straight_through()
    """
    return _Surrogate("straight_through()", "straight_through", 1.0)


def spike_rate_escape(beta=1, slope=25):
    """snnTorch's spike rate escape: backward slope exp(-beta |x - 1|).

        spike = spike_rate_escape(beta=1, slope=25)
    """
    return _Surrogate(f"spike_rate_escape(beta={beta}, slope={slope})", "spike_rate_escape", slope, beta)


def custom(derivative):
    """A surrogate of one's own: ``derivative(x)`` builds sigma'(x) with
    nthgrad ops (returning a tensor that broadcasts to x); H(x) forward,
    g * derivative(x) backward, and every higher order follows from the ops
    the function used.

        spike = custom(lambda x: 1.0 / (1.0 + 10.0 * x * x))
        z = spike(v)
    """
    if not callable(derivative):
        raise TypeError(f"custom: derivative must be a function of x, got {type(derivative).__name__}")

    class _Custom(_Surrogate):
        def __call__(self, x):
            if not isinstance(x, Tensor):
                raise TypeError(f"surrogate custom: x must be an nthgrad Tensor, got {type(x).__name__}")
            return _C.surrogate_custom(x, derivative)

    return _Custom(f"custom({getattr(derivative, '__name__', 'derivative')})", "custom", None)
