"""Op-level measurements behind the diagnoses in RESULTS.md (not part of
run_all.py; about 30 s).

    python bench/diagnose.py [gemm] [mlp_gemms] [elementwise] [sgd] [graph] [load]

gemm         float32 matrix products of the MLP's shapes (forward and
             backward): nthgrad (Eigen) vs torch (MKL) vs NumPy (OpenBLAS)
mlp_gemms    the 8 products of one MLP forward+backward, alone
elementwise  single ops on the sizes of the benchmarks (recording off)
sgd          the parameter update of the training step, alone
load         the MLP step while busy-loop processes take the cores (not run by default)
graph        the size of the graph of the n-th derivative of tanh: nthgrad's
             live nodes vs torch's autograd nodes, and torch's kernels
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def _row(name, fns, unit=1e6, flop=None):
    parts, times = [], {}
    for lib, fn in fns.items():
        t = common.timeit(fn, repeat=300, warmup=10, max_seconds=1.5)
        times[lib] = t
        parts.append(f"{lib} {t * unit:8.1f}")
    ratio = times["nthgrad"] / times["torch"] if "torch" in times else float("nan")
    extra = ""
    if flop:
        extra = "   GFLOP/s " + " / ".join(f"{flop / times[l] / 1e9:.0f}" for l in fns)
    print(f"{name:40s} {'  '.join(parts)}  (us)  nthgrad/torch {ratio:5.2f}{extra}", flush=True)


def gemm():
    import nthgrad as ng
    import torch
    from nthgrad import _C
    rng = np.random.default_rng(0)
    cases = [
        ("fwd 1: 128x784 @ 784x512", (128, 784), (784, 512), False, False),
        ("fwd 2: 128x512 @ 512x512", (128, 512), (512, 512), False, False),
        ("fwd 3: 128x512 @ 512x10", (128, 512), (512, 10), False, False),
        ("bwd gx1: 128x512 @ (784x512)^T", (128, 512), (784, 512), False, True),
        ("bwd gw1: (128x784)^T @ 128x512", (128, 784), (128, 512), True, False),
        ("bwd gw2: (128x512)^T @ 128x512", (128, 512), (128, 512), True, False),
        ("square: 1024x1024 @ 1024x1024", (1024, 1024), (1024, 1024), False, False),
    ]
    print("float32 GEMM: nthgrad (_C.matmul, Eigen), torch (@, MKL), numpy (@, OpenBLAS)")
    with ng.no_grad(), torch.no_grad():
        for name, sa, sb, ta, tb in cases:
            a = rng.standard_normal(sa).astype(np.float32)
            b = rng.standard_normal(sb).astype(np.float32)
            na, nb = ng.tensor(a), ng.tensor(b)
            xa, xb = torch.tensor(a), torch.tensor(b)
            xa, xb = (xa.T if ta else xa), (xb.T if tb else xb)
            pa, pb = (a.T if ta else a), (b.T if tb else b)
            flop = 2.0 * pa.shape[0] * pa.shape[1] * pb.shape[1]
            _row(name, {"nthgrad": lambda: _C.matmul(na, nb, ta, tb), "torch": lambda: xa @ xb,
                        "numpy": lambda: pa @ pb}, flop=flop)


def mlp_gemms():
    """The 8 matrix products of one MLP forward+backward, alone, in sequence."""
    import nthgrad as ng
    import torch
    import torch.nn.functional as TF
    from nthgrad import _C
    import bench_mlp as mlp
    params, x, _ = mlp.init()
    rng = np.random.default_rng(2)
    h1 = np.maximum(x @ params[0] + params[1], 0)
    h2 = np.maximum(h1 @ params[2] + params[3], 0)
    g3 = rng.standard_normal((mlp.BATCH, 10)).astype(np.float32)
    g2 = rng.standard_normal((mlp.BATCH, 512)).astype(np.float32)
    g1 = rng.standard_normal((mlp.BATCH, 512)).astype(np.float32)
    N = [ng.tensor(a) for a in (x, h1, h2, g1, g2, g3)] + [ng.tensor(p) for p in params]
    T = [torch.tensor(a) for a in (x, h1, h2, g1, g2, g3)] + mlp.torch_params(params)
    T = [t.detach() for t in T]

    def ng_run():
        nx, nh1, nh2, ng1, ng2, ng3, w1, b1, w2, b2, w3, b3 = N
        _C.affine(nx, w1, b1, 1), _C.affine(nh1, w2, b2, 1), _C.affine(nh2, w3, b3, 1)
        _C.matmul(ng3, w3, False, True), _C.matmul(nh2, ng3, True, False)
        _C.matmul(ng2, w2, False, True), _C.matmul(nh1, ng2, True, False)
        _C.matmul(nx, ng1, True, False)

    def torch_run():
        tx, th1, th2, tg1, tg2, tg3, w1, b1, w2, b2, w3, b3 = T
        TF.linear(tx, w1, b1), TF.linear(th1, w2, b2), TF.linear(th2, w3, b3)
        tg3 @ w3, tg3.T @ th2
        tg2 @ w2, tg2.T @ th1
        tg1.T @ tx

    print("the 8 GEMMs of one MLP forward+backward (3 affine/linear, 5 matmul/mm), recording off")
    with ng.no_grad(), torch.no_grad():
        _row("8 GEMMs of fwd+bwd", {"nthgrad": ng_run, "torch": torch_run})


def elementwise():
    import nthgrad as ng
    import torch
    rng = np.random.default_rng(0)
    print("elementwise ops, recording off")
    with ng.no_grad(), torch.no_grad():
        for dtype in (np.float64, np.float32):
            x = np.linspace(-3, 3, 100_000).astype(dtype)
            n, t = ng.tensor(x), torch.tensor(x)
            tag = f"1e5 {np.dtype(dtype).name}"
            _row(f"tanh {tag}", {"nthgrad": lambda: n.tanh(), "torch": lambda: t.tanh()})
            _row(f"sin {tag}", {"nthgrad": lambda: n.sin(), "torch": lambda: t.sin()})
            _row(f"exp {tag}", {"nthgrad": lambda: n.exp(), "torch": lambda: t.exp()})
            _row(f"x * x {tag}", {"nthgrad": lambda: n * n, "torch": lambda: t * t})
            _row(f"x ** 2 {tag}", {"nthgrad": lambda: n ** 2, "torch": lambda: t ** 2})
            _row(f"1 - x {tag}", {"nthgrad": lambda: 1.0 - n, "torch": lambda: 1.0 - t})
        h = rng.standard_normal((128, 512)).astype(np.float32)
        nh, th = ng.tensor(h), torch.tensor(h)
        _row("relu 128x512 f32", {"nthgrad": lambda: nh.relu(), "torch": lambda: th.relu()})
        _row("sum(axis=0) 128x512 f32", {"nthgrad": lambda: nh.sum(0), "torch": lambda: th.sum(0)})
        _row("x > 0 128x512 f32", {"nthgrad": lambda: nh > 0.0, "torch": lambda: th > 0})
        one_n, one_t = ng.tensor([0.3]), torch.tensor([0.3])
        _row("x * 1.0001, 1 element", {"nthgrad": lambda: one_n * 1.0001, "torch": lambda: one_t * 1.0001})
        _row("x.tanh(), 1 element", {"nthgrad": lambda: one_n.tanh(), "torch": lambda: one_t.tanh()})
        from nthgrad import _C
        _row("_C.tanh(x), 1 element (no Python wrapper)", {"nthgrad": lambda: _C.tanh(one_n),
                                                           "torch": lambda: one_t.tanh()})


def sgd():
    import nthgrad as ng
    import torch
    rng = np.random.default_rng(0)
    shapes = [(784, 512), (512,), (512, 512), (512,), (512, 10), (10,)]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ps = [ng.tensor(a, requires_grad=True) for a in arrays]
    gs = [ng.tensor(a) for a in arrays]
    tps = [torch.tensor(a, requires_grad=True) for a in arrays]
    tgs = [torch.tensor(a) for a in arrays]

    def ng_update():
        with ng.no_grad():
            for p, g in zip(ps, gs):
                p.sub_(g, alpha=0.0)

    def torch_update():
        with torch.no_grad():
            for p, g in zip(tps, tgs):
                p.sub_(g, alpha=0.0)

    print("SGD update of the MLP's 6 parameters (669,706 floats)")
    _row("update (both: sub_ in place)", {"nthgrad": ng_update, "torch": torch_update})


def graph():
    import nthgrad as ng
    import torch
    import bench_nth_derivative as nd
    x = np.linspace(-3, 3, 1000)

    def torch_nodes(t):
        seen, stack = set(), [t.grad_fn]
        while stack:
            f = stack.pop()
            if f is None or f in seen:
                continue
            seen.add(f)
            stack.extend(g for g, _ in f.next_functions)
        return len(seen)

    print("graph kept alive by the n-th derivative of tanh (create_graph=True)")
    for order in range(1, 7):
        y = nd.make("nthgrad", x)(order)
        n_nodes = ng.live_counts()["nodes"]
        t = nd.make("torch", x)(order)
        print(f"  order {order}: nthgrad {n_nodes:4d} live nodes, torch {torch_nodes(t):4d} autograd nodes")
        del y, t
    try:
        from torch.profiler import ProfilerActivity, profile
        f = nd.make("torch", nd.points())
        f(nd.ORDER)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            f(nd.ORDER)
        counts = {e.key: e.count for e in prof.key_averages()
                  if e.key in ("aten::mul", "aten::add", "aten::tanh_backward", "aten::sum", "aten::tanh", "aten::sub")}
        print(f"  torch's full-size kernels for order {nd.ORDER}: {counts} (total {sum(counts.values())})")
    except Exception as e:  # the profiler is a diagnostic nicety
        print(f"  torch profiler unavailable: {e}")
    print("  (nthgrad's kernels, counted at commit ab547f9 with perf uprobes on kernels::unary/binary/with_scalar/"
          "sum/broadcast_to: 410 elementwise + 6 sums + 6 broadcasts; see RESULTS.md)")


def load():
    """The MLP training step while 0, 1 or 2 busy-loop processes compete for
    the cores (each library in its own fresh process, 2 OpenMP threads and
    1), to show how each degrades when the machine is shared."""
    import subprocess
    import textwrap
    here = os.path.dirname(os.path.abspath(__file__))
    probe = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {here!r})
        import bench_mlp as B, common
        p, x, t = B.init()
        step = B.make(sys.argv[1], p, x, t)[2]
        print(common.timeit(step, repeat=300, warmup=10, max_seconds=3) * 1e3)
    """)
    print("MLP training step (ms) with busy-loop processes competing for the cores")
    print(f"{'':22s} {'nthgrad':>8s} {'torch':>8s}  ratio")
    for hogs in (0, 1, 2):
        procs = [subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 60\nwhile time.time() < end: pass"])
                 for _ in range(hogs)]
        try:
            time.sleep(0.3)
            for threads in ("2", "1"):
                env = dict(os.environ, OMP_NUM_THREADS=threads, BENCH_RETRY_BUDGET="0")
                res = {}
                for lib in ("nthgrad", "torch"):
                    out = subprocess.run([sys.executable, "-c", probe, lib], capture_output=True, text=True, env=env)
                    res[lib] = float(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else float("nan")
                print(f"{hogs} hogs, {threads} thread(s)    {res['nthgrad']:8.2f} {res['torch']:8.2f}  "
                      f"{res['nthgrad'] / res['torch']:5.2f}", flush=True)
        finally:
            for p in procs:
                p.kill()
                p.wait()


SECTIONS = {"gemm": gemm, "mlp_gemms": mlp_gemms, "elementwise": elementwise, "sgd": sgd, "graph": graph, "load": load}

if __name__ == "__main__":
    if not common.have("torch"):
        print("torch not installed: skipped")
        sys.exit(0)
    wanted = sys.argv[1:] or [s for s in SECTIONS if s != "load"]
    busy = common.wait_for_quiet(20)
    print(f"other processes use {100 * (busy or 0):.0f}% of the cores")
    for name in wanted:
        SECTIONS[name]()
        print()
