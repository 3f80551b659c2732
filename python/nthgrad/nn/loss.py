"""Losses as modules, in the shape of ``torch.nn``'s, over nnabla's
functional losses. Each takes ``reduction`` in {'none', 'mean', 'sum'}
('none': the per-element losses; 'mean': their mean, or for class losses
with weights/ignored targets the weighted mean, as torch; 'sum': their sum)
and returns a 0-d tensor unless 'none'.

    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(ng.zeros((4, 10)), ng.tensor([1, 0, 9, 3]))    # () = log(10)
"""
import numbers

import numpy as np

from .. import functional as F
from .._C import Tensor, DType
from .._tensor import tensor, where
from .linear import _check_int, _check_tensor, _check_same_dtype
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "HuberLoss",
           "SmoothL1Loss", "KLDivLoss"]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(owner, reduction, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"{owner}: reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}")
    return reduction


def _reduce(loss, reduction):
    """Mean, sum or nothing over every element of an unreduced loss."""
    if reduction == "mean":
        return F.mean(loss)
    if reduction == "sum":
        return F.sum(loss)
    return loss


def _check_pair(owner, input, target):
    """input and target: float tensors of equal shape and dtype."""
    _check_tensor(owner, input)
    _check_tensor(owner, target, "target")
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{owner}: input of shape {tuple(input.shape)} and target of shape {tuple(target.shape)} "
                         "must have equal shapes")
    if input.dtype != target.dtype:
        raise TypeError(f"{owner}: input is {input.dtype} but target is {target.dtype}")


def _optional_weight(owner, name, weight):
    if weight is None:
        return None
    if not isinstance(weight, Tensor) or weight.dtype not in (DType.float32, DType.float64):
        what = f"a tensor of {weight.dtype}" if isinstance(weight, Tensor) else type(weight).__name__
        raise TypeError(f"{owner}: {name} must be a float nthgrad Tensor or None, got {what}")
    return weight.detach()


