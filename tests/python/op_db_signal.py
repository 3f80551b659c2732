"""Op-table rows for the signal family (issue 7); see op_db.py for OpSpec.

References are written in NumPy: interpolate separably along each axis with
the coordinate rules of OPS.md, fft/ifft by numpy.fft on the complex view,
stft by framing + window + rfft, istft by irfft + window + overlap-add. The
ops are linear, so rows marked "squared" differentiate y**2: there the
gradient graph passes through the adjoint ops (interpolate_backward,
fft_backward, ...) with inputs that depend on x, which exercises their own
rules at orders 2 and 3.
"""
import numpy as np

import nthgrad as ng
import nthgrad.functional as F
from op_db import OpSpec, t, ti, uniform, away_from_zero  # noqa: F401


# ---- interpolate ----------------------------------------------------------

def _source(L, O, coord):
    o = np.arange(O, dtype=np.float64)
    if coord == "align_corners":
        return o * (L - 1) / (O - 1) if O > 1 else np.zeros(O)
    if coord == "half_pixel":
        return np.maximum(0.0, (o + 0.5) * L / O - 0.5)
    if coord == "half_pixel_for_nn":
        return (o + 0.5) * L / O
    return o * L / O


def interp_ref(x, out_sizes, mode="linear", coord="asymmetric"):
    """NumPy interpolate: one axis at a time (multilinear = separable)."""
    y = np.asarray(x, dtype=np.float64)
    n = len(out_sizes)
    for k, O in enumerate(out_sizes):
        axis = y.ndim - n + k
        L = y.shape[axis]
        c = _source(L, O, coord)
        i0 = np.clip(np.floor(c).astype(np.int64), 0, L - 1)
        if mode == "nearest":
            y = np.take(y, i0, axis=axis)
            continue
        i1 = np.minimum(i0 + 1, L - 1)
        w1 = (c - i0).reshape((-1,) + (1,) * (y.ndim - axis - 1))
        y = (1 - w1) * np.take(y, i0, axis=axis) + w1 * np.take(y, i1, axis=axis)
    return y


def _interp(out, mode="linear", coord="asymmetric", channel_last=False, squared=False):
    flags = {"align_corners": coord == "align_corners", "half_pixel": coord == "half_pixel",
             "half_pixel_for_nn": coord == "half_pixel_for_nn"}

    def fn(x):
        y = F.interpolate(x, output_size=out, mode=mode, channel_last=channel_last, **flags)
        return y * y if squared else y

    def ref(x):
        if channel_last:
            y = np.moveaxis(interp_ref(np.moveaxis(x, -1, x.ndim - len(out) - 1), out, mode, coord),
                            x.ndim - len(out) - 1, -1)
        else:
            y = interp_ref(x, out, mode, coord)
        return y * y if squared else y
    return fn, ref


def interp_row(out, samples, mode="linear", coord="asymmetric", channel_last=False, squared=False, order=3, **kw):
    fn, ref = _interp(out, mode, coord, channel_last, squared)
    return OpSpec("interpolate", fn, ref, samples, order=order, **kw)


BAD_INTERPOLATE = [
    (lambda: F.interpolate(t((2, 3, 4)), output_size=(5, 6), align_corners=True, half_pixel=True), ValueError,
     "(2, 3, 4)"),
    (lambda: F.interpolate(t((2, 3, 4)), output_size=(5, 6), align_corners=True, half_pixel=True), ValueError,
     "align_corners"),
    (lambda: F.interpolate(t((2, 3, 4))), ValueError, "exactly one"),
    (lambda: F.interpolate(t((2, 3, 4)), scale=(2, 2), output_size=(4, 8)), ValueError, "(2, 3, 4)"),
    (lambda: F.interpolate(ti((2, 3, 4)), output_size=(5, 6)), TypeError, "int64"),
    (lambda: F.interpolate(t((2, 3, 4, 5, 6)), output_size=(1, 2, 3, 4)), ValueError, "1-, 2- and 3-D"),
    (lambda: F.interpolate(t((2, 3)), output_size=(4, 5, 6)), ValueError, "(2, 3)"),
    (lambda: F.interpolate(t((2, 3)), output_size=(4, 0)), ValueError, "(4, 0)"),
    (lambda: F.interpolate(t((2, 3)), scale=(2, -1)), ValueError, "scale"),
    (lambda: F.interpolate(t((2, 3)), output_size=(4,), mode="cubic"), ValueError, "cubic"),
    (lambda: F.interpolate(t((2, 0)), output_size=(4,)), ValueError, "(2, 0)"),
    (lambda: F.interpolate(t((3,)), output_size=(4,), channel_last=True), ValueError, "(3,)"),
    (lambda: F.interpolate(t((2, 3)), output_size=("a",)), TypeError, "output_size"),
]

