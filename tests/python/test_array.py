"""Semantics of the array-manipulation and indexing ops (issue 7) that the
op table cannot express: NumPy indexing in all its forms, index_put, the
gradients nnabla 1.39 gets wrong (tile, sort), duplicates, ties, NaN, and
the error messages."""
import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F
from gradcheck import check_gradients


def f64(a, requires_grad=False):
    return ng.tensor(np.asarray(a, dtype=np.float64), dtype=ng.float64, requires_grad=requires_grad)


A = np.arange(60.0).reshape(3, 4, 5)
MASK = A[..., 0] > 20
INDEX_KEYS = [
    0, -1, 2, (1, 2), (1, -1, 3), (slice(None), 1), (..., 2), (None, 0), (0, None, ..., None),
    np.s_[::-1, 1:, ::2], np.s_[1:2, ::-3], np.s_[5:], np.s_[:, 10:-10],
    ([0, 2],), ([2, 2, 0],), (slice(None), [3, 0], 1), ([1, 0], [2, 2]), (0, [1, 2], [3, 0]),
    ([0, 1], slice(None), [1, 2]), (..., [1, 3]), ([[0], [1]], [1, 2, 0]), (None, [1], None, [0, 2]),
    (MASK,), (A > 30,), (0, A[0, :, 0] > 6), (slice(None), [True, False, True, True]), ([],),
    (np.array([1, 0]), Ellipsis, np.array(4)), (-3, -4, -5), (ng.tensor(np.array([2, 0])),),
    (ng.tensor(np.array([True, False, True])), 1),
]


def _numpy_key(k):
    if isinstance(k, tuple):
        return tuple(_numpy_key(v) for v in k)
    return np.asarray(k) if isinstance(k, ng.Tensor) else k


@pytest.mark.parametrize("key", INDEX_KEYS, ids=[str(i) for i in range(len(INDEX_KEYS))])
def test_indexing_matches_numpy(key):
    x = f64(A)
    got = x[key]
    want = A[_numpy_key(key)]
    assert tuple(got.shape) == want.shape
    np.testing.assert_array_equal(np.asarray(got), want)


@pytest.mark.parametrize("key", [(1, slice(None, None, -2)), ([2, 0, 2], slice(1, 3)), (MASK,),
                                 (slice(None), [3, 3, 0], [1, 1, 4]), (None, ..., [0, 0])],
                         ids=["basic", "int-array-duplicates", "mask", "two-arrays", "none-ellipsis"])
def test_indexing_gradients_to_third_order(key):
    check_gradients(lambda x: x[key] ** 2, [np.random.default_rng(1).uniform(-1, 1, A.shape)], order=3)


def test_integer_array_index_backward_is_a_scatter_add():
    x = f64(A, requires_grad=True)
    (g,) = ng.grad(x[[0, 0, 2], 1].sum(), [x])
    want = np.zeros_like(A)
    np.add.at(want, ([0, 0, 2], 1), 1.0)
    np.testing.assert_array_equal(np.asarray(g), want)


def test_indexing_errors_name_the_index_and_the_shape():
    x = f64(A)
    with pytest.raises(IndexError, match=r"index 3 is out of range for axis 0 with size 3 .*\(3, 4, 5\)"):
        x[3]
    with pytest.raises(IndexError, match=r"index -6 is out of range for axis 2 with size 5"):
        x[:, :, [0, -6]]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(IndexError, match=r"boolean index of shape \(2,\)"):
        x[np.array([True, False])]
    with pytest.raises(TypeError, match="float"):
        x[1.0]
    with pytest.raises(TypeError, match="float64"):
        x[np.array([0.0, 1.0])]
    with pytest.raises(TypeError, match="float32 tensor"):
        x[ng.tensor([0.0])]
    with pytest.raises(TypeError, match="str"):
        x["a"]
    with pytest.raises(TypeError, match="index_put"):
        x[0] = 1.0


def test_iteration_follows_the_first_axis():
    rows = list(f64(A))
    assert len(rows) == 3 and all(np.array_equal(np.asarray(r), A[i]) for i, r in enumerate(rows))


