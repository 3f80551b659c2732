"""Convolution family (issue 8): the adjoint cycle in the graph, the kernels'
threading paths and layouts, and agreement with PyTorch at orders 1 and 2."""
import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F
import op_db  # noqa: F401,E402  (op_db imports op_db_conv; importing it first avoids a cycle)
from gradcheck import node_names
from op_db_conv import conv_ref, deconv_ref

_C = ng._C
CYCLE = {"convolution", "deconvolution", "convolution_weight_grad"}


def _t(a, requires_grad=False, dtype=ng.float64):
    return ng.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def _rand(rng, *shape):
    return rng.standard_normal(shape)


# ---- the cycle: each op's gradients are the other two ops ----

def test_convolution_gradients_are_deconvolution_and_weight_grad():
    rng = np.random.default_rng(0)
    x, w, b = _t(_rand(rng, 2, 4, 5, 5), True), _t(_rand(rng, 6, 2, 3, 3), True), _t(_rand(rng, 6), True)
    y = F.convolution(x, w, b, pad=(1, 1), stride=(2, 1), group=2)
    gx, gw, gb = ng.grad((y * y).sum(), [x, w, b], create_graph=True)
    assert gx.grad_fn.name == "deconvolution"
    assert gw.grad_fn.name == "convolution_weight_grad"
    assert gb.grad_fn.name == "sum"
    # second order: the weight gradient's own rule is a convolution and a deconvolution
    ggx, ggw = ng.grad((gw * gw).sum(), [x, w], create_graph=True)
    names = node_names(ggx, ggw)
    assert CYCLE <= names
    assert {"convolution", "deconvolution", "convolution_weight_grad"} >= {n for n in names if "conv" in n}


def test_deconvolution_gradients_are_convolution_and_weight_grad():
    rng = np.random.default_rng(1)
    x, w = _t(_rand(rng, 2, 4, 3, 3), True), _t(_rand(rng, 4, 3, 3, 3), True)
    y = F.deconvolution(x, w, stride=(2, 2), output_padding=(1, 1), group=2)
    gx, gw = ng.grad((y * y).sum(), [x, w], create_graph=True)
    assert gx.grad_fn.name == "convolution"
    assert gw.grad_fn.name == "convolution_weight_grad"
    # the weight gradient of a deconvolution is the convolution's, with x and gy swapped
    gy = 2 * y
    swapped = _C.convolution_weight_grad(gy, x, [3, 3], stride=[2, 2], group=2)
    np.testing.assert_allclose(np.asarray(gw), np.asarray(swapped), rtol=1e-12, atol=1e-12)


def test_weight_grad_rule_is_a_convolution_and_a_deconvolution():
    rng = np.random.default_rng(2)
    x, gy = _t(_rand(rng, 2, 3, 6), True), _t(_rand(rng, 2, 4, 4), True)
    gw = _C.convolution_weight_grad(x, gy, [3])
    g = _t(_rand(rng, 4, 3, 3))
    dx, dgy = ng.grad((gw * g).sum(), [x, gy], create_graph=True)
    assert dx.grad_fn.name == "deconvolution" and dgy.grad_fn.name == "convolution"
    # bilinear: d<gw, g>/dgy = convolution(x, g), d/dx = deconvolution(gy, g)
    np.testing.assert_allclose(np.asarray(dgy), conv_ref(np.asarray(x), np.asarray(g)), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(dx), deconv_ref(np.asarray(gy), np.asarray(g)), rtol=1e-12)


