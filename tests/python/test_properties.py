"""Property tests over random shapes: the strided kernels (broadcasting,
reduction over any axes, transposition) against NumPy, and broadcasting
gradients summed back to each input's shape."""
import numpy as np
from hypothesis import given, settings, strategies as st

import nthgrad as ng
import nthgrad.functional as F

dims = st.integers(min_value=0, max_value=4)


@st.composite
def broadcastable_pair(draw):
    shape = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    def variant():
        cut = draw(st.integers(0, len(shape)))
        return [1 if draw(st.booleans()) else d for d in shape[cut:]]
    return variant(), variant()


@st.composite
def shape_and_axes(draw):
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1, max_size=len(shape)))
    return shape, axes


@settings(max_examples=60, deadline=None)
@given(broadcastable_pair(), st.sampled_from(["add2", "sub2", "mul2", "div2"]))
def test_broadcasting_binary_ops_and_their_gradients(shapes, name):
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, shapes[0])
    b = rng.uniform(0.5, 2.0, shapes[1])
    ta = ng.tensor(a, dtype=ng.float64, requires_grad=True)
    tb = ng.tensor(b, dtype=ng.float64, requires_grad=True)
    y = getattr(F, name)(ta, tb)
    ref = {"add2": np.add, "sub2": np.subtract, "mul2": np.multiply, "div2": np.divide}[name](a, b)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12)
    w = rng.uniform(size=ref.shape)
    ga, gb = ng.grad(y, [ta, tb], grad_outputs=[ng.tensor(w, dtype=ng.float64)])
    assert ga.shape == ta.shape and gb.shape == tb.shape
    # d/da of sum(w * (a op b)), summed over broadcast axes, in closed form
    da = {"add2": w, "sub2": w, "mul2": w * b, "div2": w / b}[name]
    db = {"add2": w, "sub2": -w, "mul2": w * a, "div2": -w * a / b ** 2}[name]
    np.testing.assert_allclose(ga.numpy(), _sum_to(np.broadcast_to(da, ref.shape), a.shape), rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), _sum_to(np.broadcast_to(db, ref.shape), b.shape), rtol=1e-12)


def _sum_to(g, shape):
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


@settings(max_examples=60, deadline=None)
@given(shape_and_axes(), st.booleans())
def test_sum_and_mean_over_any_axes(case, keepdims):
    shape, axes = case
    x = np.random.default_rng(1).standard_normal(shape)
    t = ng.tensor(x, dtype=ng.float64, requires_grad=True)
    np.testing.assert_allclose(F.sum(t, axes, keepdims).numpy(), x.sum(axis=tuple(axes), keepdims=keepdims),
                               rtol=1e-12, atol=1e-12)
    m = F.mean(t, axes, keepdims)
    np.testing.assert_allclose(m.numpy(), x.mean(axis=tuple(axes), keepdims=keepdims), rtol=1e-12, atol=1e-12)
    (g,) = ng.grad(m.sum(), [t])
    n = np.prod([shape[a] for a in axes])
    np.testing.assert_allclose(g.numpy(), np.full(shape, 1.0 / n), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_transpose_any_permutation(shape, rnd):
    perm = list(range(len(shape)))
    rnd.shuffle(perm)
    x = np.random.default_rng(2).standard_normal(shape)
    t = ng.tensor(x, requires_grad=True, dtype=ng.float64)
    y = F.transpose(t, perm)
    np.testing.assert_array_equal(y.numpy(), np.transpose(x, perm))
    w = np.random.default_rng(3).standard_normal(y.shape)
    (g,) = ng.grad(y, [t], grad_outputs=[ng.tensor(w, dtype=ng.float64)])
    np.testing.assert_array_equal(g.numpy(), np.transpose(w, np.argsort(perm)))


def test_large_inputs_take_the_parallel_paths():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((300, 400))
    b = rng.standard_normal((400,))
    ta, tb = ng.tensor(a, dtype=ng.float64), ng.tensor(b, dtype=ng.float64)
    np.testing.assert_allclose((ta * tb).numpy(), a * b)
    np.testing.assert_allclose(F.tanh(ta).numpy(), np.tanh(a), rtol=1e-14)
    np.testing.assert_allclose(F.sum(ta, 0).numpy(), a.sum(0), rtol=1e-10)
    np.testing.assert_allclose(F.sum(ta, 1).numpy(), a.sum(1), rtol=1e-10)
    np.testing.assert_allclose(F.transpose(ta, (1, 0)).numpy(), a.T)
    c = rng.standard_normal((20, 30, 40))
    np.testing.assert_allclose(F.sum(ng.tensor(c), (0, 2)).numpy(), c.sum((0, 2)), rtol=1e-10)
    np.testing.assert_allclose(F.batch_matmul(ng.tensor(c), ng.tensor(c), transpose_b=True).numpy(),
                               c @ np.swapaxes(c, 1, 2), rtol=1e-10)
