"""nthgrad.snn: the LIF and LI updates against a NumPy restatement of Norse
1.1.0's equations over 50 steps (spikes identical, states equal), BPTT
gradients against a finite difference of the restatement with the surrogate
in place, higher orders, learnable alpha, encoders, modules, bad input."""
import numpy as np
import pytest

import nthgrad as ng
from nthgrad import snn

DT = 1e-3
ALPHA = 10.0


def h_super(x, alpha=ALPHA):
    """The smooth step whose derivative is SuperSpike's sigma': x / (1 + alpha |x|)."""
    return x / (1 + alpha * np.abs(x))


def np_lif_recurrent(xs, w_in, w_rec, p, h_ref=None, v_ref=None):
    """Norse 1.1.0's lif_step over xs (T, B, I), in NumPy. With the reference
    run's spikes and membrane (h_ref, v_ref), the spike is
    H_ref + h(v - v_th) - h(v_ref - v_th): the same value, and the derivative
    of the surrogate -- so a finite difference of this function is the
    surrogate gradient. Returns (spikes (T, B, H), membranes before reset)."""
    T, B, _ = xs.shape
    H = w_in.shape[0]
    z, v, i = np.zeros((B, H)), np.zeros((B, H)), np.zeros((B, H))
    zs, vs = [], []
    for t in range(T):
        i = i + xs[t] @ w_in.T + z @ w_rec.T
        v = v + DT * p.tau_mem_inv * ((p.v_leak - v) + i)
        i = i - DT * p.tau_syn_inv * i
        vs.append(v)
        spike = (v - p.v_th > 0).astype(float)
        if h_ref is not None:
            z = h_ref[t] + h_super(v - p.v_th) - h_super(v_ref[t] - p.v_th)
        else:
            z = spike
        v = (1 - spike) * v + spike * p.v_reset  # the reset with z detached: the spike's value only
        zs.append(z)
    return np.array(zs), np.array(vs)


def _setup(seed=0, T=50, B=3, I=4, H=5):
    rng = np.random.default_rng(seed)
    xs = rng.uniform(0, 1, (T, B, I))
    w_in = rng.normal(2.0, 1.5, (H, I))
    w_rec = rng.normal(0.0, 0.5, (H, H))
    return xs, w_in, w_rec


P = snn.LIFParameters(alpha=ALPHA)


def _run_nthgrad(xs, w_in, w_rec, p=P):
    w_in_t, w_rec_t = ng.tensor(w_in, requires_grad=True), ng.tensor(w_rec, requires_grad=True)
    state, zs = None, []
    for t in range(xs.shape[0]):
        z, state = snn.lif_step(ng.tensor(xs[t]), state, w_in_t, w_rec_t, p)
        zs.append(z)
    return zs, w_in_t, w_rec_t


def test_recurrent_lif_matches_the_numpy_restatement_over_50_steps():
    xs, w_in, w_rec = _setup()
    zs, _, _ = _run_nthgrad(xs, w_in, w_rec)
    want, _ = np_lif_recurrent(xs, w_in, w_rec, P)
    got = np.array([np.array(z) for z in zs])
    np.testing.assert_array_equal(got, want)
    assert 0.05 < want.mean() < 0.95  # the test exercises both spikes and silence


def test_bptt_gradient_equals_a_finite_difference_with_the_surrogate_in_place():
    xs, w_in, w_rec = _setup(1)
    c = np.random.default_rng(2).normal(size=(xs.shape[0], xs.shape[1], w_in.shape[0]))  # loss weights
    zs, w_in_t, w_rec_t = _run_nthgrad(xs, w_in, w_rec)
    loss = sum((z * ng.tensor(c[t])).sum() for t, z in enumerate(zs))
    g_in, g_rec = ng.grad(loss, [w_in_t, w_rec_t])
    h_ref, v_ref = np_lif_recurrent(xs, w_in, w_rec, P)

    def f(w_in_, w_rec_):
        z, _ = np_lif_recurrent(xs, w_in_, w_rec_, P, h_ref, v_ref)
        return np.sum(z * c)

    eps = 1e-6
    for grad, which in ((np.array(g_in), 0), (np.array(g_rec), 1)):
        for index in [(0, 0), (2, 3), (4, 1)]:
            args_up = [w_in.copy(), w_rec.copy()]
            args_down = [w_in.copy(), w_rec.copy()]
            args_up[which][index] += eps
            args_down[which][index] -= eps
            fd = (f(*args_up) - f(*args_down)) / (2 * eps)
            np.testing.assert_allclose(grad[index], fd, rtol=1e-5, atol=1e-8)


