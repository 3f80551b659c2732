"""Shared helpers for the nthgrad benchmarks: timing, result checks, tables,
machine information, and the command line every bench_<case>.py script uses.

A case module defines

    TITLE = "..."
    def run(libs, scale=1.0) -> (rows, checks, tolerances)

where `libs` is a subset of ("nthgrad", "torch"), `rows` is a list of Row,
`checks` maps a library to {name: ndarray} (the numbers to compare across
libraries, computed before any timing) and `tolerances` maps each check name
to (rtol, atol_rel): arrays must satisfy
    |a - b| <= atol_rel * max|b| + rtol * |b|.

Times are medians of many repeats (time.perf_counter, after warm-up, with
the Python garbage collector off during the timed calls, as timeit does);
`measure(row, lib, fn)` also records how much CPU other processes took
meanwhile (the machine has 2 cores and is shared), and retries a disturbed
measurement a few times. Benchmarks never assert on time.
"""
import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import time

import numpy as np

LIBS = ("nthgrad", "torch")
FAILURES = []  # labels of the checks that failed in this process


# --------------------------------------------------------------------------
# Libraries

def have(lib):
    """True when `lib` can be imported (a missing peer is skipped, not an error)."""
    try:
        __import__(lib)
        return True
    except ImportError:
        return False


def available(libs):
    """The libraries of `libs` that are installed; prints a skip line for the rest."""
    out = []
    for lib in libs:
        if have(lib):
            out.append(lib)
        else:
            print(f"{lib} not installed: skipped")
    return out


# --------------------------------------------------------------------------
# Timing

def _timed_loop(fn, repeat, max_seconds, min_repeat):
    times = []
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        spent = 0.0
        for i in range(max(repeat, 1)):
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            times.append(dt)
            spent += dt
            if spent > max_seconds and i + 1 >= min_repeat:
                break
    finally:
        if was_enabled:
            gc.enable()
    return statistics.median(times)


# Retries when other processes took CPU during a measurement (see timeit).
NOISY = 0.10          # fraction of all cores used by others above which a measurement is retried
RETRIES = 2           # at most this many retries per measurement
# seconds this process may spend on retries and on waiting for quiet, in all
RETRY_BUDGET = [float(os.environ.get("BENCH_RETRY_BUDGET", "30"))]
LAST_BUSY = [None]    # the interference of the measurement timeit last returned


def timeit(fn, repeat=20, warmup=3, max_seconds=3.0, min_repeat=5):
    """Median wall time of one call of `fn`, in seconds.

    Calls fn `warmup` times untimed, then up to `repeat` timed calls; stops
    early (after at least `min_repeat`) once `max_seconds` of timed calls have
    passed. The machine has few cores and is shared: when other processes
    took more than NOISY of the CPU during the timed calls, waits a little for
    quiet and measures again (at most RETRIES times, within RETRY_BUDGET),
    keeping the measurement with the least interference. That interference
    (fraction of all cores used by others) is left in LAST_BUSY[0]."""
    for _ in range(warmup):
        fn()
    best = None
    for attempt in range(RETRIES + 1):
        meter = BusyMeter().start()
        t0 = time.perf_counter()
        median = _timed_loop(fn, repeat, max_seconds, min_repeat)
        busy = meter.stop()
        RETRY_BUDGET[0] -= (time.perf_counter() - t0) if attempt else 0.0
        if best is None or (busy is not None and busy < best[1]):
            best = (median, busy)
        if busy is None or busy <= NOISY or attempt == RETRIES or RETRY_BUDGET[0] <= 0:
            break
        t1 = time.perf_counter()
        wait_for_quiet(max_wait=min(10.0, RETRY_BUDGET[0]), threshold=NOISY / 2, sample=0.5)
        RETRY_BUDGET[0] -= time.perf_counter() - t1
        fn()  # warm again after the pause
    LAST_BUSY[0] = best[1]
    return best[0]


