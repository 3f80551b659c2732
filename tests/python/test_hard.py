"""Hard functions (nthgrad.hard) against NumPy, their zero gradients and bad
input; the straight-through estimators (nthgrad.ste) to third order."""
import numpy as np
import pytest

import nthgrad as ng
from nthgrad import hard, ste

RNG = np.random.default_rng(11)


def _t(a, dtype=ng.float64, requires_grad=False):
    return ng.tensor(np.asarray(a, dtype=np.float64), dtype=dtype, requires_grad=requires_grad)


# ---- forwards against NumPy ----

@pytest.mark.parametrize("dtype", [ng.float32, ng.float64])
@pytest.mark.parametrize("eps", [0.0, 0.5, 2.0])
def test_signum_is_the_eps_margin_sign(dtype, eps):
    x = RNG.normal(size=(4, 7)) * 2
    x[0, :4] = [eps, -eps, 0.0, -0.0]  # the margins themselves map to 0
    y = hard.signum(_t(x, dtype), eps)
    assert y.dtype == dtype and y.shape == (4, 7)
    expect = np.where(x > eps, 1.0, np.where(x < -eps, -1.0, 0.0))
    np.testing.assert_array_equal(np.asarray(y), expect.astype(np.asarray(y).dtype))


def test_signum_keeps_nan_and_maps_infinities():
    y = np.asarray(hard.signum(_t([np.nan, np.inf, -np.inf, 0.3])))
    assert np.isnan(y[0]) and list(y[1:]) == [1.0, -1.0, 0.0]


@pytest.mark.parametrize("shape", [(5, 6), (3, 2, 4)])
def test_binary_thresholds_at_each_samples_mean(shape):
    x = RNG.normal(size=shape)
    mean = x.reshape(shape[0], -1).mean(1).reshape((-1,) + (1,) * (len(shape) - 1))
    np.testing.assert_array_equal(np.asarray(hard.binary(_t(x))), (x >= mean).astype(float))


def test_binary_of_a_constant_sample_is_all_ones():
    np.testing.assert_array_equal(np.asarray(hard.binary(_t(np.full((2, 3), 0.25)))), np.ones((2, 3)))


def test_sort_is_rows_then_columns_flattened():
    x = RNG.normal(size=(3, 4, 5))
    expect = np.concatenate([np.sort(x, 2).reshape(3, -1), np.sort(x, 1).reshape(3, -1)], 1)
    y = hard.sort(_t(x))
    assert y.shape == (3, 40)
    np.testing.assert_array_equal(np.asarray(y), expect)
    np.testing.assert_array_equal(np.asarray(hard.topk(_t(x), 7)), expect[:, :7])
    np.testing.assert_array_equal(np.asarray(hard.topk(_t(x), 40)), expect)


@pytest.mark.parametrize("shape", [(4, 9), (2, 3, 5)])
def test_sort_1d_sorts_each_sample_flattened_in_its_shape(shape):
    x = RNG.normal(size=shape)
    y = hard.sort_1d(_t(x))
    assert y.shape == shape
    np.testing.assert_array_equal(np.asarray(y), np.sort(x.reshape(shape[0], -1), 1).reshape(shape))


def test_bernoulli_is_seeded_and_has_mean_p():
    p = np.linspace(0.0, 1.0, 11)
    big = np.tile(p, (20000, 1))
    a = np.asarray(hard.bernoulli(_t(big), seed=5))
    b = np.asarray(hard.bernoulli(_t(big), seed=5))
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 1.0}
    assert (a[:, 0] == 0).all() and (a[:, -1] == 1).all()  # p = 0 and p = 1 are exact
    se = np.sqrt(p * (1 - p) / 20000) + 1e-12
    assert (np.abs(a.mean(0) - p) <= 5 * se).all()
    assert not np.array_equal(np.asarray(hard.bernoulli(_t(big), seed=6)), a)
    g = ng.Generator(3)
    first = np.asarray(hard.bernoulli(_t(big[:10]), seed=g))
    assert not np.array_equal(first, np.asarray(hard.bernoulli(_t(big[:10]), seed=g)))  # the generator advances