def _check_elementwise_weight(owner, name, weight, input):
    """A weight that multiplies the per-element loss: of the input's dtype,
    broadcasting to the input's shape without enlarging it (torch's rule)."""
    if weight is None:
        return
    if weight.dtype != input.dtype:
        raise TypeError(f"{owner}: {name} is {weight.dtype} but the input is {input.dtype}; cast one of them")
    shape, w = tuple(input.shape), tuple(weight.shape)
    fits = len(w) <= len(shape) and all(a in (1, b) for a, b in zip(w[::-1], shape[::-1]))
    if not fits:
        raise ValueError(f"{owner}: {name} of shape {w} does not broadcast to the input's shape {shape}")


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = _check_reduction(type(self).__name__, reduction)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _ClassLoss(_Loss):
    """What CrossEntropyLoss and NLLLoss share: class weights, ignore_index,
    and the check and flattening of (N, C, d1, ...) input and (N, d1, ...)
    int64 targets (or unbatched (C,) and ())."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        name = type(self).__name__
        weight = _optional_weight(name, "weight", weight)
        if weight is not None and weight.ndim != 1:
            raise ValueError(f"{name}: weight must have shape (C,), got {tuple(weight.shape)}")
        self.register_buffer("weight", weight)
        self.ignore_index = _check_int(name, "ignore_index", ignore_index)

    def _classes(self, input, target):
        """Checks; returns (input as (N, C, ...), labels as an int64 NumPy
        array of shape (N, ...) with ignored ones at -1, the per-element
        weights w[label] (0 where ignored) as a NumPy array)."""
        owner = type(self).__name__
        _check_tensor(owner, input)
        if not isinstance(target, Tensor) or target.dtype != DType.int64:
            what = target.dtype if isinstance(target, Tensor) else type(target).__name__
            raise TypeError(f"{owner}: target must be an int64 tensor of class indices, got {what}")
        if input.ndim == 1 and target.ndim == 0:    # unbatched
            input, target = F.reshape(input, (1,) + tuple(input.shape)), F.reshape(target, (1,))
        shape, labels = tuple(input.shape), target.numpy()
        if input.ndim < 2 or labels.shape != shape[:1] + shape[2:]:
            raise ValueError(f"{owner}: input of shape {tuple(input.shape)} (N, C, d1, ...) needs target of shape "
                             f"(N, d1, ...), got {tuple(target.shape)}")
        classes = shape[1]
        if self.weight is not None:
            if tuple(self.weight.shape) != (classes,):
                raise ValueError(f"{owner}: weight of shape {tuple(self.weight.shape)} does not match the {classes} "
                                 f"classes of input shape {shape}")
            _check_same_dtype(owner, input, self.weight)
        ignored = labels == self.ignore_index
        bad = (~ignored) & ((labels < 0) | (labels >= classes))
        if bad.any():
            raise IndexError(f"{owner}: target value {labels[bad].flat[0]} is out of range [0, {classes}) "
                             f"(ignore_index={self.ignore_index})")
        labels = np.where(ignored, -1, labels)
        per_class = np.ones(classes) if self.weight is None else self.weight.numpy().astype(np.float64)
        weights = np.where(ignored, 0.0, per_class[np.where(ignored, 0, labels)])
        return input, labels, weights

    def _unbatched_as_torch(self, input, loss):
        """An unbatched (C,) input gives a 0-d loss also with reduction='none' (not (1,))."""
        return F.reshape(loss, ()) if input.ndim == 1 and self.reduction == "none" else loss

    def _weighted(self, loss, weights, like):
        """Applies the per-element weights and the reduction (torch's 'mean'
        divides by the sum of the weights of the non-ignored targets)."""
        if self.weight is not None:
            loss = F.mul2(loss, tensor(weights, dtype=like.dtype))
        if self.reduction == "none":
            return loss
        total = F.sum(loss)
        if self.reduction == "sum":
            return total
        denominator = weights.sum()
        return F.mul_scalar(total, 1.0 / denominator if denominator else float("nan"))  # 0/0 is nan, as torch

    def extra_repr(self):
        parts = [] if self.ignore_index == -100 else [f"ignore_index={self.ignore_index}"]
        if self.reduction != "mean":
            parts.append(f"reduction={self.reduction!r}")
        return ", ".join(parts)


class CrossEntropyLoss(_ClassLoss):
    """-log softmax(input)[target] per element (``torch.nn.CrossEntropyLoss``
    with class-index targets, over nnabla's ``F.softmax_cross_entropy`` along
    axis 1).

    Shapes: input logits (N, C) or (N, C, d1, ...) (or unbatched (C,)),
    target int64 in [0, C) of shape (N,) or (N, d1, ...) (or ()) -> () or,
    with reduction='none', (N, d1, ...). Targets equal to ``ignore_index``
    add no loss and no gradient ('mean' divides by the number of the others,
    or by the sum of their class ``weight``). ``label_smoothing`` mixes in
    the uniform distribution as torch. Class-probability (float) targets are
    not supported (TypeError).

        loss_fn = nn.CrossEntropyLoss(ignore_index=-1)
        loss = loss_fn(ng.zeros((3, 5)), ng.tensor([4, -1, 0]))   # () = log(5)
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, ignore_index, reduction)
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real) or \
                not 0 <= label_smoothing <= 1:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target):
        return self._unbatched_as_torch(input, self._forward(input, target))

    def _forward(self, input, target):
        x, labels, weights = self._classes(input, target)
        label_shape = (labels.shape[0], 1) + labels.shape[1:]
        loss = F.reshape(F.softmax_cross_entropy(x, tensor(labels.reshape(label_shape)), 1), labels.shape)
        loss = self._weighted(loss, weights, x)
        if self.label_smoothing == 0:
            return loss
        # torch: (1 - e) nll + e / C * sum_c w_c (-log p_c), reduced as the nll
        smooth = F.mul_scalar(F.log_softmax(x, 1), -1.0)
        if self.weight is not None:
            smooth = F.mul2(smooth, F.reshape(self.weight, (1, -1) + (1,) * (x.ndim - 2)))
        smooth = F.mul2(F.sum(smooth, 1), tensor(labels != -1, dtype=x.dtype))
        if self.reduction != "none":
            total = F.sum(smooth)
            if self.reduction == "mean":
                denominator = weights.sum()
                smooth = F.mul_scalar(total, 1.0 / denominator if denominator else float("nan"))
            else:
                smooth = total
        e = self.label_smoothing
        return F.add2(F.mul_scalar(loss, 1 - e), F.mul_scalar(smooth, e / x.shape[1]))

    def extra_repr(self):
        s = super().extra_repr()
        if self.label_smoothing == 0:
            return s
        return ", ".join(filter(None, [s, f"label_smoothing={self.label_smoothing}"]))


