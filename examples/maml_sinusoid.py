"""MAML (Finn, Abbeel and Levine, 2017) on the sinusoid regression task of
its paper, second order: the meta-gradient differentiates through the inner
SGD step, so it contains the Hessian of the inner loss.

A task is y = A sin(x - phase), A ~ U(0.1, 5), phase ~ U(0, pi), x ~ U(-5, 5).
The model, a 1-40-40-1 tanh MLP with parameters theta, adapts to a task from
K = 10 examples with one (or more) SGD steps of size alpha = 0.01:

    phi = theta - alpha * grad_theta L_task(theta; K examples)
    meta loss = mean over 25 tasks of L_task(phi; 10 other examples of the task)

and Adam (lr 1e-3) minimizes the meta loss in theta. The inner gradient is
`nthgrad.func.grad`; the 25 tasks of a meta-batch run as one batch (each
task's copy of theta is a slice of one broadcast tensor, so one backward pass
gives every task its own gradient). The baseline is the same network
pretrained on all tasks jointly (plain regression), adapted with the same
step. Both are scored on 1000 new tasks after one step.

    pip install .[examples]
    python examples/maml_sinusoid.py                        # the full run
    python examples/maml_sinusoid.py --iterations 300 --plot /tmp/maml.png
"""
import argparse
import sys
import time

import numpy as np

import nthgrad as ng
import nthgrad.functional as F
from nthgrad import func

ITERATIONS = 20000
K_SHOT = 10
META_BATCH = 25
INNER_LR = 0.01
META_LR = 1e-3
HIDDEN = 40
TEST_TASKS = 1000
TEST_POINTS = 100


def sample_tasks(rng, n):
    """(amplitude, phase), each of shape (n,)."""
    return rng.uniform(0.1, 5.0, n), rng.uniform(0.0, np.pi, n)


def sample_points(rng, tasks, k):
    """x, y of shape (n, k, 1) float32: k points of each task."""
    amplitude, phase = tasks
    x = rng.uniform(-5.0, 5.0, (len(amplitude), k, 1))
    y = amplitude[:, None, None] * np.sin(x - phase[:, None, None])
    return x.astype(np.float32), y.astype(np.float32)


def init_params(rng, hidden=HIDDEN):
    """theta: weights and biases with a leading task axis of 1, initialised as
    torch's nn.Linear (uniform in +-1/sqrt(fan_in)); they require grad."""
    shapes = [(1, 1, hidden), (1, 1, hidden), (1, hidden, hidden), (1, 1, hidden), (1, hidden, 1), (1, 1, 1)]
    fan_in = [1, 1, hidden, hidden, hidden, hidden]
    return [ng.tensor(rng.uniform(-1, 1, s).astype(np.float32) / np.sqrt(f), requires_grad=True)
            for s, f in zip(shapes, fan_in)]


def forward(params, x):
    """The MLP on x (T, K, 1) with per-task parameters (leading axis T or 1)."""
    t = x.shape[0]
    per_task = [F.broadcast(p, (t,) + tuple(p.shape[1:])) for p in params]
    w1, b1, w2, b2, w3, b3 = per_task
    h = F.tanh(F.batch_matmul(x, w1) + b1)
    h = F.tanh(F.batch_matmul(h, w2) + b2)
    return F.batch_matmul(h, w3) + b3


def task_losses(params, x, y):
    """The mean squared error of each task, shape (T,)."""
    d = forward(params, x) - y
    return (d * d).mean(axis=(1, 2))


def adapt(params, x, y, steps=1, lr=INNER_LR):
    """phi: each task's parameters after `steps` SGD steps on its examples.
    theta is broadcast to one copy per task; the gradient of the summed task
    losses gives each copy its own task's gradient, in one pass."""
    t = x.shape[0]
    phi = [F.broadcast(p, (t,) + tuple(p.shape[1:])) for p in params]
    inner = func.grad(lambda *ps: task_losses(ps, x, y).sum(), argnums=tuple(range(len(phi))))
    for _ in range(steps):
        grads = inner(*phi)
        phi = [p - lr * g for p, g in zip(phi, grads)]
    return phi


def meta_train(iterations=ITERATIONS, inner_steps=1, seed=0, progress=True):
    """Second-order MAML; returns (theta, meta losses, seconds)."""
    from tqdm import tqdm
    rng = np.random.default_rng(seed)
    theta = init_params(rng)
    opt = ng.optim.Adam(theta, lr=META_LR)
    losses = []
    start = time.perf_counter()
    bar = tqdm(range(iterations), desc="MAML", unit="it", disable=not progress)
    for it in bar:
        tasks = sample_tasks(rng, META_BATCH)
        x, y = sample_points(rng, tasks, 2 * K_SHOT)
        x_in, y_in, x_out, y_out = (ng.tensor(a) for a in (x[:, :K_SHOT], y[:, :K_SHOT], x[:, K_SHOT:],
                                                          y[:, K_SHOT:]))
        loss = task_losses(adapt(theta, x_in, y_in, inner_steps), x_out, y_out).mean()
        opt.zero_grad()
        loss.backward()  # through the inner step: Hessian-vector products of the task losses
        opt.step()
        losses.append(loss.item())
        if it % 100 == 0:
            bar.set_postfix(meta_loss=f"{np.mean(losses[-100:]):.3f}")
    return theta, losses, time.perf_counter() - start


