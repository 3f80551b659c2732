"""Semantics of the loss family that the op table cannot express: ignored and
out-of-range labels, float labels, nnabla's sub-gradient at absolute_error's
tie, stability for logits of magnitude 1000 in float32, and PyTorch as an
oracle (values, first and second derivatives)."""
import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F
from gradcheck import check_gradients

RNG = np.random.default_rng(13)


def f64(a, requires_grad=False):
    return ng.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def f32(a, requires_grad=False):
    return ng.tensor(np.asarray(a, dtype=np.float32), requires_grad=requires_grad)


def labels(a):
    return ng.tensor(np.asarray(a, dtype=np.int64))


# ---- labels ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["softmax_cross_entropy", "categorical_cross_entropy"])
def test_ignored_label_gives_zero_loss_and_no_gradient(name):
    x = f64(RNG.uniform(0.1, 1.0, (3, 4)), requires_grad=True)
    y = getattr(F, name)(x, labels([[2], [-1], [0]]))
    assert np.asarray(y)[1, 0] == 0 and np.all(np.asarray(y)[[0, 2], 0] > 0)
    (g,) = ng.grad(y.sum(), [x])
    g = np.asarray(g)
    assert np.all(g[1] == 0) and np.any(g[0] != 0) and np.any(g[2] != 0)
    # and at second order
    y = getattr(F, name)(x, labels([[2], [-1], [0]]))
    (g,) = ng.grad(y.sum(), [x], create_graph=True)
    (h,) = ng.grad((g * g).sum(), [x])
    assert np.all(np.asarray(h)[1] == 0)


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "categorical_cross_entropy"])
@pytest.mark.parametrize("bad", [4, 7, -2, -100])
def test_out_of_range_label_is_an_index_error_naming_op_and_value(name, bad):
    with pytest.raises(IndexError, match=rf"{name}: label {bad} is out of range for 4 classes"):
        getattr(F, name)(f64(np.full((2, 4), 0.25)), labels([[1], [bad]]))


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "categorical_cross_entropy"])
def test_float_labels_are_accepted_and_truncated(name):
    x = f64(RNG.uniform(0.1, 1.0, (3, 4)))
    want = getattr(F, name)(x, labels([[2], [0], [-1]]))
    got = getattr(F, name)(x, f64([[2.0], [0.7], [-1.0]]))
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    with pytest.raises(ValueError, match=name):
        getattr(F, name)(x, f64([[2.0], [np.nan], [0.0]]))


def test_softmax_cross_entropy_with_class_axis_in_the_middle():
    x = RNG.standard_normal((2, 5, 3))
    lab = RNG.integers(0, 5, (2, 1, 3))
    y = np.asarray(F.softmax_cross_entropy(f64(x), labels(lab), axis=1))
    lsm = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(y, -np.take_along_axis(lsm, lab, axis=1), rtol=1e-12)
    y_neg = np.asarray(F.softmax_cross_entropy(f64(x), labels(lab), axis=-2))
    np.testing.assert_array_equal(y, y_neg)


# ---- kinks and nnabla's choices -----------------------------------------------------

