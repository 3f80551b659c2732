"""Regression tests for what a review of the issue-6 change found: each
would fail on the code before its fix."""
import gc
import math
import subprocess
import sys

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F


def test_integer_remainder_of_int64_min_by_minus_one_does_not_trap():
    # INT64_MIN % -1 raises SIGFPE on x86: it killed the interpreter
    code = ("import nthgrad as ng, nthgrad.functional as F; "
            "print(F.mod2(ng.tensor([-2**63, 5]), ng.tensor([-1, 3])).numpy().tolist(), "
            "F.mod2(ng.tensor([-2**63]), ng.tensor([-1]), fmod=True).numpy().tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0, 2] [0]"


def test_integer_negation_wraps_as_numpy():
    big = ng.tensor([-2**63, 2**63 - 1])
    np.testing.assert_array_equal((-big).numpy(), -np.array([-2**63, 2**63 - 1], dtype=np.int64))
    np.testing.assert_array_equal(abs(big).numpy(), np.abs(np.array([-2**63, 2**63 - 1], dtype=np.int64)))


def test_in_place_update_is_refused_while_a_numpy_view_shares_the_memory():
    x = ng.tensor([1.0, 2.0, 3.0], dtype=ng.float64)
    b = ng.from_numpy(np.asarray(x))  # a second tensor on x's memory, through a NumPy view
    w = ng.tensor([1.0, 1.0, 1.0], dtype=ng.float64, requires_grad=True)
    y = (w * b).sum()
    with pytest.raises(RuntimeError, match="held elsewhere"):
        x.add_(ng.tensor([10.0, 10.0, 10.0], dtype=ng.float64))
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 2.0, 3.0])
    del b, y
    a = x.numpy()
    with pytest.raises(RuntimeError, match="held elsewhere"):
        x.add_(x)
    del a
    gc.collect()
    x.add_(x)  # no view left
    np.testing.assert_array_equal(x.numpy(), [2.0, 4.0, 6.0])


def test_in_place_update_is_refused_on_aliasing_gradients():
    a = ng.tensor([1.0, 2.0], requires_grad=True)
    b = ng.tensor([3.0, 4.0], requires_grad=True)
    ga, gb = ng.grad(a + b, [a, b], grad_outputs=ng.tensor([1.0, 1.0]))  # both are the grad_outputs itself
    with ng.no_grad(), pytest.raises(RuntimeError, match="another tensor object"):
        ga.add_(ng.tensor([5.0, 5.0]))
    np.testing.assert_array_equal(gb.numpy(), [1.0, 1.0])
    G = ng.tensor([1.0, 1.0])
    (a + b).backward(G, create_graph=True)
    with ng.no_grad(), pytest.raises(RuntimeError, match="another tensor object"):
        a.grad.add_(ng.tensor([100.0, 100.0]))
    np.testing.assert_array_equal(G.numpy(), [1.0, 1.0])


def test_zeros_ones_full_make_tensors_that_can_be_updated_in_place():
    for make in (ng.zeros, ng.ones, lambda s, **k: ng.full(s, 2.0, **k)):
        w = make((3,), requires_grad=True)
        with ng.no_grad():
            w.sub_(ng.tensor([1.0, 2.0, 3.0]))
        assert w.requires_grad and w.is_leaf


def test_an_empty_axis_sequence_reduces_nothing():
    x = ng.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    for op in (F.sum, F.mean, F.prod, F.max, F.min):
        np.testing.assert_array_equal(op(x, ()).numpy(), x.numpy())
        np.testing.assert_array_equal(op(x, []).numpy(), x.numpy())
    values, index = F.max(x, (), with_index=True)
    np.testing.assert_array_equal(index.numpy(), np.zeros((2, 3)))
    assert x.sum(axis=()).shape == (2, 3) and F.sum(x).shape == ()
    (g,) = ng.grad(F.sum(x, ()).sum(), [x])
    np.testing.assert_array_equal(g.numpy(), np.ones((2, 3)))
    with pytest.raises(ValueError, match="axis"):
        F.clip_by_norm(x, 1.0, axis=())