def test_feed_forward_integral_matches_the_steps_and_numpy():
    rng = np.random.default_rng(3)
    xs = rng.uniform(0, 3, (50, 4, 6))
    zs, state = snn.lif_feed_forward_integral(ng.tensor(xs), None, P)
    # NumPy, Norse 1.1.0's lif_feed_forward_step
    v, i, want = np.zeros((4, 6)), np.zeros((4, 6)), []
    for x in xs:
        i = i + x
        v = v + DT * P.tau_mem_inv * ((P.v_leak - v) + i)
        i = i - DT * P.tau_syn_inv * i
        z = (v - P.v_th > 0).astype(float)
        v = (1 - z) * v + z * P.v_reset
        want.append(z)
    np.testing.assert_array_equal(np.array(zs), np.array(want))
    np.testing.assert_allclose(np.array(state.v), v, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.array(state.i), i, rtol=1e-12, atol=1e-14)
    # step by step gives the same
    s, steps = None, []
    for x in xs:
        z, s = snn.lif_feed_forward_step(ng.tensor(x), s, P)
        steps.append(np.array(z))
    np.testing.assert_array_equal(np.array(steps), np.array(want))


def np_lif_feed_forward(xs, p, h, ref=None):
    """Norse 1.1.0's lif_feed_forward_step over xs (T, ...) in NumPy. With a
    reference run's (spikes, membranes), the spike is H_ref + h(v - v_th) -
    h(v_ref - v_th): the same values, with the surrogate's smooth step h in
    place (also in the reset, which is not detached here). Returns (spikes,
    membranes before reset, final v)."""
    v, i = np.zeros(xs.shape[1:]), np.zeros(xs.shape[1:])
    zs, vs = [], []
    for t, x in enumerate(xs):
        i = i + x
        v = v + DT * p.tau_mem_inv * ((p.v_leak - v) + i)
        i = i - DT * p.tau_syn_inv * i
        vs.append(v)
        z = (v - p.v_th > 0).astype(float)
        if ref is not None:
            z = ref[0][t] + h(v - p.v_th) - h(ref[1][t] - p.v_th)
        v = (1 - z) * v + z * p.v_reset
        zs.append(z)
    return np.array(zs), np.array(vs), v


def test_bptt_second_order_through_the_sequence_matches_finite_differences():
    # d^2 L / ds^2 of a loss of 20 LIF steps driven by s * input, against a second difference of the NumPy
    # restatement with the surrogate's smooth step in place around the reference run (the function whose
    # derivatives the surrogate chain rule computes)
    rng = np.random.default_rng(4)
    base = rng.uniform(0.5, 2.0, (20, 2, 3))
    weights = np.linspace(0.1, 1.0, 20)[:, None, None]
    p = snn.LIFParameters(alpha=ALPHA, method="tanh")  # sigma' = 1 - tanh^2(alpha x): h = tanh(alpha x) / alpha
    h = lambda x: np.tanh(ALPHA * x) / ALPHA  # noqa: E731
    s0 = 1.3

    scale = ng.tensor(s0, dtype=ng.float64, requires_grad=True)
    zs, state = snn.lif_feed_forward_integral(ng.tensor(base) * scale, None, p)
    loss = (zs * ng.tensor(weights)).sum() + (state.v ** 2).sum()
    (g,) = ng.grad(loss, [scale], create_graph=True)
    (g2,) = ng.grad(g, [scale])

    ref = np_lif_feed_forward(base * s0, p, h)[:2]

    def f(s):
        z, _, v = np_lif_feed_forward(base * s, p, h, ref)
        return np.sum(z * weights) + np.sum(v ** 2)

    assert abs(f(s0) - loss.item()) < 1e-12 * abs(loss.item())  # the same value at the reference
    e = 1e-5
    np.testing.assert_allclose(g.item(), (f(s0 + e) - f(s0 - e)) / (2 * e), rtol=1e-7)
    np.testing.assert_allclose(g2.item(), (f(s0 + e) - 2 * f(s0) + f(s0 - e)) / e ** 2, rtol=1e-4)


