// nthgrad::distributed from C++, run under mpirun by ctest (cpp.distributed,
// 2 ranks): collectives and their derivatives, the gradient reducer against
// one process on the global batch, sync_batch_normalization, and the error
// for mismatched shapes. Every rank runs every test (as MPI requires).
#include <nthgrad/distributed.h>
#include <nthgrad/nthgrad.h>

#include <vector>

#include "check.h"

using namespace nthgrad;
using namespace nthgrad::distributed;

static const Communicator& comm() {
  static Communicator c = Communicator::world();
  return c;
}

static Variable values(std::vector<double> v, Shape shape, bool requires_grad = false) {
  return Variable(Tensor::from_data(v.data(), shape, DType::Float64), requires_grad);
}

TEST(all_reduce_and_its_derivatives) {
  const int r = comm().rank(), n = comm().size();
  Variable x = values({1.0 + r, 2.0 * r}, {2}, true);
  Variable y = comm().all_reduce(x);  // sum over ranks of (1 + r, 2r)
  double s0 = 0, s1 = 0;
  for (int k = 0; k < n; ++k) s0 += 1.0 + k, s1 += 2.0 * k;
  CHECK_NEAR(y.value().at(0), s0, 1e-12);
  CHECK_NEAR(y.value().at(1), s1, 1e-12);
  // every rank's loss sum(y^2): d/dx = n * 2y, and d/dx of sum(that) = 2 n^2
  Variable g = grad({sum(y * y)}, {x}, {}, std::nullopt, true)[0];
  CHECK_NEAR(g.value().at(0), 2.0 * n * s0, 1e-12);
  Variable h = grad({sum(g)}, {x})[0];
  CHECK_NEAR(h.value().at(1), 2.0 * n * n, 1e-12);
  Variable all = comm().all_gather(x);
  CHECK(all.shape() == Shape({2 * n}));
  CHECK_NEAR(all.value().at(2 * (n - 1)), static_cast<double>(n), 0);
}

TEST(mismatched_shapes_throw_on_every_rank) {
  if (comm().size() < 2) return;
  Variable x(Tensor::ones({2 + comm().rank()}, DType::Float64));
  CHECK_THROWS(comm().all_reduce(x), ValueError);
  // the communicator works afterwards
  CHECK_NEAR(comm().all_reduce(Variable(Tensor::ones({1}, DType::Float64))).item(), comm().size(), 0);
}

TEST(reducer_averages_gradients_as_one_process_on_the_global_batch) {
  // loss_r = mean over rank r's 2 samples of (w . x)^2, x_r = (r + 1, 1), (1, r)
  const int r = comm().rank(), n = comm().size();
  Variable w = values({0.5 + r, -1.0}, {2, 1}, true);  // rank 0's value wins
  Variable b = values({0.25}, {1}, true);
  broadcast_parameters({w, b}, comm());
  CHECK_NEAR(w.value().at(0), 0.5, 0);
  GradientReducer reducer({w, b}, comm(), /*bucket_bytes=*/8);  // one parameter per bucket
  CHECK(reducer.buckets().size() == 2);
  auto loss = [&](const std::vector<int>& ranks) {
    std::vector<double> data;
    for (int k : ranks) data.insert(data.end(), {k + 1.0, 1.0, 1.0, static_cast<double>(k)});
    Variable x = values(data, {static_cast<int64_t>(2 * ranks.size()), 2});
    Variable z = matmul(x, w) + b;
    return mean(z * z);
  };
  loss({r}).backward();
  CHECK(reducer.passes() == 1);
  std::vector<double> averaged = {w.grad().value().at(0), w.grad().value().at(1), b.grad().value().at(0)};
  w.set_grad(Variable());
  b.set_grad(Variable());
  std::vector<int> everyone;
  for (int k = 0; k < n; ++k) everyone.push_back(k);
  reducer.set_sync(false);  // the reference: one process on the global batch, no communication
  loss(everyone).backward();
  CHECK_NEAR(averaged[0], w.grad().value().at(0), 1e-12);
  CHECK_NEAR(averaged[1], w.grad().value().at(1), 1e-12);
  CHECK_NEAR(averaged[2], b.grad().value().at(0), 1e-12);
}

TEST(sync_batch_normalization_uses_the_global_statistics) {
  const int r = comm().rank(), n = comm().size();
  // rank r holds the single sample (r, 2r) of 2 channels: the global mean is ((n-1)/2, n-1)
  Variable x = values({static_cast<double>(r), 2.0 * r}, {1, 2});
  VariableList out = sync_batch_normalization(x, {}, {}, {}, {}, comm(), "world", {1}, 0.9, 0.0, true, true);
  CHECK_NEAR(out[1].value().at(0), (n - 1) / 2.0, 1e-12);
  CHECK_NEAR(out[1].value().at(1), n - 1.0, 1e-12);
  if (n > 1) {
    double var = 0;
    for (int k = 0; k < n; ++k) var += (k - (n - 1) / 2.0) * (k - (n - 1) / 2.0) / n;
    CHECK_NEAR(out[2].value().at(0), var, 1e-12);
    CHECK_NEAR(out[0].value().at(0), (r - (n - 1) / 2.0) / std::sqrt(var), 1e-12);
  }
  CHECK_THROWS(sync_batch_normalization(x, {}, {}, {}, {}, comm(), "pairs"), ValueError);
}
