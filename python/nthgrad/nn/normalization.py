"""Normalization layers: BatchNorm1d/2d/3d over ``F.batch_normalization``,
LayerNorm, GroupNorm, InstanceNorm1d/2d/3d over nnabla's layer, group and
instance normalization. Parameters ``weight`` (gamma) and ``bias`` (beta)
and buffers have torch's names and shapes, so torch state dicts load.

    bn = nn.BatchNorm2d(8)
    y = bn(ng.ones((32, 8, 4, 4)))     # (32, 8, 4, 4); running_mean/var updated
"""
import math
import numbers

from .. import functional as F
from .._C import DType
from ..autograd import no_grad
from .._tensor import tensor, ones, zeros
from .linear import _float_dtype, _check_int, _check_tensor, _check_same_dtype
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm1d",
           "InstanceNorm2d", "InstanceNorm3d"]


def _check_eps(owner, eps):
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{owner}: eps must be a number >= 0, got {eps!r}")
    return float(eps)


def _check_momentum(owner, momentum):
    if momentum is not None and (isinstance(momentum, bool) or not isinstance(momentum, numbers.Real)
                                 or not 0 <= momentum <= 1):
        raise ValueError(f"{owner}: momentum must be in [0, 1] or None (cumulative average), got {momentum!r}")
    return momentum


def _channel_view(t, ndim):
    """t of shape (C,) as (1, C, 1, ...) of rank ndim (a view: in-place
    updates of the view reach t), or None."""
    return None if t is None else F.reshape(t, (1, t.shape[0]) + (1,) * (ndim - 2))


def _affine_parameters(module, shape, affine, bias, dtype):
    """Registers ``weight`` (ones) and ``bias`` (zeros) of ``shape``, or
    None: no weight without ``affine``, no bias without ``bias`` (torch's
    keyword-only ``bias`` of its normalization layers)."""
    module.register_parameter("weight", Parameter(ones(shape, dtype=dtype)) if affine else None)
    module.register_parameter("bias", Parameter(zeros(shape, dtype=dtype)) if affine and bias else None)


