"""n-th order derivatives against closed forms, mixed partials, and a
Hessian-vector product of a small MLP."""
import math

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F

X = np.linspace(-1.3, 1.7, 7)


def derivatives(f, x, order):
    """[f', f'', ..., f^(order)] at the points x (float64), by repeated grad."""
    x = ng.tensor(x, dtype=ng.float64, requires_grad=True)
    y = f(x)
    out = []
    for _ in range(order):
        (y,) = ng.grad(y.sum(), [x], create_graph=True)
        out.append(np.asarray(y).copy())
    return out


def test_sin_follows_the_period_4_cycle_to_order_8():
    cycle = [np.cos, lambda v: -np.sin(v), lambda v: -np.cos(v), np.sin]
    for k, d in enumerate(derivatives(F.sin, X, 8), start=1):
        np.testing.assert_allclose(d, cycle[(k - 1) % 4](X), rtol=1e-12, atol=1e-12, err_msg=f"order {k}")


def test_cos_cycle_to_order_8():
    cycle = [lambda v: -np.sin(v), lambda v: -np.cos(v), np.sin, np.cos]
    for k, d in enumerate(derivatives(F.cos, X, 8), start=1):
        np.testing.assert_allclose(d, cycle[(k - 1) % 4](X), rtol=1e-12, atol=1e-12, err_msg=f"order {k}")


def test_exp_to_order_6():
    for k, d in enumerate(derivatives(lambda x: F.exp(2 * x), X, 6), start=1):
        np.testing.assert_allclose(d, 2.0 ** k * np.exp(2 * X), rtol=1e-12, err_msg=f"order {k}")


def test_tanh_first_five_derivatives_are_its_polynomials():
    t = np.tanh(X)
    closed = [
        1 - t ** 2,
        -2 * t * (1 - t ** 2),
        (1 - t ** 2) * (6 * t ** 2 - 2),
        (1 - t ** 2) * (16 * t - 24 * t ** 3),
        (1 - t ** 2) * (120 * t ** 4 - 120 * t ** 2 + 16),
    ]
    for k, (d, c) in enumerate(zip(derivatives(F.tanh, X, 5), closed), start=1):
        np.testing.assert_allclose(d, c, rtol=1e-11, atol=1e-12, err_msg=f"order {k}")


def test_power_five_to_order_6_with_a_zero_sixth():
    ds = derivatives(lambda x: x ** 5, X, 6)
    for k, d in enumerate(ds, start=1):
        expected = math.perm(5, k) * X ** (5 - k) if k <= 5 else np.zeros_like(X)
        np.testing.assert_allclose(d, expected, rtol=1e-12, atol=1e-12, err_msg=f"order {k}")


def test_sigmoid_second_derivative():
    s = 1 / (1 + np.exp(-X))
    d1, d2, d3 = derivatives(F.sigmoid, X, 3)
    np.testing.assert_allclose(d2, s * (1 - s) * (1 - 2 * s), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d3, s * (1 - s) * (1 - 6 * s + 6 * s * s), rtol=1e-11, atol=1e-14)


def test_log_derivatives():
    x = np.linspace(0.5, 3.0, 5)
    for k, d in enumerate(derivatives(F.log, x, 6), start=1):
        np.testing.assert_allclose(d, (-1) ** (k - 1) * math.factorial(k - 1) / x ** k, rtol=1e-12)


def test_mixed_partials_of_sin_xy_plus_x3y():
    x0, y0 = 0.4, -0.9
    x = ng.tensor(x0, dtype=ng.float64, requires_grad=True)
    y = ng.tensor(y0, dtype=ng.float64, requires_grad=True)
    f = F.sin(x * y) + x ** 3 * y
    gx, gy = ng.grad(f, [x, y], create_graph=True)
    hxx, hxy = ng.grad(gx, [x, y], retain_graph=True)
    hyx, hyy = ng.grad(gy, [x, y])
    s, c = math.sin(x0 * y0), math.cos(x0 * y0)
    expected = np.array([[-y0 * y0 * s + 6 * x0 * y0, c - x0 * y0 * s + 3 * x0 * x0],
                         [c - x0 * y0 * s + 3 * x0 * x0, -x0 * x0 * s]])
    got = np.array([[hxx.item(), hxy.item()], [hyx.item(), hyy.item()]])
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-14)


def _mlp_params(rng):
    return [rng.standard_normal((5, 8)) * 0.5, rng.standard_normal(8) * 0.1,
            rng.standard_normal((8, 3)) * 0.5, rng.standard_normal(3) * 0.1]


def _mlp_loss(x, params):
    w1, b1, w2, b2 = params
    return F.affine(F.tanh(F.affine(x, w1, b1)), w2, b2).sum()


