"""The sorting model of examples/dab_sort.py in PyTorch, built as the DAB
authors' code builds it (a torch.autograd.Function whose backward runs
torch.autograd.grad through the approximator), for side-by-side learning
curves and step times. Imported by dab_sort.py and bench/bench_dab.py when
torch is importable.

    python examples/dab_sort_torch.py --T 5 --steps 2000
"""
import argparse
import sys
import time

import numpy as np
import torch
import torch.nn.functional as TF

sys.path.insert(0, __import__("os").path.dirname(__file__))
from dab_sort import make_dataset, STEPS, BATCH, LR, GAMMA, EPS, EVAL_EVERY  # noqa: E402


class _Signum(torch.autograd.Function):
    """Forward: the eps-margin signum of x. Backward: the vector-Jacobian product of the approximator's output
    soft with respect to x (the DAB authors' BaseHardFn)."""

    @staticmethod
    def forward(ctx, x, soft, eps):
        ctx.save_for_backward(x, soft)
        return (x > eps).to(x.dtype) - (x < -eps).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, soft = ctx.saved_tensors
        with torch.enable_grad():
            (gx,) = torch.autograd.grad(soft, x, g, retain_graph=True)
        return gx, None, None


def _mlp(*sizes, last_tanh):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_tanh:
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


class TorchSorter(torch.nn.Module):
    """(B, T) sequences -> (B, T, T) logits (output position, input position) and the per-sample DAB loss."""

    def __init__(self, T, estimator="dab", eps=EPS):
        super().__init__()
        self.T, self.estimator, self.eps = T, estimator, eps
        self.encoder = _mlp(T, 128, 128, 256, last_tanh=True)
        self.approximator = _mlp(256, 128, 128, 256, last_tanh=False) if estimator == "dab" else None
        self.head = torch.nn.Linear(256, T * T)

    def forward(self, x):
        z = self.encoder(x)
        dab_loss = None
        if self.estimator == "dab":
            soft = self.approximator(z)
            h = _Signum.apply(z, soft, self.eps)
            dab_loss = ((soft - h) ** 2).sum(-1)
        elif self.estimator == "ste":
            h = z + ((z > self.eps).to(z.dtype) - (z < -self.eps).to(z.dtype) - z).detach()
        else:
            h = TF.elu(z)
        return self.head(h).view(-1, self.T, self.T), dab_loss


def loss_of(model, x, y, gamma):
    logits, dab_loss = model(x)
    ce = TF.cross_entropy(logits.reshape(-1, model.T), y.reshape(-1), reduction="none").view(-1, model.T).sum(1)
    return (ce + gamma * dab_loss).mean() if dab_loss is not None else ce.mean()


def accuracy(model, x, y):
    with torch.no_grad():
        logits, _ = model(x)
    return float((logits.argmax(-1) == y).all(-1).float().mean())


def train(T=5, steps=STEPS, estimator="dab", gamma=GAMMA, seed=0, eval_every=EVAL_EVERY, threads=None,
          progress=False):
    """Returns {"steps", "test_accuracy", "seconds"}: the test accuracy curve every eval_every steps (the same
    data, batches and evaluation as dab_sort.train)."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = (torch.from_numpy(a) for a in make_dataset(T, seed))
    model = TorchSorter(T, estimator)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    order = np.random.default_rng(seed + 1)
    history = {"steps": [], "test_accuracy": []}
    start = time.perf_counter()
    perm, pos = order.permutation(len(x_train)), 0
    for step in range(1, steps + 1):
        if pos + BATCH > len(perm):
            perm, pos = order.permutation(len(x_train)), 0
        idx = torch.from_numpy(perm[pos:pos + BATCH])
        pos += BATCH
        loss = loss_of(model, x_train[idx], y_train[idx].long(), gamma)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % eval_every == 0 or step == steps:
            history["steps"].append(step)
            history["test_accuracy"].append(accuracy(model, x_test, y_test))
            if progress:
                print(f"step {step} loss {loss.item():.4f} test {100 * history['test_accuracy'][-1]:.2f}% "
                      f"{time.perf_counter() - start:.0f}s", flush=True)
    history["seconds"] = time.perf_counter() - start
    return history


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=int, default=5)
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--estimator", choices=["dab", "ste", "none"], default="dab")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--eval-every", type=int, default=EVAL_EVERY)
    a = p.parse_args(argv)
    h = train(a.T, a.steps, a.estimator, threads=a.threads, eval_every=a.eval_every, progress=True)
    print(f"torch T={a.T} {a.estimator}: {100 * h['test_accuracy'][-1]:.2f}% after {a.steps} steps, "
          f"{h['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