def test_deconvolution_is_the_adjoint_of_convolution():
    rng = np.random.default_rng(3)
    for kw, xs, ws in [({"pad": (1, 2), "stride": (2, 3), "dilation": (2, 1), "group": 3}, (2, 6, 9, 8), (3, 2, 2, 3)),
                       ({"stride": (2,), "pad": (1,)}, (3, 2, 10), (4, 2, 3))]:
        x, w = _rand(rng, *xs), _rand(rng, *ws)
        y = np.asarray(F.convolution(_t(x), _t(w), **kw))
        # the output_padding that gives back x's size
        n = len(ws) - 2
        s = kw.get("stride", (1,) * n)
        p, d = kw.get("pad", (0,) * n), kw.get("dilation", (1,) * n)
        op = tuple((xs[2 + a] + 2 * p[a] - d[a] * (ws[2 + a] - 1) - 1) % s[a] for a in range(n))
        v = _rand(rng, *y.shape)
        xv = np.asarray(F.deconvolution(_t(v), _t(w), output_padding=op, **kw))
        assert xv.shape == x.shape
        np.testing.assert_allclose(np.sum(y * v), np.sum(x * xv), rtol=1e-10)


# ---- layouts and options ----

def test_channel_last_equals_channel_first():
    rng = np.random.default_rng(4)
    x, w, b = _rand(rng, 2, 4, 6, 5), _rand(rng, 6, 2, 3, 2), _rand(rng, 6)
    kw = {"pad": (1, 0), "stride": (1, 2), "group": 2}
    want = np.asarray(F.convolution(_t(x), _t(w), _t(b), **kw))
    got = np.asarray(F.convolution(_t(np.moveaxis(x, 1, -1)), _t(np.moveaxis(w, 1, -1)), _t(b), channel_last=True,
                                   **kw))
    np.testing.assert_allclose(np.moveaxis(got, -1, 1), want, rtol=1e-12)
    wd = _rand(rng, 4, 3, 2, 2)
    want = np.asarray(F.deconvolution(_t(x), _t(wd), stride=(2, 2), output_padding=(1, 0), group=2))
    got = np.asarray(F.deconvolution(_t(np.moveaxis(x, 1, -1)), _t(np.moveaxis(wd, 1, -1)), stride=(2, 2),
                                     output_padding=(1, 0), group=2, channel_last=True))
    np.testing.assert_allclose(np.moveaxis(got, -1, 1), want, rtol=1e-12)


CHANNEL_LAST_CASES = [
    # small, batch-parallel, one item (parallel im2col / col2im over positions / channels), 1x1, 3-d
    ((2, 4, 6, 5), (6, 2, 3, 2), {"pad": (1, 0), "stride": (1, 2), "group": 2}),
    ((8, 16, 12, 12), (32, 8, 3, 3), {"pad": (1, 1), "group": 2}),
    ((1, 16, 40, 40), (8, 16, 3, 3), {"pad": (1, 2), "stride": (2, 1), "dilation": (1, 2)}),
    ((4, 6, 5, 5), (4, 3, 1, 1), {"group": 2}),
    ((2, 2, 4, 5, 4), (4, 1, 2, 3, 2), {"stride": (1, 2, 1), "pad": (0, 1, 1), "group": 2}),
]