def measure_rows(rows, fns, libs, repeat, warmup):
    """Times fns[lib][i] for row i and each library (the loop every case shares)."""
    for i, row in enumerate(rows):
        for lib in libs:
            measure(row, lib, fns[lib][i], repeat=repeat, warmup=warmup, max_seconds=2)


def measure(row, lib, fn, **kwargs):
    """timeit(fn) into row.times[lib], and its interference into row.busy[lib]."""
    row.times[lib] = timeit(fn, **kwargs)
    row.busy[lib] = LAST_BUSY[0]


class Row:
    """One measured case, for each library; lower is better in every row.

    A time row holds seconds per call in `times`, reported as seconds / `per`
    in `unit` (e.g. per=1000 and unit "us/op"). A memory row (unit "MB")
    holds bytes in `times`, reported in MB (10^6 bytes); it has no `busy`.
    `reference`: the library of the second column and of the ratio (torch
    unless a row compares nthgrad with something else, e.g. mpi4py; the
    case's name then says so)."""

    UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9,  # times[lib] in seconds
             "MB": 1e-6,                                  # times[lib] in bytes (memory rows)
             "nodes": 1.0}                                # times[lib] a count of graph nodes

    def __init__(self, case, unit="ms", per=1, times=None, busy=None, reference="torch"):
        self.case = case
        self.reference = reference
        self.unit = unit
        self.per = per
        self.times = dict(times or {})
        self.busy = dict(busy or {})  # lib -> fraction of the cores other processes used meanwhile

    def is_memory(self):
        return self.unit.split("/")[0] == "MB"

    def noise(self):
        vals = [b for b in self.busy.values() if b is not None]
        return max(vals) if vals else None

    def value(self, lib):
        t = self.times.get(lib)
        if t is None:
            return None
        return t / self.per * self.UNITS[self.unit.split("/")[0]]

    def to_json(self):
        return {"case": self.case, "unit": self.unit, "per": self.per, "times": self.times, "busy": self.busy,
                "reference": self.reference}

    @classmethod
    def from_json(cls, d):
        return cls(d["case"], d["unit"], d["per"], d["times"], d.get("busy"), d.get("reference", "torch"))


# --------------------------------------------------------------------------
# Checks