def _lloyd(points, centres, iters):
    """A NumPy restatement of the kernel's Lloyd iterations from given first centres."""
    c = centres.copy()
    for _ in range(iters):
        d = ((points[:, None, :] - c[None]) ** 2).sum(-1)
        lab = d.argmin(1)
        for j in range(len(c)):
            if (lab == j).any():
                c[j] = points[lab == j].mean(0)
    order = np.lexsort(c.T[::-1])
    c = c[order]
    return c, ((points[:, None, :] - c[None]) ** 2).sum(-1).argmin(1)


def test_kmeans_finds_separated_clusters_in_sorted_order():
    centres = np.array([[5.0, 0.0], [-3.0, 2.0], [0.0, -4.0]])
    pts = np.concatenate([c + 0.05 * RNG.normal(size=(20, 2)) for c in centres])
    batch = np.stack([pts, pts[::-1]])  # two samples, the same points in another order
    y = np.asarray(hard.kmeans(_t(batch), k=3, iters=10, seed=1))
    assert y.shape == (2, 3, 2)
    for b in range(2):
        ref, _ = _lloyd(batch[b], y[b], 0)
        np.testing.assert_allclose(y[b], ref)  # sorted
        for c in centres:
            members = pts[np.abs(pts - c).max(1) < 1]
            assert np.abs(y[b] - members.mean(0)).max(1).min() < 1e-12
    labels = np.asarray(hard.kmeans(_t(batch), k=3, iters=10, seed=1, assignments=True))
    assert labels.dtype == np.int64 and labels.shape == (2, 60)
    for b in range(2):
        np.testing.assert_array_equal(labels[b], ((batch[b][:, None] - y[b][None]) ** 2).sum(-1).argmin(1))


def test_kmeans_of_scalars_matches_lloyd_and_is_deterministic():
    x = RNG.normal(size=(3, 30))
    a = np.asarray(hard.kmeans(_t(x), k=4, iters=6, seed=2))
    assert a.shape == (3, 4)
    np.testing.assert_array_equal(a, np.asarray(hard.kmeans(_t(x), k=4, iters=6, seed=2)))
    for b in range(3):  # a fixed point of Lloyd's update: one more round from the result changes nothing much
        assert (np.diff(a[b]) >= 0).all()
        c, _ = _lloyd(x[b][:, None], a[b][:, None], 50)
        c2, _ = _lloyd(x[b][:, None], c, 1)
        np.testing.assert_allclose(c, c2)
    assert np.asarray(hard.kmeans(_t(x, ng.float32), k=4, iters=6, seed=2)).dtype == np.float32


def test_kmeans_with_k_equal_n_returns_the_sorted_points():
    x = RNG.normal(size=(2, 5))
    np.testing.assert_array_equal(np.asarray(hard.kmeans(_t(x), k=5, iters=3)), np.sort(x, 1))


# ---- zero gradients ----

@pytest.mark.parametrize("fn", [lambda z: hard.signum(z), lambda z: hard.binary(z), lambda z: hard.sort(z),
                                lambda z: hard.sort_1d(z), lambda z: hard.topk(z, 5),
                                lambda z: hard.kmeans(z.reshape((2, 12)), k=3)],
                         ids=["signum", "binary", "sort", "sort_1d", "topk", "kmeans"])
def test_hard_functions_have_a_zero_gradient(fn):
    z = _t(RNG.normal(size=(2, 3, 4)), requires_grad=True)
    y = fn(z)
    assert y.requires_grad
    (g,) = ng.grad(y.sum(), [z])
    np.testing.assert_array_equal(np.asarray(g), np.zeros((2, 3, 4)))


