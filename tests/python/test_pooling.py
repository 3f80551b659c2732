"""Semantics of the pooling family that the op table cannot express: ties and
NaN in max_pooling, padding that never wins, ignore_border=False's sizes
(OPS.md, not torch's ceil_mode), average_pooling's divisors, the 5-D
global_average_pooling, embed's accumulation and bounds, the adjoint cycles
of the rules, and PyTorch as an oracle where the conventions coincide."""
import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F
from gradcheck import node_names
import op_db  # noqa: F401  (loads op_db_pooling through op_db, which it imports)
from op_db_pooling import pool_ref, unpool_ref

RNG = np.random.default_rng(11)


def f64(a, requires_grad=False):
    return ng.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def grad_of(y_fn, x, weight=None):
    y = y_fn(x)
    w = f64(np.ones(y.shape) if weight is None else weight)
    (g,) = ng.grad((y * w).sum(), [x])
    return np.asarray(g)


# ---- max_pooling: ties, padding, NaN --------------------------------------------

def test_ties_send_the_gradient_to_the_first_maximum_in_row_major_order():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 0] = x[0, 0, 1, 1] = 5.0         # window (0, 0): the tie at (1, 0) comes first
    x[0, 0, 2, 3] = x[0, 0, 3, 2] = 5.0         # window (1, 1): (2, 3) comes before (3, 2)
    xt = f64(x, requires_grad=True)
    g = grad_of(lambda v: F.max_pooling(v, (2, 2)), xt)
    want = np.zeros((4, 4))
    want[1, 0] = want[2, 3] = 1.0
    want[0, 2] = 1.0                             # window (0, 1) is all zeros: its first element
    want[2, 0] = 1.0                             # window (1, 0) likewise
    np.testing.assert_array_equal(g[0, 0], want)


def test_ties_in_channel_last_and_3d():
    # 3-d, channel first: each plane one tied 2x2x2 window -> its first element
    g = grad_of(lambda v: F.max_pooling(v, (2, 2, 2)), f64(np.ones((1, 2, 2, 2, 2)), True))
    want = np.zeros((1, 2, 2, 2, 2))
    want[0, :, 0, 0, 0] = 1.0
    np.testing.assert_array_equal(g, want)
    # 2-d, channel_last: each channel's first window element
    g = grad_of(lambda v: F.max_pooling(v, (2, 2), channel_last=True), f64(np.ones((1, 2, 2, 3)), True))
    want = np.zeros((1, 2, 2, 3))
    want[0, 0, 0, :] = 1.0
    np.testing.assert_array_equal(g, want)


def test_padding_never_wins():
    x = -1.0 - RNG.uniform(0, 1, (2, 3, 5, 5))   # every input below the zero padding
    xt = f64(x, requires_grad=True)
    y = F.max_pooling(xt, (3, 3), stride=(2, 2), pad=(1, 1))
    assert np.all(np.asarray(y) < -1.0)
    np.testing.assert_array_equal(np.asarray(y), pool_ref(x, (3, 3), (2, 2), pad=(1, 1)))
    g = grad_of(lambda v: F.max_pooling(v, (3, 3), stride=(2, 2), pad=(1, 1)), xt)
    assert g.sum() == y.size                      # every window's gradient lands on a real element
    # ignore_border=False: the last window hangs over the edge and is clipped, not padded
    y = F.max_pooling(f64(x), (3, 3), stride=(3, 3), ignore_border=False)
    assert y.shape == (2, 3, 2, 2)
    np.testing.assert_array_equal(np.asarray(y)[..., 1, 1], x[..., 3:, 3:].reshape(2, 3, -1).max(-1))


