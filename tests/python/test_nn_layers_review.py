"""Regressions found by the adversarial review of the nn layers (issue 9):
each test failed before its fix."""
import re

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.nn as nn


@pytest.mark.parametrize("make", [
    lambda w: nn.BCELoss(weight=w, reduction="sum"),
    lambda w: nn.BCEWithLogitsLoss(weight=w, reduction="sum"),
    lambda w: nn.BCEWithLogitsLoss(pos_weight=w, reduction="sum"),
])
def test_binary_cross_entropy_weights_must_fit_the_input(make):
    x, t = ng.full((2, 3), 0.5), ng.ones((2, 3))
    # a weight that would enlarge the loss: torch refuses it; it used to give a (5, 2, 3) loss, 'sum' 5x too large
    with pytest.raises(ValueError, match=r"Loss: (pos_)?weight of shape \(5, 2, 3\) does not broadcast to the "
                                         r"input's shape \(2, 3\)"):
        make(ng.ones((5, 2, 3)))(x, t)
    # one that does not broadcast: the message named mul2, not the loss
    with pytest.raises(ValueError, match=r"Loss: (pos_)?weight of shape \(4,\) does not broadcast"):
        make(ng.ones((4,)))(x, t)
    # float64 weights silently turned a float32 loss into float64
    with pytest.raises(TypeError, match=r"Loss: (pos_)?weight is float64 but the input is float32"):
        make(ng.ones((3,), dtype=ng.float64))(x, t)
    # weights that fit still work: (3,) and (2, 1) broadcast to (2, 3)
    for w in (ng.full((3,), 2.0), ng.full((2, 1), 2.0)):
        assert make(w)(x, t).shape == ()
    np.testing.assert_allclose(make(ng.full((2, 1), 2.0))(x, t).numpy(), make(None)(x, t).numpy() * 2, rtol=1e-6)


def test_softmax_of_a_0d_input_is_torchs():
    # the layer accepts dim 0 / -1 for a 0-d input (as torch), but the op refused it with an error naming `softmax`
    torch = pytest.importorskip("torch")
    for ours, theirs in [(nn.Softmax(0), torch.nn.Softmax(0)), (nn.LogSoftmax(-1), torch.nn.LogSoftmax(-1)),
                         (nn.Softmax(), torch.nn.Softmax(0))]:
        x = ng.tensor(2.5, requires_grad=True)
        y = ours(x)
        assert y.shape == ()
        np.testing.assert_array_equal(y.numpy(), theirs(torch.tensor(2.5)).numpy())
        (g,) = ng.grad(y, [x])
        assert g.shape == () and g.item() == 0.0
    with pytest.raises(ValueError, match=r"Softmax\(dim=1\): dim 1 is out of range for an input of shape \(\)"):
        nn.Softmax(1)(ng.tensor(1.0))


def test_unflatten_with_a_zero_size_and_minus_one():
    # -1 next to a 0 cannot be inferred (torch: "ambiguous"); it was a ZeroDivisionError
    with pytest.raises(ValueError, match=r"Unflatten\(dim=1, unflattened_size=\(0, -1\)\): cannot unfold axis 1 of "
                                         r"size 0 \(input shape \(2, 0\)\) into \(0, -1\)"):
        nn.Unflatten(1, (0, -1))(ng.ones((2, 0)))
    assert nn.Unflatten(1, (0, 3))(ng.ones((2, 0))).shape == (2, 0, 3)
    assert nn.Unflatten(1, (2, -1))(ng.ones((2, 0))).shape == (2, 2, 0)
    with pytest.raises(ValueError, match="cannot unfold axis 1 of size 4"):
        nn.Unflatten(1, (0, -1))(ng.ones((2, 4)))


@pytest.mark.parametrize("layer, shape", [(nn.InstanceNorm1d(2), (3, 2, 1)),
                                          (nn.InstanceNorm2d(2, affine=True), (2, 1, 1)),
                                          (nn.InstanceNorm3d(2), (1, 2, 1, 1, 1))])
def test_instance_norm_refuses_a_single_spatial_element(layer, shape):
    # torch raises; the output was silently 0 (the bias) whatever the input
    x = ng.tensor(np.random.default_rng(0).normal(size=shape).astype(np.float32))
    for mode in (layer.train, layer.eval):
        mode()
        with pytest.raises(ValueError, match=r"InstanceNorm\dd\(2, .*expected more than 1 spatial element per "
                                             r"channel, got input shape " + re.escape(str(shape))):
            layer(x)


