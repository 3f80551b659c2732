"""What the op table's random points cannot see: nnabla's sub-gradients at
kinks, straight-through estimators, ties, zeros in products, the tails of
the activations in float32, accurate float32 reductions, and the limits at
the edge of a domain."""
import math

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F


def leaf(values, dtype=ng.float64):
    return ng.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, requires_grad=True)


def grad_of(fn, x, weight=None):
    """d/dx sum(weight * fn(x))."""
    y = fn(x)
    w = ng.tensor(np.ones(y.shape) if weight is None else weight, dtype=y.dtype)
    (g,) = ng.grad((y * w).sum(), [x])
    return g.numpy()


def grads_1_2(fn, x):
    """First derivative of sum(fn(x)) and the diagonal of its second derivative (elementwise fn)."""
    (g,) = ng.grad(fn(x).sum(), [x], create_graph=True)
    (h,) = ng.grad(g.sum(), [x], allow_unused=True)
    return g.numpy(), (np.zeros(x.shape) if h is None else h.numpy())


# --- kinks: nnabla's sub-gradients (OPS.md) ---------------------------------

@pytest.mark.parametrize("fn, x, expected", [
    (F.relu, [0.0], [0.0]),
    (lambda x: F.leaky_relu(x, 0.2), [0.0], [0.2]),
    (F.relu6, [0.0, 6.0, 3.0], [0.0, 0.0, 1.0]),
    (F.hard_sigmoid, [-2.5, 2.5, -2.6, 2.6], [0.2, 0.2, 0.0, 0.0]),
    (F.hard_tanh, [-1.0, 1.0, -1.1, 1.1], [1.0, 1.0, 0.0, 0.0]),
    (F.softsign, [0.0], [1.0]),
    (F.sinc, [0.0], [0.0]),
    (F.abs, [0.0], [1.0]),
    (lambda x: F.elu(x, 2.0), [0.0], [2.0]),  # the x <= 0 branch: alpha e^0
    (lambda x: F.minimum_scalar(x, 1.0), [1.0, 0.5], [0.0, 1.0]),
    (lambda x: F.maximum_scalar(x, 1.0), [1.0, 1.5], [0.0, 1.0]),
    (lambda x: F.clip_by_value(x, -1.0, 1.0), [-1.0, 1.0, 0.0], [0.0, 0.0, 1.0]),
])
def test_kinks_take_nnabla_subgradients(fn, x, expected):
    np.testing.assert_array_equal(grad_of(fn, leaf(x)), expected)


def test_crelu_passes_minus_dy_of_the_second_half_at_zero():
    x = leaf([[0.0, 1.0, -1.0]])  # axis 1 concatenates (1, 3) with (1, 3)
    w = np.array([[1.0, 2.0, 3.0, 10.0, 20.0, 30.0]])
    np.testing.assert_array_equal(grad_of(F.crelu, x, w), [[-10.0, 2.0, -30.0]])


def test_prelu_gives_slope_one_at_zero_and_sums_the_weight_gradient():
    x = leaf([[0.0, -2.0], [3.0, -1.0]])
    w = leaf([0.25, 0.5])  # per channel (base_axis=1)
    y = F.prelu(x, w)
    np.testing.assert_allclose(y.numpy(), [[0.0, -1.0], [3.0, -0.5]])
    gx, gw = ng.grad(y.sum(), [x, w])
    np.testing.assert_array_equal(gx.numpy(), [[1.0, 0.5], [1.0, 0.5]])
    np.testing.assert_array_equal(gw.numpy(), [0.0, -3.0])
    shared = leaf([0.1])
    (gs,) = ng.grad(F.prelu(x, shared).sum(), [shared])
    assert gs.shape == (1,) and gs.item() == pytest.approx(-3.0)


def test_minimum2_maximum2_give_ties_to_x1():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([1.0, 1.0, 4.0])
    for op, ga_want, gb_want in ((F.maximum2, [0, 1, 0], [1, 0, 1]), (F.minimum2, [0, 0, 1], [1, 1, 0])):
        ga, gb = ng.grad(op(a, b).sum(), [a, b])
        np.testing.assert_array_equal(ga.numpy(), ga_want)
        np.testing.assert_array_equal(gb.numpy(), gb_want)


