"""Dropout over ``F.dropout``: active in training mode, the identity in eval mode.

    drop = nn.Dropout(0.2)
    y = drop(ng.ones((4, 8)))     # (4, 8): zeros and 1.25s
"""
import numbers

from .. import functional as F
from .._C import Generator
from .linear import _check_tensor
from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Zeroes each element with probability p and scales the others by
    1 / (1 - p) in training mode; the identity in eval mode
    (``torch.nn.Dropout``, over nnabla's ``F.dropout``).

    Shapes: input (*) -> output (*).

    Random numbers: ``generator=None`` draws from the global generator
    (``ng.manual_seed(s)`` makes the masks reproducible); an
    ``nthgrad.Generator`` is advanced by each call. ``inplace`` is accepted
    and ignored (tensors are immutable).

        drop = nn.Dropout(0.5, generator=ng.Generator(0))
        y = drop(ng.ones((2, 4)))      # zeros and 2s
        drop.eval(); drop(ng.ones((2, 4)))   # ones
    """

    def __init__(self, p=0.5, inplace=False, generator=None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"Dropout: generator must be an nthgrad.Generator or None, got "
                            f"{type(generator).__name__}")
        self.p = float(p)
        self.inplace = bool(inplace)
        self.generator = generator

    def forward(self, input):
        _check_tensor(self, input)
        if not self.training or self.p == 0:
            return input
        return F.dropout(input, self.p, -1 if self.generator is None else self.generator)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