@pytest.mark.parametrize("axis", ["a", True, 1.5])
def test_bad_axis_arguments_raise_type_error(axis):
    x = ng.tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="axis"):
        F.sum(x, axis)


def test_float32_sums_do_not_lose_small_terms_to_cancellation():
    z = np.zeros(64, np.float32)
    z[0], z[8], z[16] = 1e8, 1.0, -1e8
    assert F.sum(ng.tensor(z)).item() == 1.0
    big = np.zeros(1 << 21, np.float32)
    big[::2] = 3e7
    big[1::2] = -3e7
    big[:64] += 1.0
    assert F.sum(ng.tensor(big)).item() == pytest.approx(float(big.astype(np.float64).sum()), abs=1e-3)


def test_where_keeps_float_operands_beside_integer_tensors():
    c = ng.tensor([1.0, 0.0, 1.0])
    np.testing.assert_array_equal(ng.where(c, ng.tensor([1, 2, 3]), 0.5).numpy(), [1.0, 0.5, 3.0])
    np.testing.assert_array_equal(ng.where(c, [1.5, 2.5, 3.5], ng.tensor([7, 8, 9])).numpy(), [1.5, 8.0, 3.5])
    np.testing.assert_array_equal(ng.maximum(ng.tensor([1, 5]), np.array([2.5, 2.5])).numpy(), [2.5, 5.0])


def test_slice_with_huge_steps_follows_python():
    x = ng.tensor(np.arange(10.0))
    a = np.arange(10.0)
    for step in (2**63 - 1, -(2**63), 2**62, -(2**62)):
        np.testing.assert_array_equal(F.slice(x, [None], [None], [step]).numpy(), a[::step])


def test_arange_to_int64_refuses_values_out_of_range():
    with pytest.raises(ValueError, match="int64"):
        F.arange(1e30, 2e30, 1e29, dtype="int64")
    np.testing.assert_array_equal(F.arange(-3, 3, 2, dtype="int64").numpy(), [-3, -1, 1])


def test_clip_by_norm_with_extreme_clip_norms_in_float32():
    np.testing.assert_array_equal(F.clip_by_norm(ng.tensor([1.0, 2.0]), 1e20).numpy(), [1.0, 2.0])
    np.testing.assert_allclose(F.clip_by_norm(ng.tensor([1e-30, 0.0]), 1e-25).numpy(), [1e-30, 0.0])
    np.testing.assert_allclose(F.clip_by_norm(ng.tensor([3e-30, 4e-30]), 1e-30).numpy(), [6e-31, 8e-31], rtol=1e-6)
    x = ng.tensor([3.0, 4.0], dtype=ng.float64, requires_grad=True)
    (g,) = ng.grad(F.clip_by_norm(x, 1.0).sum(), [x])  # d/dx of x/||x|| summed: (1 - x.sum x/||x||^2) / ||x||
    np.testing.assert_allclose(g.numpy(), (1 - 7.0 * np.array([3.0, 4.0]) / 25.0) / 5.0, rtol=1e-12)


def test_float64_tanh_keeps_the_sign_of_negative_zero():
    assert np.signbit(F.tanh(ng.tensor(np.array([-0.0]))).numpy()[0])


def test_matmul_batches_and_transposes_after_the_packing_rewrite():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 3, 70, 40)), rng.standard_normal((1, 3, 40, 50))
    np.testing.assert_allclose(F.batch_matmul(ng.tensor(a), ng.tensor(b)).numpy(), a @ b, rtol=1e-12)
    np.testing.assert_allclose(F.batch_matmul(ng.tensor(np.swapaxes(a, -1, -2).copy()), ng.tensor(b),
                                              transpose_a=True).numpy(), a @ b, rtol=1e-12)
    big_a, big_b = rng.standard_normal((300, 257)), rng.standard_normal((257, 133))
    np.testing.assert_allclose((ng.tensor(big_a) @ ng.tensor(big_b)).numpy(), big_a @ big_b, rtol=1e-11)
