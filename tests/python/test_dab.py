"""The differentiable approximation bridge (nthgrad.dab.DAB): the reference
code's gradient flow pinned against a hand computation, second and third
derivatives through the bridge against closed forms and finite
differences, hard functions of NumPy arrays and of other shapes, the module
interface, memory and bad input."""
import numpy as np
import pytest

import nthgrad as ng
import nthgrad.nn as nn
from nthgrad import hard
from nthgrad.dab import DAB

RNG = np.random.default_rng(7)
F_IN, HIDDEN, B = 4, 6, 3


def _t(a, requires_grad=False):
    return ng.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def _approximator(w1, b1, w2, b2):
    net = nn.Sequential(nn.Linear(F_IN, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, F_IN)).double()
    with ng.no_grad():
        for p, v in zip(net.parameters(), (w1, b1, w2, b2)):
            p.copy_(_t(v))
    return net


def _weights():
    return (RNG.normal(size=(HIDDEN, F_IN)), RNG.normal(size=HIDDEN) * 0.1, RNG.normal(size=(F_IN, HIDDEN)),
            RNG.normal(size=F_IN) * 0.1)


def _z():
    z = RNG.normal(size=(B, F_IN))
    z[np.abs(np.abs(z) - 0.5) < 0.05] += 0.2  # away from signum's steps at +-0.5
    return z


def test_gradient_flow_is_the_reference_codes_against_a_hand_computation():
    w1, b1, w2, b2 = _weights()
    z0, c, gamma = _z(), RNG.normal(size=(B, F_IN)), 10.0
    dab = DAB(_approximator(w1, b1, w2, b2), hard.signum, gamma=gamma)
    z = _t(z0, requires_grad=True)
    h = dab(z)
    loss = (h * _t(c)).sum() + gamma * dab.loss().sum()
    params = list(dab.approximator.parameters())
    grads = ng.grad(loss, [z] + params)

    # by hand: s = tanh(z W1^T + b1) W2^T + b2, h = signum(z)
    a = np.tanh(z0 @ w1.T + b1)
    s = a @ w2.T + b2
    h0 = np.where(z0 > 0.5, 1.0, np.where(z0 < -0.5, -1.0, 0.0))
    np.testing.assert_array_equal(np.asarray(h), h0)
    np.testing.assert_allclose(np.asarray(dab.loss()), ((s - h0) ** 2).sum(1), rtol=1e-13)
    # 1. the gradient reaching h flows to z as J_approx(z)^T c (the DAB loss adds nothing to z)
    dz = ((c @ w2) * (1 - a ** 2)) @ w1
    np.testing.assert_allclose(np.asarray(grads[0]), dz, rtol=1e-12, atol=1e-14)
    # 2. the approximator is trained by gamma * loss only (c does not reach it)
    ds = gamma * 2 * (s - h0)
    du = (ds @ w2) * (1 - a ** 2)
    for got, want in zip(grads[1:], (du.T @ z0, du.sum(0), ds.T @ a, ds.sum(0))):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-13)


def test_the_dab_loss_sends_exactly_nothing_into_z_and_h_trains_nothing():
    dab = DAB(_approximator(*_weights()), hard.signum)
    z = _t(_z(), requires_grad=True)
    h = dab(z)
    (gz,) = ng.grad(dab.loss().sum(), [z], retain_graph=True)
    np.testing.assert_array_equal(np.asarray(gz), 0.0)  # the two paths cancel exactly
    grads = ng.grad((h * _t(RNG.normal(size=(B, F_IN)))).sum(), list(dab.approximator.parameters()))
    for g in grads:
        np.testing.assert_array_equal(np.asarray(g), 0.0)


def _derivatives(model, z0, v, w, q, order=3):
    """Directional derivatives of L = sum(tanh(q * model(z))) at z0: dL/dz, D^2 L [v], D^3 L [v, w]."""
    z = _t(z0, requires_grad=True)
    loss = (model(z) * _t(q)).tanh().sum()
    (g1,) = ng.grad(loss, [z], create_graph=True)
    (g2,) = ng.grad((g1 * _t(v)).sum(), [z], create_graph=order >= 3)
    out = [np.asarray(g1), np.asarray(g2)]
    if order >= 3:
        (g3,) = ng.grad((g2 * _t(w)).sum(), [z])
        out.append(np.asarray(g3))
    return out


def _frozen_in_place(dab, z0):
    """The approximator frozen in place of the hard function: z -> s(z) - s(z0) + hard(z0). At z0 it has the
    hard function's value and, at every order, the derivatives the bridge gives h."""
    with ng.no_grad():
        offset = dab.hard(_t(z0)) - dab.approximator(_t(z0))
    return lambda z: dab.approximator(z) + offset


