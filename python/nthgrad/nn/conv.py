"""Convolution layers over ``F.convolution`` / ``F.deconvolution`` and their
depthwise forms over ``F.depthwise_convolution`` / ``F.depthwise_deconvolution``.

Weight layouts are torch's, which nnabla shares: Conv (out, in/groups, *k),
ConvTranspose (in, out/groups, *k). Unbatched input (C, *spatial) works
as in torch.

    conv = nn.Conv2d(1, 8, 3, padding=1)
    y = conv(ng.ones((32, 1, 8, 8)))      # (32, 8, 8, 8)
"""
import math

from .. import functional as F
from .._C import DType
from .linear import (_float_dtype, _uniform_parameter, _fan_in_bound, _check_int, _ntuple, _check_tensor,
                     _check_same_dtype)
from .module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "DepthwiseConv1d", "DepthwiseConv2d", "DepthwiseConv3d", "DepthwiseConvTranspose1d",
           "DepthwiseConvTranspose2d", "DepthwiseConvTranspose3d"]

_SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}


class _ConvBase(Module):
    """What every convolution layer shares: int-or-tuple arguments, the
    weight and bias, the input check and the repr."""

    nd = None            # number of spatial axes
    transposed = False

    def _setup(self, in_channels, out_channels, kernel_size, stride, padding, dilation, bias, dtype,
               output_padding=0, padding_mode="zeros"):
        name = type(self).__name__
        n = self.nd
        self.in_channels = _check_int(name, "in_channels", in_channels, 1)
        self.out_channels = _check_int(name, "out_channels", out_channels, 1)
        self.kernel_size = _ntuple(name, "kernel_size", kernel_size, n, 1)
        self.stride = _ntuple(name, "stride", stride, n, 1)
        self.dilation = _ntuple(name, "dilation", dilation, n, 1)
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode={padding_mode!r} is not supported (only 'zeros')")
        # self.padding keeps 'same'/'valid' as given (torch's attribute and repr);
        # self._pad holds the numbers the op gets
        numeric = self._string_padding(name, padding) if isinstance(padding, str) else padding
        self._pad = _ntuple(name, "padding", numeric, n, 0)
        self.padding = padding if isinstance(padding, str) else self._pad
        self.output_padding = _ntuple(name, "output_padding", output_padding, n, 0)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):  # torch's rule: otherwise the extra row is not reachable
                raise ValueError(f"{name}: output_padding {self.output_padding} must be smaller than stride "
                                 f"{self.stride} or dilation {self.dilation}")
        self._init_dtype = _float_dtype(name, dtype)  # for _make_parameters; .dtype follows the weight

    def _string_padding(self, name, padding):
        """'valid' is no padding; 'same' keeps the size at stride 1 when the
        dilated kernel is odd (torch also pads asymmetrically: not here)."""
        if padding == "valid":
            return 0
        if padding != "same" or self.transposed:
            raise ValueError(f"{name}: padding must be an int, a tuple or 'valid'/'same' (not for transposed "
                             f"convolutions), got {padding!r}")
        if any(s != 1 for s in self.stride):
            raise ValueError(f"{name}: padding='same' needs stride 1, got stride {self.stride}")
        totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
        if any(t % 2 for t in totals):
            raise NotImplementedError(f"{name}: padding='same' with an even dilated kernel {self.kernel_size} "
                                      "would need asymmetric padding; pad the input with F.pad instead")
        return tuple(t // 2 for t in totals)

    @property
    def dtype(self):
        """The parameters' dtype (it follows .float() / .double())."""
        return self.weight.dtype

    def _make_parameters(self, weight_shape, fan_in, bias):
        bound = _fan_in_bound(fan_in)
        self.weight = _uniform_parameter(weight_shape, bound, self._init_dtype)
        if bias:
            self.bias = _uniform_parameter((self.bias_size,), bound, self._init_dtype)
        else:
            self.register_parameter("bias", None)

    def _check_input(self, x):
        """Returns base_axis (0 for unbatched input) after checking rank,
        channels, dtype and that every output size is positive."""
        _check_tensor(self, x)
        n = self.nd
        shape = tuple(x.shape)
        expected = f"(N, {self.in_channels}, {_SPATIAL_NAMES[n]}) or ({self.in_channels}, {_SPATIAL_NAMES[n]})"
        if x.ndim not in (n + 1, n + 2) or shape[-n - 1] != self.in_channels:
            raise ValueError(f"{self}: expected input {expected}, got shape {shape}")
        _check_same_dtype(self, x, self.weight)
        for axis, (size, out) in enumerate(zip(shape[-n:], self._output_sizes(shape[-n:]))):
            if size < 1 or out < 1:
                raise ValueError(f"{self}: input of shape {shape} is too small: spatial axis {axis} of size {size} "
                                 f"gives output size {out}")
        return x.ndim - n - 1

    def _output_sizes(self, sizes):
        if self.transposed:
            return [s * (l - 1) - 2 * p + d * (k - 1) + 1 + op for l, k, s, p, d, op in
                    zip(sizes, self.kernel_size, self.stride, self._pad, self.dilation, self.output_padding)]
        return [(l + 2 * p - d * (k - 1) - 1) // s + 1 for l, k, s, p, d in
                zip(sizes, self.kernel_size, self.stride, self._pad, self.dilation)]

    def extra_repr(self):
        n = self.nd
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if getattr(self, "groups", 1) != 1:
            s += f", groups={self.groups}"
        if getattr(self, "multiplier", 1) != 1:
            s += f", multiplier={self.multiplier}"
        if getattr(self, "divisor", 1) != 1:
            s += f", divisor={self.divisor}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def _set_groups(self, groups):
        """self.groups, checked against the channel counts; the bias has one entry per output channel."""
        name = type(self).__name__
        self.groups = _check_int(name, "groups", groups, 1)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{name}: in_channels ({self.in_channels}) and out_channels ({self.out_channels}) "
                             f"must be divisible by groups ({self.groups})")
        self.bias_size = self.out_channels


