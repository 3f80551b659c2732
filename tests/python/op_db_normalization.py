"""Op-table rows for the normalization family (issue 8); see op_db.py for OpSpec.

References are written in NumPy from the formulas of OPS.md (biased batch
statistics, eps inside the square root). Ops that update state in place
(running statistics, spectral_norm's u, mean_subtraction's t) get fresh
state inside `fn`, or test=True, so that every finite-difference evaluation
sees the same function; the in-place updates are tested in
test_normalization.py.
"""
import numpy as np

import nthgrad as ng
import nthgrad.functional as F
from op_db import OpSpec, t, ti, uniform, away_from_zero  # noqa: F401

EPS = 1e-5


def standardize_ref(x, reduce, eps=EPS):
    mu = x.mean(axis=reduce, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=reduce, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def others(ndim, keep):
    return tuple(a for a in range(ndim) if a not in keep)


def bn_ref(x, b, g, axes=(1,)):
    return standardize_ref(x, others(x.ndim, axes)) * g + b


def norm_ref(x, p=2, axis=None, keepdims=False):
    return (np.abs(x) ** p).sum(axis=axis, keepdims=keepdims) ** (1.0 / p)


def power_iteration_ref(w, u, dim=0, itr=1, eps=1e-12):
    wm = np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)
    for _ in range(itr):
        v = wm.T @ u
        v = v / np.sqrt((v ** 2).sum() + eps)
        u = wm @ v
        u = u / np.sqrt((u ** 2).sum() + eps)
    return u, v


def spectral_ref(w, u, dim=0, itr=1):
    wm = np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)
    u, v = power_iteration_ref(w, u, dim, itr)
    return w / (u @ wm @ v)


SN_U = np.array([0.6, -0.8, 0.3])