def test_max_min_send_the_gradient_to_the_first_extreme_and_index_it():
    x = leaf([[1.0, 3.0, 3.0], [-2.0, -2.0, 0.0]])
    np.testing.assert_array_equal(grad_of(lambda v: F.max(v, axis=1), x), [[0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(grad_of(lambda v: F.min(v, axis=1), x), [[1, 0, 0], [1, 0, 0]])
    values, index = F.max(x, axis=1, with_index=True)
    assert index.dtype == ng.int64 and not index.requires_grad
    np.testing.assert_array_equal(values.numpy(), [3.0, 0.0])
    np.testing.assert_array_equal(index.numpy(), [1, 2])
    # the flat index within the reduced axes, row-major over them
    z = np.arange(24.0).reshape(2, 3, 4)
    z[1, 2, 1] = 100.0
    idx = F.max(ng.tensor(z), axis=(0, 2), only_index=True)
    np.testing.assert_array_equal(idx.numpy(), [7, 7, 5])  # (i0, i2) at i0 * 4 + i2: z[1, j, 3], z[1, 2, 1]
    assert F.max(ng.tensor(z), only_index=True).item() == np.argmax(z)
    np.testing.assert_array_equal(F.min(ng.tensor(z), axis=1, keepdims=True).shape, (2, 1, 4))


def test_max_of_nan_is_nan():
    x = ng.tensor([1.0, float("nan"), 3.0])
    value, index = F.max(x, with_index=True)
    assert math.isnan(value.item()) and index.item() == 1


@pytest.mark.parametrize("op", [F.round, F.ceil, F.floor, F.sign])
def test_rounding_and_sign_are_straight_through_by_default(op):
    x = leaf([-1.5, -0.4, 0.5, 2.5])
    np.testing.assert_array_equal(grad_of(op, x), np.ones(4))
    y = op(x, ste=False)
    assert not y.requires_grad  # the true gradient is zero: a constant of the graph
    (g,) = ng.grad((x * op(x, ste=False)).sum(), [x])
    np.testing.assert_array_equal(g.numpy(), op(x).numpy())
    (g,) = ng.grad(op(x).sum(), [x], create_graph=True)  # STE: d2 = 0, a zero (not an error)
    np.testing.assert_array_equal(ng.grad(g.sum(), [x])[0].numpy(), np.zeros(4))


def test_round_is_half_away_from_zero_and_sign_takes_alpha_at_zero():
    np.testing.assert_array_equal(F.round(ng.tensor([-2.5, -0.5, 0.5, 1.5, 2.5])).numpy(), [-3, -1, 1, 2, 3])
    np.testing.assert_array_equal(F.sign(ng.tensor([-3.0, 0.0, 2.0]), alpha=0.5).numpy(), [-1, 0.5, 1])


def test_comparisons_are_float_constants_and_accept_integers():
    a, b = ng.tensor([1, 2, 3]), ng.tensor([3, 2, 1])
    y = a >= b
    assert y.dtype == ng.float32 and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [0, 1, 1])
    x = leaf([1.0, 2.0])
    assert (x == x).dtype == ng.float64 and not (x == x).requires_grad
    np.testing.assert_array_equal(F.logical_xor(ng.tensor([0.0, 2.0, 0.0]), ng.tensor([0.0, 0.0, -1.0])).numpy(),
                                  [0, 1, 1])
    np.testing.assert_array_equal(F.logical_and_scalar(ng.tensor([0.0, 3.0]), True).numpy(), [0, 1])
    np.testing.assert_array_equal(F.logical_not(ng.tensor([True, False])).numpy(), [0, 1])
    big = ng.tensor([2 ** 53 + 1])  # integers compare exactly, not through a float
    assert F.equal(big, ng.tensor([2 ** 53])).item() == 0.0
    assert F.greater_scalar(ng.tensor([2 ** 40 + 1]), 2.0 ** 40).item() == 1.0  # through float64, not float32


def test_where_gives_the_condition_no_gradient_and_broadcasts():
    c = ng.tensor([[1.0], [0.0]], requires_grad=True)
    a, b = leaf([1.0, 2.0, 3.0]), leaf(5.0)
    y = ng.where(c, a, b)
    np.testing.assert_array_equal(y.numpy(), [[1, 2, 3], [5, 5, 5]])
    ga, gb, gc = ng.grad(y.sum(), [a, b, c], allow_unused=True)
    np.testing.assert_array_equal(ga.numpy(), [1, 1, 1])
    assert gb.item() == 3.0 and (gc is None or np.all(gc.numpy() == 0))
    np.testing.assert_array_equal(ng.where(ng.tensor([True, False]), 1.0, ng.tensor([7.0, 8.0])).numpy(), [1, 8])
    # nnabla's where: the condition names the leading axes
    y2 = F.where(ng.tensor([1.0, 0.0, 1.0]), ng.ones((3, 2)), ng.zeros((3, 2)))
    np.testing.assert_array_equal(y2.numpy(), [[1, 1], [0, 0], [1, 1]])


def test_reset_nan_and_inf_replace_and_block_the_gradient():
    x = leaf([1.0, float("nan"), float("inf"), -float("inf")])
    y = F.reset_nan(x, val=7.0)
    np.testing.assert_array_equal(y.numpy()[[0, 1]], [1.0, 7.0])
    np.testing.assert_array_equal(grad_of(lambda v: F.reset_inf(F.reset_nan(v), -1.0), x), [1, 0, 0, 0])


def test_unlink_stops_the_gradient():
    x = leaf([1.0, 2.0])
    y = x * F.unlink(x)
    (g,) = ng.grad(y.sum(), [x])
    np.testing.assert_array_equal(g.numpy(), [1.0, 2.0])


# --- prod and cumprod with zeros: exact, first and second order -------------

def _prod_hessian(x):
    """The Hessian of prod(x): H_ij = prod of x without i and j (i != j)."""
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                h[i, j] = np.prod([x[k] for k in range(n) if k not in (i, j)])
    return h


def _hessian(fn, x0):
    x = leaf(x0)
    (g,) = ng.grad(fn(x), [x], create_graph=True)
    rows = []
    for i in range(len(x0)):
        e = np.zeros(len(x0))
        e[i] = 1.0
        (h,) = ng.grad((g * ng.tensor(e)).sum(), [x], retain_graph=True, allow_unused=True)
        rows.append(np.zeros(len(x0)) if h is None else h.numpy())
    return g.numpy(), np.array(rows)


@pytest.mark.parametrize("x0", [[2.0, 0.0, 3.0, 5.0], [0.0, 4.0, 0.0, 3.0], [0.0, 0.0, 0.0, 2.0],
                                [1.5, -2.0, 0.5, 3.0]])
def test_prod_gradient_and_hessian_are_exact_with_zeros(x0):
    g, h = _hessian(F.prod, x0)
    n = len(x0)
    want_g = [np.prod([x0[k] for k in range(n) if k != i]) for i in range(n)]
    np.testing.assert_allclose(g, want_g, rtol=1e-14, atol=0)
    np.testing.assert_allclose(h, _prod_hessian(x0), rtol=1e-14, atol=0)


def test_prod_third_order_with_a_zero():
    # d3 prod / dx0 dx1 dx2 of [x0, 0, x2, x3] = x3, through every order of the rule
    x = leaf([2.0, 0.0, 3.0, 5.0])
    (g,) = ng.grad(F.prod(x), [x], create_graph=True)
    (h0,) = ng.grad((g * ng.tensor([1.0, 0, 0, 0])).sum(), [x], create_graph=True)
    (t,) = ng.grad((h0 * ng.tensor([0, 1.0, 0, 0])).sum(), [x])
    np.testing.assert_allclose(t.numpy(), [0.0, 0.0, 5.0, 3.0], rtol=1e-14)


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumprod_gradient_and_hessian_are_exact_with_zeros(exclusive, reverse):
    x0 = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    w = np.array([1.0, -2.0, 0.5, 3.0, 1.5])

    def f(x):
        return (F.cumprod(x, 0, exclusive=exclusive, reverse=reverse) * ng.tensor(w)).sum()

    def f_np(v):
        out = np.empty_like(v)
        n = len(v)
        for i in range(n):
            idx = range(i + 1, n) if (reverse and exclusive) else range(i, n) if reverse else \
                range(0, i) if exclusive else range(0, i + 1)
            out[i] = np.prod([v[j] for j in idx])
        return (out * w).sum()

    g, h = _hessian(f, x0)
    # exact derivatives of the polynomial f_np by differencing it at step 1 (f is multilinear: exact)
    n = len(x0)
    want_g = np.array([f_np(x0 + np.eye(n)[i]) - f_np(x0) for i in range(n)])
    want_h = np.array([[f_np(x0 + np.eye(n)[i] + np.eye(n)[j]) - f_np(x0 + np.eye(n)[i]) - f_np(x0 + np.eye(n)[j])
                        + f_np(x0) if i != j else 0.0 for j in range(n)] for i in range(n)])
    np.testing.assert_allclose(g, want_g, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(h, want_h, rtol=1e-13, atol=1e-13)


# --- stability in float32 at |x| up to 1000 --------------------------------

TAIL = np.array([-1000.0, -100.0, -40.0, -3.0, 0.5, 3.0, 40.0, 100.0, 1000.0])


def _s(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


def _gelu_parts(x):
    c, k = math.sqrt(2 / math.pi), 0.044715
    u = c * (x + k * x ** 3)
    t = np.tanh(u)
    du, ddu = c * (1 + 3 * k * x ** 2), 6 * c * k * x
    f1 = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    f2 = (1 - t * t) * (du + x * (ddu / 2 - t * du * du))
    return 0.5 * x * (1 + t), f1, f2


ELEMENTWISE_TAILS = {
    "sigmoid": (F.sigmoid, lambda x: (_s(x), _s(x) * _s(-x), _s(x) * _s(-x) * (1 - 2 * _s(x)))),
    "log_sigmoid": (F.log_sigmoid, lambda x: (np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))), _s(-x),
                                             -_s(x) * _s(-x))),
    "softplus": (F.softplus, lambda x: (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))), _s(x), _s(x) * _s(-x))),
    "swish": (F.swish, lambda x: (x * _s(x), _s(x) + x * _s(x) * _s(-x), _s(x) * _s(-x) * (2 + x * (1 - 2 * _s(x))))),
    "gelu": (F.gelu, _gelu_parts),
    "elu": (F.elu, lambda x: (np.where(x > 0, x, np.expm1(np.minimum(x, 0))), np.where(x > 0, 1, np.exp(np.minimum(x, 0))),
                              np.where(x > 0, 0, np.exp(np.minimum(x, 0))))),
    "selu": (F.selu, lambda x: (1.05070098735548 * np.where(x > 0, x, 1.673263242354377 * np.expm1(np.minimum(x, 0))),
                                1.05070098735548 * np.where(x > 0, 1, 1.673263242354377 * np.exp(np.minimum(x, 0))),
                                1.05070098735548 * np.where(x > 0, 0, 1.673263242354377 * np.exp(np.minimum(x, 0))))),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_TAILS))
