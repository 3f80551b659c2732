"""Regression tests for defects found by a crash hunt and by the sanitizers
(tests/run_sanitizers.sh). Each test failed, or crashed the process, before
its fix."""
import re

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F


# 6. Sizes that overflow, casts that were undefined behaviour -------------------

def test_storage_sizes_are_bounded():
    x = ng.tensor(np.ones(1))
    # 8 * (2**61 - 1) bytes wrapped the padded allocation size to 0 (a heap overflow)
    with pytest.raises(ValueError, match=r"shape \(2305843009213693951,\) is too large"):
        F.broadcast(x, (2**61 - 1,))
    with pytest.raises(ValueError, match=r"shape \(1099511627776, 1099511627776\) has more elements"):
        F.broadcast(x, (2**40, 2**40))
    with pytest.raises(ValueError, match=r"shape \(1152921504606846976,\) is too large"):
        F.broadcast(x, (2**60,))  # 2**63 bytes
    with pytest.raises(ValueError, match=r"shape \(9223372036854775807,\) of bool is too large: 9223372036854775807 "
                                         r"bytes is more than any buffer can hold"):
        F.broadcast(ng.tensor([True]), (2**63 - 1,))


def test_failed_allocation_is_a_memory_error():
    # 2**50 float64 elements: 8 PiB, more than any machine here can map
    with pytest.raises(MemoryError, match=r"out of memory allocating 9007199254740992 bytes for a tensor of shape "
                                          r"\(1125899906842624,\) and dtype float64"):
        F.broadcast(ng.tensor(np.ones(1)), (2**50,))


def test_size_products_are_checked():
    with pytest.raises(ValueError, match=r"reshape: shape \(4611686018427387904, 4\) is too large"):
        F.reshape(ng.zeros((8,)), (2**62, 4))
    with pytest.raises(ValueError, match=r"reshape: shape \(4611686018427387904, 4, -1\) is too large"):
        F.reshape(ng.zeros((8,)), (2**62, 4, -1))
    empty = ng.zeros((0,))
    with pytest.raises(ValueError, match=r"shape \(0, 4611686018427387904, 4611686018427387904\) has more elements"):
        F.reshape(empty, (0, 2**62, 2**62))
    with pytest.raises(ValueError, match=r"shape \(0, 2305843009213693952, 2\) is too large"):
        F.reshape(empty, (0, 2**61, 2))
    # the largest empty shapes that remain valid work everywhere
    big = F.reshape(empty, (0, 2**30, 2**30))
    assert F.transpose(big, (2, 1, 0)).shape == (2**30, 2**30, 0)
    assert F.mean(big, (1, 2)).shape == (0,)
    assert np.asarray(big).shape == (0, 2**30, 2**30) and "shape=" not in repr(big)
    with pytest.raises(ValueError, match=r"affine: weight of shape \(3, 2\) .* must be 1152921504606846976"):
        F.affine(big, ng.zeros((3, 2)), None, 1)
    with pytest.raises(MemoryError, match=r"for a tensor of shape \(1073741824, 1073741824\)"):
        F.mean(big, 0)  # a result of 2**60 elements


@pytest.mark.parametrize("dtype", [ng.float32, ng.float64])
def test_float_to_int64_cast_is_defined(dtype):
    t = ng.tensor([2.7, -2.7, -(2.0**63), 0.0], dtype=dtype)
    np.testing.assert_array_equal(np.asarray(t.to(ng.int64)), [2, -2, -(2**63), 0])
    for bad in (float("nan"), float("inf"), float("-inf"), 2.0**63, 1e300 if dtype == ng.float64 else 1e30):
        x = ng.from_numpy(np.array([1.0, bad], dtype=np.float64).astype(ng._tensor._NUMPY_OF[dtype]))
        with pytest.raises(ValueError, match=r"cast: cannot convert .* \(element 1 of a tensor of shape \(2,\)\) "
                                             r"to int64: NaN, infinite, or outside"):
            x.to(ng.int64)
    np.testing.assert_array_equal(np.asarray(ng.tensor([0.0, float("nan"), -1.0], dtype=dtype).to(ng.bool_)),
                                  [False, True, True])
    assert np.isinf(np.asarray(ng.tensor([1e300], dtype=ng.float64).float())).all()  # IEEE overflow to inf