def test_nan_wins_and_takes_the_gradient():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 1, 0] = np.nan                       # a second NaN in the same window: the first one wins
    for ch_last, arr in ((False, x), (True, np.moveaxis(x, 1, -1))):
        xt = f64(arr, requires_grad=True)
        fn = lambda v: F.max_pooling(v, (2, 2), channel_last=ch_last)  # noqa: E731
        y = np.asarray(fn(xt))
        if ch_last:
            y = np.moveaxis(y, -1, 1)
        assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 0, 0, 1])
        g = grad_of(fn, xt)
        if ch_last:
            g = np.moveaxis(g, -1, 1)
        assert g[0, 0, 0, 1] == 1.0 and g[0, 0, 1, 0] == 0.0 and g[0, 0, 1, 1] == 0.0


def test_nan_and_ties_per_channel_with_channel_last():
    """channel_last with several channels runs the vectorised loop: NaN and ties per channel."""
    x = RNG.permutation(4 * 4 * 8).reshape(1, 4, 4, 8).astype(np.float64)
    x[0, 0, 1, 2] = np.nan                        # channel 2: NaN in window (0, 0)
    x[0, 1, 0, 5] = x[0, 1, 1, 5] = 1000.0        # channel 5: a tie in window (0, 0); (1, 0) comes first
    xt = f64(x, requires_grad=True)
    fn = lambda v: F.max_pooling(v, (2, 2), channel_last=True)  # noqa: E731
    y = np.asarray(fn(xt))
    want = np.moveaxis(pool_ref(np.moveaxis(x, -1, 1), (2, 2)), 1, -1)
    np.testing.assert_array_equal(y, want)        # NaN where the window holds one (assert_array_equal: NaN == NaN)
    assert np.isnan(y[0, 0, 0, 2]) and np.isnan(want[0, 0, 0, 2])
    g = grad_of(fn, xt)
    assert g[0, 0, 1, 2] == 1.0 and g[0, 1, 0, 5] == 1.0 and g[0, 1, 1, 5] == 0.0
    assert g.sum() == y.size


def test_second_order_of_max_pooling_gathers_at_the_argmax():
    xa = RNG.permutation(36).reshape(1, 1, 6, 6) * 0.1
    x = f64(xa, requires_grad=True)
    y = F.max_pooling(x, (2, 2))
    (g,) = ng.grad((y * y).sum(), [x], create_graph=True)        # 2 y scattered to the argmax
    assert "max_pooling_backward" in node_names(g)
    (h,) = ng.grad((g * g).sum(), [x], create_graph=True)        # sum 4 y^2 -> 8 y at the argmax
    names = node_names(h)
    assert "gather_rows" in names and "max_pooling_backward" in names
    at_max = np.zeros((6, 6), dtype=bool)
    for i in range(3):
        for j in range(3):
            a, b = np.unravel_index(np.argmax(xa[0, 0, 2 * i:2 * i + 2, 2 * j:2 * j + 2]), (2, 2))
            at_max[2 * i + a, 2 * j + b] = True
    np.testing.assert_allclose(np.asarray(h)[0, 0], np.where(at_max, 8 * xa[0, 0], 0.0))
    (k,) = ng.grad((h * h).sum(), [x], retain_graph=True)  # sum 64 y^2 -> 128 y at the argmax
    np.testing.assert_allclose(np.asarray(k)[0, 0], np.where(at_max, 128 * xa[0, 0], 0.0))
    # a Hessian-vector product along a constant v: 2 v at each argmax
    v = RNG.standard_normal(x.shape)
    (hv,) = ng.grad((g * f64(v)).sum(), [x])
    np.testing.assert_allclose(np.asarray(hv)[0, 0], np.where(at_max, 2 * v[0, 0], 0.0))


def test_window_pooling_ops_are_each_others_rule():
    for f, name in ((F.sum_pooling, "sum_pooling"), (F.average_pooling, "average_pooling")):
        x = f64(RNG.standard_normal((1, 2, 5, 5)), requires_grad=True)
        y = f(x, (3, 3), stride=(2, 2), pad=(1, 1))
        (g,) = ng.grad((y * y).sum(), [x], create_graph=True)
        (h,) = ng.grad((g * g).sum(), [x], create_graph=True)
        assert f"{name}_backward" in node_names(g)
        assert {name, f"{name}_backward"} <= node_names(h)


