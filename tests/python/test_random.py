"""Random sources: reproducibility (same seed, same numbers; thread-count and
platform independence pinned by the Philox known-answer vectors), generator
state, distributions (moments and chi-square tests over ~10^6 draws with
tolerances of at least 6 standard errors; the seeds are fixed, so the tests
are deterministic), dropout's mask at every order, random_choice's gradients.
"""
import copy
import hashlib
import math
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F
import op_db  # noqa: F401,E402  (loads op_db_random through op_db: they import each other)
from op_db_random import philox4x32_10 as np_philox, ref_dropout_mask

N = 1_000_000


# ---- the generator ----

# Random123's kat_vectors for philox4x32 10: (counter, key) -> output
KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_philox_matches_the_published_known_answers(counter, key, expected):
    assert list(ng._C.philox4x32_10(counter, key)) == expected
    # and the NumPy reference the op-table rows use agrees
    got = np_philox(*[np.array([c], dtype=np.uint64) for c in counter], *key)
    assert [int(g[0]) for g in got] == expected


SAMPLERS = {
    "rand": lambda s, n: F.rand(-1, 2, shape=[n], seed=s),
    "randn": lambda s, n: F.randn(0.5, 2, shape=[n], seed=s, dtype="float64"),
    "randint": lambda s, n: F.randint(-5, 17, shape=[n], seed=s),
    "rand_binomial": lambda s, n: F.rand_binomial(50, 0.4, shape=[n], seed=s),
    "rand_beta": lambda s, n: F.rand_beta(0.7, 2.0, shape=[n], seed=s),
    "rand_gamma": lambda s, n: F.rand_gamma(0.6, 2.0, shape=[n], seed=s, dtype=ng.float64),
    "dropout": lambda s, n: F.dropout(ng.ones((n,)), 0.4, seed=s),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_seed_same_numbers_from_an_int_and_a_generator(name):
    draw = SAMPLERS[name]
    a, b = np.asarray(draw(123, 1000)), np.asarray(draw(123, 1000))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.asarray(draw(ng.Generator(123), 1000)))
    assert not np.array_equal(a, np.asarray(draw(124, 1000)))  # different seeds differ


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_a_generator_advances_and_two_draws_continue_one(name):
    draw = SAMPLERS[name]
    g = ng.Generator(7)
    first = np.asarray(draw(g, 300))
    assert g.offset == 300 and g.seed == 7
    second = np.asarray(draw(g, 200))
    assert g.offset == 500
    assert not np.array_equal(first[:200], second)
    whole = np.asarray(draw(ng.Generator(7), 500))  # element i reads counter offset + i
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)


def test_global_generator_and_manual_seed():
    state = ng.default_generator().get_state()
    try:
        ng.manual_seed(42)
        a = np.asarray(F.rand(shape=[5]))
        assert ng.default_generator().offset == 5
        b = np.asarray(F.rand(shape=[5]))
        assert not np.array_equal(a, b)
        ng.manual_seed(42)
        np.testing.assert_array_equal(np.asarray(F.rand(shape=[5])), a)
        np.testing.assert_array_equal(a, np.asarray(F.rand(shape=[5], seed=42)))
        assert ng.default_generator().offset == 5  # a fixed seed does not touch the global generator
    finally:
        ng.default_generator().set_state(state)


def test_generator_state_copy_and_pickle():
    g = ng.Generator(2 ** 64 - 1)
    F.randn(shape=[10], seed=g)
    assert g.get_state() == (2 ** 64 - 1, 10)
    h, d, p = copy.copy(g), copy.deepcopy(g), pickle.loads(pickle.dumps(g))
    want = np.asarray(F.rand(shape=[4], seed=g))
    for other in (h, d, p):
        assert other is not g
        np.testing.assert_array_equal(np.asarray(F.rand(shape=[4], seed=other)), want)
    g.set_state((2 ** 64 - 1, 10))
    np.testing.assert_array_equal(np.asarray(F.rand(shape=[4], seed=g)), want)
    assert g.manual_seed(3) is g and g.get_state() == (3, 0)
    g.offset = 10
    assert g.get_state() == (3, 10)
    assert "seed=3" in repr(g)


