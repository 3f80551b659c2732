"""Containers of modules: Sequential, ModuleList, ModuleDict (as in torch.nn).

    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    y = net(ng.ones((16, 4)))          # (16, 1)
    blocks = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
    heads = nn.ModuleDict({"cls": nn.Linear(8, 10), "reg": nn.Linear(8, 1)})
"""
import operator
from collections import OrderedDict

from .module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


def _index(container, idx):
    """idx as a non-negative position in container, or IndexError naming both."""
    n = len(container)
    if isinstance(idx, bool):
        raise TypeError(f"{type(container).__name__} indices must be integers or slices, got bool")
    try:
        idx = operator.index(idx)  # NumPy integers too (net[np.argmax(scores)]), as torch's
    except TypeError:
        raise TypeError(f"{type(container).__name__} indices must be integers or slices, got "
                        f"{type(idx).__name__}") from None
    if not -n <= idx < n:
        raise IndexError(f"{type(container).__name__}: index {idx} is out of range for {n} modules")
    return idx % n


class Sequential(Module):
    """Calls its modules in order, each on the previous one's output.

    ``Sequential(m1, m2, ...)`` names them '0', '1', ...;
    ``Sequential(OrderedDict(name=module, ...))`` keeps the names. Indexing
    with an int gives a module, with a slice a new Sequential.

        net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        y = net(ng.ones((16, 4)))          # (16, 4) -> (16, 8) -> (16, 1)
        head = net[1:]                      # Sequential of the last two
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        """x through every module in order: (shape the first takes) -> (shape the last gives)."""
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(self, idx)]

    def append(self, module):
        """Adds module at the end (named by its position); returns self."""
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters the parent module sees (named
    '0', '1', ...). It has no forward: iterate over it.

        blocks = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
        for block in blocks:               # in forward: x (batch, 8) -> (batch, 8)
            x = block(x)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(_index(self, idx))]

    def __setitem__(self, idx, module):
        self.add_module(str(_index(self, idx)), module)

    def __delitem__(self, idx):
        items = list(self._modules.values())
        del items[_index(self, idx)]
        self._renumber(items)

    def _renumber(self, items):
        """Holds items, named '0', '1', ... again."""
        for name in list(self._modules):
            delattr(self, name)
        self.extend(items)

    def append(self, module):
        """Adds module at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        """Appends each of modules; returns self."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        """Inserts module before position index (the later ones are renumbered)."""
        items = list(self._modules.values())
        items.insert(index, module)
        self._renumber(items)


class ModuleDict(Module):
    """A dict of modules whose parameters the parent module sees (named by
    their keys, in insertion order). It has no forward.

        heads = nn.ModuleDict({"cls": nn.Linear(8, 10), "reg": nn.Linear(8, 1)})
        logits = heads["cls"](features)    # features (batch, 8) -> (batch, 10)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def __getitem__(self, key):
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no module {key!r}; it has {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        self[key]  # the KeyError naming the key
        delattr(self, key)

    def keys(self):
        """The names, in insertion order."""
        return self._modules.keys()

    def values(self):
        """The modules, in insertion order."""
        return self._modules.values()

    def items(self):
        """(name, module) pairs, in insertion order."""
        return self._modules.items()

    def pop(self, key):
        """Removes and returns the module named key (KeyError naming it if absent)."""
        m = self[key]
        delattr(self, key)
        return m

    def update(self, modules):
        """Adds (or replaces) modules from a mapping or (name, module) pairs."""
        items = modules.items() if hasattr(modules, "items") else modules
        for key, m in items:
            self.add_module(key, m)