def test_bernoulli_has_a_zero_gradient_in_p():
    p = _t(np.full((3,), 0.4), requires_grad=True)
    (g,) = ng.grad(hard.bernoulli(p, seed=0).sum(), [p])
    np.testing.assert_array_equal(np.asarray(g), np.zeros(3))


# ---- bad input ----

@pytest.mark.parametrize("call,message", [
    (lambda: hard.signum(_t([1.0]), -0.1), "eps must be finite and >= 0"),
    (lambda: hard.signum(_t([1.0]), float("nan")), "eps"),
    (lambda: hard.binary(_t([1.0, 2.0])), r"hard.binary: z must have shape \(B, F...\), got \(2,\)"),
    (lambda: hard.sort(_t(np.zeros((2, 3)))), r"hard.sort: z must have shape \(B, R, C\), got \(2, 3\)"),
    (lambda: hard.sort_1d(_t(np.zeros(3))), r"hard.sort_1d: z must have shape \(B, F...\)"),
    (lambda: hard.topk(_t(np.zeros((2, 2, 3))), 13), r"k=13 must lie in \[1, 12\]"),
    (lambda: hard.topk(_t(np.zeros((2, 2, 3))), 0), r"k=0 must lie in \[1, 12\]"),
    (lambda: hard.kmeans(_t(np.zeros((2, 4))), k=5), r"k=5 must lie in \[1, 4\]"),
    (lambda: hard.kmeans(_t(np.zeros(4)), k=2), r"\(B, N\) or \(B, N, D\)"),
    (lambda: hard.kmeans(_t([[0.0, np.nan]]), k=1), "NaN or infinite"),
    (lambda: hard.kmeans(_t(np.zeros((1, 4))), k=2, iters=-1), "iters must be >= 0"),
    (lambda: hard.bernoulli(_t([0.2, 1.5])), r"every p must lie in \[0, 1\]"),
    (lambda: hard.bernoulli(_t([np.nan])), r"every p must lie in \[0, 1\]"),
])
def test_bad_input_is_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_integer_input_is_a_type_error_naming_the_function():
    with pytest.raises(TypeError, match="hard.signum"):
        hard.signum(ng.tensor([1, 2]))
    with pytest.raises(TypeError, match="seed"):
        hard.bernoulli(_t([0.5]), seed="x")


# ---- straight-through estimators ----

def _third_order(y_of_z, z0, w):
    """First, second and third derivatives of sum(w * y(z)) along z, elementwise (z is elementwise here)."""
    z = _t(z0, requires_grad=True)
    (g1,) = ng.grad((y_of_z(z) * _t(w)).sum(), [z], create_graph=True)
    (g2,) = ng.grad(g1.sum(), [z], create_graph=True)
    (g3,) = ng.grad(g2.sum(), [z])
    return np.asarray(g1), np.asarray(g2), np.asarray(g3)


def test_straight_through_is_the_identity_backward_and_zero_beyond():
    z0 = np.array([-2.0, -0.3, 0.1, 0.7, 3.0])
    w = np.array([1.0, -2.0, 3.0, 0.5, 4.0])
    y = ste.straight_through(hard.signum, _t(z0))
    np.testing.assert_array_equal(np.asarray(y), [-1, 0, 0, 1, 1])
    g1, g2, g3 = _third_order(lambda z: ste.straight_through(hard.signum, z), z0, w)
    np.testing.assert_array_equal(g1, w)
    np.testing.assert_array_equal(g2, 0)
    np.testing.assert_array_equal(g3, 0)


def test_clipped_masks_the_gradient_outside_c():
    z0 = np.array([-2.0, -1.0, -0.3, 0.1, 1.0, 1.5])
    w = np.arange(1.0, 7.0)
    g1, g2, _ = _third_order(lambda z: ste.clipped(hard.signum, z, c=1.0), z0, w)
    np.testing.assert_array_equal(g1, w * (np.abs(z0) <= 1.0))
    np.testing.assert_array_equal(g2, 0)
    g1, _, _ = _third_order(lambda z: ste.clipped(hard.signum, z, c=0.2), z0, w)
    np.testing.assert_array_equal(g1, w * (np.abs(z0) <= 0.2))


