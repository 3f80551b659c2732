"""python -m nthgrad: a short demonstration of gradients of any order.

python -m nthgrad --cmakedir   prints the folder of nthgrad's CMake package.
"""
import math
import sys

import numpy as np

import nthgrad as ng
import nthgrad.functional as F
from nthgrad.cmake import get_cmake_dir


def nth_derivatives(f, x0, order):
    """[f'(x0), f''(x0), ...] by repeated ng.grad with create_graph=True."""
    x = ng.tensor([x0], dtype=ng.float64, requires_grad=True)
    y = f(x).sum()
    values = []
    for _ in range(order):
        (y,) = ng.grad(y, [x], create_graph=True)
        values.append(y.item())
        y = y.sum()
    return values


def main():
    if "--cmakedir" in sys.argv[1:]:
        print(get_cmake_dir())
        return 0
    x0 = 0.7
    cases = [
        ("sin(x)", F.sin, lambda k: math.sin(x0 + k * math.pi / 2)),
        ("x*exp(x)", lambda x: x * F.exp(x), lambda k: (x0 + k) * math.exp(x0)),
        ("x**5", lambda x: x ** 5, lambda k: math.perm(5, k) * x0 ** (5 - k) if k <= 5 else 0.0),
    ]
    print(f"nthgrad {ng.__version__}: derivatives at x = {x0}, by grad of grad of ... (float64)\n")
    print(f"{'f':<10}{'order':>6}{'nthgrad':>22}{'closed form':>22}{'abs error':>12}")
    worst = 0.0
    for name, f, exact in cases:
        for k, value in enumerate(nth_derivatives(f, x0, 6), start=1):
            err = abs(value - exact(k))
            worst = max(worst, err)
            print(f"{name:<10}{k:>6}{value:>22.15f}{exact(k):>22.15f}{err:>12.1e}")

    # Hessian-vector product of f(x, y) = sin(x*y) + x**3*y at (0.3, -1.2) with v = (1, 2).
    def f2(x, y):
        return F.sin(x * y) + x ** 3 * y

    p = (0.3, -1.2)
    v = (1.0, 2.0)
    _, hv = ng.autograd.hvp(f2, [ng.tensor(p[0], dtype="float64"), ng.tensor(p[1], dtype="float64")],
                            [ng.tensor(v[0], dtype="float64"), ng.tensor(v[1], dtype="float64")])
    x, y = p
    hessian = np.array([
        [-y * y * math.sin(x * y) + 6 * x * y, math.cos(x * y) - x * y * math.sin(x * y) + 3 * x * x],
        [math.cos(x * y) - x * y * math.sin(x * y) + 3 * x * x, -x * x * math.sin(x * y)],
    ])
    exact_hv = hessian @ np.array(v)
    print("\nHessian-vector product of sin(x*y) + x**3*y at (0.3, -1.2), v = (1, 2):")
    for i, name in enumerate(("d/dx", "d/dy")):
        err = abs(hv[i].item() - exact_hv[i])
        worst = max(worst, err)
        print(f"  {name}: nthgrad {hv[i].item():.15f}   closed form {exact_hv[i]:.15f}   error {err:.1e}")
    ok = worst < 1e-9
    print(f"\nlargest error {worst:.1e}: {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
