"""Semantics of the linalg family (issue 7) that op-table rows cannot express:
higher derivatives of det / logdet / inv against closed forms (nnabla 1.39
gets batch_det's second order wrong), n-th order along a scalar path,
singular and non-positive-definite matrices, large N, einsum's parsing,
promotion and pairwise contraction, reproducibility, and memory."""
import math

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F
from gradcheck import node_names

RNG = np.random.default_rng(7)


def _well_conditioned(b, n, rng=RNG):
    a = rng.uniform(-1, 1, size=(b, n, n)) + n * np.eye(n)
    return a * rng.choice([-1.0, 1.0], size=(b, n, 1))


def _tr(m):
    return np.trace(m, axis1=-2, axis2=-1)


def _directional(f, x0, dirs, create_last=False):
    """D^k f(x0)[dirs...] for f: tensor -> tensor, summed over f's output
    (k = len(dirs)), by nested ng.grad; a NumPy array of f's output shape is
    not needed: f should return per-item values that we sum with weights."""
    x = ng.tensor(x0, dtype=ng.float64, requires_grad=True)
    d = F.sum(f(x))
    for k, v in enumerate(dirs):
        (g,) = ng.grad(d, [x], create_graph=True)
        d = F.sum(g * ng.tensor(v, dtype=ng.float64))
    return d.item()


# ---- closed forms of the derivatives of det, logdet and inv -------------------------------------------------
# With A = X^-1 and directions U, V, W (per batch item, summed over the batch):
#   D det[V]       = det tr(AV)
#   D2 det[V, W]   = det (tr(AV) tr(AW) - tr(AVAW))
#   D3 det[U,V,W]  = det (tr(AU)tr(AV)tr(AW) - tr(AU)tr(AVAW) - tr(AV)tr(AUAW) - tr(AW)tr(AUAV)
#                         + tr(AUAVAW) + tr(AUAWAV))
#   D2 logdet      = -tr(AVAW);  D3 logdet = tr(AUAVAW) + tr(AUAWAV)
#   D2 inv[V, W]   = A V A W A + A W A V A

def _det_derivatives(x, u, v, w):
    a = np.linalg.inv(x)
    det = np.linalg.det(x)
    au, av, aw = a @ u, a @ v, a @ w
    d1 = det * _tr(av)
    d2 = det * (_tr(av) * _tr(aw) - _tr(av @ aw))
    d3 = det * (_tr(au) * _tr(av) * _tr(aw) - _tr(au) * _tr(av @ aw) - _tr(av) * _tr(au @ aw)
                - _tr(aw) * _tr(au @ av) + _tr(au @ av @ aw) + _tr(au @ aw @ av))
    return d1.sum(), d2.sum(), d3.sum()


def _logdet_derivatives(x, u, v, w):
    a = np.linalg.inv(x)
    au, av, aw = a @ u, a @ v, a @ w
    return _tr(av).sum(), -_tr(av @ aw).sum(), (_tr(au @ av @ aw) + _tr(au @ aw @ av)).sum()


@pytest.mark.parametrize("n", [1, 3, 5])
def test_batch_det_derivatives_of_order_1_to_3_match_the_closed_form(n):
    x = _well_conditioned(3, n)
    u, v, w = (RNG.standard_normal(x.shape) for _ in range(3))
    want = _det_derivatives(x, u, v, w)
    # the rule is differentiated in the order the directions are applied: first w, then v, then u
    got = [_directional(F.batch_det, x, [v]), _directional(F.batch_det, x, [w, v]),
           _directional(F.batch_det, x, [w, v, u])]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_batch_det_full_hessian_matches_the_closed_form():
    """d2 det / dX_ij dX_kl = det (A_ji A_lk - A_li A_jk), A = X^-1 (nnabla 1.39 drops
    the first term: it treats det as a constant inside its backward)."""
    x0 = _well_conditioned(1, 3)
    x = ng.tensor(x0, dtype=ng.float64, requires_grad=True)
    (g,) = ng.grad(F.sum(F.batch_det(x)), [x], create_graph=True)
    a = np.linalg.inv(x0[0])
    det = np.linalg.det(x0[0])
    gflat = F.reshape(g, [9])
    for p in range(9):
        i, j = divmod(p, 3)
        (h,) = ng.grad(F.slice(gflat, [p], [p + 1], [1]).sum(), [x], retain_graph=True)
        want = det * (a[j, i] * a.T - np.outer(a[:, i], a[j, :]).T)  # [k, l] = det (A_ji A_lk - A_li A_jk)
        np.testing.assert_allclose(np.asarray(h)[0], want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [1, 4])
