"""batch_normalization in training mode (batch statistics, running statistics
updated in place) on a (32, 64, 32, 32) float32 tensor, and layer_normalization
over (64, 32, 32) of the same tensor, each forward + first-order gradient of
sum(w * y) (w: fixed uniform weights, so that the gradient is not ~0) with
respect to x, gamma and beta.

nthgrad: F.batch_normalization(x, beta, gamma, mean, variance) with (1, 64,
1, 1) parameters; torch: torch.nn.functional.batch_norm(training=True) with
(64,) ones. y and the gradients are checked against each other.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "batch_normalization / layer_normalization (32, 64, 32, 32) f32: forward + grad"
SHAPE = (32, 64, 32, 32)
TOLERANCES = {"bn y": (1e-4, 1e-4), "bn dx": (1e-3, 1e-5), "bn dgamma": (1e-3, 1e-2), "bn dbeta": (1e-4, 1e-2),
              "ln y": (1e-4, 1e-4), "ln dx": (1e-3, 1e-5)}


def make(lib, x_np, w_np, g_np):
    if lib == "nthgrad":
        import nthgrad as ng
        import nthgrad.functional as F
        x, w = ng.tensor(x_np, requires_grad=True), ng.tensor(w_np)
        gamma = ng.tensor(g_np.reshape(1, 64, 1, 1), requires_grad=True)
        beta = ng.zeros((1, 64, 1, 1), ng.float32, requires_grad=True)
        gl, bl = ng.tensor(np.ones((1, 64, 32, 32), np.float32), requires_grad=True), None
        mean, var = ng.zeros((1, 64, 1, 1)), ng.ones((1, 64, 1, 1))
        grad = ng.grad

        def bn():
            return F.batch_normalization(x, beta, gamma, mean, var)

        def ln():
            return F.layer_normalization(x, bl, gl)
    else:
        import torch
        x, w = torch.tensor(x_np, requires_grad=True), torch.tensor(w_np)
        gamma = torch.tensor(g_np, requires_grad=True)
        beta = torch.zeros(64, requires_grad=True)
        gl = torch.ones((64, 32, 32), requires_grad=True)
        mean, var = torch.zeros(64), torch.ones(64)
        grad = torch.autograd.grad

        def bn():
            return torch.nn.functional.batch_norm(x, mean, var, gamma, beta, training=True)

        def ln():
            return torch.nn.functional.layer_norm(x, (64, 32, 32), gl)

    def bn_grad():
        return grad((bn() * w).sum(), [x, gamma, beta])

    def ln_grad():
        return grad((ln() * w).sum(), [x])

    def check():
        gx, gg, gb = bn_grad()
        (lx,) = ln_grad()
        return {"bn y": common.to_numpy(bn()), "bn dx": common.to_numpy(gx),
                "bn dgamma": common.to_numpy(gg).ravel(), "bn dbeta": common.to_numpy(gb).ravel(),
                "ln y": common.to_numpy(ln()), "ln dx": common.to_numpy(lx)}

    return bn_grad, ln_grad, check


def run(libs, scale=1.0):
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(SHAPE).astype(np.float32)
    w_np = rng.uniform(0.5, 1.5, SHAPE).astype(np.float32)
    g_np = rng.uniform(0.5, 1.5, 64).astype(np.float32)
    fns = {lib: make(lib, x_np, w_np, g_np) for lib in libs}
    checks = {lib: fns[lib][2]() for lib in libs}
    common.compare(checks, TOLERANCES, "normalization: ")
    rows = [common.Row("batch_normalization (32,64,32,32) f32: fwd + grad", "ms"),
            common.Row("layer_normalization (32,64,32,32) f32: fwd + grad", "ms")]
    common.measure_rows(rows, {lib: fns[lib][:2] for lib in libs}, libs, repeat=common.repeats(10, scale), warmup=2)
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