def test_activation_tails_in_float32_are_finite_and_right(name):
    fn, closed = ELEMENTWISE_TAILS[name]
    with np.errstate(all="ignore"):
        want = [np.asarray(v, dtype=np.float64) for v in closed(TAIL)]
    x = leaf(TAIL, dtype=ng.float32)
    y = fn(x)
    g, h = grads_1_2(fn, x)
    for got, ref, what in ((y.numpy(), want[0], "value"), (g, want[1], "first derivative"),
                           (h, want[2], "second derivative")):
        assert np.all(np.isfinite(got)), f"{name} {what}: {got}"
        np.testing.assert_allclose(got, ref, rtol=2e-5, atol=1e-6, err_msg=f"{name} {what}")


def test_celu_tails_in_float32():
    x = leaf(TAIL.reshape(1, -1), dtype=ng.float32)
    g, h = grads_1_2(F.celu, x)
    e1 = lambda v: np.where(v > 0, 1, np.exp(np.minimum(v, 0)))  # noqa: E731
    e2 = lambda v: np.where(v > 0, 0, np.exp(np.minimum(v, 0)))  # noqa: E731
    np.testing.assert_allclose(g, e1(TAIL) - e1(-TAIL)[None], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h, e2(TAIL) + e2(-TAIL)[None], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_tails_in_float32_match_float64(fn):
    rows = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -40.0], [-1000.0, -1000.0, -999.0]])
    w = np.array([[0.5, -1.0, 2.0]])
    results = {}
    for dtype in (ng.float32, ng.float64):
        x = leaf(rows, dtype=dtype)
        y = fn(x)
        (g,) = ng.grad((y * ng.tensor(w, dtype=dtype)).sum(), [x], create_graph=True)
        (h,) = ng.grad((g * g).sum(), [x])
        results[dtype] = [y.numpy().astype(np.float64), g.numpy().astype(np.float64), h.numpy().astype(np.float64)]
        for a in results[dtype]:
            assert np.all(np.isfinite(a))
    for a, b in zip(results[ng.float32], results[ng.float64]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.exp(results[ng.float64][0]) if fn is F.log_softmax else results[ng.float64][0],
                               [[0, 0, 1], [0.5, 0.5, 0], [1 / (2 + math.e), 1 / (2 + math.e), math.e / (2 + math.e)]],
                               rtol=1e-12, atol=1e-300)