def test_an_integer_class_weight_is_named_as_such():
    # the message said "must be a float nthgrad Tensor or None, got Tensor"
    with pytest.raises(TypeError, match=r"CrossEntropyLoss: weight must be a float nthgrad Tensor or None, got a "
                                        r"tensor of (nthgrad\.)?int64"):
        nn.CrossEntropyLoss(weight=ng.tensor([1, 2]))
    with pytest.raises(TypeError, match="BCEWithLogitsLoss: pos_weight must be a float nthgrad Tensor or None, got list"):
        nn.BCEWithLogitsLoss(pos_weight=[1.0])


@pytest.mark.parametrize("cls, kwargs", [("GRU", dict(num_layers=2, bidirectional=True)), ("GRU", {}),
                                         ("LSTM", dict(num_layers=2, bidirectional=True)), ("RNN", dict(num_layers=2))])
def test_recurrent_bias_gradients_match_torchs(cls, kwargs):
    """test_nn_layers compares the packed weights' gradients but gives the biases zeros (they are packed as sums):
    here the packed bias's gradient against torch's, packed as its rows are (d/d(b_ih + b_hh) is d/d b_ih, and
    GRU's separate b_in and b_hn take d/d b_ih and d/d b_hh of the n gate)."""
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, cls)(3, 4, **kwargs).double()
    ours = getattr(nn, cls)(3, 4, dtype="float64", **kwargs)
    ours.load_state_dict(ours.state_dict_from_torch(theirs.state_dict()))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 2, 3))
    r = rng.normal(size=(5, 2, 4 * (2 if kwargs.get("bidirectional") else 1)))
    (g,) = ng.grad(ng.functional.sum(ng.functional.mul2(ours(ng.tensor(x))[0], ng.tensor(r))), [ours.bias])
    params = dict(theirs.named_parameters())
    names = [n for n in params if n.startswith("bias")]
    g_t = dict(zip(names, torch.autograd.grad((theirs(torch.tensor(x))[0] * torch.tensor(r)).sum(),
                                              [params[n] for n in names])))
    as_state = {n: torch.zeros_like(p) for n, p in params.items() if n.startswith("weight")}
    for n in names:
        keep = g_t[n].clone()
        if n.startswith("bias_hh"):  # only GRU's n-gate row comes from b_hh; the other rows are b_ih's
            keep[:2 * 4 if cls == "GRU" else None] = 0
        as_state[n] = keep
    np.testing.assert_allclose(g.numpy(), ours.state_dict_from_torch(as_state)["bias"], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("beta, threshold", [(1.0, 1.0), (2.0, 5.0), (0.5, 20.0), (-1.0, 20.0), (-2.0, 0.5)])
def test_softplus_threshold_and_negative_beta_are_torchs(beta, threshold):
    # threshold was ignored (1.7014 where torch gives 1.5 at x = 1.5, threshold 1) and a negative beta,
    # accepted by the layer, was refused by the op with an error naming softplus
    torch = pytest.importorskip("torch")
    x_np = np.array([-30.0, -4.0, -1.5, -0.3, 0.2, 0.9, 1.5, 3.0, 4.5, 30.0])
    x, x_t = ng.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y, y_t = nn.Softplus(beta, threshold)(x), torch.nn.Softplus(beta, threshold)(x_t)
    np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), rtol=1e-12, atol=1e-15)
    (g,) = ng.grad(ng.functional.sum(ng.functional.mul2(y, y)), [x], create_graph=True)
    (g_t,) = torch.autograd.grad((y_t * y_t).sum(), [x_t], create_graph=True)
    np.testing.assert_allclose(g.numpy(), g_t.detach().numpy(), rtol=1e-12, atol=1e-15)
    (gg,) = ng.grad(ng.functional.sum(g), [x])
    (gg_t,) = torch.autograd.grad(g_t.sum(), [x_t])
    np.testing.assert_allclose(gg.numpy(), gg_t.numpy(), rtol=1e-10, atol=1e-13)