def test_bad_seeds_and_failed_calls_leave_the_generator_alone():
    with pytest.raises(ValueError, match="seed"):
        ng.Generator(-1)
    with pytest.raises(ValueError, match="seed"):
        ng.Generator(2 ** 64)
    with pytest.raises(TypeError, match="seed"):
        ng.Generator(1.0)
    with pytest.raises(TypeError, match="seed"):
        F.rand(seed=True)
    with pytest.raises(ValueError, match="offset"):
        ng.Generator(1).set_state((1, -1))
    with pytest.raises(ValueError, match="state"):
        ng.Generator(1).set_state((1, 2, 3))
    with pytest.raises(ValueError, match="seed"):
        F.randn(seed=2 ** 63)
    g = ng.Generator(1)
    with pytest.raises(ValueError):
        F.rand(1, 0, seed=g)
    with pytest.raises(ValueError):
        F.random_choice(ng.ones((2, 3)), ng.tensor([[1.0, 1, 1], [0, 0, 0]]), seed=g)
    with pytest.raises(ValueError):
        F.dropout(ng.ones((3,)), 2.0, seed=g)
    with pytest.raises(MemoryError):
        F.rand(shape=[2 ** 45], seed=g)  # 128 TiB
    with pytest.raises(MemoryError):
        F.randn(shape=[2 ** 45], seed=g)
    with pytest.raises(ValueError, match="rand: shape"):
        F.rand(shape=[2 ** 62, 2 ** 62], seed=g)
    F.rand(shape=[0, 4], seed=g)  # nothing to draw
    F.dropout(ng.ones((3,)), 0.0, seed=g)
    F.dropout(ng.ones((3,)), 1.0, seed=g)
    assert g.offset == 0


_THREAD_SCRIPT = textwrap.dedent("""
    import hashlib, numpy as np, nthgrad as ng, nthgrad.functional as F
    n = 100_000
    out = [F.rand(shape=[n], seed=1), F.randn(shape=[n], seed=2), F.randint(0, 7, shape=[n], seed=3),
           F.rand_binomial(300, 0.3, shape=[n], seed=4), F.rand_beta(0.5, 0.5, shape=[n], seed=5),
           F.rand_gamma(0.3, 1, shape=[n], seed=6), F.dropout(ng.ones((n,)), 0.5, seed=7),
           F.random_choice(ng.ones((20000, 6)), ng.tensor(np.tile([1.0, 2, 3, 0, 1, 1], (20000, 1))),
                           shape=[3], seed=8),
           F.random_choice(ng.ones((20000, 6)), ng.tensor(np.tile([1.0, 2, 3, 0, 1, 1], (20000, 1))),
                           shape=[3], replace=False, seed=9)]
    h = hashlib.sha256()
    for t in out:
        h.update(np.ascontiguousarray(np.asarray(t)).tobytes())
    print(h.hexdigest())
""")


