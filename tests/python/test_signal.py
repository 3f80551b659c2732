"""Semantics of the signal family that the op table cannot express: inverse
pairs, Parseval, perfect reconstruction of istft(stft(x)), the adjoint
identities of the helper ops, large FFTs against numpy.fft, and PyTorch as an
oracle where the conventions coincide."""
import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F
from nthgrad import _C
from gradcheck import node_names
import op_db  # noqa: F401  (loads op_db_signal through op_db, which it imports)
from op_db_signal import interp_ref, stft_ref

RNG = np.random.default_rng(7)


def f64(a, requires_grad=False):
    return ng.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def complex_of(y):
    y = np.asarray(y)
    return y[..., 0] + 1j * y[..., 1]


def inner(a, b):
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


# ---- fft / ifft ---------------------------------------------------------------

SIGNALS = [((4, 8, 2), 1), ((3, 5, 2), 1), ((2, 7, 12, 2), 2), ((2, 3, 5, 4, 2), 3), ((13, 2), 1), ((1, 1, 2), 2)]


@pytest.mark.parametrize("shape, d", SIGNALS)
@pytest.mark.parametrize("normalized", [False, True])
def test_ifft_inverts_fft(shape, d, normalized):
    x = RNG.standard_normal(shape)
    back = F.ifft(F.fft(f64(x), d, normalized=normalized), d, normalized=normalized)
    np.testing.assert_allclose(np.asarray(back), x, rtol=0, atol=1e-12)
    back = F.fft(F.ifft(f64(x), d, normalized=normalized), d, normalized=normalized)
    np.testing.assert_allclose(np.asarray(back), x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape, d", SIGNALS)
def test_parseval_with_normalized(shape, d):
    x = RNG.standard_normal(shape)
    for op in (F.fft, F.ifft):
        y = np.asarray(op(f64(x), d, normalized=True))
        assert np.sum(y * y) == pytest.approx(np.sum(x * x), rel=1e-12)


def test_every_length_up_to_70_matches_numpy():
    """Radix 2 for powers of two, Bluestein for the rest: each length once, both directions."""
    for n in list(range(1, 71)) + [97, 100, 127, 128, 243, 1000]:
        x = RNG.standard_normal((2, n, 2))
        z = complex_of(x)
        np.testing.assert_allclose(complex_of(F.fft(f64(x), 1)), np.fft.fft(z, axis=-1), atol=1e-12 * n, rtol=0)
        np.testing.assert_allclose(complex_of(F.ifft(f64(x), 1)), np.fft.ifft(z, axis=-1), atol=1e-13, rtol=0)


@pytest.mark.parametrize("n", [1 << 16, 65537])
def test_large_fft_matches_numpy(n):
    x = RNG.standard_normal((n, 2))
    z = complex_of(x)
    for op, ref in ((F.fft, np.fft.fft), (F.ifft, np.fft.ifft)):
        got = complex_of(op(f64(x), 1))
        want = ref(z)
        assert np.max(np.abs(got - want)) <= 1e-9 * np.max(np.abs(want))


def test_float32_fft_is_accurate():
    """float32 in and out, double inside: the error is the final rounding only."""
    x = RNG.standard_normal((3, 1000, 2)).astype(np.float32)
    got = complex_of(F.fft(ng.tensor(x), 1))
    want = np.fft.fft(complex_of(x.astype(np.float64)), axis=-1)
    assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want))


def test_fft_is_deterministic():
    x = f64(RNG.standard_normal((64, 96, 2)))
    a, b = np.asarray(F.fft(x, 2)), np.asarray(F.fft(x, 2))
    assert np.array_equal(a, b)


def test_fft_of_empty_batches_and_size_one_signals():
    assert F.fft(f64(np.zeros((0, 4, 2))), 1).shape == (0, 4, 2)
    x = RNG.standard_normal((3, 1, 2))
    np.testing.assert_allclose(np.asarray(F.fft(f64(x), 1, normalized=True)), x)
    np.testing.assert_allclose(np.asarray(F.ifft(f64(x), 1)), x)


