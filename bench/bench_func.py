"""Higher order as a product (issue 12), beside torch.func, float64:

1. the Hessian of an MLP loss with respect to one 64-parameter layer:
   16-8-8-1 tanh MLP, batch 256, mean squared error, the Hessian in the
   8x8 middle weight (64 x 64): `nthgrad.func.hessian` vs `torch.func.hessian`;
2. one training step of the physics-informed network of
   examples/pinn_poisson.py (2-32-32-1 tanh, 1024 points, the residual of
   -(u_xx + u_yy) = f by grad of grad with create_graph, backward, Adam):
   nthgrad vs the same step in torch with torch.autograd.grad (how PINNs
   are written in PyTorch), from the same weights and points, and vs the
   torch.func way (the Laplacian as the trace of each point's Hessian,
   `vmap(hessian)`), checked to give the same loss;
3. the 8th derivative of tanh on 10^5 points: y = tanh(x), then 8 times
   y = grad(y.sum(), x, create_graph=True), in both libraries.

Each has a time row and a node-count row: the nodes of the derivative graph
(the gradient graph the Hessian is swept through, the PINN loss graph before
its backward, the graph of the 8th derivative), counted for nthgrad by
`ng.autograd.graph_size` and for torch by walking grad_fn.next_functions
(AccumulateGrad included in both). Values are checked between the libraries.
JAX is not installed on this machine, so it has no column.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "func transforms: Hessian of an MLP loss, a PINN step, the 8th derivative of tanh (float64)"
TOLERANCES = {"hessian": (1e-9, 1e-12), "pinn loss": (1e-9, 1e-12), "pinn step w": (1e-7, 1e-9),
              "tanh d8": (1e-8, 1e-11)}
N_TANH = 100_000
ORDER = 8
PINN_POINTS = 1024


def torch_nodes(t):
    seen, stack, keep = set(), [t.grad_fn], []
    while stack:
        n = stack.pop()
        if n is None or n in seen:
            continue
        seen.add(n)
        keep.append(n)
        stack.extend(m for m, _ in n.next_functions)
    return len(seen)


def mlp_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((256, 16))
    t = rng.standard_normal((256, 1))
    w1, b1 = rng.standard_normal((16, 8)) * 0.3, rng.standard_normal(8) * 0.1
    w2, b2 = rng.standard_normal((8, 8)) * 0.3, rng.standard_normal(8) * 0.1
    w3 = rng.standard_normal((8, 1)) * 0.3
    return x, t, w1, b1, w2, b2, w3


def pinn_data(seed=0):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1, (PINN_POINTS, 2))
    shapes = [(32, 2), (32,), (32, 32), (32,), (1, 32), (1,)]  # torch's (out, in) layout
    params = [rng.uniform(-1, 1, s) / np.sqrt(s[-1] if len(s) == 2 else 32) for s in shapes]
    return pts, params


def make(lib):
    x, t, w1, b1, w2, b2, w3 = mlp_data()
    pts, pinn_params = pinn_data()
    f_np = 2 * np.pi ** 2 * np.sin(np.pi * pts[:, 0]) * np.sin(np.pi * pts[:, 1])
    xs = np.linspace(-3.0, 3.0, N_TANH)
    if lib == "nthgrad":
        import nthgrad as ng
        from nthgrad import func
        T = lambda a: ng.tensor(a, dtype=ng.float64)  # noqa: E731
        X, Tg, W1, B1, B2, W3 = (T(a) for a in (x, t, w1, b1, b2, w3))

        def mlp_loss(w):
            h = ((X @ W1 + B1).tanh() @ w + B2).tanh()
            d = h @ W3 - Tg
            return (d * d).mean()

        def hessian():
            return func.hessian(mlp_loss)(T(w2))

        def hessian_graph_nodes():
            w = ng.tensor(w2, dtype=ng.float64, requires_grad=True)
            (g,) = ng.grad(mlp_loss(w), [w], create_graph=True)
            return ng.autograd.graph_size(g).nodes

        params = [ng.tensor(p, dtype=ng.float64, requires_grad=True) for p in pinn_params]
        opt = ng.optim.Adam(params, lr=1e-3)
        F_ = T(f_np)

        def pinn_loss():
            xy = ng.tensor(pts, dtype=ng.float64, requires_grad=True)
            a1, c1, a2, c2, a3, c3 = params
            n = ng.functional.linear
            h = n(n(xy, a1, c1).tanh(), a2, c2).tanh()
            u = xy[:, 0] * (1 - xy[:, 0]) * xy[:, 1] * (1 - xy[:, 1]) * n(h, a3, c3).reshape((-1,))
            (g,) = ng.grad(u.sum(), [xy], create_graph=True)
            (gx,) = ng.grad(g[:, 0].sum(), [xy], create_graph=True)
            (gy,) = ng.grad(g[:, 1].sum(), [xy], create_graph=True)
            r = gx[:, 0] + gy[:, 1] + F_
            return (r * r).mean()

        x_t = ng.tensor(xs, dtype=ng.float64, requires_grad=True)

        def nth():
            y = x_t.tanh()
            for _ in range(ORDER):
                (y,) = ng.grad(y.sum(), [x_t], create_graph=True)
            return y

        nodes = ng.autograd.graph_size
        count = lambda t: nodes(t).nodes  # noqa: E731
    else:
        import torch
        T = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
        X, Tg, W1, B1, B2, W3 = (T(a) for a in (x, t, w1, b1, b2, w3))

        def mlp_loss(w):
            h = torch.tanh(torch.tanh(X @ W1 + B1) @ w + B2)
            d = h @ W3 - Tg
            return (d * d).mean()

        def hessian():
            return torch.func.hessian(mlp_loss)(T(w2))

        def hessian_graph_nodes():
            w = T(w2).requires_grad_(True)
            (g,) = torch.autograd.grad(mlp_loss(w), [w], create_graph=True)
            return torch_nodes(g)

        params = [T(p).requires_grad_(True) for p in pinn_params]
        opt = torch.optim.Adam(params, lr=1e-3)
        F_ = T(f_np)

        def pinn_loss():
            xy = T(pts).requires_grad_(True)
            a1, c1, a2, c2, a3, c3 = params
            n = torch.nn.functional.linear
            h = torch.tanh(n(torch.tanh(n(xy, a1, c1)), a2, c2))
            u = xy[:, 0] * (1 - xy[:, 0]) * xy[:, 1] * (1 - xy[:, 1]) * n(h, a3, c3).reshape(-1)
            (g,) = torch.autograd.grad(u.sum(), [xy], create_graph=True)
            (gx,) = torch.autograd.grad(g[:, 0].sum(), [xy], create_graph=True)
            (gy,) = torch.autograd.grad(g[:, 1].sum(), [xy], create_graph=True)
            r = gx[:, 0] + gy[:, 1] + F_
            return (r * r).mean()

        # The same loss the torch.func way: the Laplacian as the trace of each
        # point's Hessian, vmapped over the points (own copies of the weights).
        params_f = [p.detach().clone().requires_grad_(True) for p in params]
        opt_f = torch.optim.Adam(params_f, lr=1e-3)
        P = T(pts)

        def u_one(p, a1, c1, a2, c2, a3, c3):
            n = torch.nn.functional.linear
            h = torch.tanh(n(torch.tanh(n(p, a1, c1)), a2, c2))
            return p[0] * (1 - p[0]) * p[1] * (1 - p[1]) * n(h, a3, c3)[0]

        def pinn_loss_func():
            lap = torch.func.vmap(lambda p: torch.trace(torch.func.hessian(u_one)(p, *params_f)))(P)
            r = lap + F_
            return (r * r).mean()

        def pinn_step_func():
            loss = pinn_loss_func()
            opt_f.zero_grad()
            loss.backward()
            opt_f.step()
            return loss

        assert abs(float(pinn_loss_func()) - float(pinn_loss())) <= 1e-9 * abs(float(pinn_loss()))

        x_t = T(xs).requires_grad_(True)

        def nth():
            y = torch.tanh(x_t)
            for _ in range(ORDER):
                (y,) = torch.autograd.grad(y.sum(), [x_t], create_graph=True)
            return y

        count = torch_nodes

    def pinn_step():  # the same in both libraries
        loss = pinn_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def checks():
        out = {"hessian": common.to_numpy(hessian()).reshape(64, 64), "tanh d8": common.to_numpy(nth())}
        out["pinn loss"] = common.to_numpy(pinn_step())
        out["pinn step w"] = common.to_numpy(params[2])
        return out

    def counts():
        return {"hessian": hessian_graph_nodes(), "pinn": count(pinn_loss()), "tanh": count(nth())}

    if lib == "nthgrad":
        pinn_step_func = pinn_step  # nthgrad has one way to write it
    return [hessian, pinn_step, pinn_step_func, nth], checks, counts


def run(libs, scale=1.0):
    made = {lib: make(lib) for lib in libs}
    checks = {lib: made[lib][1]() for lib in libs}  # one PINN step each, from the same weights
    common.compare(checks, TOLERANCES, "func: ")
    rows = [common.Row("hessian: MLP loss, 64-param layer", "ms"),
            common.Row("PINN step: 2-32-32-1, 1024 points", "ms"),
            common.Row("PINN step, torch by torch.func (vmap, hessian)", "ms"),
            common.Row(f"tanh: {ORDER}th derivative, 1e5 pts", "ms")]
    common.measure_rows(rows, {lib: made[lib][0] for lib in libs}, libs, repeat=common.repeats(20, scale),
                        warmup=2)
    node_rows = [common.Row("nodes: Hessian's gradient graph", "nodes"),
                 common.Row("nodes: PINN loss graph", "nodes"),
                 common.Row(f"nodes: tanh {ORDER}th derivative", "nodes")]
    for lib in libs:
        c = made[lib][2]()
        for row, key in zip(node_rows, ("hessian", "pinn", "tanh")):
            row.times[lib] = c[key]
    return rows + node_rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
