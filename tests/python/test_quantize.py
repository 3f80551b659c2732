"""Semantics of the quantize family that the op table cannot express: the
straight-through masks and their higher orders, rounding modes on .5 ties,
narrow_range, in-place updates of zero_point and of min_max_quantize's
ranges, the errors for gradients nnabla does not define, and the gradient
clipping ops."""
import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F

RNG = np.random.default_rng(17)


def f64(a, requires_grad=False):
    return ng.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def grad_of(fn, x, gy):
    """d<fn(x), gy>/dx as an array."""
    (g,) = ng.grad((fn(x) * f64(gy)).sum(), [x])
    return np.asarray(g)


# ---- straight-through masks ---------------------------------------------------------------

X_EDGES = [-2.0, -1.0, -0.99, -0.3, 0.0, 0.3, 0.99, 1.0, 2.0]


def test_binary_sigmoid_value_and_clipped_ste():
    x = f64(X_EDGES, requires_grad=True)
    np.testing.assert_array_equal(np.asarray(F.binary_sigmoid(x)), [0, 0, 0, 0, 0, 1, 1, 1, 1])
    gy = RNG.uniform(0.5, 1.5, len(X_EDGES))
    np.testing.assert_array_equal(grad_of(F.binary_sigmoid, x, gy),
                                  0.5 * gy * (np.abs(X_EDGES) < 1))


def test_binary_tanh_value_and_clipped_ste():
    x = f64(X_EDGES, requires_grad=True)
    np.testing.assert_array_equal(np.asarray(F.binary_tanh(x)), [-1, -1, -1, -1, -1, 1, 1, 1, 1])
    gy = RNG.uniform(0.5, 1.5, len(X_EDGES))
    np.testing.assert_array_equal(grad_of(F.binary_tanh, x, gy), gy * (np.abs(X_EDGES) < 1))


STE_OPS = [
    ("binary_sigmoid", F.binary_sigmoid),
    ("binary_tanh", F.binary_tanh),
    ("prune", F.prune),
    ("fixed_point_quantize", F.fixed_point_quantize),
    ("pow2_quantize", F.pow2_quantize),
    ("fixed_point_quantize-naive", lambda x: F.fixed_point_quantize(x, ste_fine_grained=False)),
    ("quantize_linear", lambda x: F.quantize_linear(x, f64([0.1]), f64([2.0]))),
    ("min_max_quantize", lambda x: F.min_max_quantize(x, f64([-1.0]), f64([1.0]), f64([0.0]), f64([15.0]))),
]


@pytest.mark.parametrize("name, fn", STE_OPS, ids=[n for n, _ in STE_OPS])
def test_ste_second_derivative_in_x_is_zero_and_rule_is_linear_in_gy(name, fn):
    x = f64(RNG.uniform(-3, 3, 8), requires_grad=True)
    gy = f64(RNG.uniform(0.5, 1.5, 8), requires_grad=True)
    (g,) = ng.grad((fn(x) * gy).sum(), [x], create_graph=True)
    # d/dx of <g, v> is zero (never an error); d/dgy of <g, v> is g's mask times v
    v = f64(RNG.standard_normal(8))
    hx, hgy = ng.grad((g * v).sum(), [x, gy], allow_unused=True)
    assert hx is None or np.all(np.asarray(hx) == 0)
    np.testing.assert_allclose(np.asarray(hgy), np.asarray(g) / np.asarray(gy) * np.asarray(v), rtol=1e-12)


def test_prune_threshold_rule_and_identity_gradient():
    x = f64([0.5, -0.1, 0.3, -0.9, 0.2, 0.0, 0.7, -0.4, 0.05, 1.0], requires_grad=True)
    # size 10, rate 0.5: t = the 4th smallest |x| (index 4 of the sorted |x|) = 0.3
    np.testing.assert_array_equal(np.asarray(F.prune(x, rate=0.5)), [0.5, 0, 0.3, -0.9, 0, 0, 0.7, -0.4, 0, 1.0])
    np.testing.assert_array_equal(np.asarray(F.prune(x, rate=0.0)), np.asarray(x))  # nothing below the minimum
    np.testing.assert_array_equal(np.asarray(F.prune(x, rate=1.0)), np.zeros(10))  # nnabla: everything
    gy = RNG.uniform(0.5, 1.5, 10)
    np.testing.assert_array_equal(grad_of(lambda v: F.prune(v, 0.5), x, gy), gy)


