"""Hard functions: the non-differentiable functions of the DAB paper
(Ramapuram and Webb, "Improving Discrete Latent Representations With
Differentiable Approximation Bridges"), as C++ ops.

On their own their gradient is zero (as ``torch.sign``'s): a network learns
through one only with an estimator, a straight-through estimator
(``nthgrad.ste``) or a differentiable approximation bridge (``nthgrad.dab``).

    import nthgrad as ng
    from nthgrad import hard

    z = ng.tensor([[-0.7, 0.2, 0.9]])
    hard.signum(z)                      # [[-1., 0., 1.]]
    hard.binary(z)                      # [[0., 1., 1.]]   (>= the sample's mean, 0.133)

=====================================  ===========================  ===================
function                               input                        output
=====================================  ===========================  ===================
``signum(z, eps=0.5)``                 any shape                    z's shape
``binary(z)``                          (B, F...)                    z's shape
``bernoulli(p, seed=-1)``              any shape, p in [0, 1]       p's shape
``sort(z)``                            (B, R, C)                    (B, 2 R C)
``sort_1d(z)``                         (B, F...)                    z's shape
``topk(z, k)``                         (B, R, C)                    (B, k)
``kmeans(z, k=10, iters=20, seed=0)``  (B, N) or (B, N, D)          (B, k) or (B, k, D)
=====================================  ===========================  ===================

Every function takes and returns float32 or float64 tensors (kmeans's
assignments are int64).
"""
import numbers

import numpy as np

from . import _C
from ._C import Tensor
from ._tensor import tensor
from .autograd import no_grad

__all__ = ["signum", "binary", "bernoulli", "sort", "sort_1d", "topk", "kmeans"]


def _tensor_arg(fn, z, name="z"):
    """z itself, or a TypeError naming the function (rather than pybind's 'incompatible function arguments')."""
    if not isinstance(z, Tensor):
        raise TypeError(f"hard.{fn}: {name} must be an nthgrad Tensor, got {type(z).__name__}")
    return z


def _int_arg(fn, value, name):
    """An int (NumPy ints too), not a bool: a TypeError naming the function otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"hard.{fn}: {name} must be an int, got {type(value).__name__}")
    return int(value)


def signum(z, eps=0.5):
    """The eps-margin signum of the DAB paper (its equation 11): -1 where z < -eps, +1 where z > eps, 0 in
    [-eps, eps]; NaN stays NaN. eps >= 0. z of any shape; the result has z's shape and dtype.

        hard.signum(ng.tensor([-0.7, 0.2, 0.9]))        # [-1., 0., 1.]
    """
    return _C.hard_signum(_tensor_arg("signum", z), eps)


def binary(z):
    """1 where z >= the mean of its sample's features, else 0. z of shape (B, F...): the mean runs over every
    axis but the first. The result has z's shape and dtype.

        hard.binary(ng.tensor([[1., 2., 6.]]))           # [[0., 0., 1.]]
    """
    return _C.hard_binary(_tensor_arg("binary", z))


def bernoulli(p, seed=-1):
    """A sample of Bernoulli(p) per element: 1 with probability p, else 0, in p's shape and dtype; every p in
    [0, 1]. Not reparameterized: the gradient in p is zero. seed: -1 (the global generator), an int >= 0 (the same
    sample every call) or an ``ng.Generator``.

        hard.bernoulli(ng.full((4,), 0.5), seed=1)
    """
    return _C.hard_bernoulli(_tensor_arg("bernoulli", p, "p"), seed)


def sort(z):
    """z of shape (B, R, C): per sample, the rows sorted ascending followed by the columns sorted ascending, each
    flattened in row-major order (the paper's sort-row(x) + sort-col(x)). Shape (B, 2 R C).

        hard.sort(ng.tensor([[[3., 1.], [0., 2.]]]))     # [[1., 3., 0., 2., 0., 1., 3., 2.]]
    """
    return _C.hard_sort(_tensor_arg("sort", z))


def sort_1d(z):
    """z of shape (B, F...): each sample's features flattened and sorted ascending, in z's shape (the paper's
    Sort-1D, which an STE can pass since the shape does not change).

        hard.sort_1d(ng.tensor([[3., 1., 2.]]))          # [[1., 2., 3.]]
    """
    return _C.hard_sort_1d(_tensor_arg("sort_1d", z))


def topk(z, k):
    """The first k entries of ``sort(z)`` for z of shape (B, R, C): shape (B, k), 1 <= k <= 2 R C (the paper's
    topk: the first k of the sorted rows then columns, so the smallest of the rows first, not the k largest
    values as ``torch.topk``).

        hard.topk(ng.tensor([[[3., 1.], [0., 2.]]]), 3)  # [[1., 3., 0.]]
    """
    return _C.hard_topk(_tensor_arg("topk", z), _int_arg("topk", k, "k"))


def kmeans(z, k=10, iters=20, seed=0, assignments=False):
    """Lloyd's k-means per sample over the points of z: z (B, N) holds N scalars per sample, z (B, N, D) N points
    of dimension D. The first centres come from k-means++ seeding driven by ``seed`` (deterministic, and the same
    draw for every sample, so a sample's centres do not depend on the rest of the batch); then ``iters`` rounds of
    assignment and update (an empty cluster keeps its centre). The centres
    come out in ascending lexicographic order: (B, k) or (B, k, D) in z's dtype; with ``assignments=True``, the
    int64 index (B, N) of each point's centre in that order instead. 1 <= k <= N; z must be finite.

        hard.kmeans(ng.tensor([[0., 0.1, 5., 5.2]]), k=2)   # [[0.05, 5.1]]
    """
    return _C.hard_kmeans(_tensor_arg("kmeans", z), _int_arg("kmeans", k, "k"), _int_arg("kmeans", iters, "iters"),
                          seed, bool(assignments))



def _value_of(fn, z, numpy=False, who="hard function"):
    """fn's value at z, computed without a graph: a Tensor, or a float64 tensor made from what fn returned (the op
    that takes it casts it to its own dtype). fn takes a Tensor (z detached) and returns a Tensor or an array-like;
    with numpy=True it takes a writable NumPy copy of z and returns an array (a user's function of arrays)."""
    if not callable(fn):
        raise TypeError(f"{who}: hard must be a callable, got {type(fn).__name__}")
    if not isinstance(z, Tensor):
        raise TypeError(f"{who}: z must be an nthgrad Tensor, got {type(z).__name__}")
    with no_grad():
        x = z.detach()
        h = fn(np.array(x) if numpy else x)
    if isinstance(h, Tensor):
        return h.detach()
    try:
        a = np.asarray(h)
    except Exception as e:  # noqa: BLE001 -- any failure to convert is the caller's type error
        raise TypeError(f"{who}: the hard function returned {type(h).__name__}, which is not a tensor or an "
                        f"array") from e
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{who}: the hard function returned an array of dtype {a.dtype}; expected numbers")
    return tensor(np.array(a, dtype=np.float64, order="C"))  # np.array keeps a 0-d result 0-d
