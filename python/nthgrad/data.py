"""nthgrad.data: batches of NumPy arrays as nthgrad tensors, in the shape of
torch.utils.data (DataLoader, a dataset of arrays, a sampler that orders
the samples of each epoch).

    import numpy as np
    import nthgrad as ng

    x = np.random.rand(1000, 1, 8, 8)            # float64 images
    y = np.random.randint(0, 10, size=1000)      # integer labels
    loader = ng.data.DataLoader((x, y), batch_size=32, shuffle=True, seed=0)
    for xb, yb in loader:                        # xb (32, 1, 8, 8) float64, yb (32,) int64
        ...
    len(loader)                                  # 32 batches (the last one of 8 samples)
"""
import numbers

import numpy as np

from ._C import Generator
from .random import rand, randint

__all__ = ["ArrayDataset", "Sampler", "DistributedSampler", "DataLoader"]

_INT64_MAX = np.iinfo(np.int64).max


def _as_supported_array(array, fn, which):
    """`array` in a dtype nthgrad tensors have (no copy when it already is):
    integers become int64, float16/float32 float32, float64 stays, bool stays."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{fn}: {which} must be a NumPy array, got {type(array).__name__}")
    if array.ndim == 0:
        raise ValueError(f"{fn}: {which} is 0-d (shape ()); a dataset needs a first axis of samples")
    if not array.dtype.isnative:  # e.g. '>f8' from a big-endian file: tensors hold the machine's byte order
        array = array.astype(array.dtype.newbyteorder("="))
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "b" or (kind == "f" and size == 8) or array.dtype == np.int64 or (kind == "f" and size == 4):
        return array
    if kind == "f" and size < 4:
        return array.astype(np.float32)
    if kind in "iu":
        if array.dtype == np.uint64 and array.size and array.max() > _INT64_MAX:
            raise OverflowError(f"{fn}: {which} holds {array.max()}, beyond int64")
        return array.astype(np.int64)
    raise TypeError(f"{fn}: {which} has dtype {array.dtype}; nthgrad tensors are float32, float64, int64 or bool")


class ArrayDataset:
    """Samples from NumPy arrays of equal length along their first axis, as
    torch's TensorDataset: ``dataset[i]`` is ``(arrays[0][i], arrays[1][i],
    ...)``; ``i`` may be an index array (a batch). Integer arrays become
    int64 and float16 float32 (nthgrad's dtypes); float64 stays float64.

        ds = ArrayDataset(np.zeros((100, 3)), np.arange(100))   # x (100, 3), y (100,)
        len(ds)          # 100
        ds[[0, 5]]       # (array of shape (2, 3), array([0, 5]))
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset: needs at least one array")
        self.arrays = tuple(_as_supported_array(a, "ArrayDataset", f"array {i}") for i, a in enumerate(arrays))
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) > 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"ArrayDataset: the arrays must have the same length (first dim), got shapes {shapes}")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def __repr__(self):
        return f"ArrayDataset({', '.join(f'{a.dtype}{list(a.shape)}' for a in self.arrays)})"


