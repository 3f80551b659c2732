"""Embedding: a lookup table of vectors over ``F.embed``.

    emb = nn.Embedding(10, 3)
    y = emb(ng.tensor([[1, 2], [4, 9]]))     # (2, 2, 3)
"""
import numpy as np

from .. import functional as F
from .._C import Tensor, DType
from .._tensor import tensor
from .linear import _check_int, _float_dtype
from .module import Module, Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """Rows of ``weight`` at int64 indices (``torch.nn.Embedding``, over
    nnabla's ``F.embed``).

    Shapes: input (*) of int64 in [0, num_embeddings) -> output
    (*, embedding_dim). ``weight`` (num_embeddings, embedding_dim) drawn from
    N(0, 1) as torch; the row ``padding_idx`` (negative counts from the end)
    starts at zero and gets no gradient, as in torch. An index out of range
    is an IndexError naming it. Not supported: max_norm, scale_grad_by_freq,
    sparse (refused when set).

        emb = nn.Embedding(10, 3, padding_idx=0)
        y = emb(ng.tensor([0, 5]))          # (2, 3); y[0] is zeros
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, dtype=DType.float32):
        super().__init__()
        self.num_embeddings = _check_int("Embedding", "num_embeddings", num_embeddings, 1)
        self.embedding_dim = _check_int("Embedding", "embedding_dim", embedding_dim, 0)
        for name, value, default in (("max_norm", max_norm, None), ("scale_grad_by_freq", scale_grad_by_freq, False),
                                     ("sparse", sparse, False)):
            if value != default:
                raise NotImplementedError(f"Embedding: {name}={value!r} is not supported")
        if padding_idx is not None:
            padding_idx = _check_int("Embedding", "padding_idx", padding_idx)
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for num_embeddings="
                                 f"{self.num_embeddings}")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            weight = F.randn(0, 1, list(shape), seed=-1, dtype=_float_dtype("Embedding", dtype)).numpy().copy()
            if padding_idx is not None:
                weight[padding_idx] = 0
            self.weight = Parameter(tensor(weight), requires_grad=not _freeze)
        else:
            if tuple(_weight.shape) != shape:
                raise ValueError(f"Embedding: _weight of shape {tuple(_weight.shape)} must have shape {shape}")
            self.weight = Parameter(_weight, requires_grad=not _freeze)
        # which rows get no gradient (the padding row), for F.where in forward
        self._is_padding = None if padding_idx is None else tensor(np.arange(self.num_embeddings) == padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding whose weight is ``embeddings`` (num, dim), shared, not
        trained if ``freeze`` (torch's classmethod).

            emb = nn.Embedding.from_pretrained(ng.ones((5, 2)))
            emb(ng.tensor([4])).shape       # (1, 2)
        """
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise ValueError("Embedding.from_pretrained: embeddings must be a 2-D nthgrad Tensor, got "
                             f"{getattr(embeddings, 'shape', type(embeddings).__name__)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx, _weight=embeddings.detach(), _freeze=freeze, dtype=embeddings.dtype)

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{self}: input must be an nthgrad Tensor of int64 indices, got {type(input).__name__}")
        if input.dtype != DType.int64:
            raise TypeError(f"{self}: input must hold int64 indices, got {input.dtype} of shape {tuple(input.shape)}")
        if input.numel() and not self._in_range(input):
            indices = input.numpy()
            bad = indices[(indices < 0) | (indices >= self.num_embeddings)].flat[0]
            raise IndexError(f"{self}: index {bad} is out of range [0, {self.num_embeddings}) (input of shape "
                             f"{tuple(input.shape)})")
        weight = self.weight
        if self._is_padding is not None and weight.requires_grad:
            weight = F.where(self._is_padding, weight.detach(), weight)  # the same values; no gradient to the row
        return F.embed(input, weight)

    def _in_range(self, input):
        indices = input.numpy()
        return indices.min() >= 0 and indices.max() < self.num_embeddings

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s if self.padding_idx is None else s + f", padding_idx={self.padding_idx}"
