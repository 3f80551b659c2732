"""Lean derivative graphs (issue 12): the node count of the k-th derivative
graph, k = 1..8, of tanh, sin*exp and a 2-layer MLP grows no faster than a
quadratic in k, while every derivative stays exact against its closed form;
and the same derivatives without lean recording (PyTorch's nested reverse
mode) grow exponentially, so the growth check can fail."""
import math

import numpy as np
import pytest

import nthgrad as ng

ORDERS = range(1, 9)
X = np.linspace(-2.0, 2.0, 9)


def tanh_derivative(t, k):
    """d^k/dx^k tanh(x) as a polynomial in t = tanh(x): P0 = t, P_{k+1} = P_k'(t) (1 - t^2)."""
    c = np.array([0.0, 1.0])
    for _ in range(k):
        c = np.polynomial.polynomial.polymul(np.polynomial.polynomial.polyder(c), [1.0, 0.0, -1.0])
    return np.polynomial.polynomial.polyval(t, c)


def sin_exp_derivative(x, k):
    return 2 ** (k / 2) * np.exp(x) * np.sin(x + k * math.pi / 4)


RNG = np.random.default_rng(3)
W1, B1 = RNG.normal(size=(1, 6)), RNG.normal(size=6) * 0.3
W2, B2 = RNG.normal(size=(6, 1)), RNG.normal(size=1)


def mlp_derivative(x, k):
    """u = tanh(x W1 + b1) W2 + b2 on scalar inputs: u^(k) = sum_j W2_j W1_j^k tanh^(k)(x W1_j + b1_j)."""
    h = np.tanh(x[:, None] * W1 + B1)
    return (W1 ** k * tanh_derivative(h, k)) @ W2[:, 0] if k else h @ W2[:, 0] + B2


def derivatives(name, lean=True):
    """(node counts, values) of the derivatives of order 1..8."""
    x = ng.tensor(X, dtype=ng.float64, requires_grad=True)
    if name == "tanh":
        y = x.tanh()
    elif name == "sin_exp":
        y = x.sin() * x.exp()
    else:
        params = [ng.tensor(a, dtype=ng.float64, requires_grad=True) for a in (W1, B1, W2, B2)]
        w1, b1, w2, b2 = params
        y = ((x.reshape((-1, 1)) @ w1 + b1).tanh() @ w2 + b2).reshape((-1,))
    counts, values = [], []
    with ng.autograd.lean_graphs(lean):
        for _ in ORDERS:
            (y,) = ng.grad(y.sum(), [x], create_graph=True)
            counts.append(ng.autograd.graph_size(y).nodes)
            values.append(y.numpy().copy())
    return counts, values


EXACT = {"tanh": lambda x, k: tanh_derivative(np.tanh(x), k), "sin_exp": sin_exp_derivative, "mlp": mlp_derivative}


def grows_at_most_quadratically(counts):
    """Orders 6..8 stay under the quadratic k^2 scaled to the largest count of orders 1..5, with a margin
    of 25% and 2 nodes: c_k <= 1.25 max(c_1..c_5) (k / 5)^2 + 2. A quadratic a + b k + c k^2 (a, b, c >= 0)
    always passes; 2^k fails at order 6 and PyTorch's 2.6^k long before."""
    k = np.arange(6, 9)
    bound = 1.25 * max(counts[:5]) * (k / 5) ** 2 + 2
    return bool(np.all(np.asarray(counts[5:]) <= bound)), bound


@pytest.mark.parametrize("name", ["tanh", "sin_exp", "mlp"])
def test_kth_derivative_graph_grows_at_most_quadratically_and_stays_exact(name):
    counts, values = derivatives(name)
    ok, bound = grows_at_most_quadratically(counts)
    assert ok, f"{name}: node counts {counts} exceed the quadratic bound {bound} at orders 6-8"
    for k, got in zip(ORDERS, values):
        want = EXACT[name](X, k)
        scale = max(1.0, np.max(np.abs(want)))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-11 * scale, err_msg=f"{name}: order {k}")


