"""Neural sequence sorting through a hard function: the Signum-Dense model
of the DAB paper (Ramapuram and Webb), built as the authors' code builds it.

Sequences x ~ U(0, 1)^T; the label of output position t is the input
position of the t-th smallest value (argsort(x)). The model:

    encoder   Linear(T, 128)-Tanh-Linear(128, 128)-Tanh-Linear(128, 256)-Tanh   -> z
    hard      signum(z, eps=0.5), values in {-1, 0, 1}                          -> h
    head      Linear(256, T*T), viewed as (B, T, T): output position x input position

The hard function has no gradient. The estimator decides what the encoder
learns from:
    dab   a DAB: approximator Linear(256,128)-Tanh-Linear(128,128)-Tanh-Linear(128,256),
          the gradient flows through it, and it imitates h (gamma * ||s - h||^2);
    ste   the straight-through estimator (identity backward);
    none  ELU in place of the hard function (the paper's ELU-Dense baseline).
Loss: the mean over the batch of (sum over positions of the cross-entropy +
gamma * the DAB loss); Adam, lr 1e-4, batch 1024; fixed training and test
sets drawn once from the seed. Accuracy is all-or-none: the whole
permutation must be right.

    pip install .[examples]
    python examples/dab_sort.py                                   # T=5, DAB, full run
    python examples/dab_sort.py --estimators dab,ste,none --plot dab_sort.png
    python examples/dab_sort.py --T 10 --steps 20000 --torch      # beside the same model in PyTorch
"""
import argparse
import json
import os
import sys
import time

import numpy as np

STEPS = 100_000
BATCH = 1024
LR = 1e-4
GAMMA = 10.0
EPS = 0.5
EVAL_EVERY = 1000
N_TRAIN = 10_000_000
N_TEST = 10_000
HARD_FUNCTIONS = ("signum", "binary", "sort_1d", "sort")


