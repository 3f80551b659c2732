"""LSTM of 2 layers, hidden 256, input 256, 50 steps, batch 32, float32:
forward, and forward + backward of loss = mean(y^2) + mean(h_n^2) + mean(c_n^2).

  nthgrad: F.lstm with nnabla's layouts: weight_l0 (1, 4, H, I+H), weight
           (1, 1, 4, H, 2H), bias (2, 1, 4, H), h0/c0 (2, 1, B, H).
  torch:   torch.nn.LSTM(256, 256, num_layers=2) (its own CPU kernel) with the
           same numbers: weight_ih/hh are the input/hidden column blocks of
           nnabla's weights (same gate order i, f, g, o), bias_ih = nnabla's
           bias and bias_hh = 0.

Same random weights, input and initial states for both (NumPy, converted).
The checks compare the loss and every gradient (weights mapped back to
nnabla's layout) before timing.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "LSTM 2 layers, hidden 256, input 256, 50 steps, batch 32, float32: forward + backward"
T, B, I, H, L = 50, 32, 256, 256, 2
NAMES = ("x", "h", "c", "weight_l0", "weight", "bias")
TOLERANCES = {"loss": (1e-4, 1e-6)}
TOLERANCES.update({f"grad {n}": (1e-3, 1e-4) for n in NAMES})


def init(seed=0):
    rng = np.random.default_rng(seed)
    s = 1 / np.sqrt(H)
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    return {
        "x": f32(rng.standard_normal((T, B, I))),
        "h": f32(0.5 * rng.standard_normal((L, 1, B, H))),
        "c": f32(0.5 * rng.standard_normal((L, 1, B, H))),
        "weight_l0": f32(rng.uniform(-s, s, (1, 4, H, I + H))),
        "weight": f32(rng.uniform(-s, s, (L - 1, 1, 4, H, H + H))),
        "bias": f32(rng.uniform(-s, s, (L, 1, 4, H))),
    }


def torch_weights(p):
    """nn.LSTM parameters (weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}) from nnabla's layout."""
    out = {}
    for k in range(L):
        w = p["weight_l0"][0] if k == 0 else p["weight"][k - 1, 0]  # (4, H, in + H)
        w = w.reshape(4 * H, -1)
        n_in = w.shape[1] - H
        out[f"weight_ih_l{k}"], out[f"weight_hh_l{k}"] = w[:, :n_in], w[:, n_in:]
        out[f"bias_ih_l{k}"] = p["bias"][k, 0].reshape(-1)
        out[f"bias_hh_l{k}"] = np.zeros(4 * H, np.float32)
    return out


def nnabla_grads(model, p):
    """The gradients of nn.LSTM's parameters, in nnabla's layout."""
    gw0 = np.zeros_like(p["weight_l0"])
    gw = np.zeros_like(p["weight"])
    gb = np.zeros_like(p["bias"])
    for k in range(L):
        ih = getattr(model, f"weight_ih_l{k}").grad.numpy().reshape(4, H, -1)
        hh = getattr(model, f"weight_hh_l{k}").grad.numpy().reshape(4, H, H)
        target = gw0[0] if k == 0 else gw[k - 1, 0]
        target[...] = np.concatenate([ih, hh], axis=-1)
        gb[k, 0] = getattr(model, f"bias_ih_l{k}").grad.numpy().reshape(4, H)
    return gw0, gw, gb


def make(lib, p):
    """(forward, forward_backward, check) closures."""
    if lib == "nthgrad":
        import nthgrad as ng
        import nthgrad.functional as F
        v = {n: ng.tensor(a, requires_grad=True) for n, a in p.items()}

        def loss():
            y, h_n, c_n = F.lstm(v["x"], v["h"], v["c"], v["weight_l0"], v["weight"], v["bias"], num_layers=L)
            return (y * y).mean() + (h_n * h_n).mean() + (c_n * c_n).mean()

        def grads():
            return [common.to_numpy(v[n].grad) for n in NAMES]

        def zero():
            for t in v.values():
                t.grad = None
    else:
        import torch
        model = torch.nn.LSTM(I, H, num_layers=L)
        with torch.no_grad():
            for name, a in torch_weights(p).items():
                getattr(model, name).copy_(torch.from_numpy(np.ascontiguousarray(a)))
        x = torch.tensor(p["x"], requires_grad=True)
        h0 = torch.tensor(p["h"].reshape(L, B, H), requires_grad=True)
        c0 = torch.tensor(p["c"].reshape(L, B, H), requires_grad=True)

        def loss():
            y, (h_n, c_n) = model(x, (h0, c0))
            return (y * y).mean() + (h_n * h_n).mean() + (c_n * c_n).mean()

        def grads():
            gw0, gw, gb = nnabla_grads(model, p)
            return [x.grad.numpy(), h0.grad.numpy().reshape(L, 1, B, H), c0.grad.numpy().reshape(L, 1, B, H),
                    gw0, gw, gb]

        def zero():
            model.zero_grad(set_to_none=True)
            for t in (x, h0, c0):
                t.grad = None

    def forward():
        return loss()

    def forward_backward():
        zero()
        out = loss()
        out.backward()
        return out

    def check():
        out = {"loss": common.to_numpy(forward_backward())}
        for n, g in zip(NAMES, grads()):
            out[f"grad {n}"] = g
        zero()
        return out

    return forward, forward_backward, check


def run(libs, scale=1.0):
    p = init()
    fns = {lib: make(lib, p) for lib in libs}
    checks = {lib: fns[lib][2]() for lib in libs}
    common.compare(checks, TOLERANCES, "lstm: ")
    rows = [common.Row("lstm: forward (recording)", "ms"), common.Row("lstm: forward+backward", "ms")]
    common.measure_rows(rows, fns, libs, repeat=common.repeats(20, scale), warmup=2)
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
