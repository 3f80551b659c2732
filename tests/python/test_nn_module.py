"""nn.Module, nn.Parameter and the containers: registration, traversal,
modes, gradients, state dicts (strict and not, bit-exact round trips,
errors naming the key), casting, repr."""
from collections import OrderedDict

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.functional as F
import nthgrad.nn as nn


class Affine(nn.Module):
    """y = x @ w + b, with a float buffer and an int64 counter."""

    def __init__(self, n_in, n_out, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w = nn.Parameter(ng.tensor(rng.standard_normal((n_in, n_out))))
        self.b = nn.Parameter(ng.tensor(rng.standard_normal(n_out)))
        self.register_buffer("scale", ng.ones((n_out,), ng.float64))
        self.register_buffer("calls", ng.tensor(np.array(0)))
        self.register_buffer("scratch", ng.zeros((2,)), persistent=False)

    def forward(self, x):
        return F.affine(x, self.w, self.b) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Affine(3, 4, seed=1)
        self.blocks = nn.ModuleList([Affine(4, 4, seed=2), Affine(4, 4, seed=3)])
        self.heads = nn.ModuleDict({"a": Affine(4, 2, seed=4)})
        self.shared = self.first  # the same module twice: its parameters count once

    def forward(self, x):
        h = F.tanh(self.first(x))
        for block in self.blocks:
            h = F.tanh(block(h))
        return self.heads["a"](h)


def test_parameter_is_a_leaf_tensor_that_shares_memory_and_requires_grad():
    t = ng.tensor(np.arange(3.0))
    p = nn.Parameter(t)
    assert isinstance(p, ng.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and not t.requires_grad
    with ng.no_grad():
        p.add_(ng.ones((3,), ng.float64))
    np.testing.assert_array_equal(np.array(t), [1.0, 2.0, 3.0])  # shared memory, as torch's Parameter
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad
    assert not isinstance(p * 2, nn.Parameter)


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["first.w", "first.b", "blocks.0.w", "blocks.0.b", "blocks.1.w", "blocks.1.b",
                     "heads.a.w", "heads.a.b"]
    assert len(list(net.parameters())) == 8
    assert [n for n, _ in net.named_modules()] == ["", "first", "blocks", "blocks.0", "blocks.1", "heads",
                                                   "heads.a"]
    assert [n for n, _ in net.named_children()] == ["first", "blocks", "heads"]
    assert [n for n, _ in net.named_buffers()][:3] == ["first.scale", "first.calls", "first.scratch"]
    assert len(list(net.first.parameters(recurse=False))) == 2
    assert len(list(net.parameters(recurse=False))) == 0


def test_assignment_rules():
    m = Affine(2, 2)
    with pytest.raises(TypeError, match="cannot assign Tensor to parameter 'w'; wrap it in nn.Parameter"):
        m.w = ng.zeros((2, 2))
    with pytest.raises(TypeError, match="cannot assign ndarray to buffer 'scale'"):
        m.scale = np.ones(2)
    m.w = None
    assert [n for n, _ in m.named_parameters()] == ["b"]
    m.extra = nn.Parameter(ng.zeros((1,)))
    assert "extra" in dict(m.named_parameters())
    del m.extra
    assert "extra" not in dict(m.named_parameters()) and not hasattr(m, "extra")
    with pytest.raises(KeyError, match="without '.'"):
        m.register_buffer("a.b", ng.zeros((1,)))

    class Forgot(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ng.zeros((1,)))

    with pytest.raises(AttributeError, match=r"Forgot: Module.__init__\(\) was not called"):
        Forgot()
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(1)


def test_train_eval_requires_grad_and_zero_grad():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(TypeError, match="mode must be a bool"):
        net.train("no")
    out = net(ng.tensor(np.ones((5, 3)))).sum()
    out.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(np.all(np.array(p.grad) == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_state_dict_round_trip_is_bit_exact_and_in_place():
    net, other = Net(), Net()
    for p in other.parameters():
        with ng.no_grad():
            p.copy_(ng.tensor(np.random.default_rng(9).standard_normal(p.shape)))
    with ng.no_grad():
        net.first.calls.copy_(ng.tensor(np.array(7)))
    state = net.state_dict()
    assert list(state) == ["first.w", "first.b", "first.scale", "first.calls", "blocks.0.w", "blocks.0.b",
                           "blocks.0.scale", "blocks.0.calls", "blocks.1.w", "blocks.1.b", "blocks.1.scale",
                           "blocks.1.calls", "heads.a.w", "heads.a.b", "heads.a.scale", "heads.a.calls"]
    assert "first.scratch" not in state  # persistent=False
    held = list(other.parameters())
    result = other.load_state_dict(state)
    assert result == nn.IncompatibleKeys([], [])
    for (name, a), b in zip(state.items(), other.state_dict().values()):
        assert np.array(a).tobytes() == np.array(b).tobytes(), name
    assert [p is q for p, q in zip(held, other.parameters())] == [True] * 8  # the same objects, updated
    assert other.first.calls.item() == 7 and other.first.calls.dtype == ng.int64
    x = ng.tensor(np.ones((2, 3)))
    np.testing.assert_array_equal(np.array(net(x)), np.array(other(x)))
    # through a file
    path_state = {k: np.array(v) for k, v in state.items()}
    third = Net()
    third.load_state_dict(path_state)  # NumPy arrays are accepted
    np.testing.assert_array_equal(np.array(third(x)), np.array(net(x)))


def test_load_state_dict_errors_name_the_key(tmp_path):
    net = Net()
    state = net.state_dict()
    missing = OrderedDict((k, v) for k, v in state.items() if k != "blocks.1.b")
    with pytest.raises(KeyError, match=r"missing key\(s\): 'blocks.1.b'"):
        net.load_state_dict(missing)
    extra = OrderedDict(state)
    extra["tail.w"] = ng.zeros((1,))
    with pytest.raises(KeyError, match=r"unexpected key\(s\): 'tail.w'"):
        net.load_state_dict(extra)
    assert net.load_state_dict(missing, strict=False) == nn.IncompatibleKeys(["blocks.1.b"], [])
    assert net.load_state_dict(extra, strict=False) == nn.IncompatibleKeys([], ["tail.w"])
    bad = OrderedDict(state)
    bad["heads.a.w"] = ng.zeros((4, 3), ng.float64)
    before = np.array(net.first.w)
    bad["first.w"] = ng.zeros((3, 4), ng.float64)  # valid, but nothing is loaded when another key is wrong
    with pytest.raises(ValueError, match=r"'heads.a.w' has shape \(4, 3\) in the state dict but \(4, 2\) in Net"):
        net.load_state_dict(bad)
    np.testing.assert_array_equal(np.array(net.first.w), before)
    with pytest.raises(TypeError, match="'first.calls' is float64 in the state dict but int64"):
        net.load_state_dict({**state, "first.calls": ng.tensor(np.array(1.5))})
    with pytest.raises(TypeError, match="expected a mapping"):
        net.load_state_dict([1, 2])
    # a misshapen checkpoint on disk
    bad_file = tmp_path / "bad.npz"
    ng.save({**{k: v for k, v in state.items()}, "first.b": ng.zeros((5,), ng.float64)}, str(bad_file))
    with pytest.raises(ValueError, match=r"'first.b' has shape \(5,\)"):
        net.load_state_dict(ng.load(str(bad_file)))


def test_load_state_dict_refused_midway_loads_nothing():
    """A write refused by a live NumPy view of a later parameter undoes the
    writes before it: the module is as it was, not half loaded."""
    net = Net()
    before = {k: np.array(v) for k, v in net.state_dict().items()}
    new = {k: (v + 1 if v.dtype != ng.int64 else v) for k, v in net.state_dict().items()}
    view = net.heads.a.w.numpy()  # a late key: thirteen keys before it are written when it is refused
    with pytest.raises(RuntimeError, match=r"load_state_dict: heads.a.w \(shape \(4, 2\)\) .*NumPy view"):
        net.load_state_dict(new)
    for key, value in net.state_dict().items():
        assert np.array(value).tobytes() == before[key].tobytes(), key
    del view
    net.load_state_dict(new)
    np.testing.assert_array_equal(np.array(net.first.w), before["first.w"] + 1)


def test_deepcopy_of_a_module_is_independent_and_keeps_sharing():
    """copy.deepcopy(model) (a best-model snapshot, an EMA copy), as torch's:
    new Parameters of the same values, requires_grad and grad, tied weights
    still tied inside the copy, and writes to the copy leave the original."""
    import copy
    net = Net()
    net.tied = net.first  # the same submodule twice
    net.first.w.grad = ng.ones(net.first.w.shape, ng.float64)
    net.first.b.requires_grad = False
    clone = copy.deepcopy(net)
    assert clone.tied is clone.first and clone.first is not net.first
    assert isinstance(clone.first.w, nn.Parameter) and clone.first.w is clone.first._parameters["w"]
    assert not clone.first.b.requires_grad and clone.first.w.requires_grad
    np.testing.assert_array_equal(np.array(clone.first.w.grad), 1.0)
    for (name, a), b in zip(net.state_dict().items(), clone.state_dict().values()):
        assert np.array(a).tobytes() == np.array(b).tobytes(), name
    before = np.array(net.first.w)
    with ng.no_grad():
        clone.first.w.add_(ng.ones(clone.first.w.shape, ng.float64))
    np.testing.assert_array_equal(np.array(net.first.w), before)
    with pytest.raises(RuntimeError, match="deepcopy: only leaf tensors"):
        copy.deepcopy(net.first.w * 2)


def test_registering_over_an_existing_attribute_is_refused():
    """register_buffer('training', ...) or add_module('forward', ...) would
    shadow the module's own attributes (train() then writes a bool over the
    buffer; calling the module calls the tensor): a KeyError, as torch's."""
    net = Affine(2, 2)
    net.note = "plain"
    for register, value in [(net.register_buffer, ng.zeros((1,))), (net.register_parameter, nn.Parameter(
            ng.zeros((1,)))), (net.add_module, nn.Module())]:
        for name in ("training", "forward", "note", "state_dict"):
            with pytest.raises(KeyError, match=f"attribute '{name}' already exists"):
                register(name, value)
    assert net.training is True and net.note == "plain"
    net.register_buffer("scale", ng.zeros((2,), ng.float64))  # re-registering a member is fine
    net.register_parameter("w", None)
    assert "w" not in dict(net.named_parameters())


def test_an_optimizer_made_before_a_cast_still_trains_the_module():
    net = Affine(3, 2)
    opt = ng.optim.SGD(net.parameters(), lr=0.1)
    net.float()
    before = np.array(net.w)
    loss = F.sum(net(ng.ones((4, 3))))
    loss.backward()
    opt.step()
    assert not np.array_equal(np.array(net.w), before)


def test_casting_float_and_double():
    net = Net().float()
    assert all(p.dtype == ng.float32 for p in net.parameters())
    assert net.first.scale.dtype == ng.float32 and net.first.calls.dtype == ng.int64
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    y = net(ng.ones((2, 3)))
    assert y.dtype == ng.float32
    net.double()
    assert all(p.dtype == ng.float64 for p in net.parameters())
    assert net.to(ng.float32) is net and net.first.w.dtype == ng.float32
    with pytest.raises(TypeError, match="dtype must be nthgrad.float32 or float64"):
        net.to(ng.int64)


def test_casting_keeps_shared_parameters_and_buffers_shared():
    # tied weights (one Parameter in two modules) must stay one Parameter after a cast, as in torch
    net = nn.Module()
    net.enc, net.dec = nn.Module(), nn.Module()
    w = nn.Parameter(ng.ones((2, 3)))
    stats = ng.zeros((3,))
    net.enc.w, net.dec.w = w, w
    net.enc.register_buffer("stats", stats)
    net.dec.register_buffer("stats", stats)
    for cast in (net.double, net.float):
        cast()
        assert net.enc.w is net.dec.w and net.enc.stats is net.dec.stats
        assert len(list(net.parameters())) == 1


def test_containers_take_numpy_integer_indices():
    layers = [Affine(2, 2, seed=i) for i in range(3)]
    seq, ml = nn.Sequential(*layers), nn.ModuleList(layers)
    i = np.argmax(np.array([0.1, 0.7, 0.2]))  # np.int64
    assert seq[i] is layers[1] and ml[i] is layers[1] and ml[np.int32(-1)] is layers[2]
    ml[np.int64(0)] = layers[2]
    assert ml[0] is layers[2]
    with pytest.raises(TypeError, match="indices must be integers or slices, got str"):
        ml["0"]
    with pytest.raises(TypeError, match="got bool"):
        seq[True]


def test_containers():
    layers = [Affine(2, 2, seed=i) for i in range(3)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and seq[1] is layers[1] and seq[-1] is layers[2]
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2
    x = ng.tensor(np.ones((4, 2)))
    np.testing.assert_array_equal(np.array(seq(x)), np.array(layers[2](layers[1](layers[0](x)))))
    with pytest.raises(IndexError, match="index 3 is out of range for 3 modules"):
        seq[3]
    named = nn.Sequential(OrderedDict(enc=layers[0], dec=layers[1]))
    assert [n for n, _ in named.named_children()] == ["enc", "dec"]
    ml = nn.ModuleList(layers[:2])
    ml.append(layers[2])
    ml.insert(0, Affine(2, 2, seed=9))
    assert [m is l for m, l in zip(ml[1:], layers)] == [True] * 3
    del ml[0]
    assert len(ml) == 3 and ml[0] is layers[0]
    assert [n for n, _ in ml.named_parameters()][:2] == ["0.w", "0.b"]
    md = nn.ModuleDict({"x": layers[0]})
    md["y"] = layers[1]
    assert list(md.keys()) == ["x", "y"] and "y" in md and len(md) == 2
    assert md.pop("x") is layers[0] and list(md) == ["y"]
    with pytest.raises(KeyError, match="ModuleDict has no module 'z'"):
        md["z"]


def test_repr_shows_the_tree():
    class Leaf(nn.Module):
        def extra_repr(self):
            return "size=3"

    class Tree(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = Leaf()
            self.b = nn.Sequential(Leaf(), Leaf())

    assert repr(Tree()) == ("Tree(\n  (a): Leaf(size=3)\n  (b): Sequential(\n    (0): Leaf(size=3)\n"
                            "    (1): Leaf(size=3)\n  )\n)")