def test_state_dict_from_torch_refuses_a_torch_module_configured_otherwise():
    # a torch module with biases, more layers or a second direction converted silently (its extra weights dropped:
    # another model), and misshapen weights gave NumPy's bare "cannot reshape" errors
    torch = pytest.importorskip("torch")
    cases = [
        (nn.GRU(3, 4, bias=False), torch.nn.GRU(3, 4), ValueError,
         r"GRU.state_dict_from_torch: keys \['bias_ih_l0', 'bias_hh_l0'\] have no place in GRU\(3, 4, bias=False\)"),
        (nn.LSTM(3, 4), torch.nn.LSTM(3, 4, num_layers=2), ValueError, r"keys \['weight_ih_l1', .*have no place in"),
        (nn.RNN(3, 4), torch.nn.RNN(3, 4, bidirectional=True), ValueError, r"keys \['weight_ih_l0_reverse', "),
        (nn.LSTM(3, 4), torch.nn.LSTM(3, 8), ValueError,
         r"LSTM.state_dict_from_torch: 'weight_ih_l0' has shape \(32, 3\), expected \(16, 3\) for LSTM\(3, 4\)"),
        (nn.GRU(3, 4, num_layers=2), torch.nn.GRU(3, 4, num_layers=2, bidirectional=False), None, None),
        (nn.GRU(3, 4, num_layers=2, bidirectional=True), torch.nn.GRU(3, 4, num_layers=2), KeyError,
         r"missing key 'weight_ih_l0_reverse'"),
        (nn.LSTM(3, 4), torch.nn.GRU(3, 4), ValueError, r"'weight_ih_l0' has shape \(12, 3\), expected \(16, 3\)"),
    ]
    for ours, theirs, error, message in cases:
        if error is None:
            ours.load_state_dict(ours.state_dict_from_torch(theirs.state_dict()))
            continue
        with pytest.raises(error, match=message):
            ours.state_dict_from_torch(theirs.state_dict())


def test_conv_dtype_follows_casting():
    # conv.dtype was set once at construction and still said float32 after .double()
    for conv in (nn.Conv2d(1, 2, 3), nn.ConvTranspose1d(2, 2, 3), nn.DepthwiseConv2d(2, 3)):
        assert conv.dtype == ng.float32
        conv.double()
        assert conv.dtype == conv.weight.dtype == ng.float64


def test_bce_refuses_inputs_outside_0_1():
    # torch raises; the loss was silently 708 at x = -0.5 and negative (-0.405) at x = 1.5
    t = ng.tensor([1.0, 0.0, 1.0])
    for bad, shown in ((-0.5, "-0.5"), (1.5, "1.5"), (float("nan"), "nan")):
        with pytest.raises(ValueError, match=rf"BCELoss: input must hold probabilities in \[0, 1\], got {shown} "
                                             r"\(input of shape \(3,\); for logits use BCEWithLogitsLoss\)"):
            nn.BCELoss()(ng.tensor([0.5, bad, 0.25]), t)
    x = np.array([0.0, 0.3, 1.0], dtype=np.float32)
    loss = nn.BCELoss(reduction="none")(ng.tensor(x), ng.tensor([0.0, 1.0, 1.0])).numpy()
    np.testing.assert_allclose(loss, [0.0, -np.log(0.3), 0.0], atol=1e-7)


def test_a_recurrent_state_of_another_dtype_is_named():
    # the message said "input is float64 but the parameters are float32" for a float64 c_0 and a float32 input
    lstm = nn.LSTM(3, 4)
    h0, x = ng.zeros((1, 2, 4)), ng.zeros((5, 2, 3))
    with pytest.raises(TypeError, match=r"LSTM\(3, 4\): initial state 1 is (nthgrad\.)?float64 but the input and the "
                                        r"parameters are (nthgrad\.)?float32"):
        lstm(x, (h0, ng.zeros((1, 2, 4), dtype=ng.float64)))
    with pytest.raises(TypeError, match=r"GRU\(3, 4\): initial state 0 is (nthgrad\.)?float64"):
        nn.GRU(3, 4)(x, ng.zeros((1, 2, 4), dtype=ng.float64))


@pytest.mark.parametrize("momentum", [0.1, 1.0, None])
def test_batch_norm_trains_on_an_empty_batch_as_torch(momentum):
    # torch returns the empty output, counts the batch and keeps the statistics; this raised
    # "training needs more than 1 value per channel"
    torch = pytest.importorskip("torch")
    ours, theirs = nn.BatchNorm2d(3, momentum=momentum), torch.nn.BatchNorm2d(3, momentum=momentum)
    x = np.random.default_rng(0).normal(size=(4, 3, 2, 2)).astype(np.float32)
    ours(ng.tensor(x)), theirs(torch.tensor(x))
    empty = ng.zeros((0, 3, 2, 2), requires_grad=True)
    y = ours(empty)
    theirs(torch.zeros((0, 3, 2, 2)))
    assert y.shape == (0, 3, 2, 2)
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 2
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).numpy(), rtol=1e-6)
    (g,) = ng.grad(ng.functional.sum(y), [empty])
    assert g.shape == (0, 3, 2, 2)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ours(ng.zeros((1, 3, 1, 1)))


