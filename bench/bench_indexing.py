"""Sort, gather_nd and scatter_nd on 10^6 float32 elements, forward and
backward (issue 7):

    sort:       y = sum(w * sort(x))                       x: 10^6 values
    gather_nd:  y = sum(w * data[i0, i1])                   data (1000, 1000), 10^6 index pairs (repeats)
    scatter_nd: y = sum(w * scatter_nd(v, perm, (10^6,)))   perm: a permutation
    pipeline:   the three chained: scatter_nd(gather_nd(sort(x) as (1000, 1000), idx), perm)

nthgrad with F.sort / F.gather_nd / F.scatter_nd; torch with torch.sort,
advanced indexing data[i0, i1] (backward: an accumulating index_put) and
torch.zeros(n).index_put((perm,), v). Values and gradients are checked
against each other. Each row is forward + backward (ng.grad /
torch.autograd.grad) from scratch.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TITLE = "sort, gather_nd, scatter_nd on 10^6 float32 elements: forward + backward"
N = 1_000_000
SIDE = 1000
# The gradients must agree closely; the y are float32 sums of 10^6 terms,
# which torch accumulates in float32 (error ~1e-2) and nthgrad in double.
TOLERANCES = {name: (1e-5, 1e-5) for name in ("sort dx", "gather ddata", "scatter dv", "pipeline dx")}
TOLERANCES.update({name: (1e-4, 0.1) for name in ("sort y", "gather y", "scatter y", "pipeline y")})


def inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal(N).astype(np.float32),
        "w": rng.uniform(0.5, 1.5, N).astype(np.float32),
        "data": rng.standard_normal((SIDE, SIDE)).astype(np.float32),
        "idx": rng.integers(0, SIDE, (2, N)).astype(np.int64),
        "perm": rng.permutation(N).astype(np.int64),
    }


def make(lib, d):
    if lib == "nthgrad":
        import nthgrad as ng
        import nthgrad.functional as F
        x = ng.tensor(d["x"], requires_grad=True)
        data = ng.tensor(d["data"], requires_grad=True)
        v = ng.tensor(d["x"], requires_grad=True)
        w = ng.tensor(d["w"])
        idx = ng.tensor(d["idx"])
        perm = ng.tensor(d["perm"].reshape(1, N))
        grad = ng.grad
        sort = F.sort
        gather = lambda a: F.gather_nd(a, idx)  # noqa: E731
        scatter = lambda a: F.scatter_nd(a, perm, shape=(N,))  # noqa: E731
        square = lambda a: F.reshape(a, (SIDE, SIDE))  # noqa: E731
    else:
        import torch
        x = torch.tensor(d["x"], requires_grad=True)
        data = torch.tensor(d["data"], requires_grad=True)
        v = torch.tensor(d["x"], requires_grad=True)
        w = torch.tensor(d["w"])
        idx = torch.tensor(d["idx"])
        perm = torch.tensor(d["perm"])
        grad = torch.autograd.grad
        sort = lambda a: torch.sort(a, stable=True)[0]  # noqa: E731
        gather = lambda a: a[idx[0], idx[1]]  # noqa: E731
        scatter = lambda a: torch.zeros(N).index_put((perm,), a)  # noqa: E731
        square = lambda a: a.reshape(SIDE, SIDE)  # noqa: E731

    def case(forward, wrt):
        def run():
            y = forward()
            return y, grad(y, [wrt])[0]
        return run

    fns = {
        "sort": case(lambda: (sort(x) * w).sum(), x),
        "gather": case(lambda: (gather(data) * w).sum(), data),
        "scatter": case(lambda: (scatter(v) * w).sum(), v),
        "pipeline": case(lambda: (scatter(gather(square(sort(x)))) * w).sum(), x),
    }

    def check():
        out = {}
        for name, (yname, gname) in (("sort", ("sort y", "sort dx")), ("gather", ("gather y", "gather ddata")),
                                     ("scatter", ("scatter y", "scatter dv")),
                                     ("pipeline", ("pipeline y", "pipeline dx"))):
            y, g = fns[name]()
            out[yname], out[gname] = common.to_numpy(y), common.to_numpy(g)
        return out

    return fns, check


def run(libs, scale=1.0):
    d = inputs()
    made = {lib: make(lib, d) for lib in libs}
    checks = {lib: made[lib][1]() for lib in libs}
    common.compare(checks, TOLERANCES, "indexing: ")
    names = [("sort", "sort 1e6 f32: fwd + grad"), ("gather", "gather_nd 1e6 of (1000,1000) f32: fwd + grad"),
             ("scatter", "scatter_nd 1e6 (permutation) f32: fwd + grad"),
             ("pipeline", "sort + gather_nd + scatter_nd 1e6 f32: fwd + grad")]
    rows = [common.Row(label, "ms") for _, label in names]
    fns = {lib: [made[lib][0][key] for key, _ in names] for lib in libs}
    common.measure_rows(rows, fns, libs, repeat=common.repeats(15, scale), warmup=2)
    return rows, checks, TOLERANCES


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