def test_adjoint_identity_of_window_pooling():
    """<pool(x), u> = <x, pool^T(u)> for random x, u, with every geometry variant."""
    for kw in (dict(kernel=(3, 2), stride=(2, 1), pad=(1, 1)), dict(kernel=(3, 3), ignore_border=False),
               dict(kernel=(2, 3, 2), stride=(1, 2, 2), pad=(1, 1, 0)),
               dict(kernel=(2, 2), pad=(1, 1), channel_last=True, including_pad=False)):
        for f in (F.sum_pooling, F.average_pooling):
            args = dict(kw)
            if f is F.sum_pooling:
                args.pop("including_pad", None)
            x = f64(RNG.standard_normal((2, 3, 5, 6, 4)), requires_grad=True)
            y = f(x, **args)
            u = RNG.standard_normal(y.shape)
            (g,) = ng.grad((y * f64(u)).sum(), [x])
            assert np.sum(np.asarray(y) * u) == pytest.approx(np.sum(np.asarray(x) * np.asarray(g)), rel=1e-12)


# ---- sizes and divisors -------------------------------------------------------------

@pytest.mark.parametrize("L, k, s, p", [(4, 3, 1, 0), (5, 2, 2, 0), (6, 3, 2, 1), (7, 3, 3, 2), (1, 3, 2, 0),
                                        (8, 2, 3, 1), (5, 5, 1, 0)])
def test_ignore_border_false_sizes_follow_ops_md(L, k, s, p):
    x = f64(RNG.standard_normal((1, 1, L, L)))
    for f in (F.max_pooling, F.sum_pooling, F.average_pooling):
        y = f(x, (k, k), stride=(s, s), pad=(p, p), ignore_border=False)
        O = (L + p - 1) // s + 1
        assert y.shape == (1, 1, O, O)
    if L + 2 * p >= k:
        y = F.max_pooling(x, (k, k), stride=(s, s), pad=(p, p))
        assert y.shape[-1] == (L + 2 * p - k) // s + 1


def test_ignore_border_false_is_not_ceil_mode():
    # L=4, k=3, s=1: OPS.md keeps every window that starts inside (4 windows); torch's ceil_mode gives 2.
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    y = F.max_pooling(f64(x), (3, 3), stride=(1, 1), ignore_border=False)
    assert y.shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(np.asarray(y)[0, 0, 3], [14, 15, 15, 15])   # windows over row 3 only
    np.testing.assert_array_equal(np.asarray(y)[0, 0, :, 3], [11, 15, 15, 15])


def test_average_divisors_with_and_without_padding():
    x = np.ones((1, 1, 3, 3))
    y = np.asarray(F.average_pooling(f64(x), (2, 2), stride=(2, 2), pad=(1, 1)))
    # windows [-1, 1) x [-1, 1): 1 real element of 4 -> 1/4; [1, 3) x [1, 3): 4 of 4 -> 1
    np.testing.assert_allclose(y[0, 0], [[0.25, 0.5], [0.5, 1.0]])
    y = np.asarray(F.average_pooling(f64(x), (2, 2), stride=(2, 2), pad=(1, 1), including_pad=False))
    np.testing.assert_allclose(y[0, 0], np.ones((2, 2)))
    # ignore_border=False, L = 4, k = 3, s = 2, p = 1: windows [-1, 2), [1, 4), [3, 6); the last one hangs
    # past L + p = 5 and is clipped to [3, 5): divisor 2 with one real element
    x = np.ones((1, 1, 1, 4))
    y = np.asarray(F.average_pooling(f64(x), (1, 3), stride=(1, 2), pad=(0, 1), ignore_border=False))
    np.testing.assert_allclose(y[0, 0, 0], [2 / 3, 1.0, 1 / 2])
    y = np.asarray(F.average_pooling(f64(x), (1, 3), stride=(1, 2), pad=(0, 1), ignore_border=False,
                                     including_pad=False))
    np.testing.assert_allclose(y[0, 0, 0], [1.0, 1.0, 1.0])