def test_numbers_do_not_depend_on_the_thread_count():
    digests = []
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads)
        res = subprocess.run([sys.executable, "-c", _THREAD_SCRIPT], env=env, capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr
        digests.append(res.stdout.strip())
    assert digests[0] == digests[1]


# ---- distributions ----

def _chi_square_ok(observed, expected):
    """Pearson's statistic within 6 standard deviations of its mean (df = bins - 1)."""
    observed, expected = np.asarray(observed, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert expected.min() >= 5, "merge bins: expected counts below 5"
    stat = ((observed - expected) ** 2 / expected).sum()
    df = len(observed) - 1
    assert stat < df + 6 * math.sqrt(2 * df), f"chi-square {stat:.1f} with {df} degrees of freedom"


def _binned_chi_square(samples, cdf, edges):
    """Chi-square of samples against a distribution given by its CDF at the inner bin edges."""
    edges = np.asarray(edges, dtype=np.float64)
    probs = np.diff(np.concatenate([[0.0], cdf(edges), [1.0]]))
    counts = np.bincount(np.searchsorted(edges, samples, side="right"), minlength=len(probs))
    _chi_square_ok(counts, probs * len(samples))


def _moments_ok(x, mean, var):
    """Sample mean and variance within 6 standard errors (estimated from the sample)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    m, v = x.mean(), x.var()
    m4 = ((x - m) ** 4).mean()
    assert abs(m - mean) < 6 * math.sqrt(v / n) + 1e-12, (m, mean)
    assert abs(v - var) < 6 * math.sqrt(max(m4 - v * v, 0) / n) + 1e-12, (v, var)


_erf = np.vectorize(math.erf)


def _normal_cdf(z):
    return 0.5 * (1 + _erf(z / math.sqrt(2)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rand_is_uniform(dtype):
    x = np.asarray(F.rand(-2, 3, shape=[N], seed=31, dtype=dtype), dtype=np.float64)
    assert x.min() >= -2 and x.max() < 3
    _moments_ok(x, 0.5, 25 / 12)
    _binned_chi_square(x, lambda e: (e + 2) / 5, np.linspace(-2, 3, 51)[1:-1])


def test_rand_float32_stays_below_high():
    hi = 1 + 2.0 ** -20  # float32 spacing near 1 is 2^-23: the double values often round up to high
    x = np.asarray(F.rand(1, hi, shape=[100_000], seed=1))
    assert x.dtype == np.float32 and x.min() >= 1 and x.max() < np.float32(hi)
    assert len(np.unique(x)) == 8  # every float32 of [1, 1 + 2^-20)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_randn_is_normal(dtype):
    x = np.asarray(F.randn(1.0, 3.0, shape=[N], seed=32, dtype=dtype), dtype=np.float64)
    _moments_ok(x, 1.0, 9.0)
    z = np.linspace(-3, 3, 41)
    _binned_chi_square((x - 1) / 3, _normal_cdf, z)


def test_randint_is_uniform_and_unbiased():
    x = np.asarray(F.randint(-3, 7, shape=[N], seed=33))
    assert x.dtype == np.int64 and x.min() == -3 and x.max() == 6
    _chi_square_ok(np.bincount(x + 3), np.full(10, N / 10))
    # a range of 3 * 2^62: modulo reduction of 64 bits would put 2/3 of the mass below 2^62
    big = np.asarray(F.randint(-2 ** 63, 2 ** 62, shape=[100_000], seed=34))
    _chi_square_ok(np.bincount(big // 2 ** 62 + 2, minlength=3), np.full(3, 100_000 / 3))
    ext = np.asarray(F.randint(-2 ** 63, 2 ** 63 - 1, shape=[1000], seed=35))
    assert ext.min() < -2 ** 61 and ext.max() > 2 ** 61


def _binomial_pmf(n, p):
    k = np.arange(n + 1)
    lg = np.vectorize(math.lgamma)
    return np.exp(lg(n + 1) - lg(k + 1) - lg(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p))


def _binomial_chi_square(x, n, p):
    pmf = _binomial_pmf(n, p)
    counts = np.bincount(x.astype(np.int64), minlength=n + 1).astype(np.float64)
    expected = pmf * x.size
    # merge the tails into the first and last bins with at least 20 expected
    keep = np.flatnonzero(expected >= 20)
    lo, hi = keep[0], keep[-1]
    obs = np.concatenate([[counts[:lo + 1].sum()], counts[lo + 1:hi], [counts[hi:].sum()]])
    exp = np.concatenate([[expected[:lo + 1].sum()], expected[lo + 1:hi], [expected[hi:].sum()]])
    _chi_square_ok(obs, exp)


@pytest.mark.parametrize("n, p", [(1, 0.5), (10, 0.3), (40, 0.1), (1000, 0.4), (200, 0.9), (10 ** 9, 3e-9),
                                  (5000, 0.02)])
def test_rand_binomial_matches_the_pmf(n, p):
    x = np.asarray(F.rand_binomial(n, p, shape=[N // 4], seed=36, dtype="float64"))
    assert x.min() >= 0 and x.max() <= n and np.all(x == np.round(x))
    _moments_ok(x, n * p, n * p * (1 - p))
    if n <= 10 ** 4:
        _binomial_chi_square(x, n, p)


def test_rand_binomial_edges():
    huge = np.asarray(F.rand_binomial(2 ** 53, 0.5, shape=[1000], seed=2, dtype="float64"))
    assert np.all((huge >= 0) & (huge <= 2 ** 53) & (huge == np.round(huge)))
    assert abs(huge.mean() - 2 ** 52) < 6 * math.sqrt(2 ** 51 / 1000)
    assert np.all(np.asarray(F.rand_binomial(0, 0.3, shape=[5], seed=1)) == 0)
    assert np.all(np.asarray(F.rand_binomial(9, 0.0, shape=[5], seed=1)) == 0)
    assert np.all(np.asarray(F.rand_binomial(9, 1.0, shape=[5], seed=1)) == 9)


@pytest.mark.parametrize("k, theta, cdf", [
    (0.5, 2.0, lambda x: _erf(np.sqrt(x / 2))),                         # chi-square(1): Z^2
    (1.0, 1.5, lambda x: 1 - np.exp(-x / 1.5)),                         # exponential
    (3.0, 1.0, lambda x: 1 - np.exp(-x) * (1 + x + x * x / 2)),         # Erlang
])
def test_rand_gamma_matches_closed_form_cdfs(k, theta, cdf):
    x = np.asarray(F.rand_gamma(k, theta, shape=[N // 2], seed=37, dtype="float64"))
    assert x.min() >= 0
    _moments_ok(x, k * theta, k * theta ** 2)
    edges = np.quantile(x, np.linspace(0, 1, 41)[1:-1])  # data-driven edges, fixed before the test
    _binned_chi_square(x, cdf, edges)


def test_rand_gamma_small_shape_stays_finite():
    x = np.asarray(F.rand_gamma(0.05, 1.0, shape=[N // 4], seed=38, dtype="float64"))
    assert np.all(np.isfinite(x)) and x.min() >= 0
    assert abs(x.mean() - 0.05) < 6 * math.sqrt(0.05 / x.size)


@pytest.mark.parametrize("a, b, cdf", [
    (0.5, 0.5, lambda x: 2 / np.pi * np.arcsin(np.sqrt(x))),  # arcsine
    (1.0, 1.0, lambda x: x),                                  # uniform
    (2.0, 1.0, lambda x: x * x),
])
def test_rand_beta_matches_closed_form_cdfs(a, b, cdf):
    x = np.asarray(F.rand_beta(a, b, shape=[N // 2], seed=39, dtype="float64"))
    assert x.min() >= 0 and x.max() <= 1
    _moments_ok(x, a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1)))
    _binned_chi_square(x, cdf, np.linspace(0, 1, 41)[1:-1])


def test_rand_beta_tiny_parameters_give_no_nan():
    x = np.asarray(F.rand_beta(0.01, 0.02, shape=[100_000], seed=40, dtype="float64"))
    assert np.all(np.isfinite(x)) and x.min() >= 0 and x.max() <= 1
    assert abs(x.mean() - 1 / 3) < 6 * math.sqrt(x.var() / x.size)


# ---- dropout ----

def test_dropout_keeps_the_right_fraction_and_scales():
    x = ng.full((N,), 2.0, ng.float64)
    y = np.asarray(F.dropout(x, 0.3, seed=41))
    kept = y != 0
    assert np.all(y[kept] == 2.0 / 0.7)
    assert abs(kept.mean() - 0.7) < 6 * math.sqrt(0.21 / N)


def test_dropout_same_seed_same_mask_in_both_dtypes():
    m32 = np.asarray(F.dropout(ng.ones((1000,), ng.float32), 0.5, seed=3)) != 0
    m64 = np.asarray(F.dropout(ng.ones((1000,), ng.float64), 0.5, seed=3)) != 0
    np.testing.assert_array_equal(m32, m64)
    np.testing.assert_array_equal(m64, ref_dropout_mask((1000,), 0.5, 3) != 0)


def test_dropout_higher_orders_reuse_the_forward_mask():
    """f = sum(dropout(x)^3): f' = 3 d^2 m s, f'' = 6 d m s^2, f''' = 6 m s^3 (d = dropout(x), m^2 = m)."""
    p, s = 0.4, 1 / 0.6
    x = ng.tensor(np.linspace(-1, 1, 200), dtype=ng.float64, requires_grad=True)
    g = ng.Generator(5)
    d = F.dropout(x, p, seed=g)
    m = (np.asarray(d) != 0).astype(np.float64)
    np.testing.assert_array_equal(m, ref_dropout_mask((200,), p, 5))
    xs = np.asarray(x)
    (g1,) = ng.grad((d * d * d).sum(), [x], create_graph=True)
    (g2,) = ng.grad(g1.sum(), [x], create_graph=True)
    (g3,) = ng.grad(g2.sum(), [x])
    np.testing.assert_allclose(np.asarray(g1), 3 * (xs * m * s) ** 2 * m * s, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g2), 6 * xs * m * s ** 3, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g3), 6 * m * s ** 3, rtol=1e-12)
    assert g.offset == 200  # the backward passes drew nothing


def test_dropout_edges():
    x = ng.tensor([1.0, -2.0], dtype=ng.float64, requires_grad=True)
    y0 = F.dropout(x, 0.0)
    np.testing.assert_array_equal(np.asarray(y0), [1.0, -2.0])
    y1 = F.dropout(x, 1.0)
    np.testing.assert_array_equal(np.asarray(y1), [0.0, 0.0])
    (g,) = ng.grad(y1.sum(), [x])
    np.testing.assert_array_equal(np.asarray(g), [0.0, 0.0])
    assert F.dropout(ng.ones((0, 3)), 0.5).shape == (0, 3)


# ---- random_choice ----

def test_random_choice_with_replacement_follows_the_weights():
    w = np.array([1.0, 0.0, 3.0, 2.0, 4.0])
    x = ng.tensor(np.arange(5.0) * 10)
    y = np.asarray(F.random_choice(x, ng.tensor(w), shape=[N], seed=42))
    assert y.shape == (N,)
    counts = np.bincount((y / 10).astype(np.int64), minlength=5)
    assert counts[1] == 0
    _chi_square_ok(counts[w > 0], w[w > 0] / w.sum() * N)


def test_random_choice_without_replacement_is_sequential_weighted_sampling():
    w = np.array([1.0, 2.0, 3.0, 4.0])
    rows = 200_000
    x = ng.tensor(np.tile(np.arange(4.0), (rows, 1)))
    y = np.asarray(F.random_choice(x, ng.tensor(np.tile(w, (rows, 1))), shape=[2], replace=False, seed=43))
    assert y.shape == (rows, 2) and np.all(y[:, 0] != y[:, 1])
    pairs = (y[:, 0] * 4 + y[:, 1]).astype(np.int64)
    S = w.sum()
    expected = [w[i] / S * w[j] / (S - w[i]) * rows for i in range(4) for j in range(4) if i != j]
    observed = [np.sum(pairs == i * 4 + j) for i in range(4) for j in range(4) if i != j]
    _chi_square_ok(observed, expected)
    # all of a row, without replacement: a permutation
    full = np.asarray(F.random_choice(ng.tensor(np.arange(4.0)), ng.tensor(w), shape=[4], replace=False, seed=1))
    assert sorted(full) == [0, 1, 2, 3]


def test_random_choice_gradients_follow_nnabla():
    """gx and gw both receive dy at the drawn positions (nnabla); the backward's
    own gradient gathers at the same positions, so every order follows."""
    x = ng.tensor(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), requires_grad=True)
    w = ng.tensor(np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0]]), requires_grad=True)
    y = F.random_choice(x, w, shape=[5], seed=44)
    idx = (np.asarray(y) - 1).astype(np.int64) - np.array([[0], [3]])
    v = ng.tensor(np.random.default_rng(0).standard_normal((2, 5)), requires_grad=True)
    gx, gw = ng.grad((y * v).sum(), [x, w], create_graph=True)
    want = np.zeros((2, 3))
    for r in range(2):
        np.add.at(want[r], idx[r], np.asarray(v)[r])
    np.testing.assert_allclose(np.asarray(gx), want)
    np.testing.assert_allclose(np.asarray(gw), want)
    assert want[0, 2] == 0 and want[1, 0] == 0  # zero weights are never drawn
    u = np.random.default_rng(1).standard_normal((2, 3))
    (gv,) = ng.grad((gx * ng.tensor(u)).sum(), [v])
    np.testing.assert_allclose(np.asarray(gv), np.take_along_axis(u, idx, axis=1))


def test_random_choice_promotes_and_shapes():
    y = F.random_choice(ng.ones((2, 3), ng.float32), ng.ones((2, 3), ng.float64), seed=1)
    assert y.dtype == ng.float64 and y.shape == (2, 1)
    assert F.random_choice(ng.ones((4,)), ng.ones((4,)), shape=[2, 3], seed=1).shape == (2, 3)
    assert F.random_choice(ng.ones((2, 4)), ng.ones((2, 4)), shape=[0], seed=1).shape == (2, 0)
    with pytest.raises(ValueError, match="infinity"):
        F.random_choice(ng.ones((2,), ng.float64), ng.tensor([1e308, 1e308], dtype=ng.float64), seed=1)
    with pytest.raises(ValueError, match="non-negative"):
        F.random_choice(ng.ones((2,)), ng.tensor([float("nan"), 1.0]), seed=1)
    with pytest.raises(ValueError, match="empty population"):
        F.random_choice(ng.ones((2, 0)), ng.ones((2, 0)), seed=1)


def test_graphs_through_random_ops_free_everything():
    base = ng.live_counts()
    for _ in range(3):
        x = ng.tensor(np.ones((4, 3)), requires_grad=True)
        w = ng.tensor(np.ones((4, 3)), requires_grad=True)
        y = F.dropout(x, 0.5, seed=1) * F.random_choice(x, w, shape=[3], seed=2)
        (gx,) = ng.grad(y.sum(), [x], create_graph=True)
        ng.grad(gx.sum(), [w], allow_unused=True)
        del x, w, y, gx
    assert ng.live_counts() == base
