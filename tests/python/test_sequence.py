"""Semantics of the sequence family the op table cannot express: agreement
with torch.nn.RNN/LSTM/GRU and torch's multi_head_attention_forward at
orders 1 and 2 (weights mapped from nnabla's layouts), dropout between
layers (training, seeds), gradients in eval mode, the size of one recorded
LSTM step, and key padding in attention."""
import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F
import op_db  # noqa: F401  (loads op_db_sequence through the table, avoiding a circular import)
from gradcheck import graph_nodes
from op_db_sequence import recurrent_ref

T, B, I, H = 4, 3, 3, 2


def _inputs(cell, L, D, rng, with_bias=True):
    """nnabla-layout float64 arrays: x, h, (c), weight_l0, weight or None, bias or None."""
    G = {"rnn": (), "lstm": (4,), "gru": (3,)}[cell]
    Gb = {"rnn": (), "lstm": (4,), "gru": (4,)}[cell]
    u = lambda *s: rng.uniform(-0.8, 0.8, s)  # noqa: E731
    arrays = {"x": u(T, B, I), "h": u(L, D, B, H)}
    if cell == "lstm":
        arrays["c"] = u(L, D, B, H)
    arrays["weight_l0"] = u(D, *G, H, I + H)
    arrays["weight"] = u(L - 1, D, *G, H, D * H + H) if L > 1 else None
    arrays["bias"] = u(L, D, *Gb, H) if with_bias else None
    return arrays


def _ng_call(cell, v, L, D, nonlinearity="tanh", **kw):
    opts = dict(weight=v["weight"], bias=v["bias"], num_layers=L, bidirectional=D == 2, **kw)
    if cell == "rnn":
        return F.rnn(v["x"], v["h"], v["weight_l0"], nonlinearity=nonlinearity, **opts)
    if cell == "lstm":
        return F.lstm(v["x"], v["h"], v["c"], v["weight_l0"], **opts)
    return F.gru(v["x"], v["h"], v["weight_l0"], **opts)


def _torch_call(torch, cell, v, L, D, nonlinearity="tanh"):
    """torch.nn.RNN/LSTM/GRU run by functional_call on parameters sliced from nnabla-layout tensors, so
    that torch's gradients arrive in nnabla's layout."""
    from torch.func import functional_call
    mod = {"rnn": lambda: torch.nn.RNN(I, H, L, nonlinearity=nonlinearity, bidirectional=D == 2),
           "lstm": lambda: torch.nn.LSTM(I, H, L, bidirectional=D == 2),
           "gru": lambda: torch.nn.GRU(I, H, L, bidirectional=D == 2)}[cell]().double()
    params = {}
    for layer in range(L):
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
            w = v["weight_l0"][d] if layer == 0 else v["weight"][layer - 1, d]
            w = w.reshape(-1, w.shape[-1])
            n_in = w.shape[1] - H
            params["weight_ih" + sfx], params["weight_hh" + sfx] = w[:, :n_in], w[:, n_in:]
            gh = w.shape[0]
            if v["bias"] is None:
                b_ih = b_hh = torch.zeros(gh, dtype=torch.float64)
            elif cell == "gru":  # nnabla's b_n is split: the input part in b_ih, the hidden part in b_hh
                b = v["bias"][layer, d].reshape(-1)
                b_ih, b_hh = b[:3 * H], torch.cat([torch.zeros(2 * H, dtype=torch.float64), b[3 * H:]])
            else:
                b_ih, b_hh = v["bias"][layer, d].reshape(-1), torch.zeros(gh, dtype=torch.float64)
            params["bias_ih" + sfx], params["bias_hh" + sfx] = b_ih, b_hh
    h0 = v["h"].reshape(L * D, B, H)
    if cell == "lstm":
        y, (h_n, c_n) = functional_call(mod, params, (v["x"], (h0, v["c"].reshape(L * D, B, H))))
        return y, h_n.reshape(L, D, B, H), c_n.reshape(L, D, B, H)
    y, h_n = functional_call(mod, params, (v["x"], h0))
    return y, h_n.reshape(L, D, B, H)


def _first_and_second(lib, outs, leaves, weights, directions):
    """sum(out * weight) and its first gradients, then the gradients of sum(g * direction)."""
    grad = (lambda y, xs: ng.grad(y, xs, create_graph=True, allow_unused=True)) if lib is ng else \
        (lambda y, xs: lib.autograd.grad(y, xs, create_graph=True, allow_unused=True))
    s = sum((o * w).sum() for o, w in zip(outs, weights))
    g1 = grad(s, leaves)
    s2 = sum((g * d).sum() for g, d in zip(g1, directions) if g is not None and g.requires_grad)
    g2 = grad(s2, leaves)

    def arrays(gs):  # None (an unused input, e.g. a bias at second order) as zeros
        return [np.zeros(x.shape) if g is None else np.asarray(g.detach() if lib is not ng else g)
                for g, x in zip(gs, leaves)]
    return arrays(g1), arrays(g2)


