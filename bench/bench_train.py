"""Training steps written with the training stack (nn + optim) in both
libraries, on the same initial weights and data, float32:

  digits CNN: the model of examples/digits_cnn.py without dropout (random
              masks cannot be matched across libraries): Conv2d(1,16,3,p=1,bias=False)-
              BatchNorm2d-ReLU-Conv2d(16,32,3,p=1,bias=False)-BatchNorm2d-ReLU-MaxPool2d(2)-
              Flatten-Linear(512,64)-ReLU-Linear(64,10), CrossEntropyLoss over
              int64 labels, Adam; batch 32 of 1x8x8 images.
  MLP:        784-512-512-10 (the model of bench_mlp.py) as nn.Sequential of
              nn.Linear and nn.ReLU, nn.MSELoss, optim.SGD(lr=0.01);
              batch 128.

A step is zero_grad, forward, loss, backward, optimizer step. torch runs its
optimizers with their default implementation on the CPU (foreach).

Rows: one training step of each model.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "Training steps with nn + optim, float32: digits CNN (Adam), MLP 784-512-512-10 (SGD)"
CNN_BATCH, MLP_BATCH = 32, 128
TOLERANCES = {}


def _data(seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (CNN_BATCH, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 10, CNN_BATCH).astype(np.int64)
    x = rng.standard_normal((MLP_BATCH, 784)).astype(np.float32)
    target = rng.standard_normal((MLP_BATCH, 10)).astype(np.float32)
    return images, labels, x, target


def _models(nn):
    cnn = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))
    mlp = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    return cnn, mlp


def make(lib, init):
    """(cnn_step, mlp_step, check) closures; init: {model: state dict of NumPy arrays} or None."""
    if lib == "nthgrad":
        import nthgrad as ng
        import nthgrad.nn as nn
        optim, tensor = ng.optim, ng.tensor
    else:
        import torch
        import torch.nn as nn
        optim, tensor = torch.optim, torch.tensor
    cnn, mlp = _models(nn)
    if init is not None:
        for model, key in ((cnn, "cnn"), (mlp, "mlp")):
            model.load_state_dict({k: tensor(v) for k, v in init[key].items()})
    images, labels, x, target = (tensor(a) for a in _data())
    ce, mse = nn.CrossEntropyLoss(), nn.MSELoss()
    opt_cnn = optim.Adam(cnn.parameters(), lr=1e-3)
    opt_mlp = optim.SGD(mlp.parameters(), lr=0.01)

    def training_step(model, loss_fn, opt, inputs, target):
        """A closure running one step: zero_grad, forward, loss, backward, optimizer step."""
        def step():
            opt.zero_grad()
            loss = loss_fn(model(inputs), target)
            loss.backward()
            opt.step()
            return loss
        return step

    cnn_step = training_step(cnn, ce, opt_cnn, images, labels)
    mlp_step = training_step(mlp, mse, opt_mlp, x, target)

    def state():
        return {key: {k: common.to_numpy(v) for k, v in m.state_dict().items()} for key, m in (("cnn", cnn),
                                                                                                ("mlp", mlp))}

    def check():
        out = {"cnn loss": common.to_numpy(cnn_step()), "mlp loss": common.to_numpy(mlp_step())}
        for key, values in state().items():
            for name, value in values.items():
                out[f"{key} {name} after a step"] = value
        return out

    return cnn_step, mlp_step, check, state


def run(libs, scale=1.0):
    init = None
    if "nthgrad" in libs:  # nthgrad's initial weights, loaded into torch's modules (same layouts and names)
        init = make("nthgrad", None)[3]()
    fns = {lib: make(lib, init) for lib in libs}
    checks = {lib: fns[lib][2]() for lib in libs}
    tolerances = {k: (1e-3, 1e-4) for k in next(iter(checks.values()))}
    common.compare(checks, tolerances, "train: ")
    rows = [common.Row("train: digits CNN step (nn + Adam), batch 32", "ms"),
            common.Row("train: MLP 784-512-512-10 step (nn + SGD), batch 128", "ms")]
    common.measure_rows(rows, fns, libs, repeat=common.repeats(200, scale), warmup=5)
    return rows, checks, tolerances


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
