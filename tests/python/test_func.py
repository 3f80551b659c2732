"""nthgrad.func: every transform against central finite differences (float64)
and against each other (jacfwd = jacrev, hessian = jacfwd(jacrev),
hvp = hessian v, jvp = J t), to several orders, with several inputs and
outputs, has_aux, closures, grad mode, and bad input."""
import numpy as np
import pytest

import nthgrad as ng
from nthgrad import func

RNG = np.random.default_rng(7)
EPS = 1e-6


def t64(a, requires_grad=False):
    return ng.tensor(np.asarray(a, dtype=np.float64), dtype=ng.float64, requires_grad=requires_grad)


def fd_jacobian(f, args, argnum, out_index=None):
    """d f(*args)[out_index] / d args[argnum] by central differences, shaped
    out.shape + arg.shape (f of NumPy-valued tensors, evaluated without grad)."""
    base = [np.asarray(a.numpy(), dtype=np.float64) for a in args]

    def value(arrays):
        with ng.no_grad():
            out = f(*[t64(a) for a in arrays])
        out = out if out_index is None else out[out_index]
        return np.asarray(out.numpy())

    y0 = value(base)
    x = base[argnum]
    jac = np.zeros(y0.shape + x.shape)
    for k in np.ndindex(x.shape):
        plus = [a.copy() for a in base]
        minus = [a.copy() for a in base]
        plus[argnum][k] += EPS
        minus[argnum][k] -= EPS
        jac[(Ellipsis,) + k] = (value(plus) - value(minus)) / (2 * EPS)
    return jac


