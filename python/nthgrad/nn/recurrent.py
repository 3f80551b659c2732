"""Recurrent layers RNN, LSTM and GRU over nnabla's ``F.rnn``, ``F.lstm`` and
``F.gru``, with torch's constructor arguments and return values.

Parameters are stored in nnabla's packed layout (L = num_layers, D = 2 if
bidirectional else 1, G = gates: 1 RNN, 4 LSTM (i, f, g, o), 3 GRU (r, z, n)):

- ``weight_l0`` (D, G, H, I + H): layer 0's [W_ih | W_hh] per gate (RNN: (D, H, I + H));
- ``weight`` (L - 1, D, G, H, D*H + H): the same for layers 1.. (absent when L = 1);
- ``bias`` (L, D, G, H): one bias per gate, torch's b_ih + b_hh (GRU: (L, D, 4, H) with rows
  b_r, b_z, b_in, b_hn, since torch's b_hn sits inside r * (...)).

``state_dict_from_torch`` converts a torch module's state dict into this
layout. Every parameter is drawn from U(-1/sqrt(H), 1/sqrt(H)) as torch draws
each of its own (so the packed bias is one draw, not torch's sum of two).

    lstm = nn.LSTM(10, 20, num_layers=2)
    out, (h_n, c_n) = lstm(ng.ones((5, 3, 10)))   # (5, 3, 20), (2, 3, 20), (2, 3, 20)
"""
import math
from collections import OrderedDict

import numpy as np

from .. import functional as F
from .._C import DType
from .._tensor import zeros
from .linear import _float_dtype, _uniform_parameter, _check_int, _check_tensor, _check_same_dtype
from .module import Module

__all__ = ["RNN", "LSTM", "GRU"]