def make_dataset(T, seed=0, n_train=N_TRAIN, n_test=N_TEST):
    """(x_train, y_train, x_test, y_test): x float32 (N, T) ~ U(0, 1), y = argsort(x) (N, T), int8 to keep ten
    million sequences small (a batch is converted to int64)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n_train + n_test, T), dtype=np.float32)
    y = np.argsort(x, axis=1, kind="stable").astype(np.int8)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def _build():
    """The nthgrad model class (imported lazily so dab_sort_torch can import this file's constants alone)."""
    import nthgrad as ng
    import nthgrad.functional as F
    import nthgrad.nn as nn
    from nthgrad import hard, ste
    from nthgrad.dab import DAB

    def mlp(*sizes, last_tanh):
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2 or last_tanh:
                layers.append(nn.Tanh())
        return nn.Sequential(*layers)

    def hard_function(name, eps):
        if name == "signum":
            return lambda z: hard.signum(z, eps), 256
        if name == "sort":  # z viewed as a 16 x 16 map: sorted rows and columns, 512 features
            return lambda z: hard.sort(z.reshape((z.shape[0], 16, 16))), 512
        return getattr(hard, name), 256

    class Sorter(nn.Module):
        """(B, T) sequences -> (B, T, T) logits: output position x input position."""

        def __init__(self, T, estimator="dab", hard_name="signum", gamma=GAMMA, eps=EPS):
            super().__init__()
            self.T, self.estimator, self.gamma = T, estimator, gamma
            self.hard, features = hard_function(hard_name, eps)
            if estimator == "ste" and features != 256:
                raise ValueError(f"dab_sort: the straight-through estimator needs a hard function that keeps z's "
                                 f"shape; {hard_name} does not")
            self.encoder = mlp(T, 128, 128, 256, last_tanh=True)
            if estimator == "dab":
                self.dab = DAB(mlp(256, 128, 128, features, last_tanh=False), self.hard, gamma)
            self.head = nn.Linear(features if estimator != "none" else 256, T * T)

        def forward(self, x):
            z = self.encoder(x)
            if self.estimator == "dab":
                h = self.dab(z)
            elif self.estimator == "ste":
                h = ste.straight_through(self.hard, z)
            else:
                h = F.elu(z)
            return self.head(h).reshape((x.shape[0], self.T, self.T))

        def loss(self, x, y):
            """The mean over the batch of (sum over positions of the cross-entropy + gamma * DAB loss)."""
            logits = self(x)
            ce = F.softmax_cross_entropy(logits, y.reshape(tuple(y.shape) + (1,)), 2).sum((1, 2))
            if self.estimator == "dab":
                ce = ce + self.gamma * self.dab.loss()
            return ce.mean()

    return ng, Sorter


def accuracy(model, x, y, chunk=5000):
    """All-or-none accuracy: the fraction of sequences whose whole permutation is predicted right."""
    import nthgrad as ng
    right = 0
    with ng.no_grad():
        for i in range(0, len(x), chunk):
            logits = np.asarray(model(ng.tensor(x[i:i + chunk])))
            right += int(np.all(logits.argmax(-1) == y[i:i + chunk], axis=1).sum())
    return right / len(x)


def train(T=5, steps=STEPS, estimator="dab", hard_name="signum", gamma=GAMMA, seed=0, eval_every=EVAL_EVERY,
          n_train=N_TRAIN, n_test=N_TEST, progress=True, on_eval=None, checkpoint=None):
    """Trains one model; returns {"steps", "test_accuracy", "train_accuracy", "loss", "seconds", "model"}: the
    accuracies (train: on the first n_test training sequences) every eval_every steps. on_eval(history) is called
    after each evaluation (to save a long run's curve as it goes). With `checkpoint` (a path), the model, the
    optimizer, the data order and the curve are saved there at every evaluation, and a run finding that file
    resumes from it (the same run as without the interruption)."""
    from tqdm import tqdm
    ng, Sorter = _build()
    ng.manual_seed(seed)
    x_train, y_train, x_test, y_test = make_dataset(T, seed, n_train, n_test)
    model = Sorter(T, estimator, hard_name, gamma)
    opt = ng.optim.Adam(model.parameters(), lr=LR)
    order = np.random.default_rng(seed + 1)
    epoch_state = json.dumps(order.bit_generator.state)  # the data order restarts from here on resume
    perm, pos = order.permutation(len(x_train)), 0
    history = {"steps": [], "test_accuracy": [], "train_accuracy": [], "loss": [], "seconds": 0.0}
    first = 1
    if checkpoint and os.path.exists(checkpoint):
        saved = ng.load(checkpoint)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optim"])
        history, first, pos, epoch_state = saved["history"], saved["step"] + 1, saved["pos"], saved["epoch_state"]
        order.bit_generator.state = json.loads(epoch_state)
        perm = order.permutation(len(x_train))
    start = time.perf_counter() - history["seconds"]
    bar = tqdm(range(first, steps + 1), desc=f"sort T={T} {estimator}", unit="step", disable=not progress,
               mininterval=2, initial=first - 1, total=steps)
    for step in bar:
        if pos + BATCH > len(perm):
            epoch_state = json.dumps(order.bit_generator.state)
            perm, pos = order.permutation(len(x_train)), 0
        idx = perm[pos:pos + BATCH]
        pos += BATCH
        loss = model.loss(ng.tensor(x_train[idx]), ng.tensor(y_train[idx].astype(np.int64)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % eval_every == 0 or step == steps:
            history["steps"].append(step)
            history["loss"].append(loss.item())
            history["test_accuracy"].append(accuracy(model, x_test, y_test))
            history["train_accuracy"].append(accuracy(model, x_train[:n_test], y_train[:n_test]))
            history["seconds"] = time.perf_counter() - start
            if checkpoint:
                ng.save({"model": model.state_dict(), "optim": opt.state_dict(), "step": step, "pos": pos,
                         "epoch_state": epoch_state, "history": history}, checkpoint)
            if on_eval:
                on_eval(history)
            bar.set_postfix(loss=f"{history['loss'][-1]:.3f}", test=f"{100 * history['test_accuracy'][-1]:.2f}%")
    history["seconds"] = time.perf_counter() - start
    history["model"] = model
    return history


def plot_curves(runs, T, path, hard_name="signum"):
    """PNG of the test accuracy curves: runs maps a label to a history."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, h in runs.items():
        ax.plot(h["steps"], 100 * np.asarray(h["test_accuracy"]), label=f"{label} ({100 * h['test_accuracy'][-1]:.2f}%)")
    ax.set(xlabel="training step (batch 1024)", ylabel="all-or-none test accuracy (%)", ylim=(0, 100),
           title=f"sorting T={T}: a hard {hard_name} trained through DAB, STE, or ELU in its place")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=int, default=5, help="sequence length")
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--gamma", type=float, default=GAMMA, help="weight of the DAB loss")
    p.add_argument("--hard", choices=HARD_FUNCTIONS, default="signum", help="the hard function")
    p.add_argument("--estimator", choices=["dab", "ste", "none"], default="dab")
    p.add_argument("--estimators", default=None, help="several, comma-separated (e.g. dab,ste,none): one run each")
    p.add_argument("--torch", action="store_true", help="also train the same model in PyTorch (same data)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=EVAL_EVERY)
    p.add_argument("--plot", default="dab_sort.png")
    p.add_argument("--checkpoint", default=None,
                   help="save the run here at every evaluation, and resume from it if it exists (one estimator)")
    p.add_argument("--history", default=None, help="write the curves (steps, accuracy, loss, seconds) to this JSON")
    p.add_argument("--replot", nargs="+", default=None, metavar="JSON",
                   help="no training: plot the curves of earlier --history files together")
    a = p.parse_args(argv)
    if a.replot:
        runs = {}
        for path in a.replot:
            with open(path) as f:
                runs.update(json.load(f))
        plot_curves(runs, a.T, a.plot, a.hard)
        print(f"plot in {a.plot}")
        return 0
    estimators = a.estimators.split(",") if a.estimators else [a.estimator]
    if a.torch and a.hard != "signum":
        p.error("--torch: the PyTorch twin (dab_sort_torch.py) implements the signum model only")
    runs = {}
    def save(runs):
        if a.history:
            with open(a.history, "w") as f:
                json.dump({k: {key: v for key, v in h.items() if key != "model"} for k, h in runs.items()}, f)

    for est in estimators:
        h = train(a.T, a.steps, est, a.hard, a.gamma, a.seed, a.eval_every,
                  on_eval=lambda h, est=est: save({**runs, f"nthgrad {est}": h}), checkpoint=a.checkpoint)
        runs[f"nthgrad {est}"] = h
        print(f"nthgrad T={a.T} {est} ({a.hard}): {100 * h['test_accuracy'][-1]:.2f}% all-or-none after {a.steps} "
              f"steps, best {100 * max(h['test_accuracy']):.2f}%, {h['seconds']:.0f} s", flush=True)
        if a.torch:
            import dab_sort_torch
            ht = dab_sort_torch.train(a.T, a.steps, est, a.gamma, a.seed, a.eval_every)
            runs[f"torch {est}"] = ht
            print(f"torch   T={a.T} {est}: {100 * ht['test_accuracy'][-1]:.2f}% after {a.steps} steps, "
                  f"{ht['seconds']:.0f} s", flush=True)
    save(runs)
    if a.plot:
        plot_curves(runs, a.T, a.plot, a.hard)
        print(f"plot in {a.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
