"""DLPack exchange with NumPy and PyTorch: no copies, read-only exports,
and lifetimes that outlast either side's handle."""
import gc

import numpy as np
import pytest

import nthgrad as ng


def _live():
    gc.collect()
    return ng.live_counts()


def test_numpy_reads_a_tensor_without_copying_and_read_only():
    t = ng.tensor(np.arange(6.0).reshape(2, 3))
    a = np.from_dlpack(t)
    assert np.shares_memory(a, np.asarray(t)) and not a.flags.writeable
    np.testing.assert_array_equal(a, np.arange(6.0).reshape(2, 3))
    assert t.__dlpack_device__() == (1, 0)


def test_an_export_keeps_the_storage_alive_and_frees_it_after():
    before = _live()
    t = ng.tensor(np.arange(1000.0))
    a = np.from_dlpack(t)
    del t
    gc.collect()
    np.testing.assert_array_equal(a[:3], [0.0, 1.0, 2.0])  # still valid
    assert _live()["bytes"] - before["bytes"] == 8000
    del a
    assert _live() == before


def test_an_unconsumed_capsule_frees_its_export():
    before = _live()
    capsule = ng.tensor(np.ones(100)).__dlpack__(max_version=(1, 0))
    del capsule
    assert _live() == before


def test_legacy_consumers_get_a_copy_and_copy_true_is_honoured():
    t = ng.tensor(np.arange(3.0))
    legacy = ng.from_dlpack(t.__dlpack__())  # unversioned: cannot be told read-only
    assert not np.shares_memory(np.asarray(legacy), np.asarray(t))
    np.testing.assert_array_equal(legacy.numpy(), [0.0, 1.0, 2.0])
    copied = np.from_dlpack(t, copy=True)
    assert not np.shares_memory(copied, np.asarray(t))
    with pytest.raises(BufferError):
        t.__dlpack__(stream=5)


def test_from_dlpack_shares_numpy_memory_and_checks_layout():
    arr = np.arange(4.0)
    t = ng.from_dlpack(arr)
    arr[0] = 9.0
    assert t.numpy()[0] == 9.0  # shared, as from_numpy
    del arr
    gc.collect()
    assert t.numpy()[0] == 9.0  # t keeps the producer's memory alive
    for dtype, want in ((np.float32, ng.float32), (np.int64, ng.int64), (np.bool_, ng.bool_)):
        assert ng.from_dlpack(np.zeros(2, dtype=dtype)).dtype == want
    with pytest.raises(ValueError, match="C-contiguous"):
        ng.from_dlpack(np.arange(6.0).reshape(2, 3).T)
    with pytest.raises(TypeError, match="dtype"):
        ng.from_dlpack(np.zeros(2, dtype=np.int32))
    with pytest.raises(TypeError, match="__dlpack__"):
        ng.from_dlpack([1.0, 2.0])
    t2 = ng.from_dlpack(np.zeros((3, 1, 0)))
    assert t2.shape == (3, 1, 0)


def test_torch_round_trip_without_copies():
    torch = pytest.importorskip("torch")
    src = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    t = ng.from_dlpack(src)
    assert t.shape == (2, 3) and t.dtype == ng.float64
    src[0, 0] = 42.0
    assert t.numpy()[0, 0] == 42.0
    back = torch.from_dlpack(t)
    assert back.data_ptr() == src.data_ptr()
    x = ng.tensor(np.linspace(0, 1, 5), requires_grad=True)
    y = torch.from_dlpack(ng.functional.sin(x))
    np.testing.assert_allclose(y.numpy(), np.sin(np.linspace(0, 1, 5)))
    del src, back
    gc.collect()
    assert t.numpy()[0, 0] == 42.0
    ones = ng.from_dlpack(torch.utils.dlpack.to_dlpack(torch.ones(2)))  # a bare legacy capsule
    np.testing.assert_array_equal(ones.numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match="C-contiguous"):
        ng.from_dlpack(torch.ones(3, 4).T)
