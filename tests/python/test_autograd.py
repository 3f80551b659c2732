"""The engine seen from Python: grad/backward semantics as in PyTorch,
grad mode, deep graphs, and no leaks."""
import gc

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F


def leaf(values, dtype=ng.float64):
    return ng.tensor(values, dtype=dtype, requires_grad=True)


def test_backward_accumulates_and_grad_does_not():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    (g,) = ng.grad(y, [x], retain_graph=True)
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0])
    assert x.grad is None
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    x.grad = None
    assert x.grad is None


def test_grad_outputs_weight_a_non_scalar_output():
    x = leaf([1.0, 2.0, 3.0])
    (g,) = ng.grad(x * x, [x], grad_outputs=[ng.tensor([1.0, 0.0, 2.0], dtype=ng.float64)])
    np.testing.assert_array_equal(g.numpy(), [2.0, 0.0, 12.0])
    y = leaf([1.0, 2.0])
    (y * 3.0).backward(ng.tensor([1.0, 1.0], dtype=ng.float64))
    np.testing.assert_array_equal(y.grad.numpy(), [3.0, 3.0])


def test_non_scalar_without_grad_outputs_is_an_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"scalar.*\(2,\)"):
        ng.grad(x * 2.0, [x])
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2.0).backward()


def test_second_backward_through_a_freed_graph_is_an_error():
    x = leaf(0.5)
    y = F.tanh(x)
    y.backward()
    with pytest.raises(RuntimeError, match="tanh.*second time.*retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_walk():
    x = leaf(0.5)
    y = F.exp(x)
    (a,) = ng.grad(y, [x], retain_graph=True)
    (b,) = ng.grad(y, [x])
    assert a.item() == b.item()


def test_create_graph_makes_gradients_differentiable():
    x = leaf(0.3)
    (g,) = ng.grad(F.sin(x), [x])
    assert not g.requires_grad
    (g,) = ng.grad(F.sin(x * 1.0), [x], create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (h,) = ng.grad(g, [x])
    assert h.item() == pytest.approx(-np.sin(0.3), abs=1e-15)


def test_backward_with_create_graph_gives_differentiable_dot_grad():
    x = leaf(0.3)
    (x ** 3).backward(create_graph=True)
    assert x.grad.requires_grad
    (h,) = ng.grad(x.grad, [x])
    assert h.item() == pytest.approx(6 * 0.3)


def test_unused_inputs():
    x, z = leaf(1.0), leaf(2.0)
    with pytest.raises(RuntimeError, match="inputs\\[1\\].*allow_unused"):
        ng.grad(x * 2.0, [x, z])
    gx, gz = ng.grad(x * 2.0, [x, z], allow_unused=True)
    assert gx.item() == 2.0 and gz is None


def test_gradient_with_respect_to_an_intermediate():
    x = leaf(2.0)
    h = x * 3.0
    y = h * h
    (gh,) = ng.grad(y, [h])
    assert gh.item() == 12.0


def test_inputs_that_do_not_require_grad_are_rejected():
    x = ng.tensor(1.0)
    with pytest.raises(RuntimeError, match="does not require grad"):
        ng.grad(x * 2.0, [x])


def test_no_grad_and_set_grad_enabled():
    x = leaf(1.0)
    with ng.no_grad():
        y = x * 2.0
        assert not ng.is_grad_enabled()
    assert ng.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @ng.no_grad()
    def f(v):
        return v * 2.0

    assert not f(x).requires_grad
    with ng.set_grad_enabled(False):
        assert not (x * 2.0).requires_grad
        with ng.enable_grad():
            assert (x * 2.0).requires_grad
    assert (x * 2.0).requires_grad


def test_detach_and_requires_grad_rules():
    x = leaf([1.0])
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and y.grad_fn.name == "mul_scalar"
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    with pytest.raises(TypeError, match="int64"):
        ng.tensor([1, 2], requires_grad=True)


def test_chain_of_100000_ops_does_not_overflow_any_stack():
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    (g,) = ng.grad(y, [x])
    assert g.item() == 1.0
    y = x
    for _ in range(100_000):
        y = F.sin(y)
    del y  # dropped without backward: destroyed iteratively


def _live():
    gc.collect()
    return ng.live_counts()


def _one_graph(kind, x, w):
    if kind == 0:  # saved outputs (tanh, exp, sigmoid)
        (F.tanh(x) * F.exp(x) + F.sigmoid(x)).sum().backward()
    elif kind == 1:  # create_graph: gradients that hold graphs
        y = F.affine(F.reshape(x, (1, 5)), w).sum()
        (g,) = ng.grad(F.sin(y), [w], create_graph=True)
        ng.grad((g * g).sum(), [w])
    elif kind == 2:  # backward with create_graph into .grad (x.grad then holds a graph)
        (F.tanh(x) ** 3).sum().backward(create_graph=True)
    else:  # never differentiated
        F.log(F.exp(x) + 1.0).mean()
    x.grad = None
    w.grad = None


def test_dropping_10000_graphs_leaves_no_live_objects():
    x = leaf(np.linspace(-1, 1, 5))
    w = leaf(np.ones((5, 3)))
    before = _live()
    for i in range(10_000):
        _one_graph(i % 4, x, w)
    after = _live()
    assert after == before, f"live objects before {before}, after {after}"
    del x, w
    assert _live()["nodes"] == 0


def test_create_graph_backward_into_a_leaf_makes_no_cycle():
    """leaf.grad's graph must not keep the leaf alive (PyTorch leaks here)."""
    before = _live()
    x = leaf(np.linspace(-1, 1, 4))
    (F.tanh(x) * x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (h,) = ng.grad(x.grad.sum(), [x])  # the saved leaf still routes gradients to x
    t = np.tanh(np.linspace(-1, 1, 4))
    xs = np.linspace(-1, 1, 4)
    np.testing.assert_allclose(h.numpy(), 2 * (1 - t ** 2) - 2 * xs * t * (1 - t ** 2), rtol=1e-12)
    del x, h
    assert _live() == before


def test_a_pending_graph_keeps_only_what_its_rules_read():
    """exp saves its output and sin its input (a leaf); sin(x) itself is not kept."""
    n = 100_000
    x = leaf(np.linspace(-1, 1, n))
    before = _live()
    y = F.exp(F.sin(x)).sum()
    pending = _live()
    kept = pending["bytes"] - before["bytes"]
    assert 8 * n <= kept < 8 * n + 1024, f"the graph keeps {kept} bytes; exp's output alone is {8 * n}"
    (g,) = ng.grad(y, [x])
    np.testing.assert_allclose(g.numpy(), np.cos(x.numpy()) * np.exp(np.sin(x.numpy())), rtol=1e-14)
    del y
    after = _live()
    assert after["bytes"] - before["bytes"] == 8 * n  # g alone
    del g
    assert _live() == before


def test_ops_with_constant_operands_keep_only_the_operand_their_rule_reads():
    n = 100_000
    x = leaf(np.ones(n))
    mask = ng.tensor(np.ones(n))
    before = _live()
    # sin keeps x (alive anyway); mul2 keeps mask, not sin(x): only mask's gradient would read it
    y = (F.sin(x) * mask).sum()
    kept = _live()["bytes"] - before["bytes"]
    assert kept < 1024, kept
    del y
    assert _live() == before


def test_live_counts_report_bytes():
    before = _live()
    t = ng.zeros((1000,), ng.float64)
    assert _live()["bytes"] - before["bytes"] == 8000
    del t
    assert _live() == before


def test_in_place_update_of_a_leaf_is_applied_and_stale_graphs_refuse_backward():
    p = leaf([1.0, 2.0])
    (p * p).sum().backward()
    with ng.no_grad():
        p.sub_(p.grad, alpha=0.5)
    np.testing.assert_array_equal(p.numpy(), [0.0, 0.0])
    assert p.requires_grad and p.is_leaf
    with pytest.raises(RuntimeError, match="no_grad"):
        p.add_(p.grad)
    y = F.sin(p).sum()  # sin saves p: after an update its backward would read the new value
    with ng.no_grad():
        p.add_(p.grad)
    p.grad = None
    with pytest.raises(RuntimeError, match=r"sin: input 0 \(shape \(2,\)\).*modified in place.*version 1, now 2"):
        y.backward()
    assert p.grad is None  # nothing was accumulated
    y = F.sin(p).sum()  # a fresh forward pass after the update works
    y.backward()
    np.testing.assert_allclose(p.grad.numpy(), np.cos([2.0, 4.0]))  # p was [0, 0] + grad [2, 4]
    alias = p.detach()  # views share the memory and see the change, as in torch
    with ng.no_grad():
        p.add_(ng.ones((2,), ng.float64), alpha=2.0)
    np.testing.assert_array_equal(alias.numpy(), [4.0, 6.0])
    with pytest.raises(RuntimeError, match="leaves"):
        (p * 2.0).add_(p)
    shared = ng.from_numpy(np.ones(2))
    with pytest.raises(RuntimeError, match="NumPy"):
        shared.add_(shared)
    with ng.no_grad(), pytest.raises(ValueError, match=r"\(3,\)"):
        p.add_(ng.ones((3,), ng.float64))


def test_a_view_saved_by_a_graph_sees_the_version_of_its_memory():
    p = leaf([1.0, 2.0, 3.0, 4.0])
    y = (F.reshape(p, (2, 2)) ** 2).sum()  # saves the reshape, a non-leaf sharing p's memory
    with ng.no_grad():
        p.copy_(ng.zeros((4,), ng.float64))
    with pytest.raises(RuntimeError, match="modified in place"):
        ng.grad(y, [p])


@pytest.mark.skipif(__import__("os").environ.get("NTHGRAD_CACHE_BYTES") == "0", reason="the buffer cache is off")
def test_freed_buffers_are_reused_and_can_be_released():
    ng.empty_cache()
    assert ng._C.cached_bytes() == 0
    a = ng.tensor(np.zeros(1 << 16))  # 512 KiB of nthgrad's own memory: cached when freed
    del a
    gc.collect()
    assert ng._C.cached_bytes() == 8 << 16
    b = ng.tensor(np.ones(1 << 16))  # reuses it
    assert ng._C.cached_bytes() == 0
    np.testing.assert_array_equal(b.numpy()[:3], [1.0, 1.0, 1.0])
    small = ng.tensor(np.zeros(100))  # below 256 KiB: never cached
    del small, b
    gc.collect()
    assert ng._C.cached_bytes() == 8 << 16
    ng.empty_cache()
    assert ng._C.cached_bytes() == 0


def test_the_buffer_cache_can_be_switched_off():
    import subprocess
    import sys
    code = ("import nthgrad as ng, numpy as np, gc; a = ng.tensor(np.zeros(1 << 16)); del a; gc.collect(); "
            "print(ng._C.cached_bytes())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "NTHGRAD_CACHE_BYTES": "0"})
    assert out.returncode == 0 and out.stdout.strip() == "0", out.stderr
