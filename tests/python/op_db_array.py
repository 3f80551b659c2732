"""Op-table rows for array manipulation and indexing (issue 7); see op_db.py
for OpSpec. Index inputs are fixed NumPy arrays baked into the row (with
duplicates where the op allows them, so that the scatter-add backward is
exercised), so every float input is checked by finite differences."""
import numpy as np

import nthgrad as ng
import nthgrad.functional as F
from op_db import OpSpec, choice, t, ti, uniform  # noqa: F401


def _numpy_pad(mode):
    return {"constant": "constant", "reflect": "reflect", "repeat": "edge"}[mode]


def _pad_ref(pad_width, mode, value=0.0):
    def ref(x):
        pairs = len(pad_width) // 2
        widths = [(0, 0)] * (x.ndim - pairs) + [(pad_width[2 * i], pad_width[2 * i + 1]) for i in range(pairs)]
        kw = {"constant_values": value} if mode == "constant" else {}
        return np.pad(x, widths, mode=_numpy_pad(mode), **kw)
    return ref


def shift_sources(n, s, mode):
    """Where shift(..., s) reads along an axis of length n: i - s clamped
    ('nearest') or mirrored with the edge repeated ('reflect', NumPy's symmetric)."""
    src = np.arange(n) - s
    if mode == "nearest":
        return np.clip(src, 0, n - 1)
    src = np.mod(src, 2 * n)
    return np.where(src >= n, 2 * n - 1 - src, src)


def shift_reference(x, shifts, mode):
    """NumPy reference of F.shift (shifts align to the last axes)."""
    y = x
    for i, s in enumerate(shifts):
        axis = x.ndim - len(shifts) + i
        y = np.take(y, shift_sources(x.shape[axis], s, mode), axis=axis)
    return y


def _shift_ref(shifts, mode):
    return lambda x: shift_reference(x, shifts, mode)


def _gather_ref(idx, axis, batch_dims):
    def ref(x):
        if batch_dims == 0:
            return np.take(x, idx, axis=axis)
        return np.stack([np.take(x[b], idx[b], axis=axis - 1) for b in range(x.shape[0])])
    return ref


def _scatter_nd_ref(idx, shape, add):
    def ref(data):
        out = np.zeros(shape)
        m = idx.shape[0]
        rows = data.reshape((-1,) + tuple(shape[m:]))
        for j, pos in enumerate(idx.reshape(m, -1).T):
            if add:
                out[tuple(pos)] += rows[j]
            else:
                out[tuple(pos)] = rows[j]
        return out
    return ref


def _scatter_add_ref(idx, axis):
    def ref(x0, x1):
        out = x0.copy()
        for pos in np.ndindex(*idx.shape):
            dst = list(pos)
            dst[axis] = idx[pos]
            out[tuple(dst)] += x1[pos]
        return out
    return ref


def _top_k_ref(k, reduce=True, by_abs=False, largest=True):
    def ref(x):
        flat = x.reshape(x.shape[0], -1)
        key = np.abs(flat) if by_abs else flat
        order = np.argsort(-key if largest else key, axis=1, kind="stable")[:, :k]
        if reduce:
            return np.take_along_axis(flat, order, axis=1)
        mask = np.zeros_like(flat)
        np.put_along_axis(mask, order, 1.0, axis=1)
        return (flat * mask).reshape(x.shape)
    return ref


def _searchsorted_ref(right):
    def ref(s, v):
        s = np.sort(s, axis=-1)
        side = "right" if right else "left"
        return np.stack([np.searchsorted(s[i], v[i], side=side) for i in range(s.shape[0])])
    return ref


GND_IDX = np.array([[0, 2, -1, 0], [1, 0, 3, 1]])          # (M=2, 4) into (3, 4, ...): a duplicate pair
SND_IDX = np.array([[0, 2, 0, 1]])                         # (M=1, 4) into (3, ...): row 0 named twice
GATHER_IDX = np.array([[2, 0, 2], [1, 1, 0]])
SADD_IDX = np.array([[1, 0, 1], [2, 2, 0]])                 # along axis 1 of (2, 3), duplicates