def test_max_pool_accepts_dilation_one_in_any_form():
    # dilation=[1, 1] (a list, as torch allows) was refused as "not supported"
    for dilation in (1, (1, 1), [1, 1]):
        assert nn.MaxPool2d(2, dilation=dilation)(ng.ones((1, 1, 4, 4))).shape == (1, 1, 2, 2)
    with pytest.raises(NotImplementedError, match=r"MaxPool2d: dilation=\(2, 1\) is not supported"):
        nn.MaxPool2d(2, dilation=[2, 1])
    with pytest.raises(ValueError, match="MaxPool1d: dilation must be an int or 1 ints"):
        nn.MaxPool1d(2, dilation=(1, 1))


def test_instance_norm_checks_momentum_as_batch_norm():
    # any value was stored and shown in the repr (momentum='x')
    for bad in ("x", 1.5, True):
        for layer in (nn.InstanceNorm1d, nn.BatchNorm1d):
            with pytest.raises(ValueError, match=rf"{layer.__name__}: momentum must be in \[0, 1\] or None"):
                layer(2, momentum=bad)
    assert nn.InstanceNorm2d(2, momentum=None).momentum is None


@pytest.mark.parametrize("make, shape", [
    (lambda m: m.ConvTranspose1d(2, 3, 3, stride=1, padding=1, output_padding=1, dilation=2), (2, 2, 5)),
    (lambda m: m.ConvTranspose1d(2, 2, 2, stride=1, output_padding=1, dilation=2, groups=2), (2, 4)),  # unbatched
    (lambda m: m.ConvTranspose2d(4, 2, (3, 2), stride=(1, 2), padding=(2, 0), output_padding=(1, 1), dilation=2,
                                 groups=2), (1, 4, 3, 4)),
    (lambda m: m.ConvTranspose3d(2, 2, 2, stride=(2, 1, 1), padding=(1, 0, 1), output_padding=(0, 1, 1),
                                 dilation=(1, 2, 3), bias=False), (1, 2, 3, 2, 3)),
])
def test_conv_transpose_output_padding_below_dilation_as_torch(make, shape):
    # torch allows output_padding < max(stride, dilation) and so did the layer's check, but the op refused
    # output_padding >= stride: the forward raised "deconvolution: output_padding ... must be smaller than stride"
    # (now the op zero-pads x for such entries)
    torch = pytest.importorskip("torch")
    theirs = make(torch.nn).double()
    ours = make(nn).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x_np = np.random.default_rng(0).normal(size=shape)
    x, x_t = ng.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y, y_t = ours(x), theirs(x_t)
    np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    # a gradient penalty: first and second order against torch
    params, params_t = list(ours.parameters()), list(theirs.parameters())
    (g,) = ng.grad(ng.functional.sum(ng.functional.tanh(y)), [x], create_graph=True)
    (g_t,) = torch.autograd.grad(torch.tanh(y_t).sum(), [x_t], create_graph=True)
    np.testing.assert_allclose(g.numpy(), g_t.detach().numpy(), rtol=1e-9, atol=1e-12)
    gg = ng.grad(ng.functional.sum(ng.functional.mul2(g, g)), params)
    gg_t = torch.autograd.grad((g_t * g_t).sum(), params_t)
    for a, b in zip(gg, gg_t):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("make", [lambda m: m.CrossEntropyLoss(reduction="none"),
                                  lambda m: m.CrossEntropyLoss(reduction="none", label_smoothing=0.2),
                                  lambda m: m.NLLLoss(reduction="none")])
def test_unbatched_class_loss_without_reduction_is_0d(make):
    # torch (and the docstring) give shape () for input (C,) and target (); it was (1,)
    torch = pytest.importorskip("torch")
    x_np = np.array([0.3, -1.2, 2.0])
    x = ng.tensor(x_np, requires_grad=True)
    y, y_t = make(nn)(x, ng.tensor(2)), make(torch.nn)(torch.tensor(x_np), torch.tensor(2))
    assert y.shape == tuple(y_t.shape) == ()
    np.testing.assert_allclose(y.numpy(), y_t.numpy(), rtol=1e-12)
    assert ng.grad(y, [x])[0].shape == (3,)
