"""The Optimizer base class: parameter groups, per-parameter state, and
state dicts that a checkpoint (``nthgrad.save``) can hold."""
import copy
import math
from collections import OrderedDict

import numpy as np

from .. import _C
from .._C import Tensor
from ..autograd import no_grad, enable_grad

__all__ = ["Optimizer"]


class _StateByParameter:
    """Per-parameter state (``optimizer.state[p]``): a dict for each
    parameter, looked up by identity (tensors are not hashable: ``==`` is
    elementwise)."""

    def __init__(self):
        self._by_id = {}  # id(p) -> (p, state dict); holding p keeps its id unique

    def __getitem__(self, p):
        entry = self._by_id.get(id(p))
        if entry is None:
            entry = self._by_id[id(p)] = (p, {})
        return entry[1]

    def __contains__(self, p):
        return id(p) in self._by_id

    def __len__(self):
        return len(self._by_id)

    def items(self):
        return [(p, s) for p, s in self._by_id.values()]

    def clear(self):
        self._by_id.clear()

    def __deepcopy__(self, memo):
        # keyed by id: a copy is keyed by the ids of the copied parameters (the ones the copied
        # param_groups hold, through the memo), or copy.deepcopy(optimizer) would lose every state
        new = _StateByParameter()
        for p, state in self._by_id.values():
            p_copy = copy.deepcopy(p, memo)
            new._by_id[id(p_copy)] = (p_copy, copy.deepcopy(state, memo))
        return new


def _check_hyper(owner, name, value, low=0.0, high=None, high_inclusive=False):
    """value must be a finite number in [low, high) (or [low, high])."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__}")
    value = float(value)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if not math.isfinite(value) or value < low or too_high:
        bound = "" if high is None else f" and {'<=' if high_inclusive else '<'} {high}"
        raise ValueError(f"{owner}: {name} must be >= {low}{bound}, got {value}")
    return value


def _check_ordered(owner, params):
    """A set's order changes between runs, so state saved by position would be
    restored onto other parameters (of the same shape: silently); as torch."""
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{owner}: parameters must be an ordered collection (a list), not a {type(params).__name__}, "
                        "whose order changes between runs and would mix up the state a checkpoint restores")


class Optimizer:
    """Base class of the optimizers, as ``torch.optim.Optimizer``.

    ``params`` is an iterable of tensors (parameters) or of dicts, each a
    parameter group ``{"params": [...], "lr": ..., ...}`` overriding the
    defaults. Subclasses implement ``_update(group, p, state)``, which calls
    one fused C++ kernel that updates ``p`` and its state in place.

        opt = ng.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss.backward()
        opt.step()          # p -= lr * (momentum buffer), in place
        opt.zero_grad()     # p.grad = None
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = _StateByParameter()
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of tensors or of dicts, got a "
                            "single tensor; pass [tensor]")
        _check_ordered(type(self).__name__, params)
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Adds a group ``{"params": [...], hyperparameter: value, ...}``;
        missing hyperparameters take the optimizer's defaults."""
        name = type(self).__name__
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' entry")
        params = param_group["params"]
        _check_ordered(name, params)
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} of a group is {type(p).__name__}, not an nthgrad Tensor")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} (shape {tuple(p.shape)}) is the result of an op; "
                                 "optimizers update leaves (nn.Parameter or tensors made with requires_grad=True)")
            if p.dtype.name not in ("float32", "float64"):
                raise TypeError(f"{name}: parameter {i} is {p.dtype.name}; only float32 and float64 train")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears in more than one group (or twice in one)")
        group = dict(self.defaults)
        group.update(param_group)
        group["params"] = params
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group):
        """Validates a group's hyperparameters (subclasses)."""
        _check_hyper(type(self).__name__, "lr", group["lr"])

    def zero_grad(self, set_to_none=True):
        """Clears every parameter's ``.grad`` (to None, or to zeros)."""
        from .._tensor import zeros
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad = None if set_to_none else zeros(p.shape, dtype=p.dtype)

    def step(self, closure=None):
        """One update of every parameter that has a ``.grad``. ``closure``, if
        given, recomputes and returns the loss (it is called with gradients
        enabled, before the update); step returns its value."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            updates = [(group, p) for group in self.param_groups for p in group["params"] if p.grad is not None]
            self._check_writable(updates)
            for group, p in updates:
                self._update(group, p, self.state[p])
        return loss

    def _check_writable(self, updates):
        """Raises, before anything is written, the error a kernel would raise
        for a parameter or state tensor it cannot write (a live NumPy view),
        so a refused step updates no parameter at all."""
        names, tensors = [], []
        for i, (_, p) in enumerate(updates):
            names.append(f"parameter {i} (shape {tuple(p.shape)})")
            tensors.append(p)
            if p in self.state:
                for key, value in self.state[p].items():
                    if isinstance(value, Tensor):
                        names.append(f"state '{key}' of parameter {i}")
                        tensors.append(value)
        _C._check_writable(f"{type(self).__name__}.step", names, tensors)

    def _update(self, group, p, state):
        raise NotImplementedError

    # ---- state dicts ----
    def state_dict(self):
        """``{"state": {index: {name: tensor or number}}, "param_groups":
        [{hyperparameters..., "params": [indices]}]}``, parameters numbered in
        group order, as torch's. The tensors are the live state buffers
        (``nthgrad.save`` copies them into the file)."""
        index = {}
        groups = []
        for group in self.param_groups:
            entry = {k: v for k, v in group.items() if k != "params"}
            entry["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                entry["params"].append(index[id(p)])
            groups.append(entry)
        state = OrderedDict()
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = dict(self.state[p])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restores hyperparameters and state saved by ``state_dict`` for an
        optimizer over parameters of the same shapes, in the same order. State
        tensors are copied (cast to the parameter's dtype); a mismatch is a
        ValueError naming the group, the parameter and the state entry."""
        from .._tensor import tensor
        name = type(self).__name__
        try:
            saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        except (TypeError, KeyError):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups'") from None
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer {len(self.param_groups)}")
        by_index = {}
        for g, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: group {g} has {len(saved['params'])} parameters in the "
                                 f"state dict, {len(group['params'])} here")
            for i, p in zip(saved["params"], group["params"]):
                by_index[int(i)] = p
        new_state = {}
        for i, entries in saved_state.items():
            if int(i) not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter {i}, which no group lists")
            p = by_index[int(i)]
            restored = {}
            for key, value in entries.items():
                if isinstance(value, Tensor) or isinstance(value, np.ndarray):
                    array = np.array(value)  # a copy: the optimizer owns its buffers
                    if array.shape != tuple(p.shape):
                        raise ValueError(f"{name}.load_state_dict: state '{key}' of parameter {i} has shape "
                                         f"{array.shape}, the parameter {tuple(p.shape)}")
                    value = tensor(array, dtype=p.dtype)
                elif isinstance(value, (np.integer, np.floating)):
                    value = value.item()
                restored[key] = value
            new_state[id(p)] = (p, restored)
        for group, saved in zip(self.param_groups, saved_groups):
            for key, value in saved.items():
                if key != "params":
                    group[key] = tuple(value) if isinstance(value, list) and key == "betas" else value
            self._check_group(group)
        self.state._by_id = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)
