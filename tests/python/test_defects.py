"""Regression tests for defects found by a crash hunt and by the sanitizers
(tests/run_sanitizers.sh). Each test failed, or crashed the process, before
its fix."""
import json
import operator
import re
import subprocess
import sys

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F


# 1. Instances made without a constructor -------------------------------------

# Run in a child process: before the fix each of these was a segfault, which
# would take pytest down with it. The child prints, for each probe, the
# exception type and message, or "no error".
_UNDEFINED_PROBES = r'''
import copy, json, operator, sys
import numpy as np
import nthgrad as ng
import nthgrad.functional as F

T = ng.Tensor
u = T.__new__(T)
other = ng.tensor([1.0])
results = {}

def probe(name, fn):
    try:
        fn()
        results[name] = "no error"
    except Exception as e:  # noqa: BLE001 (we report every kind)
        cause = f" (cause: {type(e.__cause__).__name__}: {e.__cause__})" if e.__cause__ else ""
        results[name] = f"{type(e).__name__}: {e}{cause}"

# Every public attribute, method and operator of Tensor except those of object
# that Tensor does not override (identity, hashing, attribute access), tried
# with a few argument lists: at least one must name the undefined tensor and
# none may succeed.
NOT_ABOUT_THE_VALUE = {"__init__", "__dict__", "__module__", "__doc__", "__array_priority__", "__weakref__",
                       "__class__", "__new__", "__init_subclass__", "__subclasshook__",
                       # pybind11's hook for other extension modules, called with a capsule from C++
                       "_pybind11_conduit_v1_"}
ARGS = [(), (1.0,), (other,), (ng.float32,), ((1,),), (0, 0)]
for name in dir(T):
    if name in NOT_ABOUT_THE_VALUE or getattr(T, name) is getattr(object, name, None):
        continue
    attr = getattr(T, name)
    if callable(attr):
        outcomes = []
        for args in ARGS:
            try:
                getattr(u, name)(*args)
                outcomes.append("no error")
            except Exception as e:  # noqa: BLE001
                outcomes.append(f"{type(e).__name__}: {e}")
        undefined = [o for o in outcomes if "undefined" in o]
        results["method " + name] = undefined[0] if undefined and "no error" not in outcomes else repr(outcomes)
    else:
        probe("attribute " + name, lambda: getattr(u, name))

probe("repr", lambda: repr(u))
probe("str", lambda: str(u))
probe("f-string", lambda: f"{u}")
probe("np.asarray", lambda: np.asarray(u))
probe("np.array", lambda: np.array(u))
probe("memoryview", lambda: memoryview(u))
probe("F.exp", lambda: F.exp(u))
probe("F.add2 second argument", lambda: F.add2(other, u))
probe("F.add_n list", lambda: F.add_n(other, u))
probe("F.affine bias", lambda: F.affine(ng.ones((2, 3)), ng.ones((3, 4)), u))
probe("tensor + u", lambda: other + u)
probe("1 + u", lambda: 1 + u)
probe("ndarray + u", lambda: np.ones(1) + u)
probe("list + u", lambda: [1.0] + u)
probe("u @ tensor", lambda: u @ other)
probe("ng.tensor(u)", lambda: ng.tensor(u))
probe("ng.grad output", lambda: ng.grad(u, [other]))
probe("ng.grad input", lambda: ng.grad(other.sum(), [u]))
probe("grad_outputs", lambda: ng.grad([(other * 2).sum()], [other], [u]))
probe("backward", lambda: u.backward())
probe("set grad with u", lambda: setattr(ng.tensor([1.0]), "grad", u))
probe("set requires_grad", lambda: setattr(u, "requires_grad", True))
probe("set grad", lambda: setattr(u, "grad", other))
probe("hvp", lambda: ng.autograd.hvp(lambda x: x.sum(), u, other))
# The base class's __new__ bypasses anything Tensor itself could override.
probe("base __new__", lambda: T.__mro__[1].__new__(T).shape)
probe("copy.copy", lambda: copy.copy(other).shape)
N = ng._C.Node
probe("node name", lambda: N.__new__(N).name)
probe("node repr", lambda: repr(N.__new__(N)))
D = ng.DType
probe("dtype itemsize", lambda: D.__new__(D).itemsize)
probe("dtype repr", lambda: repr(D.__new__(D)))
probe("dtype int", lambda: int(D.__new__(D)))
probe("dtype as argument", lambda: other.astype(D.__new__(D)))
probe("dtype to cast", lambda: ng._C.cast(other, D.__new__(D)))
print(json.dumps(results))
'''


