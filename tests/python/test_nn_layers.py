"""nthgrad.nn layers, activations and losses: each module's forward is the
functional op it wraps (bit-equal), equals torch's module on the same weights
(float64) with the same first-order gradients, a second-order gradient
penalty matches torch's double backward, state dict keys and reprs are
torch's, train/eval behaviour, and bad input raises errors naming the layer."""
import math

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F
import nthgrad.nn as nn

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-10, 1e-12


def rng(seed=0):
    return np.random.default_rng(seed)


def load_torch_weights(ours, theirs):
    """Copies torch's parameters and buffers into ours (its layout where it
    differs: depthwise weights lose their axis of size 1, recurrent layers pack)."""
    if isinstance(ours, (nn.RNN, nn.LSTM, nn.GRU)):
        ours.load_state_dict(ours.state_dict_from_torch(theirs.state_dict()))
        return
    own = ours.state_dict()
    ours.load_state_dict({k: v.detach().numpy().reshape(tuple(own[k].shape)) for k, v in theirs.state_dict().items()})


def grads_of(ours, theirs, x, outputs, outputs_t, xt):
    """Gradients of sum(y * r) (r random, the same for both) with respect to
    the input and every parameter of the same name and size (torch's reshaped
    to ours: depthwise weights; the packed recurrent ones have other names and
    are compared through their outputs and the input's gradient)."""
    r = [rng(7).normal(size=tuple(y.shape)) for y in outputs]
    loss = sum(F.sum(F.mul2(y, ng.tensor(ri))) for y, ri in zip(outputs, r))
    loss_t = sum((yt * torch.tensor(ri)).sum() for yt, ri in zip(outputs_t, r))
    mine, theirs_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    if isinstance(ours, (nn.RNN, nn.LSTM, nn.GRU)):
        return recurrent_grads(ours, theirs, x, xt, loss, loss_t)
    names = [n for n, p in mine.items() if n in theirs_params and p.numel() == theirs_params[n].numel()]
    g = ng.grad(loss, [x] + [mine[n] for n in names])
    g_t = torch.autograd.grad(loss_t, [xt] + [theirs_params[n] for n in names])
    g_t = [gt.reshape(tuple(gi.shape)) for gi, gt in zip(g, g_t)]
    return list(zip(["input"] + names, g, g_t))


def recurrent_grads(ours, theirs, x, xt, loss, loss_t):
    """The input's and the packed weights' gradients: torch's weight
    gradients packed by state_dict_from_torch (a concatenation, so it packs
    gradients too; the biases, which it sums, get zeros and are not compared)."""
    names = ["weight_l0"] + (["weight"] if ours.weight is not None else [])
    g = ng.grad(loss, [x] + [getattr(ours, n) for n in names])
    theirs_params = dict(theirs.named_parameters())
    g_t = torch.autograd.grad(loss_t, [xt] + list(theirs_params.values()))
    as_state = {n: (torch.zeros_like(gt) if n.startswith("bias") else gt) for n, gt in zip(theirs_params, g_t[1:])}
    packed = ours.state_dict_from_torch(as_state)
    return list(zip(["input"] + names, g, [g_t[0]] + [torch.tensor(packed[n]) for n in names]))


def flat_outputs(y):
    if isinstance(y, (tuple, list)):
        return [t for item in y for t in flat_outputs(item)]
    return [y]


def check_against_torch(ours, theirs, x_np, rtol=RTOL, atol=ATOL):
    load_torch_weights(ours, theirs)
    x = ng.tensor(x_np, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True)
    ys, ys_t = flat_outputs(ours(x)), flat_outputs(theirs(xt))
    assert len(ys) == len(ys_t)
    for y, yt in zip(ys, ys_t):
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=rtol, atol=atol, err_msg=repr(ours))
    for name, g, gt in grads_of(ours, theirs, x, ys, ys_t, xt):
        np.testing.assert_allclose(g.numpy(), gt.numpy(), rtol=1e-8, atol=1e-10, err_msg=f"{ours!r}: grad {name}")


D = "float64"

