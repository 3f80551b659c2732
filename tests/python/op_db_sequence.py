"""Op-table rows for the sequence family (issue 8); see op_db.py for OpSpec.

The references are plain NumPy loops over layers, directions and time steps
with nnabla's layouts (OPS.md section 2). The table checks one output, so
each row returns all outputs flattened and joined (y, h_n[, c_n]).
"""
import numpy as np

import nthgrad as ng  # noqa: F401
import nthgrad.functional as F
from op_db import OpSpec, t, ti, uniform, away_from_zero  # noqa: F401


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def recurrent_ref(cell, x, h, c, weight_l0, weight, bias, num_layers, bidirectional, nonlinearity="tanh"):
    """(y, h_n, c_n) of rnn / lstm / gru by loops; c and c_n only for lstm."""
    T, B, _ = x.shape
    H = h.shape[-1]
    D = 2 if bidirectional else 1
    h_n, c_n = np.zeros_like(h), np.zeros_like(h)
    X = x
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            W = weight_l0[d] if layer == 0 else weight[layer - 1, d]
            W = W.reshape(-1, W.shape[-1])  # (G*H, in + H)
            n_in = W.shape[1] - H
            Wx, Wh = W[:, :n_in], W[:, n_in:]
            b = bias[layer, d].reshape(-1) if bias is not None else np.zeros(W.shape[0] + (H if cell == "gru" else 0))
            hh = h[layer, d]
            cc = c[layer, d] if c is not None else None
            out = np.zeros((T, B, H))
            for step in range(T):
                tt = step if d == 0 else T - 1 - step
                a, r = X[tt] @ Wx.T, hh @ Wh.T
                if cell == "rnn":
                    pre = a + r + b
                    hh = np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0)
                elif cell == "lstm":
                    g = a + r + b
                    i, f, gg, o = (g[:, k * H:(k + 1) * H] for k in range(4))
                    cc = _sigmoid(f) * cc + _sigmoid(i) * np.tanh(gg)
                    hh = _sigmoid(o) * np.tanh(cc)
                else:  # gru: bias rows b_r, b_z, b_n (input), b_n (hidden)
                    b_r, b_z, b_ni, b_nh = (b[k * H:(k + 1) * H] for k in range(4))
                    rr = _sigmoid(a[:, :H] + r[:, :H] + b_r)
                    z = _sigmoid(a[:, H:2 * H] + r[:, H:2 * H] + b_z)
                    n = np.tanh(a[:, 2 * H:] + b_ni + rr * (r[:, 2 * H:] + b_nh))
                    hh = (1 - z) * n + z * hh
                out[tt] = hh
            outs.append(out)
            h_n[layer, d] = hh
            if cc is not None:
                c_n[layer, d] = cc
        X = np.concatenate(outs, axis=-1)
    return X, h_n, c_n


def _joined(*ys):
    return F.concatenate(*[y.reshape((-1,)) for y in ys], axis=0)


def _np_joined(*ys):
    return np.concatenate([np.reshape(y, -1) for y in ys])


# Shapes: T=3, B=2, I=3, H=2.
T_, B_, I_, H_ = 3, 2, 3, 2


def _shapes(cell, L, D, with_bias=True, T=T_):
    G = {"rnn": (), "lstm": (4,), "gru": (3,)}[cell]
    Gb = {"rnn": (), "lstm": (4,), "gru": (4,)}[cell]
    shapes = [(T, B_, I_), (L, D, B_, H_)]
    if cell == "lstm":
        shapes.append((L, D, B_, H_))
    shapes.append((D,) + G + (H_, I_ + H_))
    if L > 1:
        shapes.append((L - 1, D) + G + (H_, D * H_ + H_))
    if with_bias:
        shapes.append((L, D) + Gb + (H_,))
    return tuple(shapes)


