"""Composable function transforms, in the shape of torch.func and JAX.

    import nthgrad as ng
    from nthgrad import func

    f = lambda x: (x.tanh() ** 3).sum()
    func.grad(f)(x)                          # d f / dx
    func.grad(func.grad(lambda x: f(x)))     # compose to any order (a scalar each time)
    func.hessian(f)(x)                       # x.shape + x.shape
    func.jvp(f, (x,), (v,))                  # (f(x), J v): forward mode by the double-vjp trick
    func.hvp(f, x, v)                        # (f(x), H v)

Every transform evaluates `f` once at differentiable copies of the
differentiated arguments, so it sees ordinary tensors; the results are
themselves differentiable while grad mode is on, which is what makes
`grad(grad(f))` work. Under `ng.no_grad()` the transforms compute plain
values without recording. Jacobians and Hessians sweep the graph once per
row, all rows from one discovery of the graph, in C++ (`nthgrad::func`,
cpp/include/nthgrad/func.h, holds the same transforms for C++ users).

Arguments: `argnums` (an int or a tuple of ints) selects the positional
arguments to differentiate (they must be floating tensors; the others are
passed through untouched); `has_aux=True` means f returns `(output, aux)`,
and aux is handed back beside the result, undifferentiated. Outputs may be
a tensor or a tuple/list of tensors, and results follow those structures as
torch.func's do.
"""
from . import _C
from ._C import Tensor

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "hvp", "vhp"]


def _check_callable(api, f):
    if not callable(f):
        raise TypeError(f"{api}: f must be callable, got {type(f).__name__}")


def _argnums(api, argnums, nargs):
    """The differentiated positions as a tuple, and whether argnums was an int."""
    single = isinstance(argnums, int) and not isinstance(argnums, bool)
    nums = (argnums,) if single else argnums
    if not isinstance(nums, tuple) or not nums or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in nums):
        raise TypeError(f"{api}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    normalized = []
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{api}: argnums {i} is out of range for a function called with {nargs} "
                             "positional arguments")
        normalized.append(i % nargs)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{api}: argnums {argnums!r} names an argument twice")
    return tuple(normalized), single


def _tensors(api, what, xs):
    """A Tensor or a tuple/list of them, as a list, and whether it was one Tensor."""
    if isinstance(xs, Tensor):
        return [xs], True
    if isinstance(xs, (tuple, list)) and xs:
        for i, x in enumerate(xs):
            if not isinstance(x, Tensor):
                raise TypeError(f"{api}: {what}[{i}] is a {type(x).__name__}, not a Tensor")
        return list(xs), False
    raise TypeError(f"{api}: {what} must be a Tensor or a non-empty tuple of Tensors, got {type(xs).__name__}")


class _Traced:
    """f shaped for the C++ transforms: a function of the list of differentiated
    arguments that returns a list of tensors. Remembers the output structure
    and aux of the one call."""

    def __init__(self, api, f, args, nums, has_aux):
        self.api, self.f, self.args, self.nums, self.has_aux = api, f, list(args), nums, has_aux
        self.single_output = True
        self.aux = None

    def __call__(self, xs):
        args = list(self.args)
        for k, i in enumerate(self.nums):
            args[i] = xs[k]
        out = self.f(*args)
        if self.has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(f"{self.api}: with has_aux=True, f must return a pair (output, aux), got "
                                f"{type(out).__name__}")
            out, self.aux = out
        outs, self.single_output = _tensors(self.api, "the output of f", out)
        return outs

    def primals(self):
        xs = [self.args[i] for i in self.nums]
        for k, x in zip(self.nums, xs):
            if not isinstance(x, Tensor):
                raise TypeError(f"{self.api}: argument {k} (in argnums) is a {type(x).__name__}, not a Tensor")
        return xs

    def shape_outputs(self, outs):
        return outs[0] if self.single_output else tuple(outs)

    def with_aux(self, result):
        return (result, self.aux) if self.has_aux else result


def _traced(api, f, args, argnums, has_aux):
    _check_callable(api, f)
    nums, single = _argnums(api, argnums, len(args))
    t = _Traced(api, f, args, nums, has_aux)
    return t, t.primals(), single


def value_and_grad(f, argnums=0, has_aux=False):
    """A function returning (f(*args), gradient of f with respect to args[argnums]).

    f must return a one-element tensor (or (it, aux) with has_aux, giving
    ((value, aux), gradient)). The gradient is a tensor for an int argnums,
    a tuple for a tuple.

        loss, g = func.value_and_grad(lambda w: ((x @ w).tanh() ** 2).sum())(w)
    """
    def wrapper(*args):
        value, aux, g = _value_and_grad("value_and_grad", f, args, argnums, has_aux)
        return ((value, aux) if has_aux else value), g
    return wrapper


def _value_and_grad(api, f, args, argnums, has_aux):
    """(f's value, its aux, the gradient: a tensor, or a tuple for a tuple argnums)."""
    t, xs, single = _traced(api, f, args, argnums, has_aux)
    outs, gs = _C.func_value_and_grad(t, xs, api)
    if not t.single_output:
        raise TypeError(f"{api}: f must return one tensor, got a tuple of {len(outs)}; "
                        "use jacrev or vjp for several outputs")
    return outs[0], t.aux, (gs[0] if single else tuple(gs))


def grad(f, argnums=0, has_aux=False):
    """The gradient of a one-element f with respect to args[argnums], as a
    function of the same arguments (with has_aux: (gradient, aux)).

    `grad(grad(f))` is the second derivative of a scalar function, and so on
    to any order.

        d3 = func.grad(lambda x: func.grad(lambda x: func.grad(f)(x).sum())(x).sum())(x)
    """
    def wrapper(*args):
        _, aux, g = _value_and_grad("grad", f, args, argnums, has_aux)
        return (g, aux) if has_aux else g
    return wrapper