# (our module, torch module, input shape)
TORCH_CASES = [
    (lambda: nn.Linear(4, 3, dtype=D), lambda: torch.nn.Linear(4, 3), (5, 4)),
    (lambda: nn.Linear(4, 3, bias=False, dtype=D), lambda: torch.nn.Linear(4, 3, bias=False), (2, 5, 4)),
    (lambda: nn.Conv1d(2, 4, 3, stride=2, padding=1, dtype=D), lambda: torch.nn.Conv1d(2, 4, 3, 2, 1), (2, 2, 9)),
    (lambda: nn.Conv2d(4, 6, 3, padding="same", groups=2, dtype=D),
     lambda: torch.nn.Conv2d(4, 6, 3, padding="same", groups=2), (2, 4, 5, 6)),
    (lambda: nn.Conv2d(3, 4, 3, padding=(1, 2), dilation=2, bias=False, dtype=D),
     lambda: torch.nn.Conv2d(3, 4, 3, padding=(1, 2), dilation=2, bias=False), (2, 3, 7, 6)),
    (lambda: nn.Conv3d(2, 2, 2, dtype=D), lambda: torch.nn.Conv3d(2, 2, 2), (1, 2, 3, 4, 3)),
    (lambda: nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1, dtype=D),
     lambda: torch.nn.ConvTranspose1d(2, 3, 3, 2, 1, 1), (2, 2, 5)),
    (lambda: nn.ConvTranspose2d(4, 2, 3, stride=2, groups=2, dtype=D),
     lambda: torch.nn.ConvTranspose2d(4, 2, 3, 2, groups=2), (2, 4, 3, 4)),
    (lambda: nn.ConvTranspose3d(2, 2, 2, stride=2, dtype=D), lambda: torch.nn.ConvTranspose3d(2, 2, 2, 2),
     (1, 2, 2, 3, 2)),
    (lambda: nn.DepthwiseConv2d(3, 3, padding=1, multiplier=2, dtype=D),
     lambda: torch.nn.Conv2d(3, 6, 3, padding=1, groups=3), (2, 3, 5, 5)),
    (lambda: nn.DepthwiseConvTranspose1d(4, 3, stride=2, divisor=2, dtype=D),
     lambda: torch.nn.ConvTranspose1d(4, 2, 3, 2, groups=2), (2, 4, 5)),
    (lambda: nn.LayerNorm((3, 4), dtype=D), lambda: torch.nn.LayerNorm((3, 4)), (2, 5, 3, 4)),
    (lambda: nn.GroupNorm(2, 4, dtype=D), lambda: torch.nn.GroupNorm(2, 4), (3, 4, 5)),
    (lambda: nn.GroupNorm(2, 4, bias=False, dtype=D), lambda: torch.nn.GroupNorm(2, 4, bias=False), (3, 4, 5)),
    (lambda: nn.BatchNorm2d(3, bias=False, dtype=D), lambda: torch.nn.BatchNorm2d(3, bias=False), (4, 3, 2, 2)),
    (lambda: nn.LayerNorm(4, elementwise_affine=False, dtype=D),
     lambda: torch.nn.LayerNorm(4, elementwise_affine=False), (3, 4)),
    (lambda: nn.InstanceNorm2d(3, affine=True, dtype=D), lambda: torch.nn.InstanceNorm2d(3, affine=True), (2, 3, 4, 5)),
    (lambda: nn.InstanceNorm1d(3, dtype=D), lambda: torch.nn.InstanceNorm1d(3), (3, 6)),
    (lambda: nn.MaxPool1d(3, 2, 1), lambda: torch.nn.MaxPool1d(3, 2, 1), (2, 3, 8)),
    (lambda: nn.MaxPool2d((2, 3), padding=1), lambda: torch.nn.MaxPool2d((2, 3), padding=1), (2, 3, 5, 7)),
    (lambda: nn.MaxPool3d(2), lambda: torch.nn.MaxPool3d(2), (1, 2, 4, 4, 4)),
    (lambda: nn.AvgPool1d(3, 2, 1), lambda: torch.nn.AvgPool1d(3, 2, 1), (2, 3, 8)),
    (lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
     lambda: torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 3, 6, 7)),
    (lambda: nn.AvgPool3d(2, 1), lambda: torch.nn.AvgPool3d(2, 1), (1, 2, 3, 3, 3)),
    (lambda: nn.AdaptiveAvgPool2d(1), lambda: torch.nn.AdaptiveAvgPool2d(1), (2, 3, 4, 5)),
    (lambda: nn.AdaptiveAvgPool1d(2), lambda: torch.nn.AdaptiveAvgPool1d(2), (2, 3, 6)),
    (lambda: nn.AdaptiveAvgPool3d((1, 2, 3)), lambda: torch.nn.AdaptiveAvgPool3d((1, 2, 3)), (1, 2, 2, 4, 6)),
    (lambda: nn.PReLU(3, dtype=D), lambda: torch.nn.PReLU(3), (2, 3, 4)),
    (lambda: nn.Flatten(), lambda: torch.nn.Flatten(), (2, 3, 4)),
    (lambda: nn.Unflatten(1, (2, -1)), lambda: torch.nn.Unflatten(1, (2, 3)), (4, 6)),
    (lambda: nn.RNN(3, 4, num_layers=2, nonlinearity="relu", dtype=D),
     lambda: torch.nn.RNN(3, 4, num_layers=2, nonlinearity="relu"), (5, 2, 3)),
    (lambda: nn.LSTM(3, 4, bidirectional=True, batch_first=True, dtype=D),
     lambda: torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True), (2, 5, 3)),
    (lambda: nn.GRU(3, 4, num_layers=2, bidirectional=True, dtype=D),
     lambda: torch.nn.GRU(3, 4, num_layers=2, bidirectional=True), (5, 2, 3)),
    (lambda: nn.GRU(3, 4, dtype=D), lambda: torch.nn.GRU(3, 4), (5, 3)),
]


@pytest.mark.parametrize("make, make_torch, shape", TORCH_CASES,
                         ids=[repr(c[0]()).split("(")[0] + str(i) for i, c in enumerate(TORCH_CASES)])
