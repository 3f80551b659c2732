"""Spiking neurons under Norse's names (``norse.torch.functional`` and
``norse.torch.module``), so Norse code ports by changing the import: the
leaky integrate-and-fire (LIF) neuron, the leaky integrator (LI) readout,
current and Poisson encoders, and modules that carry their state.

The updates follow Norse 1.1.0's code, in its order (one step, dt = 1e-3):

    i <- i + input
    v <- v + dt tau_mem_inv ((v_leak - v) + i)
    i <- i - dt tau_syn_inv i
    z  = threshold(v - v_th, method, alpha)        (LIF only: a surrogate spike)
    v <- (1 - z) v + z v_reset                     (LIF only)

They run as ordinary nthgrad ops (the steps and the time loop of
``lif_feed_forward_integral`` in C++), so backpropagation through time has
gradients of every order and a tensor ``alpha`` is learnable.

    import nthgrad as ng
    from nthgrad import snn

    x = ng.ones((100, 32, 10)) * 2.0                         # (time, batch, neurons) input current
    zs, state = snn.lif_feed_forward_integral(x, None)       # spikes (100, 32, 10); state.v, state.i (32, 10)
"""
import numbers
from typing import NamedTuple, Any

from . import _C
from ._C import Tensor, DType
from ._tensor import tensor, zeros
from .nn.module import Module

__all__ = ["LIFParameters", "LIFState", "LIFFeedForwardState", "LIParameters", "LIState", "lif_step",
           "lif_feed_forward_step", "lif_feed_forward_integral", "li_step", "li_feed_forward_step",
           "lif_current_encoder", "constant_current_lif_encode", "poisson_encode", "LIFCell", "LIF",
           "LIFRecurrentCell", "LICell",
           "LILinearCell", "ConstantCurrentLIFEncoder", "PoissonEncoder"]


class LIFParameters(NamedTuple):
    """Norse's LIF parameters and defaults: inverse synaptic and membrane time
    constants (1/s), leak, threshold and reset potentials, and the surrogate
    (``method`` of ``nthgrad.surrogate.threshold``, width ``alpha``: a number
    or a tensor, which may require grad).

        p = LIFParameters(tau_mem_inv=50.0, method="super", alpha=100.0)
    """
    tau_syn_inv: float = 200.0
    tau_mem_inv: float = 100.0
    v_leak: float = 0.0
    v_th: float = 1.0
    v_reset: float = 0.0
    method: str = "super"
    alpha: Any = 100.0


class LIFState(NamedTuple):
    """State of a recurrent LIF layer: last spikes z, membrane v, current i,
    each (batch, hidden).

        s = LIFState(z=ng.zeros((32, 64)), v=ng.zeros((32, 64)), i=ng.zeros((32, 64)))
    """
    z: Tensor
    v: Tensor
    i: Tensor


class LIFFeedForwardState(NamedTuple):
    """State of a feed-forward LIF layer: membrane v and current i, each of
    the input's shape.

        s = LIFFeedForwardState(v=ng.zeros((32, 10)), i=ng.zeros((32, 10)))
    """
    v: Tensor
    i: Tensor


class LIParameters(NamedTuple):
    """Norse's leaky-integrator parameters and defaults.

        p = LIParameters(tau_mem_inv=50.0)
    """
    tau_syn_inv: float = 200.0
    tau_mem_inv: float = 100.0
    v_leak: float = 0.0


class LIState(NamedTuple):
    """State of a leaky integrator: membrane v and current i.

        s = LIState(v=ng.zeros((32, 10)), i=ng.zeros((32, 10)))
    """
    v: Tensor
    i: Tensor