def test_index_put_matches_numpy_assignment_and_accumulation():
    rng = np.random.default_rng(0)
    for key, shape in [((0, [1, 1, 3], 2), (3,)), ((slice(None), 1), (3, 5)), ((MASK,), (int(MASK.sum()), 5)),
                       ((..., [4, 4]), (3, 4, 2))]:
        v = rng.uniform(-1, 1, shape)
        want = A.copy()
        want[key] = v  # NumPy: the last of duplicate writes wins
        got = ng.index_put(f64(A), key, f64(v))
        np.testing.assert_array_equal(np.asarray(got), want)
        want_acc = A.copy()
        np.add.at(want_acc, key, v)
        np.testing.assert_allclose(np.asarray(ng.index_put(f64(A), key, f64(v), accumulate=True)), want_acc)
    # a scalar value broadcasts
    want = A.copy()
    want[1, :, 2] = 7.0
    np.testing.assert_array_equal(np.asarray(ng.index_put(f64(A), (1, slice(None), 2), 7.0)), want)


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_gradients(accumulate):
    key = (0, [1, 1, 3], 2)
    rng = np.random.default_rng(2)
    check_gradients(lambda x, v: ng.index_put(x, key, v, accumulate=accumulate) ** 2,
                    [rng.uniform(-1, 1, A.shape), rng.uniform(-1, 1, (3,))], order=3)
    x, v = f64(A, True), f64([1.0, 2.0, 3.0], True)
    gx, gv = ng.grad(ng.index_put(x, key, v, accumulate=accumulate).sum(), [x, v])
    # overwritten places of x get no gradient; of two writes to one place only the last one counts
    assert np.asarray(gx)[0, 1, 2] == (1.0 if accumulate else 0.0)
    np.testing.assert_array_equal(np.asarray(gv), [1.0, 1.0, 1.0] if accumulate else [0.0, 1.0, 1.0])


def test_index_put_errors():
    with pytest.raises(ValueError, match=r"values of shape \(2,\).*indexed shape \(3,\)"):
        ng.index_put(f64(A), (0, [1, 2, 3], 2), f64([1.0, 2.0]))
    with pytest.raises(TypeError, match="int64"):
        ng.index_put(ng.tensor(np.arange(3)), 0, 1)
    with pytest.raises(IndexError, match="index 4"):
        ng.index_put(f64(A), (4,), 0.0)


def test_tile_gradient_counts_the_copies():
    """nnabla 1.39's graph gradient of tile is all zeros; here every element
    gets one per copy, at every order through the composition."""
    x = f64([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    w = f64(np.arange(24.0).reshape(3, 2, 4))
    y = F.tile(x, (3, 1, 2))
    (g,) = ng.grad((y * w).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(np.asarray(g), np.arange(24.0).reshape(3, 2, 2, 2).sum(axis=(0, 2)))
    (h,) = ng.grad((g * x).sum(), [x])  # d/dx sum(g * x) = g (g does not depend on x)
    np.testing.assert_array_equal(np.asarray(h), np.asarray(g))


def test_sort_gradient_is_scattered_back_by_position():
    """nnabla 1.39 gathers the output gradient by the sort indices; the right
    gradient scatters it back: d/dx_j sum(w * sort(x)) = w[rank of x_j]."""
    xs = np.array([0.3, -1.0, 2.0, 0.1, -0.5])
    w = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])
    x = f64(xs, requires_grad=True)
    (g,) = ng.grad((F.sort(x) * f64(w)).sum(), [x])
    rank = np.argsort(np.argsort(xs))
    np.testing.assert_array_equal(np.asarray(g), w[rank])
    assert not np.array_equal(np.asarray(g), w[np.argsort(xs)])  # what the gather would give


def test_sort_is_stable_and_places_nan_like_numpy_and_torch():
    x = np.array([2.0, np.nan, 1.0, -0.0, 1.0, 0.0, -np.inf, np.nan, 2.0])
    values, index = F.sort(f64(x), with_index=True)
    np.testing.assert_array_equal(np.asarray(index), np.argsort(x, kind="stable"))
    np.testing.assert_array_equal(np.asarray(values), np.sort(x))
    # descending: NaN first (as torch), equal values keep their order
    index = np.asarray(F.sort(f64(x), reverse=True, only_index=True))
    np.testing.assert_array_equal(index, [1, 7, 0, 8, 2, 4, 3, 5, 6])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_sort_of_long_rows_matches_numpy(dtype):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((3, 20000)) * 1000).astype(dtype)
    x[:, ::7] = x[:, 1:2]  # many ties
    if dtype != np.int64:
        x[0, ::100] = np.nan
    got, index = F.sort(ng.tensor(x), axis=1, with_index=True)
    np.testing.assert_array_equal(np.asarray(index), np.argsort(x, axis=1, kind="stable"))
    np.testing.assert_array_equal(np.asarray(got), np.sort(x, axis=1))
    # descending, along a strided axis: NaN first, equal values in their order (x holds no infinities)
    index = F.sort(ng.tensor(x.T.copy()), axis=0, reverse=True, only_index=True)
    key = -x.T.astype(np.float64)
    key[np.isnan(key)] = -np.inf
    np.testing.assert_array_equal(np.asarray(index), np.argsort(key, axis=0, kind="stable"))