def test_module_matches_torch(make, make_torch, shape):
    theirs = make_torch().double()
    check_against_torch(make(), theirs, rng().normal(size=shape))


ACTIVATIONS = [
    (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.SiLU(), torch.nn.SiLU()), (nn.Swish(), torch.nn.SiLU()),
    (nn.Tanh(), torch.nn.Tanh()), (nn.ReLU(), torch.nn.ReLU()), (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (nn.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3)), (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)), (nn.ELU(0.5), torch.nn.ELU(0.5)),
    (nn.SELU(), torch.nn.SELU()), (nn.GELU(), torch.nn.GELU(approximate="tanh")),
    (nn.GELU(approximate="none"), torch.nn.GELU()), (nn.Mish(), torch.nn.Mish()), (nn.ReLU6(), torch.nn.ReLU6()),
    (nn.Hardtanh(), torch.nn.Hardtanh()), (nn.LogSigmoid(), torch.nn.LogSigmoid()),
    (nn.Softplus(beta=2.0), torch.nn.Softplus(beta=2.0)), (nn.Softsign(), torch.nn.Softsign()),
    (nn.Tanhshrink(), torch.nn.Tanhshrink()),
]


@pytest.mark.parametrize("ours, theirs", ACTIVATIONS, ids=[repr(a) for a, _ in ACTIVATIONS])
def test_activation_matches_torch(ours, theirs):
    x = rng().normal(size=(3, 4, 5)) * 3
    x[np.abs(x) < 1e-3] = 0.5  # keep away from kinks
    x[np.abs(np.abs(x) - 1) < 1e-3] = 0.5
    x[np.abs(x - 6) < 1e-3] = 0.5
    check_against_torch(ours, theirs, x)


def test_nnabla_only_activations_against_numpy():
    x = rng().normal(size=(2, 3, 4)) * 3
    t = ng.tensor(x)
    np.testing.assert_array_equal(nn.CReLU()(t).numpy(), np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], 1))
    elu = lambda v: np.where(v > 0, v, 0.7 * np.expm1(v))  # noqa: E731
    np.testing.assert_allclose(nn.CELU(0.7, axis=2)(t).numpy(), np.concatenate([elu(x), elu(-x)], 2), rtol=1e-12)
    np.testing.assert_allclose(nn.Sinc()(t).numpy(), np.sin(x) / x, rtol=1e-12)
    np.testing.assert_allclose(nn.Hardsigmoid()(t).numpy(), np.clip(0.2 * x + 0.5, 0, 1), rtol=1e-12)


def _w(m):
    return m.weight


# (module, input shape or int64 input, the functional call on the module's parameters)
FUNCTIONAL_CASES = [
    (nn.Linear(4, 3), (2, 5, 4), lambda m, x: F.add2(F.reshape(F.batch_matmul(
        F.reshape(x, (1, 10, 4)), F.reshape(m.weight, (1, 3, 4)), False, True), (2, 5, 3)), m.bias)),
    (nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2), (2, 2, 6, 6),
     lambda m, x: F.convolution(x, m.weight, m.bias, 1, (1, 1), (2, 2), (1, 1), 2)),
    (nn.Conv1d(2, 4, 3), (2, 5), lambda m, x: F.convolution(x, m.weight, m.bias, 0, (0,), (1,), (1,), 1)),
    (nn.ConvTranspose2d(2, 4, 3, stride=2, output_padding=1), (1, 2, 3, 3),
     lambda m, x: F.deconvolution(x, m.weight, m.bias, 1, (0, 0), (2, 2), (1, 1), 1, False, (1, 1))),
    (nn.DepthwiseConv2d(2, 3, multiplier=2), (1, 2, 5, 5),
     lambda m, x: F.depthwise_convolution(x, m.weight, m.bias, 1, (0, 0), (1, 1), (1, 1), 2)),
    (nn.DepthwiseConvTranspose2d(4, 3, divisor=2), (1, 4, 5, 5),
     lambda m, x: F.depthwise_deconvolution(x, m.weight, m.bias, 1, (0, 0), (1, 1), (1, 1), 2)),
    (nn.BatchNorm2d(3).eval(), (2, 3, 4, 4),
     lambda m, x: F.batch_normalization(x, F.reshape(m.bias, (1, 3, 1, 1)), F.reshape(m.weight, (1, 3, 1, 1)),
                                        F.reshape(m.running_mean, (1, 3, 1, 1)),
                                        F.reshape(m.running_var, (1, 3, 1, 1)), [1], 0.0, 1e-5, False)),
    (nn.LayerNorm(4), (2, 3, 4),
     lambda m, x: F.layer_normalization(x, F.reshape(m.bias, (1, 1, 4)), F.reshape(m.weight, (1, 1, 4)), [0, 1])),
    (nn.GroupNorm(2, 4), (2, 4, 3),
     lambda m, x: F.group_normalization(x, F.reshape(m.bias, (1, 4, 1)), F.reshape(m.weight, (1, 4, 1)), 2)),
    (nn.InstanceNorm2d(3), (2, 3, 4, 4), lambda m, x: F.instance_normalization(x, None, None)),
    (nn.MaxPool2d(2), (1, 2, 4, 4), lambda m, x: F.max_pooling(x, [2, 2], [2, 2], True, [0, 0])),
    (nn.AvgPool2d(3, 1, 1), (1, 2, 4, 4), lambda m, x: F.average_pooling(x, [3, 3], [1, 1], True, [1, 1])),
    (nn.SumPool2d(2), (1, 2, 4, 4), lambda m, x: F.sum_pooling(x, [2, 2], [2, 2], True, [0, 0])),
    (nn.GlobalAvgPool(), (2, 3, 4, 4), lambda m, x: F.global_average_pooling(x)),
    (nn.PReLU(), (2, 3), lambda m, x: F.prelu(x, m.weight, 1)),
    (nn.Softplus(beta=2), (2, 3), lambda m, x: F.softplus(x, 2.0)),
    (nn.CReLU(), (2, 3), lambda m, x: F.crelu(x, 1)),
    (nn.RNN(3, 4), (5, 2, 3), lambda m, x: F.rnn(x, ng.zeros((1, 1, 2, 4)), m.weight_l0, None, m.bias)[0]),
    (nn.LSTM(3, 4, num_layers=2), (5, 2, 3),
     lambda m, x: F.lstm(x, ng.zeros((2, 1, 2, 4)), ng.zeros((2, 1, 2, 4)), m.weight_l0, m.weight, m.bias, 2)[0]),
    (nn.GRU(3, 4), (5, 2, 3), lambda m, x: F.gru(x, ng.zeros((1, 1, 2, 4)), m.weight_l0, None, m.bias)[0]),
    (nn.Embedding(6, 3), np.array([[0, 5], [2, 2]]), lambda m, x: F.embed(x, m.weight)),
]