def test_alpha_as_a_tensor_is_learnable_through_a_meta_gradient():
    rng = np.random.default_rng(5)
    xs = ng.tensor(rng.uniform(0, 3, (10, 2, 3)), requires_grad=True)

    def meta(alpha_value, create_graph):
        alpha = ng.tensor(alpha_value, dtype=ng.float64, requires_grad=True)
        zs, _ = snn.lif_feed_forward_integral(xs, None, snn.LIFParameters(alpha=alpha))
        (g,) = ng.grad(zs.sum(), [xs], create_graph=create_graph)
        return alpha, (g * g).sum()

    alpha, m = meta(20.0, True)
    (g_alpha,) = ng.grad(m, [alpha])
    eps = 1e-5
    fd = (meta(20.0 + eps, False)[1].item() - meta(20.0 - eps, False)[1].item()) / (2 * eps)
    np.testing.assert_allclose(g_alpha.item(), fd, rtol=1e-5)


def test_li_matches_norse_equations():
    rng = np.random.default_rng(6)
    xs = rng.normal(size=(30, 2, 4))
    w = rng.normal(size=(3, 4))
    p = snn.LIParameters()
    s, vs = None, []
    for x in xs:
        v_out, s = snn.li_step(ng.tensor(x), s, ng.tensor(w), p)
        vs.append(np.array(v_out))
    v, i, want = np.zeros((2, 3)), np.zeros((2, 3)), []
    for x in xs:
        i = i + x @ w.T
        v = v + DT * p.tau_mem_inv * ((p.v_leak - v) + i)
        i = i - DT * p.tau_syn_inv * i
        want.append(v)
    np.testing.assert_allclose(np.array(vs), np.array(want), rtol=1e-12, atol=1e-14)


def test_encoders():
    x = ng.tensor(np.array([[0.0, 0.5, 1.0]]))
    spikes = snn.poisson_encode(x, 4000, f_max=200.0, seed=3)
    assert spikes.shape == (4000, 1, 3)
    rate = np.array(spikes).mean(axis=0)[0]
    want = np.array([0.0, 0.1, 0.2])
    assert np.all(np.abs(rate - want) <= 5 * np.sqrt(want * (1 - want) / 4000) + 1e-12)
    np.testing.assert_array_equal(np.array(snn.poisson_encode(x, 50, seed=3)),
                                  np.array(snn.poisson_encode(x, 50, seed=3)))
    current = ng.tensor(np.array([0.5, 1.5, 3.0]))  # v settles at the current: 0.5 stays below v_th
    enc = np.array(snn.ConstantCurrentLIFEncoder(100)(current))
    assert enc.shape == (100, 3)
    counts = enc.sum(axis=0)
    assert counts[0] == 0 and 0 < counts[1] < counts[2]  # below threshold: silent; more current, more spikes


def test_constant_current_encoder_is_norses_lif_current_encoder():
    # Norse's docstring example of constant_current_lif_encode, and a NumPy restatement of its
    # lif_current_encoder (the current drives v directly: no synaptic current accumulates)
    spikes = snn.constant_current_lif_encode(ng.tensor(np.array([2.0, 4.0, 8.0, 16.0])), 2)
    np.testing.assert_array_equal(np.array(spikes), [[0, 0, 0, 1], [0, 0, 1, 1]])
    current = np.random.default_rng(7).uniform(0, 4, (3, 5))
    p = snn.LIFParameters(tau_mem_inv=70.0, v_leak=0.1, v_th=0.9, v_reset=-0.2)
    got = snn.constant_current_lif_encode(ng.tensor(current), 50, p)
    v, want = np.zeros_like(current), []
    for _ in range(50):
        v = v + DT * p.tau_mem_inv * ((p.v_leak - v) + current)
        z = (v - p.v_th > 0).astype(float)
        v = v - z * (v - p.v_reset)
        want.append(z)
    assert got.shape == (50, 3, 5) and got.dtype == ng.float64
    np.testing.assert_array_equal(np.array(got), np.array(want))
    assert 0.05 < np.mean(want) < 0.95


