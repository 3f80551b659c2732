"""Semantics of the normalization family that the op table cannot express:
in-place running statistics, inference mode, output_stat, numerical
stability far from zero, norm's second order and zero slices, spectral_norm's
u, mean_subtraction's counter, and comparisons with torch at orders 1-2."""
import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F
from gradcheck import check_gradients

RNG = np.random.default_rng(7)


def tensor(a, dtype=ng.float64, requires_grad=False):
    return ng.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def grads_12(fn, xs, seed=0):
    """First and second derivatives of sum(w * fn(xs)) along fixed random weights, as NumPy arrays."""
    rng = np.random.default_rng(seed)
    y = fn(*xs)
    w = tensor(rng.uniform(0.5, 1.5, y.shape), dtype=y.dtype)
    g = ng.grad((y * w).sum(), xs, create_graph=True)
    s = sum((gi * tensor(rng.standard_normal(gi.shape), dtype=gi.dtype)).sum() for gi in g)
    h = ng.grad(s, xs, allow_unused=True)
    return np.asarray(y), [np.asarray(a) for a in g], [None if a is None else np.asarray(a) for a in h]


def torch_grads_12(torch, fn, xs, seed=0):
    rng = np.random.default_rng(seed)
    y = fn(*xs)
    w = torch.tensor(rng.uniform(0.5, 1.5, tuple(y.shape)), dtype=y.dtype)
    g = torch.autograd.grad((y * w).sum(), xs, create_graph=True)
    s = sum((gi * torch.tensor(rng.standard_normal(tuple(gi.shape)), dtype=gi.dtype)).sum() for gi in g)
    h = torch.autograd.grad(s, xs, allow_unused=True)
    return y.detach().numpy(), [a.detach().numpy() for a in g], [None if a is None else a.detach().numpy(force=True) for a in h]


def assert_same(ours, theirs, rtol=1e-7, atol=1e-9):
    (y0, g0, h0), (y1, g1, h1) = ours, theirs
    np.testing.assert_allclose(y0, y1, rtol=rtol, atol=atol)
    for a, b in zip(g0, g1):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    for a, b in zip(h0, h1):
        if a is None or b is None:
            assert (a is None or np.allclose(a, 0)) and (b is None or np.allclose(b, 0))
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---- batch_normalization: running statistics, inference, output_stat ------------------------------

def test_batch_normalization_updates_running_statistics_in_place_with_unbiased_variance():
    x = RNG.standard_normal((5, 3, 4)) * 2 + 1
    m0, v0 = RNG.standard_normal((1, 3, 1)), RNG.uniform(0.5, 2, (1, 3, 1))
    m, v = tensor(m0), tensor(v0)
    F.batch_normalization(tensor(x), None, None, m, v, decay_rate=0.7)
    n = 5 * 4
    mu = x.mean(axis=(0, 2), keepdims=True)
    var_unbiased = x.var(axis=(0, 2), keepdims=True) * n / (n - 1)
    np.testing.assert_allclose(np.asarray(m), 0.7 * m0 + 0.3 * mu, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(v), 0.7 * v0 + 0.3 * var_unbiased, rtol=1e-12)


def test_batch_normalization_inference_uses_the_running_statistics_and_does_not_change_them():
    x = RNG.standard_normal((4, 3, 2))
    m0, v0 = RNG.standard_normal((1, 3, 1)), RNG.uniform(0.5, 2, (1, 3, 1))
    b, g = RNG.standard_normal((1, 3, 1)), RNG.standard_normal((1, 3, 1))
    m, v = tensor(m0), tensor(v0)
    y = F.batch_normalization(tensor(x), tensor(b), tensor(g), m, v, batch_stat=False)
    np.testing.assert_allclose(np.asarray(y), (x - m0) / np.sqrt(v0 + 1e-5) * g + b, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(m), m0)
    np.testing.assert_array_equal(np.asarray(v), v0)