@pytest.mark.parametrize("normalized", [False, True])
def test_fft_gradient_is_its_adjoint(normalized):
    """<fft(x), w> = <x, fft_backward(w)>, and fft_backward = N ifft (unnormalized) or the normalized ifft."""
    x, w = RNG.standard_normal((2, 6, 5, 2)), RNG.standard_normal((2, 6, 5, 2))
    xt = f64(x, requires_grad=True)
    (g,) = ng.grad(F.sum(F.fft(xt, 2, normalized=normalized) * f64(w)), [xt])
    want = np.asarray(F.ifft(f64(w), 2, normalized=normalized)) * (1 if normalized else 30)
    np.testing.assert_allclose(np.asarray(g), want, atol=1e-12)
    assert inner(F.fft(f64(x), 2, normalized=normalized), w) == pytest.approx(inner(x, g), rel=1e-12)


def test_fft_and_its_adjoint_alternate_in_higher_orders():
    x = f64(RNG.standard_normal((8, 2)), requires_grad=True)
    y = F.fft(x, 1)
    (g,) = ng.grad(F.sum(y * y), [x], create_graph=True)
    assert {"fft", "fft_backward"} <= node_names(g)
    (h,) = ng.grad(F.sum(g * g), [x], create_graph=True)
    assert {"fft", "fft_backward"} <= node_names(h)


def test_parseval_closed_form_derivatives():
    """E = |fft(x, normalized)|^2 = |x|^2: gradient 2x, Hessian 2I, third derivative 0."""
    x0 = RNG.standard_normal((3, 5, 2))
    v = f64(RNG.standard_normal((3, 5, 2)))
    x = f64(x0, requires_grad=True)
    y = F.fft(x, 2, normalized=True)
    (g,) = ng.grad(F.sum(y * y), [x], create_graph=True)
    np.testing.assert_allclose(np.asarray(g), 2 * x0, atol=1e-12)
    (h,) = ng.grad(F.sum(g * v), [x], create_graph=True, allow_unused=True)
    np.testing.assert_allclose(np.asarray(h), 2 * np.asarray(v), atol=1e-12)


# ---- interpolate ------------------------------------------------------------------

INTERP_CASES = [
    ((2, 3, 5), (7,), "linear", {}),
    ((2, 3, 5), (7,), "linear", {"align_corners": True}),
    ((2, 3, 5), (4,), "linear", {"half_pixel": True}),
    ((2, 4, 5), (3, 8), "linear", {}),
    ((2, 4, 5), (3, 8), "linear", {"align_corners": True}),
    ((2, 4, 5), (7, 2), "linear", {"half_pixel": True}),
    ((1, 3, 4, 5), (2, 6, 3), "linear", {}),
    ((1, 3, 4, 5), (5, 2, 7), "linear", {"align_corners": True}),
    ((1, 3, 4, 5), (5, 2, 7), "linear", {"half_pixel": True}),
    ((2, 3, 5), (8,), "nearest", {}),
    ((2, 4, 5), (7, 3), "nearest", {"half_pixel": True}),
    ((2, 4, 5), (7, 3), "nearest", {"align_corners": True}),
    ((1, 3, 4, 5), (5, 2, 7), "nearest", {"half_pixel_for_nn": True}),
]


@pytest.mark.parametrize("shape, out, mode, flags", INTERP_CASES)
def test_interpolate_backward_is_the_adjoint(shape, out, mode, flags):
    x = RNG.standard_normal(shape)
    y = RNG.standard_normal(shape[:len(shape) - len(out)] + out)
    fx = F.interpolate(f64(x), output_size=out, mode=mode, **flags)
    bty = _C.interpolate_backward(f64(y), shape[len(shape) - len(out):], mode, **flags)
    assert inner(fx, y) == pytest.approx(inner(x, bty), rel=1e-12)
    # and it is the gradient, whose own gradient is interpolate again
    gy = f64(y, requires_grad=True)
    b = _C.interpolate_backward(gy, shape[len(shape) - len(out):], mode, **flags)
    (g,) = ng.grad(F.sum(b * f64(x)), [gy])
    np.testing.assert_allclose(np.asarray(g), np.asarray(fx), atol=1e-12)
    assert node_names(b) - {"AccumulateGrad"} == {"interpolate_backward"}