CASES = [("rnn", 2, 2, "tanh"), ("rnn", 1, 1, "relu"), ("rnn", 2, 1, "relu"), ("lstm", 2, 2, "tanh"),
         ("lstm", 1, 1, "tanh"), ("gru", 2, 2, "tanh"), ("gru", 1, 1, "tanh")]


def _outputs_then_two_orders(torch, rng, arrays, names, ng_v, t_v, ng_out, t_out):
    """Asserts that the outputs agree with torch's, then returns the first and second derivatives of
    sum(w * outputs) (random w) along random directions of the inputs `names`, for both libraries:
    (nthgrad first, nthgrad second, torch first, torch second)."""
    for a, b in zip(ng_out, t_out):
        np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = [rng.standard_normal(o.shape) for o in ng_out]
    directions = [rng.standard_normal(arrays[n].shape) for n in names]
    g1, g2 = _first_and_second(ng, ng_out, [ng_v[n] for n in names], [ng.tensor(w) for w in weights],
                               [ng.tensor(d) for d in directions])
    t1, t2 = _first_and_second(torch, t_out, [t_v[n] for n in names], [torch.tensor(w) for w in weights],
                               [torch.tensor(d) for d in directions])
    return g1, g2, t1, t2


@pytest.mark.parametrize("cell, L, D, nonlinearity", CASES)
def test_recurrent_layers_match_torch_at_orders_1_and_2(cell, L, D, nonlinearity):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(hash((cell, L, D, nonlinearity)) % 2**32)
    arrays = _inputs(cell, L, D, rng)
    names = [n for n, a in arrays.items() if a is not None]
    ng_v = {n: (ng.tensor(a, requires_grad=True) if a is not None else None) for n, a in arrays.items()}
    t_v = {n: (torch.tensor(a, requires_grad=True) if a is not None else None) for n, a in arrays.items()}
    ng_out = _ng_call(cell, ng_v, L, D, nonlinearity)
    t_out = _torch_call(torch, cell, t_v, L, D, nonlinearity)
    g1, g2, t1, t2 = _outputs_then_two_orders(torch, rng, arrays, names, ng_v, t_v, ng_out, t_out)
    for n, a, b in zip(names, g1, t1):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=f"first order, {n}")
    for n, a, b in zip(names, g2, t2):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=f"second order, {n}")


def test_numpy_reference_agrees_with_torch_on_gru_bias_split():
    # The table's reference and torch disagree unless gru's b_n halves stay apart (r multiplies only the hidden one).
    torch = pytest.importorskip("torch")
    arrays = _inputs("gru", 1, 1, np.random.default_rng(3))
    y_ref, h_ref, _ = recurrent_ref("gru", arrays["x"], arrays["h"], None, arrays["weight_l0"], None,
                                    arrays["bias"], 1, False)
    t_v = {n: (torch.tensor(a) if a is not None else None) for n, a in arrays.items()}
    y, h_n = _torch_call(torch, "gru", t_v, 1, 1)
    np.testing.assert_allclose(y_ref, y.detach().numpy(), rtol=1e-12)
    merged = arrays["bias"].copy()
    merged[0, 0, 2] += merged[0, 0, 3]
    merged[0, 0, 3] = 0
    y_merged, _, _ = recurrent_ref("gru", arrays["x"], arrays["h"], None, arrays["weight_l0"], None, merged, 1,
                                   False)
    assert not np.allclose(y_merged, y_ref)


def _lstm_tensors(L=2, D=1, seed=0):
    arrays = _inputs("lstm", L, D, np.random.default_rng(seed))
    return {n: (ng.tensor(a, requires_grad=True) if a is not None else None) for n, a in arrays.items()}


def test_dropout_applies_between_layers_only_when_training():
    v = _lstm_tensors()
    y0 = np.asarray(_ng_call("lstm", v, 2, 1)[0])
    ng.manual_seed(7)
    y1 = np.asarray(_ng_call("lstm", v, 2, 1, dropout=0.5)[0])
    ng.manual_seed(7)
    y2 = np.asarray(_ng_call("lstm", v, 2, 1, dropout=0.5)[0])
    y3 = np.asarray(_ng_call("lstm", v, 2, 1, dropout=0.5)[0])  # the generator moved on
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(y1, y0) and not np.allclose(y3, y1)
    # eval mode: no dropout at all
    np.testing.assert_array_equal(np.asarray(_ng_call("lstm", v, 2, 1, dropout=0.5, training=False)[0]), y0)
    # one layer: no layer follows, so nothing is dropped
    v1 = _lstm_tensors(L=1)
    np.testing.assert_array_equal(np.asarray(_ng_call("lstm", v1, 1, 1, dropout=0.9)[0]),
                                  np.asarray(_ng_call("lstm", v1, 1, 1)[0]))


