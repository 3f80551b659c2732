"""nthgrad.optim: every rule against a NumPy transcription of its published
formula, step by step with its state, against torch.optim on the same data,
state dicts, schedules, gradient clipping, and the in-place contract (no
graph, no temporaries, stale graphs refuse backward)."""
import math

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.nn as nn
from nthgrad import optim

STEPS = 5
SHAPES = [(3, 4), (5,)]


def _grads(seed, dtype=np.float64):
    """STEPS gradients per parameter, fixed by the seed."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]


def _params(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


# ---- NumPy references: the formulas of the papers / torch's documentation, one parameter at a time ----

def ref_sgd(p, g, st, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    g = -g if maximize else g
    d = g + weight_decay * p
    if momentum:
        st["b"] = d.copy() if "b" not in st else momentum * st["b"] + (1 - dampening) * d
        d = d + momentum * st["b"] if nesterov else st["b"]
    return p - lr * d


def ref_adam(p, g, st, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
             decoupled=False):
    b1, b2 = betas
    g = -g if maximize else g
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    t = st["t"] = st.get("t", 0) + 1
    m = st["m"] = b1 * st.get("m", 0) + (1 - b1) * g
    v = st["v"] = b2 * st.get("v", 0) + (1 - b2) * g * g
    if amsgrad:
        v = st["vmax"] = np.maximum(st.get("vmax", 0), v)
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps * 1.0)  # eps added to sqrt(v_hat), as torch (not Adam's paper)


def ref_rmsprop(p, g, st, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    s = st["s"] = alpha * st.get("s", 0) + (1 - alpha) * g * g
    if centered:
        ga = st["ga"] = alpha * st.get("ga", 0) + (1 - alpha) * g
        avg = np.sqrt(s - ga * ga) + eps
    else:
        avg = np.sqrt(s) + eps
    if momentum > 0:
        b = st["b"] = momentum * st.get("b", 0) + g / avg
        return p - lr * b
    return p - lr * g / avg


def ref_adagrad(p, g, st, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    t = st["t"] = st.get("t", 0) + 1
    s = st["s"] = st.get("s", initial_accumulator_value) + g * g
    return p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)


CASES = [
    ("SGD", ref_sgd, dict(lr=0.1)),
    ("SGD", ref_sgd, dict(lr=0.1, momentum=0.9)),
    ("SGD", ref_sgd, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", ref_sgd, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", ref_sgd, dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", ref_adam, dict(lr=0.01)),
    ("Adam", ref_adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", ref_adam, dict(lr=0.01, amsgrad=True, maximize=True)),
    ("AdamW", lambda *a, **k: ref_adam(*a, decoupled=True, **k), dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", lambda *a, **k: ref_adam(*a, decoupled=True, **k), dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", ref_rmsprop, dict(lr=0.01)),
    ("RMSprop", ref_rmsprop, dict(lr=0.01, alpha=0.9, centered=True, weight_decay=0.05)),
    ("RMSprop", ref_rmsprop, dict(lr=0.01, momentum=0.9, centered=True)),
    ("Adagrad", ref_adagrad, dict(lr=0.1)),
    ("Adagrad", ref_adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, _, kw in CASES]


def _run_nthgrad(name, kw, params0, grads, dtype):
    params = [nn.Parameter(ng.tensor(a, dtype=dtype)) for a in params0]
    opt = getattr(optim, name)(params, **kw)
    history = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = ng.tensor(g, dtype=dtype)
        opt.step()
        history.append([np.array(p) for p in params])
    return history, opt, params


@pytest.mark.parametrize("name, ref, kw", CASES, ids=IDS)
def test_update_matches_the_published_formula_step_by_step(name, ref, kw):
    params0, grads = _params(0), _grads(1)
    history, opt, params = _run_nthgrad(name, kw, params0, grads, ng.float64)
    expected = [a.copy() for a in params0]
    states = [{} for _ in params0]
    for step, step_grads in enumerate(grads):
        expected = [ref(p, g, st, **kw) for p, g, st in zip(expected, step_grads, states)]
        for got, want in zip(history[step], expected):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=f"step {step + 1}")
    # the state the optimizer keeps is the formula's state too
    names = {"b": "momentum_buffer", "m": "exp_avg", "v": "exp_avg_sq", "vmax": "max_exp_avg_sq",
             "s": "square_avg" if name == "RMSprop" else "sum", "ga": "grad_avg", "t": "step"}
    for p, st in zip(params, states):
        for key, value in st.items():
            np.testing.assert_allclose(np.asarray(opt.state[p][names[key]]), value, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, ref, kw", CASES, ids=IDS)
def test_update_matches_torch_optim(name, ref, kw, dtype):
    torch = pytest.importorskip("torch")
    params0, grads = _params(2, dtype), _grads(3, dtype)
    history, _, _ = _run_nthgrad(name, kw, params0, grads, getattr(ng, dtype))
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in params0]
    topt = getattr(torch.optim, name)(tparams, foreach=False, **kw)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    for step, step_grads in enumerate(grads):
        for p, g in zip(tparams, step_grads):
            p.grad = torch.tensor(g)
        topt.step()
        for got, p in zip(history[step], tparams):
            np.testing.assert_allclose(got, p.detach().numpy(), err_msg=f"step {step + 1}", **tol)


@pytest.mark.parametrize("name, ref, kw", CASES, ids=IDS)
def test_state_dict_round_trip_resumes_bit_exactly(name, ref, kw):
    params0, grads = _params(4), _grads(5)
    uninterrupted, _, _ = _run_nthgrad(name, kw, params0, grads, ng.float64)
    # two steps, save, restore into a new optimizer over copies, three more steps
    params = [nn.Parameter(ng.tensor(a)) for a in params0]
    opt = getattr(optim, name)(params, **kw)
    for step_grads in grads[:2]:
        for p, g in zip(params, step_grads):
            p.grad = ng.tensor(g)
        opt.step()
    saved = opt.state_dict()
    copies = [nn.Parameter(ng.tensor(np.array(p))) for p in params]
    resumed = getattr(optim, name)(copies, lr=123.0)  # hyperparameters come from the state dict too
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == kw["lr"]
    for step, step_grads in enumerate(grads[2:], start=2):
        for p, g in zip(copies, step_grads):
            p.grad = ng.tensor(g)
        resumed.step()
        for got, want in zip(copies, uninterrupted[step]):
            np.testing.assert_array_equal(np.array(got), want)


def test_step_is_in_place_records_nothing_and_leaves_no_temporaries():
    p = nn.Parameter(ng.tensor(np.ones((64, 32), np.float32)))
    opt = optim.Adam([p], lr=0.1)
    p.grad = ng.ones((64, 32))
    opt.step()  # creates the state
    view = np.asarray(p)
    address = view.__array_interface__["data"][0]
    del view
    before = ng.live_counts()
    for _ in range(3):
        opt.step()  # under grad mode: steps never record
    assert ng.live_counts() == before
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    view = np.asarray(p)
    assert view.__array_interface__["data"][0] == address
    assert not np.allclose(view, 1.0)


def test_backward_through_a_graph_that_saved_the_old_parameter_raises():
    w = nn.Parameter(ng.tensor(np.ones((3, 2))))
    x = ng.tensor(np.ones((4, 3)), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    loss = (ng.functional.tanh(x @ w)).sum()  # the product saves w for x's gradient
    (gw,) = ng.grad(loss, [w], retain_graph=True)
    w.grad = gw
    opt.step()
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(3, 2\)\).*modified in place after the forward"):
        ng.grad(loss, [x])
    (gx,) = ng.grad((ng.functional.tanh(x @ w)).sum(), [x])  # a new forward pass is fine
    assert gx.shape == (4, 3)


def test_a_step_while_a_numpy_view_of_the_parameter_lives_is_refused():
    p = nn.Parameter(ng.tensor(np.ones(3)))
    p.grad = ng.ones((3,), ng.float64)
    opt = optim.SGD([p], lr=0.1)
    view = p.numpy()
    with pytest.raises(RuntimeError, match=r"SGD.step: parameter 0 \(shape \(3,\)\) .*NumPy view"):
        opt.step()
    np.testing.assert_array_equal(view, 1.0)
    del view
    opt.step()
    np.testing.assert_allclose(np.array(p), 0.9)


@pytest.mark.parametrize("name, ref, kw", CASES, ids=IDS)
def test_a_refused_step_leaves_the_state_as_it_was(name, ref, kw):
    """A step refused by a live NumPy view (before and after a first update)
    changes no state: retried, the run equals the formula's without the refusals
    (step counts for bias correction, SGD's first momentum step)."""
    params0, grads = _params(3), _grads(4)
    params = [nn.Parameter(ng.tensor(a)) for a in params0]
    opt = getattr(optim, name)(params, **kw)
    states = [{} for _ in params]
    expected = [a.copy() for a in params0]
    for t, step_grads in enumerate(grads):
        for p, g in zip(params, step_grads):
            p.grad = ng.tensor(g)
        if t in (0, 2):
            view = params[0].numpy()
            with pytest.raises(RuntimeError, match="NumPy view"):
                opt.step()
            del view
        opt.step()
        expected = [ref(e, g, st, **kw) for e, g, st in zip(expected, step_grads, states)]
        for p, e in zip(params, expected):
            np.testing.assert_allclose(np.array(p), e, rtol=1e-12, atol=1e-14)


def test_a_step_refused_at_a_later_parameter_updates_none():
    a, b = nn.Parameter(ng.tensor(np.ones(3))), nn.Parameter(ng.tensor(np.ones(3)))
    opt = optim.SGD([a, b], lr=0.1)
    a.grad, b.grad = ng.ones((3,), ng.float64), ng.ones((3,), ng.float64)
    view = b.numpy()
    with pytest.raises(RuntimeError, match=r"SGD.step: parameter 1 \(shape \(3,\)\) .*NumPy view"):
        opt.step()
    del view
    np.testing.assert_array_equal(np.array(a), 1.0)  # all or nothing, as a step that torch never refuses


def test_parameters_without_grad_are_skipped_and_zero_grad_clears():
    a, b = nn.Parameter(ng.tensor(np.ones(2))), nn.Parameter(ng.tensor(np.ones(2)))
    opt = optim.SGD([a, b], lr=0.5, momentum=0.9)
    a.grad = ng.ones((2,), ng.float64)
    opt.step()
    np.testing.assert_array_equal(np.array(a), 0.5)
    np.testing.assert_array_equal(np.array(b), 1.0)
    assert b not in opt.state
    opt.zero_grad()
    assert a.grad is None
    a.grad = ng.ones((2,), ng.float64)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(np.array(a.grad), 0.0)


def test_parameter_groups_take_their_own_hyperparameters():
    a, b = nn.Parameter(ng.tensor(np.ones(2))), nn.Parameter(ng.tensor(np.ones(2)))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = b.grad = ng.ones((2,), ng.float64)
    opt.step()
    np.testing.assert_allclose(np.array(a), 0.9)
    np.testing.assert_allclose(np.array(b), 0.5)
    assert "Parameter Group 1" in repr(opt) and "lr: 0.5" in repr(opt)


@pytest.mark.parametrize("make, match", [
    (lambda p: optim.SGD([p], lr=-1.0), "SGD: lr must be >= 0"),
    (lambda p: optim.SGD([p], lr=float("nan")), "SGD: lr must be >= 0"),
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), "nesterov momentum needs momentum > 0"),
    (lambda p: optim.Adam([p], betas=(1.0, 0.9)), r"Adam: betas\[0\] must be >= 0.0 and < 1.0"),
    (lambda p: optim.Adam([p], betas=0.9), "Adam: betas must be a pair"),
    (lambda p: optim.AdamW([p], eps=-1e-8), "AdamW: eps must be >= 0"),
    (lambda p: optim.RMSprop([p], alpha=-0.1), "RMSprop: alpha must be >= 0"),
    (lambda p: optim.Adagrad([p], lr_decay=-1), "Adagrad: lr_decay must be >= 0"),
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: optim.SGD(p, lr=0.1), "single tensor"),
    (lambda p: optim.SGD([p * 2], lr=0.1), "result of an op"),
    (lambda p: optim.SGD([p, p], lr=0.1), "more than one group"),
    (lambda p: optim.SGD([np.ones(2)], lr=0.1), "not an nthgrad Tensor"),
    (lambda p: optim.SGD([ng.tensor([1, 2])], lr=0.1), "int64"),
    (lambda p: optim.SGD([p], lr="fast"), "lr must be a number"),
])
def test_bad_arguments_are_clear_errors(make, match):
    p = nn.Parameter(ng.tensor(np.ones(2)))
    with pytest.raises((ValueError, TypeError), match=match):
        make(p)


