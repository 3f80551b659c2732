"""A convolutional network trained on scikit-learn's 8x8 digits with
nthgrad.nn and nthgrad.optim: the whole training stack end to end.

The data ships with scikit-learn (no download): 1797 grey images of 8x8
pixels, 10 classes; 1437 train, 360 test (a seeded split). The model is

    Conv2d(1, 16, 3, padding=1) - BatchNorm2d - ReLU
    Conv2d(16, 32, 3, padding=1) - BatchNorm2d - ReLU - MaxPool2d(2)
    (the convolutions without bias: BatchNorm's beta takes its place)
    Flatten - Dropout(0.25) - Linear(512, 64) - ReLU - Linear(64, 10)

trained with AdamW, a cosine learning-rate schedule and CrossEntropyLoss,
with a tqdm progress bar; the loss and accuracy curves go to a PNG.
A checkpoint (model and optimizer, ng.save) is written at the end.

    pip install .[examples]
    python examples/digits_cnn.py                 # full run: 30 epochs
    python examples/digits_cnn.py --epochs 3 --plot /tmp/digits.png

Wall time of the full run on a 2-core AMD EPYC VM: see bench/RESULTS.md.
"""
import argparse
import os
import sys
import time

import numpy as np

import nthgrad as ng
import nthgrad.nn as nn

EPOCHS = 30
BATCH_SIZE = 32


def load_digits_split(seed=0, n_test=360):
    """(x_train, y_train, x_test, y_test): x float32 of shape (N, 1, 8, 8)
    scaled to [0, 1], y int64 of shape (N,)."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def make_model():
    """The CNN: (N, 1, 8, 8) images -> (N, 10) logits."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))


def accuracy(model, x, y, batch_size=512):
    """Fraction of correct predictions of model (in eval mode) on x, y."""
    model.eval()
    correct = 0
    with ng.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(ng.tensor(x[start:start + batch_size]))
            correct += int(np.sum(np.argmax(np.asarray(logits), axis=1) == y[start:start + batch_size]))
    return correct / len(x)


def plot_curves(history, path):
    """Writes the per-epoch train loss and test accuracy to a PNG at path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(epochs, history["loss"], marker="o")
    ax_loss.set(xlabel="epoch", ylabel="train loss (cross-entropy)", yscale="log", title="loss")
    ax_acc.plot(epochs, 100 * np.array(history["test_accuracy"]), marker="o", color="tab:green")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="accuracy")
    ax_acc.grid(alpha=0.3)
    fig.suptitle("nthgrad: CNN on scikit-learn's 8x8 digits")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(epochs=EPOCHS, batch_size=BATCH_SIZE, lr=3e-3, seed=0, plot=None, checkpoint=None, progress=True):
    """Trains the CNN; returns {"loss": [...], "test_accuracy": [...],
    "seconds": wall time, "model": model}. plot / checkpoint: paths to write."""
    from tqdm import tqdm
    ng.manual_seed(seed)  # initial weights and dropout masks
    x_train, y_train, x_test, y_test = load_digits_split(seed)
    model = make_model()
    opt = ng.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = ng.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    loader = ng.data.DataLoader((x_train, y_train), batch_size=batch_size, shuffle=True, seed=seed)
    history = {"loss": [], "test_accuracy": []}
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="digits CNN", unit="epoch", disable=not progress)
    for _ in bar:
        model.train()
        total, count = 0.0, 0
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
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
        plot_curves(history, plot)
    if checkpoint:
        ng.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": epochs}, checkpoint)
    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="digits_cnn.png", help="PNG of the loss and accuracy curves")
    parser.add_argument("--checkpoint", default=None, help="where to save model and optimizer state (.npz)")
    args = parser.parse_args(argv)
    h = train(args.epochs, args.batch_size, args.lr, args.seed, args.plot, args.checkpoint)
    print(f"test accuracy {100 * h['test_accuracy'][-1]:.2f}% after {args.epochs} epochs, "
          f"{h['seconds']:.1f} s of training; curves in {os.path.abspath(args.plot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
