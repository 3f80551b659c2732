"""Convolution 3x3, stride 1, pad 1: x (32, 64, 32, 32) -> 64 channels, float32.

  (a) forward + backward: loss = sum(conv(x, w, b)^2), gradients for x, w and b.
  (b) double backward (the gradient-penalty pattern): g = d loss / dx with
      create_graph, then (g^2).sum() differentiated w.r.t. the weight.

  nthgrad: F.convolution(x, w, b, pad=(1, 1)); ng.grad.
  torch:   torch.nn.functional.conv2d(x, w, b, padding=1); torch.autograd.grad.
Both libraries at their default thread count (2 on this machine); the same
NumPy inputs.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "convolution 3x3 pad 1, x (32, 64, 32, 32) -> 64 channels, float32: fwd+bwd and double backward"
SHAPE_X, SHAPE_W = (32, 64, 32, 32), (64, 64, 3, 3)
TOLERANCES = {"y": (1e-4, 1e-5), "gx": (1e-3, 1e-4), "gw": (1e-3, 1e-4), "gb": (1e-3, 1e-4),
              "penalty gw": (1e-3, 1e-4)}


def init(seed=0, batch=SHAPE_X[0]):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch,) + SHAPE_X[1:]).astype(np.float32)
    w = (rng.standard_normal(SHAPE_W) * np.sqrt(2.0 / (64 * 9))).astype(np.float32)
    b = (0.1 * rng.standard_normal(SHAPE_W[0])).astype(np.float32)
    return x, w, b


def make(lib, x_np, w_np, b_np):
    if lib == "nthgrad":
        import nthgrad as ng
        import nthgrad.functional as F
        x, w, b = (ng.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
        conv = lambda: F.convolution(x, w, b, pad=(1, 1))  # noqa: E731
        grad = ng.grad
    else:
        import torch
        x, w, b = (torch.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
        conv = lambda: torch.nn.functional.conv2d(x, w, b, padding=1)  # noqa: E731
        grad = torch.autograd.grad

    def forward_backward():
        y = conv()
        return y, grad((y * y).sum(), [x, w, b])

    def double_backward():
        y = conv()
        (gx,) = grad((y * y).sum(), [x], create_graph=True)
        return grad((gx * gx).sum(), [w])

    def check():
        y, (gx, gw, gb) = forward_backward()
        (pw,) = double_backward()
        return {"y": common.to_numpy(y), "gx": common.to_numpy(gx), "gw": common.to_numpy(gw),
                "gb": common.to_numpy(gb), "penalty gw": common.to_numpy(pw)}

    return forward_backward, double_backward, check


def run(libs, scale=1.0):
    x, w, b = init()
    fns = {lib: make(lib, x, w, b) for lib in libs}
    checks = {lib: fns[lib][2]() for lib in libs}
    common.compare(checks, TOLERANCES, "conv: ")
    rows = [common.Row("conv 3x3: forward+backward", "ms"), common.Row("conv 3x3: double backward (penalty)", "ms")]
    common.measure_rows(rows, fns, libs, repeat=common.repeats(20, scale), warmup=2)
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
