"""Per-op overhead: a chain of 1,000 elementwise ops on a one-element float32
tensor that requires grad (x*1.0001, +0.1, tanh, sin, repeated 250 times).

Rows (time per op, i.e. the chain's time / 1000):
  forward             the chain, recording the graph
  forward+backward    the chain, then y.backward() (x.grad reset to None)
  forward, no_grad    the chain with recording off (pure dispatch cost)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "per-op overhead: 1,000-op elementwise chain on a 1-element float32 tensor"
N_OPS = 1000
X0 = 0.3
TOLERANCES = {"y": (1e-4, 1e-6), "x.grad": (1e-4, 1e-6)}


def chain(x):
    y = x
    for _ in range(N_OPS // 4):
        y = y * 1.0001
        y = y + 0.1
        y = y.tanh()
        y = y.sin()
    return y


def make(lib):
    """(leaf, forward, forward_backward, forward_no_grad, check) for `lib`."""
    if lib == "nthgrad":
        import nthgrad as ng
        x = ng.tensor(np.array([X0], dtype=np.float32), requires_grad=True)
        no_grad = ng.no_grad
    else:
        import torch
        x = torch.tensor(np.array([X0], dtype=np.float32), requires_grad=True)
        no_grad = torch.no_grad

    def forward():
        return chain(x)

    def forward_backward():
        x.grad = None
        y = chain(x)
        y.backward()
        return y

    def forward_no_grad():
        with no_grad():
            return chain(x)

    def check():
        y = forward_backward()
        return {"y": common.to_numpy(y), "x.grad": common.to_numpy(x.grad)}

    return forward, forward_backward, forward_no_grad, check


def run(libs, scale=1.0):
    fns = {lib: make(lib) for lib in libs}
    checks = {lib: fns[lib][3]() for lib in libs}
    common.compare(checks, TOLERANCES, "per-op: ")
    rows = [common.Row("per-op: forward", "us/op", N_OPS), common.Row("per-op: forward+backward", "us/op", N_OPS),
            common.Row("per-op: forward, no_grad", "us/op", N_OPS)]
    common.measure_rows(rows, fns, libs, repeat=common.repeats(200, scale), warmup=5)
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
