"""Hessian-vector product of the MLP's loss (bench_mlp: 784-512-512-10, batch
128, float32, MSE) with respect to all six parameters at once:

    g = grad(loss, params, create_graph=True)
    hv = grad(sum_i <g_i, v_i>, params)

nthgrad with ng.grad, torch with torch.autograd.grad, same weights and the
same random vector v (NumPy, converted; weights transposed for torch's
(out, in) layout, and the result transposed back for the check).

Rows: the gradient alone (create_graph=True, the first half), and the whole
Hessian-vector product (forward, grad, dot, grad).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_mlp as mlp  # noqa: E402
import common  # noqa: E402

TITLE = "Hessian-vector product of the MLP loss w.r.t. all parameters (float32)"
TOLERANCES = {"loss": (1e-4, 1e-6)}
TOLERANCES.update({f"hv {n}": (1e-3, 1e-4) for n in mlp.NAMES})


def make_v(params_np, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(p.shape).astype(np.float32) for p in params_np]


def make(lib, params_np, v_np, x_np, t_np):
    if lib == "nthgrad":
        import nthgrad as ng
        params = mlp.ng_params(params_np)
        v = [ng.tensor(a) for a in v_np]
        x, t = ng.tensor(x_np), ng.tensor(t_np)
        loss_fn, grad, layout = mlp.ng_loss, ng.grad, (lambda a, n: a)
    else:
        import torch
        params = mlp.torch_params(params_np)
        v = [torch.tensor(a.T.copy() if a.ndim == 2 else a) for a in v_np]
        x, t = torch.tensor(x_np), torch.tensor(t_np)
        loss_fn, grad, layout = mlp.torch_loss, torch.autograd.grad, mlp.torch_layout

    def first_grad():
        loss = loss_fn(params, x, t)
        return grad(loss, params, create_graph=True)

    def hvp():
        loss = loss_fn(params, x, t)
        gs = grad(loss, params, create_graph=True)
        dot = None
        for g, vi in zip(gs, v):
            term = (g * vi).sum()
            dot = term if dot is None else dot + term
        return loss, grad(dot, params)

    def check():
        loss, hv = hvp()
        out = {"loss": common.to_numpy(loss)}
        for n, h in zip(mlp.NAMES, hv):
            out[f"hv {n}"] = layout(common.to_numpy(h), n)
        return out

    return first_grad, hvp, check


def run(libs, scale=1.0):
    params_np, x_np, t_np = mlp.init()
    v_np = make_v(params_np)
    fns = {lib: make(lib, params_np, v_np, x_np, t_np) for lib in libs}
    checks = {lib: fns[lib][2]() for lib in libs}
    common.compare(checks, TOLERANCES, "hvp: ")
    rows = [common.Row("hvp: forward + grad(create_graph)", "ms"), common.Row("hvp: Hessian-vector product", "ms")]
    common.measure_rows(rows, fns, libs, repeat=common.repeats(100, scale), warmup=3)
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