class NLLLoss(_ClassLoss):
    """-input[target] per element for log-probabilities (``torch.nn.NLLLoss``;
    the entry is taken with ``F.gather``). Pair with ``nn.LogSoftmax(dim=1)``.

    Shapes: input (N, C) or (N, C, d1, ...) (or (C,)), target int64 (N,) or
    (N, d1, ...) (or ()) -> () or, with reduction='none', (N, d1, ...).
    ``weight`` and ``ignore_index`` as CrossEntropyLoss.

        loss_fn = nn.NLLLoss()
        loss = loss_fn(ng.full((2, 3), -1.0), ng.tensor([0, 2]))   # () = 1.0
    """

    def forward(self, input, target):
        return self._unbatched_as_torch(input, self._forward(input, target))

    def _forward(self, input, target):
        x, labels, weights = self._classes(input, target)
        # classes last, one row per element: gather the label's entry of each row
        axes = [0] + list(range(2, x.ndim)) + [1]
        rows = F.reshape(F.transpose(x, axes), (-1, x.shape[1]))
        picked = F.gather(rows, tensor(np.maximum(labels, 0).reshape(-1, 1)), 1, 1)
        loss = F.mul2(F.reshape(picked, labels.shape), tensor(np.where(labels == -1, 0.0, -1.0), dtype=x.dtype))
        return self._weighted(loss, weights, x)


class MSELoss(_Loss):
    """(input - target)^2 per element (``torch.nn.MSELoss``, over nnabla's
    ``F.squared_error``). Shapes must be equal (torch broadcasts with a
    warning; here a ValueError).

    Shapes: input (*), target (*) -> () or, with reduction='none', (*).

        loss = nn.MSELoss()(ng.zeros((2, 3)), ng.ones((2, 3)))   # () = 1.0
    """

    def forward(self, input, target):
        _check_pair(type(self).__name__, input, target)
        return _reduce(F.squared_error(input, target), self.reduction)


class L1Loss(_Loss):
    """|input - target| per element (``torch.nn.L1Loss``, over nnabla's
    ``F.absolute_error``). At a tie input == target the input's gradient is
    -1 (nnabla), not torch's 0.

    Shapes: input (*), target (*) -> () or, with reduction='none', (*).

        loss = nn.L1Loss()(ng.zeros((2, 3)), ng.ones((2, 3)))    # () = 1.0
    """

    def forward(self, input, target):
        _check_pair(type(self).__name__, input, target)
        return _reduce(F.absolute_error(input, target), self.reduction)