def test_hessian_vector_product_of_an_mlp_matches_finite_differences():
    rng = np.random.default_rng(3)
    x = ng.tensor(rng.standard_normal((4, 5)), dtype=ng.float64)
    p0 = _mlp_params(rng)
    v = [rng.standard_normal(p.shape) for p in p0]

    def gradient(params):
        ps = [ng.tensor(p, dtype=ng.float64, requires_grad=True) for p in params]
        return [np.asarray(g) for g in ng.grad(_mlp_loss(x, ps), ps)]

    _, hv = ng.autograd.hvp(lambda *ps: _mlp_loss(x, ps), [ng.tensor(p, dtype=ng.float64) for p in p0],
                            [ng.tensor(vi, dtype=ng.float64) for vi in v])
    eps = 1e-6
    plus = gradient([p + eps * vi for p, vi in zip(p0, v)])
    minus = gradient([p - eps * vi for p, vi in zip(p0, v)])
    for h, a, b in zip(hv, plus, minus):
        np.testing.assert_allclose(np.asarray(h), (a - b) / (2 * eps), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("order", [3, 4])
def test_mlp_higher_orders_by_finite_differences(order):
    from gradcheck import check_gradients
    rng = np.random.default_rng(5)
    x = ng.tensor(rng.standard_normal((3, 5)), dtype=ng.float64)
    w2 = ng.tensor(rng.standard_normal((8, 3)) * 0.5, dtype=ng.float64)
    b2 = ng.tensor(rng.standard_normal(3) * 0.1, dtype=ng.float64)
    check_gradients(lambda w1, b1: F.sigmoid(F.affine(F.tanh(F.affine(x, w1, b1)), w2, b2)),
                    [rng.standard_normal((5, 8)) * 0.5, rng.standard_normal(8) * 0.1], order=order)


def _poly_derivatives(p0, chain, order):
    """[P_1, ..., P_order] where P_0 = p0 and P_{k+1} = P_k' * chain, as numpy Polynomials in the
    function's own value (d/dx P(u(x)) = P'(u) u'(x) with u' = chain(u))."""
    out, p = [], p0
    for _ in range(order):
        p = p.deriv() * chain
        out.append(p)
    return out


def test_sinh_and_cosh_cycle_to_order_8():
    for f, even, odd in ((F.sinh, np.sinh, np.cosh), (F.cosh, np.cosh, np.sinh)):
        for k, d in enumerate(derivatives(f, X, 8), start=1):
            np.testing.assert_allclose(d, (odd if k % 2 else even)(X), rtol=1e-12, err_msg=f"{f.__name__} order {k}")


def test_sigmoid_log_sigmoid_and_softplus_to_order_6():
    from numpy.polynomial import Polynomial as P
    s = 1 / (1 + np.exp(-X))
    # sigma' = s(1 - s): every derivative is a polynomial in s
    polys = _poly_derivatives(P([0, 1]), P([0, 1, -1]), 6)
    for k, (d, p) in enumerate(zip(derivatives(F.sigmoid, X, 6), polys), start=1):
        np.testing.assert_allclose(d, p(s), rtol=1e-10, atol=1e-13, err_msg=f"sigmoid order {k}")
    # softplus' = sigma and log_sigmoid' = 1 - sigma: shifted by one order
    for k, d in enumerate(derivatives(F.softplus, X, 6), start=1):
        want = s if k == 1 else polys[k - 2](s)
        np.testing.assert_allclose(d, want, rtol=1e-10, atol=1e-13, err_msg=f"softplus order {k}")
    for k, d in enumerate(derivatives(F.log_sigmoid, X, 6), start=1):
        want = 1 - s if k == 1 else -polys[k - 2](s)
        np.testing.assert_allclose(d, want, rtol=1e-10, atol=1e-13, err_msg=f"log_sigmoid order {k}")


def test_tan_and_erf_to_order_6():
    from numpy.polynomial import Polynomial as P
    from numpy.polynomial.hermite import Hermite
    x = np.linspace(-1.1, 1.2, 7)
    t = np.tan(x)
    for k, (d, p) in enumerate(zip(derivatives(F.tan, x, 6), _poly_derivatives(P([0, 1]), P([1, 0, 1]), 6)), start=1):
        np.testing.assert_allclose(d, p(t), rtol=1e-11, err_msg=f"tan order {k}")
    # erf^(k) = 2/sqrt(pi) (-1)^(k-1) H_{k-1}(x) e^(-x^2), H the physicists' Hermite polynomials
    for k, d in enumerate(derivatives(F.erf, x, 6), start=1):
        h = Hermite([0] * (k - 1) + [1])(x)
        np.testing.assert_allclose(d, 2 / np.sqrt(np.pi) * (-1) ** (k - 1) * h * np.exp(-x * x), rtol=1e-11,
                                   atol=1e-14, err_msg=f"erf order {k}")


def test_softmax_hessian_is_diag_minus_outer():
    x0 = np.array([0.3, -1.2, 2.0, 0.1])
    x = ng.tensor(x0, dtype=ng.float64, requires_grad=True)
    e = np.exp(x0 - x0.max())
    y0 = e / e.sum()
    for i in range(4):  # row i of the Jacobian of softmax, then its derivative along each axis
        (g,) = ng.grad((F.softmax(x) * ng.tensor(np.eye(4)[i])).sum(),
                       [x], create_graph=True)
        np.testing.assert_allclose(g.numpy(), y0[i] * (np.eye(4)[i] - y0), rtol=1e-13, atol=1e-15)
        for j in range(4):
            (h,) = ng.grad((g * ng.tensor(np.eye(4)[j])).sum(), [x], retain_graph=True)
            # d2 y_i / dx_j dx_k = y_i (d_ij - y_j)(d_ik - y_k) - y_i y_j (d_jk - y_k)
            want = y0[i] * ((i == j) - y0[j]) * (np.eye(4)[i] - y0) - y0[i] * y0[j] * (np.eye(4)[j] - y0)
            np.testing.assert_allclose(h.numpy(), want, rtol=1e-12, atol=1e-15)