def test_batch_normalization_output_stat_returns_biased_batch_statistics():
    x = RNG.standard_normal((4, 3, 2))
    y, mu, var = F.batch_normalization(tensor(x), None, None, None, None, output_stat=True)
    assert mu.shape == (1, 3, 1) and var.shape == (1, 3, 1)
    np.testing.assert_allclose(np.asarray(mu), x.mean(axis=(0, 2), keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(var), x.var(axis=(0, 2), keepdims=True), rtol=1e-12)
    # the statistics are differentiable outputs: d mean(x) / dx = 1/n
    xt = tensor(x, requires_grad=True)
    _, mu, _ = F.batch_normalization(xt, None, None, None, None, output_stat=True)
    (gx,) = ng.grad(mu.sum(), [xt])
    np.testing.assert_allclose(np.asarray(gx), np.full(x.shape, 1 / 8))


def test_fused_and_sync_batch_normalization_share_the_running_update():
    x, z = RNG.standard_normal((4, 3, 2)), RNG.standard_normal((4, 3, 2))
    stats = []
    for call in (lambda m, v: F.batch_normalization(tensor(x), None, None, m, v),
                 lambda m, v: F.sync_batch_normalization(tensor(x), None, None, m, v, None),
                 lambda m, v: F.fused_batch_normalization(tensor(x), None, None, m, v, tensor(z))):
        m, v = tensor(np.zeros((1, 3, 1))), tensor(np.ones((1, 3, 1)))
        y = call(m, v)
        stats.append((np.asarray(m), np.asarray(v), np.asarray(y)))
    for s in stats[1:]:
        np.testing.assert_array_equal(s[0], stats[0][0])
        np.testing.assert_array_equal(s[1], stats[0][1])
    np.testing.assert_array_equal(stats[1][2], stats[0][2])
    np.testing.assert_allclose(stats[2][2], np.maximum(stats[0][2] + z, 0), rtol=1e-12)
    assert (stats[2][2] == 0).any()  # relu clipped something


def test_sync_batch_normalization_takes_only_a_communicator():
    # one process (comm None) is batch_normalization; anything else must be a communicator (the collectives
    # themselves are tested under mpirun in test_distributed_mpi.py)
    from nthgrad import distributed
    x = tensor(RNG.standard_normal((4, 3)))
    np.testing.assert_array_equal(np.asarray(F.sync_batch_normalization(x, None, None, None, None, None)),
                                  np.asarray(F.batch_normalization(x, None, None, None, None)))

    class Comm:
        size = 4
    with pytest.raises(TypeError if distributed.is_available() else ImportError,
                       match="mpi4py communicator" if distributed.is_available() else "nthgrad\\[mpi\\]"):
        F.sync_batch_normalization(x, None, None, None, None, Comm())


# ---- numerical stability -------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["batch", "layer"])
def test_float32_inputs_of_magnitude_1000_keep_values_and_two_orders_of_gradients(op):
    x64 = 1000.0 + RNG.standard_normal((6, 4))
    g64 = RNG.uniform(0.5, 1.5, (1, 4))

    def fn(x, g):
        if op == "batch":
            return F.batch_normalization(x, None, g, None, None)
        return F.layer_normalization(x, None, g)

    ours = {}
    for dtype in (ng.float32, ng.float64):
        xs = [tensor(x64.astype(np.float32), dtype, True), tensor(g64.astype(np.float32), dtype, True)]
        ours[dtype] = grads_12(fn, xs)
    (y32, g32, h32), (y64, g64_, h64) = ours[ng.float32], ours[ng.float64]
    assert np.isfinite(y32).all() and all(np.isfinite(a).all() for a in g32 + [h for h in h32 if h is not None])
    np.testing.assert_allclose(y32, y64, atol=2e-3)
    for a, b in zip(g32, g64_):
        np.testing.assert_allclose(a, b, atol=2e-3 * max(1, np.abs(b).max()))
    for a, b in zip(h32, h64):
        if b is not None:
            np.testing.assert_allclose(a, b, atol=2e-3 * max(1, np.abs(b).max()))
    # the float64 result itself is right: normalized values have mean 0 and variance ~1 per channel
    if op == "batch":
        np.testing.assert_allclose((y64 / g64).mean(axis=0), 0, atol=1e-6)
        np.testing.assert_allclose((y64 / g64).var(axis=0), 1, atol=1e-3)


# ---- norm ----------------------------------------------------------------------------------------

def test_norm_second_order_along_an_axis_matches_finite_differences():
    # nnabla 1.39's second-order gradient of norm (p=2 along an axis) is off by up to 0.46
    x = RNG.standard_normal((3, 4))
    for p in (2, 3, 1.5):
        check_gradients(lambda t: F.norm(t, p=p, axis=1), [np.where(np.abs(x) < 0.2, 0.5, x)], order=3,
                        rtol=1e-5)


def test_norm_closed_form_hessian_for_p2():
    x = RNG.standard_normal(5)
    xt = tensor(x, requires_grad=True)
    (g,) = ng.grad(F.norm(xt), [xt], create_graph=True)
    r = np.linalg.norm(x)
    hess = np.stack([np.asarray(ng.grad(g[i], [xt], retain_graph=True)[0]) for i in range(5)])
    np.testing.assert_allclose(hess, (np.eye(5) - np.outer(x, x) / r ** 2) / r, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_norm_of_an_all_zero_slice_has_gradient_zero_not_nan(p):
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    xt = tensor(x, requires_grad=True)
    y = F.norm(xt, p=p, axis=1)
    np.testing.assert_allclose(np.asarray(y), [0.0, np.sum(np.abs(x[1]) ** p) ** (1 / p)])
    (g,) = ng.grad(y.sum(), [xt], create_graph=True)
    g = np.asarray(g)
    assert np.isfinite(g).all()
    np.testing.assert_array_equal(g[0], 0)
    np.testing.assert_allclose(g[1], np.sign(x[1]) * np.abs(x[1]) ** (p - 1) * np.asarray(y)[1] ** (1 - p))


def test_norm_normalization_of_a_zero_slice_is_zero_where_nnabla_gives_nan():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    xt = tensor(x, requires_grad=True)
    y = F.norm_normalization(xt, axes=[1])
    np.testing.assert_allclose(np.asarray(y), [[0, 0], [0.6, 0.8]])
    (g,) = ng.grad(y.sum(), [xt])
    assert np.isfinite(np.asarray(g)).all()


@pytest.mark.parametrize("p", [2.0, 3.0])
def test_norm_of_a_slice_holding_nan_is_nan(p):
    x = ng.tensor(np.array([[1.0, np.nan, 5.0], [3.0, 4.0, 0.0]]))
    out = np.array(F.norm(x, p=p, axis=[1]))
    assert np.isnan(out[0]) and out[1] == pytest.approx(np.sum(np.array([3.0, 4.0]) ** p) ** (1 / p))


def test_norm_rejects_p_below_one():
    with pytest.raises(ValueError, match="p must be finite and >= 1, got 0.5"):
        F.norm(tensor([1.0, 2.0]), p=0.5)


def test_weight_normalization_puts_eps_inside_the_square_root():
    w = np.array([[0.0, 0.0], [3.0, 4.0]])
    y = F.weight_normalization(tensor(w), tensor([2.0, 1.0]), eps=1e-2)
    np.testing.assert_allclose(np.asarray(y), [[0, 0], [3 / np.sqrt(25.01), 4 / np.sqrt(25.01)]], rtol=1e-12)


# ---- spectral_norm ------------------------------------------------------------------------------

def _power_iteration(wm, u, itr, eps=1e-12):
    for _ in range(itr):
        v = wm.T @ u
        v /= np.sqrt((v ** 2).sum() + eps)
        u = wm @ v
        u /= np.sqrt((u ** 2).sum() + eps)
    return u, v


def test_spectral_norm_updates_u_in_place_unless_test_and_outputs_it():
    w, u0 = RNG.standard_normal((3, 5)), RNG.standard_normal(3)
    u_expected, v = _power_iteration(w, u0.copy(), 2)
    u = tensor(u0)
    y, u_out = F.spectral_norm(tensor(w), u, itr=2, output_u=True)
    np.testing.assert_allclose(np.asarray(u), u_expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(u_out), u_expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(y), w / (u_expected @ w @ v), rtol=1e-12)
    assert not u_out.requires_grad
    u = tensor(u0)
    F.spectral_norm(tensor(w), u, itr=2, test=True)
    np.testing.assert_array_equal(np.asarray(u), u0)
    # many iterations: the largest singular value becomes 1
    y = F.spectral_norm(tensor(w), tensor(u0), itr=200)
    np.testing.assert_allclose(np.linalg.svd(np.asarray(y), compute_uv=False)[0], 1, rtol=1e-8)


def test_spectral_norm_second_order_treats_u_and_v_as_constants():
    w0 = RNG.standard_normal((2, 3, 2))
    u0 = RNG.standard_normal(3)
    wm0 = np.moveaxis(w0, 1, 0).reshape(3, -1)
    u, v = _power_iteration(wm0, u0.copy(), 1)
    wt = tensor(w0, requires_grad=True)
    ours = grads_12(lambda w: F.spectral_norm(w, tensor(u0), dim=1, test=True), [wt])

    def fixed(w):  # W / (u^T W v) with u, v the constants found at w0
        wm = F.reshape(F.transpose(w, [1, 0, 2]), [3, 4])
        sigma = (tensor(u) * (wm @ tensor(v))).sum()
        return F.transpose(F.reshape(wm / sigma, [3, 2, 2]), [1, 0, 2])

    np.testing.assert_allclose(np.asarray(fixed(tensor(w0))), ours[0], rtol=1e-12)
    theirs = grads_12(fixed, [tensor(w0, requires_grad=True)])
    assert_same(ours, theirs, rtol=1e-10)


def test_spectral_norm_matches_torch():
    torch = pytest.importorskip("torch")
    w0, u0 = RNG.standard_normal((4, 3, 2)), RNG.standard_normal(4)
    u, v = _power_iteration(w0.reshape(4, -1), u0.copy(), 3)
    ours = grads_12(lambda w: F.spectral_norm(w, tensor(u0), itr=3, test=True), [tensor(w0, requires_grad=True)])

    def torch_sn(w):  # torch.nn.utils.spectral_norm's weight / (u . W v) with its u, v
        ut, vt = torch.tensor(u), torch.tensor(v)
        return w / torch.dot(ut, torch.mv(w.reshape(4, -1), vt))

    theirs = torch_grads_12(torch, torch_sn, [torch.tensor(w0, requires_grad=True)])
    assert_same(ours, theirs, rtol=1e-9)
    # and torch's own module, given our u, computes the same weight
    lin = torch.nn.Linear(6, 4, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(w0.reshape(4, 6)))
    sn = torch.nn.utils.spectral_norm(lin, n_power_iterations=3, eps=1e-12)
    with torch.no_grad():
        sn.weight_u.copy_(torch.tensor(u0))
    sn.train()
    sn(torch.zeros(1, 6, dtype=torch.float64))
    np.testing.assert_allclose(sn.weight.detach().numpy(), ours[0].reshape(4, 6), rtol=1e-9)


# ---- mean_subtraction ----------------------------------------------------------------------------

def test_mean_subtraction_updates_running_mean_and_counter_in_place():
    x = RNG.standard_normal((5, 3))
    rm0 = RNG.standard_normal(3)
    m, t = tensor(rm0), ng.tensor(np.array([3], dtype=np.int64))
    y = F.mean_subtraction(tensor(x), m, t)
    rm = rm0 + (x.mean(axis=0) - rm0) / 4
    np.testing.assert_allclose(np.asarray(m), rm, rtol=1e-12)
    assert np.asarray(t).tolist() == [4]
    np.testing.assert_allclose(np.asarray(y), x - rm, rtol=1e-12)
    y2 = F.mean_subtraction(tensor(x), m, t, update_running_mean=False)
    np.testing.assert_allclose(np.asarray(y2), x - rm, rtol=1e-12)
    assert np.asarray(t).tolist() == [4]


def test_mean_subtraction_gradient_is_exact_where_nnabla_approximates():
    # nnabla: dx = dy (1 - 1/(t N)), the diagonal only; here the full Jacobian of x - rm(x)
    x = RNG.standard_normal((4, 2))
    xt = tensor(x, requires_grad=True)
    y = F.mean_subtraction(xt, tensor(np.zeros(2)), ng.tensor(np.array([1], dtype=np.int64)))
    gy = RNG.standard_normal((4, 2))
    (gx,) = ng.grad(y, [xt], grad_outputs=[tensor(gy)])
    np.testing.assert_allclose(np.asarray(gx), gy - gy.sum(axis=0) / (2 * 4), rtol=1e-12)


# ---- comparisons with torch at orders 1-2 --------------------------------------------------------

def test_batch_normalization_matches_torch():
    torch = pytest.importorskip("torch")
    x, b, g = RNG.standard_normal((4, 3, 2, 2)), RNG.standard_normal(3), RNG.uniform(0.5, 1.5, 3)
    ours = grads_12(lambda x, b, g: F.batch_normalization(x, F.reshape(b, [1, 3, 1, 1]), F.reshape(g, [1, 3, 1, 1]),
                                                          None, None),
                    [tensor(a, requires_grad=True) for a in (x, b, g)])
    theirs = torch_grads_12(torch, lambda x, b, g: torch.nn.functional.batch_norm(x, None, None, g, b, training=True),
                            [torch.tensor(a, requires_grad=True) for a in (x, b, g)])
    assert_same(ours, theirs)
    # running statistics: torch's momentum is 1 - decay_rate, and it also stores the unbiased variance
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    torch.nn.functional.batch_norm(torch.tensor(x), rm, rv, training=True, momentum=0.1)
    m, v = tensor(np.zeros((1, 3, 1, 1))), tensor(np.ones((1, 3, 1, 1)))
    F.batch_normalization(tensor(x), None, None, m, v, decay_rate=0.9)
    np.testing.assert_allclose(np.asarray(m).ravel(), rm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(v).ravel(), rv.numpy(), rtol=1e-12)


def test_layer_instance_group_normalization_match_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 4, 3))
    b, g = RNG.standard_normal(4), RNG.uniform(0.5, 1.5, 4)
    tx = lambda: [torch.tensor(a, requires_grad=True) for a in (x, b, g)]  # noqa: E731
    nx = lambda: [tensor(a, requires_grad=True) for a in (x, b, g)]  # noqa: E731
    c = lambda v: F.reshape(v, [1, 4, 1])  # noqa: E731
    cases = [
        (lambda x, b, g: F.instance_normalization(x, c(b), c(g)),
         lambda x, b, g: torch.nn.functional.instance_norm(x, weight=g, bias=b)),
        (lambda x, b, g: F.group_normalization(x, c(b), c(g), 2),
         lambda x, b, g: torch.nn.functional.group_norm(x, 2, g, b)),
    ]
    for ours_fn, torch_fn in cases:
        assert_same(grads_12(ours_fn, nx()), torch_grads_12(torch, torch_fn, tx()))
    # layer_normalization over every axis but the batch axis: torch normalizes the trailing (4, 3)
    bl, gl = RNG.standard_normal((4, 3)), RNG.uniform(0.5, 1.5, (4, 3))
    ours = grads_12(lambda x, b, g: F.layer_normalization(x, F.reshape(b, [1, 4, 3]), F.reshape(g, [1, 4, 3])),
                    [tensor(a, requires_grad=True) for a in (x, bl, gl)])
    theirs = torch_grads_12(torch, lambda x, b, g: torch.nn.functional.layer_norm(x, (4, 3), g, b),
                            [torch.tensor(a, requires_grad=True) for a in (x, bl, gl)])
    assert_same(ours, theirs)


