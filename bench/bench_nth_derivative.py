"""6th derivative of tanh on 100,000 points, float64.

    y = tanh(x); then 6 times: y = grad(y.sum(), x, create_graph=True)

(every one of the 6 calls uses create_graph=True, in both libraries). The
results are checked against each other and against the exact derivative,
a polynomial in t = tanh(x): P0 = t, P_{k+1}(t) = P_k'(t) (1 - t^2).

Rows: the 3rd and the 6th derivative (each from scratch), to show how the
cost grows with the order.
"""
import os
import sys

import numpy as np
from numpy.polynomial import polynomial as P

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "n-th derivative of tanh on 100,000 float64 points (repeated grad, create_graph=True)"
N_POINTS = 100_000
ORDER = 6
TOLERANCES = {f"d{ORDER}": (1e-9, 1e-12)}


def points():
    return np.linspace(-3.0, 3.0, N_POINTS)


def exact(x, order):
    """d^order/dx^order tanh(x), from the polynomial recursion in t = tanh x."""
    c = np.array([0.0, 1.0])  # P0(t) = t
    one_minus_t2 = np.array([1.0, 0.0, -1.0])
    for _ in range(order):
        c = P.polymul(P.polyder(c), one_minus_t2)
    return P.polyval(np.tanh(x), c)


def make(lib, x_np):
    if lib == "nthgrad":
        import nthgrad as ng
        x = ng.tensor(x_np, dtype=ng.float64, requires_grad=True)

        def grad(y):
            return ng.grad(y.sum(), [x], create_graph=True)[0]
    else:
        import torch
        x = torch.tensor(x_np, dtype=torch.float64, requires_grad=True)

        def grad(y):
            return torch.autograd.grad(y.sum(), [x], create_graph=True)[0]

    def derivative(order):
        y = x.tanh()
        for _ in range(order):
            y = grad(y)
        return y

    return derivative


def run(libs, scale=1.0):
    x_np = points()
    fns = {lib: make(lib, x_np) for lib in libs}
    checks = {lib: {f"d{ORDER}": common.to_numpy(fns[lib](ORDER))} for lib in libs}
    ref = exact(x_np, ORDER)
    scale_ref = np.max(np.abs(ref))
    for lib in libs:
        err = np.max(np.abs(checks[lib][f"d{ORDER}"] - ref)) / scale_ref
        flag = "OK" if err < 1e-9 else "!!! MISMATCH with the exact derivative !!!"
        print(f"check nth-derivative: {lib} vs exact: max |diff| / max |exact| = {err:.1e} {flag}")
    common.compare(checks, TOLERANCES, "nth-derivative: ")
    rows = [common.Row("tanh: 3rd derivative, 1e5 pts f64", "ms"),
            common.Row(f"tanh: {ORDER}th derivative, 1e5 pts f64", "ms")]
    for row, order in zip(rows, (3, ORDER)):
        for lib in libs:
            common.measure(row, lib, lambda: fns[lib](order), repeat=common.repeats(40, scale), warmup=2,
                                           max_seconds=2)
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