def test_windows_without_input_raise_for_max_and_valid_average_only():
    x = f64(np.ones((1, 1, 4, 4)))
    for call in (lambda: F.max_pooling(x, (2, 2), pad=(2, 2)),
                 lambda: F.average_pooling(x, (2, 2), pad=(2, 2), including_pad=False)):
        with pytest.raises(ValueError, match="no input element"):
            call()
    y = np.asarray(F.sum_pooling(x, (2, 2), pad=(2, 2)))
    assert y.shape == (1, 1, 4, 4) and y[0, 0, 0, 0] == 0 and y[0, 0, 1, 1] == 4
    y = np.asarray(F.average_pooling(x, (2, 2), pad=(2, 2)))
    assert y[0, 0, 0, 0] == 0 and y[0, 0, 1, 1] == 1


def test_leading_axes_are_batch_axes():
    x = RNG.standard_normal((2, 3, 2, 5, 6))
    y = np.asarray(F.max_pooling(f64(x), (2, 3)))
    want = np.asarray(F.max_pooling(f64(x.reshape(12, 5, 6)), (2, 3))).reshape(2, 3, 2, 2, 2)
    np.testing.assert_array_equal(y, want)
    y = np.asarray(F.average_pooling(f64(x[0, 0]), (2, 2)))   # no batch axis at all
    np.testing.assert_allclose(y, pool_ref(x[0, 0], (2, 2), mode="average"))


def test_global_average_pooling_5d_and_shapes():
    x = RNG.standard_normal((2, 3, 4, 5, 6))
    y = F.global_average_pooling(f64(x))
    assert y.shape == (2, 3, 1, 1)
    np.testing.assert_allclose(np.asarray(y)[:, :, 0, 0], x.mean(axis=(2, 3, 4)), rtol=1e-13)
    assert F.global_average_pooling(f64(x[:, :, 0, 0, 0])).shape == (2, 3, 1, 1)
    assert F.global_average_pooling(f64(x[:, :, :, 0, 0])).shape == (2, 3, 1, 1)


def test_float32_sums_of_large_values():
    x = (1000.0 + RNG.uniform(-1, 1, (2, 3, 9, 9))).astype(np.float32)
    y = np.asarray(F.average_pooling(ng.tensor(x), (3, 3), stride=(1, 1), pad=(1, 1), including_pad=False))
    np.testing.assert_allclose(y, pool_ref(x.astype(np.float64), (3, 3), (1, 1), pad=(1, 1), mode="average",
                                           including_pad=False), rtol=2e-7)


# ---- unpooling, embed ---------------------------------------------------------------

