"""Checks of nthgrad.distributed that run under mpirun (every rank runs this
file): `mpirun -np 2 python tests/python/mpi_checks.py [names...]`.
tests/python/test_distributed.py launches it with 2 and 3 ranks and reads
the "PASS <name>" lines. Each check compares against NumPy or against one
process on the concatenated global batch (every rank computes that
reference itself). A failing check prints its traceback and aborts every
rank (MPI_Abort), so a failure never leaves the others waiting.
"""
import sys
import traceback

import numpy as np
from mpi4py import MPI

import nthgrad as ng
import nthgrad.distributed as dist
import nthgrad.functional as F
import nthgrad.nn as nn
import nthgrad.optim as optim

comm = dist.Communicator()
R, RANK = comm.size, comm.rank
CHECKS = {}


def check(fn):
    CHECKS[fn.__name__] = fn
    return fn


def t(a, requires_grad=False):
    return ng.tensor(np.asarray(a), requires_grad=requires_grad)


def a(x):
    return np.asarray(x)


def rank_data(r, shape, dtype=np.float64, salt=0):
    return np.random.default_rng(1000 * salt + r).standard_normal(shape).astype(dtype)


# ---- collectives against NumPy -------------------------------------------------------------------------

@check
def collectives_match_numpy():
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        xs = [rank_data(r, (3, 4), dtype) for r in range(R)]
        x = t(xs[RANK])
        np.testing.assert_allclose(a(comm.all_reduce(x)), sum(xs), rtol=tol, atol=tol)
        np.testing.assert_allclose(a(comm.all_reduce(x, "mean")), sum(xs) / R, rtol=tol, atol=tol)
        np.testing.assert_array_equal(a(comm.all_reduce(x, "max")), np.max(xs, axis=0))
        assert comm.all_reduce(x).dtype == x.dtype
        np.testing.assert_array_equal(a(comm.broadcast(x, root=R - 1)), xs[R - 1])
        np.testing.assert_array_equal(a(comm.all_gather(x)), np.concatenate(xs))
        ys = [rank_data(r, (2 * R, 3), dtype, salt=1) for r in range(R)]
        rows = slice(2 * RANK, 2 * RANK + 2)
        np.testing.assert_allclose(a(comm.reduce_scatter(t(ys[RANK]))), sum(ys)[rows], rtol=tol, atol=tol)
        np.testing.assert_allclose(a(comm.reduce_scatter(t(ys[RANK]), "mean")), sum(ys)[rows] / R, rtol=tol, atol=tol)
        np.testing.assert_allclose(a(comm.reduce(x, root=R - 1)), sum(xs) if RANK == R - 1 else 0 * xs[0],
                                   rtol=tol, atol=tol)
        # in place, on the tensor's own memory
        z = t(xs[RANK])
        assert comm.all_reduce_(z) is z
        np.testing.assert_allclose(a(z), sum(xs), rtol=tol, atol=tol)
        comm.broadcast_(z, root=0)
        np.testing.assert_allclose(a(z), sum(xs), rtol=tol, atol=tol)
        # memory that NumPy sees (a live view, or an array shared by from_numpy) is not written: on every rank
        view = np.asarray(z)
        expect_error_everywhere(lambda: comm.all_reduce_(z), RuntimeError, "NumPy view")
        del view
        expect_error_everywhere(lambda: comm.broadcast_(ng.from_numpy(np.frombuffer(b"\0" * 16))), RuntimeError,
                                "belongs to NumPy")
    counts = t(np.array([RANK, 1], dtype=np.int64))
    comm.all_reduce_(counts)
    np.testing.assert_array_equal(a(counts), [R * (R - 1) // 2, R])
    # large enough for several pieces of the MPI implementation's pipeline
    big = t(np.full(3_000_001, RANK + 1.0, dtype=np.float32))
    assert np.all(a(comm.all_reduce(big)) == R * (R + 1) / 2)


@check
def collectives_are_differentiable_to_second_order():
    xs = [rank_data(r, (2, 3)) for r in range(R)]
    ws = [rank_data(r, (2, 3), salt=2) for r in range(R)]
    vs = [rank_data(r, (2, 3), salt=3) for r in range(R)]
    x = t(xs[RANK], requires_grad=True)
    w, v = t(ws[RANK]), t(vs[RANK])
    # all_reduce: L = sum_r <w_r, y^3>, y = sum_s x_s: dL/dx = 3 y^2 sum_r w_r; the next order 6 y (sum w)(sum v)
    y = sum(xs)
    (g,) = ng.grad((w * comm.all_reduce(x) ** 3).sum(), [x], create_graph=True)
    np.testing.assert_allclose(a(g), 3 * y ** 2 * sum(ws), rtol=1e-12)
    (h,) = ng.grad((g * v).sum(), [x])
    np.testing.assert_allclose(a(h), 6 * y * sum(ws) * sum(vs), rtol=1e-12)
    # mean
    (g,) = ng.grad((w * comm.all_reduce(x, "mean")).sum(), [x])
    np.testing.assert_allclose(a(g), sum(ws) / R, rtol=1e-12)
    # all_gather: rank r's rows of every rank's weight
    wg = t(rank_data(RANK, (2 * R, 3), salt=4))
    (g,) = ng.grad((wg * comm.all_gather(x)).sum(), [x])
    expected = sum(rank_data(r, (2 * R, 3), salt=4) for r in range(R))[2 * RANK:2 * RANK + 2]
    np.testing.assert_allclose(a(g), expected, rtol=1e-12)
    # reduce_scatter of an all_gather is R * x: second order through both
    (g,) = ng.grad((comm.reduce_scatter(comm.all_gather(x)) ** 2).sum(), [x], create_graph=True)
    # L = sum_r |R x_r|^2 ... each rank's loss involves only its own block: g = 2 R^2 x
    np.testing.assert_allclose(a(g), 2 * R * R * xs[RANK], rtol=1e-12)
    (h,) = ng.grad(g.sum(), [x])
    np.testing.assert_allclose(a(h), np.full((2, 3), 2.0 * R * R), rtol=1e-12)
    # broadcast: only root's x matters, and it receives every rank's gradient
    (g,) = ng.grad((w * comm.broadcast(x, root=0)).sum(), [x])
    np.testing.assert_allclose(a(g), sum(ws) if RANK == 0 else np.zeros((2, 3)), rtol=1e-12)
    # max: the summed gradient goes to the rank holding each maximum
    (g,) = ng.grad((w * comm.all_reduce(x, "max")).sum(), [x])
    winner = np.argmax(xs, axis=0)
    np.testing.assert_allclose(a(g), np.where(winner == RANK, sum(ws), 0.0), rtol=1e-12)


@check
def mixed_collectives_match_one_process_to_second_order():
    # the ranks' losses summed, emulated on one process with the ranks' tensors stacked: each rank's
    # gradient and Hessian-vector product is that of the sum with respect to its own row
    xs = np.stack([rank_data(r, (3,), salt=8) for r in range(R)])
    v = rank_data(0, (3,), salt=9)
    programs = {
        "broadcast and all_reduce": (lambda c, x: (c.broadcast(x, 0) ** 2 * c.all_reduce(x) ** 2).sum(),
                                     lambda X: R * (X[0] ** 2 * X.sum(axis=0) ** 2).sum()),
        "reduce then broadcast": (lambda c, x: (c.broadcast(c.reduce(x * x, R - 1), R - 1) * x).sum(),
                                  lambda X: ((X * X).sum(axis=0)[None, :] * X).sum()),
        "max and mean": (lambda c, x: (c.all_reduce(x.tanh(), "max") * c.all_reduce(x, "mean") ** 3).sum(),
                         lambda X: R * (X.tanh().max(axis=0) * X.mean(axis=0) ** 3).sum()),
    }
    for name, (local_loss, global_loss) in programs.items():
        x = t(xs[RANK], requires_grad=True)
        (g,) = ng.grad(local_loss(comm, x), [x], create_graph=True)
        (h,) = ng.grad((g * t(v)).sum(), [x])
        X = t(xs, requires_grad=True)
        (G,) = ng.grad(global_loss(X), [X], create_graph=True)
        (H,) = ng.grad((G * t(v)).sum(), [X])
        np.testing.assert_allclose(a(g), a(G)[RANK], rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(a(h), a(H)[RANK], rtol=1e-10, atol=1e-12, err_msg=name)


# ---- wrong shapes: a clear error on every rank, not a hang -------------------------------------------

def expect_error_everywhere(call, error=ValueError, text=""):  # error: a type or a tuple of types
    """call() must raise on every rank (the rank at fault its own error, the others a ValueError naming it)."""
    errors = error if isinstance(error, tuple) else (error,)
    try:
        call()
    except errors + (ValueError,) as e:
        assert text in str(e) or "call was invalid" in str(e), e
    else:
        raise AssertionError("no error")


@check
def a_bad_argument_on_one_rank_raises_on_every_rank():
    last = RANK == R - 1
    cases = [
        (lambda: comm.all_reduce(t(np.ones(3, dtype=np.int64 if last else np.float64))), TypeError, "float32 or"),
        (lambda: comm.reduce_scatter(t(np.ones((R + (1 if last else 0), 2)))), ValueError, "multiple"),
        (lambda: comm.all_gather(t(np.float64(1.0) if last else np.ones(1))), ValueError, "at least one axis"),
        (lambda: comm.broadcast(t(np.ones(2)), root=R + 3 if last else 0), ValueError, "is not a rank"),
        (lambda: comm.all_reduce_(t(np.ones(2, dtype=np.int64)), "mean" if last else "sum"), TypeError, "integer"),
        (lambda: F.sync_batch_normalization(t(np.ones((2, 3))), None, None, t(np.zeros((1, 4 if last else 3))), None,
                                            comm), ValueError, "mean is float64 of shape"),
    ]
    if R == 1:
        return
    for call, error, text in cases:
        try:
            call()
        except error if last else ValueError as e:
            if last:
                assert text in str(e), e
            else:
                assert f"rank {R - 1}'s call was invalid, so no rank communicated: " in str(e) and text in str(e), e
        else:
            raise AssertionError(f"no error on rank {RANK}")
    # checks made in Python before the collective: the others are told too
    bn = nn.SyncBatchNorm(3, dtype=ng.float64, comm=comm)
    python_cases = [
        lambda: comm.all_reduce(t(np.ones(2)), "avg" if last else "sum"),
        lambda: comm.all_reduce_(t(np.ones(2)), "prod" if last else "sum"),
        lambda: comm.all_gather(np.ones(2) if last else t(np.ones(2))),
        lambda: comm.broadcast(t(np.ones(2)), root="0" if last else 0),
        lambda: F.sync_batch_normalization(t(np.ones((2, 3))), None, None, None, None, comm,
                                           group="all" if last else "world"),
        lambda: F.sync_batch_normalization(t(np.ones((2, 3))), None, None, t(np.zeros((1, 3))), t(np.ones((1, 3))),
                                           comm, batch_stat=not last),
        lambda: bn(t(np.ones((2, 4 if last else 3)))),
        lambda: dist.DistributedDataParallel(nn.Linear(2, 2, dtype=ng.float64), comm, bucket_cap_mb=0 if last else 1),
    ]
    for call in python_cases:
        expect_error_everywhere(call, (TypeError, ValueError))
    np.testing.assert_array_equal(a(comm.all_reduce(t(np.ones(2)))), [R, R])
    # a mismatch in the middle of the parameters: no rank has replaced any of them
    params = [t(np.full(2, RANK + 1.0)), t(np.full(3 if last else 2, RANK + 1.0)), t(np.full(2, RANK + 1.0))]
    from nthgrad import _distributed
    expect_error_everywhere(lambda: _distributed.broadcast_parameters(params, comm._c, 0))
    assert all(a(p)[0] == RANK + 1.0 for p in params)
    # DDP over models with different parameters
    if R > 1:
        net = nn.Linear(2, 2, bias=RANK != 0, dtype=ng.float64)
        expect_error_everywhere(lambda: dist.DistributedDataParallel(net, comm), ValueError, "different")

@check
def mismatched_tensors_raise_on_every_rank():
    cases = [
        ("all_reduce", lambda: comm.all_reduce(t(np.ones(2 + RANK)))),
        ("all_reduce", lambda: comm.all_reduce(t(np.ones(3, dtype=np.float32 if RANK else np.float64)))),
        ("all_gather", lambda: comm.all_gather(t(np.ones((1 + RANK % 2, 2))))),
        ("broadcast", lambda: comm.broadcast(t(np.ones(3)), root=RANK % 2)),
        ("reduce", lambda: comm.reduce(t(np.ones(3 + RANK)))),
        ("all_reduce", lambda: comm.all_reduce(t(np.ones(3)), "max" if RANK else "sum")),
    ]
    for op, call in cases:
        if R == 1:
            call()
            continue
        try:
            call()
        except ValueError as e:
            assert str(e).startswith(f"{op}: the ranks passed different tensors"), e
            assert "rank 0:" in str(e) and f"rank {R - 1}:" in str(e), e
        else:
            raise AssertionError(f"{op}: no error for mismatched tensors")
    # a different collective on each rank
    if R > 1:
        try:
            comm.all_reduce(t(np.ones(3))) if RANK == 0 else comm.all_gather(t(np.ones(3)))
        except ValueError as e:
            assert "a different collective" in str(e), e
        else:
            raise AssertionError("no error for different collectives")
    # the communicator still works afterwards
    np.testing.assert_array_equal(a(comm.all_reduce(t(np.ones(2)))), [R, R])


# ---- DistributedDataParallel against one process on the global batch ---------------------------------

def make_mlp(seed):
    net = nn.Sequential(nn.Linear(3, 8, dtype=ng.float64), nn.Tanh(), nn.Linear(8, 8, dtype=ng.float64), nn.Tanh(),
                        nn.Linear(8, 1, dtype=ng.float64))
    rng = np.random.default_rng(seed)
    with ng.no_grad():
        for p in net.parameters():
            p.copy_(t(rng.standard_normal(p.shape) * 0.5))
    return net


def global_batch(step, per_rank=4):
    rng = np.random.default_rng(50 + step)
    x = rng.standard_normal((per_rank * R, 3))
    y = np.sin(x.sum(axis=1, keepdims=True))
    return x, y


def local(arr, per_rank=4):
    return arr[RANK * per_rank:(RANK + 1) * per_rank]


def mse(net, x, y):
    return ((net(t(x)) - t(y)) ** 2).mean()


def assert_same_parameters(net_a, net_b, tol=1e-12):
    for (name, pa), pb in zip(net_a.named_parameters(), net_b.parameters()):
        np.testing.assert_allclose(a(pa), a(pb), rtol=0, atol=tol, err_msg=name)


def train_both(loss_fn, steps=3, bucket_cap_mb=0.0005, overlap=True, lr=0.1):
    """DDP (rank-dependent initial weights, replaced by rank 0's) against one process on the global batch."""
    model = make_mlp(seed=RANK)  # every rank differs until DDP broadcasts rank 0's
    ddp = dist.DistributedDataParallel(model, comm, bucket_cap_mb=bucket_cap_mb, overlap=overlap)
    reference = make_mlp(seed=0)
    assert_same_parameters(model, reference, tol=0)
    assert len(ddp.buckets) > 1 if bucket_cap_mb < 0.001 else len(ddp.buckets) == 1
    opt, ref_opt = optim.SGD(ddp.parameters(), lr=lr), optim.SGD(reference.parameters(), lr=lr)
    for step in range(steps):
        x, y = global_batch(step)
        opt.zero_grad()
        loss_fn(ddp, local(x), local(y)).backward()
        opt.step()
        ref_opt.zero_grad()
        loss_fn(reference, x, y).backward()
        ref_opt.step()
    assert_same_parameters(model, reference)
    return ddp


@check
def ddp_matches_one_process_on_the_global_batch():
    ddp = train_both(mse)
    assert ddp._reducer.passes == 3
    # every bucket was handed to the communication thread while backward() still ran (the last one by
    # the first layer's hook), none was left for the end of the pass
    assert ddp.buckets_started_early == len(ddp.buckets) > 1
    train_both(mse, overlap=False)
    train_both(mse, bucket_cap_mb=25)  # one bucket


@check
def ddp_unused_frozen_and_collectives_in_the_graph():
    # a frozen parameter is broadcast too; a parameter no rank uses keeps .grad None; one used on rank 0
    # only gets rank 0's gradient / R; with overlap off, a collective in the graph (sync BN) does not
    # deadlock against a bucket waiting for a parameter unused on some rank
    for overlap in (True, False):
        net = nn.Sequential(nn.Linear(3, 4, dtype=ng.float64), nn.SyncBatchNorm(4, dtype=ng.float64, comm=comm),
                            nn.Linear(4, 1, dtype=ng.float64))
        extra = nn.Linear(3, 1, dtype=ng.float64)
        unused = nn.Linear(3, 1, dtype=ng.float64)
        holder = nn.ModuleList([net, extra, unused])
        with ng.no_grad():
            for p in holder.parameters():
                p.copy_(t(np.full(p.shape, 0.1 * (RANK + 1))))
        extra.bias.requires_grad = False
        ddp = dist.DistributedDataParallel(holder, comm, bucket_cap_mb=0.0001, overlap=overlap)
        assert a(extra.bias)[0] == 0.1  # rank 0's
        x = t(rank_data(RANK, (5, 3), salt=10))
        loss = net(x).sum() + (extra(x).sum() if RANK == 0 else 0.0)
        loss.backward()
        assert unused.weight.grad is None and unused.bias.grad is None
        assert extra.weight.grad is not None
        for p in net.parameters():
            assert p.grad is not None
        np.testing.assert_allclose(a(comm.all_reduce(extra.weight.grad, "max")), a(extra.weight.grad), rtol=0)


def gradient_penalty_loss(net, x, y):
    # WGAN-GP's penalty: the gradient with respect to the input, inside the loss (per sample: local to each rank)
    xin = t(x, requires_grad=True)
    out = net(xin)
    (gx,) = ng.grad(out.sum(), [xin], create_graph=True)
    penalty = ((((gx ** 2).sum(axis=1) + 1e-12) ** 0.5 - 1.0) ** 2).mean()
    return ((out - t(y)) ** 2).mean() + 0.5 * penalty


@check
def ddp_trains_with_a_gradient_penalty():
    train_both(gradient_penalty_loss)


@check
def ddp_no_sync_accumulates_then_averages():
    model = make_mlp(seed=RANK)
    ddp = dist.DistributedDataParallel(model, comm, bucket_cap_mb=0.0005)
    reference = make_mlp(seed=0)
    opt, ref_opt = optim.SGD(ddp.parameters(), lr=0.1), optim.SGD(reference.parameters(), lr=0.1)
    for step in range(2):
        micro = [global_batch(10 * step + k) for k in range(3)]
        opt.zero_grad()
        with ddp.no_sync():
            for x, y in micro[:-1]:
                mse(ddp, local(x), local(y)).backward()
        # local sums only so far: they differ between ranks
        x, y = micro[-1]
        mse(ddp, local(x), local(y)).backward()
        opt.step()
        ref_opt.zero_grad()
        for x, y in micro:
            mse(reference, x, y).backward()
        ref_opt.step()
    assert_same_parameters(model, reference)


@check
def ddp_hessian_vector_products():
    # (g . v).backward() with g = grad(loss, params, create_graph=True): .grad is the averaged HVP
    model = make_mlp(seed=RANK)
    ddp = dist.DistributedDataParallel(model, comm, bucket_cap_mb=0.0005)
    reference = make_mlp(seed=0)
    vs = [t(np.random.default_rng(7 + i).standard_normal(p.shape)) for i, p in enumerate(model.parameters())]

    def hvp_into_grad(net, x, y):
        params = list(net.parameters())
        grads = ng.grad(mse(net, x, y), params, create_graph=True)
        sum((g * v).sum() for g, v in zip(grads, vs)).backward()

    opts = [optim.SGD(ddp.parameters(), lr=0.05), optim.SGD(reference.parameters(), lr=0.05)]
    for step in range(2):  # a step along the HVP, twice
        x, y = global_batch(step)
        for net, xb, yb in ((ddp, local(x), local(y)), (reference, x, y)):
            for p in net.parameters():
                p.grad = None
            hvp_into_grad(net, xb, yb)
        for pm, pr in zip(model.parameters(), reference.parameters()):
            np.testing.assert_allclose(a(pm.grad), a(pr.grad), rtol=0, atol=1e-12)
        for opt in opts:
            opt.step()
    assert_same_parameters(model, reference)
    # ng.grad results (not .grad) are averaged explicitly, differentiably
    x, y = global_batch(9)
    params = list(model.parameters())
    averaged = ddp.average_gradients(ng.grad(mse(ddp, local(x), local(y)), params))
    expected = ng.grad(mse(reference, x, y), list(reference.parameters()))
    for g, e in zip(averaged, expected):
        np.testing.assert_allclose(a(g), a(e), rtol=0, atol=1e-12)


@check
def ddp_backward_with_create_graph_keeps_grad_in_the_graph():
    model = make_mlp(seed=RANK)
    unused = nn.Linear(2, 2, dtype=ng.float64)  # wrapped too, used by no rank: its .grad stays None
    ddp = dist.DistributedDataParallel(nn.ModuleList([model, unused]), comm, bucket_cap_mb=0.0005)
    reference = make_mlp(seed=0)
    x, y = global_batch(3)
    mse(model, local(x), local(y)).backward(create_graph=True)
    mse(reference, x, y).backward(create_graph=True)
    assert unused.weight.grad is None and ddp._reducer.passes == 1
    pm, pr = list(model.parameters()), list(reference.parameters())
    for a_, b_ in zip(pm, pr):
        np.testing.assert_allclose(a(a_.grad), a(b_.grad), rtol=0, atol=1e-12)
    # differentiate the averaged gradient's norm again: the global batch's second derivative
    first_m = sum((p.grad ** 2).sum() for p in pm)
    first_r = sum((p.grad ** 2).sum() for p in pr)
    hm = ng.grad(first_m, pm)
    hr = ng.grad(first_r, pr)
    for g, e in zip(hm, hr):
        # each rank's result is 2 gbar H_r (its own samples' Hessian): their mean is the global 2 gbar H,
        # which is what DDP makes of it when it reaches .grad through backward()
        np.testing.assert_allclose(a(comm.all_reduce(g, "mean")), a(e), rtol=0, atol=1e-11)


# ---- sync batch normalization against batch_normalization over the global batch ----------------------

def bn_batches(C=3, dtype=np.float64):
    # ranks hold batches of different sizes
    sizes = [2 + r % 3 for r in range(R)]
    xs = [rank_data(r, (sizes[r], C, 2), dtype, salt=5) * 2 + 1 for r in range(R)]
    ws = [rank_data(r, (sizes[r], C, 2), dtype, salt=6) for r in range(R)]
    vs = [rank_data(r, (sizes[r], C, 2), dtype, salt=7) for r in range(R)]
    start = sum(sizes[:RANK])
    return xs, ws, vs, slice(start, start + sizes[RANK])


@check
def sync_batch_normalization_is_batch_normalization_of_the_global_batch():
    C = 3
    xs, ws, vs, mine = bn_batches(C)
    rng = np.random.default_rng(3)
    gamma0, beta0 = rng.uniform(0.5, 1.5, (1, C, 1)), rng.standard_normal((1, C, 1))
    # this rank's share
    x = t(xs[RANK], requires_grad=True)
    gamma, beta = t(gamma0, requires_grad=True), t(beta0, requires_grad=True)
    mean, var = t(np.zeros((1, C, 1))), t(np.ones((1, C, 1)))
    y, mu, sigma2 = F.sync_batch_normalization(x, beta, gamma, mean, var, comm, decay_rate=0.9, output_stat=True)
    # the global batch, on one process
    X = t(np.concatenate(xs), requires_grad=True)
    G, B = t(gamma0, requires_grad=True), t(beta0, requires_grad=True)
    gm, gv = t(np.zeros((1, C, 1))), t(np.ones((1, C, 1)))
    Y, MU, SIGMA2 = F.batch_normalization(X, B, G, gm, gv, decay_rate=0.9, output_stat=True)
    np.testing.assert_allclose(a(y), a(Y)[mine], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a(mu), a(MU), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a(sigma2), a(SIGMA2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a(mean), a(gm), rtol=1e-12, atol=1e-12)  # running statistics, unbiased over N
    np.testing.assert_allclose(a(var), a(gv), rtol=1e-12, atol=1e-12)
    # first order: L = sum_r <w_r, y_r>
    w, W = t(ws[RANK]), t(np.concatenate(ws))
    gx, gg, gb = ng.grad((w * y).sum(), [x, gamma, beta], create_graph=True)
    GX, GG, GB = ng.grad((W * Y).sum(), [X, G, B], create_graph=True)
    np.testing.assert_allclose(a(gx), a(GX)[mine], rtol=1e-10, atol=1e-12)
    # the parameters are shared: their gradient is the sum of the ranks'
    np.testing.assert_allclose(a(comm.all_reduce(gg)), a(GG), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a(comm.all_reduce(gb)), a(GB), rtol=1e-10, atol=1e-12)
    # second order: d/d(x, gamma) of sum_r <v_r, gx_r>
    v, V = t(vs[RANK]), t(np.concatenate(vs))
    hx, hg = ng.grad((v * gx).sum(), [x, gamma])
    HX, HG = ng.grad((V * GX).sum(), [X, G])
    np.testing.assert_allclose(a(hx), a(HX)[mine], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(a(comm.all_reduce(hg)), a(HG), rtol=1e-9, atol=1e-11)


@check
def sync_batch_norm_module_and_errors():
    C = 3
    xs, ws, _, mine = bn_batches(C)
    bn = nn.SyncBatchNorm(C, dtype=ng.float64, comm=comm)
    ref = nn.BatchNorm1d(C, dtype=ng.float64)
    for _ in range(2):
        y = bn(t(xs[RANK]))
        Y = ref(t(np.concatenate(xs)))
        np.testing.assert_allclose(a(y), a(Y)[mine], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a(bn.running_mean), a(ref.running_mean), rtol=1e-12)
    np.testing.assert_allclose(a(bn.running_var), a(ref.running_var), rtol=1e-12)
    bn.eval()
    ref.eval()
    np.testing.assert_allclose(a(bn(t(xs[RANK]))), a(ref(t(np.concatenate(xs))))[mine], rtol=1e-12)
    # convert_sync_batchnorm keeps the parameters and the layers' order
    net = nn.Sequential(nn.Linear(2, 3, dtype=ng.float64), nn.BatchNorm1d(3, dtype=ng.float64), nn.Tanh())
    weight = net[1].weight
    net = nn.SyncBatchNorm.convert_sync_batchnorm(net, comm)
    assert [type(m).__name__ for m in net] == ["Linear", "SyncBatchNorm", "Tanh"] and net[1].weight is weight
    # one sample on this rank is fine when the global batch has more
    bn = nn.SyncBatchNorm(2, dtype=ng.float64, comm=comm)
    if R > 1:
        one = t(rank_data(RANK, (1, 2), salt=11))
        all_rows = np.concatenate([rank_data(r, (1, 2), salt=11) for r in range(R)])
        ref = nn.BatchNorm1d(2, dtype=ng.float64)
        np.testing.assert_allclose(a(bn(one)), a(ref(t(all_rows)))[RANK:RANK + 1], rtol=1e-12, atol=1e-12)
    # a rank with another channel count: an error on every rank, no hang
    if R > 1:
        try:
            F.sync_batch_normalization(t(np.ones((2, 3 + RANK % 2))), None, None, None, None, comm)
        except ValueError as e:
            assert "the ranks passed different tensors" in str(e), e
        else:
            raise AssertionError("no error for different channel counts")
    try:
        F.sync_batch_normalization(t(np.ones((2, 3))), None, None, None, None, comm, group="pairs")
    except ValueError as e:
        assert str(e).startswith("sync_batch_normalization: group 'pairs'"), e
    else:
        raise AssertionError("no error for an unknown group")


@check
def sub_communicators_and_the_sampler():
    for bad in ([R], [], [0, 0], [-1]):
        expect_error_everywhere(lambda: comm.group(bad), ValueError, "ranks must be distinct")
    # a group of the even ranks
    evens = list(range(0, R, 2))
    sub = comm.group(evens)
    if RANK % 2:
        assert sub is None
    else:
        assert sub.size == len(evens) and sub.rank == RANK // 2
        np.testing.assert_array_equal(a(sub.all_reduce(t(np.ones(2)))), [len(evens)] * 2)
    # an mpi4py sub-communicator
    split = dist.Communicator(MPI.COMM_WORLD.Split(RANK % 2, RANK))
    np.testing.assert_array_equal(a(split.all_reduce(t(np.array([1.0])))), [len(range(RANK % 2, R, 2))])
    # the sampler's shards are disjoint and cover the epoch, the same for every rank count
    for n, drop_last in ((10, False), (10, True), (3, False)):
        sampler = ng.data.DistributedSampler(n, comm=comm, shuffle=True, seed=3, drop_last=drop_last)
        shards = MPI.COMM_WORLD.allgather(list(sampler))
        if drop_last:
            flat = sum(shards, [])
            assert len(flat) == len(set(flat)) == (n // R) * R
        else:
            assert set(sum(shards, [])) == set(range(n))
            assert all(len(s) == -(-n // R) for s in shards)


def main(names):
    names = names or list(CHECKS)
    for name in names:
        try:
            CHECKS[name]()
        except BaseException:
            sys.stdout.write(f"FAIL {name} on rank {RANK}\n{traceback.format_exc()}")
            sys.stdout.flush()
            MPI.COMM_WORLD.Abort(1)
        comm.barrier()
        print(f"PASS {name} rank {RANK}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
