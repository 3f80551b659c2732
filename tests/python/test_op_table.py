"""Generic tests swept over the op table (op_db.OPS)."""
import numpy as np
import pytest

import nthgrad as ng
from gradcheck import check_forward, check_gradients, to_tensors
from op_db import OPS


def _cases(predicate=lambda spec, sample: True):
    for i, spec in enumerate(OPS):
        for j, sample in enumerate(spec.samples):
            if predicate(spec, sample):
                yield pytest.param(spec, sample, id=f"{spec.name}-{i}-{j}")


def _is_empty(sample):
    return any(0 in shape for shape in sample)


@pytest.mark.parametrize("spec, sample", list(_cases()))
@pytest.mark.parametrize("dtype", [ng.float64, ng.float32], ids=["f64", "f32"])
def test_forward_matches_numpy(spec, sample, dtype):
    arrays = spec.arrays(sample)
    rtol = spec.rtol if dtype == ng.float64 else spec.f32_rtol
    if dtype == ng.float32:  # compare with NumPy on the float32-rounded inputs
        arrays = [a.astype(np.float32).astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]
    y = check_forward(spec.fn, spec.ref, arrays, rtol=rtol, atol=rtol * 1e-2, dtype=dtype)
    if spec.output_follows_input_dtype and y.dtype != ng.int64:
        assert y.dtype == dtype


@pytest.mark.parametrize("spec, sample", list(_cases(lambda s, smp: s.order > 0 and not _is_empty(smp))))
def test_gradients_by_finite_differences(spec, sample):
    check_gradients(spec.fn, spec.arrays(sample), order=spec.order, rtol=spec.grad_rtol)


@pytest.mark.parametrize("spec, sample", list(_cases(lambda s, smp: s.differentiable)))
def test_float32_agrees_with_float64(spec, sample):
    arrays = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in spec.arrays(sample)]
    results = {}
    for dtype in (ng.float32, ng.float64):
        xs = to_tensors(arrays, dtype=dtype)
        y = spec.fn(*xs)
        diff = [x for x in xs if x.requires_grad]
        grads = ng.grad(y.sum(), diff, allow_unused=True) if y.size else [None] * len(diff)
        results[dtype] = (np.asarray(y, dtype=np.float64),
                          [None if g is None else np.asarray(g, dtype=np.float64) for g in grads])
        for x, g in zip(diff, grads):
            assert g is None or (g.shape == x.shape and g.dtype == dtype)
    (y32, g32), (y64, g64) = results[ng.float32], results[ng.float64]
    np.testing.assert_allclose(y32, y64, rtol=spec.f32_rtol, atol=spec.f32_rtol)
    for a, b in zip(g32, g64):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=spec.f32_rtol * 10, atol=spec.f32_rtol * 10)


@pytest.mark.parametrize("spec, sample", list(_cases(lambda s, smp: s.differentiable and _is_empty(smp))))
def test_empty_inputs_give_empty_gradients(spec, sample):
    xs = to_tensors(spec.arrays(sample), dtype=ng.float64)
    diff = [x for x in xs if x.requires_grad]
    y = spec.fn(*xs)
    grads = ng.grad(y.sum(), diff, allow_unused=True)
    for x, g in zip(diff, grads):
        assert g is not None and g.shape == x.shape
        if x.size == 0:
            assert g.size == 0


@pytest.mark.parametrize("spec, sample", list(_cases(lambda s, smp: not s.differentiable)))
def test_nondifferentiable_ops_record_nothing(spec, sample):
    xs = to_tensors(spec.arrays(sample), dtype=ng.float64)
    y = spec.fn(*xs)
    assert not y.requires_grad and y.grad_fn is None


def _bad_cases():
    for i, spec in enumerate(OPS):
        for j, case in enumerate(spec.bad):
            yield pytest.param(*case, id=f"{spec.name}-{i}-{j}")


@pytest.mark.parametrize("call, exc, text", list(_bad_cases()))
def test_bad_input_raises(call, exc, text):
    with pytest.raises(exc) as info:
        call()
    assert text in str(info.value)