def test_unpooling_gradient_is_the_block_sum_sum_pooling():
    x = f64(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    y = F.unpooling(x, (2, 3))
    np.testing.assert_array_equal(np.asarray(y), unpool_ref(np.asarray(x), (2, 3)))
    u = RNG.standard_normal(y.shape)
    (g,) = ng.grad((y * f64(u)).sum(), [x])
    np.testing.assert_allclose(np.asarray(g), np.asarray(F.sum_pooling(f64(u), (2, 3))), rtol=1e-13)


def test_embed_repeated_indices_accumulate_and_cycle_through_gather_and_scatter():
    idx = ng.tensor(np.array([[1, 1, 0], [1, 3, 1]], dtype=np.int64))
    w = f64(RNG.standard_normal((4, 2)), requires_grad=True)
    y = F.embed(idx, w)
    assert y.shape == (2, 3, 2)
    (g,) = ng.grad((y * y).sum(), [w], create_graph=True)
    want = np.zeros((4, 2))
    for i in np.asarray(idx).ravel():
        want[i] += 2 * np.asarray(w)[i]
    np.testing.assert_allclose(np.asarray(g), want)   # row 1 counted four times, row 2 never
    assert {"embed", "scatter_rows_add"} <= node_names(g)
    (h,) = ng.grad((g * g).sum(), [w], create_graph=True)
    assert {"gather_rows", "scatter_rows_add"} <= node_names(h)
    assert not F.embed(idx, f64(np.ones((4, 2)))).requires_grad


def test_embed_rejects_indices_nnabla_would_read_out_of_bounds():
    w = f64(np.ones((3, 2)))
    for bad, text in ((3, "index 3"), (-1, "index -1"), (2 ** 40, "index 1099511627776")):
        with pytest.raises(IndexError, match=text):
            F.embed(ng.tensor(np.array([0, bad])), w)
    with pytest.raises(TypeError, match="int64"):
        F.embed(ng.tensor(np.array([True])), w)
    # an empty table: the message said "(valid: 0 to -1)"
    with pytest.raises(IndexError, match=r"index 0 is out of range for w of shape \(0, 2\) \(no rows\)"):
        F.embed(ng.tensor(np.array([0])), f64(np.ones((0, 2))))


# ---- PyTorch as an oracle ------------------------------------------------------------

def _torch_orders(ng_fn, torch_fn, x):
    """y, dy/dx (of sum(y^2 u)) and a Hessian-vector product, from both libraries."""
    torch = pytest.importorskip("torch")
    xn = f64(x, requires_grad=True)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yn, yt = ng_fn(xn), torch_fn(xt)
    u = RNG.standard_normal(tuple(yt.shape))
    v = RNG.standard_normal(x.shape)
    (gn,) = ng.grad((yn * yn * f64(u)).sum(), [xn], create_graph=True)
    (hn,) = ng.grad((gn * f64(v)).sum(), [xn])
    (gt,) = torch.autograd.grad((yt * yt * torch.tensor(u)).sum(), [xt], create_graph=True)
    (ht,) = torch.autograd.grad((gt * torch.tensor(v)).sum(), [xt])
    for a, b in ((yn, yt), (gn, gt), (hn, ht)):
        np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k, s, p", [((2, 2), None, (0, 0)), ((3, 3), (2, 2), (1, 1)), ((3, 2), (1, 2), (1, 0))])
def test_max_and_average_pooling_2d_match_torch(k, s, p):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = RNG.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) * 0.01
    _torch_orders(lambda v: F.max_pooling(v, k, stride=s, pad=p),
                  lambda v: tf.max_pool2d(v, k, stride=s or k, padding=p), x)
    for incl in (True, False):
        _torch_orders(lambda v: F.average_pooling(v, k, stride=s, pad=p, including_pad=incl),
                      lambda v: tf.avg_pool2d(v, k, stride=s or k, padding=p, count_include_pad=incl), x)
    # channel_last against torch on the transposed tensor
    xl = np.moveaxis(x, 1, -1).copy()
    _torch_orders(lambda v: F.max_pooling(v, k, stride=s, pad=p, channel_last=True),
                  lambda v: tf.max_pool2d(v.permute(0, 3, 1, 2), k, stride=s or k, padding=p).permute(0, 2, 3, 1), xl)


def test_3d_pooling_matches_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = RNG.permutation(2 * 5 * 6 * 5).reshape(1, 2, 5, 6, 5) * 0.01
    _torch_orders(lambda v: F.max_pooling(v, (2, 3, 2), stride=(1, 2, 2), pad=(1, 1, 0)),
                  lambda v: tf.max_pool3d(v, (2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0)), x)
    _torch_orders(lambda v: F.average_pooling(v, (3, 3, 2), stride=(2, 2, 1), pad=(1, 1, 1)),
                  lambda v: tf.avg_pool3d(v, (3, 3, 2), stride=(2, 2, 1), padding=(1, 1, 1)), x)