def test_interpolate_backward_checks_its_arguments():
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        _C.interpolate_backward(f64(np.zeros((2, 3))), (4, 5, 6))
    with pytest.raises(ValueError, match="half_pixel"):
        _C.interpolate_backward(f64(np.zeros((2, 3))), (4,), align_corners=True, half_pixel=True)
    with pytest.raises(TypeError, match="int64"):
        _C.interpolate_backward(ng.tensor(np.zeros((2, 3), dtype=np.int64)), (4,))


def test_interpolate_coordinates_pinned():
    """OPS.md's rules on a ramp: default o L/O (asymmetric), align_corners, half_pixel, nearest."""
    x = f64(np.arange(4.0))
    np.testing.assert_allclose(np.asarray(F.interpolate(x, output_size=(8,))), [0, .5, 1, 1.5, 2, 2.5, 3, 3])
    np.testing.assert_allclose(np.asarray(F.interpolate(x, output_size=(7,), align_corners=True)),
                               [0, .5, 1, 1.5, 2, 2.5, 3])
    np.testing.assert_allclose(np.asarray(F.interpolate(x, output_size=(8,), half_pixel=True)),
                               [0, .25, .75, 1.25, 1.75, 2.25, 2.75, 3])
    np.testing.assert_allclose(np.asarray(F.interpolate(x, output_size=(3,), mode="nearest")), [0, 1, 2])
    np.testing.assert_allclose(np.asarray(F.interpolate(x, output_size=(3,), mode="nearest",
                                                        half_pixel_for_nn=True)), [0, 2, 3])
    np.testing.assert_allclose(np.asarray(F.interpolate(x, output_size=(1,), align_corners=True)), [0])
    # from scale: O = floor(scale L)
    assert F.interpolate(f64(np.zeros((2, 5, 3))), scale=(1.5, 0.7)).shape == (2, 7, 2)


def test_interpolate_channel_last_matches_channel_first():
    x = RNG.standard_normal((2, 4, 5, 3))
    a = F.interpolate(f64(x), output_size=(7, 2), channel_last=True)
    b = F.interpolate(f64(np.moveaxis(x, -1, 1)), output_size=(7, 2))
    np.testing.assert_allclose(np.asarray(a), np.moveaxis(np.asarray(b), 1, -1), atol=1e-14)


def test_interpolate_rejects_huge_outputs_without_crashing():
    with pytest.raises((ValueError, MemoryError)):
        F.interpolate(f64(np.zeros((2, 3))), output_size=(2 ** 40, 2 ** 40))


# ---- stft / istft -----------------------------------------------------------------

STFT_CASES = [  # window_size, stride, fft_size, window_type, length
    (16, 4, 16, "hanning", 64),
    (16, 4, 16, "hamming", 60),
    (12, 3, 16, "hanning", 45),
    (7, 2, 9, "hamming", 31),
    (8, 8, 8, "rectangular", 40),
    (5, 5, 5, "rectangular", 25),
    # from fft_size 256 the real DFTs run through the fft op instead of a dense matrix
    (256, 64, 256, "hanning", 700),
    (200, 50, 257, "hamming", 611),
]