def test_prune_threshold_index_is_nnabla_float_product():
    # nnabla computes (size - 1) * rate in float32: 100 * 0.29f rounds to 29 (28.999... in double), so the
    # threshold is the 30th smallest |x| and 29 entries of 0..100 are pruned
    x = f64(np.arange(101.0))
    y = np.asarray(F.prune(x, rate=0.29))
    assert (y == 0).sum() == 29 and y[29] == 29.0
    assert (np.asarray(F.prune(x, rate=0.7)) == 0).sum() == 70


def test_fixed_point_quantize_ranges_and_masks():
    x = f64([-10.0, -7.9, -0.03, 0.03125, 0.1, 7.9, 10.0], requires_grad=True)  # max = 127/16 = 7.9375
    np.testing.assert_array_equal(np.asarray(F.fixed_point_quantize(x)),
                                  [-7.9375, -7.875, 0.0, 0.0625, 0.125, 7.875, 7.9375])
    gy = np.ones(7)
    np.testing.assert_array_equal(grad_of(F.fixed_point_quantize, x, gy), [0, 1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(grad_of(lambda v: F.fixed_point_quantize(v, ste_fine_grained=False), x, gy), gy)
    # unsigned: [0, 15 * 0.25]; negatives clip to 0 and get no gradient
    u = F.fixed_point_quantize(x, sign=False, n=4, delta=0.25)
    np.testing.assert_array_equal(np.asarray(u), [0, 0, 0, 0, 0.0, 3.75, 3.75])
    np.testing.assert_array_equal(grad_of(lambda v: F.fixed_point_quantize(v, sign=False, n=4, delta=0.25), x, gy),
                                  [0, 0, 0, 1, 1, 0, 0])
    assert F.fixed_point_quantize(x, quantize=False) is x or np.array_equal(
        np.asarray(F.fixed_point_quantize(x, quantize=False)), np.asarray(x))


def test_pow2_quantize_values_and_masks():
    # n=3, m=1, sign, with_zero: levels 0, 1, 2; 0 below 2^-0.5
    x = f64([0.5, 0.8, 1.3, 1.5, 3.0, 100.0, -0.8, -3.0], requires_grad=True)
    np.testing.assert_array_equal(np.asarray(F.pow2_quantize(x, n=3, m=1)), [0, 1, 1, 2, 2, 2, -1, -2])
    # the mask drops only where the rounded power exceeds 2^m
    np.testing.assert_array_equal(grad_of(lambda v: F.pow2_quantize(v, n=3, m=1), x, np.ones(8)),
                                  [1, 1, 1, 1, 0, 0, 1, 0])
    # unsigned without zero: negatives become the smallest level and get no gradient
    y = F.pow2_quantize(x, sign=False, with_zero=False, n=1, m=1)
    np.testing.assert_array_equal(np.asarray(y), [1, 1, 1, 2, 2, 2, 1, 1])
    np.testing.assert_array_equal(
        grad_of(lambda v: F.pow2_quantize(v, sign=False, with_zero=False, n=1, m=1), x, np.ones(8)),
        [1, 1, 1, 1, 0, 0, 0, 0])


# ---- quantize_linear / dequantize_linear -----------------------------------------------------

def test_quantize_linear_round_modes_on_ties():
    x = f64([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5])
    one, zero = f64([1.0]), f64([0.0])
    away = F.quantize_linear(x, one, zero, round_mode="HALF_AWAY_FROM_ZERO")
    even = F.quantize_linear(x, one, zero, round_mode="HALF_TO_EVEN")
    np.testing.assert_array_equal(np.asarray(away), [-3, -2, -1, 1, 2, 3, 4])
    np.testing.assert_array_equal(np.asarray(even), [-2, -2, -0.0, 0, 2, 2, 4])


def test_quantize_linear_saturation_narrow_range_and_dtypes():
    x = f64([-1000.0, -128.0, 0.0, 127.0, 1000.0])
    one = f64([1.0])
    zero = lambda: f64([0.0])  # noqa: E731  (a fresh one each time: it is saturated in place)
    np.testing.assert_array_equal(np.asarray(F.quantize_linear(x, one, zero())), [-128, -128, 0, 127, 127])
    np.testing.assert_array_equal(np.asarray(F.quantize_linear(x, one, zero(), narrow_range=True)),
                                  [-127, -127, 0, 127, 127])
    for dt in (np.uint8, "uint8", np.dtype("uint8")):
        np.testing.assert_array_equal(np.asarray(F.quantize_linear(x, one, zero(), dtype=dt)), [0, 0, 0, 127, 255])
    for dt in (np.int8, "int8", np.dtype("int8")):
        np.testing.assert_array_equal(np.asarray(F.quantize_linear(x, one, zero(), dtype=dt)),
                                      [-128, -128, 0, 127, 127])
    # narrow uint8: the zero point 0 itself saturates to 1 (in place), then y = round(x) + 1 clipped to [1, 255]
    z = zero()
    np.testing.assert_array_equal(np.asarray(F.quantize_linear(x, one, z, narrow_range=True, dtype=np.uint8)),
                                  [1, 1, 1, 128, 255])
    assert float(z) == 1.0


def test_quantize_linear_rounds_and_saturates_zero_point_in_place():
    zp = f64([[2.5, -300.0, 7.2]])
    y = F.quantize_linear(f64([[0.0, 0.0, 0.0]]), f64([[1.0]]), zp)
    np.testing.assert_array_equal(np.asarray(zp), [[3.0, -128.0, 7.0]])
    np.testing.assert_array_equal(np.asarray(y), [[3.0, -128.0, 7.0]])
    zp_even = f64([2.5])
    F.quantize_linear(f64([0.0]), f64([1.0]), zp_even, round_mode="HALF_TO_EVEN", dtype=np.uint8)
    assert float(zp_even) == 2.0
    # a zero_point already in range and integral is left alone, even when NumPy owns its memory
    shared = np.array([4.0])
    F.quantize_linear(f64([0.0]), f64([1.0]), ng.from_numpy(shared))
    assert shared[0] == 4.0
    with pytest.raises(RuntimeError, match="quantize_linear: zero_point .* written in place"):
        F.quantize_linear(f64([0.0]), f64([1.0]), ng.from_numpy(np.array([4.5])))


def test_quantize_linear_gradient_is_gy_over_scale_everywhere():
    x = f64([[-100.0, 0.3, 0.7], [2.0, 5.0, 1000.0]], requires_grad=True)
    scale = f64([[0.5], [2.0]])
    gy = RNG.uniform(0.5, 1.5, (2, 3))
    g = grad_of(lambda v: F.quantize_linear(v, scale, f64([[0.0]])), x, gy)
    np.testing.assert_allclose(g, gy / np.array([[0.5], [2.0]]), rtol=1e-15)  # no saturation mask (nnabla)


@pytest.mark.parametrize("which", ["scale", "zero_point"])
@pytest.mark.parametrize("op", ["quantize_linear", "dequantize_linear"])
def test_gradient_for_scale_or_zero_point_raises_at_backward(op, which):
    x = f64([1.0, 2.0], requires_grad=True)
    s = f64([0.5], requires_grad=(which == "scale"))
    z = f64([1.0], requires_grad=(which == "zero_point"))
    y = getattr(F, op)(x, s, z)  # forward is fine
    with pytest.raises(RuntimeError, match=f"{op}: the gradient with respect to {which} is not supported"):
        y.sum().backward()
    (g,) = ng.grad(getattr(F, op)(x, s, z).sum(), [x])  # asking only for x works
    np.testing.assert_allclose(np.asarray(g), [2.0, 2.0] if op == "quantize_linear" else [0.5, 0.5])


def test_dequantize_inverts_quantize_on_the_grid():
    q = f64([-128.0, -3.0, 0.0, 5.0, 127.0])
    s, z = f64([0.25]), f64([3.0])
    x = F.dequantize_linear(q, s, z)
    np.testing.assert_allclose(np.asarray(x), (np.asarray(q) - 3.0) * 0.25)
    np.testing.assert_array_equal(np.asarray(F.quantize_linear(x, s, z)), np.asarray(q))


# ---- min_max_quantize ----------------------------------------------------------------------

def _mm(x, qr_min, qr_max, **kw):
    return F.min_max_quantize(x, qr_min, qr_max, f64(np.zeros(qr_min.shape)), f64(np.full(qr_min.shape, 255.0)),
                              **kw)


def test_min_max_quantize_x_min_max_sets_ranges_in_place():
    x = f64(RNG.uniform(-2, 3, (4, 3)))
    qr_min, qr_max = f64([[0.0, 0.0, 0.0]]), f64([[1.0, 1.0, 1.0]])
    _mm(x, qr_min, qr_max, x_min_max=True)
    np.testing.assert_array_equal(np.asarray(qr_min), np.asarray(x).min(axis=0, keepdims=True))
    np.testing.assert_array_equal(np.asarray(qr_max), np.asarray(x).max(axis=0, keepdims=True))


def test_min_max_quantize_ema_updates_ranges_in_place():
    x = f64(RNG.uniform(-2, 3, (4, 3)))
    qr_min, qr_max = f64([[-1.0]]), f64([[1.0]])
    _mm(x, qr_min, qr_max, x_min_max=True, ema=True, decay=0.9)
    xv = np.asarray(x)
    np.testing.assert_allclose(float(qr_min), 0.9 * -1.0 + 0.1 * xv.min(), rtol=1e-15)
    np.testing.assert_allclose(float(qr_max), 0.9 * 1.0 + 0.1 * xv.max(), rtol=1e-15)
    _mm(x, qr_min, qr_max, x_min_max=True, ema=True, decay=0.9)  # a second step moves them again
    np.testing.assert_allclose(float(qr_min), 0.9 * (0.9 * -1.0 + 0.1 * xv.min()) + 0.1 * xv.min(), rtol=1e-14)


def test_min_max_quantize_widens_a_narrow_range_in_place_and_hits_levels():
    qr_min, qr_max = f64([0.5]), f64([0.505])
    _mm(f64([0.0, 1.0]), qr_min, qr_max, eps=0.01)
    assert float(qr_max) == pytest.approx(0.51)
    # nudged range [0, 2.55] with 255 levels: outputs are multiples of 0.01
    y = np.asarray(_mm(f64([-1.0, 0.0, 0.014, 0.016, 1.234, 3.0]), f64([0.0]), f64([2.55])))
    np.testing.assert_allclose(y, [0.0, 0.0, 0.01, 0.02, 1.23, 2.55], atol=1e-12)


def test_min_max_quantize_gradients():
    x = f64([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
    qr_min, qr_max = f64([-1.0], requires_grad=True), f64([1.0], requires_grad=True)
    ql_min, ql_max = f64([0.0]), f64([254.0])  # zero point 127: the range [-1, 1] stays
    gy = f64([1.0, 2.0, 3.0, 4.0, 5.0])
    y = F.min_max_quantize(x, qr_min, qr_max, ql_min, ql_max)
    gx, gmin, gmax = ng.grad((y * gy).sum(), [x, qr_min, qr_max])
    np.testing.assert_array_equal(np.asarray(gx), [0, 2, 3, 4, 0])
    np.testing.assert_array_equal(np.asarray(gmin), [1.0])  # gy below the range
    np.testing.assert_array_equal(np.asarray(gmax), [5.0])  # gy above it
    y = F.min_max_quantize(x, qr_min, qr_max, ql_min, ql_max, ste_fine_grained=False)
    (gx,) = ng.grad((y * gy).sum(), [x])
    np.testing.assert_array_equal(np.asarray(gx), np.asarray(gy))
    with pytest.raises(RuntimeError, match="min_max_quantize: the gradient with respect to ql_max"):
        F.min_max_quantize(x, qr_min, qr_max, ql_min, f64([254.0], requires_grad=True)).sum().backward()


# ---- gradient clipping -----------------------------------------------------------------------

def test_clip_grad_by_value_clips_and_is_differentiable_in_gy():
    x = f64(RNG.standard_normal((2, 3)), requires_grad=True)
    lo, hi = f64([[-0.5, -1.0, 0.0]]), f64([[0.5, 1.0, 2.0]])
    y = F.clip_grad_by_value(x, lo, hi)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))
    gy = f64([[-2.0, 0.3, -0.1], [3.0, -3.0, 1.0]], requires_grad=True)
    (g,) = ng.grad((y * gy).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(np.asarray(g), [[-0.5, 0.3, 0.0], [0.5, -1.0, 1.0]])
    (h,) = ng.grad(g.sum(), [gy])
    np.testing.assert_array_equal(np.asarray(h), [[0, 1, 0], [0, 0, 1]])
    # scalars bounds work too
    (g,) = ng.grad((F.clip_grad_by_value(x, -0.1, 0.1) * gy).sum(), [x])
    np.testing.assert_allclose(np.asarray(g), np.clip(np.asarray(gy), -0.1, 0.1))


def test_clip_grad_by_norm_rescales_always():
    x = f64(RNG.standard_normal((2, 3)), requires_grad=True)
    gyv = np.array([[3.0, 4.0, 0.0], [0.03, 0.0, 0.04]])
    gy = f64(gyv, requires_grad=True)
    (g,) = ng.grad((F.clip_grad_by_norm(x, 2.0, axes=1) * gy).sum(), [x], create_graph=True)
    np.testing.assert_allclose(np.asarray(g), 2.0 * gyv / np.array([[5.0], [0.05]]), rtol=1e-14)  # even the small one
    (g_all,) = ng.grad((F.clip_grad_by_norm(x) * gy).sum(), [x])
    np.testing.assert_allclose(np.asarray(g_all), gyv / np.linalg.norm(gyv), rtol=1e-14)
    # differentiable in gy: d/dgy sum(g) for g = c gy / |gy| per row
    (h,) = ng.grad(g.sum(), [gy])
    n = np.linalg.norm(gyv, axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(h), 2.0 * (1 / n - gyv * gyv.sum(axis=1, keepdims=True) / n ** 3),
                               rtol=1e-12)


def test_clip_grad_by_norm_of_a_zero_gradient_is_zero_not_nan():
    # nnabla divides 0 by a zero norm (NaN); a zero gradient (an unused output, a dead unit) stays zero here,
    # at first and second order, and the other rows are rescaled as before
    x = f64(RNG.standard_normal((2, 3)), requires_grad=True)
    gyv = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]])
    gy = f64(gyv, requires_grad=True)
    (g,) = ng.grad((F.clip_grad_by_norm(x, 2.0, axes=1) * gy).sum(), [x], create_graph=True)
    np.testing.assert_allclose(np.asarray(g), [[0, 0, 0], [1.2, 0, 1.6]], rtol=1e-14)
    (h,) = ng.grad((g * g).sum(), [gy])
    assert np.all(np.isfinite(np.asarray(h)))
    np.testing.assert_allclose(np.asarray(h)[1], 0.0, atol=1e-14)  # |g| = clip_norm whatever gy is
    (g_all,) = ng.grad((F.clip_grad_by_norm(x) * f64(np.zeros((2, 3)))).sum(), [x])
    np.testing.assert_array_equal(np.asarray(g_all), np.zeros((2, 3)))