INTERP_ROWS = [
    # 1-D, 2-D, 3-D, in every coordinate rule, with empty and size-1 shapes
    interp_row((7,), [((2, 3, 5),), ((4,),), ((1,),), ((0, 3),)], bad=BAD_INTERPOLATE),
    interp_row((3,), [((2, 7),), ((5,),)], coord="align_corners"),
    interp_row((5, 3), [((2, 3, 4, 6),), ((1, 1),), ((0, 2, 2),)], coord="half_pixel"),
    interp_row((5, 3), [((2, 4, 6),), ((3, 1),)], coord="align_corners"),
    interp_row((1, 4), [((2, 3, 5),)], coord="align_corners"),
    interp_row((3, 5, 2), [((2, 3, 4, 5),), ((1, 1, 1),)]),
    interp_row((4, 2, 5), [((1, 2, 3, 4, 3),)], coord="half_pixel"),
    interp_row((7, 3), [((2, 3, 5),), ((0, 2, 2),)], mode="nearest"),
    interp_row((7, 3), [((2, 3, 5),)], mode="nearest", coord="half_pixel"),
    interp_row((5,), [((2, 7),)], mode="nearest", coord="align_corners"),
    interp_row((2, 7, 3), [((2, 3, 5, 2),)], mode="nearest", coord="half_pixel_for_nn"),
    interp_row((5, 4), [((2, 3, 2, 3),), ((3, 1, 2),)], channel_last=True),
    interp_row((5,), [((2, 3, 2),)], mode="nearest", channel_last=True),
    # squared: the gradient graph runs interpolate_backward on x-dependent values
    interp_row((7,), [((2, 5),)], squared=True),
    interp_row((5, 3), [((2, 3, 4),)], coord="half_pixel", squared=True),
    interp_row((3, 5, 2), [((1, 2, 3, 4),)], coord="align_corners", squared=True),
    interp_row((7, 3), [((2, 3, 5),)], mode="nearest", squared=True),
    OpSpec("interpolate", lambda x: F.interpolate(x, scale=(2.5, 0.5)),
           lambda x: interp_ref(x, (int(np.floor(2.5 * x.shape[-2])), int(np.floor(0.5 * x.shape[-1])))),
           [((2, 3, 4),), ((3, 6),)], order=3),
    OpSpec("interpolate", lambda x: F.interpolate(x, scale=1.5, mode="nearest"),
           lambda x: interp_ref(x, (int(np.floor(1.5 * x.shape[-1])),), "nearest"), [((2, 4),)], order=2),
]


# ---- fft / ifft -------------------------------------------------------------

def fft_ref(d, normalized=False, inverse=False):
    def ref(x):
        z = x[..., 0] + 1j * x[..., 1]
        axes = tuple(range(z.ndim - d, z.ndim))
        f = np.fft.ifftn if inverse else np.fft.fftn
        y = f(z, axes=axes, norm="ortho" if normalized else "backward")
        return np.stack([y.real, y.imag], axis=-1)
    return ref


def fft_row(name, d, samples, normalized=False, squared=False, **kw):
    op = getattr(F, name)
    ref = fft_ref(d, normalized, inverse=name == "ifft")

    def fn(x):
        y = op(x, d, normalized=normalized)
        return y * y if squared else y
    return OpSpec(name, fn, (lambda x: ref(x) ** 2) if squared else ref, samples, order=3, f32_rtol=1e-4, **kw)


def bad_fft(op):
    return [
        (lambda: op(t((2, 3, 4, 5, 6, 2)), 4), ValueError, "signal_ndim"),
        (lambda: op(t((2, 3, 4, 5, 6, 2)), 0), ValueError, "signal_ndim"),
        (lambda: op(t((3, 4, 3)), 1), ValueError, "(3, 4, 3)"),
        (lambda: op(t((4, 2)), 2), ValueError, "(4, 2)"),
        (lambda: op(ti((3, 2)), 1), TypeError, "int64"),
        (lambda: op(ti((3, 2)), 1), TypeError, op.__name__),
    ]