def group_ref(x, b, g, G):
    n, c = x.shape[:2]
    xg = x.reshape((n, G, c // G) + x.shape[2:])
    return standardize_ref(xg, tuple(range(2, xg.ndim))).reshape(x.shape) * g + b


def _bn_running(x, b, g):
    m, v = ng.zeros((1, 3, 1), x.dtype), ng.ones((1, 3, 1), x.dtype)
    return F.batch_normalization(x, b, g, m, v)


def _mean_sub(x):
    return F.mean_subtraction(x, ng.full((3,), 0.5, x.dtype), ng.tensor(np.array([2], dtype=np.int64)))


BN_BAD = [
    (lambda: F.batch_normalization(t((2, 3, 2)), t((3,)), t((3,)), None, None), ValueError, "(1, 3, 1)"),
    (lambda: F.batch_normalization(t((2, 3, 2)), t((1, 4, 1)), None, None, None), ValueError, "(1, 4, 1)"),
    (lambda: F.batch_normalization(t((2, 3)), None, None, None, None, batch_stat=False), ValueError, "None"),
    (lambda: F.batch_normalization(t((2, 3)), None, None, t((1, 3)), t((1, 3)), batch_stat=False, output_stat=True),
     ValueError, "batch_stat"),
    (lambda: F.batch_normalization(t((2, 3)), None, None, None, None, axes=[2]), IndexError, "batch_normalization"),
    (lambda: F.batch_normalization(ti((2, 3)), None, None, None, None), TypeError, "int64"),
    (lambda: F.batch_normalization(t((2, 3)), t((1, 3), ng.float64), None, None, None), TypeError, "float64"),
]

ROWS = [
    OpSpec("batch_normalization", lambda x, b, g: F.batch_normalization(x, b, g, None, None), bn_ref,
           [((4, 3, 2), (1, 3, 1), (1, 3, 1)), ((5, 2), (1, 2), (1, 2))], order=3, bad=BN_BAD),
    OpSpec("batch_normalization", _bn_running, bn_ref, [((4, 3, 2), (1, 3, 1), (1, 3, 1))], order=2),
    OpSpec("batch_normalization",
           lambda x, b, g: F.batch_normalization(x, b, g, None, None, axes=[0, 2]),
           lambda x, b, g: bn_ref(x, b, g, axes=(0, 2)), [((2, 3, 2), (2, 1, 2), (2, 1, 2))], order=2),
    OpSpec("batch_normalization",
           lambda x, b, g, m, v: F.batch_normalization(x, b, g, m, v, batch_stat=False),
           lambda x, b, g, m, v: (x - m) / np.sqrt(v + EPS) * g + b,
           [((4, 3, 2), (1, 3, 1), (1, 3, 1), (1, 3, 1), (1, 3, 1))],
           domain=(uniform(), uniform(), uniform(), uniform(), uniform(0.5, 2.0)), order=2),
    OpSpec("sync_batch_normalization", lambda x, b, g: F.sync_batch_normalization(x, b, g, None, None, None),
           bn_ref, [((4, 3, 2), (1, 3, 1), (1, 3, 1))], order=2,
           bad=[(lambda: F.sync_batch_normalization(t((2, 3)), None, None, None, None, None, group="pairs"),
                 ValueError, "group 'pairs' is not known")]),
    OpSpec("fused_batch_normalization", lambda x, b, g, z: F.fused_batch_normalization(x, b, g, None, None, z),
           lambda x, b, g, z: np.maximum(bn_ref(x, b, g) + z, 0),
           [((4, 3, 2), (1, 3, 1), (1, 3, 1), (4, 3, 2))],
           # gamma in [-1, 1] and z in [2, 3]: BN + z stays positive, away from relu's kink
           domain=(uniform(), uniform(-0.5, 0.5), uniform(-1, 1), uniform(2.5, 3.0)), order=2,
           bad=[(lambda: F.fused_batch_normalization(t((2, 3)), None, None, None, None, t((2, 4))), ValueError,
                 "(2, 4)"),
                (lambda: F.fused_batch_normalization(t((2, 3)), None, None, None, None, nonlinearity="tanh"),
                 ValueError, "tanh")]),
    OpSpec("weight_normalization", F.weight_normalization,
           lambda w, g: w * g[:, None] / np.sqrt((w ** 2).sum(axis=1, keepdims=True) + 1e-12),
           [((3, 4), (3,))], order=2,
           bad=[(lambda: F.weight_normalization(t((3, 4)), t((4,))), ValueError, "(3,)"),
                (lambda: F.weight_normalization(t((3, 4)), t((3,)), dim=2), IndexError, "weight_normalization")]),
    OpSpec("weight_normalization", lambda w, g: F.weight_normalization(w, g, dim=1),
           lambda w, g: w * g[None, :, None] / np.sqrt((w ** 2).sum(axis=(0, 2), keepdims=True) + 1e-12),
           [((2, 3, 2), (3,))], order=2),
    OpSpec("norm", F.norm, norm_ref, [((3, 4),), ((5,),)], order=2,
           bad=[(lambda: F.norm(t((3,)), p=0.5), ValueError, "p must be"),
                (lambda: F.norm(ti((3,))), TypeError, "int64"),
                (lambda: F.norm(t((3,)), axis=1), IndexError, "norm")]),
    OpSpec("norm", lambda x: F.norm(x, p=3, axis=1, keepdims=True), lambda x: norm_ref(x, 3, 1, True),
           [((3, 4),)], domain=(away_from_zero(),), order=2),
    OpSpec("norm", lambda x: F.norm(x, p=1, axis=[0, 2]), lambda x: norm_ref(x, 1, (0, 2)),
           [((2, 3, 2),)], domain=(away_from_zero(),), order=2),
    OpSpec("norm", lambda x: F.norm(x, p=1.5, axis=0), lambda x: norm_ref(x, 1.5, 0),
           [((3, 2),)], domain=(away_from_zero(),), order=2),
    OpSpec("norm_normalization", lambda x: F.norm_normalization(x, axes=[1]),
           lambda x: x / norm_ref(x, 2, 1, True), [((3, 4),)], order=2,
           bad=[(lambda: F.norm_normalization(t((3,)), p=0.9), ValueError, "p must be")]),
    OpSpec("norm_normalization", lambda x: F.norm_normalization(x, p=3),
           lambda x: x / norm_ref(x, 3, None, True), [((2, 3),)], domain=(away_from_zero(),), order=2),
    OpSpec("layer_normalization", F.layer_normalization,
           lambda x, b, g: standardize_ref(x, others(x.ndim, (0,))) * g + b,
           [((3, 4), (1, 4), (1, 4)), ((2, 3, 2), (1, 3, 2), (1, 3, 2))], order=3,
           bad=[(lambda: F.layer_normalization(t((3, 4)), t((3, 4)), None), ValueError, "(3, 4)"),
                (lambda: F.layer_normalization(t((3, 4)), None, t((4,))), ValueError, "(4,)")]),
    OpSpec("instance_normalization", F.instance_normalization,
           lambda x, b, g: standardize_ref(x, (2,)) * g + b,
           [((2, 3, 4), (1, 3, 1), (1, 3, 1))], order=2,
           bad=[(lambda: F.instance_normalization(t((2, 3, 4)), t((1, 2, 1)), None), ValueError, "(1, 2, 1)"),
                (lambda: F.instance_normalization(t((2, 3, 4)), None, None, channel_axis=0), ValueError,
                 "batch axis")]),
    OpSpec("group_normalization", lambda x, b, g: F.group_normalization(x, b, g, 2),
           lambda x, b, g: group_ref(x, b, g, 2), [((2, 4, 3), (1, 4, 1), (1, 4, 1))], order=2,
           bad=[(lambda: F.group_normalization(t((2, 4, 3)), None, None, 3), ValueError, "num_groups=3"),
                (lambda: F.group_normalization(t((2, 4, 3)), t((1, 3, 1)), None, 2), ValueError, "(1, 3, 1)")]),
    OpSpec("tensor_normalization", lambda x, b, g: F.tensor_normalization(x, [1], b, g),
           lambda x, b, g: standardize_ref(x, (0,)) * g + b, [((4, 3), (1, 3), (1, 3))], order=2,
           bad=[(lambda: F.tensor_normalization(t((4, 3)), [1], t((3,))), ValueError, "(1, 3)")]),
    OpSpec("weight_standardization", F.weight_standardization,
           lambda w: standardize_ref(w, (1, 2)), [((3, 2, 2),)], order=2,
           bad=[(lambda: F.weight_standardization(t((3, 4)), channel_axis=2), IndexError, "weight_standardization")]),
    # u and v are constants of the graph (nnabla), so finite differences of the whole function agree
    # only where the power iteration has converged (sigma is stationary in u, v there), and only at
    # order 1; test_normalization.py checks order 2 against W / (u0^T W v0) with u0, v0 fixed.
    OpSpec("spectral_norm", lambda w: F.spectral_norm(w, ng.tensor(SN_U, dtype=w.dtype), itr=60, test=True),
           lambda w: spectral_ref(w, SN_U, itr=60), [((3, 4),)], order=1,
           bad=[(lambda: F.spectral_norm(t((3, 4)), t((4,))), ValueError, "(3,)"),
                (lambda: F.spectral_norm(t((3, 4)), t((3,)), itr=0), ValueError, "itr")]),
    OpSpec("spectral_norm", lambda w: F.spectral_norm(w, ng.tensor(SN_U, dtype=w.dtype), dim=1, itr=60, test=True),
           lambda w: spectral_ref(w, SN_U, dim=1, itr=60), [((2, 3, 2),)], order=1),
    OpSpec("mean_subtraction", _mean_sub, lambda x: x - (0.5 * 2 / 3 + x.mean(axis=0) / 3), [((4, 3),)], order=2,
           bad=[(lambda: F.mean_subtraction(t((4, 3)), t((4,)), ti((1,))), ValueError, "(3,)"),
                (lambda: F.mean_subtraction(t((4, 3)), t((3,)), ti((2,))), ValueError, "t must be"),
                (lambda: F.mean_subtraction(t((4, 3)), t((3,)), ti((1,)), base_axis=2), ValueError, "base_axis")]),
    OpSpec("mean_subtraction", lambda x: F.mean_subtraction(x, ng.full((3,), 0.5, x.dtype), None,
                                                            update_running_mean=False),
           lambda x: x - 0.5, [((4, 3),)], order=2),
]