def test_deepcopy_of_an_optimizer_keeps_its_state_on_the_copied_parameters():
    """copy.deepcopy((model, opt)) (snapshots, EMA/SWA copies), as torch's: the
    copy's state belongs to the copy's parameters and the copy continues the
    run exactly as the original does."""
    import copy
    params0, grads = _params(5), _grads(6)
    params = [nn.Parameter(ng.tensor(a)) for a in params0]
    opt = optim.Adam(params, lr=0.01, amsgrad=True)
    for step_grads in grads[:2]:
        for p, g in zip(params, step_grads):
            p.grad = ng.tensor(g)
        opt.step()
    params_copy, opt_copy = copy.deepcopy((params, opt))
    assert all(q is r for q, r in zip(opt_copy.param_groups[0]["params"], params_copy))
    assert all(opt_copy.state[q]["step"] == 2 for q in params_copy) and len(opt_copy.state) == 2
    for step_grads in grads[2:]:
        for p, q, g in zip(params, params_copy, step_grads):
            p.grad, q.grad = ng.tensor(g), ng.tensor(g)
        opt.step()
        opt_copy.step()
    for p, q in zip(params, params_copy):
        np.testing.assert_array_equal(np.array(q), np.array(p))


def test_sets_of_parameters_are_refused():
    """A set's iteration order differs between runs: the state a checkpoint
    restores by position would land on other parameters. TypeError, as torch."""
    a, b = nn.Parameter(ng.tensor(np.ones(2))), nn.Parameter(ng.tensor(np.ones(2)))
    with pytest.raises(TypeError, match="SGD: parameters must be an ordered collection .*not a set"):
        optim.SGD({a, b}, lr=0.1)
    with pytest.raises(TypeError, match="Adam: parameters must be an ordered collection .*not a frozenset"):
        optim.Adam([{"params": frozenset([a])}])
    opt = optim.SGD([a], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        opt.add_param_group({"params": {b}})


def test_load_state_dict_of_another_shape_names_the_parameter_and_entry():
    a = nn.Parameter(ng.tensor(np.ones(2)))
    opt = optim.Adam([a])
    a.grad = ng.ones((2,), ng.float64)
    opt.step()
    other = optim.Adam([nn.Parameter(ng.tensor(np.ones(3)))])
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 0 has shape \(2,\), the parameter \(3,\)"):
        other.load_state_dict(opt.state_dict())
    two = optim.Adam([nn.Parameter(ng.tensor(np.ones(2))), nn.Parameter(ng.tensor(np.ones(2)))])
    with pytest.raises(ValueError, match="group 0 has 1 parameters in the state dict, 2 here"):
        two.load_state_dict(opt.state_dict())


def test_closure_is_evaluated_with_gradients_before_the_update():
    p = nn.Parameter(ng.tensor(np.array([2.0])))
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with ng.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0
    np.testing.assert_allclose(np.array(p), [1.0])  # 2 - 0.25 * 4


# ---- schedules ----------------------------------------------------------------------------------------

SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5), lambda e: 0.1 * 0.5 ** (e // 3)),
    ("MultiStepLR", dict(milestones=[2, 5], gamma=0.1), lambda e: 0.1 * 0.1 ** ((e >= 2) + (e >= 5))),
    ("ExponentialLR", dict(gamma=0.9), lambda e: 0.1 * 0.9 ** e),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.01),
     lambda e: 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * e / 6)) / 2),
    ("LinearLR", dict(start_factor=0.25, total_iters=4), lambda e: 0.1 * (0.25 + 0.75 * min(e, 4) / 4)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1 / (e + 1)), lambda e: 0.1 / (e + 1)),
]


