"""LIF feed-forward layer over 100 time steps, batch 128, 256 neurons,
float32: forward plus BPTT backward, side by side with the same model in
PyTorch.

Model: currents = x_t @ W^T for every step (x (100, 128, 256), W (256, 256),
one product over all steps), a LIF layer with Norse's defaults (dt = 1e-3,
tau_syn_inv 200, tau_mem_inv 100, v_th 1, SuperSpike alpha 100), loss =
sum(spikes * c) for a fixed c, gradient in W.

  nthgrad: snn.lif_feed_forward_integral (the time loop in C++, each step
           recorded as ops, the spike through surrogate_heaviside).
  torch:   the same update order in a Python loop over the steps, the spike
           through a torch.autograd.Function with SuperSpike's backward (as
           Norse implements it).

Rows: forward (recording), forward + backward.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "LIF feed-forward, 100 steps, batch 128, 256 neurons, float32: forward + BPTT (SuperSpike)"
T, B, N = 100, 128, 256
DT, TAU_SYN_INV, TAU_MEM_INV, V_TH, ALPHA = 1e-3, 200.0, 100.0, 1.0, 100.0
TOLERANCES = {"spikes": (0.0, 0.0), "grad W": (1e-3, 1e-4)}


def init(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (T, B, N)).astype(np.float32)
    w = (rng.standard_normal((N, N)) * 0.3).astype(np.float32)
    c = rng.standard_normal((T, B, N)).astype(np.float32)
    return x, w, c


def make(lib, x_np, w_np, c_np):
    """(forward, forward_backward, check) closures."""
    if lib == "nthgrad":
        import nthgrad as ng
        import nthgrad.functional as F
        from nthgrad import snn
        x, c = ng.tensor(x_np), ng.tensor(c_np)
        w = ng.tensor(w_np, requires_grad=True)
        p = snn.LIFParameters(alpha=ALPHA)

        def forward():
            currents = F.linear(x, w)
            zs, _ = snn.lif_feed_forward_integral(currents, None, p, DT)
            return zs

        def loss_of(zs):
            return (zs * c).sum()

        def grad_w(loss):
            (g,) = ng.grad(loss, [w])
            return g
    else:
        import torch

        class SuperSpike(torch.autograd.Function):
            @staticmethod
            def forward(ctx, v):
                ctx.save_for_backward(v)
                return (v > 0).to(v.dtype)

            @staticmethod
            def backward(ctx, g):
                (v,) = ctx.saved_tensors
                return g / (ALPHA * v.abs() + 1.0) ** 2

        x, c = torch.tensor(x_np), torch.tensor(c_np)
        w = torch.tensor(w_np, requires_grad=True)

        def forward():
            currents = torch.nn.functional.linear(x, w)
            v = torch.zeros(B, N)
            i = torch.zeros(B, N)
            zs = []
            for t in range(T):
                i = i + currents[t]
                v = v + DT * TAU_MEM_INV * ((0.0 - v) + i)
                i = i - DT * TAU_SYN_INV * i
                z = SuperSpike.apply(v - V_TH)
                v = (1 - z) * v + z * 0.0
                zs.append(z)
            return torch.stack(zs)

        def loss_of(zs):
            return (zs * c).sum()

        def grad_w(loss):
            (g,) = torch.autograd.grad(loss, [w])
            return g

    def forward_backward():
        return grad_w(loss_of(forward()))

    def check():
        zs = forward()
        return {"spikes": common.to_numpy(zs), "grad W": common.to_numpy(grad_w(loss_of(zs)))}

    return forward, forward_backward, check


def run(libs, scale=1.0):
    x, w, c = init()
    fns = {lib: make(lib, x, w, c) for lib in libs}
    checks = {lib: fns[lib][2]() for lib in libs}
    common.compare(checks, TOLERANCES, "snn: ")
    rows = [common.Row("lif 100 steps: forward (recording)", "ms"),
            common.Row("lif 100 steps: forward + BPTT backward", "ms")]
    common.measure_rows(rows, fns, libs, repeat=common.repeats(30, scale), warmup=2)
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