def test_batch_logdet_derivatives_of_order_1_to_3_match_the_closed_form(n):
    x = _well_conditioned(2, n)
    u, v, w = (RNG.standard_normal(x.shape) for _ in range(3))
    want = _logdet_derivatives(x, u, v, w)
    got = [_directional(F.batch_logdet, x, [v]), _directional(F.batch_logdet, x, [w, v]),
           _directional(F.batch_logdet, x, [w, v, u])]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_batch_inv_second_derivative_matches_the_closed_form():
    x0 = _well_conditioned(2, 3)
    c, v, w = (RNG.standard_normal(x0.shape) for _ in range(3))
    a = np.linalg.inv(x0)
    want = (c * (a @ v @ a @ w @ a + a @ w @ a @ v @ a)).sum()
    got = _directional(lambda x: F.batch_inv(x) * ng.tensor(c, dtype=ng.float64), x0, [w, v])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_nth_order_along_a_scalar_path():
    """det(D + t I) = prod(d_i + t): its n-th derivative is n!, the next is 0;
    logdet(D + t I) = sum log|d_i + t|: the k-th derivative is
    (-1)^(k-1) (k-1)! sum (d_i + t)^-k. Checked to order 6 through a full
    (non-diagonal) similar matrix S D S^-1 + t I."""
    d = np.array([1.5, -2.0, 3.0])
    s = np.array([[1.0, 0.3, -0.2], [0.1, 1.0, 0.4], [-0.3, 0.2, 1.0]])
    m = (s @ np.diag(d) @ np.linalg.inv(s))[None]
    t = ng.tensor(0.25, dtype=ng.float64, requires_grad=True)
    x = ng.tensor(m, dtype=ng.float64) + t * ng.tensor(np.eye(3)[None], dtype=ng.float64)
    for f, closed in [(F.batch_det, lambda k: [np.prod(d + 0.25), None, None, 6.0, 0.0, 0.0, 0.0][k]),
                      (F.batch_logdet, lambda k: np.sum(np.log(np.abs(d + 0.25))) if k == 0 else
                       (-1) ** (k - 1) * math.factorial(k - 1) * np.sum((d + 0.25) ** -k))]:
        y = F.sum(f(x))
        for k in range(7):
            want = closed(k)
            if want is not None:
                np.testing.assert_allclose(y.item(), want, rtol=1e-9, atol=1e-9, err_msg=f"{f.__name__} order {k}")
            if k < 6:
                if not y.requires_grad:
                    y = ng.tensor(0.0, dtype=ng.float64)
                    continue
                (y,) = ng.grad(y, [t], create_graph=True, allow_unused=True)
                if y is None:
                    y = ng.tensor(0.0, dtype=ng.float64)


