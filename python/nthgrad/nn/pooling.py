"""Pooling layers over nnabla's ``F.max_pooling``, ``F.average_pooling``,
``F.sum_pooling`` and ``F.global_average_pooling``.

The ops pool 2 or 3 trailing axes; the 1d layers pool (N, C, L) as
(N, C, 1, L) with a (1, k) window. Unbatched input (C, *spatial) works as
in torch. Not supported (NotImplementedError): ``ceil_mode=True``,
``dilation`` > 1, ``return_indices``, ``divisor_override``.

    pool = nn.MaxPool2d(2)
    y = pool(ng.ones((32, 8, 8, 8)))     # (32, 8, 4, 4)
"""
from .. import functional as F
from .linear import _ntuple, _check_tensor
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "SumPool1d", "SumPool2d",
           "SumPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "GlobalAvgPool"]

_SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}


def _refuse(owner, name, value, default):
    if value != default:
        raise NotImplementedError(f"{owner}: {name}={value!r} is not supported by nnabla's pooling ops")


def _check_spatial_input(owner, x, nd):
    """Checks for (N, C, *spatial) or unbatched (C, *spatial) with nd spatial axes."""
    _check_tensor(owner, x)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{owner}: expected input (N, C, {_SPATIAL_NAMES[nd]}) or (C, {_SPATIAL_NAMES[nd]}), got "
                         f"shape {tuple(x.shape)}")