def test_second_and_third_derivatives_through_the_bridge_are_the_closed_form():
    # approximator s = tanh(u), u = z W^T; L = sum l(h), l(x) = tanh(q x). Through the bridge h has s's
    # derivatives, so per component f(u) = l(s(u)) with l's derivatives taken at h's value:
    # f1 = l1 s1, f2 = l2 s1^2 + l1 s2, f3 = l3 s1^3 + 3 l2 s1 s2 + l1 s3.
    wm = RNG.normal(size=(F_IN, F_IN)) * 0.7
    net = nn.Sequential(nn.Linear(F_IN, F_IN, bias=False), nn.Tanh()).double()
    with ng.no_grad():
        net[0].weight.copy_(_t(wm))
    dab = DAB(net, hard.signum)
    z0, v, w, q = _z(), RNG.normal(size=(B, F_IN)), RNG.normal(size=(B, F_IN)), RNG.normal(size=(B, F_IN))
    g1, g2, g3 = _derivatives(dab, z0, v, w, q)
    h0 = np.where(z0 > 0.5, 1.0, np.where(z0 < -0.5, -1.0, 0.0))
    t = np.tanh(q * h0)
    l1, l2, l3 = q * (1 - t ** 2), -2 * q ** 2 * t * (1 - t ** 2), -2 * q ** 3 * (1 - t ** 2) * (1 - 3 * t ** 2)
    s = np.tanh(z0 @ wm.T)
    s1, s2, s3 = 1 - s ** 2, -2 * s * (1 - s ** 2), (6 * s ** 2 - 2) * (1 - s ** 2)
    f1, f2, f3 = l1 * s1, l2 * s1 ** 2 + l1 * s2, l3 * s1 ** 3 + 3 * l2 * s1 * s2 + l1 * s3
    np.testing.assert_allclose(g1, f1 @ wm, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g2, (f2 * (v @ wm.T)) @ wm, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(g3, (f3 * (v @ wm.T) * (w @ wm.T)) @ wm, rtol=1e-11, atol=1e-14)


def test_higher_derivatives_match_finite_differences_of_the_approximator_frozen_in_place():
    dab = DAB(_approximator(*_weights()), hard.signum)
    z0, v, w, q = _z(), RNG.normal(size=(B, F_IN)), RNG.normal(size=(B, F_IN)), RNG.normal(size=(B, F_IN))
    g1, g2, g3 = _derivatives(dab, z0, v, w, q)
    ref = _frozen_in_place(dab, z0)
    e = 1e-5
    np.testing.assert_allclose(g1, _derivatives(ref, z0, v, w, q, 2)[0], rtol=1e-12, atol=1e-14)
    fd2 = (_derivatives(ref, z0 + e * v, v, w, q, 2)[0] - _derivatives(ref, z0 - e * v, v, w, q, 2)[0]) / (2 * e)
    np.testing.assert_allclose(g2, fd2, rtol=1e-7, atol=1e-9)
    fd3 = (_derivatives(ref, z0 + e * w, v, w, q, 2)[1] - _derivatives(ref, z0 - e * w, v, w, q, 2)[1]) / (2 * e)
    np.testing.assert_allclose(g3, fd3, rtol=1e-6, atol=1e-9)


def test_the_bridged_gradient_is_differentiable_in_the_approximators_parameters():
    # MAML-style: d/dW1 of <dL/dz, r>, against a finite difference in W1.
    weights = _weights()
    z0, r = _z(), RNG.normal(size=(B, F_IN))

    def inner(w1):
        dab = DAB(_approximator(w1, *weights[1:]), hard.signum)
        z = _t(z0, requires_grad=True)
        (gz,) = ng.grad(dab(z).sum(), [z], create_graph=True)
        return dab, (gz * _t(r)).sum()

    dab, m = inner(weights[0])
    (gw1,) = ng.grad(m, [dab.approximator[0].weight])
    e, i = 1e-6, (2, 1)
    wp, wm = weights[0].copy(), weights[0].copy()
    wp[i] += e
    wm[i] -= e
    fd = (inner(wp)[1].item() - inner(wm)[1].item()) / (2 * e)
    assert abs(np.asarray(gw1)[i] - fd) < 1e-7 * max(1.0, abs(fd))


def test_a_hard_function_of_numpy_arrays():
    calls = []

    def step(a):
        calls.append(type(a))
        return np.where(a > 0, 1.0, -1.0)

    weights = _weights()
    z0 = _z()
    ours = DAB(_approximator(*weights), step, numpy=True)
    ref = DAB(_approximator(*weights), lambda t: hard.signum(t, 0.0) + (t == 0) * -1.0)
    z1, z2 = _t(z0, requires_grad=True), _t(z0, requires_grad=True)
    y1, y2 = ours(z1), ref(z2)
    assert calls == [np.ndarray]
    np.testing.assert_array_equal(np.asarray(y1), np.where(z0 > 0, 1.0, -1.0))
    (g1,) = ng.grad(y1.sum() + ours.loss().sum(), [z1])
    (g2,) = ng.grad(y2.sum() + ref.loss().sum(), [z2])
    np.testing.assert_array_equal(np.asarray(g1), np.asarray(g2))


def test_a_hard_function_that_changes_the_shape():
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 12)).double()
    dab = DAB(net, hard.sort, gamma=2.0)
    z0 = RNG.normal(size=(B, 2, 3))
    z = _t(z0, requires_grad=True)
    y = dab(z)
    assert y.shape == (B, 12) and dab.loss().shape == (B,)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(hard.sort(_t(z0))))
    c = RNG.normal(size=(B, 12))
    (gz,) = ng.grad((y * _t(c)).sum(), [z])
    wm = np.asarray(net[1].weight)
    np.testing.assert_allclose(np.asarray(gz), (c @ wm).reshape(B, 2, 3), rtol=1e-13)