def test_instances_made_without_a_constructor_raise_instead_of_crashing():
    r = subprocess.run([sys.executable, "-c", _UNDEFINED_PROBES], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"the child process died (signal {-r.returncode}):\n{r.stderr[-3000:]}"
    results = json.loads(r.stdout)
    members = [k for k in results if k.startswith(("method ", "attribute "))]
    assert len(members) > 40  # the loop really covered the Tensor API
    for name in ("attribute shape", "attribute grad", "method backward", "method __add__", "method __int__",
                 "method numpy", "method __array__", "method __repr__", "method item"):
        assert name in results
    # pickling refuses on its own; everything else must name the undefined object
    # memoryview: a tensor has no buffer protocol (NumPy takes it through __array__)
    # __setitem__ refuses every tensor, defined or not (tensors are immutable)
    expected_other = {"copy.copy": "cannot pickle", "memoryview": "a bytes-like object is required",
                      "method __setitem__": "immutable"}
    for name, outcome in results.items():
        if name in expected_other:
            assert expected_other[name] in outcome, (name, outcome)
            continue
        assert outcome.startswith(("RuntimeError:", "BufferError:")), (name, outcome)
        assert "RuntimeError: the tensor is undefined (created without a constructor" in outcome or (
            "RuntimeError: the graph node is undefined (created without a constructor" in outcome) or (
            "RuntimeError: the dtype is undefined (created without a constructor" in outcome), (name, outcome)


# 2. Odd NumPy inputs ----------------------------------------------------------

@pytest.mark.parametrize("dtype, ng_dtype", [(">f8", ng.float64), (">f4", ng.float32), (">i8", ng.int64),
                                              ("<f8", ng.float64)])
def test_non_native_byte_order(dtype, ng_dtype):
    native = np.dtype(dtype).isnative
    a = np.array([[0, 1, 2], [-3, 250, 7]], dtype=dtype)
    t = ng.tensor(a)  # converts to native order, keeps the kind and size
    assert t.dtype == ng_dtype
    np.testing.assert_array_equal(np.asarray(t), a.astype(a.dtype.newbyteorder("=")))
    x = ng.tensor([1.0, 1.0, 1.0], dtype=ng.float64)
    np.testing.assert_array_equal(np.asarray(x + a[0]), [1.0, 2.0, 3.0])  # operand conversion too
    if native:
        assert np.shares_memory(np.asarray(ng.from_numpy(a)), a)
    else:
        with pytest.raises(ValueError, match=r"from_numpy: .*byte order.*nthgrad.tensor.*newbyteorder\('='\)"):
            ng.from_numpy(a)
        fixed = a.astype(a.dtype.newbyteorder("="))
        np.testing.assert_array_equal(np.asarray(ng.from_numpy(fixed)), fixed)


def _unaligned_float64(n):
    raw = np.zeros(8 * n + 1, np.uint8)[1:]
    a = raw.view(np.float64)
    a[:] = np.arange(n)
    assert not a.flags.aligned
    return a


@pytest.mark.parametrize("make, reason", [
    (lambda: np.broadcast_to(np.arange(3.0), (2, 3)), "C-contiguous"),  # zero strides
    (lambda: np.arange(6.0)[::-1], "C-contiguous"),  # negative stride
    (lambda: np.asfortranarray(np.arange(6.0).reshape(2, 3)), "C-contiguous"),
    (lambda: _unaligned_float64(5), "not aligned"),
])
def test_layouts_that_cannot_be_shared_are_copied_by_tensor(make, reason):
    a = make()
    t = ng.tensor(a)
    np.testing.assert_array_equal(np.asarray(t), a)
    assert t.shape == a.shape
    with pytest.raises(ValueError, match=f"from_numpy: the array of shape .*{reason}.*nthgrad.tensor"):
        ng.from_numpy(a)


def test_zero_dimensional_arrays():
    a = np.array(2.5)
    assert ng.tensor(a).shape == () and ng.tensor(a).item() == 2.5
    f = ng.from_numpy(a)
    assert f.shape == () and np.shares_memory(np.asarray(f), a)


@pytest.mark.parametrize("dtype, ng_dtype", [(np.float16, ng.float32), (np.uint8, ng.int64), (np.int32, ng.int64),
                                              (np.uint32, ng.int64), (np.int16, ng.int64), (np.uint64, ng.int64)])
def test_other_numeric_dtypes_convert_in_tensor_and_are_refused_by_from_numpy(dtype, ng_dtype):
    top = {np.float16: 3.5, np.uint64: 2**63 - 1}.get(dtype) or np.iinfo(dtype).max  # uint64 above: test 3
    a = np.array([0, 1, 200, top], dtype=dtype)
    t = ng.tensor(a)
    assert t.dtype == ng_dtype
    np.testing.assert_array_equal(np.asarray(t), a.astype(np.asarray(t).dtype))
    with pytest.raises(TypeError, match=f"from_numpy: unsupported NumPy dtype {np.dtype(dtype)}.*nthgrad.tensor"):
        ng.from_numpy(a)


def test_structured_and_non_numeric_dtypes_are_type_errors():
    s = np.zeros(2, dtype=[("a", "f4"), ("b", "i4")])
    for make in (lambda: ng.tensor(s), lambda: ng.tensor(s, dtype=ng.float32), lambda: ng.from_numpy(s),
                 lambda: ng.tensor(np.array(["a", "b"])), lambda: ng.tensor([1.0, None]),
                 lambda: ng.tensor(np.array([1 + 2j]))):
        with pytest.raises(TypeError):
            make()
    with pytest.raises(TypeError, match=r"tensor: data must be numeric, got None"):
        ng.tensor([1, None])


# 3. Integers beyond int64 -----------------------------------------------------

@pytest.mark.parametrize("data, value", [(2**63, "9223372036854775808"), ([2**64 - 1], "18446744073709551615"),
                                         ([1, 2**64], "18446744073709551616"), (-(2**63) - 1, "-9223372036854775809"),
                                         (np.array([1, 2**63 + 5], dtype=np.uint64), "9223372036854775813")])
def test_integers_beyond_int64_raise_overflow_error(data, value):
    with pytest.raises(OverflowError, match=f"tensor: the integer {value} is out of the int64 range"):
        ng.tensor(data)


def test_integers_within_int64_convert_exactly():
    t = ng.tensor(np.array([0, 2**63 - 1], dtype=np.uint64))
    assert t.dtype == ng.int64 and int(ng.tensor(np.asarray(t)[1])) == 2**63 - 1
    assert ng.tensor(-(2**63)).item() == -(2**63)
    assert ng.tensor(2**63, dtype=ng.float64).item() == 2.0**63  # a float target takes any size
    assert ng.tensor([1.5, 2**64]).dtype == ng.float32
    with pytest.raises(OverflowError, match="full: the integer 9223372036854775808"):
        ng.full((2,), 2**63, ng.int64)


def test_floats_to_int64_in_tensor_and_full():
    np.testing.assert_array_equal(np.asarray(ng.tensor([2.7, -2.7, 0.5], dtype=ng.int64)), [2, -2, 0])
    for bad in (float("nan"), float("inf"), 1e19, -1e300):
        with pytest.raises(ValueError, match=re.escape(f"tensor: cannot convert {bad} to int64: NaN, infinite")):
            ng.tensor([1.0, bad], dtype=ng.int64)
        with pytest.raises(ValueError, match=re.escape(f"full: cannot convert {bad} to int64")):
            ng.full((3,), bad, ng.int64)


# 4. int(), index, operands, requires_grad --------------------------------------

def test_int_and_index():
    assert int(ng.tensor([2.7])) == 2 and int(ng.tensor(-2.7)) == -2
    assert int(ng.tensor(2**62 + 1)) == 2**62 + 1  # exact: item() of an int64 tensor is an int
    assert ng.tensor([True]).item() is True
    assert isinstance(ng.tensor(3).item(), int) and isinstance(ng.tensor(3.0).item(), float)
    assert operator.index(ng.tensor(3)) == 3 and [10, 20, 30][ng.tensor(1)] == 20
    with pytest.raises(ValueError, match=r"int\(\): only a tensor with one element .* shape \(2,\)"):
        int(ng.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"float\(\): only a tensor with one element .* shape \(2, 1\)"):
        float(ng.ones((2, 1)))
    with pytest.raises(ValueError, match=r"int\(\): cannot convert nan"):
        int(ng.tensor(float("nan")))
    with pytest.raises(TypeError, match="only an int64 tensor .* float32 of shape"):
        operator.index(ng.tensor(1.0))
    with pytest.raises(ValueError, match=r"index: only a tensor with one element .* shape \(2,\)"):
        operator.index(ng.tensor([1, 2]))


def test_non_numeric_operands_are_type_errors():
    x = ng.tensor([1.0, 2.0, 3.0])
    for fn in (lambda: x + [1, None, 2], lambda: [1, None, 2] * x, lambda: x - np.array([1, None, 2], dtype=object),
               lambda: x / ["a", "b", "c"], lambda: x ** (1, None, 2)):
        with pytest.raises(TypeError, match=r"__r?\w+__: the operand .* is not numeric"):
            fn()
    np.testing.assert_array_equal(np.asarray(x + [1, 2, 3]), [2.0, 4.0, 6.0])


@pytest.mark.parametrize("make", [lambda rg: ng.tensor([1.0], requires_grad=rg),
                                  lambda rg: ng.from_numpy(np.ones(2), requires_grad=rg),
                                  lambda rg: ng.full((2,), 1.0, requires_grad=rg),
                                  lambda rg: ng.zeros((2,), requires_grad=rg),
                                  lambda rg: ng.ones((2,), requires_grad=rg)])
def test_requires_grad_must_be_a_bool(make):
    for bad in (None, 1, "yes", 0.0):
        with pytest.raises(TypeError, match="requires_grad must be a bool"):
            make(bad)
    assert make(True).requires_grad and not make(False).requires_grad and make(np.True_).requires_grad
    t = make(False)
    with pytest.raises(TypeError, match="Tensor.requires_grad: the value must be a bool, got None"):
        t.requires_grad = None
    t.requires_grad = np.True_
    assert t.requires_grad


# 5. hvp, .grad, high ranks, docs ----------------------------------------------

def test_hvp_checks_v():
    f = lambda x: (x * x * x).sum()  # noqa: E731
    x = ng.tensor([1.0, 2.0, 3.0], dtype=ng.float64)
    with pytest.raises(ValueError, match=r"hvp: v\[0\] has shape \(1,\) but inputs\[0\] has shape \(3,\)"):
        ng.autograd.hvp(f, x, ng.ones((1,), ng.float64))
    g = lambda a, b: (a * b * b).sum()  # noqa: E731
    with pytest.raises(ValueError, match=r"hvp: v\[1\] has shape \(3, 1\) but inputs\[1\] has shape \(3,\)"):
        ng.autograd.hvp(g, [x, x], [x, ng.ones((3, 1), ng.float64)])
    with pytest.raises(ValueError, match="hvp: v has 1 tensors but inputs has 2"):
        ng.autograd.hvp(g, [x, x], [x])
    with pytest.raises(ValueError, match="hvp: v has 0 tensors but inputs has 1"):
        ng.autograd.hvp(f, [x], [])
    with pytest.raises(ValueError, match="hvp: inputs is empty"):
        ng.autograd.hvp(f, [], [])
    with pytest.raises(TypeError, match=r"hvp: v\[0\] is a list"):
        ng.autograd.hvp(f, [x], [[1.0, 1.0, 1.0]])
    _, hv = ng.autograd.hvp(f, x, ng.ones((3,), ng.float64))  # still right: H = diag(6x)
    np.testing.assert_allclose(np.asarray(hv), [6.0, 12.0, 18.0])


def test_assigned_grad_must_match_dtype_and_shape():
    t = ng.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"grad: assigned gradient is float64 but the tensor is float32 "
                                        r"\(shape \(2,\)\)"):
        t.grad = ng.tensor([1.0, 1.0], dtype=ng.float64)
    with pytest.raises(ValueError, match=r"grad: assigned gradient has shape \(3,\) but the tensor has shape \(2,\)"):
        t.grad = ng.ones((3,))
    t.grad = ng.ones((2,))
    np.testing.assert_array_equal(np.asarray(t.grad), [1.0, 1.0])
    t.grad = None
    assert t.grad is None


