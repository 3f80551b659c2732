"""A physics-informed network (Raissi, Perdikaris and Karniadakis, 2019) for
the Poisson equation on the unit square:

    -(u_xx + u_yy) = f = 2 pi^2 sin(pi x) sin(pi y)  in (0, 1)^2,   u = 0 on the boundary,

whose solution is u = sin(pi x) sin(pi y). The network is
u(x, y) = x (1 - x) y (1 - y) N(x, y) (the boundary condition built in), with
N a 2-32-32-1 tanh MLP, and its loss is the mean squared residual of the
equation at random collocation points. The residual holds second derivatives
of the network with respect to its inputs, taken by grad of grad with
create_graph=True; training then differentiates that again with respect to
the weights (third-order terms in the inputs' graph).

    pip install .[examples]
    python examples/pinn_poisson.py                     # the full run
    python examples/pinn_poisson.py --steps 200 --plot /tmp/pinn.png
"""
import argparse
import sys
import time

import numpy as np

import nthgrad as ng
import nthgrad.nn as nn

STEPS = 4000
POINTS = 1024
LR = 3e-3
HIDDEN = 32
GRID = 101


def exact(x, y):
    return np.sin(np.pi * x) * np.sin(np.pi * y)


def source(x, y):
    return 2 * np.pi ** 2 * np.sin(np.pi * x) * np.sin(np.pi * y)


def make_network(seed=0, hidden=HIDDEN):
    ng.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, hidden, dtype=ng.float64), nn.Tanh(),
                         nn.Linear(hidden, hidden, dtype=ng.float64), nn.Tanh(),
                         nn.Linear(hidden, 1, dtype=ng.float64))


def solution(net, xy):
    """u at points xy (N, 2): x (1 - x) y (1 - y) N(x, y), shape (N,)."""
    x, y = xy[:, 0], xy[:, 1]
    return x * (1 - x) * y * (1 - y) * net(xy).reshape((-1,))


def laplacian(net, xy):
    """u_xx + u_yy at xy (N, 2), which must require grad; differentiable in
    the network's weights (every grad records its graph)."""
    u = solution(net, xy)
    (g,) = ng.grad(u.sum(), [xy], create_graph=True)
    (gx,) = ng.grad(g[:, 0].sum(), [xy], create_graph=True)
    (gy,) = ng.grad(g[:, 1].sum(), [xy], create_graph=True)
    return gx[:, 0] + gy[:, 1]


def residual_loss(net, points):
    """Mean of (u_xx + u_yy + f)^2 over the points (NumPy (N, 2))."""
    xy = ng.tensor(points, dtype=ng.float64, requires_grad=True)
    f = ng.tensor(source(points[:, 0], points[:, 1]), dtype=ng.float64)
    r = laplacian(net, xy) + f
    return (r * r).mean()


def relative_error(net, n=GRID):
    """||u - u_exact||_2 / ||u_exact||_2 on an n x n grid of the square."""
    s = np.linspace(0, 1, n)
    xx, yy = np.meshgrid(s, s, indexing="ij")
    pts = np.stack([xx.ravel(), yy.ravel()], axis=1)
    with ng.no_grad():
        u = np.asarray(solution(net, ng.tensor(pts, dtype=ng.float64)))
    want = exact(pts[:, 0], pts[:, 1])
    return float(np.linalg.norm(u - want) / np.linalg.norm(want)), u.reshape(n, n), want.reshape(n, n)


def train(steps=STEPS, points=POINTS, lr=LR, seed=0, progress=True):
    """Adam with a cosine-decayed learning rate on fresh random collocation
    points every step. Returns (net, losses, seconds)."""
    from tqdm import tqdm
    rng = np.random.default_rng(seed)
    net = make_network(seed)
    opt = ng.optim.Adam(net.parameters(), lr=lr)
    sched = ng.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr / 30)
    losses = []
    start = time.perf_counter()
    bar = tqdm(range(steps), desc="PINN", unit="step", disable=not progress)
    for step in bar:
        loss = residual_loss(net, rng.uniform(0, 1, (points, 2)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 100 == 0:
            bar.set_postfix(residual=f"{np.mean(losses[-100:]):.2e}")
    return net, losses, time.perf_counter() - start


def plot(net, losses, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    err, u, want = relative_error(net)
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for ax, data, title in ((axes[0], u, "network u"), (axes[1], want, "exact sin(pi x) sin(pi y)"),
                            (axes[2], u - want, f"error (relative L2 {100 * err:.2f}%)")):
        im = ax.imshow(data.T, origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r" if ax is axes[2] else "viridis")
        ax.set_title(title)
        fig.colorbar(im, ax=ax, fraction=0.046)
    axes[3].semilogy(losses)
    axes[3].set_title("mean squared residual")
    axes[3].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--points", type=int, default=POINTS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default="pinn_poisson.png")
    a = p.parse_args(argv)
    net, losses, seconds = train(a.steps, a.points, seed=a.seed)
    err, _, _ = relative_error(net)
    print(f"relative L2 error {100 * err:.3f}% after {a.steps} steps; wall time {seconds:.0f} s "
          f"({1000 * seconds / a.steps:.1f} ms per step)")
    if a.plot:
        plot(net, losses, a.plot)
        print(f"plot: {a.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
