"""Tensor indexing as NumPy users write it: `x[i]`, `x[a:b:c]`, `...`,
`None`, integer arrays and boolean masks, with NumPy's rules for where the
indexed axes go. Every form is built from differentiable ops (slice, reshape,
transpose, gather), so `x[idx]` has gradients of every order; the backward of
an integer-array index is a scatter-add. `index_put` is the functional
counterpart of `x[index] = values` (tensors are immutable).

Where NumPy and PyTorch differ, NumPy's rule is the one: an int beside an
integer array is an advanced index too, so `x[0, :, [1, 2]]` of a (2, 3, 4)
tensor has shape (2, 3) (NumPy), not (3, 2) (torch).
"""
import numbers

import numpy as np

from . import _C
from ._C import DType, Tensor


def _shape_str(shape):
    return str(tuple(shape))


def _as_index_array(k):
    """An advanced index as a NumPy array (int64 or bool), or None if k is not one."""
    if isinstance(k, Tensor):
        if k.dtype == DType.int64 or k.dtype == DType.bool:
            return np.asarray(k)
        raise TypeError(f"only integers, slices, ..., None and integer or boolean tensors are valid indices; "
                        f"got a {k.dtype} tensor of shape {tuple(k.shape)}")
    if isinstance(k, (list, tuple, np.ndarray)):
        a = np.asarray(k)
        if a.dtype.kind in "iu":
            if a.dtype == np.uint64 and a.size and a.max() > np.iinfo(np.int64).max:
                # astype would wrap 2**64 - 1 to -1 (the last element)
                raise IndexError(f"index {int(a.max())} is too large for int64 (a uint64 index array)")
            return a.astype(np.int64)
        if a.dtype.kind == "b":
            return a
        if a.size == 0 and not isinstance(k, np.ndarray):  # [] is float64 to NumPy
            return a.astype(np.int64)
        raise TypeError(f"only integers, slices, ..., None and integer or boolean arrays are valid indices; "
                        f"got {k!r:.80} (NumPy dtype {a.dtype})")
    return None


def _normalize(key, shape):
    """The key as a list of per-axis entries of the tensor after the None axes
    are inserted: ('int', i), ('slice', s) or ('array', int64 ndarray), with
    the shape that tensor has."""
    if not isinstance(key, tuple):
        key = (key,)
    items = []
    for k in key:
        if k is None or k is Ellipsis or isinstance(k, slice):
            items.append(k)
        elif isinstance(k, (bool, np.bool_)):
            raise TypeError("a boolean scalar is not a valid index (use a boolean mask tensor)")
        elif isinstance(k, numbers.Integral):
            items.append(int(k))
        else:
            a = _as_index_array(k)
            if a is None:
                if isinstance(k, numbers.Real):
                    raise TypeError(f"only integers, slices, ..., None and integer or boolean arrays are valid "
                                    f"indices; got the float {k!r}")
                raise TypeError(f"only integers, slices, ..., None and integer or boolean arrays are valid indices; "
                                f"got {type(k).__name__}")
            items.append(a)
    if sum(k is Ellipsis for k in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(k.ndim if isinstance(k, np.ndarray) and k.dtype == np.bool_ else
                   0 if k is None or k is Ellipsis else 1 for k in items)
    if consumed > len(shape):
        raise IndexError(f"too many indices for a tensor of shape {_shape_str(shape)}: {consumed} were given")
    if Ellipsis in [k for k in items if not isinstance(k, np.ndarray)]:
        at = next(i for i, k in enumerate(items) if k is Ellipsis and not isinstance(k, np.ndarray))
        items[at:at + 1] = [slice(None)] * (len(shape) - consumed)
    else:
        items += [slice(None)] * (len(shape) - consumed)

    entries, new_shape, axis = [], [], 0
    for k in items:
        if k is None:
            entries.append(("slice", slice(None)))
            new_shape.append(1)
            continue
        if isinstance(k, np.ndarray) and k.dtype == np.bool_:
            if k.ndim == 0:
                raise TypeError("a 0-d boolean index is not supported (use a boolean mask of the indexed axes)")
            covered = tuple(shape[axis:axis + k.ndim])
            if k.shape != covered:
                raise IndexError(f"the boolean index of shape {_shape_str(k.shape)} does not match axes "
                                 f"{axis}..{axis + k.ndim - 1} of the tensor of shape {_shape_str(shape)}")
            for a in np.nonzero(k):
                entries.append(("array", a.astype(np.int64)))
                new_shape.append(shape[axis])
                axis += 1
            continue
        n = shape[axis]
        if isinstance(k, int):
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of range for axis {axis} with size {n} "
                                 f"(tensor of shape {_shape_str(shape)})")
            entries.append(("int", k % n))
        elif isinstance(k, slice):
            entries.append(("slice", _resolve_slice(k, n)))
        else:
            entries.append(("array", k))
        new_shape.append(n)
        axis += 1
    return entries, new_shape


def _resolve_slice(s, n):
    """s as an equivalent slice of int64 bounds for an axis of size n:
    Python's slice.indices (a TypeError for a non-integer bound, huge bounds
    clamped as NumPy does), with a step beyond the axis clamped too."""
    if s.start is None and s.stop is None and s.step is None:
        return s
    try:
        start, stop, step = s.indices(n)
    except TypeError:
        raise TypeError(f"slice indices must be integers or None, got {s!r:.80}") from None
    except ValueError as e:  # a zero step
        raise ValueError(f"{e} ({s!r:.80})") from None
    m = max(n, 1)
    step = max(-m, min(step, m))  # (any |step| >= n takes at most the first element)
    # With a negative step, -1 means "before 0", which a slice bound cannot say:
    # as the stop it is None, as the start the slice is empty.
    if start < 0:
        return slice(0, 0, 1)
    return slice(start, None if stop < 0 else stop, step)


