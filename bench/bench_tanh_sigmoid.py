"""Elementwise tanh * sigmoid on 10^6 float32 values, and its first and
second derivatives:

    y = sum(tanh(x) * sigmoid(x))
    g = grad(y, x)                                       (first order)
    g = grad(y, x, create_graph=True); h = grad(g.sum(), x)   (second order)

x: 10^6 float32 values, uniform in [-4, 4] (NumPy, seed 0), requires_grad.
nthgrad with F.tanh, F.sigmoid and ng.grad, torch with torch.tanh,
torch.sigmoid and torch.autograd.grad. y, g and h are checked against each
other, and both libraries against the closed forms in float64 (t = tanh x,
s = sigmoid x; t' = 1 - t^2, s' = s (1 - s)):

    f'  = (1 - t^2) s + t s (1 - s)
    f'' = -2 t (1 - t^2) s + 2 (1 - t^2) s (1 - s) + t s (1 - s) (1 - 2 s)

Rows (each from scratch, so every row includes the forward): forward
(recording the graph), forward + first-order gradient, forward + second-order
gradient (both grads).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "tanh(x) * sigmoid(x) on 10^6 float32 values: forward, 1st and 2nd derivative"
N = 1_000_000
TOLERANCES = {"y": (1e-4, 1e-6), "dy/dx": (1e-4, 1e-5), "d2y/dx2": (1e-3, 1e-4)}
EXACT_TOL = 1e-4  # max |float32 result - float64 closed form| / max |closed form|


def points(seed=0):
    return np.random.default_rng(seed).uniform(-4.0, 4.0, N).astype(np.float32)


def exact(x):
    """(f', f'') of f = tanh * sigmoid, in float64."""
    x = np.asarray(x, dtype=np.float64)
    t = np.tanh(x)
    s = 1.0 / (1.0 + np.exp(-x))
    dt, ds = 1.0 - t * t, s * (1.0 - s)
    d1 = dt * s + t * ds
    d2 = -2.0 * t * dt * s + 2.0 * dt * ds + t * ds * (1.0 - 2.0 * s)
    return d1, d2


def make(lib, x_np):
    """(forward, first, second, check) closures for `lib`."""
    if lib == "nthgrad":
        import nthgrad as ng
        import nthgrad.functional as F
        x = ng.tensor(x_np, requires_grad=True)
        tanh, sigmoid, grad = F.tanh, F.sigmoid, ng.grad
    else:
        import torch
        x = torch.tensor(x_np, requires_grad=True)
        tanh, sigmoid, grad = torch.tanh, torch.sigmoid, torch.autograd.grad

    def forward():
        return (tanh(x) * sigmoid(x)).sum()

    def first():
        return grad(forward(), [x])[0]

    def second():
        g = grad(forward(), [x], create_graph=True)[0]
        return grad(g.sum(), [x])[0]

    def check():
        return {"y": common.to_numpy(forward()), "dy/dx": common.to_numpy(first()),
                "d2y/dx2": common.to_numpy(second())}

    return forward, first, second, check


def run(libs, scale=1.0):
    x_np = points()
    fns = {lib: make(lib, x_np) for lib in libs}
    checks = {lib: fns[lib][3]() for lib in libs}
    d1, d2 = exact(x_np)
    for lib in libs:
        errs = [np.max(np.abs(checks[lib][name] - ref)) / np.max(np.abs(ref))
                for name, ref in (("dy/dx", d1), ("d2y/dx2", d2))]
        flag = "OK" if max(errs) < EXACT_TOL else "!!! MISMATCH with the closed form !!!"
        print(f"check tanh*sigmoid: {lib} vs float64 closed form: max |diff| / max |exact|: "
              f"dy/dx {errs[0]:.1e}, d2y/dx2 {errs[1]:.1e} {flag}")
    common.compare(checks, TOLERANCES, "tanh*sigmoid: ")
    rows = [common.Row("tanh*sigmoid 1e6 f32: forward", "ms"),
            common.Row("tanh*sigmoid 1e6 f32: fwd + grad", "ms"),
            common.Row("tanh*sigmoid 1e6 f32: fwd + 2nd-order grad", "ms")]
    common.measure_rows(rows, fns, libs, repeat=common.repeats(60, scale), warmup=3)
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