def test_straight_through_composes_with_a_smooth_function_at_second_order():
    # y = tanh(z)^2 fed through round(): d/dz = 2 tanh sech^2 (the identity passes it), second order exact.
    z0 = np.array([-0.8, 0.2, 1.1])
    z = _t(z0, requires_grad=True)
    t = z.tanh()
    y = ste.straight_through(lambda a: a.round(), t * t)
    (g1,) = ng.grad(y.sum(), [z], create_graph=True)
    (g2,) = ng.grad(g1.sum(), [z])
    s = np.tanh(z0)
    np.testing.assert_allclose(np.asarray(g1), 2 * s * (1 - s ** 2), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(g2), 2 * (1 - s ** 2) ** 2 - 4 * s ** 2 * (1 - s ** 2), rtol=1e-13)


def test_straight_through_takes_a_numpy_function_and_array_results():
    z0 = np.array([[0.4, -1.6, 2.5]])
    z = _t(z0, requires_grad=True)
    y = ste.straight_through(np.round, z, numpy=True)
    np.testing.assert_array_equal(np.asarray(y), np.round(z0))
    y2 = ste.straight_through(lambda t: [[1, 2, 3]], z)  # an array-like result
    assert y2.dtype == ng.float64
    (g,) = ng.grad((y * 3).sum(), [z])
    np.testing.assert_array_equal(np.asarray(g), np.full((1, 3), 3.0))


def test_straight_through_bad_input():
    z = _t([[0.1, 0.2]], requires_grad=True)
    with pytest.raises(ValueError, match=r"straight_through: .*shape"):
        ste.straight_through(lambda t: hard.sort(t.reshape((1, 1, 2))), z)
    with pytest.raises(TypeError, match="hard must be a callable"):
        ste.straight_through(3, z)
    with pytest.raises(TypeError, match="not a tensor or an array|dtype"):
        ste.straight_through(lambda t: "abc", z)
    with pytest.raises(ValueError, match="c must be a number >= 0"):
        ste.clipped(hard.signum, z, c=-1)
    with pytest.raises(TypeError, match="z must be an nthgrad Tensor"):
        ste.straight_through(hard.signum, np.zeros(2))


# ---- review findings (issue 11) ----

def test_empty_batches():
    assert hard.sort_1d(_t(np.zeros((0, 3)))).shape == (0, 3)
    assert hard.binary(_t(np.zeros((0, 3)))).shape == (0, 3)
    assert hard.sort(_t(np.zeros((0, 2, 3)))).shape == (0, 12)
    assert hard.kmeans(_t(np.zeros((0, 4))), k=2).shape == (0, 2)
    with pytest.raises(ValueError, match="has no entries per sample"):
        hard.topk(_t(np.zeros((2, 0, 3))), 1)
    with pytest.raises(ValueError, match="has no points per sample"):
        hard.kmeans(_t(np.zeros((2, 0))), k=1)


def test_kmeans_of_a_sample_does_not_depend_on_the_batch():
    z = np.random.default_rng(1).normal(size=(16, 40))
    full = np.asarray(hard.kmeans(_t(z), k=5))
    for i in (0, 7, 15):
        np.testing.assert_array_equal(np.asarray(hard.kmeans(_t(z[i:i + 1]), k=5))[0], full[i])
    np.testing.assert_array_equal(np.asarray(hard.kmeans(_t(z[::-1]), k=5)), full[::-1])