@pytest.mark.parametrize("name", ["tanh", "sin_exp", "mlp"])
def test_without_lean_recording_the_growth_is_exponential_and_the_values_agree(name):
    lean_counts, lean_values = derivatives(name)
    plain_counts, plain_values = derivatives(name, lean=False)
    ok, _ = grows_at_most_quadratically(plain_counts)
    assert not ok, f"{name}: plain nested reverse mode grew only as {plain_counts}"
    assert plain_counts[-1] >= 5 * lean_counts[-1]
    for k, a, b in zip(ORDERS, lean_values, plain_values):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * max(1.0, np.max(np.abs(b))),
                                   err_msg=f"{name}: order {k}")


def test_graph_size_counts_nodes_and_saved_bytes():
    x = ng.tensor(np.ones(1000), dtype=ng.float64, requires_grad=True)
    y = x.tanh()                       # tanh keeps its output: 8000 bytes
    size = ng.autograd.graph_size(y)
    assert size.nodes == 2             # tanh and x's AccumulateGrad
    assert size.saved_bytes == 8000
    assert ng.autograd.graph_size(x) == (0, 0)
    z = y * y                          # mul2 keeps y (the same buffer as tanh's output) once
    assert ng.autograd.graph_size(z) == (3, 8000)
    with pytest.raises(TypeError, match="graph_size: argument 0 is a list"):
        ng.autograd.graph_size([x])


def test_hash_consing_reuses_the_node_of_an_identical_op():
    # the 2nd derivative of sin(x) * cos(x) reaches sin and cos again (from cos' and sin' rules): each once
    x = ng.tensor(X, dtype=ng.float64, requires_grad=True)
    y = x.sin() * x.cos()
    (g,) = ng.grad(y.sum(), [x], create_graph=True)
    (h,) = ng.grad(g.sum(), [x], create_graph=True)
    (t,) = ng.grad(h.sum(), [x], create_graph=True)
    names = ng.autograd.graph_size(t)
    np.testing.assert_allclose(t.numpy(), -4 * np.cos(2 * X), atol=1e-12)
    assert names.nodes <= 6  # x's sink, at most two sin and two cos nodes, one polynomial


def test_lean_recording_leaves_first_order_and_non_recording_passes_alone():
    x = ng.tensor(X, dtype=ng.float64, requires_grad=True)
    (g,) = ng.grad((x.tanh() * 3.0).sum(), [x])          # no create_graph: the fused kernels as before
    np.testing.assert_allclose(g.numpy(), 3 * (1 - np.tanh(X) ** 2), rtol=1e-14)
    (g,) = ng.grad((x.tanh() * 3.0).sum(), [x], create_graph=True)
    assert g.grad_fn.name in ("polynomial", "tanh_backward", "mul_scalar")


def test_fresh_leaves_keep_distinct_identities_in_one_polynomial():
    # Two cotangents that are fresh leaves meet in one accumulation (u1 + u2). A leaf's identity is its
    # AccumulateGrad, which the lookup may create; had it died at once, the second leaf's could take its
    # address and the two would merge into 2 u1 (as a stale hash-consing hit made hvp of relu(x)^2 lose a 2).
    x = ng.tensor(X, dtype=ng.float64, requires_grad=True)
    u1 = ng.tensor(np.full(X.shape, 1.0), dtype=ng.float64, requires_grad=True)
    u2 = ng.tensor(np.full(X.shape, 5.0), dtype=ng.float64, requires_grad=True)
    y = x.sin()
    (g,) = ng.grad([y * 1.0, y * 1.0], [x], [u1, u2], create_graph=True)
    np.testing.assert_allclose(g.numpy(), 6.0 * np.cos(X), rtol=1e-14)
    gu1, gu2 = ng.grad(g.sum(), [u1, u2])
    np.testing.assert_allclose(gu1.numpy(), np.cos(X), rtol=1e-14)
    np.testing.assert_allclose(gu2.numpy(), np.cos(X), rtol=1e-14)


def test_hvp_through_a_piecewise_linear_function_is_exact():
    # relu(x)^2: H = diag(2 [x > 0]); forward over reverse reaches relu's fused backward twice with
    # different gradients, which must not share a node
    from nthgrad import func
    x = ng.tensor([-1.0, 0.5, 2.0], dtype=ng.float64)
    v = ng.tensor([1.0, 3.0, -2.0], dtype=ng.float64)
    for transform in (func.hvp, func.vhp):
        _, hv = transform(lambda x: (x.relu() ** 2).sum(), x, v)
        np.testing.assert_allclose(hv.numpy(), [0.0, 6.0, -4.0], rtol=1e-15)