def to_numpy(x):
    """A NumPy copy of an nthgrad or torch tensor (or anything array-like)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch
        return x.detach().cpu().numpy().copy()
    return np.array(np.asarray(x), copy=True)


def compare(checks, tolerances, label=""):
    """Compares the check arrays of nthgrad and torch; prints every mismatch
    loudly. Returns True when all agree (or when there is nothing to compare)."""
    if not all(lib in checks for lib in LIBS):
        return True
    ok = True
    a_all, b_all = checks["nthgrad"], checks["torch"]
    worst = []
    for name, (rtol, atol_rel) in tolerances.items():
        a, b = a_all.get(name), b_all.get(name)
        if a is None or b is None:
            print(f"!!! CHECK {label}{name}: missing in {'nthgrad' if a is None else 'torch'}")
            ok = False
            continue
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            print(f"!!! MISMATCH {label}{name}: shapes {a.shape} (nthgrad) vs {b.shape} (torch)")
            ok = False
            continue
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        atol = atol_rel * scale
        err = np.abs(a - b)
        bad = ~(err <= atol + rtol * np.abs(b))
        rel = float(np.max(err) / scale) if b.size and scale > 0 else float(np.max(err, initial=0.0))
        worst.append((name, rel))
        if bad.any() or not np.all(np.isfinite(a)):
            ok = False
            i = tuple(int(k) for k in np.unravel_index(int(np.argmax(err)), err.shape)) if err.size else ()
            print("!" * 78)
            print(f"!!! MISMATCH {label}{name}: {int(bad.sum())} of {b.size} elements differ "
                  f"(rtol={rtol:g}, atol={atol:g}); worst at {i}: nthgrad {float(a[i])!r} vs torch {float(b[i])!r}")
            print("!!! the timings of this case compare different computations")
            print("!" * 78)
    if not ok:
        FAILURES.append(label.rstrip(": ") or "check")
    if ok:
        summary = ", ".join(f"{n} {r:.1e}" for n, r in worst)
        print(f"check {label}OK: nthgrad == torch (max |diff| / max |torch|: {summary})")
    return ok


# --------------------------------------------------------------------------
# Interference from other processes

def _proc_stat():
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle


class BusyMeter:
    """How much of the machine's CPU other processes took between start() and
    stop(): (all processes' busy CPU time - ours, incl. waited children) /
    (wall time * cores). Near 0 on a quiet machine; on 2 cores, 0.5 means one
    core was taken away from us on average, which wrecks OpenMP timings."""

    def start(self):
        self.t0 = time.perf_counter()
        self.busy0 = _proc_stat() if os.path.exists("/proc/stat") else None
        self.own0 = self._own()
        return self

    @staticmethod
    def _own():
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def stop(self):
        """The fraction of all cores used by other processes (None if unknown)."""
        if self.busy0 is None:
            return None
        wall = time.perf_counter() - self.t0
        busy = (_proc_stat() - self.busy0) / os.sysconf("SC_CLK_TCK")
        own = self._own() - self.own0
        return max(0.0, (busy - own) / (wall * (os.cpu_count() or 1))) if wall > 0 else None


def others_busy(seconds=1.0):
    """The fraction of all cores that other processes use right now (sampled over `seconds`)."""
    m = BusyMeter().start()
    time.sleep(seconds)
    return m.stop()


def wait_for_quiet(max_wait=120.0, threshold=0.05, sample=1.0):
    """Waits (up to max_wait seconds) until other processes use less than
    `threshold` of the cores; returns the last sample."""
    deadline = time.perf_counter() + max_wait
    while True:
        busy = others_busy(sample)
        if busy is None or busy < threshold or time.perf_counter() > deadline:
            return busy


# --------------------------------------------------------------------------
# Machine information

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    """The SIMD extensions that matter for the kernels (from /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile")
                    return " ".join(w for w in wanted if w in flags) or "-"
    except OSError:
        pass
    return "unknown"


def git_commit():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=10)
        # changes to bench/ itself do not change what is measured
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":/",
                                ":(top,exclude)bench"], cwd=here, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() + (" (library sources modified)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_info():
    """A dict of facts about the machine and the libraries."""
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": cpu_model(),
        "cpu flags": cpu_flags(),
        "cores": os.cpu_count(),
        "cores usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "(not set)"),
        "commit": git_commit(),
    }
    try:
        import nthgrad
        import glob
        built = [os.path.getmtime(p) for p in glob.glob(os.path.join(os.path.dirname(nthgrad.__file__), "_C*.so"))]
        stamp = time.strftime(", built %Y-%m-%d %H:%M:%S", time.localtime(max(built))) if built else ""
        info["nthgrad"] = f"{nthgrad.__version__} ({os.path.dirname(nthgrad.__file__)}{stamp})"
    except ImportError:
        info["nthgrad"] = "not installed"
    try:
        import torch
        info["torch"] = f"{torch.__version__} (intra-op threads {torch.get_num_threads()})"
    except ImportError:
        info["torch"] = "not installed"
    return info


def print_machine_info(info=None):
    info = info or machine_info()
    width = max(len(k) for k in info)
    for k, v in info.items():
        print(f"{k:<{width}} : {v}")


# --------------------------------------------------------------------------
# Tables

def _fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def _fmt_ratio(ratio):
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def _ratio(rows_or_row, lib_a="nthgrad", lib_b=None):
    lib_b = lib_b or getattr(rows_or_row, "reference", "torch")
    a, b = rows_or_row.times.get(lib_a), rows_or_row.times.get(lib_b)
    if a is None or b is None or b == 0:
        return None
    return a / b


