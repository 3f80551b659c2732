"""Surrogate gradients (nthgrad.surrogate): Heaviside forwards, sigma'
against closed forms, sigma'' and sigma''' by finite differences and the
issue's closed forms, meta-gradients in alpha, the stochastic forwards, the
snnTorch-style spike functions, custom surrogates and bad input."""
import math

import numpy as np
import pytest

import nthgrad as ng
from nthgrad import surrogate as S

X = np.array([-1.7, -0.9, -0.35, -0.05, 0.02, 0.3, 0.8, 1.4, 2.2])  # away from the kinks at 0, +-1
PI = math.pi

# method -> (Python spike function of (x, alpha), alpha, closed-form sigma'(x, a))
CASES = {
    "heavi_erfc": (S.heavi_erfc_fn, 1.5, lambda x, a: 2 * np.exp(-(a * x) ** 2) / math.sqrt(PI)),
    "heavi_tanh": (S.heavi_tanh_fn, 2.0, lambda x, a: 1 - np.tanh(a * x) ** 2),
    "heavi_circ": (S.heavi_circ_fn, 0.7, lambda x, a: a ** 3 / (x * x + a * a) ** 1.5),
    "triangle": (S.triangle_fn, 0.3, lambda x, a: a * np.maximum(0, 1 - np.abs(x))),
    "super": (S.super_fn, 10.0, lambda x, a: 1 / (a * np.abs(x) + 1) ** 2),
    "atan": (lambda x, a: S.atan(a)(x), 2.0, lambda x, a: (a / 2) / (1 + (PI * a * x / 2) ** 2)),
    "fast_sigmoid": (lambda x, a: S.fast_sigmoid(a)(x), 25.0, lambda x, a: 1 / (a * np.abs(x) + 1) ** 2),
    "sigmoid": (lambda x, a: S.sigmoid(a)(x), 5.0,
                lambda x, a: a * np.exp(-a * x) / (1 + np.exp(-a * x)) ** 2),
    "straight_through": (lambda x, a: S.straight_through()(x), 1.0, lambda x, a: np.ones_like(x)),
    "spike_rate_escape": (lambda x, a: S.spike_rate_escape(beta=1.5, slope=a)(x), 3.0,
                          lambda x, a: a * np.exp(-1.5 * np.abs(x - 1))),
}
SMOOTH = ["heavi_erfc", "heavi_tanh", "heavi_circ", "atan", "sigmoid"]  # third order by finite differences