FFT_ROWS = []
for _name in ("fft", "ifft"):
    FFT_ROWS += [
        fft_row(_name, 1, [((3, 8, 2),), ((5, 2),), ((7, 2),), ((12, 2),), ((1, 2),), ((0, 4, 2),)],
                bad=bad_fft(getattr(F, _name))),
        fft_row(_name, 1, [((2, 6, 2),), ((13, 2),)], normalized=True),
        fft_row(_name, 2, [((2, 4, 5, 2),), ((3, 7, 2),), ((1, 1, 2),)]),
        fft_row(_name, 2, [((2, 6, 3, 2),)], normalized=True),
        fft_row(_name, 3, [((2, 3, 4, 5, 2),), ((2, 2, 7, 2),)]),
        fft_row(_name, 3, [((3, 2, 5, 2),)], normalized=True),
        fft_row(_name, 1, [((2, 7, 2),)], squared=True),
        fft_row(_name, 2, [((4, 5, 2),)], normalized=True, squared=True),
        fft_row(_name, 3, [((2, 3, 2, 2),)], squared=True),
    ]


# ---- stft / istft -----------------------------------------------------------

def window_ref(kind, W, N):
    i = np.arange(W)
    w = {"hanning": 0.5 - 0.5 * np.cos(2 * np.pi * i / W), "hamming": 0.54 - 0.46 * np.cos(2 * np.pi * i / W),
         "rectangular": np.ones(W)}[kind]
    out = np.zeros(N)
    left = (N - W) // 2
    out[left:left + W] = w
    return out


