"""Op-table rows for the loss family (issue 8); see op_db.py for OpSpec."""
import numpy as np

import nthgrad as ng
import nthgrad.functional as F
from op_db import OpSpec, t, ti, uniform, away_from_zero, BINARY_SHAPES, BAD_BINARY  # noqa: F401


def labels(n_class, ignore=True):
    """int64 labels in [0, n_class), with some -1 (ignored) when `ignore`."""
    return lambda rng, shape: rng.integers(-1 if ignore else 0, n_class, size=shape)


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _pick(a, label, axis):
    """a[label] along axis (label of a's shape with 1 at axis), 0 where label is -1."""
    picked = np.take_along_axis(a, np.maximum(label, 0), axis=axis)
    return np.where(label == -1, 0.0, picked)


def softmax_ce_ref(axis=-1):
    return lambda x, label: -_pick(_log_softmax(x, axis), label, axis)


def categorical_ce_ref(axis=-1):
    return lambda x, label: np.where(label == -1, 0.0, -np.log(np.where(label == -1, 1.0, _pick(x, label, axis))))


def sigmoid_ce_ref(x, t):
    return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))


def binary_ce_ref(x, t):
    return -(t * np.log(x) + (1 - t) * np.log(1 - x))


def huber_ref(delta):
    def ref(x0, x1):
        d = np.abs(x0 - x1)
        return np.where(d < delta, d ** 2, delta * (2 * d - delta))
    return ref


def kl_ref(base_axis):
    def ref(p, q):
        d = (p * (np.log(p + 1e-8) - np.log(q + 1e-8))).sum(axis=tuple(range(base_axis, p.ndim)))  # nnabla's
        return d.reshape(p.shape[:base_axis] + (1,))
    return ref


def tl(shape, value=0):
    return ng.tensor(np.full(shape, value, dtype=np.int64))


EQUAL_SHAPES = [((3, 4), (3, 4)), ((5,), (5,)), ((), ()), ((2, 1, 3), (2, 1, 3)), ((0, 3), (0, 3))]
BAD_EQUAL = lambda f, a0, a1: [  # noqa: E731
    (lambda: f(t((2, 3)), t((3,))), ValueError, f"{a0} has shape (2, 3) but {a1} has shape (3,)"),
    (lambda: f(ti((2,)), t((2,))), TypeError, "int64"),
    (lambda: f(t((2,)), None), (TypeError, ValueError), ""),
]


def bad_labels(name):
    f = getattr(F, name)
    return [
        (lambda: f(t((2, 3)), tl((2, 1), 3)), IndexError, f"{name}: label 3 is out of range for 3 classes"),
        (lambda: f(t((2, 3)), tl((2, 1), -2)), IndexError, f"{name}: label -2"),
        (lambda: f(t((2, 3)), tl((2,))), ValueError, "target must have x's shape with 1 at axis 1, i.e. (2, 1)"),
        (lambda: f(t((2, 3)), tl((2, 3))), ValueError, "got target of shape (2, 3)"),
        (lambda: f(t((2, 3)), tl((2, 1)), axis=2), IndexError, f"{name}: axis 2 is out of range"),
        (lambda: f(t(()), tl(())), ValueError, "class axis"),
        (lambda: f(ti((2, 3)), tl((2, 1))), TypeError, "int64"),
        (lambda: f(t((2, 3)), ng.tensor(np.ones((2, 1), dtype=bool))), TypeError, "bool"),
    ]


LABEL_SAMPLES = [((4, 3), (4, 1)), ((2, 5, 3), (2, 5, 1)), ((1, 3), (1, 1)), ((0, 3), (0, 1))]  # 3 classes

ROWS = [
    OpSpec("sigmoid_cross_entropy", F.sigmoid_cross_entropy, sigmoid_ce_ref, EQUAL_SHAPES,
           (uniform(-3, 3), uniform(0, 1)), order=3,
           bad=BAD_EQUAL(F.sigmoid_cross_entropy, "x", "target")),
    OpSpec("binary_cross_entropy", F.binary_cross_entropy, binary_ce_ref, EQUAL_SHAPES,
           (uniform(0.1, 0.9), uniform(0, 1)), order=3,
           bad=BAD_EQUAL(F.binary_cross_entropy, "x", "target")),
    OpSpec("softmax_cross_entropy", F.softmax_cross_entropy, softmax_ce_ref(), LABEL_SAMPLES,
           (uniform(-3, 3), labels(3)), order=3, bad=bad_labels("softmax_cross_entropy")),
    # class axis 1 of (2, 3, 4)
    OpSpec("softmax_cross_entropy", lambda x, lab: F.softmax_cross_entropy(x, lab, axis=1), softmax_ce_ref(1),
           [((2, 3, 4), (2, 1, 4))], (uniform(-3, 3), labels(3)), order=3),
    OpSpec("categorical_cross_entropy", F.categorical_cross_entropy, categorical_ce_ref(), LABEL_SAMPLES,
           (uniform(0.1, 1.0), labels(3)), order=3, bad=bad_labels("categorical_cross_entropy")),
    OpSpec("categorical_cross_entropy", lambda x, lab: F.categorical_cross_entropy(x, lab, axis=0),
           categorical_ce_ref(0), [((3, 4), (1, 4))], (uniform(0.1, 1.0), labels(3)), order=3),
    OpSpec("squared_error", F.squared_error, lambda a, b: (a - b) ** 2, BINARY_SHAPES, order=3,
           bad=BAD_BINARY(F.squared_error)),
    # kinks at x0 == x1 only (random inputs never tie; test_loss pins the tie)
    OpSpec("absolute_error", F.absolute_error, lambda a, b: np.abs(a - b), BINARY_SHAPES, order=2,
           bad=BAD_BINARY(F.absolute_error)),
    OpSpec("huber_loss", F.huber_loss, huber_ref(1.0), BINARY_SHAPES, order=2, bad=BAD_BINARY(F.huber_loss)),
    OpSpec("huber_loss", lambda a, b: F.huber_loss(a, b, delta=0.5), huber_ref(0.5), [((3, 4), (3, 4))], order=2),
    OpSpec("epsilon_insensitive_loss", lambda a, b: F.epsilon_insensitive_loss(a, b, 0.3),
           lambda a, b: np.maximum(np.abs(a - b) - 0.3, 0), BINARY_SHAPES, order=2,
           bad=BAD_BINARY(lambda a, b: F.epsilon_insensitive_loss(a, b, 0.3))),
    OpSpec("kl_multinomial", F.kl_multinomial, kl_ref(1), [((3, 4), (3, 4)), ((2, 3, 4), (2, 3, 4)), ((1, 1), (1, 1)),
                                                           ((0, 3), (0, 3))],
           (uniform(0.1, 1.0),), order=3,
           bad=BAD_EQUAL(F.kl_multinomial, "p", "q") + [
               (lambda: F.kl_multinomial(t((2, 3)), t((2, 3)), base_axis=2), ValueError,
                "kl_multinomial: base_axis 2 is out of range for p of shape (2, 3)"),
               (lambda: F.kl_multinomial(t(()), t(())), ValueError, "base_axis 1")]),
    OpSpec("kl_multinomial", lambda p, q: F.kl_multinomial(p, q, base_axis=2), kl_ref(2),
           [((2, 3, 4), (2, 3, 4))], (uniform(0.1, 1.0),), order=3),
    OpSpec("kl_multinomial", lambda p, q: F.kl_multinomial(p, q, base_axis=0), kl_ref(0), [((5,), (5,))],
           (uniform(0.1, 1.0),), order=3),
]