@pytest.mark.parametrize("name, kw, formula", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedule_matches_its_formula_and_torch(name, kw, formula):
    p = nn.Parameter(ng.tensor(np.ones(2)))
    opt = optim.SGD([p], lr=0.1)
    sched = getattr(optim.lr_scheduler, name)(opt, **kw)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(8):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert sched.get_last_lr() == [lrs[-1]]
    np.testing.assert_allclose(lrs, [formula(e) for e in range(9)], rtol=1e-12)
    try:
        import torch
    except ImportError:
        return
    tp = torch.zeros(2, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.1)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    tlrs = [topt.param_groups[0]["lr"]]
    for _ in range(8):
        topt.step()
        tsched.step()
        tlrs.append(topt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, tlrs, rtol=1e-9)


def test_scheduler_state_resumes():
    p = nn.Parameter(ng.tensor(np.ones(2)))
    opt = optim.SGD([p], lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    opt2 = optim.SGD([nn.Parameter(ng.tensor(np.ones(2)))], lr=0.1)
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    sched2.load_state_dict(state)
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr() == [0.1 * 0.5 ** 2]


# ---- gradient clipping ---------------------------------------------------------------------------------

@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_its_formula_and_torch(norm_type, max_norm):
    rng = np.random.default_rng(7)
    grads = [rng.standard_normal(s) for s in SHAPES]
    params = [nn.Parameter(ng.tensor(np.zeros(s))) for s in SHAPES]
    for p, g in zip(params, grads):
        p.grad = ng.tensor(g)
    total = optim.clip_grad_norm_(params, max_norm, norm_type)
    flat = np.concatenate([g.ravel() for g in grads])
    want = np.max(np.abs(flat)) if norm_type == float("inf") else np.sum(np.abs(flat) ** norm_type) ** (1 / norm_type)
    np.testing.assert_allclose(total.item(), want, rtol=1e-12)
    coef = min(1.0, max_norm / (want + 1e-6))
    for p, g in zip(params, grads):
        np.testing.assert_allclose(np.array(p.grad), g * coef, rtol=1e-12)
    torch = pytest.importorskip("torch")
    tparams = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for p, g in zip(tparams, grads):
        p.grad = torch.tensor(g)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-12)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(np.array(p.grad), tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_of_nonfinite_gradients():
    p = nn.Parameter(ng.tensor(np.zeros(2)))
    p.grad = ng.tensor([np.inf, 1.0], dtype=ng.float64)
    with pytest.raises(RuntimeError, match="total norm of the gradients is inf"):
        optim.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isinf(optim.clip_grad_norm_([p], 1.0).item())


@pytest.mark.parametrize("norm_type", [2.0, 3.0, 1.0, float("inf")])
@pytest.mark.parametrize("nan_in", [0, 1])
def test_clip_grad_norm_of_nan_gradients_is_nan_as_torch(norm_type, nan_in):
    """A NaN anywhere (in either parameter) makes the total NaN, error_if_nonfinite
    raise, and (without it) every gradient NaN, as torch.nn.utils.clip_grad_norm_."""
    grads = [np.array([2.0, 3.0]), np.array([4.0, 1.0])]
    grads[nan_in][0] = np.nan
    params = [nn.Parameter(ng.tensor(np.zeros(2))) for _ in grads]
    for p, g in zip(params, grads):
        p.grad = ng.tensor(g)
    with pytest.raises(RuntimeError, match="total norm of the gradients is nan"):
        optim.clip_grad_norm_(params, 1.0, norm_type, error_if_nonfinite=True)
    assert math.isnan(optim.clip_grad_norm_(params, 1.0, norm_type).item())
    for p in params:
        assert np.isnan(np.array(p.grad)).all()


def test_clip_grad_value_clamps_every_entry():
    p = nn.Parameter(ng.tensor(np.zeros(4)))
    p.grad = ng.tensor([-3.0, -0.2, 0.4, 9.0], dtype=ng.float64)
    optim.clip_grad_value_([p], 0.5)
    np.testing.assert_array_equal(np.array(p.grad), [-0.5, -0.2, 0.4, 0.5])
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        optim.clip_grad_value_([p], -1)


@pytest.mark.parametrize("name, ref, kw", [CASES[3], CASES[7], CASES[12], CASES[14]],
                         ids=["SGD", "Adam", "RMSprop", "Adagrad"])
def test_a_checkpoint_file_of_model_and_optimizer_resumes_bit_exactly(name, ref, kw, tmp_path):
    params0, grads = _params(6, np.float32), _grads(7, np.float32)
    uninterrupted, _, _ = _run_nthgrad(name, kw, params0, grads, ng.float32)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(ng.tensor(params0[0]))
            self.b = nn.Parameter(ng.tensor(params0[1]))

    model = Model()
    opt = getattr(optim, name)(model.parameters(), **kw)
    for step_grads in grads[:2]:
        model.a.grad, model.b.grad = (ng.tensor(g) for g in step_grads)
        opt.step()
    path = str(tmp_path / "ckpt.npz")
    ng.save({"model": model.state_dict(), "optim": opt.state_dict(), "step": 2}, path)
    saved = ng.load(path)
    fresh = Model()
    fresh.load_state_dict(saved["model"])
    resumed = getattr(optim, name)(fresh.parameters(), lr=1.0)
    resumed.load_state_dict(saved["optim"])
    assert saved["step"] == 2
    for step, step_grads in enumerate(grads[2:], start=2):
        fresh.a.grad, fresh.b.grad = (ng.tensor(g) for g in step_grads)
        resumed.step()
        for got, want in zip((fresh.a, fresh.b), uninterrupted[step]):
            assert np.array(got).tobytes() == want.tobytes()