def recurrent_row(cell, L, D, with_bias=True, nonlinearity="tanh", extra_samples=(), order=2, **kw):
    def split(args):
        args = list(args)
        x, h = args.pop(0), args.pop(0)
        c = args.pop(0) if cell == "lstm" else None
        w0 = args.pop(0)
        w = args.pop(0) if L > 1 else None
        b = args.pop(0) if with_bias else None
        return x, h, c, w0, w, b

    def fn(*args):
        x, h, c, w0, w, b = split(args)
        opts = dict(weight=w, bias=b, num_layers=L, bidirectional=D == 2)
        if cell == "rnn":
            return _joined(*F.rnn(x, h, w0, nonlinearity=nonlinearity, **opts))
        if cell == "lstm":
            return _joined(*F.lstm(x, h, c, w0, **opts))
        return _joined(*F.gru(x, h, w0, **opts))

    def ref(*args):
        x, h, c, w0, w, b = split(args)
        y, h_n, c_n = recurrent_ref(cell, x, h, c, w0, w, b, L, D == 2, nonlinearity)
        return _np_joined(y, h_n, c_n) if cell == "lstm" else _np_joined(y, h_n)

    samples = [_shapes(cell, L, D, with_bias)] + list(extra_samples)
    domain = (away_from_zero(0.1, 1.0),) if nonlinearity == "relu" else (uniform(-1.0, 1.0),)
    return OpSpec(cell, fn, ref, samples, domain, order=order, bad=kw.pop("bad", []), **kw)


# ---- bad calls ----
def _f(shape):
    return t(shape, value=0.1)


X, H1, H2 = (3, 2, 3), (1, 1, 2, 2), (2, 1, 2, 2)
BAD_RNN = [
    (lambda: F.rnn(_f(X), _f(H1), _f((1, 2, 6))), ValueError, "(1, 2, 6)"),  # I + H = 5
    (lambda: F.rnn(_f(X), _f(H1), _f((1, 2, 5)), weight=_f((0, 1, 2, 4))), ValueError, "must be None"),
    (lambda: F.rnn(_f(X), _f(H2), _f((1, 2, 5)), num_layers=2), ValueError, "required"),
    (lambda: F.rnn(_f(X), _f(H2), _f((1, 2, 5)), _f((1, 1, 2, 5)), num_layers=2), ValueError, "(1, 1, 2, 5)"),
    (lambda: F.rnn(_f(X), _f(H1), _f((1, 2, 5)), nonlinearity="sigmoid"), ValueError, "sigmoid"),
    (lambda: F.rnn(_f(X), _f((1, 1, 3, 2)), _f((1, 2, 5))), ValueError, "(1, 1, 3, 2)"),  # batch 3 vs 2
    (lambda: F.rnn(_f(X), _f(H1), _f((1, 2, 5)), bias=_f((1, 1, 3))), ValueError, "bias"),
    (lambda: F.rnn(_f(X), _f(H1), _f((1, 2, 5)), dropout=1.5), ValueError, "dropout"),
    (lambda: F.rnn(_f(X), _f(H1), _f((1, 2, 5)), num_layers=0), ValueError, "num_layers"),
    (lambda: F.rnn(ti(X), _f(H1), _f((1, 2, 5))), TypeError, "int64"),
    (lambda: F.rnn(_f(X), t(H1, ng.float64), _f((1, 2, 5))), TypeError, "float64"),
    (lambda: F.rnn(_f((3, 2)), _f(H1), _f((1, 2, 5))), ValueError, "(3, 2)"),
]
BAD_LSTM = [
    (lambda: F.lstm(_f(X), _f(H1), _f(H1), _f((1, 3, 2, 5))), ValueError, "(1, 3, 2, 5)"),
    (lambda: F.lstm(_f(X), _f(H1), _f((1, 1, 2, 3)), _f((1, 4, 2, 5))), ValueError, "(1, 1, 2, 3)"),
    (lambda: F.lstm(_f(X), _f(H1), _f(H1), _f((1, 4, 2, 5)), _f((1, 1, 4, 2, 4))), ValueError, "must be None"),
    (lambda: F.lstm(_f(X), _f(H2), _f(H2), _f((1, 4, 2, 5)), num_layers=2), ValueError, "required"),
    (lambda: F.lstm(_f(X), _f(H1), _f(H1), _f((1, 4, 2, 5)), bias=_f((1, 1, 2, 2))), ValueError, "(1, 1, 2, 2)"),
    (lambda: F.lstm(_f((3, 4, 3)), _f(H1), _f(H1), _f((1, 4, 2, 5))), ValueError, "(3, 4, 3)"),  # batch
]
BAD_GRU = [
    (lambda: F.gru(_f(X), _f(H1), _f((1, 4, 2, 5))), ValueError, "(1, 4, 2, 5)"),
    (lambda: F.gru(_f(X), _f(H1), _f((1, 3, 2, 5)), bias=_f((1, 1, 3, 2))), ValueError, "(1, 1, 3, 2)"),
    (lambda: F.gru(_f(X), _f(H1), _f((1, 3, 2, 5)), _f((0, 1, 3, 2, 4))), ValueError, "must be None"),
    (lambda: F.gru(_f(X), _f((2, 2, 2, 2)), _f((2, 3, 2, 5)), num_layers=2, bidirectional=True), ValueError,
     "required"),
]