ACTIVATION_OPS = [
    (nn.Sigmoid(), F.sigmoid), (nn.SiLU(), F.swish), (nn.Tanh(), F.tanh), (nn.ReLU(), F.relu),
    (nn.LeakyReLU(0.3), lambda x: F.leaky_relu(x, 0.3)), (nn.Softmax(dim=0), lambda x: F.softmax(x, 0)),
    (nn.LogSoftmax(dim=1), lambda x: F.log_softmax(x, 1)), (nn.ELU(0.5), lambda x: F.elu(x, 0.5)),
    (nn.SELU(), F.selu), (nn.CReLU(), F.crelu), (nn.CELU(0.5), lambda x: F.celu(x, 0.5, 1)), (nn.GELU(), F.gelu),
    (nn.Mish(), F.mish), (nn.ReLU6(), F.relu6), (nn.Hardsigmoid(), F.hard_sigmoid), (nn.Hardtanh(), F.hard_tanh),
    (nn.LogSigmoid(), F.log_sigmoid), (nn.Softplus(), F.softplus), (nn.Softsign(), F.softsign),
    (nn.Tanhshrink(), F.tanh_shrink), (nn.Sinc(), F.sinc),
]
FUNCTIONAL_CASES += [(module, (3, 4), lambda m, x, op=op: op(x)) for module, op in ACTIVATION_OPS]


@pytest.mark.parametrize("module, shape, call", FUNCTIONAL_CASES, ids=[repr(c[0]) for c in FUNCTIONAL_CASES])
def test_forward_is_the_functional_op(module, shape, call):
    if isinstance(shape, np.ndarray):
        x = ng.tensor(shape)
    else:
        x = ng.tensor(rng().normal(size=shape).astype(np.float32))
    y = flat_outputs(module(x))[0]
    np.testing.assert_array_equal(y.numpy(), call(module, x).numpy())