def test_dropout_equals_the_reference_with_the_same_mask():
    # Layer 2 reads dropout(layer 1's y): rebuild that from two one-layer calls and the same seed.
    v = _lstm_tensors()
    ng.manual_seed(11)
    y, h_n, c_n = _ng_call("lstm", v, 2, 1, dropout=0.3)
    y1, _, _ = F.lstm(v["x"], v["h"][0:1], v["c"][0:1], v["weight_l0"], bias=v["bias"][0:1])
    ng.manual_seed(11)
    dropped = F.dropout(y1, 0.3)
    y2, _, _ = F.lstm(dropped, v["h"][1:2], v["c"][1:2], v["weight"][0], bias=v["bias"][1:2])
    np.testing.assert_allclose(np.asarray(y), np.asarray(y2), rtol=1e-12)


def test_gradients_work_in_eval_mode():
    # nnabla raises on backward with training=False; here training only switches dropout off.
    v = _lstm_tensors()
    y, _, _ = _ng_call("lstm", v, 2, 1, dropout=0.5, training=False)
    gx_eval, = ng.grad(y.sum(), [v["x"]])
    y, _, _ = _ng_call("lstm", v, 2, 1)
    gx, = ng.grad(y.sum(), [v["x"]])
    np.testing.assert_array_equal(np.asarray(gx_eval), np.asarray(gx))
    assert np.abs(np.asarray(gx)).max() > 0


def _count_nodes(*tensors):
    return len(graph_nodes(*tensors))


@pytest.mark.parametrize("cell, per_step", [("lstm", 3), ("gru", 16), ("rnn", 3)])
def test_one_recorded_step_is_small(cell, per_step):
    def nodes(steps):
        rng = np.random.default_rng(0)
        arrays = _inputs(cell, 1, 1, rng)
        arrays["x"] = rng.uniform(-1, 1, (steps, B, I))
        v = {n: (ng.tensor(a, requires_grad=True) if a is not None else None) for n, a in arrays.items()}
        return _count_nodes(*_ng_call(cell, v, 1, 1))
    # each further time step adds the same nodes: the h matmul, an add, reshape + split of the gates, the
    # elementwise ops; for lstm the fused lstm_cell (matmul, add, lstm_cell)
    assert nodes(4) - nodes(3) == nodes(3) - nodes(2) <= per_step


def test_empty_sequence_returns_the_initial_state():
    v = _lstm_tensors()
    v["x"] = ng.tensor(np.zeros((0, B, I)), requires_grad=True)
    y, h_n, c_n = _ng_call("lstm", v, 2, 1)
    assert y.shape == (0, B, H)
    np.testing.assert_array_equal(np.asarray(h_n), np.asarray(v["h"]))
    np.testing.assert_array_equal(np.asarray(c_n), np.asarray(v["c"]))


# ---- multi_head_attention ----

E, LT, LS, BATCH, HEADS = 4, 3, 5, 2, 2


def _mha_arrays(rng, bias_kv=False):
    u = lambda *s: rng.uniform(-1, 1, s)  # noqa: E731
    a = {"query": u(LT, BATCH, E), "key": u(LS, BATCH, E), "value": u(LS, BATCH, E), "q_weight": u(E, E),
         "k_weight": u(E, E), "v_weight": u(E, E), "out_weight": u(E, E), "q_bias": u(E), "k_bias": u(E),
         "v_bias": u(E), "out_bias": u(E), "additive_mask": u(LT, LS)}
    if bias_kv:
        a["attn_bias_k"], a["attn_bias_v"] = u(E), u(E)
    return a


def _torch_mha(torch, t, padding=None):
    import torch.nn.functional as TF
    zeros = torch.zeros(E, dtype=torch.float64)
    y, w = TF.multi_head_attention_forward(
        t["query"], t["key"], t["value"], E, HEADS, None,
        torch.cat([t["q_bias"], t["k_bias"], t["v_bias"]]),
        t["attn_bias_k"].reshape(1, 1, E) if "attn_bias_k" in t else None,
        t["attn_bias_v"].reshape(1, 1, E) if "attn_bias_v" in t else None,
        False, 0.0, t["out_weight"].T, t["out_bias"] if "out_bias" in t else zeros, training=True,
        key_padding_mask=padding, need_weights=True, attn_mask=t["additive_mask"], use_separate_proj_weight=True,
        q_proj_weight=t["q_weight"].T, k_proj_weight=t["k_weight"].T, v_proj_weight=t["v_weight"].T,
        average_attn_weights=True)
    return y, w


