"""Hessian-vector product of f(A) = sum(log|det A_b|) over a batch of 16
matrices of 32 x 32 (float64, and float32):

    g = grad(f, A, create_graph=True)          # A^-T per matrix
    hv = grad(<g, V>, A)                       # -A^-T V^T A^-T

nthgrad with F.batch_logdet and ng.grad; torch with torch.linalg.slogdet and
torch.autograd.grad (double backward). Same matrices and direction V (NumPy,
converted). Rows: forward + grad(create_graph) and the whole product.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "Hessian-vector product of sum(batch_logdet(A)), A of 16 x 32 x 32"
B, N = 16, 32
DTYPES = ("float64", "float32")
TOLERANCES = {}
for _dt in DTYPES:
    tol = (1e-9, 1e-12) if _dt == "float64" else (1e-3, 1e-5)
    TOLERANCES.update({f"{_dt} logdet": tol, f"{_dt} hv": tol})


def init(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((B, N, N)) / np.sqrt(N) + 2.0 * np.eye(N)  # well conditioned
    v = rng.standard_normal((B, N, N))
    return a, v


def make(lib, dt, a_np, v_np):
    a_np, v_np = a_np.astype(dt), v_np.astype(dt)
    if lib == "nthgrad":
        import nthgrad as ng
        import nthgrad.functional as F
        a = ng.tensor(a_np, requires_grad=True)
        v = ng.tensor(v_np)
        logdet, grad, total = F.batch_logdet, ng.grad, F.sum
    else:
        import torch
        a = torch.tensor(a_np, requires_grad=True)
        v = torch.tensor(v_np)
        logdet, grad, total = (lambda x: torch.linalg.slogdet(x)[1]), torch.autograd.grad, torch.sum

    def first_grad():
        y = logdet(a)
        return grad(total(y), [a], create_graph=True)

    def hvp():
        y = logdet(a)
        (g,) = grad(total(y), [a], create_graph=True)
        (hv,) = grad(total(g * v), [a])
        return y, hv

    def check():
        y, hv = hvp()
        return {f"{dt} logdet": common.to_numpy(y), f"{dt} hv": common.to_numpy(hv)}

    return first_grad, hvp, check


def run(libs, scale=1.0):
    a_np, v_np = init()
    rows, checks = [], {lib: {} for lib in libs}
    for dt in DTYPES:
        fns = {lib: make(lib, dt, a_np, v_np) for lib in libs}
        for lib in libs:
            checks[lib].update(fns[lib][2]())
        # the closed form, -A^-T V^T A^-T per matrix, pins both libraries
        ainv_t = np.linalg.inv(a_np.astype(dt).astype(np.float64)).transpose(0, 2, 1)
        want = -ainv_t @ v_np.astype(dt).astype(np.float64).transpose(0, 2, 1) @ ainv_t
        rtol, atol = TOLERANCES[f"{dt} hv"]
        for lib in libs:
            if not np.allclose(checks[lib][f"{dt} hv"], want, rtol=rtol * 10, atol=atol * 10):
                common.FAILURES.append(f"{lib} {dt} hv vs closed form")
                print(f"MISMATCH {lib} {dt} hv vs the closed form -A^-T V^T A^-T")
        r = [common.Row(f"logdet hvp {dt}: forward + grad(create_graph)", "us"),
             common.Row(f"logdet hvp {dt}: Hessian-vector product", "us")]
        common.measure_rows(r, fns, libs, repeat=common.repeats(200, scale), warmup=5)
        rows += r
    common.compare(checks, TOLERANCES, "linalg_hvp: ")
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