# ---- regressions found by review: lean recording must give what the plain graph gives ----

def both(fn):
    """fn() with lean recording and without."""
    with ng.autograd.lean_graphs(True):
        a = fn()
    with ng.autograd.lean_graphs(False):
        b = fn()
    return a, b


@pytest.mark.parametrize("op", ["tanh", "sigmoid", "softplus", "gelu", "elu", "relu", "sin"])
def test_empty_tensors_through_every_fused_backward(op):
    fn = getattr(ng.functional, op)
    x = ng.tensor(np.zeros((0, 3)), dtype=ng.float64, requires_grad=True)
    (g,) = ng.grad(fn(x).sum(), [x], create_graph=True)  # was: unbounded recursion, a segfault
    assert g.shape == (0, 3)
    (h,) = ng.grad(g.sum(), [x], allow_unused=True)
    assert h is None or h.shape == (0, 3)


def test_inlining_never_reads_values_written_in_place_since():
    def run():
        x = ng.tensor([1.0, 2.0], dtype=ng.float64, requires_grad=True)
        (g1,) = ng.grad((x ** 3).sum(), [x], create_graph=True)  # 3 x^2, one polynomial of x
        x.grad = ng.full([2], -1.0, dtype=ng.float64)
        ng.optim.SGD([x], lr=1.0).step()  # x += 1 in place
        w = ng.tensor([1.0, 1.0], dtype=ng.float64, requires_grad=True)
        return ng.grad((w * g1).sum(), [w], create_graph=True)[0].numpy()
    lean, plain = both(run)
    np.testing.assert_array_equal(lean, [3.0, 12.0])
    np.testing.assert_array_equal(lean, plain)


def test_hash_consing_sees_new_data_new_memory_and_changed_constants():
    def set_data():
        x = ng.tensor([0.5, 1.0], dtype=ng.float64, requires_grad=True)
        ng.grad(x.sin().sum(), [x], create_graph=True)
        x._set_data(ng.tensor([2.0, 3.0], dtype=ng.float64))  # as nn.Module.double() does
        return ng.grad(x.sin().sum(), [x], create_graph=True)[0].numpy()
    lean, plain = both(set_data)
    np.testing.assert_allclose(lean, np.cos([2.0, 3.0]), rtol=1e-15)
    np.testing.assert_array_equal(lean, plain)

    def numpy_memory():
        arr = np.array([0.5, 1.0])
        x = ng.from_numpy(arr)
        x.requires_grad = True
        keep = ng.grad(x.sin().sum(), [x], create_graph=True)[0]
        arr[:] = [2.0, 3.0]  # NumPy writes bump no version
        g = ng.grad(x.sin().sum(), [x], create_graph=True)[0].numpy()
        del keep
        return g
    lean, plain = both(numpy_memory)
    np.testing.assert_allclose(lean, np.cos([2.0, 3.0]), rtol=1e-15)

    def changed_constant():
        x = ng.tensor([[1.0, 2.0]], dtype=ng.float64, requires_grad=True)
        v = ng.tensor([[0.5, -1.0]], dtype=ng.float64, requires_grad=True)
        b1 = ng.ones([2, 2], dtype=ng.float64)
        keep = ng.grad(x @ b1, [x], grad_outputs=[v], create_graph=True)[0]
        with ng.no_grad():
            b1.add_(ng.ones([2, 2], dtype=ng.float64))  # the node that saved b1 must not serve b2
        b2 = ng.ones([2, 2], dtype=ng.float64)
        g2 = ng.grad(x @ b2, [x], grad_outputs=[v], create_graph=True)[0]
        del keep
        return ng.grad(g2.sum(), [v])[0].numpy()
    lean, plain = both(changed_constant)
    np.testing.assert_array_equal(lean, plain)