def test_kmeans_of_huge_finite_values_stays_finite_and_right():
    y = np.asarray(hard.kmeans(_t([[1e200, 1.1e200, -1e200, -1.1e200]]), k=2))
    np.testing.assert_allclose(y, [[-1.05e200, 1.05e200]], rtol=1e-15)
    labels = np.asarray(hard.kmeans(_t([[1e200, 1.1e200, -1e200, -1.1e200]]), k=2, assignments=True))
    np.testing.assert_array_equal(labels, [[1, 1, 0, 0]])
    big = np.asarray(hard.kmeans(_t([[1.7e308, 1.7e308, -1e308, 0.0]]), k=2))
    assert np.isfinite(big).all()
    tiny = np.asarray(hard.kmeans(_t([[1e-300, 2e-300, 5e-300, 6e-300]]), k=2))
    np.testing.assert_allclose(tiny, [[1.5e-300, 5.5e-300]], rtol=1e-15)


@pytest.mark.parametrize("n", [13, 14, 15, 19, 25, 4097])
def test_binary_of_a_constant_sample_is_all_ones_whatever_its_rounded_mean(n):
    np.testing.assert_array_equal(np.asarray(hard.binary(_t(np.full((1, n), 0.1)))), np.ones((1, n)))
    np.testing.assert_array_equal(np.asarray(hard.binary(_t([[1.7e308, 1.7e308, 0.0]]))), [[1.0, 1.0, 0.0]])


def test_binary_keeps_nan():
    y = np.asarray(hard.binary(_t([[np.nan, 1.0, 2.0]])))
    assert np.isnan(y[0, 0])


def test_hard_function_gradients_are_zeros_in_grad_like_torch_sign():
    z = _t([0.7, -0.2], requires_grad=True)
    hard.signum(z).sum().backward()
    np.testing.assert_array_equal(np.asarray(z.grad), [0.0, 0.0])


def test_estimator_outputs_own_their_memory():
    z = _t([1.0, 2.0], requires_grad=True)
    y = ste.straight_through(lambda t: t, z)
    with ng.no_grad():
        z.add_(_t([10.0, 10.0]))
    np.testing.assert_array_equal(np.asarray(y), [1.0, 2.0])


def test_straight_through_gradient_is_the_identity_at_nan():
    z = _t([np.nan, 1.0], requires_grad=True)
    ste.straight_through(lambda t: t, z).sum().backward()
    np.testing.assert_array_equal(np.asarray(z.grad), [1.0, 1.0])


def test_numpy_hard_functions_get_a_writable_copy_and_keep_0d():
    def in_place(a):
        a[a > 0] = 1.0
        return a
    z = _t([0.5, -2.0], requires_grad=True)
    np.testing.assert_array_equal(np.asarray(ste.straight_through(in_place, z, numpy=True)), [1.0, -2.0])
    np.testing.assert_array_equal(np.asarray(z), [0.5, -2.0])  # z itself untouched
    y = ste.straight_through(np.sign, _t(0.7), numpy=True)
    assert y.shape == () and y.item() == 1.0


def test_seed_errors_name_the_function():
    with pytest.raises(TypeError, match="hard.bernoulli: seed"):
        hard.bernoulli(_t([0.5]), seed=1.0)
    with pytest.raises(TypeError, match="hard.kmeans: seed"):
        hard.kmeans(_t([[0.0, 1.0]]), k=1, seed="a")
    with pytest.raises(TypeError, match="ste.clipped: c must be a number"):
        ste.clipped(hard.signum, _t([0.5]), c="x")


def test_argument_types_are_type_errors_naming_the_function():
    with pytest.raises(TypeError, match="hard.signum: z must be an nthgrad Tensor, got ndarray"):
        hard.signum(np.zeros(3))
    with pytest.raises(TypeError, match="hard.topk: k must be an int, got bool"):
        hard.topk(_t(np.zeros((1, 2, 2))), True)
    with pytest.raises(TypeError, match="hard.kmeans: iters must be an int"):
        hard.kmeans(_t(np.zeros((1, 4))), k=2, iters=2.5)
    assert hard.topk(_t(np.zeros((1, 2, 2))), np.int64(3)).shape == (1, 3)
