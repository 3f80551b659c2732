"""One training step of the DAB sorting model (examples/dab_sort.py) at
T = 10, batch 1024, float32, side by side with the same model in PyTorch
(examples/dab_sort_torch.py, the DAB authors' torch.autograd.Function whose
backward runs torch.autograd.grad through the approximator).

Model: encoder Linear(10,128)-Tanh-Linear(128,128)-Tanh-Linear(128,256)-Tanh,
signum(eps = 0.5) bridged by the approximator Linear(256,128)-Tanh-
Linear(128,128)-Tanh-Linear(128,256), head Linear(256, 100); loss = mean of
(sum over positions of the cross-entropy + 10 * DAB loss). Both start from
the same weights and see the same batch.

Rows: forward (recording); forward + backward (the nested backward through
the approximator included); the whole step with Adam.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import common  # noqa: E402

TITLE = "DAB sorting model, T=10, batch 1024, float32: one training step"
T, BATCH = 10, 1024
TOLERANCES = {"loss": (1e-5, 1e-4), "grad encoder.0.weight": (2e-3, 1e-4), "grad dab.approximator.0.weight":
              (2e-3, 1e-4), "grad head.weight": (2e-3, 1e-4)}
CHECKED = ("encoder.0.weight", "dab.approximator.0.weight", "head.weight")


def init(seed=0):
    import dab_sort
    x, y, _, _ = dab_sort.make_dataset(T, seed, n_train=BATCH, n_test=0)
    return x, y.astype(np.int64)


def _torch_model(seed=0):
    import torch
    import dab_sort_torch
    torch.manual_seed(seed)
    return dab_sort_torch.TorchSorter(T, "dab")


def make(lib, x_np, y_np):
    """(forward, forward_backward, step, check) closures."""
    reference = _torch_model()
    weights = [p.detach().numpy().copy() for p in reference.parameters()]
    if lib == "nthgrad":
        import nthgrad as ng
        import dab_sort
        _, Sorter = dab_sort._build()
        model = Sorter(T, "dab")
        params = dict(model.named_parameters())
        with ng.no_grad():
            for p, w in zip(params.values(), weights):
                p.copy_(ng.tensor(w))
        opt = ng.optim.Adam(model.parameters(), lr=1e-4)
        x, y = ng.tensor(x_np), ng.tensor(y_np)

        def loss():
            return model.loss(x, y)

        def grads():
            opt.zero_grad()
            loss().backward()
            return {k: params[k].grad for k in CHECKED}
    else:
        import torch
        import dab_sort_torch
        model = reference
        params = {("dab." + k if k.startswith("approximator") else k): p for k, p in model.named_parameters()}
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        x, y = torch.tensor(x_np), torch.tensor(y_np)

        def loss():
            return dab_sort_torch.loss_of(model, x, y, 10.0)

        def grads():
            opt.zero_grad()
            loss().backward()
            return {k: params[k].grad for k in CHECKED}

    def forward():
        return loss()

    def forward_backward():
        return grads()

    def step():
        grads()
        opt.step()

    def check():
        out = {"loss": common.to_numpy(loss())}
        out.update({f"grad {k}": common.to_numpy(g) for k, g in grads().items()})
        return out

    return forward, forward_backward, step, check


def run(libs, scale=1.0):
    x, y = init()
    fns = {lib: make(lib, x, y) for lib in libs}
    checks = {lib: fns[lib][3]() for lib in libs}
    common.compare(checks, TOLERANCES, "dab: ")
    rows = [common.Row("dab sort T=10: forward (recording)", "ms"),
            common.Row("dab sort T=10: forward + backward", "ms"),
            common.Row("dab sort T=10: training step (Adam)", "ms")]
    common.measure_rows(rows, {lib: fns[lib][:3] for lib in libs}, libs, repeat=common.repeats(30, scale), warmup=3)
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
