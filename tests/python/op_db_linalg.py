"""Op-table rows for the linalg family (issue 7); see op_db.py for OpSpec."""
import numpy as np

import nthgrad as ng
import nthgrad.functional as F
from op_db import OpSpec, t, ti, uniform, away_from_zero  # noqa: F401


def well_conditioned(rng, shape):
    """(..., N, N): uniform(-1, 1) + N I, with the sign of random rows flipped
    (so determinants of both signs occur); its condition number stays small."""
    n = shape[-1]
    a = rng.uniform(-1.0, 1.0, size=shape) + n * np.eye(n)
    signs = rng.choice([-1.0, 1.0], size=shape[:-1] + (1,))
    return a * signs


def _sym(a):
    """a a^T + n I built from ops: symmetric positive definite for any a, so the
    checker's random perturbations of a stay inside Cholesky's domain."""
    n = a.shape[-1]
    return F.batch_matmul(a, a, transpose_b=True) + ng.tensor(n * np.eye(n), dtype=a.dtype)


def _sym_np(a):
    n = a.shape[-1]
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _matrix_diag_np(x):
    return x[..., :, None] * np.eye(x.shape[-1], dtype=x.dtype)


def _einsum(eq):
    return (lambda *x: F.einsum(*x, equation=eq)), (lambda *x: np.einsum(eq, *x))


BATCH_SHAPES = [((2, 3, 3),), ((1, 1, 1),), ((3, 4, 4),), ((0, 2, 2),), ((2, 0, 0),)]


def _bad_batch(f):
    return [(lambda: f(t((1, 2, 2, 2))), ValueError, "(1, 2, 2, 2)"),
            (lambda: f(t((2, 2))), ValueError, "(B, N, N)"),
            (lambda: f(t((2, 3, 4))), ValueError, "(2, 3, 4)"),
            (lambda: f(ti((1, 2, 2))), TypeError, "int64"),
            (lambda: f(None), (TypeError, ValueError), "")]


EINSUM_CASES = [
    ("bij,bjk->bik", [((2, 3, 4), (2, 4, 2)), ((1, 1, 1), (1, 1, 1)), ((2, 0, 3), (2, 3, 2))]),
    ("ii", [((3, 3),), ((1, 1),)]),
    ("ii->i", [((3, 3),)]),
    ("i,j->ij", [((3,), (4,)), ((0,), (2,))]),
    ("ij->ji", [((2, 3),)]),
    ("ij->", [((2, 3),), ((0, 3),)]),
    ("ij,jk,kl->il", [((2, 3), (3, 4), (4, 2))]),
    ("ij,jk,ki", [((2, 3), (3, 4), (4, 2))]),   # trace of a triple product, implicit scalar output
    ("...ij,...jk->...ik", [((2, 1, 3, 2), (4, 2, 3)), ((3, 2), (2, 2))]),
    ("...i,...i", [((2, 3), (3,))]),               # implicit output: the '...' axes
    ("bA,a", [((2, 3), (4,))]),                    # implicit output in ASCII order: A a b
    ("iij->ji", [((3, 3, 2),)]),
    ("ij,ij->ij", [((1, 3), (2, 3))]),            # size-1 axes broadcast, as NumPy
    ("i,i", [((3,), (3,))]),
    ("ij,j->i", [((3, 2), (2,))]),
    (",i->i", [((), (3,))]),
]

