"""Losses with their first and second derivatives (issue 8):

    softmax_cross_entropy on (512, 1000) float32 logits, int64 labels
        (torch: cross_entropy(reduction="none"))
    sigmoid_cross_entropy on 10^6 float32 logits, targets in [0, 1]
        (torch: binary_cross_entropy_with_logits(reduction="none"))

y = sum(loss), g = grad(y, x), and the second order h = grad(sum(g * g), x)
(sum(g) of softmax cross-entropy is 0 for every x, so its grad would be 0).
Both libraries are checked against each other before timing. Each row runs
from scratch: forward, forward + gradient, forward + second-order gradient.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "softmax / sigmoid cross-entropy (float32): forward, 1st and 2nd derivative"
TOLERANCES = {"sce y": (1e-4, 1e-4), "sce g": (1e-4, 1e-6), "sce h": (1e-3, 1e-7),
              "bce y": (1e-4, 1e-4), "bce g": (1e-4, 1e-6), "bce h": (1e-3, 1e-6)}


def data(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((512, 1000)).astype(np.float32) * 3, rng.integers(0, 1000, (512, 1)),
            rng.standard_normal(1_000_000).astype(np.float32) * 3, rng.uniform(0, 1, 1_000_000).astype(np.float32))


def make(lib, arrays):
    logits, labels, x_np, t_np = arrays
    if lib == "nthgrad":
        import nthgrad as ng
        import nthgrad.functional as F
        xs, lab = ng.tensor(logits, requires_grad=True), ng.tensor(labels)
        xb, tb = ng.tensor(x_np, requires_grad=True), ng.tensor(t_np)
        sce = lambda: F.softmax_cross_entropy(xs, lab).sum()  # noqa: E731
        bce = lambda: F.sigmoid_cross_entropy(xb, tb).sum()  # noqa: E731
        grad = ng.grad
    else:
        import torch
        tf = torch.nn.functional
        xs, lab = torch.tensor(logits, requires_grad=True), torch.tensor(labels[:, 0])
        xb, tb = torch.tensor(x_np, requires_grad=True), torch.tensor(t_np)
        sce = lambda: tf.cross_entropy(xs, lab, reduction="none").sum()  # noqa: E731
        bce = lambda: tf.binary_cross_entropy_with_logits(xb, tb, reduction="none").sum()  # noqa: E731
        grad = torch.autograd.grad

    def orders(loss, x):
        def first():
            return grad(loss(), [x])[0]

        def second():
            g = grad(loss(), [x], create_graph=True)[0]
            return grad((g * g).sum(), [x])[0]
        return loss, first, second

    fns = {"sce": orders(sce, xs), "bce": orders(bce, xb)}

    def check():
        out = {}
        for k, (f0, f1, f2) in fns.items():
            out[f"{k} y"], out[f"{k} g"], out[f"{k} h"] = (common.to_numpy(f0()), common.to_numpy(f1()),
                                                          common.to_numpy(f2()))
        return out

    return fns, check


def run(libs, scale=1.0):
    arrays = data()
    made = {lib: make(lib, arrays) for lib in libs}
    checks = {lib: made[lib][1]() for lib in libs}
    common.compare(checks, TOLERANCES, "losses: ")
    rows = []
    for key, label in (("sce", "softmax_ce 512x1000 f32"), ("bce", "sigmoid_ce 1e6 f32")):
        r = [common.Row(f"{label}: forward", "ms"), common.Row(f"{label}: fwd + grad", "ms"),
             common.Row(f"{label}: fwd + 2nd-order grad", "ms")]
        fns = {lib: made[lib][0][key] for lib in libs}
        common.measure_rows(r, fns, libs, repeat=common.repeats(20, scale), warmup=2)
        rows += r
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