@pytest.mark.parametrize("f", [lambda x: x ** 3, lambda x: x.sin()], ids=["cube", "sin"])
def test_a_shared_node_survives_the_backward_of_another_graph(f):
    def run():
        x = ng.tensor([0.5, 1.0], dtype=ng.float64, requires_grad=True)
        (g1,) = ng.grad(f(x).sum(), [x], create_graph=True)
        (g2,) = ng.grad((f(x) * 3.0).sum(), [x], create_graph=True)  # its own forward pass
        (g2 ** 2).sum().backward()  # no retain_graph: frees what it alone holds
        (g1 ** 2).sum().backward()
        return x.grad.numpy()
    lean, plain = both(run)
    np.testing.assert_allclose(lean, plain, rtol=1e-14)


def test_sums_are_not_multiplied_out():
    # (x - 1)^7 near x = 1: expanding the power into powers of x would cancel catastrophically
    def power_of_a_sum():
        x = ng.tensor([1.001, 1.0001], dtype=ng.float64, requires_grad=True)
        (g,) = ng.grad((x * x * 0.5 - x).sum(), [x], create_graph=True)  # x - 1
        return ng.grad((g ** 7).sum(), [x], create_graph=True)[0].numpy()
    lean, _ = both(power_of_a_sum)
    np.testing.assert_allclose(lean, 7 * (np.array([1.001, 1.0001]) - 1) ** 6, rtol=1e-9)

    # gelu's second derivative in float32 in its tails is 0, not rounding noise of an expanded product
    def gelu_second():
        x = ng.tensor(np.array([-40.0, -12.0, 9.0, 40.0], dtype=np.float32), requires_grad=True)
        (g,) = ng.grad(ng.functional.gelu(x).sum(), [x], create_graph=True)
        return ng.grad(g.sum(), [x], create_graph=True)[0].numpy()
    lean, plain = both(gelu_second)
    np.testing.assert_allclose(lean, plain, atol=1e-6)
    np.testing.assert_allclose(lean[[0, 3]], 0.0, atol=1e-12)


def test_high_powers_stay_atoms_instead_of_failing():
    def run():
        x = ng.tensor([1.01, 0.99], dtype=ng.float64, requires_grad=True)
        (g,) = ng.grad((x ** 9).sum(), [x], create_graph=True)
        return ng.grad((g ** 9).sum(), [x], create_graph=True)[0].numpy()  # (9 x^8)^9: x^72
    lean, plain = both(run)
    np.testing.assert_allclose(lean, plain, rtol=1e-12)


def test_an_exactly_zero_gradient_still_fills_grad():
    def run():
        w = ng.tensor([1.0, 2.0], dtype=ng.float64, requires_grad=True)
        ((w * 0.0).sum() + 1.0).backward(create_graph=True)
        return None if w.grad is None else w.grad.numpy()
    lean, plain = both(run)
    np.testing.assert_array_equal(lean, [0.0, 0.0])
    np.testing.assert_array_equal(lean, plain)


def test_a_plain_gradient_carries_no_graph():
    x = ng.tensor([0.3, 0.6], dtype=ng.float64, requires_grad=True)
    w = ng.tensor([1.0, 2.0], dtype=ng.float64, requires_grad=True)
    u = x.sin()
    (g,) = ng.grad((u * w ** 2).sum() * 0.5, [w], create_graph=True)  # u * w
    (h,) = ng.grad(g.sum(), [w])  # u: as a value, not the forward tensor with its graph
    assert not h.requires_grad and h.grad_fn is None
    np.testing.assert_allclose(h.numpy(), np.sin([0.3, 0.6]), rtol=1e-15)
    from nthgrad import func
    jv = func.jvp(lambda x: x.sin(), (ng.tensor([0.1, 0.2]),), (ng.ones([2]),))[1]
    assert not jv.requires_grad


def test_nan_and_inf_are_not_cancelled_away():
    def run():
        x = ng.tensor([np.nan, 800.0, 1.0], dtype=ng.float64, requires_grad=True)
        (g,) = ng.grad((x.exp() * (-x).exp()).sum(), [x], create_graph=True)
        return g.numpy()
    lean, plain = both(run)
    np.testing.assert_array_equal(lean, plain)  # [nan, nan, 0]: exp(800) = inf, inf * 0


# ---- regressions found by the second review ----