def _grads(fn, x_np, alpha, order):
    """[sigma', sigma'', ...] up to order, elementwise, by grad of grad."""
    x = ng.tensor(x_np, requires_grad=True)
    out, y = [], fn(x, alpha).sum()
    for k in range(order):
        (g,) = ng.grad(y, [x], create_graph=k + 1 < order)
        out.append(np.array(g))
        y = g.sum()
    return out


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_is_heaviside_with_h0_zero_in_x_dtype(name, dtype):
    fn, alpha, _ = CASES[name]
    x = ng.tensor(np.array([-2.0, -0.0, 0.0, 1e-30, 3.0]), dtype=getattr(ng, dtype))
    z = fn(x, alpha)
    assert z.dtype == x.dtype and z.shape == x.shape
    np.testing.assert_array_equal(np.array(z), [0, 0, 0, 1, 1])
    assert not z.requires_grad


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_derivative_is_the_closed_form(name):
    fn, alpha, closed = CASES[name]
    (d1,) = _grads(fn, X, alpha, 1)
    np.testing.assert_allclose(d1, closed(X, alpha), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.array(S.derivative(ng.tensor(X), {"heavi_tanh": "tanh", "heavi_circ": "circ"}
                                                     .get(name, name), alpha, 1.5 if name == "spike_rate_escape"
                                                     else 1.0)) if name not in ("straight_through",) else d1,
                               closed(X, alpha), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivative_is_the_finite_difference_of_the_first(name):
    fn, alpha, closed = CASES[name]
    _, d2 = _grads(fn, X, alpha, 2)
    h = 1e-6
    fd = (closed(X + h, alpha) - closed(X - h, alpha)) / (2 * h)
    scale = np.abs(fd).max() + 1e-12
    np.testing.assert_allclose(d2, fd, rtol=1e-5, atol=1e-6 * scale)


# the issue's closed forms of sigma''
SECOND = {
    "super": lambda x, a: -2 * a * np.sign(x) / (a * np.abs(x) + 1) ** 3,
    "triangle": lambda x, a: -a * np.sign(x) * (np.abs(x) < 1),
    "heavi_erfc": lambda x, a: -4 * a * a * x * np.exp(-(a * x) ** 2) / math.sqrt(PI),
    "atan": lambda x, a: -(PI ** 2 * a ** 3 / 4) * x / (1 + (PI * a * x / 2) ** 2) ** 2,
}


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_derivative_matches_the_issues_closed_form(name):
    fn, alpha, _ = CASES[name]
    _, d2 = _grads(fn, X, alpha, 2)
    np.testing.assert_allclose(d2, SECOND[name](X, alpha), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", SMOOTH)
def test_third_derivative_by_finite_differences(name):
    fn, alpha, _ = CASES[name]
    h = 1e-5
    _, _, d3 = _grads(fn, X, alpha, 3)
    up = _grads(fn, X + h, alpha, 2)[1]
    down = _grads(fn, X - h, alpha, 2)[1]
    fd = (up - down) / (2 * h)
    np.testing.assert_allclose(d3, fd, rtol=1e-5, atol=1e-6 * (np.abs(fd).max() + 1e-12))


@pytest.mark.parametrize("method", ["super", "triangle", "tanh", "circ", "heavi_erfc"])
def test_alpha_gets_the_meta_gradient_of_a_first_order_gradient(method):
    x = ng.tensor(X, requires_grad=True)
    w = np.linspace(0.5, 1.5, X.size)  # a weighted sum, so that no cancellation hides an error

    def first_order(a_value, create_graph):
        a = ng.tensor(a_value, dtype=ng.float64, requires_grad=True)
        z = S.threshold(x, method, a)
        (g,) = ng.grad(z.sum(), [x], create_graph=create_graph)
        return a, (g * ng.tensor(w)).sum()

    a, loss = first_order(0.8, True)
    (g_alpha,) = ng.grad(loss, [a])
    h = 1e-6
    fd = (first_order(0.8 + h, False)[1].item() - first_order(0.8 - h, False)[1].item()) / (2 * h)
    np.testing.assert_allclose(g_alpha.item(), fd, rtol=1e-6, atol=1e-9)
    # H does not depend on alpha: the first-order gradient in alpha is zero (a float32 alpha is cast)
    a = ng.tensor(0.8, requires_grad=True)
    (g_a0, _) = ng.grad(S.threshold(x, method, a).sum() + 0.0 * a, [a, x])
    assert g_a0.item() == 0.0 and g_a0.dtype == ng.float32


def test_alpha_per_element_broadcasts_and_bad_alpha_is_refused():
    x = ng.tensor(np.array([[0.1, -0.2], [0.3, 0.4]]), requires_grad=True)
    a = ng.tensor(np.array([1.0, 2.0]))
    (g,) = ng.grad(S.super_fn(x, a).sum(), [x])
    np.testing.assert_allclose(np.array(g), 1 / (np.array([1.0, 2.0]) * np.abs(np.array(x)) + 1) ** 2)
    with pytest.raises(ValueError, match=r"surrogate_heaviside: .*\(3,\)"):
        S.super_fn(x, ng.tensor(np.ones(3)))
    with pytest.raises(TypeError, match="alpha must be a number or a tensor, got str"):
        S.super_fn(x, "wide")
    with pytest.raises(TypeError, match="super_fn: x must be float32 or float64, got int64"):
        S.super_fn(ng.tensor([1, 2]), 1.0)


def test_numpy_scalar_alpha_is_a_number():
    # np.float32 is not a Python float: it was refused as "alpha must be a number or a tensor, got float32"
    x = ng.tensor(X, requires_grad=True)
    want = np.array(ng.grad(S.super_fn(x, 10.0).sum(), [x])[0])
    for alpha in (np.float32(10.0), np.int64(10), np.float64(10.0)):
        np.testing.assert_array_equal(np.array(ng.grad(S.super_fn(x, alpha).sum(), [x])[0]), want)
        np.testing.assert_array_equal(np.array(ng.grad(S.fast_sigmoid(alpha)(x).sum(), [x])[0]), want)
        np.testing.assert_array_equal(np.array(S.derivative(x, "super", alpha)), want)
    g = ng.grad(S.spike_rate_escape(beta=np.float32(1.5), slope=3.0)(x).sum(), [x])[0]
    np.testing.assert_allclose(np.array(g), 3.0 * np.exp(-1.5 * np.abs(X - 1)), rtol=1e-12)
    from nthgrad import snn
    v = ng.ones((2, 3), dtype=ng.float64) * 30.0
    z1, _ = snn.lif_feed_forward_step(v, None, snn.LIFParameters(alpha=np.float32(10.0)))
    z2, _ = snn.lif_feed_forward_step(v, None, snn.LIFParameters(alpha=10.0))
    np.testing.assert_array_equal(np.array(z1), np.array(z2))


@pytest.mark.parametrize("call, name", [
    (lambda x, a: S.super_fn(x, a), "super_fn"),
    (lambda x, a: S.heavi_erfc_fn(x, a), "heavi_erfc_fn"),
    (lambda x, a: S.threshold(x, "tanh", a), "threshold"),
    (lambda x, a: S.logistic_fn(x, a, seed=0), "logistic_fn"),
    (lambda x, a: S.circ_dist_fn(x, a, seed=0), "circ_dist_fn"),
    (lambda x, a: S.atan(a)(x), r"surrogate.atan\(alpha=.*\)"),
])
def test_bad_x_and_alpha_are_named_by_the_function(call, name):
    # the stochastic forwards said "'list' object has no attribute 'detach'" for a list x and "only an int64
    # tensor with one element can be used as an index" for alpha="wide"; the others gave the binding's
    # "incompatible function arguments"
    x = ng.tensor(X)
    with pytest.raises(TypeError, match=rf"{name}: x must be an nthgrad Tensor, got list"):
        call([0.1, 0.2], 1.0)
    with pytest.raises(TypeError, match=rf"{name}: (alpha|k) must be a number or a tensor, got str"):
        call(x, "wide")
    with pytest.raises(TypeError, match=rf"{name}: x must be float32 or float64, got int64"):
        call(ng.tensor([1, 2]), 1.0)
    with pytest.raises(ValueError, match="threshold: unknown method \\['super'\\]"):
        S.threshold(x, ["super"], 1.0)


def test_heaviside_method_has_zero_gradient_and_unknown_methods_are_listed():
    x = ng.tensor(X, requires_grad=True)
    (g,) = ng.grad(S.threshold(x, "heaviside", 1.0).sum(), [x])
    np.testing.assert_array_equal(np.array(g), 0.0)
    with pytest.raises(ValueError, match="threshold: unknown method 'relu'; the methods are 'heaviside', 'super'"):
        S.threshold(x, "relu", 1.0)
    with pytest.raises(ValueError, match="surrogate: unknown method 'nope'; the methods are"):
        S.derivative(x, "nope")


def test_sign_is_twice_threshold_minus_one():
    x = ng.tensor(X, requires_grad=True)
    s = S.sign(x, "tanh", 2.0)
    np.testing.assert_array_equal(np.array(s), np.where(X > 0, 1.0, -1.0))
    (g,) = ng.grad(s.sum(), [x])
    np.testing.assert_allclose(np.array(g), 2 * (1 - np.tanh(2.0 * X) ** 2), rtol=1e-12)


def test_sigmoid_surrogate_is_finite_at_minus_1000_in_float32():
    x = ng.tensor(np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0], np.float32), requires_grad=True)
    spike = S.sigmoid(25)
    (g,) = ng.grad(spike(x).sum(), [x], create_graph=True)
    (g2,) = ng.grad(g.sum(), [x])
    assert np.all(np.isfinite(np.array(g))) and np.all(np.isfinite(np.array(g2)))
    np.testing.assert_allclose(np.array(g)[[0, 4]], 0.0)
    np.testing.assert_allclose(np.array(g)[2], 25 / 4, rtol=1e-6)