def test_scatter_nd_duplicates_last_write_wins_and_alone_gets_the_gradient():
    data = f64([1.0, 2.0, 3.0], requires_grad=True)
    y = F.scatter_nd(data, [[1, 0, 1]], shape=(2,))
    np.testing.assert_array_equal(np.asarray(y), [2.0, 3.0])
    (g,) = ng.grad((y * f64([10.0, 20.0])).sum(), [data])
    np.testing.assert_array_equal(np.asarray(g), [0.0, 10.0, 20.0])
    y = F.scatter_nd(data, [[1, 0, 1]], shape=(2,), add=True)
    np.testing.assert_array_equal(np.asarray(y), [2.0, 4.0])


def test_gather_nd_and_scatter_nd_are_adjoint():
    rng = np.random.default_rng(4)
    idx = np.array([[0, 2, 2, 1], [1, 0, 0, 3]])
    x = rng.standard_normal((3, 4, 2))
    y = rng.standard_normal((4, 2))
    lhs = np.sum(np.asarray(F.gather_nd(f64(x), idx)) * y)
    rhs = np.sum(x * np.asarray(F.scatter_nd(f64(y), idx, shape=(3, 4, 2), add=True)))
    assert abs(lhs - rhs) < 1e-12


def test_one_hot_wraps_negative_indices_and_rejects_out_of_range():
    np.testing.assert_array_equal(np.asarray(F.one_hot([[-1], [0]], (3,))), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(IndexError, match=r"one_hot: index -4 is out of range for axis 0 of shape \(3,\)"):
        F.one_hot([[-4]], (3,))


def test_top_k_grad_keeps_the_k_largest_gradient_entries():
    x = f64(np.zeros((2, 4)), requires_grad=True)
    w = f64([[1.0, -5.0, 3.0, 2.0], [0.5, 0.1, -0.2, 4.0]])
    (g,) = ng.grad((F.top_k_grad(x, 2) * w).sum(), [x])
    np.testing.assert_array_equal(np.asarray(g), [[0, 0, 3, 2], [0.5, 0, 0, 4]])
    (g,) = ng.grad((F.top_k_grad(x, 1, abs=True) * w).sum(), [x])
    np.testing.assert_array_equal(np.asarray(g), [[0, -5, 0, 0], [0, 0, 0, 4]])


def test_top_k_data_ties_take_the_lower_index():
    values, index = F.top_k_data(f64([[1.0, 3.0, 3.0, 2.0, 3.0]]), 2, with_index=True)
    np.testing.assert_array_equal(np.asarray(index), [[1, 2]])


def test_split_gradient_with_unused_outputs_and_higher_order():
    x = f64(np.arange(6.0).reshape(2, 3), requires_grad=True)
    parts = F.split(x, axis=1)
    assert len(parts) == 3 and parts[0].shape == (2,)
    (g,) = ng.grad((parts[2] ** 3).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(np.asarray(g), [[0, 0, 12], [0, 0, 75]])
    (h,) = ng.grad(g.sum(), [x])
    np.testing.assert_array_equal(np.asarray(h), [[0, 0, 12], [0, 0, 30]])
    assert F.split(f64(np.zeros((0, 2)))) == ()


def test_pad_reflect_wider_than_the_axis_matches_numpy():
    x = np.arange(3.0)
    np.testing.assert_array_equal(np.asarray(F.pad(f64(x), (7, 5), mode="reflect")),
                                  np.pad(x, (7, 5), mode="reflect"))
    np.testing.assert_array_equal(np.asarray(F.pad(f64([4.0]), (2, 1), mode="reflect")), [4.0] * 4)


def test_int64_inputs_of_layout_ops_keep_their_dtype():
    x = ng.tensor(np.arange(6).reshape(2, 3))
    for y, want in [(F.pad(x, (1, 1), constant_value=7), np.pad(np.arange(6).reshape(2, 3), ((0, 0), (1, 1)),
                                                                 constant_values=7)),
                    (F.tile(x, 2), np.tile(np.arange(6).reshape(2, 3), 2)),
                    (F.sort(ng.tensor(np.array([3, -1, 2]))), [-1, 2, 3]),
                    (x[:, [2, 0]], np.arange(6).reshape(2, 3)[:, [2, 0]])]:
        assert y.dtype == ng.int64
        np.testing.assert_array_equal(np.asarray(y), want)


def test_index_outputs_are_int64_and_index_inputs_get_no_gradient():
    x = f64([3.0, 1.0, 2.0], requires_grad=True)
    _, index = F.sort(x, with_index=True)
    assert index.dtype == ng.int64 and not index.requires_grad
    assert F.searchsorted(f64([[1.0, 2.0]]), f64([[1.5]])).dtype == ng.int64