class _PoolNd(Module):
    """Windowed pooling: kernel, stride (None -> kernel) and padding as int
    or tuple; forward checks the input and calls ``_pool`` on the windows."""

    nd = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        n = self.nd
        self.kernel_size = _ntuple(name, "kernel_size", kernel_size, n, 1)
        self.stride = self.kernel_size if stride is None else _ntuple(name, "stride", stride, n, 1)
        self.padding = _ntuple(name, "padding", padding, n, 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):  # torch's rule
            raise ValueError(f"{name}: padding {self.padding} must be at most half of kernel_size {self.kernel_size}")

    def forward(self, input):
        _check_spatial_input(self, input, self.nd)
        shape = tuple(input.shape)
        for axis, (size, k, p) in enumerate(zip(shape[-self.nd:], self.kernel_size, self.padding)):
            if size + 2 * p < k:
                raise ValueError(f"{self}: input of shape {shape} is too small: spatial axis {axis} of size {size} "
                                 f"(padded {size + 2 * p}) is smaller than the kernel {k}")
        if self.nd > 1:
            return self._pool(input, list(self.kernel_size), list(self.stride), list(self.padding))
        # 1d: pool (..., L) as (..., 1, L) with a (1, k) window
        y = self._pool(F.reshape(input, shape[:-1] + (1, shape[-1])), [1, self.kernel_size[0]],
                       [1, self.stride[0]], [0, self.padding[0]])
        return F.reshape(y, shape[:-1] + (y.shape[-1],))

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _MaxPoolNd(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        name = type(self).__name__
        _refuse(name, "dilation", _ntuple(name, "dilation", dilation, self.nd, 1), (1,) * self.nd)
        _refuse(name, "return_indices", return_indices, False)
        _refuse(name, "ceil_mode", ceil_mode, False)
        super().__init__(kernel_size, stride, padding)

    def _pool(self, x, kernel, stride, pad):
        return F.max_pooling(x, kernel, stride, True, pad)


class _AvgPoolNd(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        name = type(self).__name__
        _refuse(name, "ceil_mode", ceil_mode, False)
        _refuse(name, "divisor_override", divisor_override, None)
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = bool(count_include_pad)

    def _pool(self, x, kernel, stride, pad):
        return F.average_pooling(x, kernel, stride, True, pad, False, self.count_include_pad)

    def extra_repr(self):
        return super().extra_repr() + ("" if self.count_include_pad else ", count_include_pad=False")


class _SumPoolNd(_PoolNd):
    def _pool(self, x, kernel, stride, pad):
        return F.sum_pooling(x, kernel, stride, True, pad)


_POOL_DOC = """{what} over {n}-d windows{torch}, over ``F.{op}``.

    Shapes: input (N, C, {spatial}) or unbatched (C, {spatial}) -> (N, C, {spatial}) of sizes
    L' = (L + 2 padding - kernel_size) // stride + 1 (stride None -> kernel_size; padding at most
    kernel_size / 2, {pad_note}).{extra}

        pool = nn.{name}(2)
        y = pool(ng.ones({example}))     # {example_out}
    """


def _make(n, base, name, what, op, torch, pad_note, extra=""):
    doc = _POOL_DOC.format(what=what, n=n, torch=torch, op=op, spatial=_SPATIAL_NAMES[n], pad_note=pad_note,
                           extra=extra, name=name, example=(1, 3) + (4,) * n, example_out=(1, 3) + (2,) * n)
    return type(name, (base,), {"nd": n, "__doc__": doc, "__module__": __name__})


MaxPool1d, MaxPool2d, MaxPool3d = (
    _make(n, _MaxPoolNd, f"MaxPool{n}d", "Maximum", "max_pooling", f" as ``torch.nn.MaxPool{n}d``",
          "padding never wins",
          "\n    dilation, return_indices and ceil_mode=True are not supported (NotImplementedError).")
    for n in (1, 2, 3))
AvgPool1d, AvgPool2d, AvgPool3d = (
    _make(n, _AvgPoolNd, f"AvgPool{n}d", "Mean", "average_pooling", f" as ``torch.nn.AvgPool{n}d``",
          "padding counts as zeros in the divisor when count_include_pad (nnabla's including_pad)",
          "\n    ceil_mode=True and divisor_override are not supported (NotImplementedError).")
    for n in (1, 2, 3))
SumPool1d, SumPool2d, SumPool3d = (
    _make(n, _SumPoolNd, f"SumPool{n}d", "Sum", "sum_pooling", " (nnabla's sum_pooling; torch has no such layer)",
          "padding adds zeros")
    for n in (1, 2, 3))


class _AdaptiveAvgPoolNd(Module):
    nd = None

    def __init__(self, output_size):
        super().__init__()
        name = type(self).__name__
        if output_size is None or (isinstance(output_size, (tuple, list)) and None in output_size):
            raise NotImplementedError(f"{name}: output_size None (keep that axis) is not supported")
        self.output_size = _ntuple(name, "output_size", output_size, self.nd, 1)

    def forward(self, input):
        _check_spatial_input(self, input, self.nd)
        shape = tuple(input.shape)
        spatial = shape[-self.nd:]
        if all(o == 1 for o in self.output_size):
            return F.mean(input, list(range(input.ndim - self.nd, input.ndim)), True)
        if any(s % o for s, o in zip(spatial, self.output_size)):
            raise NotImplementedError(f"{self}: input of shape {shape}: only output sizes that divide the input "
                                      f"sizes are supported (equal windows)")
        kernel = tuple(s // o for s, o in zip(spatial, self.output_size))
        if self.nd == 1:
            y = F.average_pooling(F.reshape(input, shape[:-1] + (1, shape[-1])), [1, kernel[0]], [1, kernel[0]])
            return F.reshape(y, shape[:-1] + self.output_size)
        return F.average_pooling(input, list(kernel), list(kernel))

    def extra_repr(self):
        return f"output_size={self.output_size if self.nd > 1 else self.output_size[0]}"


_ADAPTIVE_DOC = """Adaptive mean pooling as ``torch.nn.AdaptiveAvgPool{n}d``, for output sizes that divide
    the input sizes (equal windows: ``F.average_pooling`` with kernel = stride = L / output_size)
    and output size 1 (global pooling: ``F.mean`` over the spatial axes, keepdims). Other sizes
    raise NotImplementedError.

    Shapes: input (N, C, {spatial}) or unbatched (C, {spatial}) -> (N, C, *output_size).

        pool = nn.AdaptiveAvgPool{n}d(1)
        y = pool(ng.ones({example}))     # {example_out}
    """

AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d = (
    type(f"AdaptiveAvgPool{n}d", (_AdaptiveAvgPoolNd,),
         {"nd": n, "__module__": __name__,
          "__doc__": _ADAPTIVE_DOC.format(n=n, spatial=_SPATIAL_NAMES[n], example=(2, 3) + (4,) * n,
                                          example_out=(2, 3) + (1,) * n)})
    for n in (1, 2, 3))


class GlobalAvgPool(Module):
    """nnabla's ``global_average_pooling``: the mean over every axis after
    the channel axis (no torch namesake; torch writes AdaptiveAvgPool2d(1)).

    Shapes: input (N, C, *) with at least one axis after C -> (N, C, 1, 1),
    whatever the number of spatial axes (the op's shape).

        pool = nn.GlobalAvgPool()
        y = pool(ng.ones((2, 3, 4, 4)))     # (2, 3, 1, 1)
    """

    def forward(self, input):
        _check_tensor("GlobalAvgPool()", input)
        if input.ndim < 3:
            raise ValueError(f"GlobalAvgPool(): expected input (N, C, *spatial), got shape {tuple(input.shape)}")
        return F.global_average_pooling(input)
