"""Op-table rows for the pooling family (issue 8); see op_db.py for OpSpec.

The references are NumPy loops over the windows of OPS.md section 3 (window o
starts at o*s - p and is clipped to the input; O from ignore_border's two
formulas; average's divisor: the window clipped to [-p, L+p) with
including_pad, else its number of input elements). The pooling ops are
linear or piecewise linear, so the rows marked "squared" differentiate y**2:
there the gradient graph runs through the adjoint ops (sum_pooling_backward,
the scatter / gather at the argmax) with inputs that depend on x, which checks
their own rules at orders 2 and 3. max_pooling's inputs are distinct values
(a scaled permutation), so finite differences never cross a tie.
"""
import numpy as np

import nthgrad as ng
import nthgrad.functional as F
from op_db import OpSpec, t, ti, uniform, away_from_zero  # noqa: F401


def distinct(scale=0.1):
    """A permutation of 0..n-1, centred and scaled: no two entries within `scale` of each other."""
    def sample(rng, shape):
        n = int(np.prod(shape))
        return (rng.permutation(n).reshape(shape) - n / 2.0) * scale
    return sample


def pool_ref(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False, mode="max",
             including_pad=True):
    """NumPy max / sum / average pooling by a loop over the output windows."""
    x = np.asarray(x, dtype=np.float64)
    n = len(kernel)
    stride = tuple(stride) if stride is not None else tuple(kernel)
    pad = tuple(pad) if pad is not None else (0,) * n
    if channel_last:
        x = np.moveaxis(x, -1, x.ndim - n - 1)
    lead, L = x.shape[:-n], x.shape[-n:]
    if ignore_border:
        O = [(l + 2 * p - k) // s + 1 for l, k, s, p in zip(L, kernel, stride, pad)]
    else:
        O = [(l + p - 1) // s + 1 for l, s, p in zip(L, stride, pad)]
    y = np.zeros(lead + tuple(O))
    for o in np.ndindex(*O):
        window, padded, size = [], 1, 1
        for d in range(n):
            start = o[d] * stride[d] - pad[d]
            lo, hi = max(start, 0), min(start + kernel[d], L[d])
            window.append(slice(lo, hi))
            padded *= min(start + kernel[d], L[d] + pad[d]) - start
            size *= max(hi - lo, 0)
        w = x[(Ellipsis,) + tuple(window)].reshape(lead + (size,))
        if mode == "max":
            y[(Ellipsis,) + o] = w.max(axis=-1)
        elif mode == "sum":
            y[(Ellipsis,) + o] = w.sum(axis=-1)
        else:
            y[(Ellipsis,) + o] = w.sum(axis=-1) / (padded if including_pad else w.shape[-1])
    if channel_last:
        y = np.moveaxis(y, x.ndim - n - 1, -1)
    return y


_F = {"max": F.max_pooling, "sum": F.sum_pooling, "average": F.average_pooling}


def pool_row(mode, samples, squared=False, order=3, bad=(), **kw):
    """A table row for mode in {max, sum, average}; kw are the op's keyword arguments."""
    f = _F[mode]

    def fn(x):
        y = f(x, **kw)
        return y * y if squared else y

    def ref(x):
        args = dict(kw)
        args.pop("including_pad", None)
        y = pool_ref(x, mode=mode, including_pad=kw.get("including_pad", True), **args)
        return y * y if squared else y
    domain = (distinct(),) if mode == "max" else (uniform(),)
    return OpSpec(f"{mode}_pooling", fn, ref, samples, domain, order=order, bad=list(bad))


def _bad_pooling(f):
    name = f.__name__
    return [
        (lambda: f(t((1, 1, 3, 3)), (4, 4)), ValueError, "larger than the padded input"),
        (lambda: f(t((1, 1, 3, 3)), (4, 4)), ValueError, "(1, 1, 3, 3)"),
        (lambda: f(t((1, 1, 6)), (2,)), ValueError, "2 or 3 entries"),
        (lambda: f(t((1, 1, 6)), (2,)), ValueError, name),
        (lambda: f(t((1, 4, 4)), (2, 2), stride=(-1, 1)), ValueError, "stride (-1, 1)"),
        (lambda: f(t((1, 4, 4)), (2, 0)), ValueError, "kernel (2, 0)"),
        (lambda: f(t((1, 4, 4)), (2, 2), pad=(-1, 0)), ValueError, "pad (-1, 0)"),
        (lambda: f(t((1, 4, 4)), (2, 2), pad=(2 ** 62, 0), ignore_border=False), ValueError, "pad in [0, 2^31)"),
        (lambda: f(t((1, 4, 4)), (2 ** 40, 2), ignore_border=False), ValueError, "kernel (1099511627776, 2)"),
        (lambda: f(t((1, 4, 4)), (2, 2), stride=(1, 1, 1)), ValueError, "one entry per kernel axis"),
        (lambda: f(t((4,)), (2, 2)), ValueError, "at least 2 axes"),
        (lambda: f(t((4, 4)), (2, 2), channel_last=True), ValueError, "at least 3 axes"),
        (lambda: f(ti((1, 4, 4)), (2, 2)), TypeError, "int64"),
    ]


S2 = [((2, 3, 6, 5),), ((1, 1, 4, 4),), ((0, 2, 4, 4),)]     # 2-d, batch (N, C)
S3 = [((1, 2, 4, 5, 4),)]                                      # 3-d
SCL = [((2, 6, 5, 3),), ((1, 4, 4, 2),)]                       # 2-d channel_last (N, H, W, C)

ROWS = []
for _mode in ("max", "sum", "average"):
    ROWS += [
        pool_row(_mode, S2, kernel=(2, 2), bad=_bad_pooling(_F[_mode])),
        pool_row(_mode, S2, squared=True, kernel=(3, 2), stride=(2, 1), pad=(1, 1)),
        pool_row(_mode, [((2, 7, 5),), ((6, 6),)], squared=True, kernel=(3, 3), stride=(2, 2), ignore_border=False),
        pool_row(_mode, [((1, 2, 7, 6),)], squared=True, kernel=(3, 2), stride=(2, 3), pad=(1, 1),
                 ignore_border=False),
        pool_row(_mode, S3, squared=True, kernel=(2, 3, 2), stride=(1, 2, 2), pad=(1, 1, 0)),
        pool_row(_mode, [((1, 3, 5, 4, 2),)], squared=True, kernel=(2, 2, 3), ignore_border=False),
        pool_row(_mode, SCL, squared=True, kernel=(2, 3), stride=(2, 1), pad=(1, 1), channel_last=True),
        pool_row(_mode, [((1, 4, 5, 3, 2),)], squared=True, kernel=(3, 2, 2), stride=(2, 2, 1), channel_last=True),
        pool_row(_mode, [((2, 5, 5),)], squared=True, kernel=(5, 5), stride=(1, 1)),   # one window per plane
    ]
ROWS += [
    pool_row("average", S2, squared=True, kernel=(3, 2), stride=(2, 1), pad=(1, 1), including_pad=False),
    pool_row("average", [((1, 2, 7, 6),)], squared=True, kernel=(3, 3), stride=(2, 2), pad=(1, 2),
             ignore_border=False, including_pad=False),
    pool_row("average", [((1, 4, 5, 3, 2),)], squared=True, kernel=(3, 2, 2), stride=(2, 2, 1), pad=(1, 1, 0),
             channel_last=True, including_pad=False),
]
ROWS[0].bad.append((lambda: F.max_pooling(t((1, 1, 4, 4)), (2, 2), pad=(2, 0)), ValueError, "no input element"))


# ---- global_average_pooling, unpooling, embed -------------------------------

def _gap_ref(x):
    return x.mean(axis=tuple(range(2, x.ndim))).reshape(x.shape[0], x.shape[1], 1, 1)


def unpool_ref(x, kernel, channel_last=False):
    n = len(kernel)
    first = x.ndim - n - (1 if channel_last else 0)
    for i, k in enumerate(kernel):
        x = np.repeat(x, k, axis=first + i)
    return x


def _unpool_row(samples, kernel, channel_last=False):
    return OpSpec("unpooling", lambda x: (lambda y: y * y)(F.unpooling(x, kernel, channel_last=channel_last)),
                  lambda x: unpool_ref(x, kernel, channel_last) ** 2, samples, order=3)


EMBED_IDX = np.array([[0, 3, 1], [3, 3, 4]], dtype=np.int64)


def _embed(w, idx=EMBED_IDX, squared=False):
    y = F.embed(ng.tensor(idx), w)
    return y * y if squared else y


ROWS += [
    OpSpec("global_average_pooling", F.global_average_pooling, _gap_ref,
           [((2, 3, 4, 5),), ((2, 3, 4),), ((2, 3),), ((2, 2, 3, 2, 2),), ((1, 2, 2, 2, 2, 2),), ((0, 3, 2, 2),)],
           order=3,
           bad=[(lambda: F.global_average_pooling(t((4,))), ValueError, "at least 2 axes"),
                (lambda: F.global_average_pooling(t((4,))), ValueError, "(4,)"),
                (lambda: F.global_average_pooling(ti((2, 3, 4))), TypeError, "int64")]),
    OpSpec("global_average_pooling", lambda x: F.global_average_pooling(x) ** 2, lambda x: _gap_ref(x) ** 2,
           [((2, 3, 2, 2, 3),)], order=3),
    OpSpec("unpooling", lambda x: F.unpooling(x, (2, 3)), lambda x: unpool_ref(x, (2, 3)),
           [((2, 3, 2, 2),), ((2, 2),), ((0, 3, 2),)], order=3,
           bad=[(lambda: F.unpooling(t((2, 3)), (2, 2, 2)), ValueError, "unpooling: kernel (2, 2, 2)"),
                (lambda: F.unpooling(t((2, 3)), (2, 2, 2)), ValueError, "(2, 3)"),
                (lambda: F.unpooling(t((2, 3)), (2, 0)), ValueError, "in [1, 2^31)"),
                (lambda: F.unpooling(t((2, 3)), (2, 2 ** 62)), ValueError, "in [1, 2^31)"),
                (lambda: F.unpooling(t((2, 3)), ()), ValueError, "needs 1 to"),
                (lambda: F.unpooling(ti((2, 3)), (2,)), TypeError, "int64")]),
    _unpool_row([((2, 3, 4),), ((5,),)], (3,)),                      # 1-d
    _unpool_row([((1, 2, 2, 3, 2),)], (2, 1, 2)),                    # 3-d
    _unpool_row([((2, 3, 2, 3),)], (2, 2), channel_last=True),
    OpSpec("embed", _embed, lambda w: w[EMBED_IDX], [((5, 3),), ((5,),), ((5, 2, 2),)], order=3,
           bad=[(lambda: F.embed(ng.tensor(np.array([0, 5])), t((5, 3))), IndexError, "embed: index 5"),
                (lambda: F.embed(ng.tensor(np.array([0, 5])), t((5, 3))), IndexError, "(5, 3)"),
                (lambda: F.embed(ng.tensor(np.array([-1])), t((5, 3))), IndexError, "index -1"),
                (lambda: F.embed(ng.tensor([0.0, 1.0]), t((5, 3))), TypeError, "int64"),
                (lambda: F.embed(ti((2,)), ti((5, 3))), TypeError, "w"),
                (lambda: F.embed(ti((2,)), t(())), ValueError, "at least one axis")]),
    OpSpec("embed", lambda w: _embed(w, squared=True), lambda w: w[EMBED_IDX] ** 2, [((5, 3),), ((6, 0),)],
           order=3),
    OpSpec("embed", lambda w: _embed(w, np.zeros((0, 2), dtype=np.int64)), lambda w: w[np.zeros((0, 2), int)],
           [((4, 3),)], order=2),
]