class _BatchNorm(Module):
    ranks = None   # the input ranks accepted: (N, C) and (N, C, L) for 1d, ...

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=DType.float32, *, bias=True):
        super().__init__()
        name = type(self).__name__
        self.num_features = _check_int(name, "num_features", num_features, 1)
        self.eps = _check_eps(name, eps)
        self.momentum = _check_momentum(name, momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dtype = _float_dtype(name, dtype)
        c = self.num_features
        _affine_parameters(self, (c,), self.affine, bias, dtype)
        if self.track_running_stats:
            self.register_buffer("running_mean", zeros((c,), dtype=dtype))
            self.register_buffer("running_var", ones((c,), dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=DType.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def _check_input(self, input):
        _check_tensor(self, input)
        shape = tuple(input.shape)
        if input.ndim not in self.ranks or shape[1] != self.num_features:
            expected = " or ".join(self._shape_names[r] for r in self.ranks)
            raise ValueError(f"{self}: expected input {expected} with C = {self.num_features}, got shape {shape}")
        reference = self.weight if self.affine else self.running_mean
        if reference is not None:
            _check_same_dtype(self, input, reference)

    def forward(self, input):
        self._check_input(input)
        shape = tuple(input.shape)
        use_batch_stats = self.training or self.running_mean is None
        updates_running = self.training and self.running_mean is not None
        if self.training and input.numel() // self.num_features == 1 and self._local_statistics:
            # an empty batch passes, as torch
            raise ValueError(f"{self}: training needs more than 1 value per channel, got input shape {shape}")
        decay_rate = 0.0
        if updates_running:
            batches = int(self.num_batches_tracked.item()) + 1
            decay_rate = 1.0 - (self.momentum if self.momentum is not None else 1.0 / batches)
        n = input.ndim
        # the running statistics (when kept) are updated in training and used in eval
        mean, var = _channel_view(self.running_mean, n), _channel_view(self.running_var, n)
        y = self._normalize(input, _channel_view(self.bias, n), _channel_view(self.weight, n), mean, var,
                            decay_rate, use_batch_stats)
        if updates_running:  # in place, as the running statistics: a state_dict() taken earlier sees it
            with no_grad():
                self.num_batches_tracked.copy_(tensor(batches, dtype=DType.int64))
        return y

    _local_statistics = True  # the batch statistics are this process's (SyncBatchNorm: all ranks')

    def _normalize(self, input, beta, gamma, mean, var, decay_rate, use_batch_stats):
        return F.batch_normalization(input, beta, gamma, mean, var, [1], decay_rate, self.eps, use_batch_stats)

    _shape_names = {2: "(N, C)", 3: "(N, C, L)", 4: "(N, C, H, W)", 5: "(N, C, D, H, W)"}

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


_BATCH_NORM_DOC = """Batch normalization as ``torch.nn.BatchNorm{n}d``, over ``F.batch_normalization``.

    Shapes: input {shapes} -> the same shape; statistics per channel C over every other axis.
    Parameters ``weight`` (gamma, ones) and ``bias`` (beta, zeros) of shape (C,) when ``affine``
    (no ``bias`` with the keyword-only ``bias=False``, as torch);
    buffers ``running_mean`` (zeros), ``running_var`` (ones) of shape (C,) and
    ``num_batches_tracked`` (int64, shape ()) when ``track_running_stats``.

    Training: batch statistics; the op updates the running statistics in place,
    r = (1 - momentum) r + momentum stat, with the unbiased batch variance for
    ``running_var`` (nnabla's decay_rate is 1 - momentum; momentum=None is the
    cumulative average, as torch). Eval: the running statistics (batch
    statistics if ``track_running_stats=False``).

        bn = nn.BatchNorm{n}d(3)
        y = bn(ng.ones({example}))     # {example}
        bn.eval()                           # now uses bn.running_mean / bn.running_var
    """


def _make_batch_norm(n, ranks, example):
    shapes = " or ".join(_BatchNorm._shape_names[r] for r in ranks)
    doc = _BATCH_NORM_DOC.format(n=n, shapes=shapes, example=example)
    return type(f"BatchNorm{n}d", (_BatchNorm,), {"ranks": ranks, "__doc__": doc, "__module__": __name__})


BatchNorm1d = _make_batch_norm(1, (2, 3), (4, 3, 5))
BatchNorm2d = _make_batch_norm(2, (4,), (4, 3, 5, 5))
BatchNorm3d = _make_batch_norm(3, (5,), (4, 3, 5, 5, 5))


class SyncBatchNorm(_BatchNorm):
    """Batch normalization whose training statistics are those of every
    rank's batch together (``torch.nn.SyncBatchNorm``), over
    ``nthgrad.distributed.sync_batch_normalization``: inputs (N, C, ...) of
    rank 2 to 5, parameters and buffers as BatchNorm. ``comm``: an
    ``nthgrad.distributed.Communicator`` or mpi4py communicator (None: MPI's
    world, made at the first training forward). In eval mode it is
    BatchNorm with the running statistics, and nothing is communicated.
    Every rank must run the forward (and backward) passes alike.
    Shapes: (N, C, ...) -> the same shape (N may differ between ranks).

        bn = nn.SyncBatchNorm(8, comm=comm)
        y = bn(ng.ones((16, 8, 4, 4)))                             # this rank's 16 samples
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net, comm)   # every BatchNorm*d replaced
    """
    ranks = (2, 3, 4, 5)
    _local_statistics = False  # one sample on this rank is fine: the statistics are over every rank's

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=DType.float32, comm=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias=bias)
        object.__setattr__(self, "comm", comm)

    def _communicator(self):
        from .. import distributed
        if not isinstance(self.comm, distributed.Communicator):
            object.__setattr__(self, "comm", distributed.Communicator(self.comm))
        return self.comm

    def _check_input(self, input):
        if not (self.training or self.running_mean is None):  # eval: BatchNorm, nothing communicated
            return super()._check_input(input)
        # the forward communicates: a bad input here must fail on every rank
        from ..distributed import _guarded
        check = super()._check_input
        _guarded(self._communicator(), "sync_batch_normalization", lambda: check(input))

    def _normalize(self, input, beta, gamma, mean, var, decay_rate, use_batch_stats):
        if not use_batch_stats:
            return super()._normalize(input, beta, gamma, mean, var, decay_rate, use_batch_stats)
        from .. import distributed
        return distributed.sync_batch_normalization(input, beta, gamma, mean, var, self._communicator(), "world",
                                                    [1], decay_rate, self.eps, True)

    @classmethod
    def convert_sync_batchnorm(cls, module, comm=None):
        """``module`` with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm
        holding the same parameters and buffers (the module itself when it is one)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            reference = module.weight if module.affine else module.running_mean
            dtype = reference.dtype if reference is not None else DType.float32
            sync = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                       dtype, comm, bias=module.bias is not None)
            for name in ("weight", "bias"):
                if getattr(module, name, None) is not None:
                    sync.register_parameter(name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                sync.register_buffer(name, getattr(module, name))
            sync.train(module.training)
            return sync
        for name, child in list(module.named_children()):
            converted = cls.convert_sync_batchnorm(child, comm)
            if converted is not child:
                setattr(module, name, converted)
        return module


class LayerNorm(Module):
    """Layer normalization as ``torch.nn.LayerNorm``, over ``F.layer_normalization``.

    Shapes: input (*, *normalized_shape) -> the same shape; mean and biased
    variance over the trailing ``normalized_shape`` axes. Parameters
    ``weight`` (ones) and ``bias`` (zeros) of shape ``normalized_shape`` when
    ``elementwise_affine`` (``bias=False`` drops the bias, as torch).

        ln = nn.LayerNorm(16)
        y = ln(ng.ones((4, 10, 16)))     # (4, 10, 16)
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=DType.float32):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
            normalized_shape = (normalized_shape,)
        if not isinstance(normalized_shape, (tuple, list)) or not normalized_shape:
            raise TypeError(f"LayerNorm: normalized_shape must be an int or a non-empty tuple of ints, got "
                            f"{normalized_shape!r}")
        self.normalized_shape = tuple(_check_int("LayerNorm", "normalized_shape", s, 1) for s in normalized_shape)
        self.eps = _check_eps("LayerNorm", eps)
        self.elementwise_affine = bool(elementwise_affine)
        dtype = _float_dtype("LayerNorm", dtype)
        _affine_parameters(self, self.normalized_shape, self.elementwise_affine, bias, dtype)

    def forward(self, input):
        _check_tensor(self, input)
        shape = tuple(input.shape)
        k = len(self.normalized_shape)
        if shape[len(shape) - k:] != self.normalized_shape or len(shape) < k:
            raise ValueError(f"{self}: expected input (*, {', '.join(map(str, self.normalized_shape))}), got shape "
                             f"{shape}")
        if self.weight is not None:
            _check_same_dtype(self, input, self.weight)
        lead = len(shape) - k
        # nnabla's parameters have x's rank, with 1 on the batch (leading) axes
        as_param = lambda p: None if p is None else F.reshape(p, (1,) * lead + self.normalized_shape)  # noqa: E731
        return F.layer_normalization(input, as_param(self.bias), as_param(self.weight), list(range(lead)), self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalization as ``torch.nn.GroupNorm``, over ``F.group_normalization``.

    Shapes: input (N, C, *) -> the same shape; statistics per sample over
    each group of C / num_groups channels and the remaining axes. Parameters
    ``weight`` (ones) and ``bias`` (zeros) of shape (C,) when ``affine``
    (keyword-only ``bias=False`` drops the bias, as torch).

        gn = nn.GroupNorm(2, 8)
        y = gn(ng.ones((4, 8, 5, 5)))     # (4, 8, 5, 5)
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=DType.float32, *, bias=True):
        super().__init__()
        self.num_groups = _check_int("GroupNorm", "num_groups", num_groups, 1)
        self.num_channels = _check_int("GroupNorm", "num_channels", num_channels, 1)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({self.num_channels}) must be divisible by num_groups "
                             f"({self.num_groups})")
        self.eps = _check_eps("GroupNorm", eps)
        self.affine = bool(affine)
        _affine_parameters(self, (self.num_channels,), self.affine, bias, _float_dtype("GroupNorm", dtype))

    def forward(self, input):
        _check_tensor(self, input)
        shape = tuple(input.shape)
        if input.ndim < 2 or shape[1] != self.num_channels:
            raise ValueError(f"{self}: expected input (N, {self.num_channels}, *), got shape {shape}")
        if self.weight is not None:
            _check_same_dtype(self, input, self.weight)
        n = input.ndim
        return F.group_normalization(input, _channel_view(self.bias, n), _channel_view(self.weight, n),
                                     self.num_groups, 1, 0, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _InstanceNorm(Module):
    nd = None

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 dtype=DType.float32, *, bias=True):
        super().__init__()
        name = type(self).__name__
        self.num_features = _check_int(name, "num_features", num_features, 1)
        self.eps = _check_eps(name, eps)
        self.momentum = _check_momentum(name, momentum)  # unused (no running statistics), checked as torch's
        self.affine = bool(affine)
        if track_running_stats:
            raise NotImplementedError(f"{name}: track_running_stats=True is not supported (the functional "
                                      "instance_normalization keeps no running statistics)")
        self.track_running_stats = False
        _affine_parameters(self, (self.num_features,), self.affine, bias, _float_dtype(name, dtype))

    def forward(self, input):
        _check_tensor(self, input)
        shape = tuple(input.shape)
        n = self.nd
        if input.ndim not in (n + 1, n + 2) or shape[-n - 1] != self.num_features:
            raise ValueError(f"{self}: expected input (N, {self.num_features}, {n} spatial axes) or unbatched "
                             f"({self.num_features}, {n} spatial axes), got shape {shape}")
        if math.prod(shape[-n:]) <= 1:  # the normalized output would be 0 whatever the input (torch refuses it)
            raise ValueError(f"{self}: expected more than 1 spatial element per channel, got input shape {shape}")
        if self.weight is not None:
            _check_same_dtype(self, input, self.weight)
        x = input if input.ndim == n + 2 else F.reshape(input, (1,) + shape)
        y = F.instance_normalization(x, _channel_view(self.bias, n + 2), _channel_view(self.weight, n + 2), 1, 0,
                                     self.eps)
        return y if input.ndim == n + 2 else F.reshape(y, shape)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


_INSTANCE_NORM_DOC = """Instance normalization as ``torch.nn.InstanceNorm{n}d``, over ``F.instance_normalization``.

    Shapes: input (N, C, {spatial}) or unbatched (C, {spatial}) -> the same shape;
    statistics per (sample, channel) over the spatial axes, which must hold more than
    one element (ValueError, as torch). Parameters ``weight``
    and ``bias`` of shape (C,) when ``affine`` (default False, as torch; keyword-only
    ``bias=False`` drops the bias);
    ``track_running_stats=True`` is not supported (NotImplementedError).

        inorm = nn.InstanceNorm{n}d(3)
        y = inorm(ng.ones({example}))     # {example}
    """


def _make_instance_norm(n, spatial, example):
    doc = _INSTANCE_NORM_DOC.format(n=n, spatial=spatial, example=example)
    return type(f"InstanceNorm{n}d", (_InstanceNorm,), {"nd": n, "__doc__": doc, "__module__": __name__})


InstanceNorm1d = _make_instance_norm(1, "L", (2, 3, 5))
InstanceNorm2d = _make_instance_norm(2, "H, W", (2, 3, 5, 5))
InstanceNorm3d = _make_instance_norm(3, "D, H, W", (2, 3, 5, 5, 5))
