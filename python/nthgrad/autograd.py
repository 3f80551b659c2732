"""Differentiation: grad and backward (as their PyTorch namesakes), grad-mode
scopes, and the Hessian-vector product (hvp; nthgrad.func has the full set of
transforms)."""
import collections
import contextlib

from . import _C
from ._C import Tensor


def _as_list(x, what):
    if isinstance(x, Tensor):
        return [x], True
    if isinstance(x, (list, tuple)):
        return list(x), False
    raise TypeError(f"{what} must be a Tensor or a sequence of Tensors, got {type(x).__name__}")


def grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None, allow_unused=False):
    """Gradients of `outputs` with respect to `inputs`, as a tuple.

    `grad_outputs` weights each output (required for non-scalar outputs).
    With `create_graph=True` the result is itself differentiable, to any
    order. `retain_graph` defaults to `create_graph`."""
    outputs, _ = _as_list(outputs, "grad: outputs")
    inputs, _ = _as_list(inputs, "grad: inputs")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    else:
        grad_outputs, _ = _as_list(grad_outputs, "grad: grad_outputs")
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"grad: inputs[{i}] is a {type(x).__name__}, not a Tensor")
    return tuple(_C.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused))


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate the gradient of `tensors` into the .grad of every leaf."""
    tensors, _ = _as_list(tensors, "backward: tensors")
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    else:
        grad_tensors, _ = _as_list(grad_tensors, "backward: grad_tensors")
    _C.backward(tensors, grad_tensors, retain_graph, create_graph)


class _GradModeScope(contextlib.ContextDecorator):
    """Sets grad mode to `mode` for a `with` block or a decorated function."""

    mode = True

    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C.set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _C.set_grad_enabled(self.prev)
        return False


class no_grad(_GradModeScope):
    """Inside, ops record nothing: results do not require grad."""

    mode = False


class enable_grad(_GradModeScope):
    mode = True


class set_grad_enabled(_GradModeScope):
    """Turns recording on or off: at once when called (as torch), and back on
    leaving a `with` block."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self.prev = _C.is_grad_enabled()
        _C.set_grad_enabled(self.mode)

    def __enter__(self):
        return self


def is_grad_enabled():
    return _C.is_grad_enabled()


GraphSize = collections.namedtuple("GraphSize", ["nodes", "saved_bytes"])


def graph_size(*tensors):
    """The graph behind `tensors`: its number of nodes (the AccumulateGrad
    sinks of leaves included, as torch counts grad_fn objects) and the bytes
    of the distinct buffers those nodes keep for their backward rules.

        y = x.tanh()
        for _ in range(8):
            y = ng.grad(y.sum(), [x], create_graph=True)[0]
        ng.autograd.graph_size(y)     # GraphSize(nodes=..., saved_bytes=...)
    """
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"graph_size: argument {i} is a {type(t).__name__}, not a Tensor")
    return GraphSize(*_C.graph_size(list(tensors)))


class lean_graphs:
    """Lean derivative graphs (on by default): while a gradient is built with
    create_graph=True, identical ops on identical inputs are recorded once,
    elementwise arithmetic is kept as one polynomial node in normal form
    (multiplications by exact ones and additions of exact zeros vanish), and
    zero gradients stay symbolic, so the graph of the n-th derivative grows
    polynomially in n. `lean_graphs(False)` gives the plain nested reverse
    mode (PyTorch's growth), at once and, as a `with` block, until its end:

        with ng.autograd.lean_graphs(False):
            d2 = ng.grad(ng.grad(y, [x], create_graph=True)[0].sum(), [x])
    """

    def __init__(self, mode):
        self.mode = bool(mode)
        self.prev = _C.lean_graphs_enabled()
        _C.set_lean_graphs(self.mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _C.set_lean_graphs(self.prev)
        return False


def hvp(f, inputs, v):
    """Hessian-vector product of scalar f at `inputs` with `v`, by grad of grad.

    `inputs` and `v` are Tensors or equal-length sequences of them. Returns
    (f(inputs), H·v) with the same structure as `inputs`."""
    xs, single = _as_list(inputs, "hvp: inputs")
    vs, _ = _as_list(v, "hvp: v")
    if not xs:
        raise ValueError("hvp: inputs is empty")
    if len(vs) != len(xs):
        raise ValueError(f"hvp: v has {len(vs)} tensors but inputs has {len(xs)}; they must pair up")
    for i, (x, vi) in enumerate(zip(xs, vs)):
        if not isinstance(x, Tensor):
            raise TypeError(f"hvp: inputs[{i}] is a {type(x).__name__}, not a Tensor")
        if not isinstance(vi, Tensor):
            raise TypeError(f"hvp: v[{i}] is a {type(vi).__name__}, not a Tensor")
        if vi.shape != x.shape:  # mul2 would broadcast it silently
            raise ValueError(f"hvp: v[{i}] has shape {vi.shape} but inputs[{i}] has shape {x.shape}; "
                             "they must be equal")
    # The transform vhp (v^T H, equal to H v for the twice-differentiable f
    # this is meant for), without recording: the results are plain values. v
    # takes the dtype of its input, as the product with the gradient did.
    from . import func
    vs = [vi if vi.dtype == x.dtype else vi.to(x.dtype) for vi, x in zip(vs, xs)]
    with no_grad():
        return func._hessian_product("hvp", _C.func_vhp, f, xs[0] if single else xs, vs[0] if single else vs, "v")
