"""Tensors from Python: creation, dtypes, NumPy exchange, repr, operators."""
import numpy as np
import pytest

import nthgrad as ng


def test_dtypes_from_python_and_numpy():
    assert ng.tensor(1.5).dtype == ng.float32
    assert ng.tensor([1, 2]).dtype == ng.int64
    assert ng.tensor([True, False]).dtype == ng.bool_
    assert ng.tensor(np.zeros(3)).dtype == ng.float64
    assert ng.tensor(np.zeros(3, np.float32)).dtype == ng.float32
    assert ng.tensor(np.zeros(3, np.int32)).dtype == ng.int64
    assert ng.tensor([1.0], dtype="float64").dtype == ng.float64
    assert ng.tensor([1.0], dtype=np.float64).dtype == ng.float64
    assert ng.tensor([1], dtype=ng.float32).dtype == ng.float32
    with pytest.raises(TypeError, match="dtype"):
        ng.tensor([1.0], dtype="complex64")
    with pytest.raises((TypeError, ValueError)):
        ng.tensor([[1.0], [1.0, 2.0]])
    with pytest.raises(TypeError):
        ng.tensor(np.array([1 + 2j]))


def test_attributes():
    t = ng.tensor(np.arange(6.0).reshape(2, 3))
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and t.numel() == 6
    assert t.device == "cpu" and len(t) == 2
    assert ng.tensor(3.5).item() == 3.5 and float(ng.tensor([2.0])) == 2.0
    with pytest.raises(ValueError, match="one element"):
        t.item()
    s = ng.tensor(2.0)
    assert s.shape == () and s.ndim == 0 and s.size == 1


def test_numpy_exchange_without_copy():
    t = ng.tensor(np.arange(6.0).reshape(2, 3))
    a = t.numpy()
    b = np.asarray(t)
    assert a.shape == (2, 3) and a.dtype == np.float64
    assert np.shares_memory(a, b)  # both views of the tensor's storage
    arr = np.arange(4.0)
    f = ng.from_numpy(arr)
    arr[0] = 7.0
    assert f.numpy()[0] == 7.0  # from_numpy shares
    c = ng.tensor(arr)
    arr[1] = 9.0
    assert c.numpy()[1] == 1.0  # tensor copies
    for t_ in (ng.tensor([1.0], requires_grad=True), ng.tensor([1.0]), f):
        assert not t_.numpy().flags.writeable  # read-only views: nthgrad never writes into a tensor
    copy = np.array(f)
    copy[0] = 1.0  # np.array copies, writable
    assert f.numpy()[0] == 7.0
    assert np.asarray(ng.tensor([True])).dtype == np.bool_
    assert np.asarray(ng.tensor([3])).dtype == np.int64


def test_numpy_views_cannot_corrupt_saved_values_or_read_only_memory():
    x = ng.tensor([1.0, 2.0], requires_grad=True)
    c = ng.tensor([3.0, 4.0])
    y = (x * c).sum()
    with pytest.raises(ValueError, match="read-only"):
        c.numpy()[0] = 100.0
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    frozen = np.arange(3.0)
    frozen.flags.writeable = False
    t = ng.from_numpy(frozen)
    with pytest.raises(ValueError, match="read-only"):
        t.numpy()[0] = 1.0
    with pytest.raises(ValueError, match="C-contiguous"):
        ng.from_numpy(np.arange(6.0).reshape(2, 3).T)


def test_tensor_keeps_numpy_memory_alive():
    arr = np.arange(1000.0)
    t = ng.from_numpy(arr)
    del arr
    np.testing.assert_array_equal(t.numpy()[:3], [0.0, 1.0, 2.0])