def _check_tensor(fn, name, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: {name} must be an nthgrad Tensor, got {type(t).__name__}")


def _check_state(fn, state, cls):
    """state: None or a state with cls's fields (each an nthgrad Tensor)."""
    if state is None:
        return
    if not all(isinstance(getattr(state, f, None), Tensor) for f in cls._fields):
        raise TypeError(f"{fn}: state must be a {cls.__name__}({', '.join(cls._fields)}) of tensors or None, "
                        f"got {type(state).__name__}")


def _check_2d(fn, input_tensor, input_weights):
    """For a state of zeros (B, H): input (B, I) and weights (H, I) must be 2-D."""
    if input_tensor.ndim != 2 or input_weights.ndim != 2:
        raise ValueError(f"{fn}: input_tensor of shape {tuple(input_tensor.shape)} and input_weights of shape "
                         f"{tuple(input_weights.shape)} must be (B, I) and (H, I)")


def _alpha(p, like):
    """p.alpha (p: LIFParameters, checked by _lif_args first) as a tensor of like's dtype (a number becomes
    a 0-d constant)."""
    a = p.alpha
    if isinstance(a, Tensor):
        return a
    if isinstance(a, bool) or not isinstance(a, numbers.Real):
        raise TypeError(f"LIFParameters: alpha must be a number or a tensor, got {type(a).__name__}")
    return tensor(float(a), dtype=like.dtype)


def _number(cls, field, value):
    """A parameter field as a float: a number, or a one-element tensor that does not require grad (the
    ops take one value per layer; a tensor that requires grad would silently not be learned)."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{cls}: {field} must be one number for the layer, got a tensor of shape "
                             f"{tuple(value.shape)} (per-neuron parameters are not supported)")
        if value.requires_grad:
            raise ValueError(f"{cls}: {field} is a tensor that requires grad, but only alpha is learnable; "
                             f"{field} would get no gradient (pass a number or a detached tensor)")
        return value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{cls}: {field} must be a number, got {type(value).__name__}")
    return float(value)


def _lif_args(p):
    if not isinstance(p, LIFParameters):
        raise TypeError(f"expected LIFParameters, got {type(p).__name__}")
    out = {f: _number("LIFParameters", f, getattr(p, f))
           for f in ("tau_syn_inv", "tau_mem_inv", "v_leak", "v_th", "v_reset")}
    if not isinstance(p.method, str):
        raise TypeError(f"LIFParameters: method must be a str, got {type(p.method).__name__}")
    out["method"] = p.method
    return out


def _li_args(p):
    if not isinstance(p, LIParameters):
        raise TypeError(f"expected LIParameters, got {type(p).__name__}")
    return {f: _number("LIParameters", f, getattr(p, f)) for f in ("tau_syn_inv", "tau_mem_inv", "v_leak")}


def _zeros_like(shape, like):
    return zeros(tuple(shape), dtype=like.dtype)


def _at_rest(shape, like, v_leak):
    """(v, i) at rest, as Norse's modules start them: v = v_leak and i = 0 everywhere (like's dtype)."""
    return zeros(tuple(shape), dtype=like.dtype) + v_leak, _zeros_like(shape, like)


def lif_feed_forward_step(input_tensor, state=None, p=LIFParameters(), dt=0.001):
    """One feed-forward LIF step. input_tensor: the input current, any shape;
    state: LIFFeedForwardState of that shape (None: at rest, v = v_leak and
    i = 0, as Norse's modules start). Returns (z, LIFFeedForwardState):
    spikes of the input's shape and the new state.

        z, s = lif_feed_forward_step(x, None)
        z, s = lif_feed_forward_step(x, s)
    """
    _check_tensor("lif_feed_forward_step", "input_tensor", input_tensor)
    _check_state("lif_feed_forward_step", state, LIFFeedForwardState)
    args = _lif_args(p)
    if state is None:
        state = LIFFeedForwardState(*_at_rest(input_tensor.shape, input_tensor, args["v_leak"]))
    z, v, i = _C.lif_feed_forward_step(input_tensor, state.v, state.i, alpha=_alpha(p, input_tensor), dt=dt,
                                       **args)
    return z, LIFFeedForwardState(v, i)


def lif_step(input_tensor, state, input_weights, recurrent_weights, p=LIFParameters(), dt=0.001):
    """One recurrent LIF step: current input_tensor @ input_weights^T +
    state.z @ recurrent_weights^T (input (B, I), weights (H, I) and (H, H));
    the reset uses z detached, as Norse does. state: LIFState of (B, H)
    (None: at rest, v = v_leak, z = i = 0). Returns (z, LIFState).

        z, s = lif_step(x, None, w_in, w_rec)
    """
    _check_tensor("lif_step", "input_tensor", input_tensor)
    _check_tensor("lif_step", "input_weights", input_weights)
    _check_tensor("lif_step", "recurrent_weights", recurrent_weights)
    _check_state("lif_step", state, LIFState)
    args = _lif_args(p)
    if state is None:
        _check_2d("lif_step", input_tensor, input_weights)
        shape = (input_tensor.shape[0], input_weights.shape[0])
        state = LIFState(_zeros_like(shape, input_tensor), *_at_rest(shape, input_tensor, args["v_leak"]))
    z, v, i = _C.lif_step(input_tensor, state.z, state.v, state.i, input_weights, recurrent_weights,
                          alpha=_alpha(p, input_tensor), dt=dt, **args)
    return z, LIFState(z, v, i)


def lif_feed_forward_integral(input_tensor, state=None, p=LIFParameters(), dt=0.001):
    """The feed-forward LIF over a time-major sequence (T, ...), the time loop
    in C++ (no Python per step). Returns (spikes (T, ...), the final
    LIFFeedForwardState).

        zs, s = lif_feed_forward_integral(x_seq, None)       # x_seq (T, B, N)
    """
    _check_tensor("lif_feed_forward_integral", "input_tensor", input_tensor)
    if input_tensor.ndim < 1:
        raise ValueError("lif_feed_forward_integral: the input needs a leading time axis, got a 0-d tensor")
    _check_state("lif_feed_forward_integral", state, LIFFeedForwardState)
    args = _lif_args(p)
    if state is None:
        state = LIFFeedForwardState(*_at_rest(input_tensor.shape[1:], input_tensor, args["v_leak"]))
    zs, v, i = _C.lif_feed_forward_integral(input_tensor, state.v, state.i, alpha=_alpha(p, input_tensor), dt=dt,
                                            **args)
    return zs, LIFFeedForwardState(v, i)


def li_feed_forward_step(input_tensor, state=None, p=LIParameters(), dt=0.001):
    """One leaky-integrator step (no spikes): returns (v, LIState), v of the
    input's shape (the readout).

        v, s = li_feed_forward_step(x, None)
    """
    _check_tensor("li_feed_forward_step", "input_tensor", input_tensor)
    _check_state("li_feed_forward_step", state, LIState)
    args = _li_args(p)
    if state is None:
        state = LIState(*_at_rest(input_tensor.shape, input_tensor, args["v_leak"]))
    v, i = _C.li_feed_forward_step(input_tensor, state.v, state.i, dt=dt, **args)
    return v, LIState(v, i)


def li_step(input_tensor, state, input_weights, p=LIParameters(), dt=0.001):
    """One leaky-integrator step with input weights: current input_tensor @
    input_weights^T (input (B, I), weights (H, I)). Returns (v (B, H), LIState).

        v, s = li_step(z, None, w_out)
    """
    _check_tensor("li_step", "input_tensor", input_tensor)
    _check_tensor("li_step", "input_weights", input_weights)
    _check_state("li_step", state, LIState)
    args = _li_args(p)
    if state is None:
        _check_2d("li_step", input_tensor, input_weights)
        shape = (input_tensor.shape[0], input_weights.shape[0])
        state = LIState(*_at_rest(shape, input_tensor, args["v_leak"]))
    v, i = _C.li_step(input_tensor, state.v, state.i, input_weights, dt=dt, **args)
    return v, LIState(v, i)


def lif_current_encoder(input_current, voltage, p=LIFParameters(), dt=0.001):
    """One step of Norse's LIF current encoder: the current drives the
    membrane directly (no synaptic current),

        v <- v + dt tau_mem_inv ((v_leak - v) + input_current)
        z  = threshold(v - v_th, method, alpha);  v <- v - z (v - v_reset)

    input_current and voltage: the same shape. Returns (z, v), both of that shape.

        z, v = lif_current_encoder(current, ng.zeros(current.shape))
    """
    from .surrogate import threshold
    _check_tensor("lif_current_encoder", "input_current", input_current)
    _check_tensor("lif_current_encoder", "voltage", voltage)
    if tuple(voltage.shape) != tuple(input_current.shape):
        raise ValueError(f"lif_current_encoder: voltage has shape {tuple(voltage.shape)} but input_current has "
                         f"shape {tuple(input_current.shape)}; they must be equal")
    if not (isinstance(dt, (int, float)) and 0 < dt < float("inf")):
        raise ValueError(f"lif_current_encoder: dt must be finite and > 0, got {dt!r}")
    a = _lif_args(p)
    voltage = voltage + dt * a["tau_mem_inv"] * ((a["v_leak"] - voltage) + input_current)
    z = threshold(voltage - a["v_th"], a["method"], _alpha(p, input_current))
    return z, voltage - z * (voltage - a["v_reset"])


def constant_current_lif_encode(input_current, seq_length, p=LIFParameters(), dt=0.001):
    """Encodes a constant input current (any shape) as the spikes of a LIF
    neuron driven by it for seq_length steps, as Norse: lif_current_encoder
    from v = 0 (the current drives the membrane directly, no synaptic
    current). Returns (seq_length, *shape) of the input's dtype; the spikes
    carry the surrogate gradient of p.method.

        spikes = constant_current_lif_encode(images * 5.0, 32)
        constant_current_lif_encode(ng.tensor([2.0, 4.0, 8.0, 16.0]), 2)   # [[0, 0, 0, 1], [0, 0, 1, 1]]
    """
    _check_tensor("constant_current_lif_encode", "input_current", input_current)
    if not isinstance(seq_length, int) or seq_length < 1:
        raise ValueError(f"constant_current_lif_encode: seq_length must be an int >= 1, got {seq_length!r}")
    from .functional import stack
    v, spikes = _zeros_like(input_current.shape, input_current), []
    for _ in range(seq_length):
        z, v = lif_current_encoder(input_current, v, p, dt)
        spikes.append(z)
    return stack(*spikes, axis=0)


def poisson_encode(input_values, seq_length, f_max=100.0, dt=0.001, seed=-1):
    """Poisson spike trains: at each of seq_length steps a spike with
    probability f_max dt x for x in [0, 1] (input of any shape), drawn with
    nthgrad's generator (seed: -1 global, an int, or an ng.Generator).
    Returns (seq_length, *shape) of the input's dtype; no gradient.

        spikes = poisson_encode(images, 32, f_max=500.0, seed=0)
    """
    _check_tensor("poisson_encode", "input_values", input_values)
    if not isinstance(seq_length, int) or seq_length < 1:
        raise ValueError(f"poisson_encode: seq_length must be an int >= 1, got {seq_length!r}")
    from .random import rand
    shape = (seq_length,) + tuple(input_values.shape)
    u = rand(0, 1, shape, seed, dtype=input_values.dtype.name)
    return (u < input_values.detach() * (f_max * dt)).astype(input_values.dtype)


# ---- modules: the state is carried between calls until reset() ----

class _Carried:
    """The default of the modules' ``state``: start from the carried state."""

    def __repr__(self):
        return "<carried state>"


CARRIED = _Carried()


class _Stateful(Module):
    """Keeps the state of the last call in ``self.state``. A call without a
    state starts from it (at rest the first time and after ``reset()``: v =
    v_leak, the rest 0); a given state is used as given, and ``state=None``
    starts at rest, as in Norse (so Norse's ``s = None; for x in xs: z, s =
    cell(x, s)`` starts each sequence afresh)."""

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "state", None)

    def reset(self):
        """Forgets the carried state: the next call starts at rest."""
        object.__setattr__(self, "state", None)

    def _start(self, state, input_tensor, state_shape):
        """The state a call starts from: the carried one (checked against
        state_shape(input_tensor), the state shape this input needs) unless
        one was given."""
        if state is not CARRIED:
            return state
        _check_tensor(type(self).__name__, "input_tensor", input_tensor)
        shape = state_shape(tuple(input_tensor.shape))
        if self.state is not None and tuple(self.state.v.shape) != tuple(shape):
            raise ValueError(f"{type(self).__name__}: the carried state has shape {tuple(self.state.v.shape)}, "
                             f"but this input needs a state of shape {tuple(shape)}; call reset() first (or pass "
                             "a state, or state=None for zeros)")
        return self.state

    def _carry(self, out):
        object.__setattr__(self, "state", out[1])
        return out

    def _register_alpha(self):
        """A learnable surrogate width, LIFParameters(alpha=nn.Parameter(...)), joins the module's
        parameters (so optimizers and state_dict see it)."""
        from .nn.module import Parameter
        if isinstance(getattr(self.p, "alpha", None), Parameter):
            self.alpha = self.p.alpha