def test_batch_cholesky_gradient_is_symmetric_and_matches_torch():
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((2, 4, 4))
    s = a @ a.transpose(0, 2, 1) + 4 * np.eye(4)
    w = RNG.standard_normal(s.shape)
    for upper in (False, True):
        x = ng.tensor(s, dtype=ng.float64, requires_grad=True)
        (g,) = ng.grad(F.sum(F.batch_cholesky(x, upper=upper) * ng.tensor(w, dtype=ng.float64)), [x])
        xt = torch.tensor(s, requires_grad=True)
        lt = torch.linalg.cholesky(xt, upper=upper)
        (gt,) = torch.autograd.grad((lt * torch.tensor(w)).sum(), [xt])
        np.testing.assert_allclose(np.asarray(g), gt.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(np.asarray(g), np.asarray(g).transpose(0, 2, 1), atol=1e-12)


def test_singular_matrices_give_documented_non_finite_results():
    x = np.stack([np.zeros((3, 3)), np.ones((3, 3)), np.eye(3) * 2])  # two singular items, one regular
    xt = ng.tensor(x, dtype=ng.float64)
    det = np.asarray(F.batch_det(xt))
    np.testing.assert_array_equal(det, [0.0, 0.0, 8.0])
    logdet = np.asarray(F.batch_logdet(xt))
    assert logdet[0] == -np.inf and logdet[1] == -np.inf and logdet[2] == pytest.approx(3 * np.log(2))
    inv = np.asarray(F.batch_inv(xt))
    assert not np.isfinite(inv[0]).all() and not np.isfinite(inv[1]).all()
    np.testing.assert_allclose(inv[2], np.eye(3) / 2)
    # gradients at a singular matrix (the formulas divide by it) are non-finite, not an error
    xg = ng.tensor(x, dtype=ng.float64, requires_grad=True)
    (g,) = ng.grad(F.sum(F.batch_logdet(xg)), [xg])
    assert not np.isfinite(np.asarray(g)[0]).all()
    np.testing.assert_allclose(np.asarray(g)[2], np.eye(3) / 2)


def test_cholesky_of_a_non_positive_definite_item_is_nan_and_leaves_the_others():
    x = np.stack([np.eye(3) * 4, -np.eye(3), np.array([[1.0, 2, 0], [2, 1, 0], [0, 0, 1]])])
    for dtype in (ng.float32, ng.float64):
        y = np.asarray(F.batch_cholesky(ng.tensor(x, dtype=dtype)))
        np.testing.assert_allclose(y[0], 2 * np.eye(3))
        assert np.isnan(y[1]).all() and np.isnan(y[2]).all()


def test_cholesky_reads_only_the_lower_triangle():
    a = RNG.standard_normal((1, 3, 3))
    s = a @ a.transpose(0, 2, 1) + 3 * np.eye(3)
    junk = s + np.triu(RNG.standard_normal((3, 3)), 1)
    np.testing.assert_allclose(np.asarray(F.batch_cholesky(ng.tensor(junk, dtype=ng.float64))),
                               np.linalg.cholesky(s), rtol=1e-12)


def test_non_finite_inputs_do_not_crash():
    for v in (np.nan, np.inf, -np.inf):
        x = ng.tensor(np.full((2, 3, 3), v), dtype=ng.float64)
        for f in (F.batch_inv, F.batch_det, F.batch_logdet, F.batch_cholesky):
            y = np.asarray(f(x))
            assert y.shape[0] == 2


def test_logdet_does_not_overflow_where_det_does():
    x = np.eye(64)[None] * 100.0  # det = 1e128: beyond float32
    for dtype in (ng.float32, ng.float64):
        y = F.batch_logdet(ng.tensor(x, dtype=dtype))
        np.testing.assert_allclose(np.asarray(y), [64 * np.log(100.0)], rtol=1e-6)
    assert np.isinf(np.asarray(F.batch_det(ng.tensor(x, dtype=ng.float32)))[0])


def test_results_do_not_depend_on_the_batch_or_the_threads():
    x = _well_conditioned(64, 32)  # 32^3 flops per item: one item per parallel chunk, so the threads share the batch
    xt = ng.tensor(x, dtype=ng.float64)
    for f in (F.batch_inv, F.batch_det, F.batch_logdet):
        whole = np.asarray(f(xt))
        again = np.asarray(f(xt))
        np.testing.assert_array_equal(whole, again)
        for i in (0, 17, 63):
            one = np.asarray(f(ng.tensor(x[i:i + 1], dtype=ng.float64)))  # one item: no parallel region
            np.testing.assert_array_equal(whole[i:i + 1], one)


def test_matrix_diag_and_matrix_diag_part_are_adjoint():
    x = RNG.standard_normal((2, 4))
    y = RNG.standard_normal((2, 4, 4))
    lhs = (np.asarray(F.matrix_diag(ng.tensor(x, dtype=ng.float64))) * y).sum()
    rhs = (x * np.asarray(F.matrix_diag_part(ng.tensor(y, dtype=ng.float64)))).sum()
    assert lhs == pytest.approx(rhs, rel=1e-12)
    xv = ng.tensor(x, dtype=ng.float64, requires_grad=True)
    (g,) = ng.grad(F.sum(F.matrix_diag(xv) * ng.tensor(y, dtype=ng.float64)), [xv])
    assert g.grad_fn is None
    np.testing.assert_allclose(np.asarray(g), np.diagonal(y, axis1=1, axis2=2))


# ---- einsum -----------------------------------------------------------------------------------------------

def test_einsum_numpy_argument_order_and_spaces():
    a = RNG.standard_normal((2, 3))
    at = ng.tensor(a, dtype=ng.float64)
    np.testing.assert_allclose(np.asarray(F.einsum("ij->ji", at)), a.T)
    np.testing.assert_allclose(np.asarray(F.einsum(at, equation=" i j -> j i ")), a.T)


def test_einsum_promotes_float32_with_float64():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3,))
    a32 = ng.tensor(a, dtype=ng.float32, requires_grad=True)
    b64 = ng.tensor(b, dtype=ng.float64, requires_grad=True)
    y = F.einsum(a32, b64, equation="ij,j->i")
    assert y.dtype == ng.float64
    np.testing.assert_allclose(np.asarray(y), a.astype(np.float32) @ b, rtol=1e-6)
    ga, gb = ng.grad(F.sum(y), [a32, b64])
    assert ga.dtype == ng.float32 and gb.dtype == ng.float64