class _RNNBase(Module):
    gates = None          # gates per cell, and the torch class name and gate count are the same
    bias_rows = None      # rows of the packed bias per direction (GRU: 4)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=DType.float32):
        super().__init__()
        name = type(self).__name__
        self.input_size = _check_int(name, "input_size", input_size, 1)
        self.hidden_size = _check_int(name, "hidden_size", hidden_size, 1)
        self.num_layers = _check_int(name, "num_layers", num_layers, 1)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        dtype = _float_dtype(name, dtype)
        h, d, g = self.hidden_size, self.num_directions, self.gates
        gate_axis = (g,) if g > 1 else ()
        bound = 1.0 / math.sqrt(h)
        self.weight_l0 = _uniform_parameter((d,) + gate_axis + (h, self.input_size + h), bound, dtype)
        if self.num_layers > 1:
            self.weight = _uniform_parameter((self.num_layers - 1, d) + gate_axis + (h, d * h + h), bound, dtype)
        else:
            self.register_parameter("weight", None)
        bias_axis = (self.bias_rows,) if self.bias_rows > 1 else ()
        if bias:
            self.bias = _uniform_parameter((self.num_layers, d) + bias_axis + (h,), bound, dtype)
        else:
            self.register_parameter("bias", None)

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def _check_input(self, input, states):
        """Returns x as (T, B, I), the states as (L, D, B, H) (zeros when not
        given) and whether the input was unbatched."""
        _check_tensor(self, input)
        shape = tuple(input.shape)
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        if input.ndim not in (2, 3) or shape[-1] != self.input_size:
            raise ValueError(f"{self}: expected input {layout} or unbatched (T, I) with I = {self.input_size}, got "
                             f"shape {shape}")
        _check_same_dtype(self, input, self.weight_l0)
        unbatched = input.ndim == 2
        x = F.reshape(input, (shape[0], 1, shape[1])) if unbatched else input
        if self.batch_first and not unbatched:
            x = F.transpose(x, (1, 0, 2))
        batch = x.shape[1]
        state_shape = (self.num_layers * self.num_directions, batch, self.hidden_size)
        packed = (self.num_layers, self.num_directions, batch, self.hidden_size)
        out = []
        for i, s in enumerate(states):
            if s is None:
                out.append(zeros(packed, dtype=input.dtype))
                continue
            _check_tensor(self, s, "initial state")
            expected = (state_shape[0], state_shape[2]) if unbatched else state_shape
            if tuple(s.shape) != expected:
                raise ValueError(f"{self}: initial state {i} must have shape {expected} (L*D, B, H), got "
                                 f"{tuple(s.shape)}")
            if s.dtype != input.dtype:  # the input's dtype was checked against the parameters above
                raise TypeError(f"{self}: initial state {i} is {s.dtype} but the input and the parameters are "
                                f"{input.dtype}")
            out.append(F.reshape(s, packed))
        return x, out, unbatched

    def _finish(self, y, states, unbatched):
        """The op's y (T, B, D*H) and states (L, D, B, H) in torch's shapes."""
        if unbatched:
            y = F.reshape(y, (y.shape[0], y.shape[2]))
            states = [F.reshape(s, (s.shape[0] * s.shape[1], s.shape[3])) for s in states]
        else:
            if self.batch_first:
                y = F.transpose(y, (1, 0, 2))
            states = [F.reshape(s, (s.shape[0] * s.shape[1],) + tuple(s.shape[2:])) for s in states]
        return y, states

    def _dropout(self):
        return self.dropout if self.dropout > 0 else None

    def state_dict_from_torch(self, torch_state_dict):
        """Converts the state dict of the torch module of the same
        configuration (weight_ih_l{k}[_reverse], weight_hh_..., bias_ih_...,
        bias_hh_...; torch tensors or NumPy arrays) into this module's packed
        layout, as NumPy arrays for ``load_state_dict``. A key that is
        missing (KeyError), misshapen or left over (ValueError) means the
        torch module is configured otherwise: an error names it.

            ours = nn.LSTM(3, 4)
            ours.load_state_dict(ours.state_dict_from_torch(torch.nn.LSTM(3, 4).state_dict()))
        """
        name = f"{type(self).__name__}.state_dict_from_torch"
        used = set()

        def get(key, shape):
            if key not in torch_state_dict:
                raise KeyError(f"{name}: missing key '{key}' for {self!r}")
            value = torch_state_dict[key]
            value = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
            if value.shape != shape:
                raise ValueError(f"{name}: '{key}' has shape {value.shape}, expected {shape} for {self!r}")
            used.add(key)
            return value.astype(np.float64)

        h, g = self.hidden_size, self.gates
        weights, biases = [], []
        for layer in range(self.num_layers):
            layer_w, layer_b = [], []
            layer_in = self.input_size if layer == 0 else self.num_directions * h
            for direction in range(self.num_directions):
                suffix = f"l{layer}" + ("_reverse" if direction else "")
                w_ih, w_hh = get(f"weight_ih_{suffix}", (g * h, layer_in)), get(f"weight_hh_{suffix}", (g * h, h))
                # per gate [W_ih | W_hh]: (G*H, in) and (G*H, H) -> (G, H, in + H)
                layer_w.append(np.concatenate([w_ih.reshape(g, h, -1), w_hh.reshape(g, h, h)], axis=2))
                if self.bias is not None:
                    b_ih = get(f"bias_ih_{suffix}", (g * h,)).reshape(g, h)
                    b_hh = get(f"bias_hh_{suffix}", (g * h,)).reshape(g, h)
                    layer_b.append(self._pack_bias(b_ih, b_hh))
            weights.append(np.stack(layer_w))
            if layer_b:
                biases.append(np.stack(layer_b))
        unused = [k for k in torch_state_dict if k not in used]
        if unused:  # e.g. a torch module with more layers, two directions or biases: dropping them changes the model
            raise ValueError(f"{name}: keys {unused} have no place in {self!r} (is the torch module configured "
                             "alike: num_layers, bidirectional, bias; proj_size is not supported?)")
        dtype = np.float32 if self.weight_l0.dtype == DType.float32 else np.float64
        squeeze = (lambda a: a) if g > 1 else (lambda a: a.reshape(a.shape[:-3] + a.shape[-2:]))  # noqa: E731
        out = OrderedDict(weight_l0=squeeze(weights[0]).astype(dtype))
        if self.num_layers > 1:
            out["weight"] = squeeze(np.stack(weights[1:])).astype(dtype)
        if biases:
            bias = np.stack(biases)
            out["bias"] = (bias if self.bias_rows > 1 else bias.reshape(bias.shape[:2] + bias.shape[3:])).astype(dtype)
        return out

    def _pack_bias(self, b_ih, b_hh):
        return b_ih + b_hh

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is None:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_RNNBase):
    """Elman RNN, h_t = act(W_ih x_t + W_hh h_{t-1} + b) with act 'tanh' or
    'relu' (``torch.nn.RNN``, over nnabla's ``F.rnn``; layout and
    ``state_dict_from_torch`` in the module docstring of nn.recurrent).

    Shapes: input (T, B, I) ((B, T, I) if batch_first; unbatched (T, I)),
    h_0 (L*D, B, H) or None (zeros) -> output (T, B, D*H), h_n (L*D, B, H).
    Parameters: weight_l0 (D, H, I + H), weight (L-1, D, H, D*H + H), bias (L, D, H).

        rnn = nn.RNN(10, 20, nonlinearity="relu")
        out, h_n = rnn(ng.ones((5, 3, 10)))      # (5, 3, 20), (1, 3, 20)
    """

    gates, bias_rows = 1, 1

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=DType.float32):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._check_input(input, [hx])
        y, h_n = F.rnn(x, h, self.weight_l0, self.weight, self.bias, self.num_layers, self.nonlinearity,
                       self._dropout(), self.bidirectional, self.training)
        y, (h_n,) = self._finish(y, [h_n], unbatched)
        return y, h_n

    def extra_repr(self):
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity!r}"