def test_prod_and_cumprod_with_large_values_in_float32():
    x0 = np.array([1000.0, -1000.0, 1e-3, 2.0])
    for fn in (F.prod, lambda v: F.cumprod(v, 0).sum()):
        out = {}
        for dtype in (ng.float32, ng.float64):
            x = leaf(x0, dtype=dtype)
            (g,) = ng.grad(fn(x), [x], create_graph=True)
            (h,) = ng.grad(g.sum(), [x])
            out[dtype] = (g.numpy().astype(np.float64), h.numpy().astype(np.float64))
            assert np.all(np.isfinite(out[dtype][0])) and np.all(np.isfinite(out[dtype][1]))
        for a, b in zip(out[ng.float32], out[ng.float64]):
            np.testing.assert_allclose(a, b, rtol=1e-5)


def test_log_of_sigmoid_keeps_its_gradient_in_the_negative_tail():
    for dtype, x0 in ((ng.float32, -40.0), (ng.float32, -80.0), (ng.float64, -40.0), (ng.float64, -700.0)):
        x = leaf([x0], dtype=dtype)
        s = F.sigmoid(x)
        assert s.item() > 0
        (g,) = ng.grad(F.log(s).sum(), [x])
        assert g.item() == pytest.approx(1.0, rel=1e-6)