def test_poisson_encoder_module_with_a_seed_draws_fresh_reproducible_spikes():
    # an int seed gave every call (every batch, every epoch) the very same spike trains
    x = ng.tensor(np.full((2, 50), 0.5))
    a, b = snn.PoissonEncoder(20, f_max=500.0, seed=4), snn.PoissonEncoder(20, f_max=500.0, seed=4)
    a1, a2 = np.array(a(x)), np.array(a(x))
    assert not np.array_equal(a1, a2)
    np.testing.assert_array_equal(np.array(b(x)), a1)  # the same seed, the same run
    np.testing.assert_array_equal(np.array(b(x)), a2)
    np.testing.assert_array_equal(a1, np.array(snn.poisson_encode(x, 20, f_max=500.0, seed=4)))


def test_recurrent_cell_has_no_autapses_by_default_as_norse():
    # Norse's LIFRecurrentCell(..., autapses=False) zeroes the diagonal of the recurrent weights and its gradient
    ng.manual_seed(0)  # the weights come from the global generator: fixed here, whatever ran before
    cell = snn.LIFRecurrentCell(3, 5, dtype=ng.float64)
    w = np.array(cell.recurrent_weights)
    np.testing.assert_array_equal(np.diag(w), 0.0)
    assert np.all(w[~np.eye(5, dtype=bool)] != 0)
    x = ng.tensor(np.random.default_rng(8).uniform(10, 40, (6, 2, 3)))  # spikes from the first steps
    opt = ng.optim.SGD(cell.parameters(), lr=0.01)  # small steps: large ones saturate every neuron (no gradient)
    for _ in range(3):
        cell.reset()
        loss = sum(cell(x[t])[1].v.sum() for t in range(6))
        opt.zero_grad()
        loss.backward()
        np.testing.assert_array_equal(np.diag(np.array(cell.recurrent_weights.grad)), 0.0)
        assert np.any(np.array(cell.recurrent_weights.grad) != 0)
        opt.step()
    np.testing.assert_array_equal(np.diag(np.array(cell.recurrent_weights)), 0.0)
    # a self-connection acts once autapses=True: the cell is lif_step with its weights as they are
    cell = snn.LIFRecurrentCell(3, 5, autapses=True, dtype=ng.float64)
    assert np.all(np.diag(np.array(cell.recurrent_weights)) != 0) and "autapses=True" in repr(cell)
    s_cell = s_fn = None
    for t in range(6):
        z_cell, s_cell = cell(x[t])
        z_fn, s_fn = snn.lif_step(x[t], s_fn, cell.input_weights, cell.recurrent_weights)
        np.testing.assert_array_equal(np.array(s_cell.v), np.array(s_fn.v))


def test_a_missing_state_starts_at_rest_v_leak_as_norse():
    # Norse's modules start at v = v_leak; from v = 0 a neuron with v_leak = -65 < v_th = -50 < 0 fired at once
    bio = snn.LIFParameters(tau_syn_inv=2.0, tau_mem_inv=0.05, v_leak=-65.0, v_th=-50.0, v_reset=-65.0)
    x = ng.zeros((2, 3), dtype=ng.float64)
    for z, s in (snn.lif_feed_forward_step(x, None, bio), snn.LIFCell(bio)(x),
                 snn.lif_step(x, None, ng.ones((4, 3), ng.float64), ng.ones((4, 4), ng.float64), bio),
                 snn.LIFRecurrentCell(3, 4, bio, dtype=ng.float64)(x)):
        np.testing.assert_array_equal(np.array(z), 0.0)
        np.testing.assert_array_equal(np.array(s.v), -65.0)
    zs, s = snn.lif_feed_forward_integral(ng.zeros((5, 2, 3), dtype=ng.float64), None, bio)
    np.testing.assert_array_equal(np.array(zs), 0.0)
    np.testing.assert_array_equal(np.array(s.v), -65.0)
    li = snn.LIParameters(v_leak=-65.0)
    for v, s in (snn.li_feed_forward_step(x, None, li), snn.LICell(li)(x),
                 snn.li_step(x, None, ng.ones((4, 3), ng.float64), li)):
        np.testing.assert_array_equal(np.array(v), -65.0)


