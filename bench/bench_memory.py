"""Peak resident memory (RSS) of the MLP of bench_mlp (784-512-512-10, float32,
MSE loss, SGD lr 0.01; bench_mlp's own model-building code, weights and data):

  step b128      N training steps (forward, loss, backward, SGD) at batch
                 128, exactly bench_mlp's step (both in place:
                 p.sub_(p.grad, alpha=lr) under no_grad, then p.grad = None);
  fwd+bwd b1024  N forward+backward passes at batch 1024 (gradients set to
                 None before each), where the values the graph saves for the
                 backward (activations, 2 MB per 1024x512 tensor) dominate.

Each library runs in fresh Python processes of its own (`bench_memory.py
--child LIB ALLOC N PATH`, which imports only that library), so that neither
library's memory, thread stacks or allocator state count against the other.
In it, for each of the two cases in turn:

  1. build the parameters and the data, run one warm-up training step (it is
     also the check: loss and gradients), drop everything but the model and
     the data (gradients None), gc.collect();
  2. malloc_trim(0) (for nthgrad after empty_cache(): its freed buffers
     kept for reuse count as memory in use from then on), then baseline = VmRSS;
  3. reset the kernel's high-water mark (write "5" to /proc/self/clear_refs);
  4. run N iterations as a training loop would, `loss = step()`, so the
     previous iteration's loss (and whatever it keeps alive) is held while
     the next one runs;
  5. peak = VmHWM (/proc/self/status); the row is peak - baseline. (Also
     printed: what is left after the loop once trimmed, i.e. still alive:
     the gradients, 2.68 MB, after fwd+bwd; ~0 after the steps.)

Why: RSS counts the pages that were touched and not returned, and glibc's
malloc keeps much of what is freed: after the first free of a large block it
raises its mmap threshold (up to 32 MB), so later MB-sized tensors come from
the heap and their pages stay resident after free(). Without step 2 the
baseline would already contain the warm-up's freed temporaries, the measured
steps would reuse them, and the increase would understate what a step needs
(down to 0). malloc_trim(0) returns the free pages of every arena to the
kernel, so the baseline is the live model and data plus code, thread stacks
and one-time initialization (paid by the warm-up, not part of a step). Step 3
makes the peak that of the N iterations only, not of the warm-up (ru_maxrss
is the same high-water mark but is never lowered, hence VmHWM).

What the peak then contains depends on the allocator, so each library is
measured under two settings, each in its own process:

  mmapped         mallopt(M_MMAP_THRESHOLD, 128 KiB) first thing in the
                  process: glibc's initial threshold, no longer allowed to
                  rise, so every block of >= 128 KiB (every tensor here but
                  the biases) is mmapped and unmapped on free; nthgrad's own
                  cache of freed buffers is switched off too
                  (NTHGRAD_CACHE_BYTES=0). The peak is then the largest
                  amount of tensor memory alive at one moment (plus < 0.3 MB
                  of small-object heap): what the library keeps alive, e.g.
                  how many intermediates the graph saves. Stable from run to
                  run and independent of N.
  default malloc  both libraries as a user runs them: the peak adds malloc's
                  retention and fragmentation and, for nthgrad, the freed
                  buffers it keeps for reuse (1.5-4x the mmapped figure for
                  torch). Noisy: it creeps up over the iterations
                  (so it depends on N) and, with 2 threads, varies from
                  process to process with the threads' timing (torch fwd+bwd
                  b1024: 14-29 MB; with OMP_NUM_THREADS=1 it repeats exactly).

(The threshold must be pinned before the work: glibc serves a request from
free heap chunks before it considers mmap, so pinning it later changes
little.) torch has no caching allocator on the CPU (posix_memalign/free);
nthgrad keeps freed buffers of >= 256 KiB for reuse (tensor.cpp), emptied
with nthgrad.empty_cache() before the baseline so that they count in the
peak rather than hide in the baseline.

Checks (before measuring, from the warm-up): losses and the gradients of the
last layer and the biases; after measuring, the loss reached after the steps.
"""
import ctypes
import gc
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_mlp as mlp  # noqa: E402
import common  # noqa: E402

TITLE = "peak memory (RSS increase) of the MLP: training step at batch 128, forward+backward at batch 1024"
BIG_BATCH = 1024
CASES = {  # name: (row label, batch, closure of bench_mlp.make measured)
    "step b128": (f"mem: MLP training step, batch {mlp.BATCH}", mlp.BATCH, "step"),
    f"fwd+bwd b{BIG_BATCH}": (f"mem: MLP fwd+bwd, batch {BIG_BATCH}", BIG_BATCH, "forward_backward"),
}
M_MMAP_THRESHOLD = -3      # mallopt parameter (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's initial value
PINNED = "mmapped"
ALLOCATORS = (PINNED, "default malloc")
CHECKED = ("loss", "grad w3", "grad b1", "grad b2", "grad b3")
TOLERANCES = {}
for _name in CASES:
    TOLERANCES.update({f"{_name}: {c}": mlp.TOLERANCES[c] for c in CHECKED})
    TOLERANCES[f"{_name}: loss after the steps"] = (1e-4, 1e-6)