def _ng_mha(v, padding=None, dropout=0.0):
    return F.multi_head_attention(
        v["query"], v["key"], v["value"], HEADS, v["q_weight"], v["k_weight"], v["v_weight"], v["out_weight"],
        v["q_bias"], v["k_bias"], v["v_bias"], v["out_bias"], v.get("attn_bias_k"), v.get("attn_bias_v"),
        dropout=dropout, additive_mask=v["additive_mask"], key_padding_mask=padding)


@pytest.mark.parametrize("bias_kv", [False, True])
def test_multi_head_attention_matches_torch_at_orders_1_and_2(bias_kv):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    arrays = _mha_arrays(rng, bias_kv)
    padding = np.zeros((BATCH, LS), dtype=bool)
    padding[0, 1] = padding[1, 4] = True
    names = list(arrays)
    ng_v = {n: ng.tensor(a, requires_grad=True) for n, a in arrays.items()}
    t_v = {n: torch.tensor(a, requires_grad=True) for n, a in arrays.items()}
    ng_out = _ng_mha(ng_v, ng.tensor(padding.astype(np.float64)))
    t_out = _torch_mha(torch, t_v, torch.where(torch.tensor(padding), -np.inf, 0.0).double())
    g1, g2, t1, t2 = _outputs_then_two_orders(torch, rng, arrays, names, ng_v, t_v, ng_out, t_out)
    for n, a, b in zip(names, g1 + g2, t1 + t2):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=n)


def test_padded_keys_get_no_weight_and_no_gradient():
    rng = np.random.default_rng(1)
    v = {n: ng.tensor(a, requires_grad=True) for n, a in _mha_arrays(rng).items()}
    padding = np.zeros((BATCH, LS), dtype=np.int64)
    padding[1, 2] = 1
    y, w = _ng_mha(v, ng.tensor(padding))
    assert np.all(np.asarray(w)[1, :, 2] == 0) and np.all(np.asarray(w)[0, :, 2] > 0)
    np.testing.assert_allclose(np.asarray(w).sum(-1), 1, rtol=1e-12)
    gk, gv = ng.grad(y.sum(), [v["key"], v["value"]])
    assert np.all(np.asarray(gk)[2, 1] == 0) and np.all(np.asarray(gv)[2, 1] == 0)
    assert np.abs(np.asarray(gk)[2, 0]).max() > 0


def test_multi_head_attention_dropout_is_seeded_and_rescales():
    v = {n: ng.tensor(a) for n, a in _mha_arrays(np.random.default_rng(2)).items()}
    ng.manual_seed(3)
    y1, w1 = _ng_mha(v, dropout=0.5)
    ng.manual_seed(3)
    y2, w2 = _ng_mha(v, dropout=0.5)
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(y2))
    _, w0 = _ng_mha(v)
    w0, w1 = np.asarray(w0), np.asarray(w1)
    # each head's weight is kept times 2 or zeroed, so the average over heads lies in [0, 2 w0]
    assert not np.allclose(w1, w0)
    assert np.all(w1 >= 0) and np.all(w1 <= 2 * w0 + 1e-12)


def test_multi_head_attention_is_stable_for_large_float32_scores():
    rng = np.random.default_rng(4)
    arrays = {n: (a * (1000 if n in ("query", "key") else 1)).astype(np.float32)
              for n, a in _mha_arrays(rng).items()}
    v = {n: ng.tensor(a, requires_grad=True) for n, a in arrays.items()}
    y, w = _ng_mha(v)
    g = ng.grad(y.sum(), [v["query"], v["key"]])
    assert np.all(np.isfinite(np.asarray(y))) and np.all(np.isfinite(np.asarray(w)))
    assert all(np.all(np.isfinite(np.asarray(x))) for x in g)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_saturated_float32_gates_stay_finite(cell):
    # inputs of magnitude 1000 drive every gate to 0/1 and tanh to +-1: values and gradients stay finite
    arrays = _inputs(cell, 2, 2, np.random.default_rng(6))
    arrays["x"] = arrays["x"] * 1000
    v = {n: (ng.tensor(a.astype(np.float32), requires_grad=True) if a is not None else None)
         for n, a in arrays.items()}
    outs = _ng_call(cell, v, 2, 2)
    names = [n for n in v if v[n] is not None]
    grads = ng.grad(sum(o.sum() for o in outs), [v[n] for n in names])
    assert all(np.all(np.isfinite(np.asarray(o))) for o in outs)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)
    assert np.abs(np.asarray(outs[0])).max() <= 1 + 1e-6  # every h is a tanh, or a mix of tanh and h0
