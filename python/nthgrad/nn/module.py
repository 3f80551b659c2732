"""Module and Parameter: the building blocks of models, in the shape PyTorch
users know (``torch.nn.Module``), without hook machinery.

    import nthgrad as ng
    import nthgrad.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)
            self.register_buffer("scale", ng.ones((2,)))

        def forward(self, x):          # x: (batch, 4) -> (batch, 2)
            return self.fc(x) * self.scale

    net = Net()
    [name for name, _ in net.named_parameters()]   # ['fc.weight', 'fc.bias']
"""
from collections import OrderedDict, namedtuple

import numpy as np

from .. import _C
from .._C import Tensor, DType
from ..autograd import no_grad

__all__ = ["Parameter", "Module"]


class Parameter(Tensor):
    """A tensor that is a parameter of a module: assigning one to a Module
    attribute registers it, and it requires grad by default.

    ``Parameter(data, requires_grad=True)`` shares ``data``'s memory (as
    ``data.detach()``); ``data`` may also be a NumPy array or nested list,
    which is copied. Shape and dtype are ``data``'s.

        w = nn.Parameter(ng.zeros((3, 4)))      # shape (3, 4), requires grad
        w.requires_grad, w.is_leaf              # (True, True)
    """

    def __init__(self, data=None, requires_grad=True):
        from .._tensor import tensor, zeros
        if data is None:
            data = zeros((0,))
        elif not isinstance(data, Tensor):
            data = tensor(data)
        super().__init__(data, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
IncompatibleKeys.__doc__ = """What load_state_dict returns (as torch's): the keys the module has but
    the state dict lacks, and the keys the state dict has but the module lacks.

        missing, unexpected = net.load_state_dict(state, strict=False)
    """

_FLOATS = (DType.float32, DType.float64)


def _kind(dtype):
    """What load_state_dict converts between: floats among themselves; int64 and bool only to themselves."""
    return "float" if dtype in _FLOATS else dtype.name


class Module:
    """Base class of every layer and model.

    Assigning a ``Parameter``, a ``Module`` or (through ``register_buffer``)
    a state tensor to an attribute registers it, so that ``parameters()``,
    ``state_dict()``, ``train()``/``eval()`` and casting reach it. Subclasses
    define ``forward``; calling the module calls ``forward``.

        layer = nn.Linear(3, 2)
        y = layer(ng.ones((5, 3)))       # (5, 2)
        sd = layer.state_dict()          # OrderedDict: weight (3, 2), bias (2,)
        layer.load_state_dict(sd)        # strict: every key, the right shapes
    """

    def __init__(self):
        # Registered members are also plain attributes, so reading self.weight
        # in forward costs a normal attribute lookup.
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ----
    def _registries(self):
        try:
            return self._parameters, self._buffers, self._modules
        except AttributeError:
            raise AttributeError(f"{type(self).__name__}: Module.__init__() was not called; call super().__init__() "
                                 "at the start of __init__") from None

    def __setattr__(self, name, value):
        params, buffers, modules = self._registries()
        # a name assigned again keeps its place (the order of parameters(), of a Sequential's layers)
        if isinstance(value, Parameter):
            self._forget(name, keep=params)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter "
                                f"'{name}'; wrap it in nn.Parameter (or assign None)")
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to buffer '{name}'; "
                                "it must be an nthgrad Tensor or None")
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to submodule "
                                f"'{name}'; it must be a Module or None")
            modules[name] = None
        object.__setattr__(self, name, value)

    def _forget(self, name, keep=None):
        for registry in self._registries():
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent.discard(name)

    def __delattr__(self, name):
        self._forget(name)
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Registers ``param`` (a Parameter or None) under ``name``."""
        self._check_name(name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be an nn.Parameter or None, got "
                            f"{type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Registers ``tensor`` (an nthgrad Tensor or None) as state that is
        not a parameter (running statistics): saved in ``state_dict`` unless
        ``persistent=False``, cast by ``float()``/``double()``, never trained."""
        self._check_name(name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be an nthgrad Tensor or None, got "
                            f"{type(tensor).__name__}")
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name, module):
        """Registers ``module`` (a Module or None) as the child ``name``."""
        self._check_name(name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be a Module or None, got {type(module).__name__}")
        self._forget(name)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    def _check_name(self, name):
        registries = self._registries()
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{type(self).__name__}: a member name must be a non-empty string without '.', got "
                           f"{name!r}")
        # as torch: a name that is already something else (a method such as 'forward', 'training', a plain
        # attribute) would be shadowed, or would shadow the member
        if hasattr(self, name) and not any(name in r for r in registries):
            raise KeyError(f"{type(self).__name__}: attribute '{name}' already exists and is not a parameter, "
                           "buffer or submodule; choose another name")

    # ---- calling ----
    def forward(self, *args, **kwargs):
        """The computation of the module; subclasses define it (called by ``module(...)``)."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- traversal ----
    def named_modules(self, memo=None, prefix=""):
        """(name, module) for this module and every descendant, each once."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        """This module and every descendant, each once: ``list(net.modules())``."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """(name, module) for each direct child, each once."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        """Each direct child module, once."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter) for every parameter, each once (shared ones
        under their first name)."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        """Every parameter, each once (what an optimizer takes):
        ``ng.optim.SGD(net.parameters(), lr=0.1)``."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        """(dotted name, tensor) for every buffer (running statistics), each once."""
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        """Every buffer, each once."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and gradients ----
    def train(self, mode=True):
        """Sets training mode (dropout active, batch statistics) on this
        module and its descendants; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """Evaluation mode (``train(False)``): running statistics, no dropout."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Sets requires_grad of every parameter (freeze with False); returns self."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none=True):
        """Clears every parameter's ``.grad`` (to None, or to zeros)."""
        from .._tensor import zeros
        for p in self.parameters():
            if p.grad is not None:
                p.grad = None if set_to_none else zeros(p.shape, dtype=p.dtype)

    def apply(self, fn):
        """Calls ``fn(m)`` for every descendant, then this module; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- state ----
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An OrderedDict from dotted names to the parameters and persistent
        buffers. Values share the module's memory (detached unless
        ``keep_vars``); ``nthgrad.save`` writes them to a file."""
        out = OrderedDict() if destination is None else destination
        for module_prefix, module in self.named_modules(prefix=prefix.rstrip(".")):
            dot = module_prefix + "." if module_prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[dot + name] = p if keep_vars else p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[dot + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copies values from ``state_dict`` (tensors or NumPy arrays) into
        this module's parameters and buffers, in place, so optimizers that
        hold the parameters keep working. A value whose shape differs is a
        ValueError naming the key; with ``strict`` (default) missing or
        unexpected keys are a KeyError naming them. Returns
        ``(missing_keys, unexpected_keys)``."""
        from .._tensor import tensor
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a mapping of names to tensors, got "
                            f"{type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing key(s): " + ", ".join(repr(k) for k in missing))
            if unexpected:
                parts.append("unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
            raise KeyError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        updates = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                try:
                    value = tensor(np.asarray(value))
                except (TypeError, ValueError) as e:
                    raise TypeError(f"load_state_dict: '{key}' holds {type(value).__name__}, not a tensor or "
                                    f"array ({e})") from None
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(f"load_state_dict: '{key}' has shape {tuple(value.shape)} in the state dict but "
                                 f"{tuple(target.shape)} in {type(self).__name__}")
            if _kind(value.dtype) != _kind(target.dtype):
                raise TypeError(f"load_state_dict: '{key}' is {value.dtype} in the state dict but {target.dtype} "
                                f"in {type(self).__name__}")
            updates.append((key, target, value))
        with no_grad():
            # every write is checked before the first happens (a live NumPy view of a parameter refuses its
            # write): nothing is half loaded
            _C._check_writable("load_state_dict", [k for k, _, _ in updates], [t for _, t, _ in updates], True)
            for _, target, value in updates:
                target.copy_(value)  # in place, int64 and bool buffers too
        return IncompatibleKeys(missing, unexpected)

    # ---- casting ----
    def _cast(self, dtype):
        # The values are replaced inside the same tensor objects (torch's p.data = ...), so tied weights stay
        # tied and an optimizer made before the cast still updates the module's parameters.
        for m in self.modules():
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is not None and t.dtype in _FLOATS and t.dtype != dtype:
                    t._set_data(t.detach().astype(dtype))
        return self

    def float(self):
        """Casts floating parameters and buffers to float32, keeping the tensor
        objects (an optimizer made before still trains them; its state of the
        old dtype is refused by its next step); returns self."""
        return self._cast(DType.float32)

    def double(self):
        """Casts floating parameters and buffers to float64; returns self."""
        return self._cast(DType.float64)

    def to(self, dtype):
        """``float()`` or ``double()`` by dtype (``nthgrad.float32`` / ``float64``)."""
        if dtype not in _FLOATS:
            raise TypeError(f"to: dtype must be nthgrad.float32 or float64, got {dtype!r}")
        return self._cast(dtype)

    # ---- printing ----
    def extra_repr(self):
        """The arguments shown in this module's repr; layers override it."""
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        name = type(self).__name__
        if not self._modules:
            return f"{name}({extra})"
        return name + "(\n  " + "\n  ".join(lines) + "\n)"