ROWS = [
    OpSpec("batch_inv", F.batch_inv, np.linalg.inv, BATCH_SHAPES, (well_conditioned,), order=3,
           bad=_bad_batch(F.batch_inv)),
    OpSpec("batch_det", F.batch_det, np.linalg.det, BATCH_SHAPES, (well_conditioned,), order=3,
           bad=_bad_batch(F.batch_det)),
    OpSpec("batch_logdet", F.batch_logdet, lambda a: np.linalg.slogdet(a)[1], BATCH_SHAPES, (well_conditioned,),
           order=3, bad=_bad_batch(F.batch_logdet)),
    OpSpec("batch_cholesky", lambda a: F.batch_cholesky(_sym(a)), lambda a: np.linalg.cholesky(_sym_np(a)),
           [((2, 3, 3),), ((1, 1, 1),), ((2, 4, 4),), ((0, 2, 2),), ((2, 0, 0),)], order=3,
           bad=_bad_batch(F.batch_cholesky)),
    OpSpec("batch_cholesky", lambda a: F.batch_cholesky(_sym(a), upper=True),
           lambda a: np.swapaxes(np.linalg.cholesky(_sym_np(a)), -1, -2), [((2, 3, 3),)], order=3),
    *[OpSpec("einsum", fn, ref, samples, order=3) for eq, samples in EINSUM_CASES for fn, ref in [_einsum(eq)]],
    OpSpec("einsum", lambda a, b: F.einsum(a, b, equation="ij,jk->ik"), lambda a, b: a @ b, [((2, 3), (3, 2))],
           order=2,
           bad=[(lambda: F.einsum(t((2, 3)), equation="ij,jk->ik"), ValueError, "ij,jk->ik"),
                (lambda: F.einsum(t((2, 3)), t((3, 2)), t((2,)), equation="ij,jk->ik"), ValueError, "3 operands"),
                (lambda: F.einsum(t((2, 3)), equation="ij->k"), ValueError, "'k'"),
                (lambda: F.einsum(t((2, 3)), equation="ij->ii"), ValueError, "twice"),
                (lambda: F.einsum(t((2, 3)), equation="i$j"), ValueError, "i$j"),
                (lambda: F.einsum(t((2, 3)), equation="i.j"), ValueError, "ellipsis"),
                (lambda: F.einsum(t((2, 3)), equation="i\u00e9j"), ValueError, "not ASCII"),
                (lambda: F.einsum(t((2, 3)), equation="ijk"), ValueError, "(2, 3)"),
                (lambda: F.einsum(t((2, 3)), t((4, 2)), equation="ij,jk->ik"), ValueError, "(4, 2)"),
                (lambda: F.einsum(t((2, 3)), equation="ii"), ValueError, "(2, 3)"),
                (lambda: F.einsum(t((2, 3, 4)), equation="...j->j"), ValueError, "'...'"),
                (lambda: F.einsum(t((2, 3)), equation="ij->j->i"), ValueError, "->"),
                (lambda: F.einsum(ti((2, 3)), equation="ij->ji"), TypeError, "int64"),
                (lambda: F.einsum(equation="ij"), ValueError, "at least one operand"),
                (lambda: F.einsum(t((2, 3)), equation=3), TypeError, "equation")]),
    OpSpec("matrix_diag", F.matrix_diag, _matrix_diag_np, [((3,),), ((2, 4),), ((2, 1, 3),), ((0,),), ((2, 0),)],
           order=3, bad=[(lambda: F.matrix_diag(t(())), ValueError, "()"),
                         (lambda: F.matrix_diag(ti((2,))), TypeError, "int64")]),
    OpSpec("matrix_diag_part", F.matrix_diag_part, lambda x: np.diagonal(x, axis1=-2, axis2=-1).copy(),
           [((3, 3),), ((2, 4, 4),), ((1, 1),), ((0, 0),), ((2, 0, 0),)], order=3,
           bad=[(lambda: F.matrix_diag_part(t((2, 3))), ValueError, "(2, 3)"),
                (lambda: F.matrix_diag_part(t((3,))), ValueError, "(3,)"),
                (lambda: F.matrix_diag_part(ti((2, 2))), TypeError, "int64")]),
    OpSpec("trilu", F.trilu, np.triu, [((3, 4),), ((2, 3, 3),), ((1, 1),), ((0, 3),), ((4, 2),)], order=3,
           bad=[(lambda: F.trilu(t((3,))), ValueError, "(3,)"),
                (lambda: F.trilu(ti((2, 2))), TypeError, "int64")]),
    OpSpec("trilu", lambda x: F.trilu(x, k=1), lambda x: np.triu(x, 1), [((3, 4),), ((2, 4, 3),)], order=2),
    OpSpec("trilu", lambda x: F.trilu(x, k=-1, upper=False), lambda x: np.tril(x, -1), [((3, 4),), ((2, 4, 3),)],
           order=2),
    OpSpec("trilu", lambda x: F.trilu(x, upper=False), lambda x: np.tril(x), [((3, 4),), ((2, 3, 3),)], order=2),
    OpSpec("trilu", lambda x: F.trilu(x, k=100), lambda x: np.triu(x, 100), [((3, 4),)], order=1),
    OpSpec("trilu", lambda x: F.trilu(x, k=-100, upper=False), lambda x: np.tril(x, -100), [((3, 4),)], order=1),
]