class LIFCell(_Stateful):
    """A feed-forward LIF layer, one step per call: input (any shape) ->
    (spikes of that shape, LIFFeedForwardState).

        cell = snn.LIFCell(snn.LIFParameters(method="super", alpha=100.0))
        for x in inputs:                       # x (B, N)
            z, _ = cell(x)
    """

    def __init__(self, p=LIFParameters(), dt=0.001):
        super().__init__()
        self.p, self.dt = p, dt
        self._register_alpha()

    def forward(self, input_tensor, state=CARRIED):
        state = self._start(state, input_tensor, lambda s: s)
        return self._carry(lif_feed_forward_step(input_tensor, state, self.p, self.dt))


class LIF(_Stateful):
    """The feed-forward LIF over a whole sequence, time loop in C++: input
    (T, ...) -> (spikes (T, ...), final LIFFeedForwardState).

        zs, s = snn.LIF()(x_seq)
    """

    def __init__(self, p=LIFParameters(), dt=0.001):
        super().__init__()
        self.p, self.dt = p, dt
        self._register_alpha()

    def forward(self, input_tensor, state=CARRIED):
        state = self._start(state, input_tensor, lambda s: s[1:])
        return self._carry(lif_feed_forward_integral(input_tensor, state, self.p, self.dt))