def test_weight_normalization_matches_torch():
    torch = pytest.importorskip("torch")
    w, g = RNG.standard_normal((3, 2, 2)), RNG.uniform(0.5, 1.5, 3)
    ours = grads_12(lambda w, g: F.weight_normalization(w, g, eps=0.0), [tensor(a, requires_grad=True) for a in (w, g)])
    # torch's fused torch._weight_norm agrees at orders 0-1, but its second derivative in w (torch 2.13) is
    # off from finite differences (and from ours, which the op table checks by finite differences), so the
    # comparison at order 2 is with the same formula written in torch ops
    args = lambda: [torch.tensor(a, requires_grad=True) for a in (w, g)]  # noqa: E731
    fused = torch_grads_12(torch, lambda w, g: torch._weight_norm(w, g.reshape(3, 1, 1), 0), args())
    assert_same(ours[:2] + ([None, None],), fused[:2] + ([None, None],))
    composed = torch_grads_12(
        torch, lambda w, g: w * g.reshape(3, 1, 1) / w.pow(2).sum((1, 2), keepdim=True).sqrt(), args())
    assert_same(ours, composed)


def test_norm_matches_torch_including_zero_slices():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((3, 4))
    x[0] = 0
    for p in (1, 2, 3):
        ours = grads_12(lambda x: F.norm(x, p=p, axis=1), [tensor(x, requires_grad=True)])
        theirs = torch_grads_12(torch, lambda x: torch.linalg.vector_norm(x, ord=p, dim=1),
                                [torch.tensor(x, requires_grad=True)])
        # torch's second derivative at the zero row is NaN for p != 2 ... compare the first order there
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
        np.testing.assert_allclose(ours[1][0], theirs[1][0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours[2][0][1:], theirs[2][0][1:], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("op", ["batch", "batch_gamma_only", "batch_beta_only", "layer", "instance", "group", "tensor",
                                "weight"])
def test_fused_statistics_agree_with_the_composed_path(op):
    # output_stat=True makes the statistics differentiable outputs, which takes the path composed of
    # mean / sub2 / pow_scalar; output_stat=False runs the fused standardize / standardize_backward ops
    x, b, g = RNG.standard_normal((3, 4, 2)), RNG.standard_normal((1, 4, 1)), RNG.uniform(0.5, 1.5, (1, 4, 1))
    calls = {
        "batch": lambda x, b, g, s: F.batch_normalization(x, b, g, None, None, output_stat=s),
        # gamma or beta alone: channel_affine with one parameter (the other input gets a zero gradient)
        "batch_gamma_only": lambda x, b, g, s: F.batch_normalization(x * b, None, g, None, None, output_stat=s),
        "batch_beta_only": lambda x, b, g, s: F.batch_normalization(x * g, b, None, None, None, output_stat=s),
        "layer": lambda x, b, g, s: F.layer_normalization(x, b, g, output_stat=s),
        "instance": lambda x, b, g, s: F.instance_normalization(x, b, g, output_stat=s),
        "group": lambda x, b, g, s: F.group_normalization(x, b, g, 2, output_stat=s),
        "tensor": lambda x, b, g, s: F.tensor_normalization(x, [1], b, g, output_stat=s),
        "weight": lambda x, b, g, s: F.weight_standardization(x * g + b, channel_axis=1, output_stat=s),
    }
    call = calls[op]
    fused = grads_12(lambda x, b, g: call(x, b, g, False), [tensor(a, requires_grad=True) for a in (x, b, g)])
    composed = grads_12(lambda x, b, g: call(x, b, g, True)[0], [tensor(a, requires_grad=True) for a in (x, b, g)])
    assert_same(fused, composed, rtol=1e-10, atol=1e-12)
    graph = call(tensor(x, requires_grad=True), tensor(b), tensor(g), False)
    from gradcheck import node_names
    assert "standardize" in node_names(graph)


# ---- in-place state: memory nthgrad does not own is refused; a graph that saved the state refuses backward --
# (review of issue 8: batch_normalization wrote its running statistics into a read-only NumPy array and
# into a tensor another graph had saved, whose gradient then changed silently. Since issue 9 the write goes
# through and bumps the storage version, and that graph's backward raises, as torch's version counter.)

def _readonly(a):
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("case", ["bn_mean", "bn_variance", "fused_mean", "spectral_u", "mean_sub_mean", "mean_sub_t"])
def test_in_place_state_refuses_numpy_memory(case):
    x = tensor(RNG.standard_normal((4, 3, 2)))
    arr = _readonly(np.zeros((1, 3, 1)) if case in ("bn_mean", "bn_variance", "fused_mean") else np.ones(3))
    shared = ng.from_numpy(arr)
    own = lambda: tensor(np.ones((1, 3, 1)))  # noqa: E731
    calls = {
        "bn_mean": lambda: F.batch_normalization(x, None, None, shared, own()),
        "bn_variance": lambda: F.batch_normalization(x, None, None, own(), shared),
        "fused_mean": lambda: F.fused_batch_normalization(x, None, None, shared, None),
        "spectral_u": lambda: F.spectral_norm(tensor(RNG.standard_normal((3, 4))), shared),
        "mean_sub_mean": lambda: F.mean_subtraction(tensor(np.ones((2, 3))), shared, ng.tensor(np.array([1]))),
        "mean_sub_t": lambda: F.mean_subtraction(tensor(np.ones((2, 3))), tensor(np.zeros(3)),
                                                 ng.from_numpy(_readonly_int())),
    }
    before = arr.copy()
    with pytest.raises(RuntimeError, match="memory belongs to NumPy"):
        calls[case]()
    np.testing.assert_array_equal(arr, before)


def _readonly_int():
    a = np.array([1], dtype=np.int64)
    a.setflags(write=False)
    return a


def test_in_place_state_update_makes_a_graph_that_saved_the_state_refuse_backward():
    m = tensor(np.full((1, 3, 1), 2.0), requires_grad=True)
    x2 = tensor(np.ones((1, 3, 1)), requires_grad=True)
    y2 = (m * x2).sum()  # mul2 saves m for x2's gradient
    F.batch_normalization(tensor(np.ones((4, 3, 2))), None, None, m, None, decay_rate=0.5)
    np.testing.assert_allclose(np.asarray(m), 1.5)
    with pytest.raises(RuntimeError, match=r"mul2: input 0 \(shape \(1, 3, 1\)\).*modified in place"):
        ng.grad(y2, [x2])
    (g,) = ng.grad((m * x2).sum(), [x2])  # a new forward pass reads the new state
    np.testing.assert_array_equal(np.asarray(g), 1.5)


def test_in_place_state_refuses_mean_and_variance_in_one_memory():
    mv = tensor(np.ones((1, 3, 1)))
    with pytest.raises(RuntimeError, match="mean and variance"):
        F.batch_normalization(tensor(RNG.standard_normal((4, 3, 2))), None, None, mv, mv)
    np.testing.assert_array_equal(np.asarray(mv), 1.0)


@pytest.mark.parametrize("decay_rate", [-0.1, 1.5, float("nan")])
def test_batch_normalization_rejects_a_decay_rate_outside_0_1(decay_rate):
    m = tensor(np.zeros((1, 3, 1)))
    with pytest.raises(ValueError, match="batch_normalization: decay_rate must lie in"):
        F.batch_normalization(tensor(RNG.standard_normal((4, 3, 2))), None, None, m, None, decay_rate=decay_rate)
    np.testing.assert_array_equal(np.asarray(m), 0.0)


def test_mean_subtraction_rejects_a_negative_counter():
    # t = -1 made 1 / (t + 1) infinite: a NaN output and a NaN running mean
    m = tensor(np.zeros(3))
    with pytest.raises(ValueError, match="mean_subtraction: the counter t must be finite and >= 0"):
        F.mean_subtraction(tensor(np.ones((2, 3))), m, ng.tensor(np.array([-1])))
    np.testing.assert_array_equal(np.asarray(m), 0.0)


@pytest.mark.parametrize("op", ["norm", "norm_normalization"])
def test_norm_p_of_a_wrong_type_is_a_type_error_naming_the_op(op):
    # was RuntimeError "Unable to cast Python instance of type <class 'str'> to C++ type '?'"
    with pytest.raises(TypeError, match=f"^{op}: p must be a number or None, got str"):
        getattr(F, op)(tensor([1.0, 2.0]), p="fro")
    np.testing.assert_allclose(np.asarray(F.norm(tensor([3.0, 4.0]), p=np.float64(2))), 5.0)


# ---- float32 near 1000 with a small spread: xhat from the unrounded mean -------------------------------

@pytest.mark.parametrize("op", ["batch", "layer", "instance", "group", "weight", "batch_axes_0_2", "batch_stat",
                                "layer_stat", "group_stat"])
def test_float32_inputs_near_1000_with_a_small_spread_keep_two_orders_of_gradients(op):
    # The fused kernel computed xhat = (x - float32(mu)) * rstd, and the composed path (output_stat=True, or
    # kept axes that are not contiguous) x - mean(x) in float32: mu's rounding error (ulp(1000) = 6e-5) over
    # a spread of 0.03 put 3% errors into the first derivative and 1.4 (of 109) into the second.
    rng = np.random.default_rng(3)
    x64 = (1000.0 + 0.03 * rng.standard_normal((4, 6, 5))).astype(np.float32).astype(np.float64)
    calls = {
        "batch": lambda x: F.batch_normalization(x, None, None, None, None),
        "layer": lambda x: F.layer_normalization(x, None, None),
        "instance": lambda x: F.instance_normalization(x, None, None),
        "group": lambda x: F.group_normalization(x, None, None, 3),
        "weight": lambda x: F.weight_standardization(x),
        "batch_axes_0_2": lambda x: F.batch_normalization(x, None, None, None, None, axes=[0, 2]),
        "batch_stat": lambda x: F.batch_normalization(x, None, None, None, None, output_stat=True)[0],
        "layer_stat": lambda x: F.layer_normalization(x, None, None, output_stat=True)[0],
        "group_stat": lambda x: F.group_normalization(x, None, None, 3, output_stat=True)[0],
    }
    (y32, g32, h32), (y64, g64, h64) = (grads_12(calls[op], [tensor(x64, dtype, True)]) for dtype in (ng.float32,
                                                                                                         ng.float64))
    np.testing.assert_allclose(y32, y64, atol=1e-5)
    np.testing.assert_allclose(g32[0], g64[0], atol=1e-4 * np.abs(g64[0]).max())
    np.testing.assert_allclose(h32[0], h64[0], atol=1e-4 * np.abs(h64[0]).max())


# ---- empty batches ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [ng.float32, ng.float64])
@pytest.mark.parametrize("op", ["batch", "batch_stat", "layer", "instance", "group", "tensor"])
def test_an_empty_batch_gives_an_empty_output_and_zero_gradients_for_beta_and_gamma(op, dtype):
    # gamma's gradient was NaN: rstd of an empty reduction is NaN, and the sum over no elements (0) was
    # multiplied by it
    x = tensor(np.zeros((0, 3, 2)), dtype, True)
    b, g = tensor(RNG.standard_normal((1, 3, 1)), dtype, True), tensor(RNG.uniform(0.5, 1.5, (1, 3, 1)), dtype, True)
    calls = {
        "batch": lambda: F.batch_normalization(x, b, g, None, None),
        "batch_stat": lambda: F.batch_normalization(x, b, g, None, None, output_stat=True)[0],
        "layer": lambda: F.layer_normalization(x, b, g),
        "instance": lambda: F.instance_normalization(x, b, g),
        "group": lambda: F.group_normalization(x, b, g, 3),
        "tensor": lambda: F.tensor_normalization(x, [1], b, g),
    }
    y = calls[op]()
    assert y.shape == (0, 3, 2)
    m, v = tensor(np.zeros((1, 3, 1)), dtype), tensor(np.ones((1, 3, 1)), dtype)
    F.batch_normalization(x, b, g, m, v)  # no update from no samples
    np.testing.assert_array_equal(np.asarray(m), 0)
    np.testing.assert_array_equal(np.asarray(v), 1)
    gs = ng.grad(y.sum(), [x, b, g], create_graph=True)
    assert np.asarray(gs[0]).shape == (0, 3, 2)
    for a in gs[1:]:
        np.testing.assert_array_equal(np.asarray(a), 0)
    # and the second order too
    hs = ng.grad(gs[2].sum() + gs[1].sum(), [b, g], allow_unused=True)
    for a in hs:
        assert a is None or (np.asarray(a) == 0).all()


# ---- errors of fused_ and sync_batch_normalization name those ops -------------------------------------

@pytest.mark.parametrize("op", ["fused_batch_normalization", "sync_batch_normalization"])
def test_errors_of_fused_and_sync_batch_normalization_name_the_op_called(op):
    # they named batch_normalization, which the user did not call
    x = tensor(np.ones((2, 3)))
    call = (lambda **kw: F.fused_batch_normalization(x, kw.get("beta"), None, None, None, axes=kw.get("axes", [1]))) \
        if op == "fused_batch_normalization" else \
        (lambda **kw: F.sync_batch_normalization(x, kw.get("beta"), None, None, None, None, axes=kw.get("axes", [1])))
    with pytest.raises(ValueError, match=f"^{op}: beta has shape \\(3,\\) but x of shape \\(2, 3\\) needs \\(1, 3\\)"):
        call(beta=tensor(np.ones(3)))
    with pytest.raises(IndexError, match=f"^{op}: axis 5 is out of range"):
        call(axes=[5])


# ---- torch over random shapes (orders 1-2) -------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_normalizations_match_torch_over_random_shapes(seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(100 + seed)
    N, C, L1, L2 = (int(v) for v in rng.integers(2, 5, 4))
    G = int(rng.choice([g for g in range(1, C + 1) if C % g == 0]))
    x, b, g = rng.standard_normal((N, C, L1, L2)), rng.standard_normal(C), rng.uniform(0.5, 1.5, C)
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    c4 = lambda v: F.reshape(v, [1, C, 1, 1])  # noqa: E731
    t4 = lambda v: v.reshape(1, -1, 1, 1)  # noqa: E731
    cases = [
        (lambda x, b, g: F.batch_normalization(x, c4(b), c4(g), None, None),
         lambda x, b, g: torch.nn.functional.batch_norm(x, None, None, g, b, training=True), (x, b, g)),
        (lambda x, b, g, m, v: F.batch_normalization(x, c4(b), c4(g), c4(m), c4(v), batch_stat=False),
         lambda x, b, g, m, v: (x - t4(m)) / torch.sqrt(t4(v) + 1e-5) * t4(g) + t4(b), (x, b, g, rm, rv)),
        (lambda x, b, g: F.instance_normalization(x, c4(b), c4(g)),
         lambda x, b, g: torch.nn.functional.instance_norm(x, weight=g, bias=b), (x, b, g)),
        (lambda x, b, g: F.group_normalization(x, c4(b), c4(g), G),
         lambda x, b, g: torch.nn.functional.group_norm(x, G, g, b), (x, b, g)),
        (lambda x: F.layer_normalization(x, None, None),
         lambda x: torch.nn.functional.layer_norm(x, (C, L1, L2)), (x,)),
    ]
    for ours_fn, torch_fn, arrays in cases:
        assert_same(grads_12(ours_fn, [tensor(a, requires_grad=True) for a in arrays]),
                    torch_grads_12(torch, torch_fn, [torch.tensor(a, requires_grad=True) for a in arrays]))