@pytest.mark.filterwarnings("ignore:reduction")  # torch's note on KLDivLoss's 'mean'
def test_losses_match_torch():
    r = rng(3)
    logits = r.normal(size=(4, 5, 3))
    labels = r.integers(0, 5, (4, 3))
    labels[0, 0] = -100
    weight = r.random(5) + 0.5
    probs = r.random((3, 4))
    targets = r.random((3, 4))
    x, t = r.normal(size=(3, 4)), r.normal(size=(3, 4))
    log_q, p = np.log(r.dirichlet(np.ones(4), 3)), r.dirichlet(np.ones(4), 3)
    p[0, 0] = 0
    cases = []
    for red in ("none", "mean", "sum"):
        for kw in ({}, {"weight": weight}, {"weight": weight, "label_smoothing": 0.2}):
            as_ng = {k: ng.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
            as_t = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
            cases.append((nn.CrossEntropyLoss(reduction=red, **as_ng), torch.nn.CrossEntropyLoss(reduction=red, **as_t),
                          logits, labels))
            as_ng.pop("label_smoothing", None), as_t.pop("label_smoothing", None)
            cases.append((nn.NLLLoss(reduction=red, **as_ng), torch.nn.NLLLoss(reduction=red, **as_t), logits, labels))
        pw = r.random(4) + 0.5
        cases += [
            (nn.MSELoss(reduction=red), torch.nn.MSELoss(reduction=red), x, t),
            (nn.L1Loss(reduction=red), torch.nn.L1Loss(reduction=red), x, t),
            (nn.HuberLoss(reduction=red, delta=0.7), torch.nn.HuberLoss(reduction=red, delta=0.7), x, t),
            (nn.SmoothL1Loss(reduction=red, beta=0.7), torch.nn.SmoothL1Loss(reduction=red, beta=0.7), x, t),
            (nn.SmoothL1Loss(reduction=red, beta=0.0), torch.nn.SmoothL1Loss(reduction=red, beta=0.0), x, t),
            (nn.BCELoss(ng.tensor(pw), reduction=red), torch.nn.BCELoss(torch.tensor(pw), reduction=red), probs,
             targets),
            (nn.BCEWithLogitsLoss(ng.tensor(pw), reduction=red, pos_weight=ng.tensor(pw[::-1].copy())),
             torch.nn.BCEWithLogitsLoss(torch.tensor(pw), reduction=red, pos_weight=torch.tensor(pw[::-1].copy())),
             x, targets),
            (nn.KLDivLoss(reduction=red), torch.nn.KLDivLoss(reduction=red), log_q, p),
            (nn.KLDivLoss(reduction=red, log_target=True), torch.nn.KLDivLoss(reduction=red, log_target=True), log_q,
             np.log(r.dirichlet(np.ones(4), 3))),
        ]
    cases.append((nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"), log_q, p))
    cases.append((nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), logits[0, :, 0], labels[1, 0]))
    for ours, theirs, a, b in cases:
        xa, xa_t = ng.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        y, y_t = ours(xa, ng.tensor(b)), theirs(xa_t, torch.tensor(b))
        np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=repr(ours))
        (g,) = ng.grad(F.sum(F.mul2(y, y)), [xa])
        (g_t,) = torch.autograd.grad((y_t * y_t).sum(), [xa_t])
        np.testing.assert_allclose(g.numpy(), g_t.numpy(), rtol=1e-9, atol=1e-12, err_msg=repr(ours))


def test_cross_entropy_ignore_index_against_numpy():
    logits = rng(4).normal(size=(4, 3))
    labels = np.array([2, -1, 0, -1])
    loss = nn.CrossEntropyLoss(ignore_index=-1)(ng.tensor(logits), ng.tensor(labels))
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_allclose(loss.numpy(), -(log_p[0, 2] + log_p[2, 0]) / 2, rtol=1e-12)


def test_batch_norm_train_eval_and_running_stats_match_torch():
    for ours, theirs, shape in [(nn.BatchNorm2d(3, dtype=D), torch.nn.BatchNorm2d(3), (4, 3, 2, 3)),
                                (nn.BatchNorm1d(3, momentum=None, dtype=D), torch.nn.BatchNorm1d(3, momentum=None),
                                 (5, 3)),
                                (nn.BatchNorm3d(2, momentum=0.3, dtype=D), torch.nn.BatchNorm3d(2, momentum=0.3),
                                 (2, 2, 2, 2, 3))]:
        theirs = theirs.double()
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            theirs.bias.uniform_(-1, 1)
        load_torch_weights(ours, theirs)
        for step in range(3):
            x = rng(step).normal(size=shape) * 2 + 1
            check_against_torch(ours, theirs, x)  # training: batch statistics, updates the running ones
            for name in ("running_mean", "running_var"):
                np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).numpy(), rtol=1e-12,
                                           err_msg=name)
            assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == step + 1
        ours.eval(), theirs.eval()
        check_against_torch(ours, theirs, rng(9).normal(size=shape))  # loads torch's running statistics, then eval
        for name in ("running_mean", "running_var"):  # neither updates in eval mode
            np.testing.assert_array_equal(getattr(ours, name).numpy(), getattr(theirs, name).numpy(), err_msg=name)


def test_batch_norm_without_running_stats_uses_batch_statistics_in_eval():
    x = rng().normal(size=(6, 2))
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False, dtype=D).eval()
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(bn(ng.tensor(x)).numpy(), expected, rtol=1e-12)
    assert list(bn.state_dict()) == []