class Sampler:
    """The order of the samples of each epoch: ``0 .. num_samples - 1`` as is,
    or (``shuffle=True``) a permutation drawn from ``seed`` and the epoch, so
    epoch e of seed s is always the same order, and each epoch's differs.
    Iterating yields the current epoch's indices and moves to the next epoch;
    ``set_epoch(e)`` chooses the epoch (as torch's DistributedSampler: resume
    a run at epoch e). A distributed sampler subclasses this and overrides
    ``indices`` (to take one replica's share of ``order``).

    The permutation sorts num_samples uniform draws of Philox with key
    ``seed`` at counters ``epoch * num_samples ..``: the same on every machine.

        s = Sampler(5, shuffle=True, seed=0)
        list(s)      # epoch 0, e.g. [3, 0, 4, 1, 2]
        list(s)      # epoch 1, another order
        s.set_epoch(0); list(s)   # epoch 0 again
    """

    def __init__(self, num_samples, shuffle=False, seed=None):
        if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral):
            raise TypeError(f"Sampler: num_samples must be an int, got {num_samples!r}")
        if num_samples < 0:
            raise ValueError(f"Sampler: num_samples must be >= 0, got {num_samples}")
        if seed is None:  # from the global generator, so nthgrad.manual_seed makes it reproducible
            seed = int(randint(0, 2**62, (), -1).item())
        elif isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**64:
            # checked here, not at the first iter() where Generator(seed) would refuse it
            raise TypeError(f"Sampler: seed must be None or an int in [0, 2**64), got {seed!r}")
        self.num_samples = int(num_samples)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch):
        """Makes the next iteration use the order of ``epoch`` (an int >= 0)."""
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral):
            raise TypeError(f"Sampler.set_epoch: epoch must be an int, got {epoch!r}")
        if epoch < 0:
            raise ValueError(f"Sampler.set_epoch: epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def order(self, epoch):
        """The int64 array (num_samples,) of the sample indices of ``epoch``."""
        if not self.shuffle:
            return np.arange(self.num_samples)
        if self.num_samples == 0:
            return np.arange(0)
        source = Generator(self.seed)
        source.offset = epoch * self.num_samples  # each epoch its own counters
        keys = rand(0.0, 1.0, (self.num_samples,), source, dtype="float64").numpy()
        return np.argsort(keys, kind="stable")

    def indices(self, epoch):
        """The indices this sampler yields in ``epoch`` (all of ``order``)."""
        return self.order(epoch)

    def __iter__(self):
        indices = self.indices(self.epoch)
        self.epoch += 1
        return iter(indices.tolist())

    def __len__(self):
        """How many indices an epoch yields (a subclass whose ``indices`` yields fewer overrides this)."""
        return self.num_samples



class DistributedSampler(Sampler):
    """One rank's share of each epoch's order, for data parallel training
    (as ``torch.utils.data.distributed.DistributedSampler``). Every rank
    draws the same permutation (same ``seed`` and epoch; the default seed is
    0 on every rank, not a random one), then rank r takes positions
    r, r + R, r + 2R, ... of it (R = num_replicas), so the shards are
    disjoint and together cover the epoch.

    When R does not divide the number of samples N: ``drop_last=False`` (the
    default) pads the order with its own first samples to the next multiple
    of R, so each rank gets ceil(N / R) samples (a few appear twice);
    ``drop_last=True`` drops the tail instead, each rank getting floor(N / R),
    all distinct. ``num_replicas`` and ``rank`` default to the size and rank
    of ``comm`` (an ``nthgrad.distributed.Communicator``; None: MPI's world).
    Call ``set_epoch(e)`` (or let iteration advance it) on every rank alike.

        sampler = DistributedSampler(len(x), shuffle=True, seed=0)        # under mpirun
        loader = DataLoader((x, y), batch_size=32, sampler=sampler)
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False, comm=None):
        if isinstance(dataset, numbers.Integral) and not isinstance(dataset, bool):
            num_samples = dataset
        elif isinstance(dataset, (tuple, list)):  # arrays of samples, as DataLoader takes them
            num_samples = len(ArrayDataset(*dataset))
        else:
            num_samples = _length(dataset)
        if seed is None:
            raise TypeError("DistributedSampler: seed must be an int (the same on every rank), got None")
        super().__init__(num_samples, shuffle=shuffle, seed=seed)
        if num_replicas is None or rank is None:  # read from the communicator (no collective call)
            from .distributed import Communicator, _mpi
            if comm is None:
                comm = _mpi().COMM_WORLD
            size, me = (comm.size, comm.rank) if isinstance(comm, Communicator) else (comm.Get_size(), comm.Get_rank())
            num_replicas = size if num_replicas is None else num_replicas
            rank = me if rank is None else rank
        for name, value in (("num_replicas", num_replicas), ("rank", rank)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"DistributedSampler: {name} must be an int, got {value!r}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas}), got {rank}")
        self.num_replicas, self.rank, self.drop_last = int(num_replicas), int(rank), bool(drop_last)
        n, r = self.num_samples, self.num_replicas
        self.per_replica = n // r if self.drop_last else -(-n // r)
        self.total_size = self.per_replica * r

    def indices(self, epoch):
        order = self.order(epoch)
        if self.total_size > len(order):  # pad with the order's own start, repeated if need be
            reps = -(-self.total_size // max(len(order), 1))
            order = np.tile(order, reps) if len(order) else order
        order = order[:self.total_size]
        return order[self.rank::self.num_replicas]

    def __len__(self):
        return self.per_replica

    def __repr__(self):
        return (f"DistributedSampler(num_samples={self.num_samples}, num_replicas={self.num_replicas}, "
                f"rank={self.rank}, shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})")


def _length(dataset):
    try:
        return len(dataset)
    except TypeError:
        raise TypeError(f"DistributedSampler: dataset must be a number of samples or have a len(), got "
                        f"{type(dataset).__name__}") from None

class DataLoader:
    """Batches of a dataset of NumPy arrays, as nthgrad tensors.

    ``dataset`` is a NumPy array (batches are tensors), a tuple or list of
    arrays of equal length, or an ``ArrayDataset`` (batches are tuples of
    tensors, one per array). Batch ``b`` holds the samples
    ``order[b * batch_size:(b + 1) * batch_size]`` along the first axis:
    an array of shape (N, *rest) gives batches (batch_size, *rest). The
    arrays keep their dtypes (float64 stays float64: call ``.astype`` on
    the arrays, or on the batch, for float32); integer labels become int64.

    ``shuffle=True`` draws a new order each epoch (each ``iter(loader)``),
    reproducible from ``seed`` (None: a seed drawn from nthgrad's global
    generator); ``set_epoch(e)`` restarts at epoch e. ``drop_last=True``
    drops the last batch when it is smaller than ``batch_size``, as torch.
    ``len(loader)`` is the number of batches. ``sampler`` may replace the
    built-in order (e.g. a distributed sampler); then shuffle and seed stay
    at their defaults.

    Differs from torch: an empty dataset, or drop_last with fewer samples
    than batch_size (no batch at all), is a ValueError instead of an epoch
    without batches; there are no worker processes or collate_fn.

        loader = DataLoader((x, y), batch_size=64, shuffle=True, seed=0, drop_last=True)
        for epoch in range(3):
            for xb, yb in loader:      # xb (64, *x.shape[1:]), yb (64,) int64
                ...
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, seed=None, drop_last=False, sampler=None):
        if isinstance(dataset, np.ndarray):
            self.dataset, self._single = ArrayDataset(dataset), True
        elif isinstance(dataset, (tuple, list)):
            self.dataset, self._single = ArrayDataset(*dataset), False
        elif isinstance(dataset, ArrayDataset):
            self.dataset, self._single = dataset, False
        else:
            raise TypeError(f"DataLoader: dataset must be a NumPy array, a tuple/list of arrays or an ArrayDataset, "
                            f"got {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        n = len(self.dataset)
        if n == 0:
            raise ValueError(f"DataLoader: the dataset is empty ({self.dataset!r})")
        if drop_last and batch_size > n:
            raise ValueError(f"DataLoader: drop_last=True with batch_size={batch_size} > {n} samples would give "
                             "no batch")
        if sampler is None:
            sampler = Sampler(n, shuffle=shuffle, seed=seed)
        elif shuffle or seed is not None:
            raise ValueError("DataLoader: give either sampler or shuffle/seed, not both")
        elif not isinstance(sampler, Sampler):
            raise TypeError(f"DataLoader: sampler must be an nthgrad.data.Sampler, got {type(sampler).__name__}")
        elif sampler.num_samples != n:
            raise ValueError(f"DataLoader: the sampler orders {sampler.num_samples} samples but the dataset has {n}")
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)
        self.sampler = sampler

    def set_epoch(self, epoch):
        """The next ``iter(loader)`` gives the order of ``epoch`` (see Sampler)."""
        self.sampler.set_epoch(epoch)

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        # The order is taken (and the epoch advanced) at iter(), not at the first next().
        indices = np.fromiter(iter(self.sampler), dtype=np.int64)
        return self._batches(indices)

    def _batches(self, indices):
        from ._tensor import from_numpy
        for b in range(len(self)):
            batch = indices[b * self.batch_size:(b + 1) * self.batch_size]
            # fancy indexing copies into a fresh contiguous array: the tensor can share it
            arrays = tuple(from_numpy(np.ascontiguousarray(a)) for a in self.dataset[batch])
            yield arrays[0] if self._single else arrays