def _uniform_weight(shape, fan_in, dtype):
    from .nn.linear import _uniform_parameter, _fan_in_bound
    return _uniform_parameter(shape, _fan_in_bound(fan_in), dtype)


class LIFRecurrentCell(_Stateful):
    """A recurrent LIF layer, one step per call, with input weights
    (hidden_size, input_size) and recurrent weights (hidden_size,
    hidden_size) drawn as torch's Linear: input (B, input_size) -> (spikes
    (B, hidden_size), LIFState). As in Norse, ``autapses=False`` (the
    default) leaves out self-connections: the diagonal of the recurrent
    weights starts at zero and is masked out of every step, so it gets no
    gradient and stays zero.

        cell = snn.LIFRecurrentCell(10, 64)
        z, s = cell(x)                         # x (B, 10) -> z (B, 64)
    """

    def __init__(self, input_size, hidden_size, p=LIFParameters(), dt=0.001, autapses=False,
                 dtype=DType.float32):
        super().__init__()
        self.input_size, self.hidden_size, self.p, self.dt = input_size, hidden_size, p, dt
        self._register_alpha()
        self.autapses = bool(autapses)
        self.input_weights = _uniform_weight((hidden_size, input_size), input_size, dtype)
        if self.autapses:
            self.recurrent_weights = _uniform_weight((hidden_size, hidden_size), hidden_size, dtype)
        else:
            import numpy as np
            from .nn.module import Parameter
            off_diagonal = 1.0 - np.eye(hidden_size)
            drawn = np.asarray(_uniform_weight((hidden_size, hidden_size), hidden_size, dtype))
            w = np.where(off_diagonal > 0, drawn, 0.0)
            self.recurrent_weights = Parameter(tensor(w, dtype=dtype))
            object.__setattr__(self, "_off_diagonal", off_diagonal)

    def forward(self, input_tensor, state=CARRIED):
        state = self._start(state, input_tensor, lambda s: s[:1] + (self.hidden_size,))
        w_rec = self.recurrent_weights
        if not self.autapses and isinstance(w_rec, Tensor):
            w_rec = w_rec * tensor(self._off_diagonal, dtype=w_rec.dtype)
        return self._carry(lif_step(input_tensor, state, self.input_weights, w_rec, self.p, self.dt))

    def extra_repr(self):
        return (f"input_size={self.input_size}, hidden_size={self.hidden_size}, p={self.p}, "
                f"autapses={self.autapses}, dt={self.dt}")


