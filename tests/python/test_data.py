"""nthgrad.data: every sample once per epoch, batch contents equal to the
arrays indexed by the order, orders reproducible and different between
epochs, drop_last counts as torch, dtypes, and bad input."""
import math

import numpy as np
import pytest

import nthgrad as ng
from nthgrad.data import ArrayDataset, DataLoader, Sampler


def make_arrays(n=23):
    x = np.arange(n * 3, dtype=np.float64).reshape(n, 3)  # row i is 3i, 3i+1, 3i+2: identifies the sample
    y = np.arange(n, dtype=np.int32) * 10
    return x, y


def epoch_rows(loader):
    """The sample ids (x[:, 0] / 3) of one epoch, batch by batch, checking
    that x and y stay paired."""
    ids = []
    for xb, yb in loader:
        rows = (xb.numpy()[:, 0] / 3).astype(np.int64)
        np.testing.assert_array_equal(yb.numpy(), rows * 10)
        np.testing.assert_array_equal(xb.numpy(), np.arange(69, dtype=np.float64).reshape(23, 3)[rows])
        ids.append(rows)
    return ids


@pytest.mark.parametrize("batch_size", [1, 4, 5, 23, 50])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_once_per_epoch(batch_size, shuffle):
    loader = DataLoader(make_arrays(), batch_size=batch_size, shuffle=shuffle, seed=3)
    for _ in range(2):
        batches = epoch_rows(loader)
        assert len(batches) == len(loader) == math.ceil(23 / batch_size)
        assert all(len(b) == batch_size for b in batches[:-1])
        order = np.concatenate(batches)
        np.testing.assert_array_equal(np.sort(order), np.arange(23))
        if not shuffle:
            np.testing.assert_array_equal(order, np.arange(23))


@pytest.mark.parametrize("batch_size", [1, 4, 5, 23])
def test_drop_last_counts_as_torch(batch_size):
    loader = DataLoader(make_arrays(), batch_size=batch_size, shuffle=True, seed=0, drop_last=True)
    batches = epoch_rows(loader)
    assert len(batches) == len(loader) == 23 // batch_size
    assert all(len(b) == batch_size for b in batches)
    assert len(set(np.concatenate(batches).tolist())) == 23 // batch_size * batch_size
    torch = pytest.importorskip("torch")
    for drop_last in (False, True):
        expected = len(torch.utils.data.DataLoader(range(23), batch_size=batch_size, drop_last=drop_last))
        assert len(DataLoader(make_arrays(), batch_size=batch_size, drop_last=drop_last)) == expected


def test_order_reproducible_and_new_each_epoch():
    orders = [np.concatenate(epoch_rows(DataLoader(make_arrays(), batch_size=4, shuffle=True, seed=7)))
              for _ in range(2)]
    np.testing.assert_array_equal(orders[0], orders[1])  # same seed, same first epoch
    loader = DataLoader(make_arrays(), batch_size=4, shuffle=True, seed=7)
    epochs = [np.concatenate(epoch_rows(loader)) for _ in range(3)]
    np.testing.assert_array_equal(epochs[0], orders[0])
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    loader.set_epoch(1)  # resume at epoch 1
    np.testing.assert_array_equal(np.concatenate(epoch_rows(loader)), epochs[1])
    other_seed = np.concatenate(epoch_rows(DataLoader(make_arrays(), batch_size=4, shuffle=True, seed=8)))
    assert not np.array_equal(other_seed, orders[0])