class _ConvNd(_ConvBase):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=DType.float32):
        super().__init__()
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation, bias, dtype,
                    padding_mode=padding_mode)
        self._set_groups(groups)
        per_group = self.in_channels // self.groups
        self._make_parameters((self.out_channels, per_group) + self.kernel_size,
                              per_group * math.prod(self.kernel_size), bias)

    def forward(self, input):
        base_axis = self._check_input(input)
        return F.convolution(input, self.weight, self.bias, base_axis, self._pad, self.stride, self.dilation,
                             self.groups)


class _ConvTransposeNd(_ConvBase):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=DType.float32):
        super().__init__()
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation, bias, dtype,
                    output_padding, padding_mode)
        self._set_groups(groups)
        per_group = self.out_channels // self.groups
        # torch takes the fan-in of the (in, out/groups, *k) weight from its axis 1
        self._make_parameters((self.in_channels, per_group) + self.kernel_size,
                              per_group * math.prod(self.kernel_size), bias)

    def forward(self, input):
        base_axis = self._check_input(input)
        return F.deconvolution(input, self.weight, self.bias, base_axis, self._pad, self.stride, self.dilation,
                               self.groups, False, self.output_padding)


class _DepthwiseConvNd(_ConvBase):
    def __init__(self, in_channels, kernel_size, stride=1, padding=0, dilation=1, multiplier=1, bias=True,
                 dtype=DType.float32):
        super().__init__()
        name = type(self).__name__
        self.multiplier = _check_int(name, "multiplier", multiplier, 1)
        in_channels = _check_int(name, "in_channels", in_channels, 1)
        self._setup(in_channels, in_channels * self.multiplier, kernel_size, stride, padding, dilation, bias, dtype)
        self.bias_size = self.out_channels
        # torch's Conv(groups=C) weight (C*m, 1, *k) without its axis of size 1
        self._make_parameters((self.out_channels,) + self.kernel_size, math.prod(self.kernel_size), bias)

    def forward(self, input):
        base_axis = self._check_input(input)
        return F.depthwise_convolution(input, self.weight, self.bias, base_axis, self._pad, self.stride,
                                       self.dilation, self.multiplier)


