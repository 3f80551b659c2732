"""The matrix products behind matmul, batch_matmul and affine (cpu::gemm on
OpenBLAS): every transpose combination, sizes that take the threaded split
(rows or columns of C cut per thread) and sizes that do not, odd sizes that
leave a partial block, batches, and float32 accuracy over a long inner
dimension. References are NumPy products in float64."""
import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F

# (m, k, n): small (one thread), split along rows (m >= n), split along columns
# (n > m), and sizes that are not multiples of the 16-row blocks.
SHAPES = [(3, 4, 5), (1, 1, 1), (97, 65, 33), (33, 65, 211), (300, 17, 129), (5, 700, 3), (130, 130, 130)]


def operand(rng, shape, transposed, dtype):
    a = rng.standard_normal(shape[::-1] if transposed else shape).astype(dtype)
    return a, (a.T if transposed else a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_matmul_matches_numpy(m, k, n, ta, tb, dtype):
    rng = np.random.default_rng(m * 7 + k * 3 + n)
    a, op_a = operand(rng, (m, k), ta, dtype)
    b, op_b = operand(rng, (k, n), tb, dtype)
    y = ng._C.matmul(ng.tensor(a), ng.tensor(b), transpose_a=ta, transpose_b=tb).numpy()
    ref = op_a.astype(np.float64) @ op_b.astype(np.float64)
    assert y.dtype == dtype and y.shape == (m, n)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, ref, rtol=tol, atol=tol * np.sqrt(k) * np.abs(ref).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batched_and_broadcast_products(dtype):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 1, 37, 70)).astype(dtype)
    b = rng.standard_normal((3, 70, 90)).astype(dtype)
    y = (ng.tensor(a) @ ng.tensor(b)).numpy()
    np.testing.assert_allclose(y, a.astype(np.float64) @ b.astype(np.float64),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-4)


def test_affine_bias_is_added_once_and_empty_inner_dimension_gives_the_bias():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((200, 150)), rng.standard_normal((150, 120)), rng.standard_normal(120)
    y = F.affine(ng.tensor(x), ng.tensor(w), ng.tensor(b)).numpy()
    np.testing.assert_allclose(y, x @ w + b, rtol=1e-12, atol=1e-12)
    # D = 0: the product is empty and y is the bias in every row (BLAS must not be asked to keep C's garbage)
    y0 = F.affine(ng.tensor(np.zeros((3, 0))), ng.tensor(np.zeros((0, 4))), ng.tensor(np.arange(4.0))).numpy()
    np.testing.assert_array_equal(y0, np.tile(np.arange(4.0), (3, 1)))
    z = (ng.tensor(np.zeros((130, 0))) @ ng.tensor(np.zeros((0, 140)))).numpy()
    np.testing.assert_array_equal(z, np.zeros((130, 140)))


def test_float32_long_inner_dimension_stays_accurate():
    # 2^16 terms: a float32 dot product accumulated naively would drift by ~1e-3 relative
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 1, (8, 1 << 16)).astype(np.float32)
    b = rng.uniform(0, 1, (1 << 16, 8)).astype(np.float32)
    y = (ng.tensor(a) @ ng.tensor(b)).numpy()
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(y, ref, rtol=2e-5)


def test_gradients_of_a_threaded_product_match_numpy():
    rng = np.random.default_rng(4)
    a = ng.tensor(rng.standard_normal((150, 90)), requires_grad=True)
    b = ng.tensor(rng.standard_normal((90, 170)), requires_grad=True)
    gy = rng.standard_normal((150, 170))
    ga, gb = ng.grad(a @ b, [a, b], grad_outputs=[ng.tensor(gy)])
    np.testing.assert_allclose(ga.numpy(), gy @ b.numpy().T, rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(gb.numpy(), a.numpy().T @ gy, rtol=1e-12, atol=1e-11)