def test_gradient_penalty_second_order_matches_torch():
    """||d critic(x) / dx||^2 through Conv2d + BatchNorm2d + Linear, then the
    gradient of that penalty with respect to every parameter (double backward)."""
    ours = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, dtype=D), nn.BatchNorm2d(2, dtype=D), nn.Tanh(),
                         nn.Flatten(), nn.Linear(2 * 4 * 4, 1, dtype=D))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.BatchNorm2d(2), torch.nn.Tanh(),
                                 torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 4, 1)).double()
    load_torch_weights(ours, theirs)
    x_np = rng().normal(size=(3, 1, 4, 4))
    x, xt = ng.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    (gx,) = ng.grad(F.sum(ours(x)), [x], create_graph=True)
    (gx_t,) = torch.autograd.grad(theirs(xt).sum(), [xt], create_graph=True)
    penalty, penalty_t = F.sum(F.mul2(gx, gx)), (gx_t * gx_t).sum()
    np.testing.assert_allclose(penalty.numpy(), penalty_t.detach().numpy(), rtol=1e-10)
    names = [n for n, _ in theirs.named_parameters()]
    ours_params = dict(ours.named_parameters())
    # the Linear bias does not reach d critic / dx: both report it unused
    grads = ng.grad(penalty, [ours_params[n] for n in names], allow_unused=True)
    grads_t = torch.autograd.grad(penalty_t, list(theirs.parameters()), allow_unused=True)
    assert [n for n, g in zip(names, grads_t) if g is None] == ["4.bias"]
    for name, g, gt in zip(names, grads, grads_t):
        if gt is None:
            assert g is None or not g.numpy().any(), name
        else:
            np.testing.assert_allclose(g.numpy(), gt.numpy(), rtol=1e-8, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("ours, theirs", [
    (lambda: nn.Linear(4, 2), lambda: torch.nn.Linear(4, 2)),
    (lambda: nn.Conv2d(1, 8, 3), lambda: torch.nn.Conv2d(1, 8, 3)),
    (lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3)),
    (lambda: nn.LayerNorm(5), lambda: torch.nn.LayerNorm(5)),
    (lambda: nn.Embedding(10, 3), lambda: torch.nn.Embedding(10, 3)),
    (lambda: nn.GroupNorm(2, 4), lambda: torch.nn.GroupNorm(2, 4)),
    (lambda: nn.PReLU(), lambda: torch.nn.PReLU()),
])
def test_state_dict_keys_and_shapes_are_torchs(ours, theirs):
    mine, torch_sd = ours().state_dict(), theirs().state_dict()
    assert list(mine) == list(torch_sd)
    assert [tuple(v.shape) for v in mine.values()] == [tuple(v.shape) for v in torch_sd.values()]


@pytest.mark.parametrize("ours, theirs", [
    (nn.Linear(4, 2), torch.nn.Linear(4, 2)),
    (nn.Linear(4, 2, bias=False), torch.nn.Linear(4, 2, bias=False)),
    (nn.Conv2d(1, 8, 3), torch.nn.Conv2d(1, 8, 3)),
    (nn.Conv2d(4, 6, 3, padding="same", groups=2), torch.nn.Conv2d(4, 6, 3, padding="same", groups=2)),
    (nn.Conv1d(4, 6, 3, padding="valid"), torch.nn.Conv1d(4, 6, 3, padding="valid")),
    (nn.Conv2d(2, 4, (3, 5), stride=2, padding=1, dilation=2, groups=2, bias=False),
     torch.nn.Conv2d(2, 4, (3, 5), stride=2, padding=1, dilation=2, groups=2, bias=False)),
    (nn.ConvTranspose2d(2, 4, 2, stride=2, output_padding=1),
     torch.nn.ConvTranspose2d(2, 4, 2, stride=2, output_padding=1)),
    (nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)),
    (nn.LayerNorm((4, 5)), torch.nn.LayerNorm((4, 5))),
    (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
    (nn.InstanceNorm2d(3), torch.nn.InstanceNorm2d(3)),
    (nn.Embedding(10, 3, padding_idx=0), torch.nn.Embedding(10, 3, padding_idx=0)),
    (nn.Dropout(0.2), torch.nn.Dropout(0.2)),
    (nn.ReLU(), torch.nn.ReLU()), (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)), (nn.ELU(), torch.nn.ELU(alpha=1.0)),
    (nn.PReLU(3), torch.nn.PReLU(3)), (nn.Flatten(), torch.nn.Flatten()),
    (nn.LSTM(10, 20, num_layers=2, batch_first=True), torch.nn.LSTM(10, 20, num_layers=2, batch_first=True)),
    (nn.GRU(3, 4, bidirectional=True), torch.nn.GRU(3, 4, bidirectional=True)),
    (nn.MSELoss(), torch.nn.MSELoss()), (nn.Identity(), torch.nn.Identity()),
])
def test_repr_is_torchs(ours, theirs):
    assert repr(ours) == repr(theirs)


def test_default_initialisation_bounds_and_seeding():
    ng.manual_seed(5)
    a = nn.Linear(50, 40)
    ng.manual_seed(5)
    b = nn.Linear(50, 40)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    layers = [(a, 50), (nn.Conv2d(4, 6, 3, groups=2), 2 * 9), (nn.ConvTranspose2d(4, 6, 3, groups=2), 3 * 9)]
    for layer, fan_in in layers:
        bound = 1 / math.sqrt(fan_in)
        for p in (layer.weight, layer.bias):
            v = p.numpy()
            assert np.abs(v).max() <= bound and np.abs(v).max() > 0.8 * bound
        w = layer.weight.numpy()
        np.testing.assert_allclose(w.var(), bound ** 2 / 3, rtol=0.2)  # U(-b, b): variance b^2 / 3
    e = nn.Embedding(100, 50).weight.numpy()
    assert abs(e.mean()) < 0.05 and abs(e.std() - 1) < 0.05
    assert nn.Linear(2, 3, dtype=ng.float64).weight.dtype == ng.float64