def stft_ref(x, W, S, N, kind="hanning", center=True, pad_mode="reflect"):
    """(y_r, y_i), each (B, N//2 + 1, frames): framing + window + rfft."""
    if center:
        x = np.pad(x, ((0, 0), (N // 2, N // 2)), mode=pad_mode)
    T = (x.shape[1] - N) // S + 1
    frames = x[:, np.arange(T)[:, None] * S + np.arange(N)] * window_ref(kind, W, N)
    Y = np.fft.rfft(frames, axis=-1)
    return Y.real.transpose(0, 2, 1), Y.imag.transpose(0, 2, 1)


def istft_ref(yr, yi, W, S, N, kind="hanning", center=True):
    """irfft of each frame, times the window, overlap-added, divided by the summed squared window, cut."""
    w = window_ref(kind, W, N)
    frames = np.fft.irfft((yr + 1j * yi).transpose(0, 2, 1), n=N, axis=-1) * w
    B, T = frames.shape[:2]
    L = (T - 1) * S + N
    out, w2 = np.zeros((B, L)), np.zeros(L)
    for k in range(T):
        out[:, k * S:k * S + N] += frames[:, k]
        w2[k * S:k * S + N] += w * w
    p = N // 2 if center else 0
    return out[:, p:L - p] / w2[p:L - p]


def _cat(pair):
    return F.concatenate(*pair, axis=1)


def stft_row(samples, W, S, N, kind="hanning", center=True, pad_mode="reflect", squared=False, order=3, **kw):
    def fn(x):
        y = _cat(F.stft(x, W, S, N, window_type=kind, center=center, pad_mode=pad_mode))
        return y * y if squared else y

    def ref(x):
        y = np.concatenate(stft_ref(x, W, S, N, kind, center, pad_mode), axis=1)
        return y * y if squared else y
    return OpSpec("stft", fn, ref, samples, order=order, f32_rtol=1e-4, **kw)


def istft_row(samples, W, S, N, kind="hanning", center=True, squared=False, order=3, **kw):
    def fn(yr, yi):
        y = F.istft(yr, yi, W, S, N, window_type=kind, center=center)
        return y * y if squared else y

    def ref(yr, yi):
        y = istft_ref(yr, yi, W, S, N, kind, center)
        return y * y if squared else y
    return OpSpec("istft", fn, ref, samples, order=order, f32_rtol=1e-4, **kw)


BAD_STFT = [
    (lambda: F.stft(t((8,)), 4, 2, 4), ValueError, "(8,)"),
    (lambda: F.stft(t((2, 16)), 8, 2, 4), ValueError, "fft_size"),
    (lambda: F.stft(t((2, 16)), 4, 2, 4, window_type="blackman"), ValueError, "blackman"),
    (lambda: F.stft(t((2, 16)), 4, 2, 4, pad_mode="edge"), ValueError, "edge"),
    (lambda: F.stft(t((2, 16)), 4, 0, 4), ValueError, "stride"),
    (lambda: F.stft(ti((2, 16)), 4, 2, 4), TypeError, "int64"),
    (lambda: F.stft(t((2, 3)), 8, 2, 8, center=False), ValueError, "(2, 3)"),
    (lambda: F.stft(t((2, 3)), 8, 2, 8), ValueError, "(2, 3)"),  # reflect needs > fft_size/2 samples
    (lambda: F.stft(t((2, 16)), 4, 2, 4, as_istft_backward=True), ValueError, "constant"),
]
BAD_ISTFT = [
    (lambda: F.istft(t((2, 4, 5)), t((2, 4, 5)), 8, 2, 8), ValueError, "(2, 4, 5)"),
    (lambda: F.istft(t((2, 5, 5)), t((2, 5, 4)), 8, 2, 8), ValueError, "(2, 5, 4)"),
    (lambda: F.istft(t((2, 5)), t((2, 5)), 8, 2, 8), ValueError, "(2, 5)"),
    (lambda: F.istft(ti((2, 5, 5)), t((2, 5, 5)), 8, 2, 8), TypeError, "int64"),
    (lambda: F.istft(t((2, 5, 5)), t((2, 5, 5)), 8, 2, 8, center=False), ValueError, "NOLA"),
    (lambda: F.istft(t((2, 5, 5)), t((2, 5, 5)), 4, 8, 8, window_type="rectangular"), ValueError, "NOLA"),
    (lambda: F.istft(t((2, 5, 5)), t((2, 5, 5)), 8, 2, 8, window_type="gauss"), ValueError, "gauss"),
]

STFT_ROWS = [
    stft_row([((2, 32),), ((1, 17),), ((0, 16),)], 8, 2, 8, bad=BAD_STFT),
    stft_row([((2, 20),)], 5, 3, 7, kind="hamming", pad_mode="constant"),  # odd sizes, window shorter than the FFT
    stft_row([((1, 23),), ((2, 12),)], 6, 4, 12, kind="rectangular", center=False),
    stft_row([((2, 19),)], 7, 2, 7, kind="hanning", pad_mode="reflect"),
    stft_row([((2, 16),)], 8, 4, 8, squared=True),
    stft_row([((2, 27),)], 4, 6, 4, kind="hamming", center=False),  # stride > fft_size: samples skipped
    istft_row([((2, 5, 9), (2, 5, 9)), ((1, 5, 1), (1, 5, 1)), ((0, 5, 3), (0, 5, 3))], 8, 2, 8, bad=BAD_ISTFT),
    istft_row([((2, 4, 6), (2, 4, 6))], 5, 2, 7, kind="hamming"),
    istft_row([((1, 7, 4), (1, 7, 4))], 12, 4, 12, kind="hamming", center=False),
    istft_row([((2, 5, 6), (2, 5, 6))], 8, 4, 8, squared=True),
    # the adjoints nnabla uses for the double backward, against the transposed NumPy forward
    OpSpec("stft", lambda x: _cat(F.stft(x, 8, 2, 8, pad_mode="constant", as_istft_backward=True)),
           lambda x: np.concatenate(_adj_istft(x, 8, 2, 8), axis=1),
           [((1, 16),)], order=2, f32_rtol=1e-4),
    OpSpec("istft", lambda yr, yi: F.istft(yr, yi, 8, 2, 8, as_stft_backward=True),
           lambda yr, yi: _adj_stft(yr, yi, 8, 2, 8, "reflect"), [((1, 5, 9), (1, 5, 9))], order=2, f32_rtol=1e-4),
    OpSpec("istft", lambda yr, yi: F.istft(yr, yi, 6, 3, 6, center=False, as_stft_backward=True),
           lambda yr, yi: _adj_stft(yr, yi, 6, 3, 6, "reflect", center=False), [((2, 4, 5), (2, 4, 5))], order=2,
           f32_rtol=1e-4),
]


def _adj_istft(x, W, S, N):
    """(y_r, y_i) = istft^T x: entries of the transposed istft, one basis spectrum at a time."""
    B, Lx = x.shape
    T = (Lx + 2 * (N // 2) - N) // S + 1
    K = N // 2 + 1
    yr, yi = np.zeros((B, K, T)), np.zeros((B, K, T))
    for k in range(K):
        for j in range(T):
            e = np.zeros((1, K, T))
            e[0, k, j] = 1.0
            yr[:, k, j] = x @ istft_ref(e, np.zeros_like(e), W, S, N)[0]
            yi[:, k, j] = x @ istft_ref(np.zeros_like(e), e, W, S, N)[0]
    return yr, yi


def _adj_stft(yr, yi, W, S, N, pad_mode, center=True):
    """stft^T (y_r, y_i), one basis signal at a time."""
    B, K, T = yr.shape
    L = (T - 1) * S + N - (2 * (N // 2) if center else 0)
    out = np.zeros((B, L))
    for i in range(L):
        e = np.zeros((1, L))
        e[0, i] = 1.0
        er, ei = stft_ref(e, W, S, N, center=center, pad_mode=pad_mode)
        out[:, i] = (yr * er).sum(axis=(1, 2)) + (yi * ei).sum(axis=(1, 2))
    return out


ROWS = INTERP_ROWS + FFT_ROWS + STFT_ROWS