class LSTM(_RNNBase):
    """Long short-term memory, gates (i, f, g, o) as torch
    (``torch.nn.LSTM``, over nnabla's ``F.lstm``; layout and
    ``state_dict_from_torch`` in the module docstring of nn.recurrent;
    proj_size is not supported).

    Shapes: input (T, B, I) ((B, T, I) if batch_first; unbatched (T, I)),
    (h_0, c_0) each (L*D, B, H), or None (zeros) -> output (T, B, D*H),
    (h_n, c_n) each (L*D, B, H). Parameters: weight_l0 (D, 4, H, I + H),
    weight (L-1, D, 4, H, D*H + H), bias (L, D, 4, H).

        lstm = nn.LSTM(10, 20, batch_first=True)
        out, (h_n, c_n) = lstm(ng.ones((3, 5, 10)))   # (3, 5, 20), (1, 3, 20), (1, 3, 20)
    """

    gates, bias_rows = 4, 4

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{self}: hx must be a tuple (h_0, c_0) or None, got {type(hx).__name__}")
        x, (h, c), unbatched = self._check_input(input, [None, None] if hx is None else list(hx))
        y, h_n, c_n = F.lstm(x, h, c, self.weight_l0, self.weight, self.bias, self.num_layers, self._dropout(),
                             self.bidirectional, self.training)
        y, (h_n, c_n) = self._finish(y, [h_n, c_n], unbatched)
        return y, (h_n, c_n)


class GRU(_RNNBase):
    """Gated recurrent unit, gates (r, z, n) as torch: n = tanh(W_in x + b_in
    + r (W_hn h + b_hn)) (``torch.nn.GRU``, over nnabla's ``F.gru``; layout
    and ``state_dict_from_torch`` in the module docstring of nn.recurrent).

    Shapes: input (T, B, I) ((B, T, I) if batch_first; unbatched (T, I)),
    h_0 (L*D, B, H) or None (zeros) -> output (T, B, D*H), h_n (L*D, B, H).
    Parameters: weight_l0 (D, 3, H, I + H), weight (L-1, D, 3, H, D*H + H),
    bias (L, D, 4, H) with rows b_r, b_z, b_in, b_hn.

        gru = nn.GRU(10, 20, bidirectional=True)
        out, h_n = gru(ng.ones((5, 3, 10)))      # (5, 3, 40), (2, 3, 20)
    """

    gates, bias_rows = 3, 4

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._check_input(input, [hx])
        y, h_n = F.gru(x, h, self.weight_l0, self.weight, self.bias, self.num_layers, self._dropout(),
                       self.bidirectional, self.training)
        y, (h_n,) = self._finish(y, [h_n], unbatched)
        return y, h_n

    def _pack_bias(self, b_ih, b_hh):
        # r and z add torch's two biases; n keeps b_in and b_hn apart
        return np.concatenate([b_ih[:2] + b_hh[:2], b_ih[2:], b_hh[2:]])