# --- accuracy, limits, division ---------------------------------------------

def test_float32_sums_are_accurate():
    x = ng.full((10 ** 7,), 0.1, ng.float32)
    assert abs(x.sum().item() - 1e6) / 1e6 < 1e-6  # naive accumulation gives 1005958.75
    col = ng.full((2 ** 21, 3), 0.1, ng.float32)
    np.testing.assert_allclose(F.mean(col, axis=0).numpy(), np.float32(0.1), rtol=1e-6)
    np.testing.assert_allclose(F.sum(col, axis=1).numpy()[:3], np.float32(0.3), rtol=1e-6)
    z = ng.full((2 ** 20, 2, 2), 0.1, ng.float32)
    np.testing.assert_allclose(F.sum(z, axis=(0, 2)).numpy(), 2 ** 21 * 0.1, rtol=1e-6)


def test_pow_at_base_zero_takes_the_limits():
    b, e = leaf([0.0, 0.0, 2.0]), leaf([2.0, 0.0, 0.5])
    gb, ge = ng.grad(F.pow2(b, e).sum(), [b, e])
    assert np.all(np.isfinite(gb.numpy())) and np.all(np.isfinite(ge.numpy()))
    np.testing.assert_allclose(ge.numpy(), [0.0, 0.0, math.sqrt(2) * math.log(2)])
    np.testing.assert_allclose(gb.numpy(), [0.0, 0.0, 0.5 / math.sqrt(2)])
    # a learnable exponent on a relu output
    x = leaf([-1.0, 2.0])
    p = leaf(1.5)
    (gp,) = ng.grad((F.relu(x) ** p).sum(), [p])
    assert gp.item() == pytest.approx(2 ** 1.5 * math.log(2))
    y = leaf([1.0, 2.0])
    (gy,) = ng.grad(F.r_pow_scalar(y, 0.0).sum(), [y])
    np.testing.assert_array_equal(gy.numpy(), [0.0, 0.0])


def test_division_by_a_scalar_divides():
    x = ng.tensor([1e-300], dtype=ng.float64)
    assert (x / 1e-310).item() == pytest.approx(1e10)
    a = np.random.default_rng(0).uniform(-10, 10, 1000).astype(np.float32)
    np.testing.assert_array_equal((ng.tensor(a) / 3.0).numpy(), a / np.float32(3.0))