def _check_arrays(entries, shape, original):
    for axis, (kind, a) in enumerate(entries):
        if kind == "array" and a.size:
            n = shape[axis]
            bad = (a < -n) | (a >= n)
            if bad.any():
                v = int(a[bad].flat[0])
                raise IndexError(f"index {v} is out of range for axis {axis} with size {n} "
                                 f"(tensor of shape {_shape_str(original)})")


def getitem(x, key):
    if not isinstance(x, Tensor):
        raise TypeError("getitem: x must be a Tensor")
    original = tuple(x.shape)
    entries, shape = _normalize(key, original)
    if list(shape) != list(original):
        x = _C.reshape(x, shape)
    _check_arrays(entries, shape, original)
    if not any(kind == "array" for kind, _ in entries):
        start = [v.start if kind == "slice" else v for kind, v in entries]
        stop = [v.stop if kind == "slice" else v + 1 for kind, v in entries]
        step = [v.step if kind == "slice" else 1 for kind, v in entries]
        y = _C.slice(x, start, stop, step)
        keep = [n for (kind, _), n in zip(entries, y.shape) if kind != "int"]
        return _C.reshape(y, keep)
    # Integers join the advanced indices (as 0-d arrays), as in NumPy.
    advanced = [i for i, (kind, _) in enumerate(entries) if kind != "slice"]
    start = [v.start if kind == "slice" else None for kind, v in entries]
    stop = [v.stop if kind == "slice" else None for kind, v in entries]
    step = [v.step if kind == "slice" else None for kind, v in entries]
    if any(v is not None for v in start + stop + step):
        x = _C.slice(x, start, stop, step)
    rest = [i for i in range(len(entries)) if i not in advanced]
    dims = [x.shape[i] for i in advanced]
    try:
        arrays = np.broadcast_arrays(*[np.asarray(v, dtype=np.int64) for kind, v in (entries[i] for i in advanced)])
    except ValueError:
        shapes = " ".join(_shape_str(np.shape(entries[i][1])) for i in advanced if entries[i][0] == "array")
        raise IndexError(f"shape mismatch: the index arrays of shapes {shapes} cannot be broadcast together "
                         f"(tensor of shape {_shape_str(original)})") from None
    if arrays[0].size:  # (in range: checked above)
        flat = np.ravel_multi_index([a % d for a, d in zip(arrays, dims)], dims)
    else:
        flat = np.zeros(arrays[0].shape, dtype=np.int64)
    if advanced + rest != list(range(len(entries))):
        x = _C.transpose(x, advanced + rest)
    x = _C.reshape(x, [int(np.prod(dims))] + [x.shape[i] for i in range(len(advanced), x.ndim)])
    y = _C.gather(x, _int_tensor(flat), 0, 0)
    # Adjacent advanced indices keep their place; otherwise they come first (NumPy).
    first = advanced[0]
    if advanced == list(range(first, first + len(advanced))) and first > 0:
        s = flat.ndim
        order = list(range(s, s + first)) + list(range(s)) + list(range(s + first, y.ndim))
        y = _C.transpose(y, order)
    return y


def _int_tensor(a):
    from ._tensor import tensor
    # (not np.ascontiguousarray: it turns a 0-d array into shape (1,))
    return tensor(np.array(a, dtype=np.int64, order="C"))


def index_put(x, index, values, accumulate=False):
    """A copy of x with x[index] replaced by values (accumulate=True: added),
    values broadcast to the indexed shape: the functional form of
    `x[index] = values`. Where an index names one place twice, the last write
    wins (accumulate adds both). Differentiable in x and values, at every
    order: x's gradient is zero where it was overwritten."""
    from ._tensor import tensor
    if not isinstance(x, Tensor):
        raise TypeError("index_put: x must be a Tensor")
    if not x.dtype.is_floating_point:
        raise TypeError(f"index_put: x must be float32 or float64, got {x.dtype} (shape {tuple(x.shape)})")
    n = x.size
    where = getitem(_C.reshape(_C.arange(0.0, float(n), 1.0, DType.int64), list(x.shape)), index)
    if not isinstance(values, Tensor):
        values = tensor(values, dtype=x.dtype)
    elif not values.dtype.is_floating_point:
        raise TypeError(f"index_put: values must be float32 or float64, got a {values.dtype} tensor of shape "
                        f"{tuple(values.shape)} (x is {x.dtype})")
    try:
        values = _C.broadcast(values, list(where.shape))
    except ValueError:
        raise ValueError(f"index_put: values of shape {tuple(values.shape)} cannot be broadcast to the indexed "
                         f"shape {tuple(where.shape)} (x of shape {tuple(x.shape)})") from None
    k = where.size
    flat = _C.reshape(where, [1, k])
    values = _C.reshape(values, [k])
    if accumulate:
        return _C.add2(x, _C.reshape(_C.scatter_nd(values, flat, [n], None, True), list(x.shape)))
    written = _C.scatter_nd(_C.constant(1.0, [k], x.dtype), flat, [n], None, True)
    keep = _C.reshape(_C.equal_scalar(written, 0.0), list(x.shape))
    # where, not x * keep: a NaN or inf of x that is overwritten would give NaN * 0 = NaN
    kept = _C.where(keep, x, _C.constant(0.0, [], x.dtype))
    return _C.add2(kept, _C.reshape(_C.scatter_nd(values, flat, [n], None, False), list(x.shape)))