class _DepthwiseConvTransposeNd(_ConvBase):
    transposed = True

    def __init__(self, in_channels, kernel_size, stride=1, padding=0, dilation=1, divisor=1, bias=True,
                 dtype=DType.float32):
        super().__init__()
        name = type(self).__name__
        self.divisor = _check_int(name, "divisor", divisor, 1)
        in_channels = _check_int(name, "in_channels", in_channels, 1)
        if in_channels % self.divisor:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by divisor ({self.divisor})")
        self._setup(in_channels, in_channels // self.divisor, kernel_size, stride, padding, dilation, bias, dtype)
        self.bias_size = self.out_channels
        self._make_parameters((self.in_channels,) + self.kernel_size, math.prod(self.kernel_size), bias)

    def forward(self, input):
        base_axis = self._check_input(input)
        return F.depthwise_deconvolution(input, self.weight, self.bias, base_axis, self._pad, self.stride,
                                         self.dilation, self.divisor)


_CONV_DOC = """{n}-d convolution (cross-correlation) as ``torch.nn.Conv{n}d``, over ``F.convolution``.

    Shapes: input (N, C_in, {spatial}) or unbatched (C_in, {spatial}) -> (N, C_out, {spatial}) of new sizes,
    each size L' = (L + 2 padding - dilation (kernel_size - 1) - 1) // stride + 1.
    Parameters: ``weight`` (out_channels, in_channels / groups, *kernel_size) and ``bias``
    (out_channels,), as torch (and nnabla) lay them out, drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    fan_in = in_channels / groups * prod(kernel_size). ``padding`` is an int, a tuple, 'valid' or
    'same' (stride 1 and an odd dilated kernel only); ``padding_mode`` only 'zeros'.

        conv = nn.Conv{n}d(2, 4, 3, padding=1)
        y = conv(ng.ones({example}))     # {example_out}
    """

_CONV_TRANSPOSE_DOC = """{n}-d transposed convolution as ``torch.nn.ConvTranspose{n}d``, over ``F.deconvolution``.

    Shapes: input (N, C_in, {spatial}) or unbatched -> (N, C_out, {spatial}) of new sizes, each size
    L' = (L - 1) stride - 2 padding + dilation (kernel_size - 1) + output_padding + 1.
    Parameters: ``weight`` (in_channels, out_channels / groups, *kernel_size) and ``bias``
    (out_channels,), torch's (and nnabla's) layout and initialisation (fan_in from the weight's
    axis 1: out_channels / groups * prod(kernel_size)). ``output_padding`` < max(stride, dilation),
    as torch. No ``output_size`` argument in forward.

        up = nn.ConvTranspose{n}d(2, 4, 2, stride=2)
        y = up(ng.ones({example}))     # {example_up}
    """

_DEPTHWISE_DOC = """{n}-d depthwise convolution over ``F.depthwise_convolution``: channel c convolved with
    filters c*multiplier .. c*multiplier + multiplier - 1 (torch: ``nn.Conv{n}d(C, C*multiplier, k,
    groups=C)``).

    Shapes: input (N, C, {spatial}) -> (N, C*multiplier, {spatial}) of new sizes, sizes as Conv{n}d.
    Parameters: ``weight`` (C*multiplier, *kernel_size) -- torch's (C*multiplier, 1, *kernel_size)
    without the axis of size 1 (reshape a torch weight to load it) -- and ``bias`` (C*multiplier,),
    drawn from U(-1/sqrt(prod(kernel_size)), 1/sqrt(prod(kernel_size))) as torch would.

        dw = nn.DepthwiseConv{n}d(2, 3, padding=1, multiplier=2)
        y = dw(ng.ones({example}))     # {example_dw}
    """

_DEPTHWISE_TRANSPOSE_DOC = """{n}-d depthwise transposed convolution over ``F.depthwise_deconvolution``, the
    adjoint of DepthwiseConv{n}d: input channels c*divisor .. c*divisor + divisor - 1 are each
    deconvolved with their own filter and summed into output channel c (torch:
    ``nn.ConvTranspose{n}d(C, C // divisor, k, groups=C // divisor)``).

    Shapes: input (N, C, {spatial}) -> (N, C / divisor, {spatial}) of new sizes, sizes as ConvTranspose{n}d.
    Parameters: ``weight`` (C, *kernel_size) (torch's (C, 1, *kernel_size) without the axis of size
    1) and ``bias`` (C / divisor,), drawn from U(-1/sqrt(prod(kernel_size)), ...).

        up = nn.DepthwiseConvTranspose{n}d(4, 2, stride=2, divisor=2)
        y = up(ng.ones({example4}))     # {example_dwt}
    """


def _spatial_example(n, size, channels, batch=1):
    return (batch, channels) + (size,) * n


def _make(n, base, doc, name):
    info = dict(n=n, spatial=_SPATIAL_NAMES[n], example=_spatial_example(n, 5, 2),
                example_out=_spatial_example(n, 5, 4), example_up=_spatial_example(n, 10, 4),
                example_dw=_spatial_example(n, 5, 4), example4=_spatial_example(n, 5, 4),
                example_dwt=_spatial_example(n, 10, 2))
    return type(name, (base,), {"nd": n, "__doc__": doc.format(**info), "__module__": __name__})


Conv1d, Conv2d, Conv3d = (_make(n, _ConvNd, _CONV_DOC, f"Conv{n}d") for n in (1, 2, 3))
ConvTranspose1d, ConvTranspose2d, ConvTranspose3d = (
    _make(n, _ConvTransposeNd, _CONV_TRANSPOSE_DOC, f"ConvTranspose{n}d") for n in (1, 2, 3))
DepthwiseConv1d, DepthwiseConv2d, DepthwiseConv3d = (
    _make(n, _DepthwiseConvNd, _DEPTHWISE_DOC, f"DepthwiseConv{n}d") for n in (1, 2, 3))
DepthwiseConvTranspose1d, DepthwiseConvTranspose2d, DepthwiseConvTranspose3d = (
    _make(n, _DepthwiseConvTransposeNd, _DEPTHWISE_TRANSPOSE_DOC, f"DepthwiseConvTranspose{n}d") for n in (1, 2, 3))