def test_modules_carry_state_and_reset():
    cell = snn.LIFRecurrentCell(3, 4, dtype=ng.float64)
    x = ng.tensor(np.ones((2, 3)) * 5.0)
    _, s1 = cell(x)
    _, s2 = cell(x)
    assert cell.state is s2 and not np.array_equal(np.array(s1.v), np.array(s2.v))
    cell.reset()
    _, s3 = cell(x)
    np.testing.assert_array_equal(np.array(s3.v), np.array(s1.v))
    assert [n for n, _ in cell.named_parameters()] == ["input_weights", "recurrent_weights"]
    readout = snn.LILinearCell(4, 2, dtype=ng.float64)
    v, _ = readout(s3.z)
    assert v.shape == (2, 2)
    zs, _ = snn.LIF()(ng.ones((5, 2, 3)) * 3.0)
    assert zs.shape == (5, 2, 3)


def test_module_state_none_starts_from_zeros_as_in_norse():
    # Norse's loop: s = None, then z, s = cell(x, s) -- each sequence (batch) starts afresh, so a second
    # training batch neither continues the first one's membrane nor reaches into its freed graph
    cell = snn.LIFCell()
    w = ng.tensor(np.full(4, 3.0), requires_grad=True)
    grads = []
    for _ in range(2):
        s = None
        for _ in range(5):
            z, s = cell(ng.ones((2, 4), dtype=ng.float64) * w, s)
        (g,) = ng.grad(s.v.sum(), [w])
        grads.append(np.array(g))
    np.testing.assert_array_equal(grads[0], grads[1])
    # without a state the module carries its own; a carried state of another batch size is named
    readout = snn.LILinearCell(3, 2, dtype=ng.float64)
    v1, _ = readout(ng.ones((4, 3), dtype=ng.float64))
    v2, _ = readout(ng.ones((4, 3), dtype=ng.float64))
    assert not np.array_equal(np.array(v1), np.array(v2))
    fresh, _ = readout(ng.ones((4, 3), dtype=ng.float64), None)
    np.testing.assert_array_equal(np.array(fresh), np.array(v1))
    for module, x_small in ((readout, ng.ones((2, 3), dtype=ng.float64)),
                            (snn.LIFRecurrentCell(3, 5), ng.ones((2, 3))),
                            (snn.LIF(), ng.ones((6, 2, 3)))):
        module(ng.ones((4, 3)) if not isinstance(module, snn.LIF) else ng.ones((6, 4, 3)))
        with pytest.raises(ValueError, match=rf"{type(module).__name__}: the carried state has shape \(4, \d\), "
                                             r"but this input needs a state of shape \(2, \d\); call reset\(\)"):
            module(x_small)
        module.reset()
        module(x_small)


def test_parameters_as_tensors_are_used_or_refused_never_dropped():
    x = ng.ones((2, 3), dtype=ng.float64) * 30.0
    want = np.array(snn.lif_feed_forward_step(x, None, snn.LIFParameters(tau_mem_inv=50.0))[1].v)
    for tau in (ng.tensor(50.0), np.float32(50.0), 50):
        got = snn.lif_feed_forward_step(x, None, snn.LIFParameters(tau_mem_inv=tau))[1].v
        np.testing.assert_array_equal(np.array(got), want)
    # one value per layer: a per-neuron tensor and a tensor that requires grad (it would silently get no
    # gradient) are named
    with pytest.raises(ValueError, match=r"LIFParameters: tau_mem_inv must be one number .* shape \(3,\)"):
        snn.lif_feed_forward_step(x, None, snn.LIFParameters(tau_mem_inv=ng.tensor([50.0, 60.0, 70.0])))
    with pytest.raises(ValueError, match="LIFParameters: v_th is a tensor that requires grad, but only alpha"):
        snn.lif_feed_forward_step(x, None, snn.LIFParameters(v_th=ng.tensor(1.0, requires_grad=True)))
    with pytest.raises(ValueError, match="LIParameters: tau_syn_inv is a tensor that requires grad"):
        snn.li_feed_forward_step(x, None, snn.LIParameters(tau_syn_inv=ng.tensor(200.0, requires_grad=True)))
    with pytest.raises(TypeError, match="LIFParameters: v_leak must be a number, got str"):
        snn.lif_feed_forward_step(x, None, snn.LIFParameters(v_leak="0"))
    with pytest.raises(TypeError, match="LIFParameters: method must be a str, got NoneType"):
        snn.lif_feed_forward_step(x, None, snn.LIFParameters(method=None))


