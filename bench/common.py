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
the Python garbage collector off during the timed calls, as timeit does).
Benchmarks never assert on time.
"""
import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

LIBS = ("nthgrad", "torch")


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

def timeit(fn, repeat=20, warmup=3, max_seconds=10.0, min_repeat=5):
    """Median wall time of one call of `fn`, in seconds.

    Calls fn `warmup` times untimed, then up to `repeat` timed calls; stops
    early (after at least `min_repeat`) once `max_seconds` of timed calls have
    passed."""
    for _ in range(warmup):
        fn()
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


class Row:
    """One timed case: seconds per call for each library, reported as
    seconds / `per` in `unit` (e.g. per=1000 and unit "us/op")."""

    UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}

    def __init__(self, case, unit="ms", per=1, times=None):
        self.case = case
        self.unit = unit
        self.per = per
        self.times = dict(times or {})

    def value(self, lib):
        t = self.times.get(lib)
        if t is None:
            return None
        return t / self.per * self.UNITS[self.unit.split("/")[0]]

    def to_json(self):
        return {"case": self.case, "unit": self.unit, "per": self.per, "times": self.times}

    @classmethod
    def from_json(cls, d):
        return cls(d["case"], d["unit"], d["per"], d["times"])


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
            i = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
            print("!" * 78)
            print(f"!!! MISMATCH {label}{name}: {int(bad.sum())} of {b.size} elements differ "
                  f"(rtol={rtol:g}, atol={atol:g}); worst at {i}: nthgrad {a[i]!r} vs torch {b[i]!r}")
            print("!!! the timings of this case compare different computations")
            print("!" * 78)
    if ok:
        summary = ", ".join(f"{n} {r:.1e}" for n, r in worst)
        print(f"check {label}OK: nthgrad == torch (max |diff| / max |torch|: {summary})")
    return ok


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


def git_commit():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
        return out.stdout.strip() + (" (work tree modified)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_info():
    """A dict of facts about the machine and the libraries."""
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": cpu_model(),
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
        info["nthgrad"] = f"{nthgrad.__version__} ({os.path.dirname(nthgrad.__file__)})"
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


def _ratio(rows_or_row, lib_a="nthgrad", lib_b="torch"):
    a, b = rows_or_row.times.get(lib_a), rows_or_row.times.get(lib_b)
    if a is None or b is None or b == 0:
        return None
    return a / b


def table(rows, separate=None, markdown=False):
    """The table as text: case, unit, nthgrad, torch, ratio nthgrad/torch
    (< 1: nthgrad is faster). With `separate` (rows of the same cases timed
    with each library in its own process), three more columns."""
    head = ["case", "unit", "nthgrad", "torch", "nthgrad/torch"]
    if separate is not None:
        head += ["nthgrad (own proc)", "torch (own proc)", "ratio (own procs)"]
    sep_by_case = {r.case: r for r in (separate or [])}
    body = []
    for r in rows:
        ratio = _ratio(r)
        line = [r.case, r.unit, _fmt(r.value("nthgrad")), _fmt(r.value("torch")),
                "-" if ratio is None else f"{ratio:.2f}x"]
        if separate is not None:
            s = sep_by_case.get(r.case)
            sr = _ratio(s) if s else None
            line += [_fmt(s.value("nthgrad")) if s else "-", _fmt(s.value("torch")) if s else "-",
                     "-" if sr is None else f"{sr:.2f}x"]
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
