"""A spiking network trained with surrogate gradients on scikit-learn's 8x8
digits, with nthgrad.snn, nn and optim.

Each image (64 pixels in [0, 1]) drives a hidden layer of LIF neurons as a
constant current for T time steps (constant-current encoding through a
learned Linear map); their spikes feed a leaky-integrator (LI) readout of
10 neurons, and the class score is the readout's mean membrane potential
over time (times a fixed gain). The spike's backward is SuperSpike
(sigma' = 1 / (alpha |x| + 1)^2, alpha = 100), and the whole time loop is
differentiated through (BPTT). Norse's neuron parameters (dt = 1 ms).

    pip install .[examples]
    python examples/snn_digits.py                     # full run
    python examples/snn_digits.py --epochs 2 --plot /tmp/snn.png

Writes a PNG of the loss, the test accuracy and a spike raster of the
hidden layer for one test digit.
"""
import argparse
import sys
import time

import numpy as np

import nthgrad as ng
import nthgrad.functional as F
import nthgrad.nn as nn
from nthgrad import snn

EPOCHS = 20
STEPS = 32        # time steps per image
HIDDEN = 128
BATCH_SIZE = 32
ALPHA = 100.0      # SuperSpike's width (Norse's default)
INPUT_GAIN = 10.0  # pixel intensity -> input current
SCORE_GAIN = 3.0   # readout membrane -> logits


def load_digits_split(seed=0, n_test=360):
    """(x_train, y_train, x_test, y_test): x float32 (N, 64) in [0, 1], y int64 (N,)."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


class SpikingNet(nn.Module):
    """(B, 64) images -> (B, 10) scores, and the hidden spikes (T, B, HIDDEN)."""

    def __init__(self, steps=STEPS, hidden=HIDDEN):
        super().__init__()
        self.steps = steps
        self.encoder = nn.Linear(64, hidden)
        self.lif = snn.LIF(snn.LIFParameters(method="super", alpha=ALPHA))
        self.readout = snn.LILinearCell(hidden, 10)

    def forward(self, x):
        current = self.encoder(x * INPUT_GAIN)                            # (B, hidden)
        currents = F.broadcast(current[None], (self.steps,) + tuple(current.shape))
        self.lif.reset()
        spikes, _ = self.lif(currents)                                    # (T, B, hidden)
        self.readout.reset()
        vs = []
        for t in range(self.steps):
            v, _ = self.readout(spikes[t])
            vs.append(v)
        # (B, 10): the mean readout membrane over time (the peak over time, as in Norse's examples, passes the
        # gradient through one step only and left some seeds at 78% here)
        scores = F.mean(F.stack(*vs, axis=0), axis=0) * SCORE_GAIN
        return scores, spikes


def accuracy(model, x, y):
    with ng.no_grad():
        scores, _ = model(ng.tensor(x))
    return float(np.mean(np.argmax(np.asarray(scores), axis=1) == y))


def plot_run(history, model, x_test, path):
    """PNG: loss and test accuracy per epoch, and a spike raster for one test digit."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with ng.no_grad():
        _, spikes = model(ng.tensor(x_test[:1]))
    raster = np.asarray(spikes)[:, 0, :]  # (T, hidden)
    t_idx, n_idx = np.nonzero(raster)
    fig, (ax_l, ax_a, ax_r) = plt.subplots(1, 3, figsize=(13, 3.6))
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax_l.plot(epochs, history["loss"], marker="o")
    ax_l.set(xlabel="epoch", ylabel="train loss", yscale="log", title="loss")
    ax_a.plot(epochs, 100 * np.array(history["test_accuracy"]), marker="o", color="tab:green")
    ax_a.set(xlabel="epoch", ylabel="test accuracy (%)", title="accuracy")
    ax_r.scatter(t_idx, n_idx, s=4, marker="|", color="black")
    ax_r.set(xlabel="time step (1 ms)", ylabel="hidden neuron", title="spikes for one test digit",
             xlim=(-0.5, raster.shape[0] - 0.5))
    fig.suptitle("nthgrad: spiking network (LIF + LI, SuperSpike) on 8x8 digits")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(epochs=EPOCHS, batch_size=BATCH_SIZE, lr=1e-2, seed=0, plot=None, progress=True):
    """Trains the spiking network; returns {"loss", "test_accuracy", "seconds", "model"}."""
    from tqdm import tqdm
    ng.manual_seed(seed)
    x_train, y_train, x_test, y_test = load_digits_split(seed)
    model = SpikingNet()
    opt = ng.optim.Adam(model.parameters(), lr=lr)
    sched = ng.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    loader = ng.data.DataLoader((x_train, y_train), batch_size=batch_size, shuffle=True, seed=seed)
    history = {"loss": [], "test_accuracy": []}
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="spiking digits", unit="epoch", disable=not progress)
    for _ in bar:
        total, count = 0.0, 0
        for xb, yb in loader:
            scores, _ = model(xb)
            loss = loss_fn(scores, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            count += len(yb)
        sched.step()
        history["loss"].append(total / count)
        history["test_accuracy"].append(accuracy(model, x_test, y_test))
        bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", test_acc=f"{100 * history['test_accuracy'][-1]:.1f}%")
    history["seconds"] = time.perf_counter() - start
    history["model"] = model
    if plot:
        plot_run(history, model, x_test, plot)
    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="snn_digits.png")
    args = parser.parse_args(argv)
    h = train(args.epochs, seed=args.seed, plot=args.plot)
    print(f"test accuracy {100 * h['test_accuracy'][-1]:.2f}% after {args.epochs} epochs, "
          f"{h['seconds']:.1f} s of training; plot in {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