def close(a, b, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(np.asarray(a.numpy() if hasattr(a, "numpy") else a),
                               np.asarray(b.numpy() if hasattr(b, "numpy") else b), rtol=rtol, atol=atol)


# Two inputs of different shapes, two outputs of different shapes.
def two_by_two(x, w):
    h = (x.reshape((1, 3)) @ w).tanh()          # (1, 2)
    return (h * x[:2].reshape((1, 2))).sin(), (x.exp() * w.sum()).sum()


def scalar_loss(x, w):
    return ((x.reshape((1, 3)) @ w).tanh() ** 3).sum() + (x * x.sin()).sum()


X = RNG.normal(size=3) * 0.7
W = RNG.normal(size=(3, 2)) * 0.7


def args():
    return t64(X), t64(W)


class TestGrad:
    def test_matches_finite_differences_for_each_argnum(self):
        x, w = args()
        gx, gw = func.grad(scalar_loss, argnums=(0, 1))(x, w)
        close(gx, fd_jacobian(scalar_loss, [x, w], 0))
        close(gw, fd_jacobian(scalar_loss, [x, w], 1))
        close(func.grad(scalar_loss, argnums=-1)(x, w), gw)
        assert gx.shape == x.shape and not gx.requires_grad

    def test_third_derivative_composes_to_closed_form(self):
        # d^3/dx^3 of sum(sin(x) * x): -3 sin(x) - x cos(x)
        f = lambda x: (x.sin() * x).sum()
        d1 = func.grad(f)
        d2 = func.grad(lambda x: d1(x).sum())
        d3 = func.grad(lambda x: d2(x).sum())
        x = t64(X)
        close(d3(x), -3 * np.sin(X) - X * np.cos(X), rtol=1e-12, atol=1e-12)

    def test_grad_of_grad_of_grad_composes_directly_on_a_scalar(self):
        # grad(grad(grad(f))) as in JAX: each level returns a one-element tensor
        f = lambda x: x.sin() * x
        x = t64(0.7)
        close(func.grad(func.grad(func.grad(f)))(x), -3 * np.sin(0.7) - 0.7 * np.cos(0.7), rtol=1e-14)
        close(func.grad(func.grad(func.grad(func.grad(f))))(x), -4 * np.cos(0.7) + 0.7 * np.sin(0.7), rtol=1e-14)

    def test_value_and_grad_and_aux(self):
        x, w = args()
        (value, aux), g = func.value_and_grad(lambda x, w: (scalar_loss(x, w), x * 2), has_aux=True)(x, w)
        close(value, scalar_loss(x, w))
        close(aux, X * 2)
        close(g, fd_jacobian(scalar_loss, [x, w], 0))
        g2, aux2 = func.grad(lambda x: (scalar_loss(x, w), "tag"), has_aux=True)(x)
        assert aux2 == "tag"
        close(g2, g)

    def test_closure_tensor_stays_differentiable(self):
        # d/dw of (d/dx sum(x * w)) = d/dw w summed: a gradient through a captured tensor
        x = t64(X)
        w = t64([1.5, -2.0, 0.5], requires_grad=True)
        gx = func.grad(lambda x: (x * x * w).sum())(x)  # 2 x w
        assert gx.requires_grad
        (gw,) = ng.grad(gx.sum(), [w])
        close(gw, 2 * X)

    def test_plain_values_without_outside_dependence_or_under_no_grad(self):
        x = t64(X)
        assert not func.grad(lambda x: x.tanh().sum())(x).requires_grad
        xr = t64(X, requires_grad=True)
        with ng.no_grad():
            g = func.grad(lambda x: (x ** 3).sum())(xr)
        assert not g.requires_grad
        close(g, 3 * X ** 2)
        g = func.grad(lambda x: (x ** 3).sum())(xr)  # a primal requiring grad: the result is differentiable
        (h,) = ng.grad(g.sum(), [xr])
        close(h, 6 * X)

    def test_maml_style_inner_step_is_differentiated_through(self):
        # loss(w - lr * grad loss(w)): its gradient needs the Hessian of the inner loss
        data = t64(RNG.normal(size=(4, 3)))
        inner = lambda w: ((data @ w).tanh() ** 2).sum()
        lr = 0.1

        def outer(w):
            return inner(w - lr * func.grad(inner)(w))

        w = t64(RNG.normal(size=(3,)) * 0.5)
        close(func.grad(outer)(w), fd_jacobian(outer, [w], 0), rtol=1e-6)

    def test_float32(self):
        x = ng.tensor(X.astype(np.float32), dtype=ng.float32)
        g = func.grad(lambda x: (x.sin() * x).sum())(x)
        assert g.dtype == ng.float32
        close(g, np.sin(X) + X * np.cos(X), rtol=1e-5, atol=1e-6)

    def test_unused_argument_gets_zeros(self):
        x, w = args()
        gx, gw = func.grad(lambda x, w: x.sum() * 2, argnums=(0, 1))(x, w)
        close(gx, np.full(3, 2.0))
        close(gw, np.zeros((3, 2)))


class TestJacobians:
    def test_jacrev_and_jacfwd_match_finite_differences_and_each_other(self):
        x, w = args()
        for transform in (func.jacrev, func.jacfwd):
            (jxx, jxw), (jyx, jyw) = transform(two_by_two, argnums=(0, 1))(x, w)
            assert jxx.shape == (1, 2, 3) and jxw.shape == (1, 2, 3, 2)
            assert jyx.shape == (3,) and jyw.shape == (3, 2)
            close(jxx, fd_jacobian(two_by_two, [x, w], 0, 0))
            close(jxw, fd_jacobian(two_by_two, [x, w], 1, 0))
            close(jyx, fd_jacobian(two_by_two, [x, w], 0, 1))
            close(jyw, fd_jacobian(two_by_two, [x, w], 1, 1))
        rev = func.jacrev(two_by_two, argnums=(0, 1))(x, w)
        fwd = func.jacfwd(two_by_two, argnums=(0, 1))(x, w)
        for r, f in zip(rev, fwd):
            for a, b in zip(r, f):
                close(a, b, rtol=1e-12, atol=1e-14)

    def test_single_argnum_gives_a_tensor_and_aux_is_returned(self):
        x, w = args()
        j, aux = func.jacrev(lambda x: (x.tanh(), 7), has_aux=True)(x)
        assert aux == 7
        close(j, np.diag(1 - np.tanh(X) ** 2))
        close(func.jacfwd(lambda x: x.tanh())(x), j, rtol=1e-12)

    def test_many_rows_span_several_sweeps(self):
        # 150 outputs: more rows than one sweep batch (64)
        a = t64(RNG.normal(size=(150, 4)))
        x = t64(RNG.normal(size=4))
        j = func.jacrev(lambda x: (a @ x).sin())(x)
        close(j, np.cos(a.numpy() @ x.numpy())[:, None] * a.numpy(), rtol=1e-12)
        close(func.jacfwd(lambda x: (a @ x).sin())(x), j, rtol=1e-12)

    def test_output_independent_of_input_and_empty_input(self):
        x = t64(X)
        c = t64([1.0, 2.0])
        close(func.jacrev(lambda x: c * 2)(x), np.zeros((2, 3)))
        close(func.jacfwd(lambda x: c * 2)(x), np.zeros((2, 3)))
        e = t64(np.zeros((0,)))
        assert func.jacrev(lambda e: e * 2)(e).shape == (0, 0)

    def test_jacobian_of_jacobian_is_the_hessian(self):
        x = t64(X)
        f = lambda x: (x.sin() * x.exp()).sum()
        h1 = func.jacfwd(func.jacrev(f))(x)
        h2 = func.jacrev(func.jacrev(f))(x)
        h = func.hessian(f)(x)
        close(h, np.diag(2 * np.cos(X) * np.exp(X)), rtol=1e-12, atol=1e-14)
        close(h1, h, rtol=1e-12)
        close(h2, h, rtol=1e-12)


class TestHessianProducts:
    def test_hessian_blocks_match_finite_differences_of_the_gradient(self):
        x, w = args()
        (hxx, hxw), (hwx, hww) = func.hessian(scalar_loss, argnums=(0, 1))(x, w)
        assert hxw.shape == (3, 3, 2) and hwx.shape == (3, 2, 3)
        gx = lambda x, w: func.grad(scalar_loss, argnums=0)(x, w)
        gw = lambda x, w: func.grad(scalar_loss, argnums=1)(x, w)
        close(hxx, fd_jacobian(gx, [x, w], 0), rtol=1e-5, atol=1e-7)
        close(hxw, fd_jacobian(gx, [x, w], 1), rtol=1e-5, atol=1e-7)
        close(hwx, fd_jacobian(gw, [x, w], 0), rtol=1e-5, atol=1e-7)
        close(hww, fd_jacobian(gw, [x, w], 1), rtol=1e-5, atol=1e-7)
        close(hxw.numpy(), np.transpose(hwx.numpy(), (2, 0, 1)), rtol=1e-12, atol=1e-14)
        fwd = func.jacfwd(func.jacrev(scalar_loss, argnums=(0, 1)), argnums=(0, 1))(x, w)
        for row, frow in zip(((hxx, hxw), (hwx, hww)), fwd):
            for a, b in zip(row, frow):
                close(a, b, rtol=1e-12, atol=1e-14)

    def test_hvp_and_vhp_equal_hessian_times_v(self):
        x, w = args()
        vx, vw = t64(RNG.normal(size=3)), t64(RNG.normal(size=(3, 2)))
        (hxx, hxw), (hwx, hww) = func.hessian(scalar_loss, argnums=(0, 1))(x, w)
        want_x = hxx.numpy() @ vx.numpy() + np.tensordot(hxw.numpy(), vw.numpy(), 2)
        want_w = np.tensordot(hwx.numpy(), vx.numpy(), 1) + np.tensordot(hww.numpy(), vw.numpy(), 2)
        for transform in (func.hvp, func.vhp):
            y, (hx, hw) = transform(scalar_loss, (x, w), (vx, vw))
            close(y, scalar_loss(x, w))
            close(hx, want_x, rtol=1e-12, atol=1e-13)
            close(hw, want_w, rtol=1e-12, atol=1e-13)
        y, hv = func.hvp(lambda x: (x ** 4).sum(), x, vx)
        close(hv, 12 * X ** 2 * vx.numpy(), rtol=1e-12)
        y, hv = ng.autograd.hvp(lambda x: (x ** 4).sum(), x, vx)  # the older name
        close(hv, 12 * X ** 2 * vx.numpy(), rtol=1e-12)
        assert not hv.requires_grad

    def test_hvp_of_a_function_with_a_kink_is_forward_over_reverse(self):
        # H of relu(x)^2 summed is diag(2 [x > 0]); hvp takes H v exactly
        x = t64([-1.0, 0.5, 2.0])
        v = t64([1.0, 1.0, 1.0])
        _, hv = func.hvp(lambda x: (x.relu() ** 2).sum(), x, v)
        close(hv, [0.0, 2.0, 2.0])


class TestVjpJvp:
    def test_jvp_is_jacobian_times_tangent(self):
        x, w = args()
        tx, tw = t64(RNG.normal(size=3)), t64(RNG.normal(size=(3, 2)))
        (o1, o2), (j1, j2) = func.jvp(two_by_two, (x, w), (tx, tw))
        close(o1, two_by_two(x, w)[0])
        jac = func.jacrev(two_by_two, argnums=(0, 1))(x, w)
        want1 = np.tensordot(jac[0][0].numpy(), tx.numpy(), 1) + np.tensordot(jac[0][1].numpy(), tw.numpy(), 2)
        want2 = np.tensordot(jac[1][0].numpy(), tx.numpy(), 1) + np.tensordot(jac[1][1].numpy(), tw.numpy(), 2)
        close(j1, want1, rtol=1e-12, atol=1e-14)
        close(j2, want2, rtol=1e-12, atol=1e-14)

    def test_jvp_of_jvp_gives_second_directional_derivative(self):
        # d^2/ds^2 f(x + s v) = v^T H v
        x = t64(X)
        v = t64(RNG.normal(size=3))
        f = lambda x: (x.sin() * x.exp()).sum()
        first = lambda x: func.jvp(f, (x,), (v,))[1]
        _, second = func.jvp(first, (x,), (v,))
        close(second, np.sum(2 * np.cos(X) * np.exp(X) * v.numpy() ** 2), rtol=1e-12)

    def test_jvp_with_aux_and_single_tensor(self):
        x = t64(X)
        out, jv, aux = func.jvp(lambda x: (x.exp(), "a"), x, t64(np.ones(3)), has_aux=True)
        assert aux == "a"
        close(jv, np.exp(X))

    def test_vjp_function_can_be_called_twice(self):
        x, w = args()
        (o1, o2), pull = func.vjp(two_by_two, x, w)
        c1, c2 = t64(RNG.normal(size=(1, 2))), t64(2.0)
        gx, gw = pull((c1, c2))
        jac = func.jacrev(two_by_two, argnums=(0, 1))(x, w)
        close(gx, np.tensordot(c1.numpy(), jac[0][0].numpy(), 2) + 2.0 * jac[1][0].numpy(), rtol=1e-12)
        gx2, gw2 = pull((c1, c2))
        close(gx2, gx, rtol=0, atol=0)
        close(gw2, gw, rtol=0, atol=0)


class TestBadInput:
    def test_grad_of_a_non_scalar_function(self):
        with pytest.raises(ValueError, match=r"grad: f must return a one-element tensor .* got shape \(3,\)"):
            func.grad(lambda x: x * 2)(t64(X))
        with pytest.raises(ValueError, match=r"hessian: f must return a one-element tensor"):
            func.hessian(lambda x: x * 2)(t64(X))
        with pytest.raises(TypeError, match="grad: f must return one tensor, got a tuple of 2"):
            func.grad(lambda x: (x.sum(), x.sum()))(t64(X))

    def test_tangents_and_cotangents_of_the_wrong_shape(self):
        x = t64(X)
        with pytest.raises(ValueError, match=r"jvp: tangents\[0\] has shape \(2,\) but primals\[0\] has shape \(3,\)"):
            func.jvp(lambda x: x.sin(), (x,), (t64([1.0, 2.0]),))
        with pytest.raises(ValueError, match=r"jvp: got 1 tangents for 2 primals"):
            func.jvp(lambda x, y: x * y, (x, x), (x,))
        with pytest.raises(TypeError, match=r"jvp: tangents\[0\] is float32 but primals\[0\] is float64"):
            func.jvp(lambda x: x.sin(), (x,), (ng.tensor(X, dtype=ng.float32),))
        with pytest.raises(ValueError, match=r"hvp: tangents\[0\] has shape \(1,\)"):
            func.hvp(lambda x: x.sum(), x, t64([1.0]))
        _, pull = func.vjp(lambda x: x.sin(), x)
        with pytest.raises(ValueError, match=r"vjp: cotangents\[0\] has shape \(2,\) but outputs\[0\] has shape \(3,\)"):
            pull(t64([1.0, 2.0]))
        with pytest.raises(TypeError, match="vjp: cotangents must have the structure of f's output"):
            pull((x, x))

    def test_argnums_and_arguments(self):
        x = t64(X)
        with pytest.raises(ValueError, match="grad: argnums 2 is out of range for a function called with 1"):
            func.grad(lambda x: x.sum(), argnums=2)(x)
        with pytest.raises(ValueError, match="names an argument twice"):
            func.grad(lambda x, y: x.sum(), argnums=(0, -2))(x, x)
        with pytest.raises(TypeError, match="argnums must be an int or a non-empty tuple of ints"):
            func.grad(lambda x: x.sum(), argnums=[0])(x)
        with pytest.raises(TypeError, match="argnums must be an int"):
            func.jacrev(lambda x: x, argnums=True)(x)
        with pytest.raises(TypeError, match=r"grad: argument 0 \(in argnums\) is a list, not a Tensor"):
            func.grad(lambda x: x.sum())([1.0, 2.0])
        with pytest.raises(TypeError, match=r"grad: primals\[0\] is int64 with shape \(3,\); transforms "
                                            "differentiate floating tensors only"):
            func.grad(lambda x: x.sum())(ng.tensor(np.arange(3)))
        with pytest.raises(TypeError, match="f must be callable"):
            func.grad(3)(x)

    def test_function_results(self):
        x = t64(X)
        with pytest.raises(TypeError, match="with has_aux=True, f must return a pair"):
            func.grad(lambda x: x.sum(), has_aux=True)(x)
        with pytest.raises(TypeError, match=r"jacrev: the output of f must be a Tensor or a non-empty tuple"):
            func.jacrev(lambda x: 3.0)(x)
        with pytest.raises(TypeError, match=r"jacrev: the output of f\[1\] is a int, not a Tensor"):
            func.jacrev(lambda x: (x, 3))(x)

    def test_an_exception_inside_f_propagates_and_restores_grad_mode(self):
        x = t64(X)

        def boom(x):
            raise KeyError("inside f")

        with ng.no_grad():
            with pytest.raises(KeyError, match="inside f"):
                func.grad(boom)(x)
            assert not ng.is_grad_enabled()
        assert ng.is_grad_enabled()