def test_dropout_train_eval_and_seed():
    x = ng.ones((200, 50))
    drop = nn.Dropout(0.3)
    ng.manual_seed(11)
    y = drop(x).numpy()
    ng.manual_seed(11)
    np.testing.assert_array_equal(y, F.dropout(x, 0.3, -1).numpy())
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.02
    a = nn.Dropout(0.5, generator=ng.Generator(3))(x).numpy()
    np.testing.assert_array_equal(a, F.dropout(x, 0.5, ng.Generator(3)).numpy())
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())


def test_embedding_padding_row_gets_no_gradient_and_index_errors():
    ours, theirs = nn.Embedding(5, 3, padding_idx=-1, dtype=D), torch.nn.Embedding(5, 3, padding_idx=-1).double()
    load_torch_weights(ours, theirs)
    idx = np.array([[4, 2], [1, 4]])
    y, yt = ours(ng.tensor(idx)), theirs(torch.tensor(idx))
    np.testing.assert_array_equal(y.numpy(), yt.detach().numpy())
    F.sum(F.mul2(y, y)).backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
    assert not ours.weight.grad.numpy()[4].any()
    with pytest.raises(IndexError, match=r"Embedding\(5, 3, padding_idx=4\): index 7 is out of range \[0, 5\)"):
        ours(ng.tensor([0, 7]))
    with pytest.raises(TypeError, match="int64 indices, got float32 of shape"):
        ours(ng.tensor([0.0, 1.0]))


def test_bad_inputs_raise_errors_naming_the_layer():
    cases = [
        (nn.Linear(4, 2), ng.ones((5, 3)), ValueError,
         r"Linear\(in_features=4, out_features=2, bias=True\): input of shape \(5, 3\) has 3 features in its last "
         r"axis, expected 4"),
        (nn.Linear(4, 2), ng.ones((5, 4), dtype=ng.float64), TypeError, "input is float64 but the parameters are"),
        (nn.Linear(4, 2), np.ones((5, 4)), TypeError, "input must be an nthgrad Tensor, got ndarray"),
        (nn.Conv2d(1, 8, 3), ng.ones((8, 8)), ValueError,
         r"Conv2d\(1, 8, kernel_size=\(3, 3\), stride=\(1, 1\)\): expected input \(N, 1, H, W\) or \(1, H, W\), "
         r"got shape \(8, 8\)"),
        (nn.Conv2d(1, 8, 3), ng.ones((1, 1, 2, 9)), ValueError, r"input of shape \(1, 1, 2, 9\) is too small"),
        (nn.Conv1d(2, 4, 3), ng.ones((1, 3, 9)), ValueError, r"Conv1d\(2, 4.*got shape \(1, 3, 9\)"),
        (nn.BatchNorm2d(3), ng.ones((2, 4, 5, 5)), ValueError,
         r"BatchNorm2d\(3, .*expected input \(N, C, H, W\) with C = 3, got shape \(2, 4, 5, 5\)"),
        (nn.BatchNorm1d(3), ng.ones((1, 3)), ValueError, "more than 1 value per channel"),
        (nn.LayerNorm(4), ng.ones((2, 5)), ValueError, r"LayerNorm\(\(4,\).*expected input \(\*, 4\), got shape"),
        (nn.GroupNorm(2, 4), ng.ones((2, 3)), ValueError, r"GroupNorm\(2, 4.*expected input \(N, 4, \*\)"),
        (nn.MaxPool2d(3), ng.ones((1, 1, 2, 2)), ValueError, r"MaxPool2d.*too small"),
        (nn.MaxPool2d(2), ng.ones((4, 4)), ValueError, r"MaxPool2d.*expected input \(N, C, H, W\)"),
        (nn.AdaptiveAvgPool2d(3), ng.ones((1, 1, 4, 4)), NotImplementedError, "divide the input sizes"),
        (nn.PReLU(3), ng.ones((2, 4)), ValueError, r"PReLU\(num_parameters=3\): input of shape \(2, 4\)"),
        (nn.Softmax(dim=2), ng.ones((2, 4)), ValueError, r"Softmax\(dim=2\): dim 2 is out of range"),
        (nn.LSTM(3, 4), ng.ones((5, 2, 4)), ValueError, r"LSTM\(3, 4\): expected input \(T, B, I\)"),
        (nn.ReLU(), ng.ones((2,), dtype=ng.int64), TypeError, r"ReLU\(\): input must be float32 or float64"),
        (nn.Flatten(2), ng.ones((3,)), ValueError, r"Flatten\(start_dim=2, end_dim=-1\): dims out of range"),
    ]
    for module, x, error, message in cases:
        with pytest.raises(error, match=message):
            module(x)
    with pytest.raises(ValueError, match=r"initial state 0 must have shape \(1, 2, 4\)"):
        nn.GRU(3, 4)(ng.ones((5, 2, 3)), ng.ones((2, 2, 4)))
    with pytest.raises(ValueError, match=r"MSELoss: input of shape \(2, 3\) and target of shape \(3, 2\)"):
        nn.MSELoss()(ng.ones((2, 3)), ng.ones((3, 2)))
    with pytest.raises(TypeError, match="CrossEntropyLoss: target must be an int64 tensor"):
        nn.CrossEntropyLoss()(ng.ones((2, 3)), ng.ones((2,)))
    with pytest.raises(IndexError, match=r"CrossEntropyLoss: target value 3 is out of range \[0, 3\)"):
        nn.CrossEntropyLoss()(ng.ones((2, 3)), ng.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"needs target of shape \(N, d1, ...\), got \(3,\)"):
        nn.CrossEntropyLoss()(ng.ones((2, 3)), ng.tensor([0, 1, 2]))


