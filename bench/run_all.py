"""Runs every benchmark and prints one table of medians and ratios.

    python bench/run_all.py [--scale S] [--markdown] [--no-separate] [--only NAME ...]

Two measurements of each case:
  1. both libraries in this one process, one after the other, on the same
     data (the numbers are checked against each other before timing);
  2. each library in its own fresh process (`bench_<case>.py --lib LIB`),
     so that neither one's threads, allocator state or OpenMP runtime can
     affect the other; the check arrays of the two processes are compared too.
Ratios are nthgrad / torch: below 1, nthgrad is faster (or, in the MB rows
of bench_memory, uses less memory; that case measures each library in a
fresh process of its own in both blocks).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = (
    "bench_per_op", "bench_mlp", "bench_hvp", "bench_nth_derivative", "bench_tanh_sigmoid", "bench_memory",
    "bench_indexing", "bench_linalg_hvp",
    # issue 8
    "bench_gemm",
    "bench_loss",
    "bench_pooling",
    "bench_conv",
    "bench_normalization",
    "bench_lstm",
    # issue 9
    "bench_train",
    # issue 10
    "bench_snn",
    # issue 11
    "bench_dab",
    # issue 12
    "bench_func",
    # issue 13 (launches mpirun itself: its workers run under MPI, the rows are parsed from their output)
    "bench_distributed",
)


def run_in_process(names, libs, scale):
    rows = []
    for name in names:
        module = __import__(name)
        print(f"\n== {module.TITLE}")
        r, _, _ = module.run(libs, scale=scale)  # run() checks nthgrad against torch before timing
        rows += r
    return rows


def run_separately(names, libs, scale, retry_budget=8.0):
    rows, all_ok = [], True
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            module = __import__(name)
            merged, checks = None, {}
            for lib in libs:
                path = os.path.join(tmp, f"{name}.{lib}.json")
                cmd = [sys.executable, os.path.join(HERE, f"{name}.py"), "--lib", lib, "--scale", str(scale),
                       "--json", path]
                env = dict(os.environ, BENCH_RETRY_BUDGET=str(retry_budget))
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if proc.returncode != 0 or not os.path.exists(path):
                    print(f"!!! {name} --lib {lib} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
                    all_ok = False
                    continue
                r, c = common.load(path)
                checks.update(c)
                if merged is None:
                    merged = r
                else:
                    for m, o in zip(merged, r):
                        m.times.update(o.times)
            all_ok = common.compare(checks, module.TOLERANCES, f"{name} (own processes): ") and all_ok
            rows += merged or []
    return rows, all_ok


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0, help="multiply the number of repeats")
    p.add_argument("--markdown", action="store_true", help="print the final table as Markdown")
    p.add_argument("--no-separate", action="store_true", help="skip the runs in separate processes")
    p.add_argument("--only", nargs="+", choices=CASES, help="run only these cases")
    p.add_argument("--wait-quiet", type=float, default=30.0, metavar="SECONDS",
                   help="first wait up to this long for other processes to leave the CPU idle (default 30)")
    args = p.parse_args(argv)

    start = time.perf_counter()
    info = common.machine_info()
    common.print_machine_info(info)
    busy = common.wait_for_quiet(args.wait_quiet) if args.wait_quiet > 0 else common.others_busy(1.0)
    if busy is not None and busy > common.NOISY:
        print(f"WARNING: other processes use {100 * busy:.0f}% of the {info['cores']} cores: the timings will be "
              f"noisy (each measurement is retried a few times; see the others' CPU column)")
    libs = common.available(common.LIBS)
    if "nthgrad" not in libs:
        print("nthgrad not importable: nothing to benchmark")
        return 1
    names = args.only or CASES

    rows = run_in_process(names, libs, args.scale)
    separate, ok = None, True
    if not args.no_separate:
        print("\n== the same cases, each library in its own process")
        separate, ok = run_separately(names, libs, args.scale)

    print(f"\n== results (median times, and peak memory in MB rows; ratio = nthgrad / torch, "
          f"< 1 means nthgrad is faster or uses less memory)")
    print(f"date {info['date']}, commit {info['commit']}, load average at start {info['load average']}, "
          f"at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}; total {time.perf_counter() - start:.0f} s")
    print()
    common.print_table(rows, separate, markdown=args.markdown)
    if not ok or common.FAILURES:
        print("\n!!! some checks FAILED: " + ", ".join(common.FAILURES) + " (see the MISMATCH lines above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