@pytest.mark.parametrize("W, S, N, kind, L", STFT_CASES)
@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
def test_istft_of_stft_reconstructs(W, S, N, kind, L, pad_mode):
    x = RNG.standard_normal((2, L))
    yr, yi = F.stft(f64(x), W, S, N, window_type=kind, pad_mode=pad_mode)
    back = np.asarray(F.istft(yr, yi, W, S, N, window_type=kind))
    n = min(L, back.shape[1])  # istft returns (frames - 1) * stride (+ 1 for odd fft_size) samples
    assert back.shape[1] == (yr.shape[2] - 1) * S + N - 2 * (N // 2)
    np.testing.assert_allclose(back[:, :n], x[:, :n], rtol=0, atol=1e-10)


@pytest.mark.parametrize("W, S, N, kind", [(256, 64, 256, "hanning"), (250, 100, 301, "hamming"),
                                           (16, 4, 16, "hanning")])
def test_stft_matches_numpy_on_both_dft_paths(W, S, N, kind):
    x = RNG.standard_normal((2, 3 * N))
    for pad_mode in ("reflect", "constant"):
        yr, yi = F.stft(f64(x), W, S, N, window_type=kind, pad_mode=pad_mode)
        wr, wi = stft_ref(x, W, S, N, kind, pad_mode=pad_mode)
        np.testing.assert_allclose(np.asarray(yr), wr, atol=1e-10)
        np.testing.assert_allclose(np.asarray(yi), wi, atol=1e-10)
    # float32 on the fft path
    yr32, _ = F.stft(ng.tensor(x.astype(np.float32)), W, S, N, window_type=kind)
    assert yr32.dtype == ng.float32
    np.testing.assert_allclose(np.asarray(yr32), stft_ref(x.astype(np.float32).astype(np.float64), W, S, N, kind)[0],
                               atol=1e-4)


@pytest.mark.parametrize("N, order", [(256, 3), (259, 2)])
def test_fft_path_gradients_by_finite_differences(N, order):
    """Squared outputs, so that the gradient graph runs fft / fft_backward on x-dependent values."""
    from gradcheck import check_gradients
    x = RNG.standard_normal((1, N + 40))
    check_gradients(lambda v: (lambda r, i: r * r + i * i)(*F.stft(v, N - 20, 128, N, window_type="hamming")), [x],
                    order=order)
    yr, yi = (np.asarray(v)[:, :, :3] for v in F.stft(f64(x), N, 64, N))
    check_gradients(lambda a, b: (lambda z: z * z)(F.istft(a, b, N, 64, N, window_type="hamming")), [yr, yi],
                    order=order)


def test_stft_window_none_is_rectangular():
    x = f64(RNG.standard_normal((1, 20)))
    a = F.stft(x, 4, 2, 4, window_type=None)
    b = F.stft(x, 4, 2, 4, window_type="rectangular")
    np.testing.assert_array_equal(np.asarray(a[0]), np.asarray(b[0]))


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("W, S, N", [(8, 2, 8), (260, 65, 260)])
def test_stft_and_istft_adjoint_flags(center, W, S, N):
    """<istft(y), x> = <y, stft(x, as_istft_backward)> and <stft(x), y> = <x, istft(y, as_stft_backward)>."""
    # lengths whose frames end exactly at the signal's end (else istft returns fewer samples)
    x = RNG.standard_normal((2, 12 * S if center else N + 10 * S))
    kind = "hanning" if center else "hamming"  # without center a hanning window breaks NOLA at sample 0
    yr, yi = (np.asarray(v) for v in F.stft(f64(x), W, S, N, window_type=kind, center=center))
    ar, ai = RNG.standard_normal(yr.shape), RNG.standard_normal(yi.shape)
    for pad_mode in (["reflect", "constant"] if center else ["reflect"]):
        sr, si = F.stft(f64(x), W, S, N, window_type=kind, center=center, pad_mode=pad_mode)
        adj = F.istft(f64(ar), f64(ai), W, S, N, window_type=kind, center=center, pad_mode=pad_mode,
                      as_stft_backward=True)
        assert inner(sr, ar) + inner(si, ai) == pytest.approx(inner(x, adj), rel=1e-11)
    xi = np.asarray(F.istft(f64(ar), f64(ai), W, S, N, window_type=kind, center=center))
    b = RNG.standard_normal(xi.shape)
    br, bi = F.stft(f64(b), W, S, N, window_type=kind, center=center, pad_mode="constant", as_istft_backward=True)
    assert inner(xi, b) == pytest.approx(inner(br, ar) + inner(bi, ai), rel=1e-11)


@pytest.mark.parametrize("center", [True, False])
def test_stft_adjoint_with_stride_beyond_the_frame(center):
    # with center, istft's length (frames - 1) * stride + fft_size - 2 * (fft_size // 2) must be x's length
    x = RNG.standard_normal((2, 24 if center else 27))
    yr, yi = F.stft(f64(x), 4, 6, 4, window_type="hamming", center=center, pad_mode="constant")
    ar, ai = RNG.standard_normal(yr.shape), RNG.standard_normal(yi.shape)
    adj = np.asarray(F.istft(f64(ar), f64(ai), 4, 6, 4, window_type="hamming", center=center, pad_mode="constant",
                             as_stft_backward=True))
    n = adj.shape[1]  # the samples after the last frame get no gradient and are not returned
    assert inner(yr, ar) + inner(yi, ai) == pytest.approx(inner(x[:, :n], adj), rel=1e-11)


def test_stft_any_stride_with_one_frame():
    x = RNG.standard_normal((2, 10))
    yr, yi = F.stft(f64(x), 4, 2 ** 62, 4, window_type="hamming", center=False)
    wr, wi = stft_ref(x, 4, 2 ** 62, 4, "hamming", center=False)
    np.testing.assert_allclose(np.asarray(yr), wr, atol=1e-12)
    np.testing.assert_allclose(np.asarray(yi), wi, atol=1e-12)
    back = F.istft(yr, yi, 4, 2 ** 62, 4, window_type="hamming", center=False)
    np.testing.assert_allclose(np.asarray(back), x[:, :4], atol=1e-12)


def test_bad_python_arguments_raise_python_errors():
    x = f64(np.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match="output_size"):
        F.interpolate(x, output_size=[2 ** 70])
    with pytest.raises(ValueError, match="scale"):
        F.interpolate(x, scale=[1e300])
    with pytest.raises(TypeError, match="window_type"):
        F.stft(f64(np.zeros((1, 10))), 4, 2, 4, window_type=3)
    with pytest.raises(TypeError):
        F.fft(x, 2 ** 70)
    with pytest.raises(ValueError, match="reflect"):
        F.istft(f64(np.zeros((1, 3, 1))), f64(np.zeros((1, 3, 1))), 4, 2, 4, as_stft_backward=True)


def test_istft_rejects_overflowing_lengths():
    y = f64(np.zeros((1, 5, 3)))
    with pytest.raises(ValueError):
        F.istft(y, y, 8, 2 ** 62, 8)


def test_stft_gradient_is_istft_as_stft_backward():
    """The gradient that the composition gives equals nnabla's as_stft_backward adjoint."""
    x = f64(RNG.standard_normal((2, 30)), requires_grad=True)
    yr, yi = F.stft(x, 8, 2, 8)
    ar, ai = f64(RNG.standard_normal(yr.shape)), f64(RNG.standard_normal(yi.shape))
    (g,) = ng.grad(F.sum(yr * ar) + F.sum(yi * ai), [x])
    want = F.istft(ar, ai, 8, 2, 8, as_stft_backward=True)
    np.testing.assert_allclose(np.asarray(g), np.asarray(want), atol=1e-12)


def test_stft_third_order_through_the_composition():
    """sum(|stft(x)|^2) is a quadratic form: its third derivative vanishes, its Hessian is constant."""
    x0 = RNG.standard_normal((1, 24))
    v = f64(RNG.standard_normal((1, 24)))
    hs = []
    for x_val in (x0, x0 + 1.0):
        x = f64(x_val, requires_grad=True)
        yr, yi = F.stft(x, 8, 4, 8)
        (g,) = ng.grad(F.sum(yr * yr) + F.sum(yi * yi), [x], create_graph=True)
        (h,) = ng.grad(F.sum(g * v), [x], create_graph=True)
        hs.append(np.asarray(h))
        if h.requires_grad:  # the graph may keep a (zero) dependence on x
            (t3,) = ng.grad(F.sum(h * v), [x], allow_unused=True)
            assert t3 is None or np.allclose(np.asarray(t3), 0)
    np.testing.assert_allclose(hs[0], hs[1], atol=1e-10)


# ---- PyTorch as an oracle, where the conventions coincide ---------------------------

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TORCH_MODE = {1: "linear", 2: "bilinear", 3: "trilinear"}


@pytest.mark.parametrize("shape, out", [((2, 3, 5), (9,)), ((2, 3, 4, 5), (7, 3)), ((1, 2, 3, 4, 5), (5, 2, 7))])
def test_interpolate_linear_matches_torch(shape, out):
    x = RNG.standard_normal(shape)
    tx = torch.tensor(x)
    mode = TORCH_MODE[len(out)]
    # align_corners is torch's align_corners=True; half_pixel is torch's align_corners=False
    for flags, tac in (({"align_corners": True}, True), ({"half_pixel": True}, False)):
        got = np.asarray(F.interpolate(f64(x), output_size=out, **flags))
        want = TF.interpolate(tx, size=out, mode=mode, align_corners=tac).numpy()
        np.testing.assert_allclose(got, want, atol=1e-12)
    # and our NumPy reference agrees with both
    np.testing.assert_allclose(interp_ref(x, out, coord="half_pixel"),
                               TF.interpolate(tx, size=out, mode=mode, align_corners=False).numpy(), atol=1e-12)
    # gradients: torch's backward against interpolate_backward
    w = RNG.standard_normal(shape[:2] + out)
    tx.requires_grad_(True)
    (tg,) = torch.autograd.grad((TF.interpolate(tx, size=out, mode=mode, align_corners=True) * torch.tensor(w)).sum(),
                                [tx])
    xt = f64(x, requires_grad=True)
    (g,) = ng.grad(F.sum(F.interpolate(xt, output_size=out, align_corners=True) * f64(w)), [xt])
    np.testing.assert_allclose(np.asarray(g), tg.numpy(), atol=1e-12)


@pytest.mark.parametrize("shape, out", [((2, 3, 5), (9,)), ((2, 3, 7, 5), (3, 8))])
def test_interpolate_nearest_matches_torch(shape, out):
    x = RNG.standard_normal(shape)
    tx = torch.tensor(x)
    # default nearest (floor(o L / O)) is torch's 'nearest'; half_pixel_for_nn is 'nearest-exact'
    np.testing.assert_allclose(np.asarray(F.interpolate(f64(x), output_size=out, mode="nearest")),
                               TF.interpolate(tx, size=out, mode="nearest").numpy())
    np.testing.assert_allclose(
        np.asarray(F.interpolate(f64(x), output_size=out, mode="nearest", half_pixel_for_nn=True)),
        TF.interpolate(tx, size=out, mode="nearest-exact").numpy())


@pytest.mark.parametrize("W, S, N, kind, L", STFT_CASES[:4])
def test_stft_and_istft_match_torch(W, S, N, kind, L):
    x = RNG.standard_normal((2, L))
    i = np.arange(W)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * i / W) if kind == "hanning" else 0.54 - 0.46 * np.cos(2 * np.pi * i / W)
    z = torch.stft(torch.tensor(x), N, S, W, torch.tensor(win), center=True, pad_mode="reflect",
                   return_complex=True).numpy()
    yr, yi = F.stft(f64(x), W, S, N, window_type=kind)
    np.testing.assert_allclose(np.asarray(yr), z.real, atol=1e-11)
    np.testing.assert_allclose(np.asarray(yi), z.imag, atol=1e-11)
    np.testing.assert_allclose(np.asarray(yr), stft_ref(x, W, S, N, kind)[0], atol=1e-11)
    back = torch.istft(torch.tensor(z), N, S, W, torch.tensor(win), center=True).numpy()
    got = np.asarray(F.istft(yr, yi, W, S, N, window_type=kind))
    n = min(back.shape[1], got.shape[1])
    np.testing.assert_allclose(got[:, :n], back[:, :n], atol=1e-10)