def test_gradients_own_their_memory():
    def run():
        a = ng.tensor([1.0, 2.0], dtype=ng.float64, requires_grad=True)
        b = ng.tensor([3.0, 4.0], dtype=ng.float64, requires_grad=True)
        (g,) = ng.grad((a * a * b).sum() * 0.5, [a], create_graph=True)  # a * b
        g.sum().backward()  # a.grad = b: it must not be b's memory
        ng.optim.SGD([b, a], lr=0.1).step()
        p = ng.tensor([1.0, 2.0], dtype=ng.float64, requires_grad=True)
        q = ng.tensor([[10.0, 20.0]], dtype=ng.float64, requires_grad=True)
        (p * q.reshape((2,))).sum().backward(create_graph=True)  # p.grad = q's values, not q's memory
        ng.optim.SGD([q, p], lr=0.1).step()
        return a.numpy().copy(), p.numpy().copy()
    lean, plain = both(run)
    for x, y in zip(lean, plain):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_allclose(lean[1], [0.0, 0.0], atol=1e-15)


def test_first_order_values_do_not_depend_on_create_graph():
    # a zero gradient through where's other branch meets x^-0.5 of a negative x: NaN, as without lean recording
    x = ng.tensor([-1.0, -4.0, 4.0], dtype=ng.float64, requires_grad=True)
    f = lambda: ng.where(x > 0, x ** 0.5, 2 * x).sum()  # noqa: E731
    (g1,) = ng.grad(f(), [x], create_graph=True)
    (g0,) = ng.grad(f(), [x])
    np.testing.assert_array_equal(g1.numpy(), g0.numpy())


def test_a_zero_above_the_leaf_still_fills_grad():
    def run():
        w = ng.tensor([1.0, 2.0], dtype=ng.float64, requires_grad=True)
        x = ng.tensor([0.5], dtype=ng.float64, requires_grad=True)
        (w.exp() * 0.0 + 0 * w).sum().backward(create_graph=True)
        ((x * x).sum()).backward(create_graph=True)
        return None if w.grad is None else w.grad.numpy()
    lean, plain = both(run)
    np.testing.assert_array_equal(lean, plain)


def test_a_gradient_written_in_place_is_not_inlined_with_its_old_value():
    def run():
        x = ng.tensor([1.0, 2.0], dtype=ng.float64, requires_grad=True)
        (g1,) = ng.grad((x ** 3).sum(), [x], create_graph=True)
        g1.detach().add_(ng.ones([2], dtype=ng.float64))  # the same memory, written in place
        w = ng.tensor([1.0, 1.0], dtype=ng.float64, requires_grad=True)
        (h,) = ng.grad((w * w * g1).sum(), [w], create_graph=True)
        return ng.grad(h.sum(), [w])[0].numpy()
    lean, plain = both(run)
    np.testing.assert_array_equal(lean, plain)  # 2 * (3 x^2 + 1)


def test_powers_that_cancel_keep_nan_and_negative_zero_keeps_its_sign():
    def cancel():
        x = ng.tensor([0.0, 2.0], dtype=ng.float64, requires_grad=True)
        (g,) = ng.grad((x ** -1).sum(), [x], create_graph=True)  # -x^-2
        (v,) = ng.grad((x ** 4 / 4).sum(), [x], create_graph=True)  # x^3
        return ng.grad([g], [x], [v], create_graph=True)[0].numpy()  # 2 x^-3 * x^3
    lean, plain = both(cancel)
    np.testing.assert_array_equal(lean, plain)

    def negative_zero():
        x = ng.tensor([-0.0], dtype=ng.float64, requires_grad=True)
        (g,) = ng.grad((x ** 2).sum(), [x], create_graph=True)
        return np.signbit(g.numpy())
    lean, plain = both(negative_zero)
    np.testing.assert_array_equal(lean, plain)  # 2 * -0.0 = -0.0


def test_graphs_kept_after_backward_do_not_keep_their_saved_values():
    def run():
        x = ng.tensor(np.ones(10000), dtype=ng.float64, requires_grad=True)
        kept = []
        for _ in range(5):
            (g,) = ng.grad((x.sin() * x).sum(), [x], create_graph=True)
            loss = (g * g).sum()
            loss.backward()
            kept.append(loss)  # a loss history that keeps graphs
        return ng._C.live_counts()["bytes"]
    lean, plain = both(run)
    assert lean <= plain + 100_000, (lean, plain)