# ---- multi_head_attention ----
def mha_ref(query, key, value, num_heads, qw, kw, vw, ow, qb=None, kb=None, vb=None, ob=None, bk=None, bv=None,
            additive_mask=None, key_padding_mask=None):
    """(y, weights averaged over heads) by loops over batch and heads."""
    LT, B, _ = query.shape
    E, Ev = qw.shape[1], vw.shape[1]
    hd, hdv = E // num_heads, Ev // num_heads
    q = query @ qw + (0 if qb is None else qb)
    k = key @ kw + (0 if kb is None else kb)
    v = value @ vw + (0 if vb is None else vb)
    if bk is not None:
        k = np.concatenate([k, np.broadcast_to(bk, (1, B, E))], 0)
        v = np.concatenate([v, np.broadcast_to(bv, (1, B, Ev))], 0)
    S = k.shape[0]
    out = np.zeros((LT, B, Ev))
    avg = np.zeros((B, LT, S))
    for b in range(B):
        for hh in range(num_heads):
            qh = q[:, b, hh * hd:(hh + 1) * hd] / np.sqrt(hd)
            kh = k[:, b, hh * hd:(hh + 1) * hd]
            s = qh @ kh.T
            if additive_mask is not None:
                s[:, :additive_mask.shape[1]] += additive_mask
            if key_padding_mask is not None:
                s[:, :key_padding_mask.shape[1]][:, key_padding_mask[b] != 0] = -np.inf
            w = np.exp(s - s.max(axis=1, keepdims=True))
            w /= w.sum(axis=1, keepdims=True)
            out[:, b, hh * hdv:(hh + 1) * hdv] = w @ v[:, b, hh * hdv:(hh + 1) * hdv]
            avg[b] += w / num_heads
    return out @ ow + (0 if ob is None else ob), avg


# query (L_T=2, B=2, 3), key (L_S=3, B=2, 4), value (3, 2, 2); E = 4, E_v = 2, 2 heads, E_out = 3
MHA_FULL = ((2, 2, 3), (3, 2, 4), (3, 2, 2), (3, 4), (4, 4), (2, 2), (2, 3), (4,), (4,), (2,), (3,), (4,), (2,),
            (2, 3))


def _mha_full(q, k, v, qw, kw, vw, ow, qb, kb, vb, ob, bk, bv, mask):
    y, w = F.multi_head_attention(q, k, v, 2, qw, kw, vw, ow, qb, kb, vb, ob, bk, bv, additive_mask=mask)
    return _joined(y, w)


def _mha_full_ref(q, k, v, qw, kw, vw, ow, qb, kb, vb, ob, bk, bv, mask):
    return _np_joined(*mha_ref(q, k, v, 2, qw, kw, vw, ow, qb, kb, vb, ob, bk, bv, additive_mask=mask))


MHA_PLAIN = ((2, 2, 4), (3, 2, 4), (3, 2, 4), (4, 4), (4, 4), (4, 4), (4, 4))
# key 1 of sample 0 and key 2 of sample 1 hidden (a constant int64 mask)
PADDING = np.array([[0, 1, 0], [0, 0, 1]], dtype=np.int64)


def _mha_padded(q, k, v, qw, kw, vw, ow):
    y, w = F.multi_head_attention(q, k, v, 2, qw, kw, vw, ow, key_padding_mask=ng.tensor(PADDING))
    return _joined(y, w)