class BCELoss(_Loss):
    """-w [t log x + (1 - t) log(1 - x)] per element for probabilities x
    (``torch.nn.BCELoss``, over nnabla's ``F.binary_cross_entropy``, whose
    logs are clamped at the dtype's smallest normal number where torch clamps
    them at -100: the two differ only at x = 0 or 1 exactly). ``weight``
    has the input's dtype and broadcasts to its shape (TypeError /
    ValueError otherwise, as torch refuses a weight that would enlarge it).

    Shapes: input (*) in [0, 1] (else ValueError, as torch), target (*) -> () or,
    with reduction='none', (*).

        loss = nn.BCELoss()(ng.full((4,), 0.5), ng.ones((4,)))    # () = log(2)
    """

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _optional_weight("BCELoss", "weight", weight))

    def forward(self, input, target):
        _check_pair("BCELoss", input, target)
        _check_elementwise_weight("BCELoss", "weight", self.weight, input)
        values = input.numpy()
        if values.size and not ((values >= 0) & (values <= 1)).all():  # also catches nan, as torch
            bad = values[~((values >= 0) & (values <= 1))].flat[0]
            raise ValueError(f"BCELoss: input must hold probabilities in [0, 1], got {bad} (input of shape "
                             f"{tuple(input.shape)}; for logits use BCEWithLogitsLoss)")
        loss = F.binary_cross_entropy(input, target)
        if self.weight is not None:
            loss = F.mul2(loss, self.weight)
        return _reduce(loss, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """-w [p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] per element for
    logits x, stable for any x (``torch.nn.BCEWithLogitsLoss``, over nnabla's
    ``F.sigmoid_cross_entropy``; ``pos_weight`` p adds (p - 1) t
    (-log_sigmoid(x))). ``weight`` and ``pos_weight`` (e.g. (C,) for input
    (N, C)) have the input's dtype and broadcast to its shape (TypeError /
    ValueError otherwise).

    Shapes: input (*), target (*) in [0, 1] -> () or, with reduction='none', (*).

        loss = nn.BCEWithLogitsLoss()(ng.zeros((4,)), ng.ones((4,)))   # () = log(2)
    """

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", _optional_weight("BCEWithLogitsLoss", "weight", weight))
        self.register_buffer("pos_weight", _optional_weight("BCEWithLogitsLoss", "pos_weight", pos_weight))

    def forward(self, input, target):
        _check_pair("BCEWithLogitsLoss", input, target)
        _check_elementwise_weight("BCEWithLogitsLoss", "weight", self.weight, input)
        _check_elementwise_weight("BCEWithLogitsLoss", "pos_weight", self.pos_weight, input)
        loss = F.sigmoid_cross_entropy(input, target)
        if self.pos_weight is not None:
            extra = F.mul2(F.mul2(F.add_scalar(self.pos_weight, -1.0), target), F.log_sigmoid(input))
            loss = F.sub2(loss, extra)
        if self.weight is not None:
            loss = F.mul2(loss, self.weight)
        return _reduce(loss, self.reduction)


class HuberLoss(_Loss):
    """0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta), d = input - target
    (``torch.nn.HuberLoss``). nnabla's ``F.huber_loss`` is twice that: the
    module returns 0.5 * F.huber_loss(input, target, delta).

    Shapes: input (*), target (*) -> () or, with reduction='none', (*).

        loss = nn.HuberLoss()(ng.zeros((2,)), ng.full((2,), 3.0))   # () = 2.5
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not delta > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta!r}")
        self.delta = float(delta)

    def forward(self, input, target):
        _check_pair("HuberLoss", input, target)
        return _reduce(F.mul_scalar(F.huber_loss(input, target, self.delta), 0.5), self.reduction)

    def extra_repr(self):
        return ", ".join(filter(None, [super().extra_repr(), f"delta={self.delta}"]))


class SmoothL1Loss(_Loss):
    """0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta, d = input - target
    (``torch.nn.SmoothL1Loss``): nnabla's ``F.huber_loss(input, target, beta)
    / (2 beta)``, and ``F.absolute_error`` for beta = 0 (whose gradient at a
    tie input == target is -1, nnabla's, not torch's 0: see L1Loss).

    Shapes: input (*), target (*) -> () or, with reduction='none', (*).

        loss = nn.SmoothL1Loss()(ng.zeros((2,)), ng.full((2,), 3.0))   # () = 2.5
    """

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta!r}")
        self.beta = float(beta)

    def forward(self, input, target):
        _check_pair("SmoothL1Loss", input, target)
        if self.beta == 0:
            loss = F.absolute_error(input, target)
        else:
            loss = F.mul_scalar(F.huber_loss(input, target, self.beta), 0.5 / self.beta)
        return _reduce(loss, self.reduction)

    def extra_repr(self):
        return ", ".join(filter(None, [super().extra_repr(), f"beta={self.beta}"]))


class KLDivLoss(_Loss):
    """target (log target - input) per element, input being log-probabilities
    (``torch.nn.KLDivLoss``; 0 where target is 0). ``log_target=True`` takes
    the target as log-probabilities: exp(target) (target - input).
    ``reduction='batchmean'`` divides the sum by the batch size N (the true
    KL divergence; torch's default 'mean' divides by the number of elements).
    Written with elementwise ops: nnabla's ``F.kl_multinomial`` takes
    probabilities and shifts them by 1e-8.

    Shapes: input (N, *), target (N, *) -> () or, with reduction='none', (N, *).

        loss_fn = nn.KLDivLoss(reduction="batchmean")
        loss = loss_fn(ng.full((2, 4), -1.3862944), ng.full((2, 4), 0.25))   # () ~ 0
    """

    def __init__(self, reduction="mean", log_target=False):
        super().__init__()
        self.reduction = _check_reduction("KLDivLoss", reduction, _REDUCTIONS + ("batchmean",))
        self.log_target = bool(log_target)

    def forward(self, input, target):
        _check_pair("KLDivLoss", input, target)
        if self.log_target:
            loss = F.mul2(F.exp(target), F.sub2(target, input))
        else:
            positive = F.greater_scalar(target, 0.0)
            safe = where(positive, target, 1.0)   # log(1) = 0 where target is 0: no nan, no gradient
            loss = where(positive, F.mul2(target, F.sub2(F.log(safe), input)), 0.0)
        if self.reduction == "batchmean":
            return F.mul_scalar(F.sum(loss), 1.0 / input.shape[0]) if input.ndim else F.sum(loss)
        return _reduce(loss, self.reduction)