def test_bad_states_and_weights_are_named():
    # with state None a 1-D or 0-d input or weight raised 'IndexError: tuple index out of range', recurrent
    # weights of None the binding's 'incompatible function arguments', a state of the wrong type an AttributeError
    x, w_in, w_rec = ng.ones((2, 3)), ng.ones((4, 3)), ng.ones((4, 4))
    with pytest.raises(ValueError, match=r"lif_step: input_tensor of shape \(2, 3\) and input_weights of shape "
                                         r"\(\) must be \(B, I\) and \(H, I\)"):
        snn.lif_step(x, None, ng.tensor(1.0), w_rec)
    with pytest.raises(ValueError, match=r"li_step: input_tensor of shape \(\) and input_weights"):
        snn.li_step(ng.tensor(1.0), None, w_in)
    with pytest.raises(TypeError, match="lif_step: recurrent_weights must be an nthgrad Tensor, got NoneType"):
        snn.lif_step(x, None, w_in, None)
    with pytest.raises(TypeError, match=r"lif_feed_forward_step: state must be a LIFFeedForwardState\(v, i\) of "
                                        "tensors or None, got tuple"):
        snn.lif_feed_forward_step(x, (ng.zeros((2, 3)), ng.zeros((2, 3))))
    with pytest.raises(TypeError, match=r"lif_step: state must be a LIFState\(z, v, i\).*got LIFFeedForwardState"):
        snn.lif_step(x, snn.LIFFeedForwardState(ng.zeros((2, 4)), ng.zeros((2, 4))), w_in, w_rec)
    with pytest.raises(TypeError, match="li_feed_forward_step: state must be a LIState"):
        snn.li_feed_forward_step(x, 5)
    with pytest.raises(TypeError, match="lif_feed_forward_integral: state must be"):
        snn.lif_feed_forward_integral(ng.ones((4, 2, 3)), "zeros")


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"lif_feed_forward_step: the input current has shape \(2, 3\) but v has shape"):
        snn.lif_feed_forward_step(ng.ones((2, 3)), snn.LIFFeedForwardState(ng.ones((3,)), ng.ones((2, 3))))
    with pytest.raises(ValueError, match=r"lif_step: input_weights of shape \(4, 5\) does not fit an input of shape"):
        snn.lif_step(ng.ones((2, 3)), None, ng.ones((4, 5)), ng.ones((4, 4)))
    with pytest.raises(ValueError, match="threshold|unknown method 'spiky'"):
        snn.lif_feed_forward_step(ng.ones((2,)), None, snn.LIFParameters(method="spiky"))
    with pytest.raises(ValueError, match="dt must be finite and > 0"):
        snn.lif_feed_forward_step(ng.ones((2,)), None, dt=0.0)
    with pytest.raises(ValueError, match="needs a leading time axis"):
        snn.lif_feed_forward_integral(ng.tensor(1.0), None)
    with pytest.raises(TypeError, match="expected LIFParameters, got dict"):
        snn.lif_feed_forward_step(ng.ones((2,)), None, {"alpha": 1})


def test_a_learnable_alpha_is_a_module_parameter():
    alpha = ng.nn.Parameter(ng.tensor(20.0, dtype=ng.float64))
    cell = snn.LIFCell(snn.LIFParameters(alpha=alpha))
    assert [n for n, _ in cell.named_parameters()] == ["alpha"]
    layer = snn.LIF(snn.LIFParameters(alpha=alpha))
    assert list(layer.parameters())[0] is alpha
    recurrent = snn.LIFRecurrentCell(2, 3, snn.LIFParameters(alpha=alpha), dtype=ng.float64)
    assert "alpha" in dict(recurrent.named_parameters())
    assert [n for n, _ in snn.LIFCell().named_parameters()] == []  # a number stays a number