def test_clip_grad_by_norm_clip_norm_must_be_a_number():
    with pytest.raises(TypeError, match="clip_grad_by_norm: clip_norm must be a number or None, got 'a'"):
        F.clip_grad_by_norm(f64([1.0]), "a")
    np.testing.assert_array_equal(np.asarray(F.clip_grad_by_norm(f64([1.0]), np.float32(2.0))), [1.0])


# ---- robustness ----------------------------------------------------------------------------

def test_non_finite_inputs_and_extreme_parameters_do_not_crash():
    x = f64([np.nan, 1.0, -np.inf, np.inf, 0.0, -0.2, np.nan])
    y = np.asarray(F.prune(x, rate=0.5))  # NaN sorts as +inf when the threshold is chosen
    assert np.isnan(y[0]) and np.isnan(y[6]) and y[2] == -np.inf and y[3] == np.inf and y[4] == 0
    assert np.asarray(F.pow2_quantize(f64([3.0, -0.1]), n=64, m=-5000)).shape == (2,)
    assert np.asarray(F.fixed_point_quantize(x, n=64)).shape == (7,)
    # a zero scale divides to +-inf / NaN, saturated where defined
    q = np.asarray(F.quantize_linear(f64([1.0, -1.0, 0.0]), f64([0.0]), f64([0.0])))
    np.testing.assert_array_equal(q[:2], [127, -128])
    assert np.isnan(q[2])
    with pytest.raises(ValueError, match="min_max_quantize: x_min_max needs a non-empty x"):
        _mm(f64(np.zeros((0, 2))), f64([[0.0, 0.0]]), f64([[1.0, 1.0]]), x_min_max=True)


def test_signatures_follow_nnabla():
    import re
    # pybind11 functions carry their signature in the docstring's first line: "name(a: T, b: T = v, ...) -> R"
    params = lambda f: re.findall(r"[(,] ?(\w+):", f.__doc__.splitlines()[0])  # noqa: E731
    assert params(F.quantize_linear) == ["x", "scale", "zero_point", "round_mode", "narrow_range", "dtype"]
    assert params(F.min_max_quantize) == ["x", "qr_min", "qr_max", "ql_min", "ql_max", "decay", "x_min_max", "ema",
                                          "ste_fine_grained", "eps", "quantize"]
    assert params(F.pow2_quantize) == ["x", "sign", "with_zero", "n", "m", "quantize", "ste_fine_grained"]
    assert params(F.clip_grad_by_norm) == ["x", "clip_norm", "axes"]