def test_repr():
    assert repr(ng.tensor([1.0, 2.0])) == "tensor([1., 2.], dtype=nthgrad.float32)"
    x = ng.tensor([1.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<mul_scalar>" in repr(x * 2.0)


def test_operators_call_the_ops():
    a = ng.tensor([1.0, 2.0], dtype=ng.float64, requires_grad=True)
    b = ng.tensor([3.0, 4.0], dtype=ng.float64)
    cases = [
        (a + b, [4, 6], "add2"), (a - b, [-2, -2], "sub2"), (a * b, [3, 8], "mul2"), (a / b, [1 / 3, 0.5], "div2"),
        (a ** b, [1, 16], "pow2"), (a + 1, [2, 3], "add_scalar"), (1 + a, [2, 3], "add_scalar"),
        (a - 1, [0, 1], "add_scalar"), (1 - a, [0, -1], "r_sub_scalar"), (a * 2, [2, 4], "mul_scalar"),
        (2 * a, [2, 4], "mul_scalar"), (a / 2, [0.5, 1], "div2"), (2 / a, [2, 1], "r_div_scalar"),
        (a ** 2, [1, 4], "pow_scalar"), (2 ** a, [2, 4], "r_pow_scalar"), (-a, [-1, -2], "mul_scalar"),
        (a + np.array([1.0, 1.0]), [2, 3], "add2"), (np.array([1.0, 1.0]) + a, [2, 3], "add2"),
        (abs(-a), [1, 2], "abs"),
    ]
    for y, want, op in cases:
        np.testing.assert_allclose(y.numpy(), want)
        assert y.grad_fn.name == op, (op, y.grad_fn.name)
    np.testing.assert_array_equal((a > 1.5).numpy(), [0.0, 1.0])
    assert (a > 1.5).dtype == ng.float64 and not (a > 1.5).requires_grad


def test_methods_and_matmul():
    m = ng.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(m.sum(axis=0).numpy(), [3, 5, 7])
    np.testing.assert_array_equal(m.mean(1, keepdims=True).numpy(), [[1], [4]])
    assert m.reshape(3, 2).shape == (3, 2) and m.reshape((6,)).shape == (6,)
    assert m.T.shape == (3, 2) and m.transpose(1, 0).shape == (3, 2)
    v = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose((m @ ng.tensor(v)).numpy(), np.arange(6.0).reshape(2, 3) @ v)
    mn = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose((m @ m.T).numpy(), mn @ mn.T)
    np.testing.assert_allclose((ng.tensor(v) @ m.T).numpy(), v @ mn.T)
    assert m.double().dtype == ng.float64 and m.float().dtype == ng.float32
    with pytest.raises(ValueError, match="inner dimensions"):
        m @ m
    np.testing.assert_array_equal((m > m.T.T * 0.5).numpy(), np.arange(6.0).reshape(2, 3) > 0)


def test_mixed_dtypes_promote_and_differentiate():
    a = ng.tensor([1.0, 2.0], dtype=ng.float32, requires_grad=True)
    b = ng.tensor([3.0, 4.0], dtype=ng.float64, requires_grad=True)
    y = a * b
    assert y.dtype == ng.float64
    ga, gb = ng.grad(y.sum(), [a, b])
    assert ga.dtype == ng.float32 and gb.dtype == ng.float64
    np.testing.assert_array_equal(ga.numpy(), [3.0, 4.0])
    c = a + ng.tensor([1, 2])  # int64 takes the float operand's dtype
    assert c.dtype == ng.float32


@pytest.mark.parametrize("bad", [
    lambda: ng.tensor([1.0]) + "a",
    lambda: ng.tensor([1.0]).reshape(3),
    lambda: ng.tensor([1.0]).sum(axis=1),
    lambda: ng.grad(ng.tensor([1.0]), ng.tensor([1.0])),
    lambda: ng.grad(1.0, [ng.tensor(1.0, requires_grad=True)]),
    lambda: ng.functional.exp(None),
    lambda: ng.functional.exp(np.ones(2)),
    lambda: ng.tensor([1.0]).grad_fn.name,
    lambda: ng.functional.broadcast(ng.tensor([1.0]), (2 ** 40, 2 ** 40)),
    lambda: ng.functional.broadcast(ng.tensor([1.0]), (2 ** 33, 2 ** 31)),
    lambda: ng.functional.reshape(ng.tensor(np.zeros((0, 4))), (2 ** 62, 4, 0, 2 ** 62)),
    lambda: ng.functional.affine(ng.tensor([1.0]), ng.tensor([1.0]), base_axis=-1),
])
def test_bad_input_raises_python_exceptions(bad):
    with pytest.raises((TypeError, ValueError, IndexError, RuntimeError, AttributeError)):
        bad()