def test_tensors_of_more_dimensions_than_numpy_allows():
    t = ng.zeros((1,)).reshape(*(1,) * 70)
    assert t.ndim == 70 and t.sum().item() == 0.0  # the tensor itself works
    for export in (np.asarray, np.array, lambda t: t.numpy(), lambda t: t.__array__()):
        with pytest.raises(ValueError, match=r"numpy: cannot convert a tensor of shape \(1, 1, .*\(70 dimensions\)"):
            export(t)
    with pytest.raises((BufferError, ValueError, TypeError)):  # NumPy exchange is __array__, not the buffer protocol
        memoryview(t)
    r = repr(t)  # a repr never raises: shape and dtype only
    assert r.startswith("tensor(<70-d, shape=(1, 1,") and "dtype=nthgrad.float32" in r
    ok = ng.zeros((1,)).reshape(*(1,) * 30)  # within every NumPy's limit: exported as usual
    assert np.asarray(ok).shape == (1,) * 30 and "tensor([[[" in repr(ok)


def test_array_protocol_called_directly():
    t = ng.tensor([1.0, 2.0])
    a = t.__array__()
    np.testing.assert_array_equal(a, [1.0, 2.0])
    assert t.__array__(np.float64).dtype == np.float64


def test_autograd_docstring_promises_only_what_exists():
    doc = ng.autograd.__doc__
    for name in ("jacobian", "hessian"):
        assert name not in doc or hasattr(ng.autograd, name)
    assert "hvp" in doc


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
