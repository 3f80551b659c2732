"""Matrix products (GEMM), float32, as GFLOP/s beside NumPy and PyTorch.

    2048^3:            C = A B with A, B (2048, 2048)
    MLP forward:       (128, 784) @ (784, 512), (128, 512) @ (512, 512)
    MLP backward:      dX = dY W^T  (128, 512) @ (512, 784)^T
                       dW = X^T dY  (784, 128)^T @ (128, 512)

nthgrad: `a @ b` on tensors (transposed operands through `.transpose`,
which the kernel reads without a copy); torch: `a @ b` (with `.t()`);
NumPy: `a @ b` (its own OpenBLAS). Rows are times per product in ms (lower
is better, as in every bench table); the GFLOP/s of all three are printed
beside the table. The products are checked against each other first.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "GEMM float32: 2048^3 and the MLP's products (GFLOP/s printed beside)"
# (label, m, k, n, transpose_a, transpose_b): op(A) is (m, k), op(B) is (k, n)
CASES = [
    ("2048^3", 2048, 2048, 2048, False, False),
    ("mlp fwd 128x784x512", 128, 784, 512, False, False),
    ("mlp fwd 128x512x512", 128, 512, 512, False, False),
    ("mlp dX 128x512x784 (B^T)", 128, 512, 784, False, True),
    ("mlp dW 784x128x512 (A^T)", 784, 128, 512, True, False),
]
TOLERANCES = {label: (1e-4, 1e-4) for label, *_ in CASES}


def operands(m, k, n, ta, tb, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    return a, b


def make(lib, a_np, b_np, ta, tb):
    if lib == "nthgrad":
        import nthgrad as ng
        a, b = ng.tensor(a_np), ng.tensor(b_np)
        a = a.transpose((1, 0)) if ta else a
        b = b.transpose((1, 0)) if tb else b
    elif lib == "torch":
        import torch
        a, b = torch.tensor(a_np), torch.tensor(b_np)
        a = a.t() if ta else a
        b = b.t() if tb else b
    else:
        a = a_np.T if ta else a_np
        b = b_np.T if tb else b_np
    return lambda: a @ b


def run(libs, scale=1.0):
    rows, checks = [], {lib: {} for lib in libs}
    rates = []
    for label, m, k, n, ta, tb in CASES:
        a_np, b_np = operands(m, k, n, ta, tb)
        fns = {lib: make(lib, a_np, b_np, ta, tb) for lib in libs}
        for lib in libs:
            checks[lib][label] = common.to_numpy(fns[lib]())
        row = common.Row(f"gemm: {label}", "ms")
        big = m * k * n >= 2048 ** 3
        for lib in libs:
            common.measure(row, lib, fns[lib], repeat=common.repeats(10 if big else 200, scale), warmup=3,
                           max_seconds=2)
        numpy_time = common.timeit(make("numpy", a_np, b_np, ta, tb), repeat=common.repeats(10 if big else 200,
                                                                                            scale), warmup=3)
        flop = 2.0 * m * k * n
        rates.append((label, {lib: flop / row.times[lib] / 1e9 for lib in libs}, flop / numpy_time / 1e9))
        rows.append(row)
    common.compare(checks, TOLERANCES, "gemm: ")
    print("GFLOP/s (higher is better):")
    for label, by_lib, numpy_rate in rates:
        print(f"  {label:28s} " + "  ".join(f"{lib} {r:6.1f}" for lib, r in by_lib.items())
              + f"  numpy {numpy_rate:6.1f}")
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