def test_bad_arguments():
    cases = [
        (lambda: nn.Linear(4, -2), ValueError, "Linear: out_features must be >= 0, got -2"),
        (lambda: nn.Linear(4.0, 2), TypeError, "Linear: in_features must be an int, got 4.0"),
        (lambda: nn.Linear(4, 2, dtype=ng.int64), TypeError, "Linear: dtype must be nthgrad.float32 or"),
        (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, r"divisible by groups \(2\)"),
        (lambda: nn.Conv2d(3, 4, (3, 3, 3)), ValueError, "kernel_size must be an int or 2 ints"),
        (lambda: nn.Conv2d(3, 4, 2, padding="same"), NotImplementedError, "asymmetric padding"),
        (lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same"), ValueError, "needs stride 1"),
        (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=2), ValueError, "output_padding"),
        (lambda: nn.BatchNorm2d(3, momentum=2), ValueError, r"momentum must be in \[0, 1\]"),
        (lambda: nn.GroupNorm(3, 4), ValueError, r"num_channels \(4\) must be divisible by num_groups \(3\)"),
        (lambda: nn.MaxPool2d(2, padding=2), ValueError, "at most half of kernel_size"),
        (lambda: nn.MaxPool2d(2, ceil_mode=True), NotImplementedError, "ceil_mode=True"),
        (lambda: nn.Dropout(1.5), ValueError, r"Dropout: p must be a probability in \[0, 1\], got 1.5"),
        (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "nonlinearity must be 'tanh' or 'relu'"),
        (lambda: nn.CrossEntropyLoss(reduction="avg"), ValueError, "reduction must be one of"),
        (lambda: nn.Embedding(4, 2, padding_idx=4), ValueError, "padding_idx 4 is out of range"),
        (lambda: nn.Hardtanh(-2, 2), NotImplementedError, "min_val=-1, max_val=1"),
        (lambda: nn.GELU("erf"), ValueError, "approximate must be 'tanh' or 'none'"),
    ]
    for make, error, message in cases:
        with pytest.raises(error, match=message):
            make()


def test_state_dict_round_trip_and_torch_batch_norm_loads():
    bn = nn.BatchNorm2d(3)
    bn(ng.tensor(rng().normal(size=(4, 3, 2, 2)).astype(np.float32)))
    copy = nn.BatchNorm2d(3)
    copy.load_state_dict(bn.state_dict())
    for (k, a), (_, b) in zip(bn.state_dict().items(), copy.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    theirs = torch.nn.BatchNorm2d(3)
    theirs(torch.randn(4, 3, 2, 2))
    copy.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert copy.num_batches_tracked.item() == 1
    np.testing.assert_array_equal(copy.running_var.numpy(), theirs.running_var.numpy())


def test_every_public_layer_has_a_docstring_with_an_example():
    from nthgrad.nn import linear, conv, normalization, pooling, recurrent, activation, loss, dropout, embedding
    for family in (linear, conv, normalization, pooling, recurrent, activation, loss, dropout, embedding):
        for name in family.__all__:
            doc = getattr(family, name).__doc__ or ""
            assert "->" in doc or "Shapes" in doc, name
            assert "ng." in doc or "nn." in doc, name


def test_casting_a_model_casts_parameters_and_buffers():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2 * 2 * 2, 3), nn.PReLU())
    x = rng().normal(size=(2, 1, 4, 4))
    y32 = net(ng.tensor(x.astype(np.float32))).numpy()
    net.double()
    assert all(p.dtype == ng.float64 for p in net.parameters())
    assert net[1].running_mean.dtype == ng.float64 and net[1].num_batches_tracked.dtype == ng.int64
    y64 = net.eval()(ng.tensor(x)).numpy()
    assert y64.dtype == np.float64 and y32.shape == y64.shape
    with pytest.raises(TypeError, match="input is float32 but the parameters are float64"):
        net(ng.tensor(x.astype(np.float32)))


def test_recurrent_dropout_only_in_training():
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5, dtype=D)
    x = ng.tensor(rng().normal(size=(5, 2, 3)))
    ng.manual_seed(1)
    a = lstm(x)[0].numpy()
    ng.manual_seed(1)
    np.testing.assert_array_equal(lstm(x)[0].numpy(), a)  # the global generator makes it reproducible
    lstm.eval()
    b = lstm(x)[0].numpy()
    np.testing.assert_array_equal(lstm(x)[0].numpy(), b)
    assert not np.allclose(a, b)  # dropout changed the training output
    plain = F.lstm(x, ng.zeros((2, 1, 2, 4), dtype=ng.float64), ng.zeros((2, 1, 2, 4), dtype=ng.float64),
                   lstm.weight_l0, lstm.weight, lstm.bias, 2)[0]
    np.testing.assert_array_equal(b, plain.numpy())