def test_absolute_error_tie_gives_minus_gy_to_x0_and_plus_gy_to_x1():
    x0 = f64([1.0, 2.0, 3.0], requires_grad=True)
    x1 = f64([1.0, 1.0, 4.0], requires_grad=True)
    g0, g1 = ng.grad(F.absolute_error(x0, x1).sum(), [x0, x1])
    np.testing.assert_array_equal(np.asarray(g0), [-1.0, 1.0, -1.0])
    np.testing.assert_array_equal(np.asarray(g1), [1.0, -1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(F.absolute_error(x0, x1)), [0.0, 1.0, 1.0])
    assert not np.signbit(np.asarray(F.absolute_error(x0, x1))[0])  # abs(0) = +0, not 0 * -1 = -0


def test_huber_gradient_at_the_threshold_and_tie():
    # |d| == delta takes the linear branch (2 delta sign d), d == 0 the quadratic one (0)
    x0 = f64([2.0, 0.0, 0.5], requires_grad=True)
    x1 = f64([1.0, 1.0, 0.5])
    (g,) = ng.grad(F.huber_loss(x0, x1, delta=1.0).sum(), [x0])
    np.testing.assert_array_equal(np.asarray(g), [2.0, -2.0, 0.0])


def test_epsilon_insensitive_zero_inside_the_tube():
    x0 = f64([0.0, 0.2, 1.0, -1.0], requires_grad=True)
    x1 = f64([0.1, 0.0, 0.0, 0.0])
    y = F.epsilon_insensitive_loss(x0, x1, epsilon=0.25)
    np.testing.assert_allclose(np.asarray(y), [0.0, 0.0, 0.75, 0.75])
    (g,) = ng.grad(y.sum(), [x0])
    np.testing.assert_array_equal(np.asarray(g), [0.0, 0.0, 1.0, -1.0])


def test_sigmoid_cross_entropy_target_gradient_is_minus_x():
    x = f64(RNG.standard_normal(5), requires_grad=True)
    tg = f64(RNG.uniform(0, 1, 5), requires_grad=True)
    gx, gt = ng.grad(F.sigmoid_cross_entropy(x, tg).sum(), [x, tg])
    np.testing.assert_allclose(np.asarray(gt), -np.asarray(x), rtol=1e-14)
    s = 1 / (1 + np.exp(-np.asarray(x)))
    np.testing.assert_allclose(np.asarray(gx), s - np.asarray(tg), rtol=1e-12)


def test_binary_cross_entropy_gets_a_target_gradient_and_clamps_log():
    x = f64([0.3, 0.8], requires_grad=True)
    tg = f64([1.0, 0.25], requires_grad=True)
    gx, gt = ng.grad(F.binary_cross_entropy(x, tg).sum(), [x, tg])
    xv = np.array([0.3, 0.8])
    np.testing.assert_allclose(np.asarray(gt), np.log(1 - xv) - np.log(xv), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gx), (xv - [1.0, 0.25]) / (xv * (1 - xv)), rtol=1e-12)
    # x = 0 or 1 with the matching target: 0 loss, finite (log clamped, as nnabla)
    y = np.asarray(F.binary_cross_entropy(f32([0.0, 1.0, 0.0]), f32([0.0, 1.0, 1.0])))
    np.testing.assert_array_equal(y[:2], [0.0, 0.0])
    assert np.isfinite(y[2]) and y[2] > 80


def test_kl_multinomial_shape_and_zero_for_equal_distributions():
    p = RNG.uniform(0.1, 1, (2, 3, 4))
    p /= p.sum(axis=(1, 2), keepdims=True)
    assert F.kl_multinomial(f64(p), f64(p)).shape == (2, 1)
    np.testing.assert_allclose(np.asarray(F.kl_multinomial(f64(p), f64(p))), 0.0, atol=1e-15)
    assert F.kl_multinomial(f64(p), f64(p), base_axis=-1).shape == (2, 3, 1)


def test_kl_multinomial_zero_probabilities_are_finite_as_nnabla():
    # nnabla: sum p (log(p + 1e-8) - log(q + 1e-8)); p = 0 contributes 0, q = 0 a finite amount
    pv = np.array([[0.0, 0.5, 0.5], [0.3, 0.7, 0.0]])
    qv = np.array([[0.2, 0.3, 0.5], [0.0, 0.6, 0.4]])
    p, q = f64(pv, requires_grad=True), f64(qv, requires_grad=True)
    y = F.kl_multinomial(p, q)
    lp, lq = np.log(pv + 1e-8), np.log(qv + 1e-8)
    np.testing.assert_allclose(np.asarray(y), (pv * (lp - lq)).sum(1, keepdims=True), rtol=1e-14)
    gp, gq = ng.grad(y.sum(), [p, q], create_graph=True)
    np.testing.assert_allclose(np.asarray(gp), lp - lq + pv / (pv + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gq), -pv / (qv + 1e-8), rtol=1e-12)
    hp, hq = ng.grad((gp * gp).sum() + (gq * gq).sum(), [p, q])
    assert np.all(np.isfinite(np.asarray(hp))) and np.all(np.isfinite(np.asarray(hq)))
    y32 = np.asarray(F.kl_multinomial(f32(pv), f32(qv)))
    assert np.all(np.isfinite(y32))