@pytest.mark.parametrize("xs, ws, kw", CHANNEL_LAST_CASES)
@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "deconv"])
def test_channel_last_kernels_equal_channel_first(xs, ws, kw, transposed):
    """The channel_last kernels (their own im2col / col2im) against the channel-first ones, with gradients."""
    rng = np.random.default_rng(8)
    op = F.deconvolution if transposed else F.convolution
    if transposed:  # x of the deconvolution has the convolution's output channels
        ws = (ws[1] * kw.get("group", 1), ws[0] // kw.get("group", 1)) + ws[2:]
        kw = dict(kw, dilation=kw.get("dilation"))
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    results = []
    for cl in (False, True):
        xt = _t(np.moveaxis(x, 1, -1) if cl else x, True)
        wt = _t(np.moveaxis(w, 1, -1) if cl else w, True)
        y = op(xt, wt, channel_last=cl, **kw)
        gx, gw = ng.grad((y * y).sum(), [xt, wt])
        back = (lambda a: np.moveaxis(np.asarray(a), -1, 1)) if cl else np.asarray
        results.append([back(y), back(gx), back(gw)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_depthwise_ops_are_grouped_convolutions():
    rng = np.random.default_rng(5)
    x, w = _rand(rng, 2, 3, 6, 6), _rand(rng, 6, 3, 3)
    got = F.depthwise_convolution(_t(x), _t(w), multiplier=2, pad=(1, 1))
    want = F.convolution(_t(x), _t(w[:, None]), group=3, pad=(1, 1))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12)
    # channel c of y reads only channel c // m of x
    y = np.asarray(F.depthwise_convolution(_t(x * (np.arange(3) == 1)[None, :, None, None]), _t(w), multiplier=2))
    assert np.all(y[:, [0, 1, 4, 5]] == 0) and np.any(y[:, [2, 3]] != 0)
    # depthwise_deconvolution sums input channels c*d .. c*d+d-1 into output c
    x4, w4 = _rand(rng, 2, 4, 3, 3), _rand(rng, 4, 2, 2)
    y = np.asarray(F.depthwise_deconvolution(_t(x4), _t(w4), divisor=2))
    parts = [np.asarray(F.deconvolution(_t(x4[:, [c]]), _t(w4[[c], None]))) for c in range(4)]
    np.testing.assert_allclose(y, np.concatenate([parts[0] + parts[1], parts[2] + parts[3]], axis=1), rtol=1e-12)


def test_float32_and_mixed_dtypes():
    rng = np.random.default_rng(6)
    x, w = _rand(rng, 2, 3, 5), _rand(rng, 4, 3, 2)
    y32 = F.convolution(_t(x, dtype=ng.float32), _t(w, dtype=ng.float32))
    assert y32.dtype == ng.float32
    mixed = F.convolution(_t(x, dtype=ng.float32), _t(w))
    assert mixed.dtype == ng.float64
    np.testing.assert_allclose(np.asarray(y32), conv_ref(x, w), rtol=1e-5, atol=1e-5)


def test_weight_grad_checks_its_arguments():
    x, gy = _t(np.ones((2, 3, 6))), _t(np.ones((2, 4, 5)))
    with pytest.raises(ValueError, match=r"convolution_weight_grad: gy of shape \(2, 4, 5\)"):
        _C.convolution_weight_grad(x, gy, [3])
    with pytest.raises(ValueError, match="convolution_weight_grad: group=2 does not divide"):
        _C.convolution_weight_grad(x, gy, [2], group=2)


# ---- PyTorch at orders 1 and 2, across the kernels' paths ----

CASES = [
    # (name, x shape, w shape, options): conv{1,2,3}d, groups, stride, pad, dilation; large enough cases take
    # the batch-parallel path (batch >= threads) and the one-item path with parallel im2col / col2im.
    ("1d", (2, 4, 9), (6, 2, 3), {"pad": (1,), "stride": (2,), "group": 2}),
    ("2d", (3, 4, 7, 6), (4, 4, 3, 2), {"pad": (1, 0), "dilation": (2, 1)}),
    ("3d", (2, 2, 4, 5, 4), (4, 1, 2, 3, 2), {"stride": (1, 2, 1), "pad": (0, 1, 1), "group": 2}),
    ("1x1", (4, 6, 5, 5), (3, 6, 1, 1), {}),
    ("batched", (8, 16, 12, 12), (32, 8, 3, 3), {"pad": (1, 1), "group": 2}),
    ("one_item", (1, 16, 40, 40), (8, 16, 3, 3), {"pad": (1, 1), "stride": (2, 1)}),
]


def _torch_conv(torch, n, transposed):
    fns = {False: [None, torch.nn.functional.conv1d, torch.nn.functional.conv2d, torch.nn.functional.conv3d],
           True: [None, torch.nn.functional.conv_transpose1d, torch.nn.functional.conv_transpose2d,
                  torch.nn.functional.conv_transpose3d]}
    return fns[transposed][n]


def _torch_kwargs(kw, n, transposed):
    out = {"padding": kw.get("pad", (0,) * n), "stride": kw.get("stride", (1,) * n),
           "dilation": kw.get("dilation", (1,) * n), "groups": kw.get("group", 1)}
    if transposed:
        out["output_padding"] = kw.get("output_padding", (0,) * n)
    return out


def _compare_with_torch(torch, transposed, xs, ws, kw, dtype):
    rng = np.random.default_rng(7)
    n = len(ws) - 2
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    bias_size = ws[1] * kw.get("group", 1) if transposed else ws[0]
    b = rng.standard_normal(bias_size)
    op = F.deconvolution if transposed else F.convolution
    tfn = _torch_conv(torch, n, transposed)
    tdtype = torch.float64 if dtype == ng.float64 else torch.float32
    tol = 1e-9 if dtype == ng.float64 else 2e-3
    # nthgrad
    nx, nw, nb = (ng.tensor(a, dtype=dtype, requires_grad=True) for a in (x, w, b))
    y = op(nx, nw, nb, **kw)
    gx, gw, gb = ng.grad((y * y).sum(), [nx, nw, nb], create_graph=True)
    penalty = (gx * gx).sum() + (gw * gw).sum()  # second order through every op of the cycle
    hx, hw, hb = ng.grad(penalty, [nx, nw, nb], allow_unused=True)
    # torch
    tx, tw, tb = (torch.tensor(a, dtype=tdtype, requires_grad=True) for a in (x, w, b))
    ty = tfn(tx, tw, tb, **_torch_kwargs(kw, n, transposed))
    tgx, tgw, tgb = torch.autograd.grad((ty * ty).sum(), [tx, tw, tb], create_graph=True)
    tpen = (tgx * tgx).sum() + (tgw * tgw).sum()
    thx, thw, thb = torch.autograd.grad(tpen, [tx, tw, tb], allow_unused=True)

    def close(a, t):
        t = t.detach().numpy().astype(np.float64)
        scale = max(1.0, np.abs(t).max())
        np.testing.assert_allclose(np.asarray(a, dtype=np.float64) / scale, t / scale, rtol=tol, atol=tol)

    close(y, ty)
    for a, t in [(gx, tgx), (gw, tgw), (gb, tgb), (hx, thx), (hw, thw), (hb, thb)]:
        close(a, t)


@pytest.mark.parametrize("dtype", [ng.float64, ng.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name, xs, ws, kw", CASES, ids=[c[0] for c in CASES])
def test_convolution_matches_torch(name, xs, ws, kw, dtype):
    torch = pytest.importorskip("torch")
    _compare_with_torch(torch, False, xs, ws, kw, dtype)


DECONV_CASES = [
    ("1d", (2, 4, 5), (4, 3, 3), {"stride": (2,), "output_padding": (1,), "group": 2}),
    ("2d", (2, 3, 4, 5), (3, 2, 3, 2), {"pad": (1, 0), "stride": (2, 3), "dilation": (1, 2),
                                         "output_padding": (0, 2)}),
    ("3d", (1, 2, 3, 2, 3), (2, 2, 2, 2, 2), {"stride": (2, 1, 2), "pad": (1, 0, 0)}),
    ("1x1", (3, 6, 4, 4), (6, 2, 1, 1), {}),
    ("batched", (8, 16, 10, 10), (16, 8, 3, 3), {"pad": (1, 1), "stride": (2, 2), "output_padding": (1, 1)}),
    ("one_item", (1, 16, 30, 30), (16, 8, 3, 3), {"pad": (1, 1), "group": 2}),
]


@pytest.mark.parametrize("dtype", [ng.float64, ng.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name, xs, ws, kw", DECONV_CASES, ids=[c[0] for c in DECONV_CASES])
def test_deconvolution_matches_torch(name, xs, ws, kw, dtype):
    torch = pytest.importorskip("torch")
    _compare_with_torch(torch, True, xs, ws, kw, dtype)


def test_empty_axes():
    rng = np.random.default_rng(9)
    # no input channels: y is the bias; gradients keep their (empty) shapes
    x, w, b = _t(np.ones((2, 0, 5)), True), _t(np.ones((3, 0, 2)), True), _t(rng.standard_normal(3), True)
    y = F.convolution(x, w, b)
    np.testing.assert_array_equal(np.asarray(y), np.broadcast_to(np.asarray(b)[None, :, None], (2, 3, 4)))
    assert [g.shape for g in ng.grad(y.sum(), [x, w, b])] == [(2, 0, 5), (3, 0, 2), (3,)]
    # an empty spatial axis: deconvolution gives the sizes its convolution maps back to 0, holding the bias
    x, w = _t(np.ones((2, 4, 0)), True), _t(rng.standard_normal((4, 3, 2)), True)
    y = F.deconvolution(x, w, b, stride=(3,), output_padding=(2,))
    assert y.shape == (2, 3, 1) and np.array_equal(np.asarray(y)[:, :, 0], np.broadcast_to(np.asarray(b), (2, 3)))
    gx, gw = ng.grad((y * y).sum(), [x, w])
    assert gx.shape == (2, 4, 0) and np.all(np.asarray(gw) == 0)
    # zero-size padded windows read only padding
    y = F.convolution(_t(np.ones((1, 4, 3, 0))), _t(np.ones((2, 4, 2, 2))), pad=(0, 1))
    assert y.shape == (1, 2, 2, 1) and np.all(np.asarray(y) == 0)


# ---- the stride-1 kernels (padded grid, no im2col) against the im2col kernels ----

STRIDE1_CASES = [  # (x shape, w shape, kwargs): 1-, 2- and 3-d, dilation, pad 0/1/2, groups, batch paths
    ((3, 4, 9), (6, 2, 3), dict(pad=(2,), dilation=(2,), group=2)),
    ((2, 4, 7, 6), (6, 4, 3, 2), dict(pad=(0, 1))),
    ((3, 4, 7, 6), (6, 2, 3, 3), dict(pad=(1, 2), dilation=(2, 1), group=2)),
    ((2, 4, 8, 8), (4, 4, 3, 3), dict(pad=(2, 2), dilation=(2, 2))),
    ((1, 3, 5, 6, 6), (2, 3, 2, 3, 3), dict(pad=(1, 0, 2), dilation=(1, 2, 1))),
    ((2, 4, 5, 5, 5), (4, 1, 3, 3, 3), dict(pad=(1, 1, 1), group=4)),
    ((8, 16, 12, 12), (8, 16, 3, 3), dict(pad=(1, 1))),  # large enough for one item per thread
    ((1, 16, 20, 20), (8, 16, 3, 3), dict(pad=(1, 1), dilation=(2, 2))),  # one item, threads inside
]


def _all_orders(x_np, w_np, b_np, gy_np, kw, channel_last=False):
    x, w, b = (_t(a, True, ng.float32) for a in (x_np, w_np, b_np))
    y = F.convolution(x, w, b, channel_last=channel_last, **kw)
    gx, gw, gb = ng.grad([y], [x, w, b], grad_outputs=[_t(gy_np, dtype=ng.float32)])
    d = F.deconvolution(_t(gy_np, dtype=ng.float32), w, channel_last=channel_last, **kw)
    return [np.asarray(t) for t in (y, gx, gw, gb, d)]


@pytest.mark.parametrize("xs, ws, kw", STRIDE1_CASES, ids=[f"{len(c[0]) - 2}d-{i}" for i, c in enumerate(STRIDE1_CASES)])
def test_stride1_kernels_equal_im2col(monkeypatch, xs, ws, kw):
    rng = np.random.default_rng(11)
    x, w, b = _rand(rng, *xs), _rand(rng, *ws), _rand(rng, ws[0])
    y_ref = conv_ref(x, w, b, **kw)
    gy = _rand(rng, *y_ref.shape)
    monkeypatch.setenv("NTHGRAD_CONV_IM2COL", "0")
    direct = _all_orders(x, w, b, gy, kw)
    monkeypatch.setenv("NTHGRAD_CONV_IM2COL", "1")
    im2col = _all_orders(x, w, b, gy, kw)
    for a, r in zip(direct, im2col):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4 * np.abs(r).max())
    np.testing.assert_allclose(direct[0], y_ref, rtol=1e-4, atol=1e-4 * np.abs(y_ref).max())
    np.testing.assert_allclose(direct[4], deconv_ref(gy, w, **kw), rtol=1e-4, atol=1e-4 * np.abs(direct[4]).max())
    # channel_last (the im2col path) agrees with the channel-first stride-1 path
    cl = lambda a: np.moveaxis(a, 1, -1)  # noqa: E731
    monkeypatch.setenv("NTHGRAD_CONV_IM2COL", "0")
    last = _all_orders(cl(x), cl(w), b, cl(gy), kw, channel_last=True)
    for a, r in zip(last, direct):
        r = r if r.ndim == 1 else cl(r)
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4 * np.abs(r).max())


WINOGRAD_CASES = [  # 2-d 3x3 stride 1, >= 8 channels per group, batch >= threads, outputs of >= 196 pixels (below,
    # the direct path runs): odd and even sizes, pad 0-2, groups
    ((2, 16, 15, 14), (24, 16, 3, 3), dict(pad=(1, 1))),
    ((2, 16, 13, 17), (16, 8, 3, 3), dict(pad=(0, 2), group=2)),
    ((3, 8, 14, 16), (8, 8, 3, 3), dict(pad=(2, 0))),
    ((8, 16, 16, 15), (16, 16, 3, 3), dict(pad=(1, 1))),  # one item per thread
]


@pytest.mark.parametrize("dtype", [ng.float64, ng.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("xs, ws, kw", WINOGRAD_CASES, ids=[str(i) for i in range(len(WINOGRAD_CASES))])
def test_winograd_equals_direct(monkeypatch, xs, ws, kw, dtype):
    rng = np.random.default_rng(12)
    x, w, b = _rand(rng, *xs), _rand(rng, *ws), _rand(rng, ws[0])
    y_ref = conv_ref(x, w, b, **kw)
    gy = _rand(rng, *y_ref.shape)

    def run():
        xt, wt, bt = (_t(a, True, dtype) for a in (x, w, b))
        y = F.convolution(xt, wt, bt, **kw)
        gx, gw = ng.grad([y], [xt, wt], grad_outputs=[_t(gy, dtype=dtype)])
        d = F.deconvolution(_t(gy, dtype=dtype), wt, _t(np.arange(xs[1]), dtype=dtype), **kw)
        return [np.asarray(t, np.float64) for t in (y, gx, gw, d)]

    monkeypatch.setenv("NTHGRAD_CONV_WINOGRAD", "1")
    wino = run()
    monkeypatch.setenv("NTHGRAD_CONV_WINOGRAD", "0")
    direct = run()
    tol = 1e-5 if dtype == ng.float32 else 1e-12
    for a, r in zip(wino, direct):
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol * np.abs(r).max())
    # Winograd did run: its float32 rounding differs from the direct sum's somewhere
    assert dtype == ng.float64 or any(not np.array_equal(a, r) for a, r in zip(wino, direct))
    np.testing.assert_allclose(wino[0], y_ref, rtol=1e-4, atol=1e-4 * np.abs(y_ref).max())
    d_ref = deconv_ref(gy, w, np.arange(xs[1]), **kw)
    np.testing.assert_allclose(wino[3], d_ref, rtol=1e-4, atol=1e-4 * np.abs(d_ref).max())
# ---- review: sizes that overflow int64 (empty tensors may have huge axes) ----

def test_huge_dilated_kernel_is_an_error_not_a_wrapped_size():
    # d(k-1)+1 = 2^30 (2^40 - 1) + 1 overflows int64: it used to wrap and give an output of 3221225477
    empty_w = ng.tensor(np.empty((0, 1, 2 ** 40)), dtype=ng.float64)
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.convolution(_t(np.ones((1, 1, 5))), empty_w, dilation=[2 ** 30], pad=[2 ** 30])
    with pytest.raises(ValueError, match="larger than the padded input"):
        _C.convolution_weight_grad(_t(np.ones((1, 1, 5))), _t(np.ones((1, 1, 3))), [2 ** 40], dilation=[2 ** 30])


def test_deconvolution_output_size_beyond_int64_is_an_error():
    # s(L-1) = 2^30 (2^40 - 1) overflows int64 for an empty x with a huge spatial axis
    empty_x = ng.tensor(np.empty((0, 1, 2 ** 40)), dtype=ng.float64)
    with pytest.raises(ValueError, match="beyond 2\\^63"):
        F.deconvolution(empty_x, _t(np.ones((1, 1, 3))), stride=[2 ** 30])


def test_depthwise_ops_with_no_channels_give_no_channels():
    # C = 0: depthwise_deconvolution gave 1 output channel (it fell back to group 1 with a (0, 1, K) weight),
    # and depthwise_convolution failed with "convolution: group must be >= 1, got 0"
    x, w = ng.tensor(np.empty((2, 0, 5)), dtype=ng.float64), ng.tensor(np.empty((0, 3)), dtype=ng.float64)
    assert F.depthwise_deconvolution(x, w).shape == (2, 0, 7)
    assert F.depthwise_deconvolution(x, w, ng.tensor(np.empty((0,)), dtype=ng.float64), divisor=2).shape == (2, 0, 7)
    assert F.depthwise_convolution(x, w).shape == (2, 0, 3)
    assert F.depthwise_convolution(x, w, multiplier=3).shape == (2, 0, 3)


def _random_geometries(seed, count):
    """Random 1-3-d geometries with groups, pad > kernel, dilation and stride up to 3 (the kernel always fits)."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        n = int(rng.integers(1, 4))
        g, cg, cog, batch = (int(v) for v in rng.integers(1, 4, size=4))
        k, s, d = ([int(v) for v in rng.integers(1, 4, size=n)] for _ in range(3))
        p = [int(v) for v in rng.integers(0, 4, size=n)]
        size = [int(v) for v in rng.integers(1, 7 if n < 3 else 5, size=n)]
        op = [int(rng.integers(0, si)) for si in s]
        if all(size[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1 >= 0 and s[a] * (size[a] - 1) - 2 * p[a] + d[a] * (k[a] - 1) + 1 + op[a] >= 1
               for a in range(n)):
            out.append((n, g, cg, cog, batch, k, s, d, p, size, op))
    return out


@pytest.mark.parametrize("geometry", _random_geometries(2026, 24))
def test_random_geometries_match_torch_at_orders_1_and_2(geometry):
    # (review) a seeded sweep: hand-picked cases miss odd combinations of pad > kernel, dilation and stride
    torch = pytest.importorskip("torch")
    n, g, cg, cog, batch, k, s, d, p, size, op = geometry
    kw = {"pad": tuple(p), "stride": tuple(s), "dilation": tuple(d), "group": g}
    _compare_with_torch(torch, False, (batch, g * cg) + tuple(size), (g * cog, cg) + tuple(k), kw, ng.float64)
    _compare_with_torch(torch, True, (batch, g * cg) + tuple(size), (g * cg, cog) + tuple(k),
                        dict(kw, output_padding=tuple(op)), ng.float64)


def test_huge_group_with_no_channels_is_a_clear_error():
    # per_group * group overflowed int64 here (2 * 2^62) before the comparison with the channel count
    with pytest.raises(ValueError, match=r"expects 2 input channels per group \(group=4611686018427387904\).* has 0"):
        F.convolution(ng.tensor(np.empty((1, 0, 5)), dtype=ng.float64), _t(np.ones((1, 2, 3))), group=2 ** 62)
