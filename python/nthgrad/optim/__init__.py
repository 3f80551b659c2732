"""nthgrad.optim: optimizers (one fused in-place C++ kernel per parameter and
step), learning-rate schedules and gradient clipping, as ``torch.optim``.

    import nthgrad as ng
    opt = ng.optim.Adam(model.parameters(), lr=1e-3)
    sched = ng.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    for x, y in loader:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        ng.optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    sched.step()
    ng.save({"model": model.state_dict(), "optim": opt.state_dict()}, "ckpt.npz")
"""
from .optimizer import Optimizer
from .rules import SGD, Adam, AdamW, RMSprop, Adagrad
from . import lr_scheduler
from ..nn.utils import clip_grad_norm_, clip_grad_value_

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler", "clip_grad_norm_",
           "clip_grad_value_"]