def test_softmax_cross_entropy_with_minus_inf_logits_of_other_classes():
    # masked logits: -inf in a class that is not the label must not make the loss NaN (-inf * 0)
    for mk in (f32, f64):
        x = mk([[0.0, -np.inf, 1.0], [-np.inf, 2.0, -np.inf]], requires_grad=True)
        y = F.softmax_cross_entropy(x, labels([[0], [1]]))
        np.testing.assert_allclose(np.asarray(y, np.float64), [[np.log1p(np.e)], [0.0]], rtol=1e-6, atol=1e-7)
        (g,) = ng.grad(y.sum(), [x], create_graph=True)
        s = np.e / (1 + np.e)
        np.testing.assert_allclose(np.asarray(g, np.float64), [[1 - s - 1, 0, s], [0, 0, 0]], rtol=1e-6, atol=1e-7)
        (h,) = ng.grad((g * g).sum(), [x])
        assert np.all(np.isfinite(np.asarray(h)))
    # a label on a -inf class is an infinite loss, as log 0 is
    assert np.asarray(F.softmax_cross_entropy(f64([[0.0, -np.inf]]), labels([[1]])))[0, 0] == np.inf


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "categorical_cross_entropy"])
def test_ignored_rows_do_not_read_x(name):
    # nnabla skips the rows of label -1: a NaN or inf there gives loss 0 and gradient 0 at every order
    x = f64([[np.nan, 0.5, 0.2], [0.3, np.inf, 0.4], [0.1, 0.6, 0.3]], requires_grad=True)
    y = getattr(F, name)(x, labels([[-1], [-1], [1]]))
    yv = np.asarray(y)
    np.testing.assert_array_equal(yv[:2], [[0.0], [0.0]])
    assert np.isfinite(yv[2, 0]) and yv[2, 0] > 0
    (g,) = ng.grad(y.sum(), [x], create_graph=True)
    np.testing.assert_array_equal(np.asarray(g)[:2], np.zeros((2, 3)))
    (h,) = ng.grad((g * g).sum(), [x])
    np.testing.assert_array_equal(np.asarray(h)[:2], np.zeros((2, 3)))
    assert np.all(np.isfinite(np.asarray(g))) and np.all(np.isfinite(np.asarray(h)))


def test_categorical_cross_entropy_ignores_inf_in_other_classes():
    x = f64([[np.inf, 0.5, 0.25]], requires_grad=True)
    y = F.categorical_cross_entropy(x, labels([[1]]))
    np.testing.assert_allclose(np.asarray(y), [[np.log(2)]], rtol=1e-14)
    (g,) = ng.grad(y.sum(), [x])
    np.testing.assert_allclose(np.asarray(g), [[0.0, -2.0, 0.0]], rtol=1e-14)