# ---- in the child process ---------------------------------------------------

def _status_bytes(field):
    """A 'kB' field of /proc/self/status (VmRSS, VmHWM), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak():
    """Resets VmHWM to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _libc():
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def _malloc_trim(lib):
    """Returns freed memory to the OS: glibc's (malloc_trim) and, for nthgrad,
    the freed buffers it keeps for reuse (nthgrad.empty_cache)."""
    if lib == "nthgrad":
        import nthgrad
        nthgrad.empty_cache()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def _pin_mmap_threshold():
    """mallopt(M_MMAP_THRESHOLD, 128 KiB): glibc's initial threshold, no longer
    allowed to rise, so every block of >= 128 KiB is mmapped and unmapped on free."""
    libc = _libc()
    if libc is None or libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        raise RuntimeError("mallopt(M_MMAP_THRESHOLD) failed (not glibc?)")


def measure_one(lib, name, n):
    """(peak RSS increase, RSS increase left after the loop, baseline RSS) in
    bytes for n iterations of one case, and the check arrays."""
    _, batch, which = CASES[name]
    params_np, x_np, t_np = mlp.init(batch=batch)
    forward, forward_backward, step, check = mlp.make(lib, params_np, x_np, t_np)
    fn = {"step": step, "forward_backward": forward_backward}[which]
    warm = check()  # the warm-up step: forward, backward, SGD; gradients dropped
    checks = {f"{name}: {c}": warm[c] for c in CHECKED}
    del warm
    gc.collect()
    _malloc_trim(lib)
    base = _status_bytes("VmRSS")
    _reset_peak()
    loss = None
    for _ in range(n):
        loss = fn()  # held while the next iteration runs, as in a training loop
    peak = _status_bytes("VmHWM")
    del loss
    gc.collect()
    _malloc_trim(lib)
    kept = _status_bytes("VmRSS")  # what stays alive (fwd+bwd: the gradients)
    checks[f"{name}: loss after the steps"] = common.to_numpy(forward())
    return (peak - base, kept - base, base), checks


def child(lib, alloc, n, path):
    """Both cases for one library under one allocator setting (ALLOCATORS);
    the results and check arrays to PATH (.npz)."""
    if alloc == PINNED:
        _pin_mmap_threshold()
    __import__(lib)
    gc.collect()
    gc.freeze()  # the library's own objects: later collections skip them (torch has ~10^5)
    out = {}
    for name in CASES:
        mem, checks = measure_one(lib, name, int(n))
        out.update(checks)
        out[f"{name}::"] = np.array(mem)
    np.savez(path, **out)
    return 0


# ---- in the benchmark process -----------------------------------------------

def run(libs, scale=1.0):
    n = common.repeats(10, scale)
    keys = [(name, alloc) for alloc in ALLOCATORS for name in CASES]
    rows = [common.Row(f"{CASES[name][0]}: peak RSS ({alloc})", "MB") for name, alloc in keys]
    checks = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lib in libs:
            for alloc in ALLOCATORS:
                path = os.path.join(tmp, f"{lib}.{ALLOCATORS.index(alloc)}.npz")
                # Pinned: every allocator cache off, nthgrad's too (its freed buffers kept for reuse).
                env = dict(os.environ, NTHGRAD_CACHE_BYTES="0") if alloc == PINNED else None
                proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", lib, alloc, str(n),
                                       path], capture_output=True, text=True, env=env)
                if proc.returncode != 0 or not os.path.exists(path):
                    print(f"!!! memory child for {lib} ({alloc}) failed (exit {proc.returncode}):\n"
                          f"{proc.stdout}{proc.stderr}")
                    continue
                with np.load(path) as z:
                    res = {k: z[k] for k in z.files}
                if alloc == PINNED:  # the same computation in both children
                    checks[lib] = {k: v for k, v in res.items() if not k.endswith("::")}
                for row, (name, a) in zip(rows, keys):
                    if a != alloc:
                        continue
                    peak, kept, base = (float(v) for v in res[f"{name}::"])
                    row.times[lib] = peak
                    print(f"memory {lib:7s} {name:13s} {alloc:14s}: baseline RSS {base / 1e6:6.1f} MB, "
                          f"peak +{peak / 1e6:5.2f} MB during {n} iterations, +{kept / 1e6:5.2f} MB left after")
    common.compare(checks, TOLERANCES, "memory: ")
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child(*sys.argv[2:]))
    sys.exit(common.main(sys.modules[__name__]))