def test_embed_and_unpooling_match_torch():
    torch = pytest.importorskip("torch")
    idx = np.array([[0, 4, 4], [2, 4, 1]], dtype=np.int64)
    w = RNG.standard_normal((5, 3))
    wn = f64(w, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    yn, yt = F.embed(ng.tensor(idx), wn), torch.nn.functional.embedding(torch.tensor(idx), wt)
    u = RNG.standard_normal((2, 3, 3))
    (gn,) = ng.grad((yn * yn * f64(u)).sum(), [wn], create_graph=True)
    (gt,) = torch.autograd.grad((yt * yt * torch.tensor(u)).sum(), [wt], create_graph=True)
    (hn,) = ng.grad((gn * gn).sum(), [wn])
    (ht,) = torch.autograd.grad((gt * gt).sum(), [wt])
    for a, b in ((yn, yt), (gn, gt), (hn, ht)):
        np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=1e-12)
    x = RNG.standard_normal((2, 3, 3, 4))
    _torch_orders(lambda v: F.unpooling(v, (2, 3)),
                  lambda v: torch.nn.functional.interpolate(v, scale_factor=(2, 3), mode="nearest"), x)


def test_random_geometries_match_the_reference():
    """200 seeded random geometries (2-d / 3-d, stride, pad, ignore_border, channel_last, including_pad):
    forward against the NumPy loops, and each gradient against the reference's own adjoint
    (<pool(x), u> = <x, gx>) -- which also exercises both backward kernels (plane scatter, line gather)."""
    rng = np.random.default_rng(2024)
    for _ in range(200):
        n = int(rng.integers(2, 4))
        kernel = tuple(int(k) for k in rng.integers(1, 4, n))
        stride = tuple(int(s) for s in rng.integers(1, 4, n))
        pad = tuple(int(rng.integers(0, k)) for k in kernel)
        ignore_border = bool(rng.integers(0, 2))
        channel_last = bool(rng.integers(0, 2))
        including_pad = bool(rng.integers(0, 2))
        spatial = tuple(int(max(L, k)) for L, k in zip(rng.integers(1, 7, n), kernel))
        lead = (int(rng.integers(1, 3)), int(rng.integers(1, 4)))
        shape = lead + spatial if not channel_last else lead[:1] + spatial + lead[1:]
        x = RNG.permutation(int(np.prod(shape))).reshape(shape) * 0.01
        kw = dict(kernel=kernel, stride=stride, pad=pad, ignore_border=ignore_border, channel_last=channel_last)
        for mode, f, extra in (("max", F.max_pooling, {}), ("sum", F.sum_pooling, {}),
                               ("average", F.average_pooling, {"including_pad": including_pad})):
            xt = f64(x, requires_grad=True)
            y = f(xt, **kw, **extra)
            want = pool_ref(x, mode=mode, including_pad=including_pad, **kw)
            np.testing.assert_allclose(np.asarray(y), want, rtol=1e-12, atol=1e-12, err_msg=f"{mode} {kw}")
            u = RNG.standard_normal(y.shape)
            (g,) = ng.grad((y * f64(u)).sum(), [xt])
            assert np.sum(want * u) == pytest.approx(np.sum(x * np.asarray(g)), rel=1e-10, abs=1e-10), (mode, kw)


def test_kernels_of_2_31_on_three_axes():
    # (review) the kernels' work estimates multiplied the three kernel sizes (2^93: signed overflow, UB);
    # the windows are clipped to the input, so this is a 1-element window
    k = [2 ** 31 - 1] * 3
    x = f64(np.array([[[[[3.0]]]]]), requires_grad=True)
    for fn in (F.max_pooling, F.average_pooling, F.sum_pooling):
        y = fn(x, k, ignore_border=False)
        (g,) = ng.grad((y * y).sum(), [x])
        assert np.asarray(y).ravel().tolist() == [3.0] and np.asarray(g).ravel().tolist() == [6.0]
