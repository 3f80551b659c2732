"""Op-table rows for the conv family (issue 8); see op_db.py for OpSpec.

References are written in NumPy: convolution as a sum over kernel offsets of
strided windows of the zero-padded input (one einsum per offset and group),
deconvolution as the scatter of every input position times the kernel into a
full-size output, cropped by pad. The ops are bilinear, so rows marked
"squared" differentiate y**2: there the gradient graph passes through
deconvolution / convolution_weight_grad with inputs that depend on x and the
weight, which exercises their own rules at orders 2 and 3.
"""
import numpy as np

import nthgrad as ng
import nthgrad.functional as F
from op_db import OpSpec, t, ti, uniform, away_from_zero  # noqa: F401


def _per_axis(v, n, fill):
    return tuple(v) if v is not None else (fill,) * n


def _to_channel_first(x, w, base_axis, channel_last):
    if channel_last:
        x = np.moveaxis(x, -1, base_axis)
        w = np.moveaxis(w, -1, 1)
    return x, w


def conv_ref(x, w, b=None, base_axis=1, pad=None, stride=None, dilation=None, group=1, channel_last=False):
    """NumPy convolution (cross-correlation) of x (M..., C, L...) with w (C', C/group, K...)."""
    n = w.ndim - 2
    x, w = _to_channel_first(np.asarray(x, np.float64), np.asarray(w, np.float64), base_axis, channel_last)
    pad, stride, dil = _per_axis(pad, n, 0), _per_axis(stride, n, 1), _per_axis(dilation, n, 1)
    lead = x.shape[:base_axis]
    x = x.reshape((int(np.prod(lead)),) + x.shape[base_axis:])
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    C, Co, K = x.shape[1], w.shape[0], w.shape[2:]
    cg, cog = C // group, Co // group
    out = [(xp.shape[2 + a] - dil[a] * (K[a] - 1) - 1) // stride[a] + 1 for a in range(n)]
    y = np.zeros((x.shape[0], Co) + tuple(out))
    for k in np.ndindex(*K) if min(out) > 0 else ():  # (an empty axis: a negative slice end would wrap)
        window = tuple(slice(k[a] * dil[a], k[a] * dil[a] + stride[a] * (out[a] - 1) + 1, stride[a]) for a in range(n))
        patch = xp[(slice(None), slice(None)) + window]  # (B, C, out...)
        for g in range(group):
            wk = w[(slice(g * cog, (g + 1) * cog), slice(None)) + k]  # (cog, cg)
            y[:, g * cog:(g + 1) * cog] += np.einsum("oc,bc...->bo...", wk, patch[:, g * cg:(g + 1) * cg])
    if b is not None:
        y += np.asarray(b).reshape((1, Co) + (1,) * n)
    y = y.reshape(lead + y.shape[1:])
    return np.moveaxis(y, base_axis, -1) if channel_last else y


def deconv_ref(x, w, b=None, base_axis=1, pad=None, stride=None, dilation=None, group=1, channel_last=False,
               output_padding=None):
    """NumPy transposed convolution of x (M..., C, L...) with w (C, C'/group, K...): every input value
    times the kernel, added at stride s into a full output, then cropped by pad."""
    n = w.ndim - 2
    x, w = _to_channel_first(np.asarray(x, np.float64), np.asarray(w, np.float64), base_axis, channel_last)
    pad, stride, dil = _per_axis(pad, n, 0), _per_axis(stride, n, 1), _per_axis(dilation, n, 1)
    opad = _per_axis(output_padding, n, 0)
    lead = x.shape[:base_axis]
    x = x.reshape((int(np.prod(lead)),) + x.shape[base_axis:])
    C, cog, K, L = x.shape[1], w.shape[1], w.shape[2:], x.shape[2:]
    cg = C // group
    out = [stride[a] * (L[a] - 1) - 2 * pad[a] + dil[a] * (K[a] - 1) + 1 + opad[a] for a in range(n)]
    full = [pad[a] + out[a] + stride[a] * max(L[a] - 1, 0) + dil[a] * (K[a] - 1) + 1 for a in range(n)]
    y = np.zeros((x.shape[0], cog * group) + tuple(full))
    for k in np.ndindex(*K) if min(L) > 0 else ():
        window = tuple(slice(k[a] * dil[a], k[a] * dil[a] + stride[a] * (L[a] - 1) + 1, stride[a]) for a in range(n))
        for g in range(group):
            wk = w[(slice(g * cg, (g + 1) * cg), slice(None)) + k]  # (cg, cog)
            y[(slice(None), slice(g * cog, (g + 1) * cog)) + window] += np.einsum(
                "co,bc...->bo...", wk, x[:, g * cg:(g + 1) * cg])
    y = y[(slice(None), slice(None)) + tuple(slice(pad[a], pad[a] + out[a]) for a in range(n))]
    if b is not None:
        y = y + np.asarray(b).reshape((1, -1) + (1,) * n)
    y = y.reshape(lead + y.shape[1:])
    return np.moveaxis(y, base_axis, -1) if channel_last else y


def _row(name, op, ref, samples, order, squared=False, bias=False, **kw):
    """A row for op(x, w[, b], **kw); squared rows compare y**2."""
    def fn(x, w, *b):
        y = op(x, w, b[0] if b else None, **kw)
        return y * y if squared else y

    def reference(x, w, *b):
        y = ref(x, w, b[0] if b else None, **kw)
        return y * y if squared else y

    return OpSpec(name, fn, reference, samples, order=order, grad_rtol=1e-4)


def _depthwise_conv_ref(x, w, b=None, base_axis=1, pad=None, stride=None, dilation=None, multiplier=1):
    C = x.shape[base_axis]
    return conv_ref(x, np.expand_dims(w, 1), b, base_axis, pad, stride, dilation, group=C)


def _depthwise_deconv_ref(x, w, b=None, base_axis=1, pad=None, stride=None, dilation=None, divisor=1):
    C = x.shape[base_axis]
    return deconv_ref(x, np.expand_dims(w, 1), b, base_axis, pad, stride, dilation, group=C // divisor)


conv, deconv = F.convolution, F.deconvolution
x4, w4 = (2, 4, 5, 5), (6, 2, 3, 3)

BAD_CONV = [
    (lambda: conv(t((2, 5, 5, 5)), t((6, 2, 3, 3)), group=2), ValueError, "5 channels, which group=2"),
    (lambda: conv(t((2, 4, 5, 5)), t((6, 3, 3, 3)), group=2), ValueError, "(6, 3, 3, 3)"),
    (lambda: conv(t((2, 4, 2, 2)), t((6, 4, 3, 3))), ValueError, "larger than the padded input"),
    (lambda: conv(t((2, 4, 5, 5)), t((6, 4))), ValueError, "rank >= 3"),
    (lambda: conv(t((2, 4, 5, 5)), t((6, 4, 3))), ValueError, "spatial axes"),
    (lambda: conv(t((2, 4, 5, 5)), t((6, 4, 3, 3)), t((5,))), ValueError, "bias of shape (5,)"),
    (lambda: conv(t((2, 4, 5, 5)), t((6, 4, 3, 3)), pad=(1,)), ValueError, "one entry per spatial axis"),
    (lambda: conv(t((2, 4, 5, 5)), t((6, 4, 3, 3)), stride=(0, 1)), ValueError,
     "stride (0, 1) must have entries in [1, 2^30]"),
    (lambda: conv(t((2, 4, 5, 5)), t((6, 4, 3, 3)), pad=(2 ** 62, 0)), ValueError, "pad (4611686018427387904, 0)"),
    (lambda: conv(t((2, 4, 5, 5)), t((6, 4, 3, 3)), base_axis=4), IndexError, "base_axis 4"),
    (lambda: conv(t((2, 4, 5, 5)), t((6, 4, 3, 3)), pad="1"), TypeError, "pad must be None or a sequence"),
    (lambda: conv(ti((2, 4, 5, 5)), t((6, 4, 3, 3))), TypeError, "argument x must be float"),
]
BAD_DECONV = [
    (lambda: deconv(t((2, 4, 3, 3)), t((4, 2, 3, 3)), stride=(2, 2), output_padding=(2, 0)), ValueError,
     "output_padding (2, 0) must be smaller than stride (2, 2) or dilation (1, 1)"),
    (lambda: deconv(t((2, 4, 3, 3)), t((5, 2, 3, 3))), ValueError, "expects 5 input channels"),
    (lambda: deconv(t((2, 6, 3, 3)), t((6, 2, 3, 3)), group=4), ValueError, "6 channels, which group=4"),
    (lambda: deconv(t((2, 4, 3, 3)), t((4, 2, 3, 3)), t((3,))), ValueError, "bias of shape (3,)"),
    (lambda: deconv(t((2, 4, 1, 1)), t((4, 2, 1, 1)), pad=(1, 1)), ValueError,
     "with pad (1, 1), stride (1, 1) and output_padding (0, 0) give no valid output"),
    (lambda: deconv(t((2, 4, 5, 5)), t((4, 2, 2, 2)), pad=(3, 0)), ValueError,
     "(size 0 on spatial axis 0; the pad is too large)"),
    (lambda: deconv(t((2, 4, 3, 3)), t((4, 2, 3, 3)), output_padding=(1, 1, 1)), ValueError,
     "output_padding (1, 1, 1) must have one entry"),
]

ROWS = [
    # convolution: 2-d grouped, with and without bias, stride / pad / dilation
    _row("convolution", conv, conv_ref, [(x4, w4), (x4, w4, (6,))], 3, squared=True, group=2),
    _row("convolution", conv, conv_ref, [((2, 3, 6, 5), (4, 3, 3, 2), (4,))], 2,
         pad=(1, 2), stride=(2, 1), dilation=(1, 2)),
    _row("convolution", conv, conv_ref, [((0, 3, 4, 4), (2, 3, 3, 3)), ((1, 3, 4, 4), (2, 3, 1, 1))], 2),
    # 1-d and 3-d
    _row("convolution", conv, conv_ref, [((2, 3, 7), (4, 3, 3), (4,))], 3, squared=True, pad=(1,), stride=(2,)),
    _row("convolution", conv, conv_ref, [((1, 2, 4, 3, 4), (2, 1, 2, 2, 3))], 3, squared=True, group=2,
         pad=(1, 0, 1), dilation=(1, 1, 2)),
    # base_axis: two batch axes, and none
    _row("convolution", conv, conv_ref, [((2, 2, 3, 5), (2, 3, 2), (2,))], 2, base_axis=2, pad=(1,)),
    _row("convolution", conv, conv_ref, [((3, 5, 4), (2, 3, 2, 2))], 2, base_axis=0),
    # channel_last: x (M, L..., C), weight (C', K..., C/group)
    _row("convolution", conv, conv_ref, [((2, 5, 4, 4), (4, 3, 2, 2), (4,))], 3, squared=True, group=2,
         channel_last=True, pad=(1, 0), stride=(1, 2)),
    # deconvolution
    _row("deconvolution", deconv, deconv_ref, [((2, 4, 3, 3), (4, 3, 3, 3)), ((2, 4, 3, 3), (4, 3, 3, 3), (6,))], 3,
         squared=True, group=2, stride=(2, 2), pad=(1, 0), output_padding=(1, 0)),
    _row("deconvolution", deconv, deconv_ref, [((2, 3, 4), (3, 2, 3), (2,))], 3, squared=True, dilation=(2,),
         stride=(3,), output_padding=(2,)),
    _row("deconvolution", deconv, deconv_ref, [((1, 2, 2, 3, 2), (2, 2, 2, 2, 2))], 3, squared=True, pad=(0, 1, 0)),
    # output_padding >= stride, below the dilation (torch's bound): x zero-padded first; channel-first and last
    _row("deconvolution", deconv, deconv_ref, [((2, 2, 3, 4), (2, 3, 3, 2), (3,))], 3, squared=True,
         dilation=(3, 1), stride=(1, 2), output_padding=(2, 1)),
    _row("deconvolution", deconv, deconv_ref, [((2, 3, 4, 2), (2, 3, 2, 3))], 2, squared=True, channel_last=True,
         dilation=(2, 3), output_padding=(1, 2), pad=(1, 0)),
    _row("deconvolution", deconv, deconv_ref, [((2, 2, 3, 4), (3, 2, 2), (2,)), ((0, 2, 3, 4), (3, 2, 2))], 2,
         base_axis=2),
    _row("deconvolution", deconv, deconv_ref, [((2, 3, 3, 4), (4, 2, 1, 2), (2,))], 3, squared=True,
         channel_last=True, stride=(2, 1)),
    # depthwise
    _row("depthwise_convolution", F.depthwise_convolution, _depthwise_conv_ref,
         [((2, 3, 5, 5), (6, 3, 3)), ((2, 3, 5, 5), (6, 3, 3), (6,))], 2, squared=True, multiplier=2, pad=(1, 1)),
    _row("depthwise_convolution", F.depthwise_convolution, _depthwise_conv_ref, [((2, 3, 7), (3, 3), (3,))], 2,
         stride=(2,), dilation=(2,)),
    _row("depthwise_deconvolution", F.depthwise_deconvolution, _depthwise_deconv_ref,
         [((2, 4, 3, 3), (4, 2, 2)), ((2, 4, 3, 3), (4, 2, 2), (2,))], 2, squared=True, divisor=2, stride=(2, 2)),
    _row("depthwise_deconvolution", F.depthwise_deconvolution, _depthwise_deconv_ref, [((2, 3, 5), (3, 3), (3,))],
         2, pad=(1,)),
]
ROWS[0].bad = BAD_CONV
ROWS[8].bad = BAD_DECONV
ROWS[13].bad = [
    (lambda: F.depthwise_convolution(t((2, 3, 5, 5)), t((5, 3, 3)), multiplier=2), ValueError, "must have 6 filters"),
    (lambda: F.depthwise_convolution(t((2, 3, 5, 5)), t((3, 3, 3)), multiplier=0), ValueError, "multiplier"),
]
ROWS[15].bad = [
    (lambda: F.depthwise_deconvolution(t((2, 3, 5)), t((3, 3)), divisor=2), ValueError, "divisor=2 does not divide"),
    (lambda: F.depthwise_deconvolution(t((2, 4, 5)), t((3, 3)), divisor=2), ValueError, "must have 4 filters"),
]
