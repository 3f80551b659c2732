"""The shared gradient checker: forward against a NumPy reference, and
derivatives of any order against central finite differences in float64.

Order k is checked along random directions v1..vk: with D0 = f and
Dk(x) = <grad D(k-1)(x), vk> computed by nthgrad with create_graph=True,
the analytic Dk(x) must equal (D(k-1)(x + eps vk) - D(k-1)(x - eps vk)) / 2eps.
Every lower order is exact (analytic), so the finite difference is only ever
taken of one smooth function, and the check works at any order.
"""
import numpy as np

import nthgrad as ng
import nthgrad.functional as F


def to_tensors(arrays, requires_grad=True, dtype=None):
    out = []
    for a in arrays:
        a = np.asarray(a)
        floating = a.dtype.kind == "f"
        out.append(ng.tensor(a, dtype=dtype if floating else None, requires_grad=requires_grad and floating))
    return out


def check_forward(fn, ref, arrays, rtol=1e-6, atol=1e-8, dtype=ng.float64):
    """fn(*tensors) equals ref(*arrays) (NumPy) in values and shape."""
    got = fn(*to_tensors(arrays, requires_grad=False, dtype=dtype))
    want = np.asarray(ref(*arrays))
    got_np = np.asarray(got)
    assert got_np.shape == want.shape, f"shape {got_np.shape} != reference {want.shape}"
    np.testing.assert_allclose(got_np, want, rtol=rtol, atol=atol)
    return got


def _scalarize(y, weight):
    """sum(y * weight): a scalar whose gradient exercises every output element differently."""
    return F.sum(F.mul2(y, weight))


def directional_derivative(fn, xs, directions, weight):
    """D_k for k = len(directions) at xs (float64 tensors requiring grad); a scalar tensor."""
    d = _scalarize(fn(*xs), weight)
    for v in directions:
        if not d.requires_grad:  # d no longer depends on x: every further derivative is 0
            return ng.tensor(0.0, dtype=ng.float64)
        gs = ng.grad(d, xs, create_graph=True, allow_unused=True)
        terms = [F.sum(F.mul2(g, vi)) for g, vi in zip(gs, v) if g is not None]
        if not terms:
            return ng.tensor(0.0, dtype=ng.float64)
        d = terms[0]
        for t in terms[1:]:
            d = d + t
    return d


def check_gradients(fn, arrays, order=2, diff_args=None, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0):
    """Checks derivatives of order 1..order of fn at arrays (float64).

    diff_args: indices of the arguments to differentiate (default: every
    floating argument). The others are passed as constants."""
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in arrays]
    if diff_args is None:
        diff_args = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    y0 = fn(*to_tensors(arrays, requires_grad=False, dtype=ng.float64))
    weight = ng.tensor(rng.uniform(0.5, 1.5, size=y0.shape), dtype=ng.float64)
    directions = [[rng.standard_normal(arrays[i].shape) for i in diff_args] for _ in range(order)]

    def evaluate(point, k):
        """D_k at `point` (a list of arrays for diff_args), as a float."""
        full = list(arrays)
        for i, p in zip(diff_args, point):
            full[i] = p
        ts = to_tensors(full, requires_grad=False, dtype=ng.float64)
        xs = []
        for i in diff_args:
            ts[i].requires_grad = True
            xs.append(ts[i])

        def partial(*vs):
            args = list(ts)
            for i, v in zip(diff_args, vs):
                args[i] = v
            return fn(*args)

        dirs = [[ng.tensor(v, dtype=ng.float64) for v in vk] for vk in directions[:k]]
        return directional_derivative(partial, xs, dirs, weight).item()

    base = [arrays[i] for i in diff_args]
    for k in range(1, order + 1):
        analytic = evaluate(base, k)
        v = directions[k - 1]
        plus = evaluate([b + eps * vi for b, vi in zip(base, v)], k - 1)
        minus = evaluate([b - eps * vi for b, vi in zip(base, v)], k - 1)
        numeric = (plus - minus) / (2 * eps)
        assert abs(analytic - numeric) <= atol + rtol * abs(numeric), (
            f"order {k}: analytic {analytic!r} vs finite difference {numeric!r}")


def graph_nodes(*tensors):
    """Every graph node behind the tensors, once each (None entries are skipped)."""
    # The list keeps the node objects alive: a freed wrapper's id could be reused by the next one,
    # which would then look already seen and cut the walk short.
    nodes, seen, stack = [], set(), [t.grad_fn for t in tensors if t is not None]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(node.next_functions)
    return nodes


def node_names(*tensors):
    """The names of every graph node behind the tensors (None entries are skipped)."""
    return {node.name for node in graph_nodes(*tensors)}