def test_straight_through_second_derivative_is_zeros_not_an_error():
    x = ng.tensor(X, requires_grad=True)
    (g,) = ng.grad(S.straight_through()(x).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(np.array(g), 1.0)
    (g2,) = ng.grad(g.sum(), [x])
    np.testing.assert_array_equal(np.array(g2), 0.0)


@pytest.mark.parametrize("fn, p", [
    (lambda x, s: S.logistic_fn(x, 2.0, seed=s), lambda x: 0.5 + 0.5 * np.tanh(2.0 * x)),
    (lambda x, s: S.circ_dist_fn(x, 0.5, seed=s), lambda x: 0.5 + 0.5 * x / np.sqrt(x * x + 0.25)),
])
def test_stochastic_forwards_are_seeded_with_the_right_mean(fn, p):
    xs = np.array([-1.0, -0.2, 0.0, 0.3, 1.2])
    x = ng.tensor(np.repeat(xs[None], 20000, axis=0))
    z1, z2, z3 = np.array(fn(x, 7)), np.array(fn(x, 7)), np.array(fn(x, 8))
    np.testing.assert_array_equal(z1, z2)
    assert not np.array_equal(z1, z3)
    assert set(np.unique(z1)) <= {0.0, 1.0}
    want = p(xs)
    # within 5 standard errors of a mean of 20000 Bernoulli draws
    assert np.all(np.abs(z1.mean(axis=0) - want) <= 5 * np.sqrt(want * (1 - want) / 20000) + 1e-12)
    gen = ng.Generator(3)
    a, b = np.array(fn(x, gen)), np.array(fn(x, gen))
    assert not np.array_equal(a, b)  # a generator advances


def test_stochastic_forward_gradient_is_the_surrogate():
    x = ng.tensor(X, requires_grad=True)
    (g,) = ng.grad(S.logistic_fn(x, 2.0, seed=1).sum(), [x])
    np.testing.assert_allclose(np.array(g), 1 - np.tanh(2.0 * X) ** 2, rtol=1e-12)
    (g,) = ng.grad(S.circ_dist_fn(x, 0.5, seed=1).sum(), [x])
    np.testing.assert_allclose(np.array(g), 0.125 / (X * X + 0.25) ** 1.5, rtol=1e-12)


def test_custom_surrogate_every_order():
    spike = S.custom(lambda x: 1.0 / (1.0 + 10.0 * x * x))
    x = ng.tensor(X, requires_grad=True)
    z = spike(x)
    np.testing.assert_array_equal(np.array(z), (X > 0).astype(float))
    (g,) = ng.grad(z.sum(), [x], create_graph=True)
    np.testing.assert_allclose(np.array(g), 1 / (1 + 10 * X * X), rtol=1e-12)
    (g2,) = ng.grad(g.sum(), [x])
    np.testing.assert_allclose(np.array(g2), -20 * X / (1 + 10 * X * X) ** 2, rtol=1e-12)
    bad = S.custom(lambda x: np.ones(3))
    with pytest.raises(TypeError, match="must return an nthgrad Tensor, got ndarray"):
        ng.grad(bad(x).sum(), [x])
    misshapen = S.custom(lambda x: ng.ones((3,), ng.float64))
    with pytest.raises(ValueError, match=r"surrogate custom: cannot broadcast x of shape \(9,\) with derivative of shape \(3,\)"):
        ng.grad(misshapen(x).sum(), [x])
    with pytest.raises(TypeError, match="derivative must be a function"):
        S.custom(3)


def test_derivative_docstring_example_runs():
    # it called ng.linspace, which nthgrad does not have (linspace is in nthgrad.functional)
    import nthgrad.functional as F
    example = [line.strip().split("#")[0] for line in S.derivative.__doc__.splitlines() if "= derivative(" in line]
    assert len(example) == 1
    scope = {"ng": ng, "F": F, "derivative": S.derivative}
    exec(example[0], scope)
    xs = np.linspace(-1, 1, 101)
    np.testing.assert_allclose(np.array(scope["s"]), 1.0 / (1 + (PI * xs) ** 2), rtol=1e-5, atol=1e-7)


def test_spike_functions_have_reprs():
    assert repr(S.atan(2.0)) == "surrogate.atan(alpha=2.0)"
    assert repr(S.spike_rate_escape()) == "surrogate.spike_rate_escape(beta=1, slope=25)"


def test_straight_through_gradient_is_one_at_infinity():
    x = ng.tensor(np.array([-np.inf, -1.0, 0.0, np.inf], np.float32), requires_grad=True)
    (g,) = ng.grad(S.straight_through()(x).sum(), [x])
    np.testing.assert_array_equal(np.array(g), 1.0)


def test_heavi_circ_sigma_prime_is_finite_for_extreme_alpha_in_float32():
    xs = np.array([0.0, 1e-3, 1.0])
    x = ng.tensor(xs.astype(np.float32), requires_grad=True)
    for alpha in (1e-20, 1e-14, 1e13, 1e20):
        (g,) = ng.grad(S.heavi_circ_fn(x, alpha).sum(), [x])
        want = (1 + (xs / alpha) ** 2) ** -1.5  # = alpha^3 / (x^2 + alpha^2)^1.5
        np.testing.assert_allclose(np.array(g), want, rtol=1e-5, atol=1e-30)


def test_custom_constant_derivative_has_zero_second_derivative():
    spike = S.custom(lambda x: ng.ones(tuple(x.shape), ng.float64))  # a straight-through estimator of one's own
    x = ng.tensor(X, requires_grad=True)
    (g,) = ng.grad(spike(x).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(np.array(g), 1.0)
    (g2,) = ng.grad(g.sum(), [x])
    np.testing.assert_array_equal(np.array(g2), 0.0)