def test_module_interface():
    dab = DAB(nn.Linear(4, 4), hard.signum, gamma=3)
    assert dab.gamma == 3.0 and isinstance(dab.gamma, float)
    assert sorted(dict(dab.named_parameters())) == ["approximator.bias", "approximator.weight"]
    assert "hard=signum, gamma=3.0" in repr(dab)
    assert dab.soft is None
    y = dab(ng.ones((2, 4)))
    assert y.dtype == ng.float32 and dab.soft.shape == (2, 4)
    assert set(np.unique(np.asarray(y))) <= {1.0}
    dab.double()
    assert dab(_t(np.ones((2, 4)))).dtype == ng.float64
    frozen = DAB(nn.Linear(4, 4).requires_grad_(False), hard.signum)
    out = frozen(ng.ones((2, 4)))  # nothing requires grad: a constant, no error
    assert not out.requires_grad


def test_training_steps_do_not_grow_memory():
    dab = DAB(_approximator(*_weights()), hard.signum)
    opt = ng.optim.SGD(dab.parameters(), lr=0.01)
    counts = []
    for _ in range(4):
        z = _t(_z(), requires_grad=True)
        loss = dab(z).sum() + dab.loss().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        del z, loss
        counts.append(ng.live_counts()["nodes"])
    assert counts[1] == counts[2] == counts[3]


def test_bad_input():
    with pytest.raises(TypeError, match="approximator must be a Module or a callable"):
        DAB(3, hard.signum)
    with pytest.raises(TypeError, match="hard must be a callable"):
        DAB(nn.Linear(2, 2), "signum")
    dab = DAB(nn.Linear(4, 3), hard.signum)
    with pytest.raises(RuntimeError, match="call the DAB on a batch first"):
        dab.loss()
    with pytest.raises(ValueError, match=r"h has shape \(2, 4\) but the approximator's output s has shape \(2, 3\)"):
        dab(ng.ones((2, 4)))
    with pytest.raises(TypeError, match="not a Tensor"):
        DAB(lambda z: np.zeros((2, 4)), hard.signum)(ng.ones((2, 4)))
    z = _t(_z(), requires_grad=True)
    good = DAB(_approximator(*_weights()), hard.signum)
    h = good(z)
    h.sum().backward()
    with pytest.raises(RuntimeError, match="dab_bridge: .*second time"):
        h.sum().backward()


def test_empty_batch_and_deepcopy_after_a_step():
    import copy
    dab = DAB(nn.Linear(3, 3).double(), hard.signum)
    y = dab(_t(np.zeros((0, 3)), requires_grad=True))
    assert y.shape == (0, 3) and dab.loss().shape == (0,)
    model = nn.Sequential(nn.Linear(3, 3), DAB(nn.Linear(3, 3), hard.signum))
    (model(ng.ones((2, 3))).sum() + model[1].loss().sum()).backward()
    twin = copy.deepcopy(model)
    assert twin[1].soft is None
    np.testing.assert_array_equal(np.asarray(twin[1].approximator.weight), np.asarray(model[1].approximator.weight))
    np.testing.assert_array_equal(np.asarray(twin(ng.ones((2, 3)))), np.asarray(model(ng.ones((2, 3)))))


@pytest.mark.parametrize("gamma", [-1.0, float("nan"), float("inf"), "10", True])
def test_gamma_must_be_a_finite_non_negative_number(gamma):
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        DAB(nn.Linear(2, 2), hard.signum, gamma=gamma)