class LICell(_Stateful):
    """A leaky integrator, one step per call: input (any shape) -> (v of that
    shape, LIState).

        v, s = snn.LICell()(x)
    """

    def __init__(self, p=LIParameters(), dt=0.001):
        super().__init__()
        self.p, self.dt = p, dt

    def forward(self, input_tensor, state=CARRIED):
        state = self._start(state, input_tensor, lambda s: s)
        return self._carry(li_feed_forward_step(input_tensor, state, self.p, self.dt))


class LILinearCell(_Stateful):
    """A leaky-integrator readout with input weights (hidden_size,
    input_size): input (B, input_size) -> (v (B, hidden_size), LIState).

        readout = snn.LILinearCell(64, 10)
        v, s = readout(z)
    """

    def __init__(self, input_size, hidden_size, p=LIParameters(), dt=0.001, dtype=DType.float32):
        super().__init__()
        self.input_size, self.hidden_size, self.p, self.dt = input_size, hidden_size, p, dt
        self.input_weights = _uniform_weight((hidden_size, input_size), input_size, dtype)

    def forward(self, input_tensor, state=CARRIED):
        state = self._start(state, input_tensor, lambda s: s[:1] + (self.hidden_size,))
        return self._carry(li_step(input_tensor, state, self.input_weights, self.p, self.dt))