def test_mixed_float_inputs_promote_in_affine_add_n_and_matmul():
    a = ng.tensor(np.ones((2, 3)), dtype=ng.float32, requires_grad=True)
    w = ng.tensor(np.ones((3, 4)), dtype=ng.float64, requires_grad=True)
    y = F.affine(a, w, ng.tensor(np.zeros(4), dtype=ng.float32))
    assert y.dtype == ng.float64
    ga, gw = ng.grad(y.sum(), [a, w])
    assert ga.dtype == ng.float32 and gw.dtype == ng.float64
    assert F.add_n(a, ng.tensor(np.ones((2, 3)), dtype=ng.float64)).dtype == ng.float64
    assert (a @ w).dtype == ng.float64


def test_clip_by_norm_of_zero_has_a_finite_gradient():
    x = leaf([0.0, 0.0])
    np.testing.assert_array_equal(grad_of(lambda v: F.clip_by_norm(v, 1.0), x), [1.0, 1.0])


def test_mod2_follows_fmod_for_floats_and_python_for_integers():
    np.testing.assert_array_equal(F.mod2(ng.tensor([-7.0, 7.0]), ng.tensor([3.0, -3.0])).numpy(), [-1.0, 1.0])
    np.testing.assert_array_equal(F.mod2(ng.tensor([-7, 7]), ng.tensor([3, -3])).numpy(), [2, -2])
    np.testing.assert_array_equal(F.mod2(ng.tensor([-7, 7]), ng.tensor([3, -3]), fmod=True).numpy(), [-1, 1])
    x, d = leaf([7.5]), leaf([2.0])
    gx, gd = ng.grad(F.mod2(x, d).sum(), [x, d])
    assert gx.item() == 1.0 and gd.item() == -3.0


def test_creation_ops():
    assert F.constant(3, (2, 2)).dtype == ng.float32
    np.testing.assert_array_equal(F.arange(0, 5, dtype="int64").numpy(), np.arange(5))
    assert F.arange(0, 1, 0.1).shape == (10,)
    np.testing.assert_array_equal(F.linspace(0, 1, 1).numpy(), [0.0])
    assert F.linspace(0, 1, 0).shape == (0,)


# --- tensor operators and methods --------------------------------------------

def test_tensor_comparisons_and_hashing():
    a, b = ng.tensor([1.0, 2.0, 3.0]), ng.tensor([3.0, 2.0, 1.0])
    for got, want in ((a < b, [1, 0, 0]), (a <= b, [1, 1, 0]), (a > b, [0, 0, 1]), (a >= b, [0, 1, 1]),
                      (a == b, [0, 1, 0]), (a != b, [1, 0, 1]), (a == 2.0, [0, 1, 0]), (a < np.array([2, 2, 2]),
                                                                                        [1, 0, 0])):
        np.testing.assert_array_equal(got.numpy(), want)
    assert (a == None) is False and (a != "x") is True  # noqa: E711 - unrelated objects: identity
    assert len({a, b, a}) == 2  # hashable by identity


def test_tensor_methods():
    x = ng.tensor([[1.0, -4.0], [3.0, 2.0]])
    assert x.max().item() == 3.0 and x.min().item() == -4.0 and x.argmax().item() == 2
    np.testing.assert_array_equal(x.max(axis=0).numpy(), [3.0, 2.0])
    np.testing.assert_array_equal(x.argmin(axis=1).numpy(), [1, 1])
    assert x.prod().item() == -24.0
    np.testing.assert_array_equal(x.cumsum().numpy(), [1, -3, 0, 2])
    np.testing.assert_array_equal(x.cumsum(axis=1).numpy(), [[1, -3], [3, 5]])
    np.testing.assert_array_equal((-x).numpy(), -x.numpy())
    np.testing.assert_array_equal(abs(x).numpy(), np.abs(x.numpy()))
    np.testing.assert_array_equal(x.clip(-1, 2).numpy(), [[1, -1], [2, 2]])
    np.testing.assert_allclose(x.tanh().numpy(), np.tanh(x.numpy()), rtol=1e-6)
    np.testing.assert_array_equal((-ng.tensor([1, -2])).numpy(), [-1, 2])
    np.testing.assert_array_equal(abs(ng.tensor([1, -2])).numpy(), [1, 2])
    np.testing.assert_array_equal(ng.maximum(x, 0.0).numpy(), np.maximum(x.numpy(), 0))
    np.testing.assert_array_equal(ng.minimum(x, ng.tensor([0.0, 0.0])).numpy(), np.minimum(x.numpy(), 0))