ROWS = [
    OpSpec("split", lambda x: F.split(x, axis=1)[1], lambda x: x[:, 1], [((3, 4),), ((2, 3, 2),)], order=3,
           bad=[(lambda: F.split(t(()), 0), ValueError, "shape ()"),
                (lambda: F.split(t((2, 3)), 2), IndexError, "axis 2")]),
    OpSpec("split", lambda x: F.stack(*[p * (i + 1.0) for i, p in enumerate(F.split(x))], axis=0),
           lambda x: x * np.arange(1.0, x.shape[0] + 1).reshape((-1,) + (1,) * (x.ndim - 1)),
           [((3, 4),), ((1, 2),)], order=2),
    OpSpec("stack", lambda *x: F.stack(*x, axis=1), lambda *x: np.stack(x, axis=1),
           [((2, 3), (2, 3)), ((4,), (4,), (4,)), ((0, 2), (0, 2))], order=3,
           bad=[(lambda: F.stack(t((2,)), t((3,))), ValueError, "(3,)"),
                (lambda: F.stack(), ValueError, "at least one"),
                (lambda: F.stack(t((2,)), axis=3), IndexError, "axis 3")]),
    OpSpec("stack", lambda *x: F.stack(*x, axis=-1), lambda *x: np.stack(x, axis=-1), [((2, 3), (2, 3)), ((), ())], order=2),
    OpSpec("pad", lambda x: F.pad(x, (1, 2, 0, 3), constant_value=0.5), _pad_ref((1, 2, 0, 3), "constant", 0.5),
           [((3, 4),), ((2, 1, 2),), ((0, 2),)], order=3,
           bad=[(lambda: F.pad(t((2, 3)), (1, 2, 3)), ValueError, "even"),
                (lambda: F.pad(t((2,)), (1, 1, 1, 1)), ValueError, "(2,)"),
                (lambda: F.pad(t((2, 3)), (1, -1)), ValueError, "negative"),
                (lambda: F.pad(t((2, 3)), (1, 1), mode="wrap"), ValueError, "'wrap'"),
                (lambda: F.pad(t((2, 0)), (1, 1), mode="reflect"), ValueError, "size 0")]),
    OpSpec("pad", lambda x: F.pad(x, (2, 1, 5, 3), mode="reflect"), _pad_ref((2, 1, 5, 3), "reflect"),
           [((3, 4),), ((2, 3, 2),), ((1, 1),)], order=2),
    OpSpec("pad", lambda x: F.pad(x, (2, 3), mode="repeat"), _pad_ref((2, 3), "repeat"),
           [((3, 4),), ((2, 1),)], order=2),
    OpSpec("tile", lambda x: F.tile(x, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3)),
           [((2, 3),), ((4,),), ((),), ((0, 2),)], order=3,
           bad=[(lambda: F.tile(t((2,)), (-1,)), ValueError, "negative")]),
    OpSpec("tile", lambda x: F.tile(x, 2), lambda x: np.tile(x, 2), [((2, 3),)], order=2),
    OpSpec("one_hot", lambda x: F.one_hot(x, (3, 4)), lambda x: np.eye(12, dtype=np.float32)[x[..., 0] % 3 * 4 +
                                                                                           x[..., 1] % 4].reshape(
        x.shape[:-1] + (3, 4)),
           [((5, 2),), ((2, 3, 2),), ((0, 2),)], (choice([0, 1, 2, -1], dtype=np.int64),), order=0,
           differentiable=False, output_follows_input_dtype=False,
           bad=[(lambda: F.one_hot([[3, 0]], (3, 4)), IndexError, "index 3"),
                (lambda: F.one_hot([[0]], (3, 4)), ValueError, "len(shape)"),
                (lambda: F.one_hot(t((2, 1)), (3,)), TypeError, "float32")]),
    OpSpec("flip", lambda x: F.flip(x, (0, 2)), lambda x: np.flip(x, (0, 2)), [((2, 3, 4),), ((1, 2, 0),)], order=3,
           bad=[(lambda: F.flip(t((2, 3)), (2,)), IndexError, "axis 2")]),
    OpSpec("flip", F.flip, lambda x: np.flip(x, -1), [((3, 4),), ((5,),)], order=2),
    OpSpec("shift", lambda x: F.shift(x, (1, -2)), _shift_ref((1, -2), "nearest"), [((3, 4),), ((2, 3, 5),)],
           order=3, bad=[(lambda: F.shift(t((2,)), (1, 1)), ValueError, "(2,)"),
                         (lambda: F.shift(t((2,)), (1,), border_mode="wrap"), ValueError, "'wrap'")]),
    OpSpec("shift", lambda x: F.shift(x, (-3, 2), border_mode="reflect"), _shift_ref((-3, 2), "reflect"),
           [((3, 4),), ((2, 2),)], order=2),
    OpSpec("sort", F.sort, lambda x: np.sort(x, axis=-1), [((3, 5),), ((7,),), ((2, 1),), ((2, 0),)], order=3,
           bad=[(lambda: F.sort(t((2, 3)), axis=2), IndexError, "axis 2"),
                (lambda: F.sort(ng.tensor([True, False])), TypeError, "bool")]),
    OpSpec("sort", lambda x: F.sort(x, axis=0, reverse=True), lambda x: -np.sort(-x, axis=0),
           [((4, 3),), ((3, 2, 2),)], order=3),
    OpSpec("sort", lambda x: F.sort(x, axis=1, with_index=True)[0], lambda x: np.sort(x, axis=1), [((3, 4, 2),)],
           order=2),
    OpSpec("sort", lambda x: F.sort(x, reverse=True, only_index=True),
           lambda x: np.argsort(-x, axis=-1, kind="stable"), [((3, 5),)],
           (choice([-1.0, 0.0, 2.0]),), order=0, differentiable=False),
    OpSpec("gather_nd", lambda d: F.gather_nd(d, GND_IDX), lambda d: d[tuple(GND_IDX)], [((3, 4),), ((3, 4, 2),)],
           order=3,
           bad=[(lambda: F.gather_nd(t((3, 4)), [[3]]), IndexError, "index 3 is out of range for axis 0 (size 3)"),
                (lambda: F.gather_nd(t((3, 4)), [[0.5]]), TypeError, "integers"),
                (lambda: F.gather_nd(t((3, 4)), [[0], [1], [2]]), ValueError, "(3, 1)")]),
    OpSpec("gather_nd", lambda d: F.gather_nd(d, np.array([[1, 0]])), lambda d: d[[1, 0]], [((2, 3),)], order=2),
    OpSpec("scatter_nd", lambda d: F.scatter_nd(d, SND_IDX, shape=(3, 2)), _scatter_nd_ref(SND_IDX, (3, 2), False),
           [((4, 2),)], order=3,
           bad=[(lambda: F.scatter_nd(t((4, 2)), SND_IDX, shape=(3, 3)), ValueError, "(4, 2)"),
                (lambda: F.scatter_nd(t((4,)), [[0, 1, 2, 3]], shape=(3,)), IndexError, "index 3"),
                (lambda: F.scatter_nd(t((4, 2)), SND_IDX), ValueError, "shape is required"),
                (lambda: F.scatter_nd(t((4, 2)), SND_IDX, out=t((3, 2))), TypeError, "immutable")]),
    OpSpec("scatter_nd", lambda d: F.scatter_nd(d, SND_IDX, shape=(3, 2), add=True),
           _scatter_nd_ref(SND_IDX, (3, 2), True), [((4, 2),)], order=3),
    OpSpec("scatter_nd", lambda d: F.scatter_nd(d, GND_IDX, shape=(3, 4)), _scatter_nd_ref(GND_IDX, (3, 4), False),
           [((4,),)], order=2),
    OpSpec("gather", lambda x: F.gather(x, GATHER_IDX, axis=1), _gather_ref(GATHER_IDX, 1, 0),
           [((2, 3, 2),), ((4, 3),)], order=3,
           bad=[(lambda: F.gather(t((2, 3)), [[3]], axis=1), IndexError, "index 3 is out of range for axis 1"),
                (lambda: F.gather(t((2, 3)), [[0]], axis=1, batch_dims=1), ValueError, "batch_dims"),
                (lambda: F.gather(t((2, 3)), ng.tensor([0.0]), axis=0), TypeError, "float32")]),
    OpSpec("gather", lambda x: F.gather(x, GATHER_IDX, axis=1, batch_dims=1), _gather_ref(GATHER_IDX, 1, 1),
           [((2, 3, 2),), ((2, 4),)], order=2),
    OpSpec("scatter_add", lambda a, b: F.scatter_add(a, SADD_IDX, b, axis=1), _scatter_add_ref(SADD_IDX, 1),
           [((2, 3), (2, 3)), ((2, 4), (3, 5))], order=3,
           bad=[(lambda: F.scatter_add(t((2, 3)), [[3, 0, 0]], t((1, 3)), axis=1), IndexError, "index 3"),
                (lambda: F.scatter_add(t((2, 3)), [0], t((1,))), ValueError, "rank")]),
    OpSpec("meshgrid", lambda a, b: F.meshgrid(a, b)[0] + 2.0 * F.meshgrid(a, b)[1],
           lambda a, b: np.meshgrid(a, b)[0] + 2.0 * np.meshgrid(a, b)[1], [((3,), (4,)), ((1,), (2,))], order=3,
           bad=[(lambda: F.meshgrid(t((2, 2))), ValueError, "1-D")]),
    OpSpec("meshgrid", lambda a, b, c: F.meshgrid(a, b, c, ij_indexing=True)[2] * F.meshgrid(a, b, c,
                                                                                              ij_indexing=True)[0],
           lambda a, b, c: np.meshgrid(a, b, c, indexing="ij")[2] * np.meshgrid(a, b, c, indexing="ij")[0],
           [((2,), (3,), (4,))], order=2),
    OpSpec("searchsorted", lambda s, v: F.searchsorted(F.sort(s), v), _searchsorted_ref(False),
           [((2, 5), (2, 3)), ((1, 4), (1, 6))], (uniform(), choice([-3.0, -0.5, 0.0, 0.5, 3.0])), order=0,
           differentiable=False,
           bad=[(lambda: F.searchsorted(t((2, 3)), t((3, 3))), ValueError, "(3, 3)")]),
    OpSpec("searchsorted", lambda s, v: F.searchsorted(F.sort(s), v, right=True), _searchsorted_ref(True),
           [((2, 5), (2, 3))], (choice([-1.0, 0.0, 1.0]),), order=0, differentiable=False),
    OpSpec("top_k_data", lambda x: F.top_k_data(x, 3), _top_k_ref(3), [((2, 5),), ((3, 2, 2),)], order=3,
           bad=[(lambda: F.top_k_data(t((2, 5)), 6), IndexError, "k=6"),
                (lambda: F.top_k_data(t((2, 5)), 2, base_axis=3), IndexError, "base_axis")]),
    OpSpec("top_k_data", lambda x: F.top_k_data(x, 2, reduce=False, abs=True), _top_k_ref(2, False, True),
           [((2, 5),), ((3, 2, 2),)], order=2),
    OpSpec("top_k_data", lambda x: F.top_k_data(x, 2, largest=False), _top_k_ref(2, largest=False), [((3, 4),)],
           order=2),
    OpSpec("top_k_data", lambda x: F.top_k_data(x, 2, with_index=True)[1],
           lambda x: np.argsort(-x.reshape(x.shape[0], -1), axis=1, kind="stable")[:, :2], [((3, 4),)],
           (choice([-1.0, 0.0, 2.0]),), order=0, differentiable=False),
    # top_k_grad is the identity forward; its backward (not a derivative) is pinned in test_array.py.
    OpSpec("top_k_grad", lambda x: F.top_k_grad(x, 2), lambda x: x, [((2, 5),)], order=0,
           bad=[(lambda: F.top_k_grad(t((2, 5)), 6), IndexError, "k=6")]),
]