class ConstantCurrentLIFEncoder(Module):
    """Encodes a constant current (any shape) as LIF spikes over seq_length
    steps: -> (seq_length, *shape).

        encoder = snn.ConstantCurrentLIFEncoder(32)
        spikes = encoder(images * 5.0)
    """

    def __init__(self, seq_length, p=LIFParameters(), dt=0.001):
        super().__init__()
        self.seq_length, self.p, self.dt = seq_length, p, dt

    def forward(self, input_current):
        return constant_current_lif_encode(input_current, self.seq_length, self.p, self.dt)


class PoissonEncoder(Module):
    """Poisson spike trains of rate f_max x (x in [0, 1], any shape) over
    seq_length steps: -> (seq_length, *shape). ``seed``: -1 draws from the
    global generator; an int seeds a generator of the encoder's own, which
    every call advances (a run is reproducible, and each batch and epoch
    gets fresh spikes); an ``ng.Generator`` is used as given.

        encoder = snn.PoissonEncoder(32, f_max=500.0, seed=0)
        spikes = encoder(images)                 # images (B, 64) in [0, 1] -> (32, B, 64)
    """

    def __init__(self, seq_length, f_max=100.0, dt=0.001, seed=-1):
        super().__init__()
        from .random import Generator
        if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
            seed = Generator(int(seed))
        self.seq_length, self.f_max, self.dt, self.seed = seq_length, f_max, dt, seed

    def forward(self, input_values):
        return poisson_encode(input_values, self.seq_length, self.f_max, self.dt, self.seed)