@pytest.mark.parametrize("mk, tiny", [(f32, np.finfo(np.float32).tiny), (f64, np.finfo(np.float64).tiny)])
def test_saturated_probabilities_have_nnabla_gradients_and_finite_second_order(mk, tiny):
    # binary_cross_entropy at x = 0 and 1: value -log(tiny) where the target disagrees (nnabla's clamp);
    # gradient -t/tiny + (1-t)/(1-x) at x = 0 (nnabla's -dy/tiny where t = 1), and no NaN at second order
    x = mk([0.0, 1.0, 0.0, 1.0, 0.5], requires_grad=True)
    tg = mk([0.0, 1.0, 1.0, 0.0, 0.5], requires_grad=True)
    y = F.binary_cross_entropy(x, tg)
    big = -np.log(tiny)
    np.testing.assert_allclose(np.asarray(y, np.float64), [0, 0, big, big, np.log(2)], rtol=1e-6)
    gx, gt = ng.grad(y.sum(), [x, tg], create_graph=True)
    np.testing.assert_allclose(np.asarray(gx, np.float64), [1.0, -1.0, -1 / tiny, 1 / tiny, 0.0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(gt, np.float64), [big, -big, big, -big, 0.0], rtol=1e-6, atol=1e-6)
    hxx, hxt = ng.grad(gx.sum(), [x, tg])
    # d2/dx2 = t/x^2 + (1-t)/(1-x)^2 off the clamp, 0 on it; d2/dxdt = -(slope of log x + slope of log(1-x)),
    # the slope being 1/tiny on the clamp
    np.testing.assert_allclose(np.asarray(hxx, np.float64), [1.0, 1.0, 0.0, 0.0, 4.0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(hxt, np.float64), [-(1 / tiny + 1)] * 4 + [-4.0], rtol=1e-6)
    # categorical_cross_entropy with x[label] = 0: loss -log(tiny), gradient -1/tiny (nnabla), finite Hessian
    p = mk([[0.0, 1.0], [0.5, 0.5]], requires_grad=True)
    y = F.categorical_cross_entropy(p, labels([[0], [1]]))
    np.testing.assert_allclose(np.asarray(y, np.float64), [[big], [np.log(2)]], rtol=1e-6)
    (g,) = ng.grad(y.sum(), [p], create_graph=True)
    np.testing.assert_allclose(np.asarray(g, np.float64), [[-1 / tiny, 0], [0, -2]], rtol=1e-6)
    (h,) = ng.grad(g.sum(), [p])
    np.testing.assert_allclose(np.asarray(h, np.float64), [[0, 0], [0, 4]], rtol=1e-6)


def test_squared_error_third_order_with_broadcasting():
    check_gradients(F.squared_error, [RNG.standard_normal((3, 4)), RNG.standard_normal((4,))], order=3)


# ---- stability: float32 logits of magnitude 1000 --------------------------------------

def _value_grad_hess_diag(fn, x, *rest):
    """Value, gradient and diagonal of the Hessian (grad of sum(g)) of sum(fn(x, *rest)) w.r.t. x."""
    y = fn(x, *rest)
    (g,) = ng.grad(y.sum(), [x], create_graph=True)
    (h,) = ng.grad(g.sum(), [x])
    return np.asarray(y, np.float64), np.asarray(g, np.float64), np.asarray(h, np.float64)


def test_sigmoid_cross_entropy_stable_at_logits_1000_float32():
    xv = np.array([1000.0, -1000.0, 1000.0, -1000.0, 30.0, -30.0])
    tv = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5])
    y32, g32, h32 = _value_grad_hess_diag(F.sigmoid_cross_entropy, f32(xv, True), f32(tv))
    y64, g64, h64 = _value_grad_hess_diag(F.sigmoid_cross_entropy, f64(xv, True), f64(tv))
    for a in (y32, g32, h32):
        assert np.all(np.isfinite(a))
    np.testing.assert_allclose(y64, [0, 0, 1000, 1000, 15, 15], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y32, y64, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(g32, [0, 0, 1, -1, 0.5, -0.5], atol=1e-6)
    np.testing.assert_allclose(g32, g64, atol=1e-6)
    np.testing.assert_allclose(h32, h64, atol=1e-6)
    np.testing.assert_allclose(h64[:4], 0.0, atol=1e-12)


def test_softmax_cross_entropy_stable_at_logits_1000_float32():
    xv = np.array([[1000.0, -1000.0, 0.0], [1000.0, 999.0, -1000.0], [-1000.0, -1000.0, -1000.0]])
    lab = labels([[1], [1], [2]])
    y32, g32, h32 = _value_grad_hess_diag(F.softmax_cross_entropy, f32(xv, True), lab)
    y64, g64, h64 = _value_grad_hess_diag(F.softmax_cross_entropy, f64(xv, True), lab)
    for a in (y32, g32, h32):
        assert np.all(np.isfinite(a))
    # exact: 2000, 1 + log(1 + e^-1), log 3
    np.testing.assert_allclose(y64[:, 0], [2000.0, 1 + np.log1p(np.exp(-1)), np.log(3)], rtol=1e-12)
    np.testing.assert_allclose(y32, y64, rtol=1e-6)
    np.testing.assert_allclose(g32, g64, atol=1e-6)
    np.testing.assert_allclose(h32, h64, atol=1e-6)


# ---- PyTorch as an oracle ---------------------------------------------------------------

def _compare_with_torch(ng_fn, torch_fn, arrays, diff=(0,)):
    """Values, gradients and the gradient of sum(grad^2) (second order) agree with torch in float64."""
    torch = pytest.importorskip("torch")
    xs = [f64(a, requires_grad=(i in diff)) if np.asarray(a).dtype.kind == "f" else labels(a)
          for i, a in enumerate(arrays)]
    ts = [torch.tensor(a, dtype=torch.float64 if np.asarray(a).dtype.kind == "f" else torch.int64,
                       requires_grad=(i in diff)) for i, a in enumerate(arrays)]
    y, yt = ng_fn(*xs), torch_fn(*ts)
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = RNG.uniform(0.5, 1.5, tuple(yt.shape))
    gs = ng.grad((y * f64(w)).sum(), [xs[i] for i in diff], create_graph=True)
    gts = torch.autograd.grad((yt * torch.tensor(w)).sum(), [ts[i] for i in diff], create_graph=True)
    for g, gt in zip(gs, gts):
        np.testing.assert_allclose(np.asarray(g), gt.detach().numpy(), rtol=1e-10, atol=1e-12)
    s = (gs[0] * gs[0]).sum()
    for g in gs[1:]:
        s = s + (g * g).sum()
    st = sum((gt * gt).sum() for gt in gts)
    # a piecewise-linear loss has a gradient that no longer depends on the inputs
    hs = ng.grad(s, [xs[i] for i in diff], allow_unused=True) if s.requires_grad else [None] * len(diff)
    hts = torch.autograd.grad(st, [ts[i] for i in diff], allow_unused=True)
    for h, ht in zip(hs, hts):
        want = np.zeros(arrays[diff[0]].shape) if ht is None else ht.numpy(force=True)  # (force: torch's ZeroTensor)
        np.testing.assert_allclose(np.zeros_like(want) if h is None else np.asarray(h), want, rtol=1e-9, atol=1e-12)


def test_torch_binary_cross_entropy_with_logits():
    torch = pytest.importorskip("torch")
    x, tg = RNG.standard_normal((3, 4)) * 3, RNG.uniform(0, 1, (3, 4))
    _compare_with_torch(F.sigmoid_cross_entropy,
                        lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(a, b, reduction="none"),
                        [x, tg], diff=(0, 1))


def test_torch_binary_cross_entropy():
    torch = pytest.importorskip("torch")
    x, tg = RNG.uniform(0.05, 0.95, (3, 4)), RNG.uniform(0, 1, (3, 4))
    _compare_with_torch(F.binary_cross_entropy,
                        lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction="none"),
                        [x, tg], diff=(0, 1))


