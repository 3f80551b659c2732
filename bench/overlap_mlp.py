"""Does DistributedDataParallel's overlap pay? Step time (forward + backward) of an MLP with 64 MB
of float32 parameters (4 layers 2048x2048, 4 buckets of 25 MB), batch 32 per rank, overlap on or off:

    OMP_NUM_THREADS=1 mpirun -np 2 python bench/overlap_mlp.py on      # and: off; and -np 1 for no communication

Results are in bench/RESULTS.md (issue 13)."""
import sys, time, numpy as np
import nthgrad as ng, nthgrad.nn as nn, nthgrad.distributed as dist
comm = dist.Communicator()
overlap = sys.argv[1] == "on"
net = nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(2048, 2048), nn.Tanh())])
ddp = dist.DistributedDataParallel(net, comm, bucket_cap_mb=25, overlap=overlap)
x = ng.tensor(np.random.default_rng(comm.rank).standard_normal((32, 2048)).astype(np.float32))
times = []
for i in range(12):
    comm.barrier(); t0 = time.perf_counter()
    for p in net.parameters(): p.grad = None
    (ddp(x) ** 2).mean().backward()
    times.append(time.perf_counter() - t0)
if comm.rank == 0:
    print(f"overlap={overlap}: {np.median(times[2:])*1e3:.1f} ms per step, buckets {len(ddp.buckets)}, "
          f"started during backward {ddp.buckets_started_early}")