def test_einsum_contracts_pairwise_never_through_the_full_outer_product():
    """A chain of three 300 x 300 products: a full outer product would hold
    300^4 = 8.1e9 elements; the pairwise plan needs two 300^3-flop GEMMs."""
    n = 300
    ms = [RNG.standard_normal((n, n)) / n for _ in range(3)]
    ts = [ng.tensor(m, dtype=ng.float64, requires_grad=True) for m in ms]
    y = F.einsum(*ts, equation="ij,jk,kl->il")
    np.testing.assert_allclose(np.asarray(y), ms[0] @ ms[1] @ ms[2], rtol=1e-9, atol=1e-12)
    names = node_names(y)
    assert "batch_matmul" in names and "mul2" not in names


def test_einsum_of_an_identity_equation_is_a_new_tensor():
    x = ng.tensor(np.ones((2, 3)), dtype=ng.float64, requires_grad=True)
    y = F.einsum(x, equation="ij->ij")
    assert y is not x and y.grad_fn is not None
    (g,) = ng.grad(F.sum(y), [x])
    np.testing.assert_array_equal(np.asarray(g), np.ones((2, 3)))


def test_einsum_trace_third_order_is_zero_and_matches_numpy():
    x0 = RNG.standard_normal((3, 3))
    x = ng.tensor(x0, dtype=ng.float64, requires_grad=True)
    y = F.einsum(x, x, equation="ij,ji")  # tr(X X): gradient 2 X^T, Hessian constant
    assert y.item() == pytest.approx(np.trace(x0 @ x0))
    (g,) = ng.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(np.asarray(g), 2 * x0.T)


def test_linalg_graphs_leave_no_live_objects():
    import gc
    gc.collect()
    base = ng.live_counts()
    x = ng.tensor(_well_conditioned(2, 3), dtype=ng.float64, requires_grad=True)
    y = F.sum(F.batch_det(x)) + F.sum(F.batch_cholesky(F.batch_matmul(x, x, transpose_b=True)))
    (g,) = ng.grad(y, [x], create_graph=True)
    (h,) = ng.grad(F.sum(g * g), [x], create_graph=True)
    (k,) = ng.grad(F.sum(h), [x])
    del x, y, g, h, k
    gc.collect()
    assert ng.live_counts() == base


def test_einsum_agrees_with_numpy_on_random_equations():
    """400 random equations (1-4 operands, repeated labels, '...', size-1
    broadcasting, implicit and explicit outputs): same values and shapes as
    numpy.einsum, and an error exactly where NumPy raises one."""
    import random
    rnd = random.Random(3)
    rng = np.random.default_rng(3)
    letters = "abcdeB"
    sizes = {c: rnd.choice([1, 2, 3]) for c in letters}
    for _ in range(400):
        terms, shapes = [], []
        for _ in range(rnd.choice([1, 2, 3, 4])):
            term = "".join(rnd.choice(letters) for _ in range(rnd.choice([0, 1, 2, 3])))
            shape = [sizes[c] for c in term]
            if rnd.random() < 0.2:
                pos, extra = rnd.randint(0, len(term)), [rnd.choice([1, 2]) for _ in range(rnd.choice([0, 1, 2]))]
                term, shape = term[:pos] + "..." + term[pos:], shape[:pos] + extra + shape[pos:]
            terms.append(term)
            shapes.append(tuple(1 if rnd.random() < 0.1 else s for s in shape))
        eq = ",".join(terms)
        if rnd.random() < 0.6:
            labels = sorted({c for term in terms for c in term if c.isalpha()})
            out = "".join(rnd.sample(labels, rnd.randint(0, len(labels))))
            eq += "->" + ("..." + out if "..." in eq or rnd.random() < 0.2 else out)
        ops = [rng.standard_normal(s) for s in shapes]
        try:
            want = np.einsum(eq, *ops)
        except ValueError:
            with pytest.raises(ValueError, match="einsum"):
                F.einsum(*[ng.tensor(o) for o in ops], equation=eq)
            continue
        got = np.asarray(F.einsum(*[ng.tensor(o) for o in ops], equation=eq))
        assert got.shape == np.shape(want), eq
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=eq)