def pretrain(iterations=ITERATIONS, seed=0, progress=True):
    """The baseline: the same network fit to all tasks jointly (Adam on the
    mean squared error of random tasks' points). Returns (params, seconds)."""
    from tqdm import tqdm
    rng = np.random.default_rng(seed + 1)
    params = init_params(rng)
    opt = ng.optim.Adam(params, lr=META_LR)
    start = time.perf_counter()
    for _ in tqdm(range(iterations), desc="pretrain", unit="it", disable=not progress):
        x, y = sample_points(rng, sample_tasks(rng, META_BATCH), K_SHOT)
        loss = task_losses(params, ng.tensor(x), ng.tensor(y)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return params, time.perf_counter() - start


def evaluate(params, steps=1, n_tasks=TEST_TASKS, seed=1234):
    """Mean over new tasks of the MSE on TEST_POINTS points after `steps`
    SGD steps on K_SHOT examples (the same tasks and points for every model)."""
    rng = np.random.default_rng(seed)
    tasks = sample_tasks(rng, n_tasks)
    x_in, y_in = sample_points(rng, tasks, K_SHOT)
    x_out, y_out = sample_points(rng, tasks, TEST_POINTS)
    phi = adapt(params, ng.tensor(x_in), ng.tensor(y_in), steps) if steps else params
    with ng.no_grad():
        return float(task_losses(phi, ng.tensor(x_out), ng.tensor(y_out)).mean().item())


def plot_fits(theta, baseline, path, seed=7):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rng = np.random.default_rng(seed)
    tasks = sample_tasks(rng, 3)
    x_in, y_in = sample_points(rng, tasks, K_SHOT)
    grid = np.linspace(-5, 5, 200, dtype=np.float32)
    xg = ng.tensor(np.broadcast_to(grid[None, :, None], (3, 200, 1)).copy())
    curves = {}
    for name, params in (("MAML", theta), ("pretrained", baseline)):
        phi = adapt(params, ng.tensor(x_in), ng.tensor(y_in), 1)
        with ng.no_grad():
            curves[name + ", 1 step"] = np.asarray(forward(phi, xg))[..., 0]
            curves[name + ", before"] = np.asarray(forward(params, xg))[..., 0]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for i, ax in enumerate(axes):
        ax.plot(grid, tasks[0][i] * np.sin(grid - tasks[1][i]), "k", lw=2, label="true")
        ax.plot(grid, curves["MAML, before"][i], "C0:", label="MAML, before")
        ax.plot(grid, curves["MAML, 1 step"][i], "C0", label="MAML, 1 step")
        ax.plot(grid, curves["pretrained, 1 step"][i], "C3--", label="pretrained, 1 step")
        ax.plot(x_in[i, :, 0], y_in[i, :, 0], "k^", label=f"{K_SHOT} examples")
        ax.set_title(f"A = {tasks[0][i]:.2f}, phase = {tasks[1][i]:.2f}")
    axes[0].legend(fontsize=7)
    fig.suptitle("MAML on sinusoids: fits after one gradient step from 10 examples")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--iterations", type=int, default=ITERATIONS, help="meta-iterations (and pretraining steps)")
    p.add_argument("--inner-steps", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default="maml_sinusoid.png")
    a = p.parse_args(argv)
    start = time.perf_counter()
    theta, losses, maml_seconds = meta_train(a.iterations, a.inner_steps, a.seed)
    baseline, pre_seconds = pretrain(a.iterations, a.seed)
    maml, pre = evaluate(theta), evaluate(baseline)
    print(f"meta-test MSE after one step from {K_SHOT} examples ({TEST_TASKS} new tasks): MAML {maml:.3f}, "
          f"pretrained {pre:.3f} ({pre / maml:.1f}x better); before adapting: MAML {evaluate(theta, 0):.3f}, "
          f"pretrained {evaluate(baseline, 0):.3f}")
    print(f"wall time: MAML {maml_seconds:.0f} s ({a.iterations} meta-iterations), pretraining {pre_seconds:.0f} s, "
          f"total {time.perf_counter() - start:.0f} s")
    if a.plot:
        plot_fits(theta, baseline, a.plot)
        print(f"plot: {a.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
