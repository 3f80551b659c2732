"""Data-parallel training of the digits CNN of examples/digits_cnn.py over
MPI, with nthgrad.distributed: one process (rank) per MPI slot, each with a
replica of the model and its own shard of every epoch.

The model, the data split (1437 train, 360 test images of 8x8 pixels) and
the training recipe (AdamW, lr 3e-3, weight decay 1e-4, a cosine schedule,
CrossEntropyLoss) are digits_cnn.py's, imported from it. What changes:

  - DistributedSampler gives each rank its share of every epoch's order
    (set_epoch(e) each epoch, so all ranks agree on the permutation);
  - --batch-size is the global batch: each rank runs batch_size / ranks
    samples per step, so a step sees the same number of samples, and an
    epoch has the same number of steps, whatever the number of ranks;
  - DistributedDataParallel broadcasts rank 0's initial weights and averages
    the gradients over the ranks during loss.backward(), so every rank takes
    the same optimizer step and the replicas stay identical;
  - --sync-bn replaces the BatchNorm2d layers by SyncBatchNorm (batch
    statistics of the global batch instead of each rank's share);
  - the test set is evaluated in shards, one per rank, after the BatchNorm
    running statistics are set to rank 0's; the counts are summed with
    comm.all_reduce. Only rank 0 writes to stdout.

    pip install .[examples,mpi]
    # Open MPI refuses to run as root unless told (containers); btl ^ofi skips a transport
    # that only prints warnings on machines without the hardware
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=^ofi
    mpirun -np 2 python examples/ddp_digits.py                      # full run: 30 epochs
    mpirun -np 3 --oversubscribe python examples/ddp_digits.py --epochs 5 --sync-bn
    mpirun -np 1 python examples/ddp_digits.py --dtype float64      # (or plain `python`: one rank)

Threads: unless OMP_NUM_THREADS is set, each rank uses (cores / ranks on
this node) OpenMP threads (at least 1), set before nthgrad is imported:
ranks that each start one thread per core would fight over the cores.

The last line on stdout is `final test accuracy: 0.xxxx` (for scripts).
"""
import argparse
import json
import os
import sys
import time
import traceback