def vjp(f, *primals, has_aux=False):
    """(f(*primals), vjp_fn) -- with has_aux, (output, vjp_fn, aux).

    vjp_fn(cotangents), with cotangents structured as f's output (a tensor,
    or a tuple), returns the tuple J^T cotangents, one per primal. It may be
    called many times.

        out, vjp_fn = func.vjp(lambda x: x.sin(), x)
        (gx,) = vjp_fn(ng.ones(x.shape, x.dtype))          # cos(x)
    """
    if not primals:
        raise TypeError("vjp: needs at least one primal: vjp(f, x, ...)")
    t, xs, _ = _traced("vjp", f, primals, tuple(range(len(primals))), has_aux)
    outs, pull = _C.func_vjp(t, xs)

    def vjp_fn(cotangents):
        cs, single = _tensors("vjp", "cotangents", cotangents)
        if single != t.single_output:
            raise TypeError("vjp: cotangents must have the structure of f's output (" +
                            ("one Tensor" if t.single_output else f"a tuple of {len(outs)} Tensors") + ")")
        return tuple(pull(cs))

    result = (t.shape_outputs(outs), vjp_fn)
    return result + (t.aux,) if has_aux else result


def jvp(f, primals, tangents, has_aux=False):
    """(f(*primals), J tangents) -- with has_aux, (output, jvp_out, aux).

    primals and tangents are tuples of tensors of equal shapes (a single
    Tensor is accepted for each). Forward mode by the double-vjp trick: the
    vjp u -> J^T u is linear in u, so the gradient of <J^T u, tangents> with
    respect to u is J tangents; no forward-mode rules are needed.

        out, jv = func.jvp(lambda x: x.sin(), (x,), (v,))   # cos(x) * v
    """
    ps, _ = _tensors("jvp", "primals", primals)
    ts, _ = _tensors("jvp", "tangents", tangents)
    t, xs, _ = _traced("jvp", f, ps, tuple(range(len(ps))), has_aux)
    outs, jv = _C.func_jvp(t, xs, ts)
    result = (t.shape_outputs(outs), t.shape_outputs(jv))
    return result + (t.aux,) if has_aux else result


def _jacobian(api, kernel, f, argnums, has_aux):
    def wrapper(*args):
        t, xs, single = _traced(api, f, args, argnums, has_aux)
        blocks = kernel(t, xs)
        n = len(xs)
        per_output = [blocks[i * n:(i + 1) * n] for i in range(len(blocks) // n)]
        shaped = [b[0] if single else tuple(b) for b in per_output]
        return t.with_aux(t.shape_outputs(shaped))
    return wrapper


def jacrev(f, argnums=0, has_aux=False):
    """The Jacobian of f with respect to args[argnums] by reverse mode: for
    each output, a tensor of shape output.shape + arg.shape (a tuple over
    argnums for a tuple). One reverse sweep per output element.

        J = func.jacrev(lambda x: (A @ x).tanh())(x)        # (m, n)
    """
    return _jacobian("jacrev", _C.func_jacrev, f, argnums, has_aux)


def jacfwd(f, argnums=0, has_aux=False):
    """The Jacobian of f, as jacrev's, by forward mode (the double-vjp
    trick): one sweep per element of the differentiated arguments, cheaper
    than jacrev when they are smaller than the outputs.

        J = func.jacfwd(lambda x: (A @ x).tanh())(x)        # equal to jacrev's
    """
    return _jacobian("jacfwd", _C.func_jacfwd, f, argnums, has_aux)


def hessian(f, argnums=0):
    """The Hessian of a one-element f with respect to args[argnums]: a tensor
    of shape arg.shape + arg.shape, or for a tuple argnums a tuple of tuples
    H[i][j] of shape args[i].shape + args[j].shape (as jacfwd(jacrev(f))).

        H = func.hessian(lambda w: ((x @ w).tanh() ** 2).sum())(w)
    """
    def wrapper(*args):
        t, xs, single = _traced("hessian", f, args, argnums, False)
        blocks = _C.func_hessian(t, xs)
        if not t.single_output:
            raise TypeError("hessian: f must return one tensor")
        n = len(xs)
        if single:
            return blocks[0]
        return tuple(tuple(blocks[i * n:(i + 1) * n]) for i in range(n))
    return wrapper


def _hessian_product(api, kernel, f, primals, v, v_name):
    _check_callable(api, f)
    ps, single = _tensors(api, "primals", primals)
    vs, _ = _tensors(api, v_name, v)
    t = _Traced(api, f, ps, tuple(range(len(ps))), False)
    y, out = kernel(t, ps, vs, api)
    if not t.single_output:
        raise TypeError(f"{api}: f must return one tensor")
    return y, (out[0] if single else tuple(out))


def hvp(f, primals, tangents):
    """(f(*primals), H tangents) for a one-element f: forward over reverse,
    exact for any f. Structured as primals (a Tensor or a tuple).

        value, hv = func.hvp(lambda w: ((x @ w).tanh() ** 2).sum(), w, v)
    """
    return _hessian_product("hvp", _C.func_hvp, f, primals, tangents, "tangents")


def vhp(f, primals, v):
    """(f(*primals), v^T H) for a one-element f: reverse over reverse, one
    sweep cheaper than hvp and equal to it wherever f is twice continuously
    differentiable (the Hessian is then symmetric).

        value, vh = func.vhp(lambda w: ((x @ w).tanh() ** 2).sum(), w, v)
    """
    return _hessian_product("vhp", _C.func_vhp, f, primals, v, "v")