def test_fft_matches_torch():
    x = RNG.standard_normal((2, 5, 6, 7, 2))
    z = torch.tensor(complex_of(x))
    for d in (1, 2, 3):
        dims = tuple(range(-d, 0))
        np.testing.assert_allclose(complex_of(F.fft(f64(x), d, normalized=True)),
                                   torch.fft.fftn(z, dim=dims, norm="ortho").numpy(), atol=1e-12)
        np.testing.assert_allclose(complex_of(F.ifft(f64(x), d)), torch.fft.ifftn(z, dim=dims).numpy(), atol=1e-12)


def test_signal_graphs_free_everything():
    """Higher-order graphs through the adjoint pairs and the stft composition leave nothing alive."""
    import gc
    gc.collect()
    before = ng.live_counts()
    x = f64(RNG.standard_normal((2, 40)), requires_grad=True)
    yr, yi = F.stft(x, 8, 2, 8)
    z = F.istft(yr * yr, yi, 8, 2, 8)
    s = F.sum(z * z) + F.sum(F.fft(F.reshape(x, (2, 20, 2)), 1) ** 2)
    s = s + F.sum(F.interpolate(x, output_size=(7,)) ** 2)
    (g,) = ng.grad(s, [x], create_graph=True)
    (h,) = ng.grad(F.sum(g * g), [x], create_graph=True)
    h.sum().backward()
    del x, yr, yi, z, s, g, h
    gc.collect()
    assert ng.live_counts() == before