def _default_threads():
    """OMP_NUM_THREADS = cores / local ranks, unless set (must precede the import of nthgrad)."""
    local = os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE") or os.environ.get("MPI_LOCALNRANKS")
    if "OMP_NUM_THREADS" in os.environ or not local:
        return
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ["OMP_NUM_THREADS"] = str(max(1, min(usable, (os.cpu_count() or 1) // int(local))))


_default_threads()

import numpy as np  # noqa: E402

import nthgrad as ng  # noqa: E402
import nthgrad.distributed as dist  # noqa: E402
import nthgrad.nn as nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_cnn import BATCH_SIZE, EPOCHS, load_digits_split, make_model  # noqa: E402


def shard_accuracy(model, comm, x, y, batch_size=512):
    """Test accuracy of the (identical) replicas, each rank predicting a
    contiguous shard of x; the correct counts are summed over the ranks."""
    model.eval()
    lo, hi = [(len(x) * r) // comm.size for r in (comm.rank, comm.rank + 1)]
    correct = 0
    with ng.no_grad():
        for start in range(lo, hi, batch_size):
            stop = min(start + batch_size, hi)
            logits = model(ng.tensor(x[start:stop]))
            correct += int(np.sum(np.argmax(np.asarray(logits), axis=1) == y[start:stop]))
    total = comm.all_reduce(ng.tensor(np.array([correct], dtype=np.float64)), "sum")
    return float(np.asarray(total)[0]) / len(x)


def replica_spread(model, comm):
    """max over the parameters and buffers of (max over ranks - min over ranks): 0 when the replicas agree."""
    spread = 0.0
    with ng.no_grad():
        for t in list(model.parameters()) + [b for b in model.buffers() if b is not None and b.dtype != ng.int64]:
            hi = np.asarray(comm.all_reduce(t.detach(), "max"))
            lo = -np.asarray(comm.all_reduce(-t.detach(), "max"))
            spread = max(spread, float(np.max(hi - lo, initial=0.0)))
    return spread


def train(comm, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=3e-3, seed=0, dtype="float32", sync_bn=False,
          dropout=None, log=print):
    """Trains the CNN on every rank of comm; returns {"loss", "test_accuracy",
    "step_ms" (per epoch), "seconds", "model"} (the same on every rank but
    the times). dropout: None keeps digits_cnn's 0.25. log(line): called on
    rank 0 only, once per epoch."""
    per_rank = batch_size // comm.size
    if per_rank < 1:
        raise ValueError(f"--batch-size {batch_size} is the global batch: it must be >= the {comm.size} ranks")
    if per_rank * comm.size != batch_size and comm.rank == 0:
        print(f"note: the global batch {batch_size} is not a multiple of {comm.size} ranks: {per_rank} per rank, "
              f"{per_rank * comm.size} in all", file=sys.stderr)
    # Rank 0 draws the initial weights exactly as a single process would with this seed (DDP broadcasts
    # them); the other ranks' seeds only make their dropout masks differ from rank 0's.
    ng.manual_seed(seed + comm.rank)
    x_train, y_train, x_test, y_test = load_digits_split(seed)
    x_train, x_test = x_train.astype(dtype), x_test.astype(dtype)
    net = make_model()
    if dropout is not None:
        for m in net.modules():
            if isinstance(m, nn.Dropout):
                m.p = float(dropout)
    if dtype == "float64":
        net.double()
    if sync_bn:
        # Each layer converted on its own, into a new Sequential: convert_sync_batchnorm(net) would put the
        # SyncBatchNorm layers at the end of the Sequential (nn.Module.__setattr__ re-appends a reassigned
        # child to _modules, so replacing net's '1' moves it after '11').
        net = nn.Sequential(*(nn.SyncBatchNorm.convert_sync_batchnorm(m, comm) for m in net))
    model = dist.DistributedDataParallel(net, comm)
    opt = ng.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = ng.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    # drop_last=False: ranks get ceil(N / ranks) samples each (a few repeated), hence the same number of
    # batches, as DDP needs (every rank must run every backward)
    sampler = ng.data.DistributedSampler(len(x_train), comm=comm, shuffle=True, seed=seed)
    loader = ng.data.DataLoader((x_train, y_train), batch_size=per_rank, sampler=sampler)
    history = {"loss": [], "test_accuracy": [], "step_ms": []}
    start = time.perf_counter()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        model.train()
        total, count, steps = 0.0, 0, 0
        comm.barrier()  # time the epoch from a common start
        t0 = time.perf_counter()
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()  # leaves .grad averaged over the ranks
            opt.step()
            total += loss.item() * len(yb)
            count += len(yb)
            steps += 1
        step_ms = 1e3 * (time.perf_counter() - t0) / steps
        sched.step()
        sums = np.asarray(comm.all_reduce(ng.tensor(np.array([total, count], dtype=np.float64)), "sum"))
        for b in net.buffers():  # BatchNorm's running statistics: rank 0's on every rank
            if b is not None:
                comm.broadcast_(b, 0)
        history["loss"].append(float(sums[0] / sums[1]))
        history["test_accuracy"].append(shard_accuracy(model, comm, x_test, y_test))
        history["step_ms"].append(step_ms)
        if comm.rank == 0 and log is not None:
            log(f"epoch {epoch + 1:3d}/{epochs}  loss {history['loss'][-1]:.4f}  "
                f"test accuracy {history['test_accuracy'][-1]:.4f}  step {step_ms:.2f} ms ({steps} steps)")
    history["seconds"] = time.perf_counter() - start
    history["model"] = model
    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                        help="the global batch, split evenly over the ranks")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--sync-bn", action="store_true", help="BatchNorm2d -> SyncBatchNorm (global batch statistics)")
    parser.add_argument("--dropout", type=float, default=None,
                        help="the dropout probability (default digits_cnn's 0.25). With 0, --sync-bn and float64, a "
                             "number of ranks dividing both the batch and the 1437 samples (1, 3: --batch-size 48) "
                             "follows the 1-rank run to rounding")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    parser.add_argument("--history", default=None, help="rank 0 writes the per-epoch curves to this JSON")
    args = parser.parse_args(argv)
    comm = dist.Communicator()
    if comm.rank == 0 and not args.quiet:
        print(f"{comm.size} rank(s), {os.environ.get('OMP_NUM_THREADS', '(default)')} OpenMP thread(s) each; "
              f"global batch {args.batch_size}, {args.dtype}{', SyncBatchNorm' if args.sync_bn else ''}", flush=True)
    log = None if args.quiet else (lambda line: print(line, flush=True))
    try:
        h = train(comm, args.epochs, args.batch_size, args.lr, args.seed, args.dtype, args.sync_bn, args.dropout,
                  log)
        spread = replica_spread(h["model"], comm)  # collective: every rank takes part
    except BaseException:
        # An error on one rank would leave the others waiting in a collective, and this rank in MPI's
        # finalization at exit, forever (mpirun sees no exit): end the whole job (as `python -m mpi4py` does).
        if comm.size == 1:
            raise
        traceback.print_exc()
        sys.stderr.flush()
        comm.mpi_comm.Abort(1)
    if comm.rank == 0:
        print(f"{args.epochs} epochs in {h['seconds']:.1f} s on {comm.size} rank(s), median step "
              f"{np.median(h['step_ms']):.2f} ms; replicas differ by at most {spread:.3g}")
        if args.history:
            with open(args.history, "w") as f:
                json.dump({k: h[k] for k in ("loss", "test_accuracy", "step_ms", "seconds")} |
                          {"ranks": comm.size, "replica_spread": spread, "args": vars(args)}, f)
        print(f"final test accuracy: {h['test_accuracy'][-1]:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
