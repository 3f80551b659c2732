"""The optimizers: SGD, Adam, AdamW, RMSprop, Adagrad, with torch.optim's
arguments and defaults. Each step calls one fused C++ kernel per parameter
(``nthgrad/ops/optim.h``) that updates the parameter and its state in place:
no graph, no temporaries. A graph that saved a parameter before the step
raises if differentiated afterwards (storage version counters)."""
from .. import _C
from .._tensor import zeros, full
from .optimizer import Optimizer, _check_hyper

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


def _zeros_like(p):
    return zeros(p.shape, dtype=p.dtype)


def _check_betas(owner, betas):
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}") from None
    return (_check_hyper(owner, "betas[0]", b1, 0.0, 1.0), _check_hyper(owner, "betas[1]", b2, 0.0, 1.0))


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (heavy ball or
    Nesterov) and L2 weight decay, as ``torch.optim.SGD``:

        d = g + weight_decay * p
        b = d (first step), else momentum * b + (1 - dampening) * d
        d = d + momentum * b (nesterov), else b
        p = p - lr * d

    Parameters of any shape; the momentum buffer has the parameter's shape.

        opt = ng.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _check_group(self, group):
        super()._check_group(group)
        for key in ("momentum", "dampening", "weight_decay"):
            _check_hyper("SGD", key, group[key])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")

    def _update(self, group, p, state):
        # State changes only after the kernel succeeded: a refused step (e.g. a live NumPy view of p)
        # must leave the optimizer as it was, so that retrying it is the first step again.
        momentum = group["momentum"]
        first = momentum != 0 and "momentum_buffer" not in state
        buffer = _zeros_like(p) if first else state.get("momentum_buffer")
        _C.sgd_step(p, p.grad, buffer if momentum != 0 else None, lr=group["lr"],
                    momentum=momentum, dampening=group["dampening"], weight_decay=group["weight_decay"],
                    nesterov=group["nesterov"], maximize=group["maximize"], first_step=first)
        if first:
            state["momentum_buffer"] = buffer


class Adam(Optimizer):
    """Adam (Kingma and Ba), as ``torch.optim.Adam``, with bias correction:

        g = g + weight_decay * p               (L2 penalty; AdamW decays p instead)
        m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    ``amsgrad`` uses the running maximum of v. State per parameter: ``step``
    (an int), ``exp_avg`` and ``exp_avg_sq`` (the parameter's shape).

        opt = ng.optim.Adam(model.parameters(), lr=1e-3)
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _check_group(self, group):
        super()._check_group(group)
        name = type(self).__name__
        group["betas"] = _check_betas(name, group["betas"])
        _check_hyper(name, "eps", group["eps"])
        _check_hyper(name, "weight_decay", group["weight_decay"])

    def _update(self, group, p, state):
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = _zeros_like(p)
        step = state["step"] + 1  # counted once the kernel succeeded (a refused step changes nothing)
        beta1, beta2 = group["betas"]
        _C.adam_step(p, p.grad, state["exp_avg"], state["exp_avg_sq"],
                     state["max_exp_avg_sq"] if group["amsgrad"] else None, step=step, lr=group["lr"],
                     beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                     decoupled_weight_decay=self._decoupled, amsgrad=group["amsgrad"], maximize=group["maximize"])
        state["step"] = step


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter), as
    ``torch.optim.AdamW``: ``p = p * (1 - lr * weight_decay)`` before the Adam
    update, which sees the raw gradient. Default weight_decay 0.01.

        opt = ng.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``:

        g = g + weight_decay * p
        s = alpha s + (1 - alpha) g^2
        avg = sqrt(s - ga^2) + eps, ga = alpha ga + (1 - alpha) g  (centered)
              sqrt(s) + eps                                        (otherwise)
        b = momentum b + g / avg, p = p - lr b   (momentum > 0)
        p = p - lr g / avg                       (otherwise)

        opt = ng.optim.RMSprop(model.parameters(), lr=1e-2, alpha=0.99)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _check_group(self, group):
        super()._check_group(group)
        for key in ("alpha", "eps", "weight_decay", "momentum"):
            _check_hyper("RMSprop", key, group[key])

    def _update(self, group, p, state):
        if "step" not in state:
            state["step"] = 0
            state["square_avg"] = _zeros_like(p)
        if group["momentum"] > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = _zeros_like(p)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = _zeros_like(p)
        _C.rmsprop_step(p, p.grad, state["square_avg"], state["grad_avg"] if group["centered"] else None,
                        state["momentum_buffer"] if group["momentum"] > 0 else None, lr=group["lr"],
                        alpha=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
                        momentum=group["momentum"], centered=group["centered"], maximize=group["maximize"])
        state["step"] += 1  # once the kernel succeeded


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), as ``torch.optim.Adagrad``:

        g = g + weight_decay * p
        s = s + g^2                    (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)

        opt = ng.optim.Adagrad(model.parameters(), lr=1e-2)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 maximize=False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))
        for group in self.param_groups:  # as torch: the state exists from the start
            for p in group["params"]:
                self._init_state(group, p, self.state[p])

    @staticmethod
    def _init_state(group, p, state):
        state["step"] = 0
        state["sum"] = full(p.shape, group["initial_accumulator_value"], dtype=p.dtype)

    def _check_group(self, group):
        super()._check_group(group)
        for key in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            _check_hyper("Adagrad", key, group[key])

    def _update(self, group, p, state):
        if "sum" not in state:  # a group added after construction
            self._init_state(group, p, state)
        step = state["step"] + 1  # counted once the kernel succeeded (a refused step changes nothing)
        _C.adagrad_step(p, p.grad, state["sum"], step=step, lr=group["lr"], lr_decay=group["lr_decay"],
                        weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"])
        state["step"] = step