def table(rows, separate=None, markdown=False):
    """The table as text: case, unit, nthgrad, torch, ratio nthgrad/torch
    (< 1: nthgrad is faster, or in an MB row uses less memory; a row whose
    `reference` is not torch, e.g. mpi4py, has that library's number in the
    torch column and its name in the case). With
    `separate` (rows of the same cases measured with each library in its own
    process), three more columns."""
    head = ["case", "unit", "nthgrad", "torch", "nthgrad/torch"]
    if separate is not None:
        head += ["nthgrad (own proc)", "torch (own proc)", "ratio (own procs)"]
    head += ["others' CPU"]
    sep_by_case = {r.case: r for r in (separate or [])}
    body = []
    for r in rows:
        ratio = _ratio(r)
        fmt = (lambda v: "-" if v is None else f"{v:.0f}") if r.unit == "nodes" else _fmt
        line = [r.case, r.unit, fmt(r.value("nthgrad")), fmt(r.value(r.reference)), _fmt_ratio(ratio)]
        if separate is not None:
            s = sep_by_case.get(r.case)
            sr = _ratio(s) if s else None
            line += [fmt(s.value("nthgrad")) if s else "-", fmt(s.value(s.reference)) if s else "-",
                     _fmt_ratio(sr)]
        noises = [n for n in (r.noise(), s.noise() if separate is not None and s else None) if n is not None]
        line.append(f"{100 * max(noises):.0f}%" if noises else "-")
        body.append(line)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    out = []
    if markdown:
        out.append("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
        out.append("|" + "|".join(("-" * (w + 1) + ":") if i >= 2 else ("-" * (w + 2))
                                  for i, w in enumerate(widths)) + "|")
        for b in body:
            out.append("| " + " | ".join(c.rjust(w) if i >= 2 else c.ljust(w)
                                         for i, (c, w) in enumerate(zip(b, widths))) + " |")
    else:
        out.append("  ".join(h.rjust(w) if i >= 2 else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))))
        out.append("  ".join("-" * w for w in widths))
        for b in body:
            out.append("  ".join(c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(b, widths))))
    return "\n".join(out)


def print_table(rows, separate=None, markdown=False):
    print(table(rows, separate, markdown))
    if any(r.unit == "nodes" for r in rows):
        print("(nodes rows: the size of a derivative graph, lower is better; not a time)")
    if any(r.is_memory() for r in rows):
        print("(MB rows: peak memory, lower is better like the times; nthgrad/torch < 1 means nthgrad uses less)")
    print("(others' CPU: the largest share of all cores that other processes used while a number of the row "
          "was measured; above ~10% that number is disturbed)")


# --------------------------------------------------------------------------
# Command line of each bench_<case>.py

def parse_args(argv=None, description=None):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--lib", choices=("both",) + LIBS, default="both",
                   help="time only this library (e.g. to run each in its own process)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the number of repeats")
    p.add_argument("--json", metavar="PATH", help="also write rows and check arrays to PATH (.json + .npz)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    return p.parse_args(argv)


def dump(path, rows, checks):
    """Writes rows to PATH (JSON) and the check arrays to PATH + '.npz'."""
    with open(path, "w") as f:
        json.dump([r.to_json() for r in rows], f)
    flat = {f"{lib}::{name}": arr for lib, d in checks.items() for name, arr in d.items()}
    np.savez(path + ".npz", **flat)


def load(path):
    with open(path) as f:
        rows = [Row.from_json(d) for d in json.load(f)]
    checks = {}
    with np.load(path + ".npz") as z:
        for key in z.files:
            lib, name = key.split("::", 1)
            checks.setdefault(lib, {})[name] = z[key]
    return rows, checks


def main(module, argv=None):
    """Runs one case module from its command line and prints its table."""
    args = parse_args(argv, module.TITLE)
    libs = LIBS if args.lib == "both" else (args.lib,)
    libs = available(libs)
    if "nthgrad" not in libs and args.lib != "torch":
        print("nthgrad not importable: nothing to benchmark")
        return 1
    if args.json is None:
        print(f"== {module.TITLE}")
    rows, checks, tolerances = module.run(libs, scale=args.scale)
    if args.json:
        dump(args.json, rows, checks)
    else:
        print()
        print_table(rows, markdown=args.markdown)
    return 0


def repeats(n, scale):
    return max(3, int(round(n * scale)))


if __name__ == "__main__":
    print_machine_info()