def test_torch_cross_entropy_and_nll():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((5, 4)) * 2
    lab = np.array([[0], [3], [-1], [2], [1]])
    tf = torch.nn.functional
    _compare_with_torch(F.softmax_cross_entropy,
                        lambda a, b: tf.cross_entropy(a, b[:, 0], reduction="none", ignore_index=-1)[:, None],
                        [x, lab])
    p = RNG.uniform(0.1, 1, (5, 4))
    _compare_with_torch(F.categorical_cross_entropy,
                        lambda a, b: tf.nll_loss(torch.log(a), b[:, 0], reduction="none", ignore_index=-1)[:, None],
                        [p, lab])


def test_torch_mse_l1_huber():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    a, b = RNG.standard_normal((3, 4)) * 2, RNG.standard_normal((3, 4))
    _compare_with_torch(F.squared_error, lambda u, v: tf.mse_loss(u, v, reduction="none"), [a, b], diff=(0, 1))
    _compare_with_torch(F.absolute_error, lambda u, v: tf.l1_loss(u, v, reduction="none"), [a, b], diff=(0, 1))
    for delta in (1.0, 0.7):
        _compare_with_torch(lambda u, v: F.huber_loss(u, v, delta=delta),
                            lambda u, v: 2 * tf.huber_loss(u, v, reduction="none", delta=delta), [a, b], diff=(0, 1))


def test_torch_kl_div():
    torch = pytest.importorskip("torch")
    p, q = RNG.uniform(0.1, 1, (3, 4)), RNG.uniform(0.1, 1, (3, 4))
    # nnabla's formula (1e-8 inside the logs) through torch's autograd, to second order
    _compare_with_torch(F.kl_multinomial,
                        lambda u, v: (u * (torch.log(u + 1e-8) - torch.log(v + 1e-8))).sum(1, keepdim=True),
                        [p, q], diff=(0, 1))
    # and torch's own kl_div up to that shift
    kl = torch.nn.functional.kl_div(torch.log(torch.tensor(q)), torch.tensor(p), reduction="none").sum(1, keepdim=True)
    np.testing.assert_allclose(np.asarray(F.kl_multinomial(f64(p), f64(q))), kl.numpy(), rtol=1e-6, atol=1e-9)
