"""nthgrad.nn.init: moments of each distribution against its formula (with
tolerances of 6 standard errors of the sample size), orthogonality,
reproducibility, fans and gains against torch, and bad input."""
import math

import numpy as np
import pytest

import nthgrad as ng
import nthgrad.nn as nn
from nthgrad.nn import init

N_ROWS, N_COLS = 400, 500  # 200,000 samples: standard errors about 0.2% of the std


def assert_moments(values, mean, var, fourth_central):
    """Sample mean and variance within 6 standard errors of the formula's.
    The standard error of the sample variance is sqrt((mu4 - var**2) / n)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) < 6 * math.sqrt(var / n), (x.mean(), mean)
    assert abs(x.var() - var) < 6 * math.sqrt((fourth_central - var ** 2) / n) + 1e-12, (x.var(), var)


def assert_uniform(values, low, high):
    """Within [low, high], reaching both ends (the gap of n uniform samples to
    an end exceeds 20 * width / n with probability exp(-20)), and the moments."""
    x = np.asarray(values)
    width = high - low
    assert low <= x.min() < low + 20 * width / x.size and high - 20 * width / x.size < x.max() <= high
    assert_moments(x, (low + high) / 2, width ** 2 / 12, width ** 4 / 80)


def assert_normal(values, mean, std):
    assert_moments(values, mean, std ** 2, 3 * std ** 4)


def big(shape=(N_ROWS, N_COLS), dtype=ng.float64):
    return nn.Parameter(ng.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("dtype", [ng.float32, ng.float64])
def test_uniform_and_normal_moments(dtype):
    w = big(dtype=dtype)
    assert init.uniform_(w, -0.5, 2.0, generator=1) is w
    assert w.dtype == dtype and w.requires_grad
    assert_uniform(w.numpy(), -0.5, 2.0)
    init.normal_(w, mean=0.3, std=2.0, generator=2)
    assert_normal(w.numpy(), 0.3, 2.0)


def test_constants_and_eye():
    w = ng.zeros((3, 4))
    np.testing.assert_array_equal(init.constant_(w, 0.25).numpy(), np.full((3, 4), 0.25, np.float32))
    np.testing.assert_array_equal(init.ones_(w).numpy(), np.ones((3, 4)))
    np.testing.assert_array_equal(init.zeros_(w).numpy(), np.zeros((3, 4)))
    np.testing.assert_array_equal(init.eye_(w).numpy(), np.eye(3, 4))
    np.testing.assert_array_equal(init.uniform_(w, 2.0, 2.0).numpy(), np.full((3, 4), 2.0))


@pytest.mark.parametrize("shape", [(400, 500), (50, 40, 5, 5)])
def test_xavier_moments(shape):
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    std = 1.5 * math.sqrt(2 / (fan_in + fan_out))
    w = big(shape)
    init.xavier_uniform_(w, gain=1.5, generator=3)
    assert_uniform(w.numpy(), -math.sqrt(3) * std, math.sqrt(3) * std)
    init.xavier_normal_(w, gain=1.5, generator=4)
    assert_normal(w.numpy(), 0.0, std)
    assert init.glorot_uniform_ is init.xavier_uniform_ and init.glorot_normal_ is init.xavier_normal_


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_moments(mode):
    shape = (40, 50, 10, 10)
    fan = {"fan_in": 50 * 100, "fan_out": 40 * 100}[mode]
    w = big(shape)
    init.kaiming_uniform_(w, a=math.sqrt(5), mode=mode, generator=5)  # torch's Linear/Conv default
    std = math.sqrt(2 / (1 + 5)) / math.sqrt(fan)
    assert_uniform(w.numpy(), -math.sqrt(3) * std, math.sqrt(3) * std)
    init.kaiming_normal_(w, mode=mode, nonlinearity="relu", generator=6)
    assert_normal(w.numpy(), 0.0, math.sqrt(2) / math.sqrt(fan))
    assert init.he_uniform_ is init.kaiming_uniform_ and init.he_normal_ is init.kaiming_normal_


def test_trunc_normal_moments():
    mean, std, a, b = 0.5, 2.0, -1.0, 3.0
    w = init.trunc_normal_(big(), mean, std, a, b, generator=7).numpy()
    assert w.min() >= a and w.max() <= b
    # moments of the truncated normal (closed form), standardized bounds alpha, beta
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))
    alpha, beta = (a - mean) / std, (b - mean) / std
    z = cdf(beta) - cdf(alpha)
    t_mean = mean + std * (phi(alpha) - phi(beta)) / z
    t_var = std ** 2 * (1 + (alpha * phi(alpha) - beta * phi(beta)) / z - ((phi(alpha) - phi(beta)) / z) ** 2)
    assert_moments(w, t_mean, t_var, 3 * t_var ** 2)  # truncation lowers the kurtosis below the normal's 3


@pytest.mark.parametrize("shape", [(30, 12), (12, 30), (8, 3, 2, 2), (5, 5)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(shape, gain):
    w = init.orthogonal_(ng.zeros(shape, dtype=ng.float64), gain=gain, generator=8).numpy()
    flat = w.reshape(shape[0], -1)
    rows, cols = flat.shape
    gram = flat.T @ flat if rows >= cols else flat @ flat.T
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=1e-12)


def test_reproducible_with_seed_and_generator():
    def draw(fn, generator):
        return fn(ng.zeros((64, 32)), generator=generator).numpy().copy()

    for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
               init.kaiming_normal_, init.orthogonal_, init.trunc_normal_):
        np.testing.assert_array_equal(draw(fn, 11), draw(fn, 11))
        assert not np.array_equal(draw(fn, 11), draw(fn, 12))
        g = ng.Generator(11)
        first, second = draw(fn, g), draw(fn, g)  # a Generator advances between calls
        assert not np.array_equal(first, second)
        np.testing.assert_array_equal(first, draw(fn, ng.Generator(11)))
        ng.manual_seed(3)
        from_global = draw(fn, None)
        ng.manual_seed(3)
        np.testing.assert_array_equal(from_global, draw(fn, None))


def test_uniform_values_are_nthgrads_sampler():
    expected = ng.functional.rand(-2.0, 3.0, (7, 5), seed=21).numpy()
    np.testing.assert_array_equal(init.uniform_(ng.zeros((7, 5)), -2.0, 3.0, generator=21).numpy(), expected)


def test_writes_in_place_into_a_parameter_that_requires_grad():
    w = nn.Parameter(ng.zeros((4, 3)))
    version_holder = [w]  # what an optimizer holds: the same object must see the new values
    assert init.ones_(w) is w
    np.testing.assert_array_equal(version_holder[0].numpy(), np.ones((4, 3)))
    assert w.requires_grad and w.is_leaf
    (w * 2).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full((4, 3), 2.0))


def test_empty_tensors_are_left_alone():
    for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_normal_, init.orthogonal_):
        assert fn(ng.zeros((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("shape", [(5, 3), (7, 4, 3), (8, 2, 3, 3), (2, 6, 1, 2, 3)])
def test_fans_equal_torch(shape):
    torch = pytest.importorskip("torch")
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    assert init._calculate_fan_in_and_fan_out(ng.zeros(shape)) == expected


@pytest.mark.parametrize("args", [("linear",), ("conv2d",), ("conv_transpose3d",), ("sigmoid",), ("tanh",),
                                  ("relu",), ("leaky_relu",), ("leaky_relu", 0.2), ("selu",)])
def test_gains_equal_torch(args):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args), rel=1e-15)


def test_gains_formula():
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)


def test_bad_input():
    with pytest.raises(ValueError, match=r"xavier_uniform_.*\(5,\)"):
        init.xavier_uniform_(ng.zeros((5,)))
    with pytest.raises(ValueError, match=r"kaiming_normal_.*\(\)"):
        init.kaiming_normal_(ng.zeros(()))
    with pytest.raises(ValueError, match=r"orthogonal_.*\(4,\)"):
        init.orthogonal_(ng.zeros((4,)))
    with pytest.raises(ValueError, match="kaiming_uniform_: mode"):
        init.kaiming_uniform_(ng.zeros((4, 4)), mode="fan_avg")
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'gelu'"):
        init.kaiming_uniform_(ng.zeros((4, 4)), nonlinearity="gelu")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "0.1")
    with pytest.raises(TypeError, match=r"normal_: tensor must be float32 or float64, got int64 of shape \(3,\)"):
        init.normal_(ng.zeros((3,), dtype=ng.int64))
    with pytest.raises(TypeError, match="uniform_: tensor must be an nthgrad Tensor"):
        init.uniform_(np.zeros(3))
    with pytest.raises(ValueError, match="uniform_: a must be <= b"):
        init.uniform_(ng.zeros(3), 1.0, 0.0)
    with pytest.raises(ValueError, match="normal_: std must be >= 0"):
        init.normal_(ng.zeros(3), 0.0, -1.0)
    with pytest.raises(TypeError, match="normal_: generator must be"):
        init.normal_(ng.zeros(3), generator=-1)
    with pytest.raises(ValueError, match="eye_: tensor must have 2 dims"):
        init.eye_(ng.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="trunc_normal_"):
        init.trunc_normal_(ng.zeros(3), a=10.0, b=11.0)
