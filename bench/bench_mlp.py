"""MLP 784-512-512-10 training step at batch 128, float32.

forward: affine, relu, affine, relu, affine; loss: mean squared error
((y - target)**2).mean() (nthgrad has no log_softmax / cross-entropy yet, so
both libraries use MSE); backward; plain SGD update.

  nthgrad: F.affine with weight (in, out); update = in place
           p.sub_(p.grad, alpha=lr) under no_grad, then p.grad = None.
  torch:   torch.nn.functional.linear with weight (out, in) (nn.Linear's
           layout, holding the same numbers transposed); update = in-place
           p.sub_(p.grad, alpha=lr) under torch.no_grad, then p.grad = None.

Same initial weights, input and target for both (NumPy random, converted).

Rows: forward+loss (recording), forward+loss+backward, full training step.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "MLP 784-512-512-10, batch 128, float32: training step (MSE loss, SGD)"
SIZES = (784, 512, 512, 10)
BATCH = 128
LR = 0.01
NAMES = ("w1", "b1", "w2", "b2", "w3", "b3")
TOLERANCES = {"loss": (1e-4, 1e-6)}
TOLERANCES.update({f"grad {n}": (1e-3, 1e-4) for n in NAMES})
TOLERANCES.update({f"new {n}": (1e-4, 1e-5) for n in NAMES})


def init(seed=0, batch=BATCH):
    """Weights (in, out) He-initialized, biases small, input, target: float32 NumPy."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(np.float32))
        params.append((0.1 * rng.standard_normal(fan_out)).astype(np.float32))
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    target = rng.standard_normal((batch, SIZES[-1])).astype(np.float32)
    return params, x, target


# ---- nthgrad --------------------------------------------------------------

def ng_params(params_np):
    import nthgrad as ng
    return [ng.tensor(p, requires_grad=True) for p in params_np]


def ng_loss(params, x, target):
    import nthgrad.functional as F
    w1, b1, w2, b2, w3, b3 = params
    h = F.relu(F.affine(x, w1, b1))
    h = F.relu(F.affine(h, w2, b2))
    y = F.affine(h, w3, b3)
    return ((y - target) ** 2).mean()


def ng_sgd(params, lr):
    import nthgrad as ng
    with ng.no_grad():
        for p in params:
            p.sub_(p.grad, alpha=lr)  # in place: the graph that saved p was freed by backward
            p.grad = None
    return params


# ---- torch ----------------------------------------------------------------

def torch_params(params_np):
    import torch
    out = []
    for p in params_np:
        arr = p.T.copy() if p.ndim == 2 else p.copy()  # nn.Linear keeps weight as (out, in)
        out.append(torch.tensor(arr, requires_grad=True))
    return out


def torch_loss(params, x, target):
    import torch
    import torch.nn.functional as TF
    w1, b1, w2, b2, w3, b3 = params
    h = torch.relu(TF.linear(x, w1, b1))
    h = torch.relu(TF.linear(h, w2, b2))
    y = TF.linear(h, w3, b3)
    return ((y - target) ** 2).mean()


def torch_sgd(params, lr):
    import torch
    with torch.no_grad():
        for p in params:
            p.sub_(p.grad, alpha=lr)
            p.grad = None
    return params


def torch_layout(arr, name):
    """A torch parameter array in nthgrad's layout (weights transposed back)."""
    return arr.T.copy() if name.startswith("w") else arr


# ---- the case -------------------------------------------------------------

def make(lib, params_np, x_np, t_np):
    """(forward, forward_backward, step, check) closures over one model state."""
    if lib == "nthgrad":
        import nthgrad as ng
        state = {"p": ng_params(params_np)}
        x, t = ng.tensor(x_np), ng.tensor(t_np)
        loss_fn, sgd, layout = ng_loss, ng_sgd, (lambda a, n: a)
    else:
        import torch
        state = {"p": torch_params(params_np)}
        x, t = torch.tensor(x_np), torch.tensor(t_np)
        loss_fn, sgd, layout = torch_loss, torch_sgd, torch_layout

    def zero_grad():
        for p in state["p"]:
            p.grad = None

    def forward():
        return loss_fn(state["p"], x, t)

    def forward_backward():
        zero_grad()
        loss = loss_fn(state["p"], x, t)
        loss.backward()
        return loss

    def step():
        loss = loss_fn(state["p"], x, t)
        loss.backward()
        state["p"] = sgd(state["p"], LR)
        return loss

    def check():
        zero_grad()
        loss = loss_fn(state["p"], x, t)
        loss.backward()
        out = {"loss": common.to_numpy(loss)}
        for n, p in zip(NAMES, state["p"]):
            out[f"grad {n}"] = layout(common.to_numpy(p.grad), n)
        state["p"] = sgd(state["p"], LR)
        for n, p in zip(NAMES, state["p"]):
            out[f"new {n}"] = layout(common.to_numpy(p), n)
        zero_grad()
        return out

    return forward, forward_backward, step, check


def run(libs, scale=1.0):
    params_np, x_np, t_np = init()
    fns = {lib: make(lib, params_np, x_np, t_np) for lib in libs}
    checks = {lib: fns[lib][3]() for lib in libs}
    common.compare(checks, TOLERANCES, "mlp: ")
    rows = [common.Row("mlp: forward+loss", "ms"), common.Row("mlp: forward+loss+backward", "ms"),
            common.Row("mlp: training step (fwd+bwd+SGD)", "ms")]
    common.measure_rows(rows, fns, libs, repeat=common.repeats(200, scale), warmup=5)
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