def _mha_padded_ref(q, k, v, qw, kw, vw, ow):
    return _np_joined(*mha_ref(q, k, v, 2, qw, kw, vw, ow, key_padding_mask=PADDING))

BAD_MHA = [
    (lambda: F.multi_head_attention(_f((2, 2, 4)), _f((3, 2, 4)), _f((3, 2, 4)), 3, _f((4, 4)), _f((4, 4)),
                                    _f((4, 4)), _f((4, 4))), ValueError, "num_heads"),
    (lambda: F.multi_head_attention(_f((2, 2, 4)), _f((3, 1, 4)), _f((3, 1, 4)), 2, _f((4, 4)), _f((4, 4)),
                                    _f((4, 4)), _f((4, 4))), ValueError, "(3, 1, 4)"),
    (lambda: F.multi_head_attention(_f((2, 2, 4)), _f((3, 2, 4)), _f((3, 2, 4)), 2, _f((5, 4)), _f((4, 4)),
                                    _f((4, 4)), _f((4, 4))), ValueError, "(5, 4)"),
    (lambda: F.multi_head_attention(_f((2, 2, 4)), _f((3, 2, 4)), _f((3, 2, 4)), 2, _f((4, 4)), _f((4, 4)),
                                    _f((4, 4)), _f((4, 4)), additive_mask=_f((3, 2))), ValueError, "(3, 2)"),
    (lambda: F.multi_head_attention(_f((2, 2, 4)), _f((3, 2, 4)), _f((3, 2, 4)), 2, _f((4, 4)), _f((4, 4)),
                                    _f((4, 4)), _f((4, 4)), attn_bias_k=_f((4,))), ValueError, "together"),
    (lambda: F.multi_head_attention(_f((2, 2, 4)), _f((3, 2, 4)), _f((3, 2, 4)), 2, _f((4, 4)), _f((4, 4)),
                                    _f((4, 4)), _f((4, 4)), q_bias=_f((3,))), ValueError, "(3,)"),
    (lambda: F.multi_head_attention(ti((2, 2, 4)), _f((3, 2, 4)), _f((3, 2, 4)), 2, _f((4, 4)), _f((4, 4)),
                                    _f((4, 4)), _f((4, 4))), TypeError, "int64"),
    # E = 0 used to fail inside reshape, naming reshape rather than multi_head_attention
    (lambda: F.multi_head_attention(_f((2, 2, 4)), _f((3, 2, 4)), _f((3, 2, 4)), 2, _f((4, 0)), _f((4, 0)),
                                    _f((4, 0)), _f((0, 4))), ValueError, "E = 0"),
]


ROWS = [
    recurrent_row("rnn", 1, 1, extra_samples=[_shapes("rnn", 1, 1, T=0)], bad=BAD_RNN),
    recurrent_row("rnn", 2, 2, nonlinearity="relu"),
    recurrent_row("rnn", 1, 2, with_bias=False),
    recurrent_row("rnn", 2, 1),
    recurrent_row("lstm", 1, 1, bad=BAD_LSTM),
    recurrent_row("lstm", 2, 2),
    recurrent_row("lstm", 2, 1, with_bias=False),
    # third order reaches the rule of lstm_cell_backward's rule (the fused cell's adjoint)
    recurrent_row("lstm", 1, 1, order=3),
    recurrent_row("gru", 1, 2, bad=BAD_GRU),
    recurrent_row("gru", 2, 1),
    recurrent_row("gru", 2, 2, with_bias=False),
    OpSpec("multi_head_attention", _mha_full, _mha_full_ref, [MHA_FULL], (uniform(-1.0, 1.0),), order=3,
           bad=BAD_MHA),
    OpSpec("multi_head_attention",
           lambda *a: _joined(*F.multi_head_attention(a[0], a[1], a[2], 1, *a[3:])),
           lambda *a: _np_joined(*mha_ref(a[0], a[1], a[2], 1, *a[3:])), [MHA_PLAIN], (uniform(-1.0, 1.0),),
           order=3),
    OpSpec("multi_head_attention", _mha_padded, _mha_padded_ref, [MHA_PLAIN], (uniform(-1.0, 1.0),), order=2),
]
