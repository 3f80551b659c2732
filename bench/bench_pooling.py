"""Pooling on a ResNet-stem-sized float32 batch (issue 8), forward + backward:

    max 3x3/2:        y = sum(w * max_pooling(x, (3, 3), (2, 2)))                 x (32, 64, 56, 56)
    average 3x3/2 p1: y = sum(w * average_pooling(x, (3, 3), (2, 2), pad=(1, 1)))  (divisor includes the pad)
    max channel_last: the first case on x as (32, 56, 56, 64)

torch: max_pool2d / avg_pool2d(count_include_pad=True); the channel_last row
gives torch the same values in its channels_last memory format. Values and
gradients are checked against each other (x has distinct values, so the
argmax agrees). Each row is forward + backward (ng.grad /
torch.autograd.grad) from scratch.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "max / average pooling 3x3 stride 2 on (32, 64, 56, 56) float32: forward + backward"
SHAPE = (32, 64, 56, 56)
TOLERANCES = {f"{name} {what}": (1e-5, 1e-5) for name in ("max", "avg", "max_cl") for what in ("y", "dx")}


def inputs(seed=0):
    rng = np.random.default_rng(seed)
    n = int(np.prod(SHAPE))
    x = (rng.permutation(n).astype(np.float32) / n).reshape(SHAPE)   # distinct values: one argmax
    out = (SHAPE[0], SHAPE[1], 27, 27)
    return {"x": x, "w": rng.uniform(0.5, 1.5, out).astype(np.float32),
            "w_avg": rng.uniform(0.5, 1.5, (SHAPE[0], SHAPE[1], 28, 28)).astype(np.float32)}


def make(lib, d):
    x_cl = np.ascontiguousarray(np.moveaxis(d["x"], 1, -1))
    if lib == "nthgrad":
        import nthgrad as ng
        import nthgrad.functional as F
        x, xl = ng.tensor(d["x"], requires_grad=True), ng.tensor(x_cl, requires_grad=True)
        w, w_avg = ng.tensor(d["w"]), ng.tensor(d["w_avg"])
        w_cl = ng.tensor(np.ascontiguousarray(np.moveaxis(d["w"], 1, -1)))
        grad = ng.grad
        pool_max = lambda a: F.max_pooling(a, (3, 3), (2, 2))  # noqa: E731
        pool_avg = lambda a: F.average_pooling(a, (3, 3), (2, 2), pad=(1, 1))  # noqa: E731
        pool_max_cl = lambda a: F.max_pooling(a, (3, 3), (2, 2), channel_last=True)  # noqa: E731
    else:
        import torch
        tf = torch.nn.functional
        x = torch.tensor(d["x"], requires_grad=True)
        xl = torch.tensor(d["x"]).to(memory_format=torch.channels_last).requires_grad_()
        w, w_avg = torch.tensor(d["w"]), torch.tensor(d["w_avg"])
        w_cl = w.to(memory_format=torch.channels_last)
        grad = torch.autograd.grad
        pool_max = lambda a: tf.max_pool2d(a, 3, 2)  # noqa: E731
        pool_avg = lambda a: tf.avg_pool2d(a, 3, 2, 1, count_include_pad=True)  # noqa: E731
        pool_max_cl = pool_max

    def case(forward, wrt):
        def run():
            y = forward()
            return y, grad(y, [wrt])[0]
        return run

    fns = {
        "max": case(lambda: (pool_max(x) * w).sum(), x),
        "avg": case(lambda: (pool_avg(x) * w_avg).sum(), x),
        "max_cl": case(lambda: (pool_max_cl(xl) * w_cl).sum(), xl),
    }

    def check():
        out = {}
        for name in fns:
            y, g = fns[name]()
            g = common.to_numpy(g)
            if name == "max_cl" and lib == "torch":  # same values, NCHW indexing: compare as NHWC
                g = np.moveaxis(g, 1, -1)
            out[f"{name} y"], out[f"{name} dx"] = common.to_numpy(y), g
        return out

    return fns, check


def run(libs, scale=1.0):
    d = inputs()
    made = {lib: make(lib, d) for lib in libs}
    checks = {lib: made[lib][1]() for lib in libs}
    common.compare(checks, TOLERANCES, "pooling: ")
    names = [("max", "max_pooling 3x3/2 (32,64,56,56) f32: fwd + grad"),
             ("avg", "average_pooling 3x3/2 pad 1 (32,64,56,56) f32: fwd + grad"),
             ("max_cl", "max_pooling 3x3/2 channel_last (32,56,56,64) f32: fwd + grad")]
    rows = [common.Row(label, "ms") for _, label in names]
    fns = {lib: [made[lib][0][key] for key, _ in names] for lib in libs}
    common.measure_rows(rows, fns, libs, repeat=common.repeats(10, scale), warmup=1)
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
