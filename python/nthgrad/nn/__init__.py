"""nthgrad.nn: modules, layers and losses over ``nthgrad.functional``, in the
shape PyTorch users know.

    import nthgrad as ng
    import nthgrad.nn as nn

    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 10))
    logits = net(ng.zeros((32, 1, 8, 8)))                # (32, 10)
    loss = nn.CrossEntropyLoss()(logits, ng.zeros((32,), dtype=ng.int64))
"""
from .module import Module, Parameter, IncompatibleKeys
from .container import Sequential, ModuleList, ModuleDict
from . import init
from . import utils

__all__ = ["Module", "Parameter", "IncompatibleKeys", "Sequential", "ModuleList", "ModuleDict", "init", "utils"]

# layers: one file per family; each lists its public names in __all__
from . import linear, conv, normalization, pooling, recurrent, activation, loss, dropout, embedding  # noqa: E402



def _export(*families):
    for family in families:
        for name in family.__all__:
            globals()[name] = getattr(family, name)
            __all__.append(name)


_export(linear, conv, normalization, pooling, recurrent, activation, loss, dropout, embedding)