def test_order_is_the_argsort_of_the_epochs_philox_draws():
    n, seed, epoch = 10, 5, 2
    draws = ng.functional.rand(0.0, 1.0, (3 * n,), seed=seed, dtype="float64").numpy()  # counters 0 .. 3n-1
    sampler = Sampler(n, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    np.testing.assert_array_equal(list(sampler), np.argsort(draws[epoch * n:(epoch + 1) * n], kind="stable"))


def test_seed_none_follows_the_global_generator():
    ng.manual_seed(4)
    first = list(Sampler(30, shuffle=True))
    ng.manual_seed(4)
    assert list(Sampler(30, shuffle=True)) == first


def test_epoch_advances_at_iter():
    loader = DataLoader(make_arrays(), batch_size=4, shuffle=True, seed=1)
    abandoned = iter(loader)
    next(abandoned)
    assert loader.sampler.epoch == 1


def test_dtypes_and_dataset_forms():
    x32 = np.ones((6, 2), np.float32)
    x16 = np.ones((6, 2), np.float16)
    labels = np.arange(6, dtype=np.uint8)
    mask = np.array([True, False] * 3)
    xb = next(iter(DataLoader(np.ones((6, 2)), batch_size=4)))
    assert isinstance(xb, ng.Tensor) and xb.dtype == ng.float64 and xb.shape == (4, 2)
    batch = next(iter(DataLoader([x32, x16, labels, mask], batch_size=4)))
    assert [t.dtype for t in batch] == [ng.float32, ng.float32, ng.int64, ng.bool_]
    np.testing.assert_array_equal(batch[2].numpy(), [0, 1, 2, 3])
    np.testing.assert_array_equal(batch[3].numpy(), mask[:4])
    (only,) = next(iter(DataLoader(ArrayDataset(x32), batch_size=6)))  # a 1-tuple, as torch's TensorDataset
    assert only.shape == (6, 2)
    images = np.arange(5 * 1 * 4 * 4, dtype=np.float32).reshape(5, 1, 4, 4)
    last = list(DataLoader(images, batch_size=2))[-1]
    assert last.shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(last.numpy(), images[4:])


def test_non_native_byte_order_is_converted():
    # big-endian arrays (from files written on other machines) batch as their values, not as an error
    for dtype in (">f8", ">f4", ">i8", ">i4", ">f2"):
        x = np.arange(6, dtype=dtype).reshape(3, 2)
        (xb,) = list(DataLoader(x, batch_size=3))
        np.testing.assert_array_equal(xb.numpy(), np.arange(6).reshape(3, 2))


def test_array_dataset_indexing():
    x, y = make_arrays(5)
    ds = ArrayDataset(x, y)
    assert len(ds) == 5
    bx, by = ds[np.array([4, 0])]
    np.testing.assert_array_equal(bx, x[[4, 0]])
    np.testing.assert_array_equal(by, y[[4, 0]])


def test_bad_input():
    x, y = make_arrays()
    with pytest.raises(ValueError, match=r"ArrayDataset: the arrays must have the same length.*\(23, 3\), \(22,\)"):
        DataLoader((x, y[:-1]))
    with pytest.raises(ValueError, match="DataLoader: batch_size must be >= 1, got 0"):
        DataLoader(x, batch_size=0)
    with pytest.raises(TypeError, match="DataLoader: batch_size must be an int"):
        DataLoader(x, batch_size=2.5)
    with pytest.raises(ValueError, match="DataLoader: the dataset is empty"):
        DataLoader(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"drop_last=True with batch_size=30 > 23 samples"):
        DataLoader(x, batch_size=30, drop_last=True)
    with pytest.raises(TypeError, match="DataLoader: dataset must be a NumPy array"):
        DataLoader({"x": x})
    with pytest.raises(TypeError, match="ArrayDataset: array 1 must be a NumPy array, got list"):
        DataLoader((x, [1, 2]))
    with pytest.raises(TypeError, match="ArrayDataset: array 0 has dtype complex128"):
        DataLoader(np.zeros(4, complex))
    with pytest.raises(ValueError, match=r"ArrayDataset: array 0 is 0-d"):
        DataLoader(np.array(3.0))
    with pytest.raises(TypeError, match="Sampler: seed must be"):
        DataLoader(x, shuffle=True, seed=-1)
    with pytest.raises(TypeError, match=r"Sampler: seed must be None or an int in \[0, 2\*\*64\)"):
        DataLoader(x, shuffle=True, seed=2**64)  # at construction, not at the first batch
    with pytest.raises(ValueError, match="either sampler or shuffle"):
        DataLoader(x, shuffle=True, sampler=Sampler(23))
    with pytest.raises(ValueError, match="set_epoch: epoch must be >= 0, got -1"):
        DataLoader(x).set_epoch(-1)
    with pytest.raises(TypeError, match="set_epoch: epoch must be an int"):
        DataLoader(x).set_epoch(1.5)
    with pytest.raises(ValueError, match="Sampler: num_samples must be >= 0"):
        Sampler(-3)
